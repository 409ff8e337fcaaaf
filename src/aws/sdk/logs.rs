//! CloudWatch Logs over the SDK: the `Logs` trait.

use super::*;
use crate::aws::LogQuery;

/// CloudWatch Logs over the SDK.
pub struct SdkLogs(pub aws_sdk_cloudwatchlogs::Client);

#[async_trait]
impl Logs for SdkLogs {
    async fn filter(
        &self,
        q: &LogQuery,
        token: Option<String>,
    ) -> AwsResult<(Vec<LogLine>, Option<String>)> {
        let ms = |t: Timestamp| t.as_millisecond();
        let by_name = !q.streams.is_empty();
        let out = self
            .0
            .filter_log_events()
            .log_group_name(&q.group)
            .set_log_stream_name_prefix((!by_name).then(|| q.stream_prefix.clone()))
            .set_log_stream_names(by_name.then(|| q.streams.clone()))
            .set_start_time(q.start.map(ms))
            .set_end_time(q.end.map(ms))
            .set_filter_pattern(q.pattern.clone())
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(se) if se.is_resource_not_found_exception() => {
                    AwsError::not_found(Resource::Other, format!("log group {}", q.group))
                }
                _ => classify("FilterLogEvents", e),
            })?;
        let lines = out
            .events()
            .iter()
            .map(|e| LogLine {
                at: e
                    .timestamp()
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                    .unwrap_or(Timestamp::UNIX_EPOCH),
                stream: e.log_stream_name().unwrap_or_default().to_owned(),
                message: e.message().unwrap_or_default().trim_end().to_owned(),
            })
            .collect();
        Ok((lines, out.next_token().map(str::to_owned)))
    }

    async fn stream_lines(
        &self,
        group: &str,
        stream: &str,
        token: Option<String>,
    ) -> AwsResult<(Vec<LogLine>, Option<String>)> {
        let out = match self
            .0
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(out) => out,
            // The stream appears once the container writes its first line.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok((Vec::new(), token));
            }
            Err(e) => return Err(classify("GetLogEvents", e)),
        };
        let lines = out
            .events()
            .iter()
            .map(|e| LogLine {
                at: e
                    .timestamp()
                    .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                    .unwrap_or(Timestamp::UNIX_EPOCH),
                stream: stream.to_owned(),
                message: e.message().unwrap_or_default().trim_end().to_owned(),
            })
            .collect();
        // GetLogEvents answers the same forward token at the end of the stream.
        Ok((lines, out.next_forward_token().map(str::to_owned).or(token)))
    }
}
