//! The fake ECR: images by tag.

use super::*;

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
}
