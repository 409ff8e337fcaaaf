//! One-off tasks in memory: each follows a script (how long it runs, what it logs, how it
//! exits, or that it never starts), on tokio's clock; their lines are CloudWatch Logs events.

use super::*;

/// What the next one-off task does.
#[derive(Debug, Clone)]
pub struct RunScript {
    /// How long it provisions before it runs.
    pub start_after: Duration,
    /// How long it runs before its container exits.
    pub runs_for: Duration,
    /// The container's exit code; `None`: the task never starts (`TaskFailedToStart`).
    pub exit_code: Option<i32>,
    /// Why it never started, when it does not.
    pub failed_to_start: String,
    /// What it logs, one line a second from its start.
    pub lines: Vec<String>,
}

impl Default for RunScript {
    fn default() -> Self {
        RunScript {
            start_after: Duration::from_secs(10),
            runs_for: Duration::from_secs(20),
            exit_code: Some(0),
            failed_to_start:
                "CannotPullContainerError: pull image manifest has been retried 5 time(s)".into(),
            lines: vec![
                "applying migration 0001_users".into(),
                "applying migration 0002_users_email_index".into(),
                "2 migrations applied".into(),
            ],
        }
    }
}

#[derive(Debug, Clone)]
struct FakeRun {
    request: RunRequest,
    task: OneOffTask,
    script: RunScript,
    created: Instant,
    /// Stopped by StopTask at this time, with this reason.
    stopped: Option<(Instant, String)>,
    /// Its container's awslogs stream (`prefix/container/id`), as its task definition names it.
    stream: Option<String>,
}

/// The one-off tasks started, and the script the next one follows.
#[derive(Debug, Default)]
pub struct RunState {
    runs: Vec<FakeRun>,
    pub next: RunScript,
}

impl FakeRun {
    /// The task as it is at `now`.
    fn at(&self, now: Instant, epoch: (Instant, Timestamp)) -> OneOffTask {
        let mut t = self.task.clone();
        let started = self.created + self.script.start_after;
        let exited = started + self.script.runs_for;
        let when = |i: Instant| Some(at(epoch, i));
        // A stop counts when it comes before the task ends by itself.
        let ends = if self.script.exit_code.is_some() {
            exited
        } else {
            started
        };
        if let Some((stop, reason)) = &self.stopped
            && *stop < ends
            && now >= *stop
        {
            t.last_status = "STOPPED".into();
            t.desired_status = "STOPPED".into();
            t.started_at = (*stop >= started).then(|| at(epoch, started));
            t.stopped_at = when(*stop);
            t.stop_code = Some("UserInitiated".into());
            t.stopped_reason = Some(reason.clone());
            t.exit_code = (*stop >= started).then_some(143);
            return t;
        }
        match self.script.exit_code {
            None if now >= started => {
                t.last_status = "STOPPED".into();
                t.desired_status = "STOPPED".into();
                t.stopped_at = when(started);
                t.stop_code = Some("TaskFailedToStart".into());
                t.stopped_reason = Some(self.script.failed_to_start.clone());
            }
            Some(code) if now >= exited => {
                t.last_status = "STOPPED".into();
                t.desired_status = "STOPPED".into();
                t.started_at = when(started);
                t.stopped_at = when(exited);
                t.stop_code = Some("EssentialContainerExited".into());
                t.stopped_reason = Some("Essential container in task exited".into());
                t.exit_code = Some(code);
            }
            Some(_) if now >= started => {
                t.last_status = "RUNNING".into();
                t.started_at = when(started);
            }
            _ => t.last_status = "PROVISIONING".into(),
        }
        t
    }

    /// The lines logged by `now`: one a second from the start, cut short by a stop.
    fn lines(&self, now: Instant, epoch: (Instant, Timestamp)) -> Vec<LogLine> {
        if self.script.exit_code.is_none() {
            return Vec::new();
        }
        let started = self.created + self.script.start_after;
        let end = self
            .stopped
            .as_ref()
            .map_or(now, |(stop, _)| now.min(*stop));
        let Some(stream) = self.stream() else {
            return Vec::new();
        };
        self.script
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| (started + Duration::from_secs(i as u64 + 1), line))
            .filter(|(when, _)| *when <= end)
            .map(|(when, line)| LogLine {
                at: at(epoch, when),
                stream: stream.clone(),
                message: line.clone(),
            })
            .collect()
    }

    fn stream(&self) -> Option<String> {
        self.stream.clone()
    }
}

