//! CloudWatch over the SDK: alarms, deployment markers and target-group metrics.

use super::*;

/// CloudWatch over the SDK.
pub struct SdkMonitoring(pub aws_sdk_cloudwatch::Client);

#[async_trait]
impl Monitoring for SdkMonitoring {
    async fn alarms(&self, names: &[String]) -> AwsResult<Vec<Alarm>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .0
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| classify("DescribeAlarms", e))?;
        let metric = out.metric_alarms().iter().map(|a| Alarm {
            name: a.alarm_name().unwrap_or_default().to_owned(),
            state: AlarmState::from_aws(a.state_value().map_or("", |s| s.as_str())),
            reason: a.state_reason().unwrap_or_default().to_owned(),
        });
        let composite = out.composite_alarms().iter().map(|a| Alarm {
            name: a.alarm_name().unwrap_or_default().to_owned(),
            state: AlarmState::from_aws(a.state_value().map_or("", |s| s.as_str())),
            reason: a.state_reason().unwrap_or_default().to_owned(),
        });
        Ok(metric.chain(composite).collect())
    }

    async fn put_deployment_marker(
        &self,
        env: &str,
        service: &str,
        version: &str,
    ) -> AwsResult<()> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let dim = |k: &str, v: &str| Dimension::builder().name(k).value(v).build();
        self.0
            .put_metric_data()
            .namespace("opsctl")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Deployment")
                    .dimensions(dim("env", env))
                    .dimensions(dim("service", service))
                    .dimensions(dim("version", version))
                    .value(1.0)
                    .unit(StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify("PutMetricData", e))?;
        Ok(())
    }

    async fn target_group_metrics(
        &self,
        listener_arn: &str,
        target_group_arn: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> AwsResult<TargetGroupMetrics> {
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
        let (Some(lb), Some(tg)) = (lb_dimension(listener_arn), tg_dimension(target_group_arn))
        else {
            return Err(AwsError::Invalid(format!(
                "cannot derive ALB metric dimensions from {listener_arn} and {target_group_arn}"
            )));
        };
        // One datapoint for the whole window: a period of at least a minute, in minutes.
        let secs = (end.as_second() - start.as_second()).max(60);
        let period = i32::try_from((secs + 59) / 60 * 60).unwrap_or(i32::MAX);
        let query = |id: &str, metric: &str, stat: &str| {
            MetricDataQuery::builder()
                .id(id)
                .return_data(true)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("AWS/ApplicationELB")
                                .metric_name(metric)
                                .dimensions(
                                    Dimension::builder().name("LoadBalancer").value(&lb).build(),
                                )
                                .dimensions(
                                    Dimension::builder().name("TargetGroup").value(&tg).build(),
                                )
                                .build(),
                        )
                        .period(period)
                        .stat(stat)
                        .build(),
                )
                .build()
        };
        let to_dt = |t: Timestamp| aws_smithy_types::DateTime::from_secs(t.as_second());
        let out = self
            .0
            .get_metric_data()
            .start_time(to_dt(start))
            .end_time(to_dt(end))
            .metric_data_queries(query("requests", "RequestCount", "Sum"))
            .metric_data_queries(query("errors", "HTTPCode_Target_5XX_Count", "Sum"))
            .metric_data_queries(query("p99", "TargetResponseTime", "p99"))
            .send()
            .await
            .map_err(|e| classify("GetMetricData", e))?;
        let values = |id: &str| -> Vec<f64> {
            out.metric_data_results()
                .iter()
                .find(|r| r.id() == Some(id))
                .map(|r| r.values().to_vec())
                .unwrap_or_default()
        };
        let sum = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum());
        Ok(TargetGroupMetrics {
            requests: sum(values("requests")),
            errors_5xx: sum(values("errors")),
            p99_seconds: values("p99").into_iter().reduce(f64::max),
        })
    }
}

/// The `LoadBalancer` metric dimension (`app/NAME/ID`) from a listener or rule ARN.
pub fn lb_dimension(listener_arn: &str) -> Option<String> {
    let resource = listener_arn
        .split_once(":listener/")
        .or_else(|| listener_arn.split_once(":listener-rule/"))?
        .1;
    let parts: Vec<&str> = resource.split('/').collect();
    (parts.len() >= 3).then(|| parts[..3].join("/"))
}

/// The `TargetGroup` metric dimension (`targetgroup/NAME/ID`) from a target group ARN.
pub fn tg_dimension(target_group_arn: &str) -> Option<String> {
    target_group_arn
        .split_once(":targetgroup/")
        .map(|(_, rest)| format!("targetgroup/{rest}"))
}
