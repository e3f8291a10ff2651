"""Test your pcr-sdk code against a mocked AWS account: ``pip install "pcr-sdk[testing]"``.

`MotoWorld` is an AWS account in this process with a Batch job queue and an S3 bucket, and it
scripts what every submitted job does. AWS Batch is pcr-sdk's own engine (the one
`pcr_sdk.local` runs), moving jobs only when they are described; S3, CloudWatch Logs, IAM and
CloudFormation are moto's. Nothing touches real AWS: while a world is active every ``AWS_*``
variable is hidden, credentials are dummies, the user's config files are not read,
``boto3.DEFAULT_SESSION`` is the world's session, and botocore's retry backoff is zero (no test
really sleeps). Exiting restores all of it. One world can be active at a time.

Example::

    from pcr_sdk.testing import Fault, MotoWorld

    def test_batch_runs() -> None:
        with MotoWorld(polls_to_finish=2) as world:
            world.script.worker(lambda data: {"x+y": data["x"] + data["y"]})
            world.script.fail(index=1, exit_code=3, log_lines=["ValueError: boom"])
            world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE)

            run_my_code(world.clients)  # or any boto3 client made from world.session

            assert len(world.submitted()) == 2  # SubmitJob calls as sent (retries not doubled)
            assert world.faults.injected == 1

With pytest, enable the fixtures in your ``conftest.py``::

    pytest_plugins = ["pcr_sdk.testing.fixtures"]

    @pytest.mark.moto_world(polls_to_finish=3)  # optional: MotoWorld's keyword arguments
    def test_it(moto_world: MotoWorld, aws_clients: AwsClients) -> None: ...

How jobs behave (`JobScript`):

- A job stays unfinished for ``polls_to_finish`` DescribeJobs calls that include it, showing
  SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING (one step per describe); the next describe
  finishes it SUCCEEDED (exit code 0). ``script.polls(index=..., n=...)`` changes that per job.
  ListJobs shows where jobs are and moves nothing.
- ``script.fail(index=k, exit_code=..., reason=..., log_lines=[...])`` (or ``fail_where`` with
  a predicate over `JobView`) ends it FAILED with that statusReason, container.exitCode, an
  attempt, a logStreamName, and the lines as events in log group ``/aws/batch/job``.
  ``exit_code=None`` is an infrastructure failure (reason only). ``index`` is job k of its batch,
  read from the job's S3_JOB_PREFIX.
- ``script.worker(handler)``: a job that succeeds runs ``handler(input)`` on its config.json and
  writes the JSON result to its S3_OUTPUT_OJBECT_KEY; if the handler raises, the job fails with
  exit code 1 and the exception as its log line.

Everything else is AWS Batch's own behaviour, from the engine `pcr_sdk.local` runs (the suite
in ``tests/conformance`` checks both against AWS's documentation): a job waits in PENDING until
its dependsOn jobs finish and fails ("Dependent Job failed") if one of them failed; an array job
finishes with its children ``<id>:<i>``; a ``retryStrategy`` (attempts, evaluateOnExit) starts a
failed job's next attempt on its next describe; CancelJob fails SUBMITTED and RUNNABLE jobs at
once and a PENDING one once its dependencies are done; TerminateJob also stops a STARTING or
RUNNING job: its container gets SIGTERM (a scripted one exits with 143) and the job ends FAILED
with the given reason on its next describe. ListJobs lists one ``jobStatus`` (RUNNING if none
is given) or, with a filter, every status, newest first; array children are listed by
``arrayJobId``. ``world.reclaim_host(job_id)`` ends an attempt as a Spot reclaim does.

Time is virtual: ``world.clock`` starts at the real time on entry and each DescribeJobs call
moves it one second on (``world.clock.advance(seconds)`` moves it further). createdAt, startedAt
and stoppedAt follow it, and so do timeouts (``attemptDurationSeconds``) and the 30 seconds
between SIGTERM and SIGKILL. Any number of jobs run at once, each asking for up to 256 vCPUs,
2 TiB of memory and 8 GPUs; a job asking for more stays RUNNABLE with AWS's
``MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT`` statusReason until it is cancelled. Compute
environments and job queues are moto's: a job may go to any queue that exists in the mock (one a
CloudFormation stack created, say).

Faults (`FaultInjector`) are injected below botocore's retry layer, so the client's real retry
policy handles them: THROTTLE, SERVER_ERROR, CONNECTION_ERROR (none of them reaches the mock)
and LOST_RESPONSE (the mock applies the request, then the connection closes). Each rule fires on
the next ``times`` matching attempts, retries included. ``faults.delay_listing(answers=n)`` makes
ListJobs eventually consistent, as on AWS: each job is missing from the first ``n`` ListJobs
answers it would appear in. Faults and `submitted` apply to clients of `session` (including
``boto3.client(...)`` while the world is active), not to clients of other sessions, which reach
the same mock.
"""

from __future__ import annotations

import typing as _typing

from pcr_sdk._private.public import lazy_names as _lazy_names

if _typing.TYPE_CHECKING:
    from pcr_sdk.local._stepping import VirtualClock
    from pcr_sdk.testing._batch import DEPENDENCY_FAILED, LOG_GROUP
    from pcr_sdk.testing._faults import Fault, FaultHandle, FaultInjector, ListingLag
    from pcr_sdk.testing._script import ESSENTIAL_CONTAINER_EXITED, JobScript, JobView
    from pcr_sdk.testing._world import MotoWorld, SubmittedCall

_WHERE: dict[str, str] = {
    "DEPENDENCY_FAILED": "pcr_sdk.testing._batch",
    "ESSENTIAL_CONTAINER_EXITED": "pcr_sdk.testing._script",
    "LOG_GROUP": "pcr_sdk.testing._batch",
    "Fault": "pcr_sdk.testing._faults",
    "FaultHandle": "pcr_sdk.testing._faults",
    "FaultInjector": "pcr_sdk.testing._faults",
    "JobScript": "pcr_sdk.testing._script",
    "JobView": "pcr_sdk.testing._script",
    "ListingLag": "pcr_sdk.testing._faults",
    "MotoWorld": "pcr_sdk.testing._world",
    "SubmittedCall": "pcr_sdk.testing._world",
    "VirtualClock": "pcr_sdk.local._stepping",
}
"""Where each public name lives: imported on first use (PEP 562), so that registering the
pytest plugin (`pcr_sdk.testing.fixtures`) loads no moto."""

__all__ = [
    "DEPENDENCY_FAILED",
    "ESSENTIAL_CONTAINER_EXITED",
    "LOG_GROUP",
    "Fault",
    "FaultHandle",
    "FaultInjector",
    "JobScript",
    "JobView",
    "ListingLag",
    "MotoWorld",
    "SubmittedCall",
    "VirtualClock",
]


if not _typing.TYPE_CHECKING:  # type checkers see the imports above, and no other name
    __getattr__ = _lazy_names(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted(__all__)
