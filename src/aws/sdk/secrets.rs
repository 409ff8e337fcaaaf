//! Secrets Manager and Parameter Store over the SDK: whether referenced secrets exist.

use super::*;

/// Parameter Store over the SDK: only to see that a parameter exists.
pub struct SdkParameters(pub aws_sdk_ssm::Client);

impl SdkParameters {
    async fn exists(&self, name: &str) -> AwsResult<bool> {
        let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .values(name)
            .build()
            .map_err(|e| AwsError::Invalid(format!("DescribeParameters: {e}")))?;
        let out = self
            .0
            .describe_parameters()
            .parameter_filters(filter)
            .send()
            .await
            .map_err(|e| classify("DescribeParameters", e))?;
        Ok(!out.parameters().is_empty())
    }
}

/// Secrets Manager over the SDK, with Parameter Store beside it for the references that
/// point there.
pub struct SdkSecrets(pub aws_sdk_secretsmanager::Client, pub SdkParameters);

#[async_trait]
impl Secrets for SdkSecrets {
    async fn parameter_exists(&self, name: &str) -> AwsResult<bool> {
        self.1.exists(name).await
    }

    async fn secret_exists(&self, id: &str) -> AwsResult<bool> {
        match self.0.describe_secret().secret_id(id).send().await {
            Ok(out) => Ok(out.deleted_date().is_none()),
            Err(e) => match classify("DescribeSecret", e) {
                AwsError::NotFound(..) => Ok(false),
                other => Err(other),
            },
        }
    }
}
