"""Run real pcr-sdk batches on a laptop: no AWS account, no Docker daemon (`pcr-sdk[local]`).

`LocalBackend` serves S3 (moto), AWS Batch (an engine that runs every job attempt as a
subprocess) and CloudWatch Logs over HTTP at one endpoint on 127.0.0.1, answering only requests
signed with its own keys (`credentials`) and routing each by the service it is signed for, and
hands out an `AwsClients` of real boto3 clients wired to it. The SDK's services, worker
scripts written for AWS with plain boto3, any AWS client pointed at `endpoint_url`
(`client_environment()` gives the variables), and the AWS CLI run unchanged against it::

    import sys
    from pcr_sdk.local import LocalBackend

    with LocalBackend([sys.executable, "worker.py"], vcpus=4) as local:
        clients = local.clients            # AwsClients(batch=..., s3=..., logs=...)
        clients.s3.put_object(Bucket=local.bucket, Key="jobs/b/000000/config.json", Body=b"{}")
        arn = clients.batch.register_job_definition(
            jobDefinitionName="demo", type="container",
            containerProperties={"image": "python:3.11", "vcpus": 1, "memory": 512},
        )["jobDefinitionArn"]
        job = clients.batch.submit_job(jobName="demo", jobQueue=local.queue, jobDefinition=arn)
        ...  # DescribeJobs, ListJobs, CancelJob, TerminateJob, logs.get_log_events, ...

What the engine reproduces, checked against AWS Batch's documentation (the conformance suite in
`tests/conformance/` runs the same tests here and, on demand, against a real account):

- the status order SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED/FAILED;
  `dependsOn` (a failed dependency fails its dependents with "Dependent Job failed");
- a compute environment with `vcpus`, `memory_mib` and `gpus` (defaults: this machine's CPUs
  and memory, no GPU): jobs start in queue order while their `resourceRequirements` (or legacy
  `vcpus`/`memory`, overridden by `containerOverrides.resourceRequirements`) fit what is free;
  a job that can never fit stays RUNNABLE with AWS's `MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT`
  statusReason, blocks the queue as on AWS, and is logged once as a warning. `max_parallel`
  optionally caps how many attempts run at once besides;
- `attemptDurationSeconds` (times `timeout_scale`): a timed-out job fails and is never retried;
- stopping an attempt (timeout, TerminateJob) sends SIGTERM to its processes, then SIGKILL after
  `grace_seconds` (AWS: 30 s; times `timeout_scale`);
- `retryStrategy.attempts` and `evaluateOnExit` (exit code, reason and status reason globs, in
  order, at most 5; no match retries); `LocalBackend.reclaim_host(job_id)` ends an attempt as a
  Spot reclaim does ("Host EC2 (instance i-...) terminated.", no exit code) to test such rules;
- CancelJob: SUBMITTED and RUNNABLE jobs fail at once, a PENDING one once its dependencies are
  done; TerminateJob also stops STARTING and RUNNING ones; DescribeJobs shows `isCancelled` and
  `isTerminated` on every finished job;
- ListJobs: one filter at a time, JOB_NAME case-insensitive with a trailing `*` for a prefix,
  newest first with a filter, pages of up to 100 (filtered) or 1000; DescribeJobDefinitions
  pages of 1 to 100; paging tokens that stay valid while jobs and definitions change;
- `Ref::name` arguments of a job definition's command, replaced from its `parameters` and the
  submission's;
- array jobs (`<parent>:<i>` children with `AWS_BATCH_JOB_ARRAY_INDEX` and
  `AWS_BATCH_JOB_ARRAY_SIZE`, N_TO_N and SEQUENTIAL; a cancelled array fails even if its
  running children succeed); each attempt's merged stdout and stderr as a CloudWatch Logs
  stream of `/aws/batch/job` named `<definition>/default/<task id>`, kept in a file under
  `log_dir` (GetLogEvents, DescribeLogStreams and FilterLogEvents read it back from there, so a
  chatty job costs no memory); DescribeComputeEnvironments for the compute environment behind
  the queue;
- AWS's request checks, for any client, answered with AWS's error code and wording (one table,
  `_refusals.py`, listed in docs/local-checks.md): payload sizes, EC2 and Fargate resource
  rules, reserved `AWS_BATCH*` variables, retry strategies, tags (not on array children).

Every attempt runs in a session of its own, started by the backend's one supervisor process (a
child subreaper with the parent-death signal on Linux). When an attempt's main process exits,
is stopped, or goes over its MEMORY (its processes' resident memory, sampled every 0.1 s: exit
code 137 and AWS's "OutOfMemoryError: Container killed due to memory usage"), every process it
started is killed, `setsid` ones and daemons included; so are all of them when the backend
closes, on an exception, and within 2 s of a SIGKILL of the process holding it (Linux; macOS:
the attempt's process group). A signal n gives exit code 128 + n, as in a container. With
`containers="docker"` or `"podman"` each attempt is a container of its image instead
(docs/containers.md): memory and CPU limits, the image's own command, exit codes read from the
container, containers removed on close and, by the supervisor, after a SIGKILL.

A job's process gets the basics of this process's environment (PATH, HOME, PYTHON*, LC_*, ...;
never an AWS_* variable), the job definition's and the submission's environment, the
AWS_BATCH_* variables, `AWS_ENDPOINT_URL` (the backend's endpoint: S3, Batch and Logs), the
backend's own keys, the region, and finally `extra_env`. The command is `containerOverrides.command`
if submitted, else `command` (one argv for every image, or a mapping image -> argv), else the
job definition's command; with none, a process cannot start (a container runs its image's own).

With `data_dir`, the backend keeps a local account there: S3 objects (mirrored to files as each
write happens, put back into moto at start), the engine's definitions and jobs (a versioned
journal), logs, keys and settings, reopened by `LocalBackend.reopen(data_dir)` or joined by
`LocalAccount(data_dir).connect()` from any process (one holder at a time). Without it, the
account is temporary, as before. The embedded S3 keeps its objects in moto's process-wide
state: temporary backends running at once in one process share buckets; a kept account owns
its buckets in its process (docs/local-server.md, "A local account that lasts").
"""

from __future__ import annotations

from pcr_sdk.local._account import KeptBatch, LocalAccount, LocalConnection
from pcr_sdk.local._backend import LocalBackend
from pcr_sdk.local._files import AccountFormatError, LocalAccountError
from pcr_sdk.local._holder import AccountInUseError, Holder
from pcr_sdk.local._s3mirror import AccountConflictError

__all__ = [
    "AccountConflictError",
    "AccountFormatError",
    "AccountInUseError",
    "Holder",
    "KeptBatch",
    "LocalAccount",
    "LocalAccountError",
    "LocalBackend",
    "LocalConnection",
]
