//! Command-line types only: the doc comments are the help text.
//!
//! Longer than most files on purpose: the whole command surface reads in one place, as
//! `--help` shows it, and nothing here holds logic.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Deploy, wait, switch traffic, roll back and inspect services on Amazon ECS.
///
/// Environments are tables in opsctl.toml. Exit codes: 0 done, 1 failed, 2 bad input or
/// preflight (nothing changed), 3 deploy failed and was rolled back, 4 timed out waiting,
/// 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "opsctl", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The config file (default: opsctl.toml here, else in the nearest parent directory, up
    /// to the repository's root)
    #[arg(long, global = true, env = "OPSCTL_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// AWS profile from ~/.aws/config
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (default: the environment's `region`, then the SDK's chain)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (AWS_ENDPOINT_URL works too)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// More log output: -v each AWS call with its answer and duration, -vv the SDK's debug too
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only the result and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Result format on stdout
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// No spinners; plain progress lines
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Answer yes to confirmations (needed for prod-like environments without a terminal)
    #[arg(short, long, global = true)]
    pub yes: bool,
    /// If another command holds the environment's deploy lock, wait this long for it
    /// (default: refuse at once)
    #[arg(long, global = true, value_parser = parse_timeout, value_name = "DURATION")]
    pub wait_for_lock: Option<Duration>,
    /// When to use colour (NO_COLOR is respected)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Result format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy a version: preflight, new task-definition revision, wait, bake, roll back on failure
    Deploy(DeployArgs),
    /// Show what a deploy would change (the task-definition diff and the calls); changes nothing
    Plan(PlanArgs),
    /// Wait until the environment's service is stable (opsctl's own waiter); records how an unfinished deploy ended
    WaitStable(WaitArgs),
    /// Roll back to the previous revision that deployed successfully
    Rollback(RollbackArgs),
    /// Blue/green: move traffic to a colour step by step, checking between steps
    Traffic(TrafficArgs),
    /// Blue/green: scale the idle colour to 0 (refuses the colour that carries traffic)
    Retire(RetireArgs),
    /// Native ECS strategies: continue a service deployment paused at a PAUSE lifecycle hook
    Promote(NativeArgs),
    /// Native ECS strategies: stop the service deployment in flight and roll it back
    Abort(NativeArgs),
    /// Show revisions, versions, counts, deployments, targets, weights, events and alarms
    Status(EnvArgs),
    /// Show past deploys: version, revision, who, when, outcome
    History(HistoryArgs),
    /// Run the preflight checks alone; changes nothing
    Check(CheckArgs),
    /// Set the task count and autoscaling bounds within the environment's limits; waits until stable
    Scale(ScaleArgs),
    /// Run one task of the service with its command overridden (a migration); exits with its code
    Run(RunArgs),
    /// Show the service's container logs (CloudWatch Logs), each line with its task
    Logs(LogsArgs),
    /// Database snapshots, restores and failover drills (the environment's RDS instance)
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// List, show and run runbooks: Markdown procedures whose steps are opsctl commands
    Runbook(RunbookArgs),
    /// Freeze an environment: every command that changes it is refused until `opsctl unlock`
    Lock(LockArgs),
    /// Clear an environment's deploy lock: a freeze, or the lock of a command that is gone
    Unlock(UnlockArgs),
    /// Print the IAM policy opsctl needs for an environment, scoped to its resources
    IamPolicy(IamPolicyArgs),
    /// Print shell completions
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual (roff), every command and option on one page; or write a page per
    /// command
    Man(ManArgs),
}

impl Command {
    /// `opsctl COMMAND ENV`, for annotation titles and the job summary.
    pub fn title(&self) -> String {
        let (name, env) = self.name_and_env();
        format!("opsctl {name} {env}").trim_end().to_owned()
    }

    /// The environment the command acts on, where it takes one.
    pub fn env(&self) -> Option<&str> {
        match self {
            Command::Runbook(a) => match &a.command {
                RunbookCommand::Run(r) => Some(r.env.as_str()),
                _ => None,
            },
            _ => Some(self.name_and_env().1).filter(|e| !e.is_empty()),
        }
    }

