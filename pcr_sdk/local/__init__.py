"""Run real pcr-sdk batches on a laptop: no AWS account, no Docker daemon (`pcr-sdk[local]`).

`LocalBackend` starts an embedded S3 (a moto server on 127.0.0.1) and an in-process AWS Batch
that runs every job attempt as a subprocess, and hands out an `AwsClients` of real boto3
clients wired to them. The SDK's services, and worker scripts written for AWS with plain boto3,
run unchanged against it::

    import sys
    from pcr_sdk.local import LocalBackend

    with LocalBackend([sys.executable, "worker.py"], max_parallel=4) as local:
        clients = local.clients            # AwsClients(batch=..., s3=..., logs=...)
        clients.s3.put_object(Bucket=local.bucket, Key="jobs/b/000000/config.json", Body=b"{}")
        arn = clients.batch.register_job_definition(
            jobDefinitionName="demo", type="container",
            containerProperties={"image": "python:3.11", "vcpus": 1, "memory": 512},
        )["jobDefinitionArn"]
        job = clients.batch.submit_job(jobName="demo", jobQueue=local.queue, jobDefinition=arn)
        ...  # DescribeJobs, ListJobs, CancelJob, TerminateJob, logs.get_log_events

What the engine reproduces: the status order SUBMITTED -> PENDING -> RUNNABLE -> STARTING ->
RUNNING -> SUCCEEDED/FAILED; `dependsOn` (a failed dependency fails its dependents with
"Dependent Job failed"); at most `max_parallel` attempts at once; `attemptDurationSeconds`
(times `timeout_scale`); `retryStrategy.attempts`; CancelJob and TerminateJob; array jobs
(`<parent>:<i>` children with `AWS_BATCH_JOB_ARRAY_INDEX`, N_TO_N and SEQUENTIAL); each
attempt's merged stdout and stderr as a CloudWatch Logs stream of `/aws/batch/job`.

A job's process gets the basics of this process's environment (PATH, HOME, PYTHON*, LC_*, ...;
never an AWS_* variable), the job definition's and the submission's environment, the
AWS_BATCH_* variables, `AWS_ENDPOINT_URL` (the embedded S3), dummy credentials, the region, and
finally `extra_env`. The command is `containerOverrides.command` if submitted, else `command`
(one argv for every image, or a mapping image -> argv), else the job definition's command.

The embedded S3 keeps its objects in moto's process-wide state, so two backends running at once
in one process share buckets.
"""

from __future__ import annotations

from pcr_sdk.local._backend import LocalBackend

__all__ = ["LocalBackend"]
