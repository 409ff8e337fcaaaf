//! STS over the SDK: who the credentials belong to.

use super::*;
use crate::aws::Identity;

/// STS, for the caller's identity.
pub struct SdkIdentity(pub aws_sdk_sts::Client);

#[async_trait]
impl Identity for SdkIdentity {
    async fn caller_arn(&self) -> AwsResult<String> {
        let me = self
            .0
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify("GetCallerIdentity", e))?;
        me.arn()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::Other("GetCallerIdentity: the answer has no Arn".into()))
    }
}