    fn name_and_env(&self) -> (&'static str, &str) {
        match self {
            Command::Deploy(a) => ("deploy", a.target.env.as_str()),
            Command::Plan(a) => ("plan", a.target.env.as_str()),
            Command::WaitStable(a) => ("wait-stable", a.target.env.as_str()),
            Command::Rollback(a) => ("rollback", a.target.env.as_str()),
            Command::Traffic(a) => ("traffic", a.env.as_str()),
            Command::Retire(a) => ("retire", a.env.as_str()),
            Command::Promote(a) => ("promote", a.target.env.as_str()),
            Command::Abort(a) => ("abort", a.target.env.as_str()),
            Command::Status(a) => ("status", a.env.as_str()),
            Command::History(a) => ("history", a.target.env.as_str()),
            Command::Check(a) => ("check", a.target.env.as_str()),
            Command::Scale(a) => ("scale", a.target.env.as_str()),
            Command::Run(a) => ("run", a.target.env.as_str()),
            Command::Logs(a) => ("logs", a.target.env.as_str()),
            Command::Db { command } => match command {
                DbCommand::Snapshot(a) => ("db snapshot", a.env.as_str()),
                DbCommand::Snapshots(a) => ("db snapshots", a.env.as_str()),
                DbCommand::Copy(a) => ("db copy", a.env.as_str()),
                DbCommand::Restore(a) => ("db restore", a.env.as_str()),
                DbCommand::Failover(a) => ("db failover", a.env.as_str()),
            },
            Command::Completions { .. } => ("completions", ""),
            Command::Man(_) => ("man", ""),
            Command::Runbook(a) => match &a.command {
                RunbookCommand::List => ("runbook list", ""),
                RunbookCommand::Show { name } => ("runbook show", name.as_str()),
                RunbookCommand::Run(r) => ("runbook run", r.name.as_str()),
            },
            Command::IamPolicy(a) => ("iam-policy", a.env.as_str()),
            Command::Lock(a) => ("lock", a.env.as_str()),
            Command::Unlock(a) => ("unlock", a.env.as_str()),
        }
    }
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write a page per command into DIR (opsctl.1, opsctl-deploy.1, …) instead of printing one
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The environment, a table [env.NAME] in opsctl.toml
    pub env: String,
    /// Why, shown to whoever the freeze refuses
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The environment, a table [env.NAME] in opsctl.toml
    pub env: String,
}

