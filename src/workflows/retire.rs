//! `opsctl retire ENV`: once the team is confident, the idle colour of a two-service
//! environment scales to zero.

use std::fmt;

use serde::Serialize;

use super::traffic::{self, Colour};
use super::wait;
use super::{Interrupt, Outcome, Reporter};
use crate::aws::Aws;
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};

/// `opsctl retire ENV`: scales the idle colour to 0 once the team is confident.
#[derive(Debug, Clone, Serialize)]
pub struct RetireOutcome {
    pub env: String,
    pub colour: Colour,
    pub service: String,
    pub previous_desired: i32,
    pub planned: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<wait::WaitOutcome>,
}

impl Outcome for RetireOutcome {
    fn exit(&self) -> Exit {
        self.wait.as_ref().map_or(Exit::Ok, Outcome::exit)
    }
}

impl fmt::Display for RetireOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.planned {
            writeln!(
                f,
                "would scale {} ({}) from {} to 0 tasks (nothing changed)",
                self.colour, self.service, self.previous_desired
            )
        } else {
            writeln!(
                f,
                "retired {} ({}): {} -> 0 tasks; instant rollback to it is no longer possible",
                self.colour, self.service, self.previous_desired
            )
        }
    }
}

/// Scales the idle colour to 0; refuses the colour that carries any traffic.
pub async fn retire(
    aws: &Aws,
    env: &EnvConfig,
    colour: Option<Colour>,
    dry_run: bool,
    timeout: std::time::Duration,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<RetireOutcome> {
    let pair = traffic::resolve(aws, env).await?;
    let colour = colour.unwrap_or_else(|| pair.live().other());
    let side = pair.side(colour).clone();
    if side.weight > 0 {
        return Err(UserError::new(format!(
            "{colour} ({}) carries {}% of {}'s traffic; refusing to retire it",
            side.service, side.weight, env.name
        ))
        .hint(format!(
            "move traffic away first: opsctl traffic {} --to {}",
            env.name,
            colour.other()
        ))
        .into());
    }
    let svc = crate::workflows::describe_one(aws, env, &side.service).await?;
    let mut out = RetireOutcome {
        env: env.name.clone(),
        colour,
        service: side.service.clone(),
        previous_desired: svc.desired,
        planned: dry_run,
        wait: None,
    };
    if dry_run {
        return Ok(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Scale {colour} ({}) of {} to 0? Instant rollback to it will no longer be possible.",
            side.service, env.name
        ),
    )?;
    reporter.step(
        "retire",
        format!("scaling {colour} ({}) to 0", side.service),
    );
    aws.ecs
        .update_desired_count(&env.cluster, &side.service, 0)
        .await?;
    out.wait = Some(
        wait::wait(
            aws,
            &env.cluster,
            vec![wait::Target::current(&side.service)],
            &wait::Options {
                timeout,
                poll: std::time::Duration::from_secs(1),
                check_targets: false,
            },
            reporter,
            interrupt,
        )
        .await?,
    );
    Ok(out)
}
