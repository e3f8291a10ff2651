"""The programs of `scripts` as in-process containers, for the suite's MotoWorld target.

On a `MotoWorld` a job's container is a program in the test process that DescribeJobs polls
(`pcr_sdk.local._stepping.Program`). Each program of `scripts` has its twin here, picked by the
code in the job's command (`python -c CODE ARG...`) and doing what the script does: the same
log lines, exit codes, and answer to SIGTERM (the script's, or Python's default: exit 143).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from pcr_sdk.local._process import ContainerRun
from pcr_sdk.local._stepping import SIGTERM_EXIT, Exit, LineSink, Program
from pcr_sdk.testing import JobView
from tests.conformance import scripts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class _Container:
    """Runs until SIGTERM ends it (Python's default)."""

    def __init__(
        self, args: Sequence[str], environment: dict[str, str], log: LineSink, s3: S3Client
    ) -> None:
        self.args = list(args)
        self.environment = environment
        self.log = log
        self.s3 = s3

    def poll(self) -> Exit | None:
        return None

    def terminate(self) -> Exit | None:
        return Exit(SIGTERM_EXIT)


class _ExitWith(_Container):
    def poll(self) -> Exit | None:
        self.log(f"exiting with {self.args[0]}")
        return Exit(int(self.args[0]))


class _Args(_Container):
    def poll(self) -> Exit | None:
        self.log(" ".join(self.args))
        return Exit(0)


class _Env(_Container):
    def poll(self) -> Exit | None:
        self.log(json.dumps({name: self.environment.get(name) for name in self.args}))
        return Exit(0)


class _Lines(_Container):
    def poll(self) -> Exit | None:
        for n in range(int(self.args[0])):
            self.log(f"line {n}")
            self.log(f"noise {n}")
        return Exit(0)


class _Sleep(_Container):
    def __init__(
        self, args: Sequence[str], environment: dict[str, str], log: LineSink, s3: S3Client
    ) -> None:
        super().__init__(args, environment, log, s3)
        self.log("ready")


class _OnSigterm(_Sleep):
    def terminate(self) -> Exit | None:
        self.log("got SIGTERM")
        return Exit(int(self.args[0])) if self.args else None


class _UntilAttempt(_Container):
    def __init__(
        self, args: Sequence[str], environment: dict[str, str], log: LineSink, s3: S3Client
    ) -> None:
        super().__init__(args, environment, log, s3)
        self.attempt = int(environment[facts.ENV_JOB_ATTEMPT])
        self.log(f"attempt {self.attempt}")
        self.log("ready")

    def poll(self) -> Exit | None:
        return Exit(0) if self.attempt >= int(self.args[0]) else None


class _WaitForKey(_Sleep):
    def poll(self) -> Exit | None:
        try:
            self.s3.head_object(Bucket=self.args[0], Key=self.args[1])
        except ClientError:
            return None
        self.log("released")
        return Exit(0)


class _SignalSelf(_Container):
    def poll(self) -> Exit | None:
        self.log("ready")
        return Exit(facts.SIGNAL_EXIT_BASE + int(self.args[0]))


_PROGRAMS: Final[dict[str, type[_Container]]] = {
    scripts.EXIT: _ExitWith,
    scripts.ARGS: _Args,
    scripts.ENV: _Env,
    scripts.SLEEP: _Sleep,
    scripts.ON_SIGTERM: _OnSigterm,
    scripts.UNTIL_ATTEMPT: _UntilAttempt,
    scripts.WAIT_FOR_KEY: _WaitForKey,
    scripts.LINES: _Lines,
    scripts.SIGNAL_SELF: _SignalSelf,
}


def script_programs(s3: S3Client) -> Callable[[JobView, ContainerRun, LineSink], Program]:
    """Start each job's container as the twin of the `scripts` program in its command."""

    def start(view: JobView, run: ContainerRun, log: LineSink) -> Program:
        argv = list(run.command or run.definition_command or ())
        if "-c" not in argv:
            raise ValueError(f"job {view.job_id}: {argv} runs no program of tests.conformance")
        at = argv.index("-c")
        program = _PROGRAMS[argv[at + 1]]
        return program(argv[at + 2 :], dict(run.environment), log, s3)

    return start
