//! SNS over the SDK: publishing an env's notices to its topics.

use super::*;

/// SNS, for the `notify` topics.
pub struct SdkSns(pub aws_sdk_sns::Client);

impl SdkSns {
    /// Publishes `message` to `topic` (Publish).
    pub async fn publish(&self, topic: &str, subject: &str, message: &str) -> AwsResult<()> {
        self.0
            .publish()
            .topic_arn(topic)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| classify("Publish", e))?;
        Ok(())
    }
}