/// An environment from opsctl.toml, and which of its services.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The environment, a table [env.NAME] in opsctl.toml
    pub env: String,
    /// Act on this service instead of the environment's own (repeat it to name several of a
    /// `services` environment)
    #[arg(long, value_name = "NAME")]
    pub service: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// The container to read (default: the environment's `container`)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Blue/green: read this colour's service (`idle`: the one without traffic; default: live)
    #[arg(long, value_enum, conflicts_with = "service")]
    pub colour: Option<LogsColour>,
    /// Only this task's lines (its id or ARN)
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    /// How far back to start (default 10m)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION", conflicts_with = "start")]
    pub since: Option<Duration>,
    /// Start at this time (RFC 3339)
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub start: Option<jiff::Timestamp>,
    /// End at this time (RFC 3339)
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub end: Option<jiff::Timestamp>,
    /// A CloudWatch Logs filter pattern, e.g. ERROR or "connection refused"
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Keep printing new lines until Ctrl-C
    #[arg(long, conflicts_with = "end")]
    pub follow: bool,
    /// With --follow, stop after this long
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION", requires = "follow")]
    pub follow_for: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Run the revision a deploy of this version would register (registered if needed)
    #[arg(long, value_name = "TAG", value_parser = parse_version)]
    pub version: Option<String>,
    /// The container whose command is overridden (default: the environment's `container`)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// How long to wait for the task to stop (default 10m); it goes on after
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// Do not stream the container's log lines
    #[arg(long)]
    pub no_logs: bool,
    /// Show the calls and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// The version: an image tag in the environment's ECR repository
    #[arg(long, value_name = "TAG", value_parser = parse_version)]
    pub version: String,
    /// Show the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Return once the service is updated, without waiting
    #[arg(long, conflicts_with = "wait_until")]
    pub no_wait: bool,
    /// A service ECS deploys itself: return once its deployment reaches STAGE (a lifecycle
    /// stage such as test-traffic-shift, or paused: a PAUSE hook waits), leaving ECS to go on
    #[arg(long, value_name = "STAGE", value_parser = parse_wait_until)]
    pub wait_until: Option<crate::workflows::deploy::WaitUntil>,
    /// How long to wait for the rollout (default: the environment's `timeout`)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// On failure, leave the service as it is instead of rolling back
    #[arg(long)]
    pub no_rollback: bool,
    /// Deploy even if a configured alarm is in ALARM (when the deploy is the fix)
    #[arg(long)]
    pub ignore_alarms: bool,
    /// Blue/green: allow --service to name the live colour, whose tasks then roll in place
    /// under all of the traffic (no switch, no instant way back)
    #[arg(long, requires = "service")]
    pub in_place_on_live_colour: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// The version to plan for
    #[arg(long, value_name = "TAG", value_parser = parse_version)]
    pub version: String,
    /// Plan as `deploy --ignore-alarms` would deploy: alarms in ALARM are a warning, not a
    /// failed preflight
    #[arg(long)]
    pub ignore_alarms: bool,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// How long to wait (default: the environment's `timeout`)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// A revision number (or family:revision) or a version to go back to (--version is the same)
    #[arg(long, visible_alias = "version", value_name = "REVISION|VERSION")]
    pub to: Option<String>,
    /// Show what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Return once the service is updated, without waiting
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait (default: the environment's `timeout`)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

/// A colour of a blue/green pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColourArg {
    Blue,
    Green,
}

/// Which colour's service `logs` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogsColour {
    Blue,
    Green,
    /// The colour carrying the traffic
    Live,
    /// The colour without traffic: after a switch back, the version that misbehaved
    Idle,
}

#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// The environment, a table [env.NAME] in opsctl.toml with a bluegreen table
    pub env: String,
    /// The colour that is to carry the traffic
    #[arg(long, value_enum)]
    pub to: ColourArg,
    /// Percentages for the target colour, increasing, ending at 100 (default: the env's `steps`)
    #[arg(long, value_delimiter = ',', value_name = "PERCENT,...")]
    pub steps: Option<Vec<u32>>,
    /// Time between steps, checks at the end of each (default: the env's `step_interval`)
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Option<Duration>,
    /// Check the target colour and show the steps; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    /// The environment, a table [env.NAME] in opsctl.toml with a bluegreen table
    pub env: String,
    /// The colour to retire (default: the one without traffic)
    #[arg(long, value_enum)]
    pub colour: Option<ColourArg>,
    /// Show what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the tasks to stop (default: the environment's `timeout`)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

/// `opsctl promote` and `opsctl abort`.
#[derive(Debug, Args)]
pub struct NativeArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Say what would be sent; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// How many revisions to show
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Also check that this version's image exists
    #[arg(long, value_name = "TAG", value_parser = parse_version)]
    pub version: Option<String>,
    /// Report alarms in ALARM as warnings
    #[arg(long)]
    pub ignore_alarms: bool,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("change").required(true).multiple(true).args(["count", "min", "max"])
))]
pub struct ScaleArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// The number of tasks to run, within the environment's `scaling` limits
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub count: Option<i32>,
    /// The lowest count autoscaling may set (with --max)
    #[arg(long, value_name = "N", requires = "max", value_parser = clap::value_parser!(i32).range(0..))]
    pub min: Option<i32>,
    /// The highest count autoscaling may set (with --min)
    #[arg(long, value_name = "N", requires = "min", value_parser = clap::value_parser!(i32).range(0..))]
    pub max: Option<i32>,
    /// Show the calls and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Return once the count is set, without waiting
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait (default: the environment's `timeout`)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Take a manual snapshot of the database, tagged with who took it and why
    Snapshot(DbSnapshotArgs),
    /// List the database's manual and automated snapshots, newest first; apply the retention
    Snapshots(DbSnapshotsArgs),
    /// Copy a snapshot to another region, encrypted with a key there, for disaster recovery
    Copy(DbCopyArgs),
    /// Restore a snapshot or a point in time into a NEW instance with the database's settings
    Restore(DbRestoreArgs),
    /// A Multi-AZ failover drill: fail the database over to its standby, timed against `rto`
    Failover(DbFailoverArgs),
}

