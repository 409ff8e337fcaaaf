//! The fake CloudWatch: alarms, markers and target-group metrics.

use super::*;

#[async_trait]
impl Monitoring for FakeAws {
    async fn target_group_metrics(
        &self,
        _listener_arn: &str,
        target_group_arn: &str,
        _start: Timestamp,
        _end: Timestamp,
    ) -> AwsResult<TargetGroupMetrics> {
        self.record("cloudwatch:GetMetricData")?;
        let s = self.state.lock().unwrap();
        Ok(s.metrics.get(target_group_arn).copied().unwrap_or_default())
    }

    async fn alarms(&self, names: &[String]) -> AwsResult<Vec<Alarm>> {
        self.record("cloudwatch:DescribeAlarms")?;
        let mut s = self.state.lock().unwrap();
        advance(&mut s, Instant::now(), self.epoch);
        Ok(names
            .iter()
            .filter_map(|n| s.alarms.get(n).cloned())
            .collect())
    }

    async fn put_deployment_marker(
        &self,
        _env: &str,
        _service: &str,
        _version: &str,
    ) -> AwsResult<()> {
        self.record_change("cloudwatch:PutMetricData")?;
        Ok(())
    }
}