impl FakeAws {
    /// The script the next one-off task follows.
    pub fn set_next_run(&self, f: impl FnOnce(&mut RunScript)) {
        f(&mut self.state.lock().unwrap().runs.next);
    }

    /// The RunTask requests made, in order.
    pub fn run_requests(&self) -> Vec<RunRequest> {
        let s = self.state.lock().unwrap();
        s.runs.runs.iter().map(|r| r.request.clone()).collect()
    }

    pub(super) fn start_run(&self, request: &RunRequest) -> OneOffTask {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("{:032x}", s.next_id);
        let now = Instant::now();
        let task = OneOffTask {
            arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/{id}"),
            id,
            last_status: "PROVISIONING".into(),
            desired_status: "RUNNING".into(),
            created_at: Some(at(self.epoch, now)),
            started_at: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            exit_code: None,
            container_reason: None,
        };
        let script = s.runs.next.clone();
        let stream = s
            .task_defs
            .iter()
            .find(|td| td.arn == request.task_definition || td.short() == request.task_definition)
            .and_then(|td| td.containers.iter().find(|c| c.name == request.container))
            .and_then(|c| c.log.as_ref())
            .and_then(|l| l.prefix.as_ref())
            .map(|prefix| format!("{prefix}/{}/{}", request.container, task.id));
        s.runs.runs.push(FakeRun {
            request: request.clone(),
            task: task.clone(),
            script,
            created: now,
            stopped: None,
            stream,
        });
        task
    }

    pub(super) fn run_view(&self, arn: &str) -> Option<OneOffTask> {
        let s = self.state.lock().unwrap();
        let now = Instant::now();
        s.runs
            .runs
            .iter()
            .find(|r| r.task.arn == arn)
            .map(|r| r.at(now, self.epoch))
    }

    pub(super) fn stop_run(&self, arn: &str, reason: &str) {
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        if let Some(r) = s.runs.runs.iter_mut().find(|r| r.task.arn == arn)
            && r.stopped.is_none()
        {
            r.stopped = Some((now, reason.to_owned()));
        }
    }
}

#[async_trait]
impl Logs for FakeAws {
    async fn filter(
        &self,
        q: &crate::aws::LogQuery,
        _token: Option<String>,
    ) -> AwsResult<(Vec<LogLine>, Option<String>)> {
        self.record("logs:FilterLogEvents")?;
        let s = self.state.lock().unwrap();
        let now = Instant::now();
        let mut lines: Vec<LogLine> = s
            .runs
            .runs
            .iter()
            .flat_map(|r| r.lines(now, self.epoch))
            .filter(|l| {
                if q.streams.is_empty() {
                    l.stream.starts_with(&q.stream_prefix)
                } else {
                    q.streams.contains(&l.stream)
                }
            })
            .filter(|l| q.start.is_none_or(|t| l.at >= t) && q.end.is_none_or(|t| l.at <= t))
            .filter(|l| {
                q.pattern
                    .as_deref()
                    .is_none_or(|p| l.message.contains(p.trim_matches('"')))
            })
            .collect();
        lines.sort_by_key(|l| l.at);
        Ok((lines, None))
    }

    async fn stream_lines(
        &self,
        _group: &str,
        stream: &str,
        token: Option<String>,
    ) -> AwsResult<(Vec<LogLine>, Option<String>)> {
        self.record("logs:GetLogEvents")?;
        let s = self.state.lock().unwrap();
        let now = Instant::now();
        let Some(run) = s
            .runs
            .runs
            .iter()
            .find(|r| r.stream().as_deref() == Some(stream))
        else {
            return Ok((Vec::new(), token));
        };
        let lines = run.lines(now, self.epoch);
        let from: usize = token.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
        let next = lines.len().to_string();
        Ok((lines.into_iter().skip(from).collect(), Some(next)))
    }
}
