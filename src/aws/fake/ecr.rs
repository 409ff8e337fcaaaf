//! The fake ECR: images by tag, and their scans.

use super::*;

/// An image's scan as the fake answers it: `pending` (IN_PROGRESS) until `until`, then
/// `then`; `None` for an image never scanned.
#[derive(Debug, Clone)]
pub struct FakeScan {
    pub until: Option<Instant>,
    pub then: Option<Scan>,
}

#[async_trait]
impl Registry for FakeAws {
    async fn find_image(&self, repository: &str, tag: &str) -> AwsResult<Option<Image>> {
        self.record("ecr:DescribeImages")?;
        let s = self.state.lock().unwrap();
        if !s.images.keys().any(|(r, _)| r == repository) {
            return Err(AwsError::not_found(
                Resource::Repository,
                format!("repository {repository}"),
            ));
        }
        Ok(s.images.get(&(repository.into(), tag.into())).cloned())
    }

    async fn scan(&self, repository: &str, digest: &str) -> AwsResult<Option<Scan>> {
        self.record("ecr:DescribeImageScanFindings")?;
        let s = self.state.lock().unwrap();
        let tag = s
            .images
            .iter()
            .find(|((r, _), image)| r == repository && image.digest == digest)
            .map(|((_, tag), _)| tag.clone())
            .ok_or_else(|| {
                AwsError::Other(format!(
                    "DescribeImageScanFindings: ImageNotFoundException: {digest}"
                ))
            })?;
        // An image the test said nothing about was scanned on push and found clean.
        let Some(fake) = s.scans.get(&tag) else {
            return Ok(Some(Scan {
                status: ScanStatus::Complete,
                description: None,
                findings: Vec::new(),
            }));
        };
        if fake.until.is_some_and(|until| Instant::now() < until) {
            return Ok(Some(Scan {
                status: ScanStatus::InProgress,
                description: None,
                findings: Vec::new(),
            }));
        }
        Ok(fake.then.clone())
    }
}

impl FakeAws {
    /// The scan of `users:TAG` answers `scan` (`None`: the image was never scanned).
    pub fn set_scan(&self, tag: &str, scan: Option<Scan>) {
        self.state.lock().unwrap().scans.insert(
            tag.to_owned(),
            FakeScan {
                until: None,
                then: scan,
            },
        );
    }

    /// The scan of `users:TAG` is IN_PROGRESS for `for_`, then answers `then`.
    pub fn scan_in_progress(&self, tag: &str, for_: Duration, then: Scan) {
        self.state.lock().unwrap().scans.insert(
            tag.to_owned(),
            FakeScan {
                until: Some(Instant::now() + for_),
                then: Some(then),
            },
        );
    }
}
