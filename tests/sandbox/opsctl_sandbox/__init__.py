"""The opsctl AWS sandbox: moto's server with real ECS rollout behaviour.

Modules:
  config       per-account behaviour knobs (failure pattern, task timings, ...)
  rds_dr       RDS disaster recovery: snapshot copies, failovers, restore windows (the model)
  rds_patch    the patches to moto's RDS for it
  ecs_rollout  ECS rollouts: the deployment model (ecs_rollout.model), the scheduler that
               advances it (ecs_rollout.scheduler), the patches to moto (ecs_rollout.moto_patch);
               one-off tasks (ecs_rollout.runs) and the tasks' logs (ecs_rollout.tasklogs)
  ssm_patch    Parameter Store: PutParameter without Overwrite atomic (the deploy lock)
  control      the WSGI middleware serving the /_sandbox/ control surface
  wire         names each request's account and IAM action; AWS-shaped error answers
  faults       injected faults (throttling, 5xx, access denied, dropped connections, delays)
  request_log  the AWS requests served per account, for assertions
  iam          IAM enforcement, switchable per account
  seed         builds the demo environment described by opsctl.toml
"""

MOTO_VERSION = "5.2.5"
