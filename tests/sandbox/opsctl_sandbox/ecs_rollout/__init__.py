"""ECS rollout behaviour for moto, applied at runtime (moto's files are not changed).

moto keeps one deployment per service forever and starts no tasks. This package gives every
ECS service created through the API a small deployment model, modelled on real ECS:

* a service has deployments; the newest is PRIMARY, older ones are ACTIVE until their tasks
  are gone; a PRIMARY deployment with running == desired and nothing else left is COMPLETED;
* tasks are real moto task objects (`SandboxTask`) with their own lifecycle:
  PENDING -> RUNNING after `task_start_seconds`; a task whose essential container image tag
  matches `failure_pattern` goes PENDING -> STOPPED instead; a running task that is stopped
  drains (lastStatus DEACTIVATING, target `draining`) for `task_stop_seconds`, then STOPPED;
* pacing honours the deployment configuration in a simple way: the primary deployment starts
  as many tasks as `maximumPercent` leaves room for (running + pending of all deployments
  <= desired * maximumPercent / 100), and tasks of older deployments are stopped as long as
  the RUNNING tasks left stay >= desired * minimumHealthyPercent / 100;
* the deployment circuit breaker: once a deployment has `min(200, max(3, ceil(desired/2)))`
  failed tasks it turns FAILED (no more tasks are launched for it) and, when its rollback is
  on, after `rollback_delay_seconds` a new PRIMARY deployment goes back to the task
  definition of the last COMPLETED deployment;
* tasks are registered as targets (private IP, container port) of the service's target
  groups; ELBv2 DescribeTargetHealth reports them initial / healthy / unhealthy / draining.

One-off tasks (runs.py) and the tasks' logs (tasklogs.py) ride on the same clock.

Nothing runs in the background: every ECS (and target-health, and logs) request first advances the
account's model to the current wall-clock time, replaying the due transitions in time order
(each step stamped with its own simulated time), under one lock held for the whole request.

Modules:
  model       the deployment model: deployments, service state, the tasks' lifecycle, the
              circuit breaker, target health (no moto imports)
  scheduler   advances an account's model to the current time, replaying the due
              transitions in order; the lock
  native      service deployments and the native strategies (BLUE_GREEN, LINEAR, CANARY):
              stages, hooks, traffic shifts, rollback (no moto imports)
  traffic     seeded load balancer metrics per target group (no moto imports)
  moto_patch  touches moto (with native_patch): the task object, network interfaces and
              target registration, the patches of moto's ECS and ELBv2 classes, `apply()`
  native_patch  the new ECS operations, listener rule weights, alarm states, CloudWatch
              datapoints and percentiles
  runs        one-off tasks (RunTask): the exit code convention, their lifecycle, StopTask
              (no moto imports); runs_patch is their moto side
  tasklogs    what tasks log, and where (the awslogs driver's streams; no moto imports);
              logs_patch writes it into moto's CloudWatch Logs and fixes its reads
"""
