//! ELBv2 over the SDK: target health and the weighted listener of blue/green environments.

use aws_sdk_elasticloadbalancingv2::types as elb;

use super::*;

/// ELBv2 over the SDK.
pub struct SdkLoadBalancing(pub aws_sdk_elasticloadbalancingv2::Client);

impl SdkLoadBalancing {
    /// The actions of a listener (its default actions) or of a rule.
    async fn actions(&self, arn: &str) -> AwsResult<Vec<elb::Action>> {
        if arn.contains(":listener-rule/") {
            let out = self
                .0
                .describe_rules()
                .rule_arns(arn)
                .send()
                .await
                .map_err(|e| classify("DescribeRules", e))?;
            let rule = out.rules().first().ok_or_else(|| {
                AwsError::not_found(Resource::Listener, format!("listener rule {arn}"))
            })?;
            Ok(rule.actions().to_vec())
        } else {
            let out = self
                .0
                .describe_listeners()
                .listener_arns(arn)
                .send()
                .await
                .map_err(|e| classify("DescribeListeners", e))?;
            let listener = out.listeners().first().ok_or_else(|| {
                AwsError::not_found(Resource::Listener, format!("listener {arn}"))
            })?;
            Ok(listener.default_actions().to_vec())
        }
    }
}

/// The weights of a forward action: its ForwardConfig, or a plain single-target forward.
fn weights_of(action: &elb::Action) -> Vec<(String, i32)> {
    if let Some(cfg) = action.forward_config()
        && !cfg.target_groups().is_empty()
    {
        return cfg
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap_or_default().to_owned(),
                    t.weight().unwrap_or(1),
                )
            })
            .collect();
    }
    action
        .target_group_arn()
        .map(|tg| vec![(tg.to_owned(), 1)])
        .unwrap_or_default()
}

#[async_trait]
impl LoadBalancing for SdkLoadBalancing {
    async fn target_health(&self, target_group_arn: &str) -> AwsResult<Vec<TargetHealth>> {
        let out = self
            .0
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| classify("DescribeTargetHealth", e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(|d| TargetHealth {
                id: d
                    .target()
                    .and_then(|t| t.id())
                    .unwrap_or_default()
                    .to_owned(),
                port: d.target().and_then(|t| t.port()),
                state: TargetState::from_aws(
                    d.target_health()
                        .and_then(|h| h.state())
                        .map_or("", |s| s.as_str()),
                ),
                reason: d
                    .target_health()
                    .and_then(|h| h.description())
                    .map(str::to_owned),
            })
            .collect())
    }

    async fn find_listener(&self, load_balancer: &str, port: i32) -> AwsResult<String> {
        let lbs = self
            .0
            .describe_load_balancers()
            .names(load_balancer)
            .send()
            .await
            .map_err(|e| classify("DescribeLoadBalancers", e))?;
        let lb_arn = lbs
            .load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn())
            .ok_or_else(|| {
                AwsError::not_found(
                    Resource::LoadBalancer,
                    format!("load balancer {load_balancer}"),
                )
            })?;
        let listeners = self
            .0
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .map_err(|e| classify("DescribeListeners", e))?;
        listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(port))
            .and_then(|l| l.listener_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsError::not_found(
                    Resource::Listener,
                    format!("listener on port {port} of {load_balancer}"),
                )
            })
    }

    async fn target_group_arn(&self, name: &str) -> AwsResult<String> {
        if name.starts_with("arn:") {
            return Ok(name.to_owned());
        }
        let out = self
            .0
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTargetGroups", e))?;
        out.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsError::not_found(Resource::TargetGroup, format!("target group {name}"))
            })
    }

    async fn forward(&self, arn: &str) -> AwsResult<Forward> {
        let actions = self.actions(arn).await?;
        let forward = actions
            .iter()
            .find(|a| a.r#type() == Some(&elb::ActionTypeEnum::Forward))
            .ok_or_else(|| AwsError::Invalid(format!("{arn} has no forward action")))?;
        Ok(Forward {
            arn: arn.to_owned(),
            weights: weights_of(forward),
        })
    }

    async fn set_weights(&self, arn: &str, weights: &[(String, i32)]) -> AwsResult<()> {
        // Read, change only the forward action's target-group weights, write back every
        // action: other actions, their order and the stickiness config stay as they were.
        let mut actions = self.actions(arn).await?;
        let forward = actions
            .iter_mut()
            .find(|a| a.r#type() == Some(&elb::ActionTypeEnum::Forward))
            .ok_or_else(|| AwsError::Invalid(format!("{arn} has no forward action")))?;
        let stickiness = forward
            .forward_config()
            .and_then(|c| c.target_group_stickiness_config())
            .cloned();
        let tuples = weights
            .iter()
            .map(|(tg, w)| {
                elb::TargetGroupTuple::builder()
                    .target_group_arn(tg)
                    .weight(*w)
                    .build()
            })
            .collect();
        forward.target_group_arn = None;
        forward.forward_config = Some(
            elb::ForwardActionConfig::builder()
                .set_target_groups(Some(tuples))
                .set_target_group_stickiness_config(stickiness)
                .build(),
        );
        if arn.contains(":listener-rule/") {
            // Conditions are not sent, so ELB keeps them as they are.
            self.0
                .modify_rule()
                .rule_arn(arn)
                .set_actions(Some(actions))
                .send()
                .await
                .map_err(|e| classify("ModifyRule", e))?;
        } else {
            self.0
                .modify_listener()
                .listener_arn(arn)
                .set_default_actions(Some(actions))
                .send()
                .await
                .map_err(|e| classify("ModifyListener", e))?;
        }
        Ok(())
    }
}
