//! ECR over the SDK: finding a version's image, and reading its scan.

use super::*;

/// ECR over the SDK.
pub struct SdkRegistry(pub aws_sdk_ecr::Client);

#[async_trait]
impl Registry for SdkRegistry {
    async fn find_image(&self, repository: &str, tag: &str) -> AwsResult<Option<Image>> {
        let repos = self
            .0
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .map_err(|e| classify("DescribeRepositories", e))?;
        let uri = repos
            .repositories()
            .first()
            .and_then(|r| r.repository_uri())
            .ok_or_else(|| {
                AwsError::not_found(Resource::Repository, format!("ECR repository {repository}"))
            })?
            .to_owned();
        let images = self
            .0
            .describe_images()
            .repository_name(repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(tag)
                    .build(),
            )
            .send()
            .await;
        match images {
            Ok(out) => Ok(out.image_details().first().map(|d| Image {
                uri: format!("{uri}:{tag}"),
                digest: d.image_digest().unwrap_or_default().to_owned(),
            })),
            Err(e) if e.code() == Some("ImageNotFoundException") => Ok(None),
            Err(e) => Err(classify("DescribeImages", e)),
        }
    }

    async fn scan(&self, repository: &str, digest: &str) -> AwsResult<Option<Scan>> {
        let mut pages = self
            .0
            .describe_image_scan_findings()
            .repository_name(repository)
            .image_id(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(digest)
                    .build(),
            )
            .max_results(1000)
            .into_paginator()
            .send();
        let mut scan: Option<Scan> = None;
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_scan_not_found_exception()) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(classify("DescribeImageScanFindings", e)),
            };
            let status = page.image_scan_status();
            let scan = scan.get_or_insert_with(|| Scan {
                status: ScanStatus::from_aws(
                    status.and_then(|s| s.status()).map_or("", |s| s.as_str()),
                ),
                description: status
                    .and_then(|s| s.description())
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned),
                findings: Vec::new(),
            });
            let Some(found) = page.image_scan_findings() else {
                continue;
            };
            scan.findings.extend(found.findings().iter().map(|f| {
                let attribute = |key: &str| {
                    f.attributes()
                        .iter()
                        .find(|a| a.key() == key)
                        .and_then(|a| a.value())
                };
                Finding {
                    name: f.name().unwrap_or("unnamed").to_owned(),
                    severity: Severity::from_aws(f.severity().map_or("", |s| s.as_str())),
                    package: package(attribute("package_name"), attribute("package_version")),
                    fixed_in: None,
                }
            }));
            scan.findings
                .extend(found.enhanced_findings().iter().map(|f| {
                    let details = f.package_vulnerability_details();
                    let first = details.and_then(|d| d.vulnerable_packages().first());
                    Finding {
                        name: details
                            .and_then(|d| d.vulnerability_id())
                            .or(f.title())
                            .unwrap_or("unnamed")
                            .to_owned(),
                        severity: Severity::from_aws(f.severity().unwrap_or_default()),
                        package: first.and_then(|p| package(p.name(), p.version())),
                        fixed_in: first
                            .and_then(|p| p.fixed_in_version())
                            .filter(|v| !v.is_empty() && *v != "NotAvailable")
                            .map(str::to_owned),
                    }
                }));
        }
        Ok(scan)
    }
}

/// `openssl 3.0.1`, `openssl`, or nothing.
fn package(name: Option<&str>, version: Option<&str>) -> Option<String> {
    let name = name.filter(|n| !n.is_empty())?;
    Some(match version.filter(|v| !v.is_empty()) {
        Some(version) => format!("{name} {version}"),
        None => name.to_owned(),
    })
}
