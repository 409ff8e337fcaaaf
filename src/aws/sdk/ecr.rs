//! ECR over the SDK: finding a version's image.

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
}