#[derive(Debug, Args)]
pub struct DbFailoverArgs {
    /// The environment, a table [env.NAME] in opsctl.toml with a Multi-AZ `database`
    pub env: String,
    /// Wait until the instance is available again in the standby's zone, and time it
    #[arg(long)]
    pub wait: bool,
    /// Show the call and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait with --wait (default 60m)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct DbSnapshotsArgs {
    /// The environment, a table [env.NAME] in opsctl.toml with a `database`
    pub env: String,
    /// List (or prune) the copies in the recovery region, `database.dr.region`
    #[arg(long)]
    pub dr: bool,
    /// Delete the snapshots opsctl made beyond the newest `database.keep_snapshots`
    #[arg(long)]
    pub prune: bool,
    /// With --prune: show what would be deleted and change nothing
    #[arg(long, requires = "prune")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DbCopyArgs {
    /// The environment, a table [env.NAME] in opsctl.toml with a `database`
    pub env: String,
    /// The snapshot to copy (see `opsctl db snapshots ENV`)
    #[arg(long, value_name = "ID")]
    pub snapshot: String,
    /// The region to copy it to (default: `database.dr.region`)
    #[arg(long, value_parser = parse_region, value_name = "REGION")]
    pub to_region: Option<String>,
    /// A KMS key of that region for an encrypted snapshot (default: `database.dr.kms_key`)
    #[arg(long, value_name = "KEY")]
    pub kms_key: Option<String>,
    /// Wait until the copy is available, showing its progress
    #[arg(long)]
    pub wait: bool,
    /// Show the call and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait with --wait (default 60m)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct DbSnapshotArgs {
    /// The environment, a table [env.NAME] in opsctl.toml with a `database`
    pub env: String,
    /// Wait until the snapshot is available, showing its progress
    #[arg(long)]
    pub wait: bool,
    /// Why the snapshot is taken (tagged opsctl:reason)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Once available, copy it to this region (waits for the snapshot; --wait also waits for the copy)
    #[arg(long, value_parser = parse_region, value_name = "REGION")]
    pub copy_to: Option<String>,
    /// With --copy-to: a KMS key of that region (default: `database.dr.kms_key`)
    #[arg(long, value_name = "KEY", requires = "copy_to")]
    pub kms_key: Option<String>,
    /// Show the call and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait with --wait (default 60m)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("source").required(true).args(["snapshot", "to_time", "latest"])
))]
pub struct DbRestoreArgs {
    /// The environment, a table [env.NAME] in opsctl.toml with a `database`
    pub env: String,
    /// Restore this snapshot (see `opsctl db snapshots ENV`)
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// Restore the database as it was at this time (RFC 3339, e.g. 2025-06-01T12:30:00Z)
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub to_time: Option<jiff::Timestamp>,
    /// Restore the database as of its latest restorable time
    #[arg(long)]
    pub latest: bool,
    /// The new instance's identifier: 1-63 letters, digits and hyphens, starting with a letter
    #[arg(long, value_name = "NAME")]
    pub target: String,
    /// Restore a copy held in this region (`database.dr`) into that region
    #[arg(long, value_parser = parse_region, value_name = "REGION")]
    pub to_region: Option<String>,
    /// Wait until the new instance is available (the default)
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,
    /// Return once the restore has started
    #[arg(long, overrides_with = "wait")]
    pub no_wait: bool,
    /// Show the calls and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait (default 60m)
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

fn parse_time(text: &str) -> Result<jiff::Timestamp, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "invalid time `{text}`: expected RFC 3339 with a zone, such as 2025-06-01T12:30:00Z"
        )
    })
}

