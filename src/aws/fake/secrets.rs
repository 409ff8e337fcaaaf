//! The fake Secrets Manager and Parameter Store, keyed by region as AWS keeps them: an ARN
//! of another region is not found in this one.

use super::*;

#[async_trait]
impl Secrets for FakeAws {
    async fn secret_exists(&self, id: &str) -> AwsResult<bool> {
        self.record("secretsmanager:DescribeSecret")?;
        Ok(self.has_secret(id))
    }

    async fn parameter_exists(&self, name: &str) -> AwsResult<bool> {
        self.record("ssm:DescribeParameters")?;
        Ok(self.has_secret(name))
    }
}

impl FakeAws {
    fn has_secret(&self, id: &str) -> bool {
        let key = (self.region().to_owned(), id.to_owned());
        self.state.lock().unwrap().secrets.contains(&key)
    }

    /// A secret (ARN) or parameter (name) that exists in `region`.
    pub fn add_secret(&self, region: &str, id: &str) {
        let key = (region.to_owned(), id.to_owned());
        self.state.lock().unwrap().secrets.insert(key);
    }
}
