//! The deploy lock's records in Parameter Store over the SDK.

use super::*;
use crate::aws::{Locks, record_name, record_number};

/// Parameter Store, for the lock records.
pub struct SdkLocks(pub aws_sdk_ssm::Client);

#[async_trait]
impl Locks for SdkLocks {
    async fn records(&self, path: &str) -> AwsResult<Vec<(u64, String)>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .0
                .get_parameters_by_path()
                .path(path)
                .recursive(false)
                .max_results(10)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("GetParametersByPath", e))?;
            out.extend(page.parameters().iter().filter_map(|p| {
                let n = record_number(path, p.name()?)?;
                Some((n, p.value().unwrap_or_default().to_owned()))
            }));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn create(&self, path: &str, n: u64, value: &str) -> AwsResult<bool> {
        match self
            .0
            .put_parameter()
            .name(record_name(path, n))
            .value(value)
            .set_type(Some(aws_sdk_ssm::types::ParameterType::String))
            .overwrite(false)
            .description("opsctl deploy lock")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_parameter_already_exists()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify("PutParameter", e)),
        }
    }

    async fn rewrite(&self, path: &str, n: u64, value: &str) -> AwsResult<()> {
        self.0
            .put_parameter()
            .name(record_name(path, n))
            .value(value)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| classify("PutParameter", e))?;
        Ok(())
    }

    async fn delete(&self, path: &str, numbers: &[u64]) -> AwsResult<()> {
        for chunk in numbers.chunks(10) {
            self.0
                .delete_parameters()
                .set_names(Some(chunk.iter().map(|n| record_name(path, *n)).collect()))
                .send()
                .await
                .map_err(|e| classify("DeleteParameters", e))?;
        }
        Ok(())
    }
}
