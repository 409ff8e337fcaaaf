//! The fake ELBv2: target health from the services' running tasks, and the weighted listener.

use super::*;

#[async_trait]
impl LoadBalancing for FakeAws {
    async fn target_health(&self, target_group_arn: &str) -> AwsResult<Vec<TargetHealth>> {
        self.record("elbv2:DescribeTargetHealth")?;
        let mut s = self.state.lock().unwrap();
        advance(&mut s, Instant::now(), self.epoch);
        let Some(svc) = s
            .services
            .values()
            .find(|svc| svc.target_group == target_group_arn)
        else {
            return Err(AwsError::not_found(Resource::TargetGroup, target_group_arn));
        };
        let view = view(&s, svc);
        let now = Instant::now();
        let sick = s.behaviour.unhealthy_targets
            || s.unhealthy
                .iter()
                .any(|(tg, at)| tg == target_group_arn && now >= *at);
        let state = if sick {
            TargetState::Unhealthy
        } else {
            TargetState::Healthy
        };
        Ok((0..view.running)
            .map(|i| TargetHealth {
                id: format!("10.0.1.{i}"),
                port: Some(8080),
                state,
                reason: None,
            })
            .collect())
    }

    async fn find_listener(&self, load_balancer: &str, port: i32) -> AwsResult<String> {
        self.record("elbv2:DescribeListeners")?;
        if load_balancer == "prod-alb" && port == 80 {
            Ok(LISTENER.into())
        } else {
            Err(AwsError::not_found(
                Resource::Listener,
                format!("listener on port {port} of {load_balancer}"),
            ))
        }
    }

    async fn target_group_arn(&self, name: &str) -> AwsResult<String> {
        self.record("elbv2:DescribeTargetGroups")?;
        let s = self.state.lock().unwrap();
        s.services
            .values()
            .find(|svc| svc.target_group == name || svc.target_group == tg_arn(name))
            .map(|svc| svc.target_group.clone())
            .ok_or_else(|| {
                AwsError::not_found(Resource::TargetGroup, format!("target group {name}"))
            })
    }

    async fn forward(&self, arn: &str) -> AwsResult<Forward> {
        self.record("elbv2:DescribeListeners")?;
        let s = self.state.lock().unwrap();
        match &s.listener {
            Some((a, weights)) if a == arn => Ok(Forward {
                arn: arn.into(),
                weights: weights.clone(),
            }),
            _ => Err(AwsError::not_found(
                Resource::Listener,
                format!("listener {arn}"),
            )),
        }
    }

    async fn set_weights(&self, arn: &str, weights: &[(String, i32)]) -> AwsResult<()> {
        self.record_change("elbv2:ModifyListener")?;
        let mut s = self.state.lock().unwrap();
        assert!(
            weights.iter().map(|(_, w)| w).sum::<i32>() > 0,
            "weights must never send traffic nowhere: {weights:?}"
        );
        let Some((a, current)) = s.listener.as_mut() else {
            return Err(AwsError::not_found(Resource::Listener, arn));
        };
        assert_eq!(a, arn);
        *current = weights.to_vec();
        s.weight_log.push(weights.to_vec());
        Ok(())
    }
}
