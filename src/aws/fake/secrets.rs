//! The fake Secrets Manager and Parameter Store.

use super::*;

#[async_trait]
impl Secrets for FakeAws {
    async fn secret_exists(&self, id: &str) -> AwsResult<bool> {
        self.record("secretsmanager:DescribeSecret")?;
        Ok(self.state.lock().unwrap().secrets.contains(id))
    }

    async fn parameter_exists(&self, name: &str) -> AwsResult<bool> {
        self.record("ssm:DescribeParameters")?;
        Ok(self.state.lock().unwrap().secrets.contains(name))
    }
}