#[derive(Debug, Args)]
pub struct RunbookArgs {
    /// Where runbooks are found, besides those built in (default: ./runbooks)
    #[arg(long, global = true, env = "OPSCTL_RUNBOOKS", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: RunbookCommand,
}

#[derive(Debug, Subcommand)]
pub enum RunbookCommand {
    /// List the runbooks: those built in and those in the runbook directory
    List,
    /// Show a runbook: when to use it, its steps, their commands and its placeholders; a step
    /// that `run` would refuse is an error here too (exit 2)
    Show {
        /// The runbook's name: its file name without .md
        name: String,
    },
    /// Run a runbook step by step, asking before each step (or not, with --yes)
    ///
    /// Each step asks: run, skip or stop. A step you answer "run" runs as with --yes, so a
    /// prod-like environment does not ask again. Answering q (stop) ends the run with exit
    /// 130, as Ctrl-C does; the summary and the transcript say at which step, and the
    /// command that resumes there (--from N).
    ///
    /// The transcript is written to $XDG_STATE_HOME/opsctl/runbooks/ (by default
    /// ~/.local/state/opsctl/runbooks/), or to --transcript PATH; its path is printed at the end.
    Run(RunbookRunArgs),
}

#[derive(Debug, Args)]
pub struct RunbookRunArgs {
    /// The runbook's name: its file name without .md
    pub name: String,
    /// The environment the steps act on; fills {{env}}
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Fills the placeholder {{KEY}} (repeatable); missing ones are asked for on a terminal
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Show every step; run only the steps whose command takes --dry-run, with it
    #[arg(long)]
    pub dry_run: bool,
    /// Start at this step, to resume after a failure or a stop (earlier steps are not run)
    #[arg(long, value_name = "STEP", default_value_t = 1)]
    pub from: usize,
    /// Where to write the JSON transcript (default:
    /// $XDG_STATE_HOME/opsctl/runbooks/runbook-NAME-TIME.json, else under ~/.local/state)
    #[arg(long, value_name = "PATH")]
    pub transcript: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The environment, a table [env.NAME] in opsctl.toml
    pub env: String,
    /// The AWS account id; with it opsctl makes no AWS call, and what only the task
    /// definition tells (family, roles, secrets) is written as a wildcard in the account
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected KEY=VALUE, such as version=v1.2.3"))?;
    Ok((key.trim().to_owned(), value.to_owned()))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::input::parse_duration(text)
}

fn parse_region(text: &str) -> Result<String, String> {
    crate::input::parse_region(text)
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    crate::input::parse_timeout(text)
}

fn parse_version(text: &str) -> Result<String, String> {
    crate::input::parse_version(text)
}

/// Refuses a command line holding control characters before clap echoes any of it: they
/// would reach the terminal as escape sequences, and no name or value opsctl takes has them.
pub fn refuse_control_chars() -> Result<(), String> {
    for (i, arg) in std::env::args_os().enumerate().skip(1) {
        let text = arg.to_string_lossy();
        crate::input::no_control_chars(&format!("argument {i}"), &text)?;
    }
    Ok(())
}

fn parse_wait_until(text: &str) -> Result<crate::workflows::deploy::WaitUntil, String> {
    crate::workflows::deploy::WaitUntil::parse(text)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn rollback_version_means_what_a_user_means() {
        use clap::Parser;
        let cli = super::Cli::try_parse_from(["opsctl", "rollback", "prod", "--version", "v1.1.0"])
            .unwrap();
        match cli.command {
            super::Command::Rollback(args) => assert_eq!(args.to.as_deref(), Some("v1.1.0")),
            other => panic!("{other:?}"),
        }
    }
}
