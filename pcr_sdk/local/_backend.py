"""`LocalBackend`: one HTTP endpoint on loopback for S3 (moto), AWS Batch and CloudWatch Logs."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import Loader, create_loader

from pcr_sdk._private.edge.clients import DEFAULT_CONFIG, AwsClients
from pcr_sdk._private.public import public
from pcr_sdk._private.wire import facts
from pcr_sdk.local._account_settings import BackendSettings, absolute_cwd
from pcr_sdk.local._account_settings import load as load_settings
from pcr_sdk.local._capacity import local_capacity
from pcr_sdk.local._containers import MAC_HOST, ContainerLauncher
from pcr_sdk.local._credentials import LocalCredentials, load_or_create
from pcr_sdk.local._engine import ACCOUNT_ID, BatchEngine
from pcr_sdk.local._gateway import Gateway, allowed_hosts
from pcr_sdk.local._holder import Holder, HolderLock, program_name
from pcr_sdk.local._kept import KeptAccount, log_directory
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._process import JobWiring, LocalLauncher
from pcr_sdk.local._s3mirror import BucketOwner, MirroredS3
from pcr_sdk.local._server import (
    HttpServer,
    ServerLimits,
    connect_host,
    is_loopback,
    moto_application,
)
from pcr_sdk.local._settings import ExecutionSettings
from pcr_sdk.local._signature import Verifier
from pcr_sdk.local._supervisor import Supervisor
from pcr_sdk.local._wire import JsonEndpoint, RestJsonEndpoint, service_model

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
    from typing_extensions import Unpack

    from pcr_sdk import JobSubmitter
    from pcr_sdk.advanced import BatchOptions

logger = logging.getLogger(__name__)

_LOOPBACK: Final = "127.0.0.1"
_SETTINGS: Final = frozenset(BackendSettings.model_fields)
"""The constructor's arguments a kept account stores (`_account_settings.BackendSettings`)."""
_QUIET_LOGGERS: Final = ("werkzeug", "waitress")


@functools.cache
def _service_models() -> Loader:
    """One botocore data loader for every local backend's sessions: it caches the service
    models it parsed (a new session's own loader parses Batch, S3 and Logs again, about
    0.1 s each). Only pcr-sdk's own sessions use it."""
    return create_loader()


def _isolated_session(region: str, credentials: LocalCredentials) -> boto3.Session:
    """A session with the backend's keys that ignores the user's AWS profile, files and env."""
    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
            "ignore_configured_endpoint_urls": (None, None, True, None),
        }
    )
    core.register_component("data_loader", _service_models())
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=region,
    )


def clients_at(
    endpoint_url: str,
    region: str,
    credentials: LocalCredentials,
    in_process: Mapping[str, Callable[..., Any]] | None = None,
) -> tuple[boto3.Session, AwsClients]:
    """A session with the backend's keys and its Batch, S3 and Logs clients for `endpoint_url`.

    `in_process` answers some services' requests without HTTP: botocore event name (e.g.
    `before-send.batch`) -> a `_wire` endpoint.
    """
    session = _isolated_session(region, credentials)
    for event, handler in (in_process or {}).items():
        session.events.register_first(event, handler)
    # s3v4: presigned URLs too are SigV4 (botocore presigns S3 with SigV2 by default)
    config = DEFAULT_CONFIG.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    batch: BatchClient = session.client(
        "batch", region_name=region, endpoint_url=endpoint_url, config=config
    )
    s3: S3Client = session.client(
        "s3", region_name=region, endpoint_url=endpoint_url, config=config
    )
    logs: CloudWatchLogsClient = session.client(
        "logs", region_name=region, endpoint_url=endpoint_url, config=config
    )
    return session, AwsClients(batch=batch, s3=s3, logs=logs)


@public("pcr_sdk.local")
class LocalBackend:
    """A real AWS Batch-shaped backend on this machine: no AWS account, no Docker daemon.

    It serves AWS Batch, CloudWatch Logs and S3 over HTTP at `endpoint_url` (`host`, `port`;
    port 0 picks a free one): any AWS client signing with the backend's own keys
    (`credentials`, `client_environment()`) reaches it, the requests routed by the service
    their signature names. Requests signed otherwise, for another `Host` than this machine's
    or from a web page (an `Origin` header) are refused (docs/local-server.md, "Security").
    Batch and Logs are answered by a local engine that runs each job attempt as processes here,
    under the backend's supervisor, or with `containers="docker"` / `"podman"` as a container of
    that runtime (docs/containers.md), S3 by moto. `clients` holds boto3 clients whose Batch and
    Logs calls are answered in-process (no HTTP). Use it as a context manager.

    An attempt is held to its job's MEMORY in both modes: a process-mode attempt whose
    processes' resident memory exceeds it is killed with exit code 137 and AWS's reason
    "OutOfMemoryError: Container killed due to memory usage" (sampled every 0.1 s); a container
    gets it as its memory limit. No process of an attempt outlives it.

    Each attempt's output goes to a file under `log_dir`: `data_dir/logs` if `data_dir` is
    given (kept on close), else a temporary directory removed on close.

    The local compute environment has `vcpus` (default: the CPUs this process may use),
    `memory_mib` (default: the machine's physical memory) and `gpus` (default 0: pass `gpus=`
    to emulate some). Jobs are placed in queue order while their resource requirements fit
    what is free; a job that can never fit stays RUNNABLE with AWS's blocked reason (and
    blocks the queue, as on AWS). `max_parallel`, if given, also caps how many attempts run
    at once (an extra local limit; AWS has none).

    `timeout_scale` multiplies every `attemptDurationSeconds` (AWS's minimum is 60 s; a test
    can pass 1/60 to time out a job after one second) and the `grace_seconds` between SIGTERM
    and SIGKILL when a job times out or is terminated (AWS: 30 s).
    """

    def __init__(
        self,
        command: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        *,
        max_parallel: int | None = None,
        bucket: str = "pcr-local",
        queue: str = "pcr-local",
        region: str = "us-east-1",
        containers: Literal["docker", "podman"] | None = None,
        host_access: bool = False,
        cwd: str | os.PathLike[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        timeout_scale: float = 1.0,
        vcpus: float | None = None,
        memory_mib: int | None = None,
        gpus: int = 0,
        grace_seconds: float = facts.TERMINATION_GRACE_SECONDS,
        host: str = _LOOPBACK,
        port: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        expose: bool = False,
        allow_hosts: Collection[str] = (),
        run_jobs: bool = True,
    ) -> None:
        """Configure the backend; nothing starts before `start()` or `with`.

        Args:
            command: the argv every job runs, or a mapping image -> argv (default: the job
                definition's own command).
            max_parallel: at most this many attempts at once, besides the resource limits.
            bucket: the embedded S3's job bucket, created on start.
            queue: the job queue's name.
            region: the region the clients are made for.
            containers: run each attempt as a container of this runtime, `"docker"` or
                `"podman"` (its CLI; default: processes here, never a container unless named).
            host_access: let containers have settings that reach this machine (`privileged`,
                `user`, host volumes, devices); without it such a job fails to start.
            cwd: the working directory of the job processes (default: this process's).
            extra_env: variables added last to every job's environment.
            timeout_scale: multiplies every `attemptDurationSeconds` and `grace_seconds`.
            vcpus: the compute environment's vCPUs (default: the CPUs this process may use).
            memory_mib: its memory (default: the machine's physical memory).
            gpus: its GPUs.
            grace_seconds: the time between SIGTERM and SIGKILL when an attempt is stopped.
            host: the address the HTTP endpoint listens on (default: the loopback address).
            port: its port; 0 picks a free one.
            data_dir: keep the account there: S3 objects, the engine's definitions and jobs,
                the job logs, the keys (`data_dir/credentials`, mode 0600) and these settings,
                all reused on the next start; one process holds it at a time (default: a
                temporary account, removed on close, with random keys).
            expose: allow a `host` other than a loopback address: whoever reaches it there
                and holds the keys runs commands on this machine.
            allow_hosts: more `Host` header names to answer (e.g. this machine's DNS name).
            run_jobs: start job attempts; False opens the account to read and change it (a
                kept account's queued jobs then wait for a backend that runs jobs).

        Raises:
            ValueError: `port` outside 0..65535, `max_parallel` below 1, `timeout_scale`,
                `vcpus` or `memory_mib` not positive, `gpus` or `grace_seconds` negative, an
                empty command, a runtime other than docker or podman, or a `host` beyond
                loopback without `expose`.
            TypeError: a command that is not an argv list of strings.
        """
        given = {name: value for name, value in locals().items() if name in _SETTINGS}
        self._settings = ExecutionSettings.of(
            command,
            containers=containers,
            host_access=host_access,
            cwd=cwd,
            extra_env=extra_env,
            timeout_scale=timeout_scale,
            grace_seconds=grace_seconds,
        )
        if not is_loopback(host) and not expose:
            raise ValueError(
                f"host {host!r} is reachable from other machines: pass expose=True to listen "
                "there (anyone who reaches it with the backend's keys runs commands here)"
            )
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port}")
        if max_parallel is not None and max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        capacity = local_capacity(vcpus, memory_mib, gpus)
        self.max_parallel = max_parallel
        self.vcpus = capacity.vcpus
        self.memory_mib = capacity.memory_mib
        self.gpus = capacity.gpus
        self.grace_seconds = grace_seconds
        self._capacity = capacity
        self.bucket = bucket
        self.queue = queue
        self.region = region
        self.containers = self._settings.containers
        self.timeout_scale = timeout_scale
        self._stack: ExitStack | None = None
        self._clients: AwsClients | None = None
        self._session: boto3.Session | None = None
        self._endpoint_url: str | None = None
        self._buckets: list[str] = []
        self._engine: BatchEngine | None = None
        self.host = host
        self.port = port
        self.expose = expose
        self.allow_hosts = tuple(allow_hosts)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.run_jobs = run_jobs
        self._kept_settings: BackendSettings | None = None
        if self.data_dir is not None:
            self._kept_settings = BackendSettings(  # the arguments of the same names, as given
                **{
                    **given,
                    "command": _as_lists(self._settings.command),
                    "cwd": absolute_cwd(cwd),
                    "extra_env": dict(self._settings.extra_env),
                }
            )
        self._account: KeptAccount | None = None
        self._sleep = time.sleep
        self._credentials: LocalCredentials | None = None
        self._address: str | None = None
        self._log_dir: Path | None = None
        self._stopped = threading.Event()
        self._stopped.set()

    @classmethod
    def reopen(
        cls,
        data_dir: str | os.PathLike[str],
        *,
        run_jobs: bool = True,
        host: str = _LOOPBACK,
        port: int = 0,
        expose: bool = False,
        allow_hosts: Collection[str] = (),
    ) -> LocalBackend:
        """A backend for a kept account with the settings stored there (nothing starts yet).

        The command mapping, working directory, environment, compute environment, bucket,
        queue and region are those of the last backend constructed with arguments that
        opened `data_dir`; where nothing ran yet, `LocalBackend()`'s defaults. They are not
        written back.

        Args:
            data_dir: the account's directory.
            run_jobs: start job attempts (False: only read and change the account).
            host: the address the HTTP endpoint listens on.
            port: its port; 0 picks a free one.
            expose: allow a `host` beyond loopback.
            allow_hosts: more `Host` header names to answer.

        Returns:
            The backend; `start()` or `with` opens the account.

        Raises:
            AccountFormatError: the stored settings are from a newer pcr-sdk, or damaged.
        """
        directory = Path(data_dir)
        stored = load_settings(directory) or BackendSettings()
        backend = cls(
            **stored.model_dump(),  # the arguments of the same names
            host=host,
            port=port,
            data_dir=directory,
            expose=expose,
            allow_hosts=allow_hosts,
            run_jobs=run_jobs,
        )
        backend._kept_settings = None  # reopened: the stored settings stay as they are
        return backend

    # -- what callers use --------------------------------------------------------------------

    @property
    def clients(self) -> AwsClients:
        """The Batch, S3 and Logs clients; available between `__enter__` and `__exit__`."""
        if self._clients is None:
            raise RuntimeError("LocalBackend is not running: use it as `with LocalBackend(...)`")
        return self._clients

    @property
    def credentials(self) -> LocalCredentials:
        """The backend's access key and secret: every request on its socket must be signed so.

        From `data_dir/credentials` when there is a data directory, else random for this run.
        """
        if self._credentials is None:
            raise RuntimeError("LocalBackend is not running: use it as `with LocalBackend(...)`")
        return self._credentials

    @property
    def address(self) -> str:
        """The address the endpoint is bound to, `host:port` (`[::1]:port` for IPv6)."""
        if self._address is None:
            raise RuntimeError("LocalBackend is not running: use it as `with LocalBackend(...)`")
        return self._address

    @property
    def session(self) -> boto3.Session:
        """The session behind `clients` (the backend's keys); its Batch and Logs clients are local.

        S3 clients made from it need `endpoint_url=backend.endpoint_url`.
        """
        if self._session is None:
            raise RuntimeError("LocalBackend is not running: use it as `with LocalBackend(...)`")
        return self._session

    @property
    def endpoint_url(self) -> str:
        """The endpoint of S3, AWS Batch and CloudWatch Logs, `http://127.0.0.1:<port>`."""
        if self._endpoint_url is None:
            raise RuntimeError("LocalBackend is not running: use it as `with LocalBackend(...)`")
        return self._endpoint_url

    def client_environment(self) -> dict[str, str]:
        """Environment variables that point any AWS SDK or the AWS CLI at this backend.

        `AWS_ENDPOINT_URL`, the backend's keys and the region: what every job gets too.

        Returns:
            The variables, by name.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **self.credentials.environment(),
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    @property
    def log_dir(self) -> Path:
        """The directory of the job logs: one file per attempt, `<log stream name>.log`."""
        if self._log_dir is None:
            raise RuntimeError("LocalBackend is not running: use it as `with LocalBackend(...)`")
        return self._log_dir

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the backend is closed (True), or `timeout` seconds pass (False).

        For a process that serves until a signal: `with LocalBackend(...) as b: b.wait()`
        inside `pcr_sdk.handle_signals()` ends on SIGINT, SIGTERM or SIGHUP, and the `with`
        stops every job.

        Args:
            timeout: seconds to wait at most (default: no limit).

        Returns:
            True if the backend was closed, False if `timeout` ran out first.
        """
        return self._stopped.wait(timeout)

    @property
    def queue_arn(self) -> str:
        """The queue's ARN (SubmitJob and ListJobs take it as well as the name)."""
        return f"arn:aws:batch:{self.region}:{ACCOUNT_ID}:job-queue/{self.queue}"

    def reclaim_host(self, job_id: str) -> str:
        """End the job's running attempt as a Spot reclaim does; the attempt's statusReason.

        The attempt's processes get SIGTERM, then SIGKILL after the grace period; the attempt
        ends without an exit code and with the statusReason `Host EC2 (instance i-...)
        terminated.`, and the job's retry strategy decides (e.g. `evaluateOnExit` with
        `onStatusReason: "Host EC2*"`). Local only: AWS has no such operation.

        Args:
            job_id: a job (or array child) of this backend.

        Returns:
            The attempt's statusReason.

        Raises:
            KeyError: there is no such job.
            ValueError: the job is not STARTING or RUNNING.
            RuntimeError: the backend is not running.
        """
        if self._engine is None:
            raise RuntimeError("LocalBackend is not running: use it as `with LocalBackend(...)`")
        return self._engine.reclaim_host(job_id)

    def create_bucket(self, name: str) -> None:
        """Create a bucket in the embedded S3 (no error if it exists); dropped again on exit.

        Args:
            name: the bucket's name.
        """
        s3 = self.clients.s3
        try:
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(
                    Bucket=name,
                    CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item] # any region name goes locally
                )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
            logger.info("local S3: bucket %s exists already (shared, kept on exit)", name)
        else:
            self._buckets.append(name)

    def job_submitter(
        self, batch_name: str, container: str = "pcr-local", **options: Unpack[BatchOptions]
    ) -> JobSubmitter:
        """A `JobSubmitter` for a batch on this backend, with defaults that fit a laptop.

        The backend's queue, bucket and clients, and instead of the seed's AWS defaults: a poll
        every 0.2 s (not 60), no spacing between requests (not 200 ms), 1 vCPU and no GPU per
        job (the seed's 4 vCPUs and 1 GPU would keep jobs waiting on a machine without a GPU).
        Any keyword of `JobSubmitter` but those of where the batch runs (`BatchOptions`:
        `vcpus=`, `gpus=`, `polling_interval_seconds=`, `progress=`, `governor=`, ...)
        overrides these; `JobSubmitter`'s own defaults stay as they are.

        Args:
            batch_name: as for `JobSubmitter`.
            container: the image name recorded in the job definition (the image a container
                runs with `containers=`; in process mode the key of a `command` mapping).
            **options: `JobSubmitter`'s keyword settings of a new batch (`BatchOptions`).

        Returns:
            The submitter; its job definition is registered.

        Raises:
            PcrError: as `JobSubmitter` raises.
        """
        from pcr_sdk import JobSubmitter  # noqa: PLC0415 - the facade loads on first use

        settings: BatchOptions = {
            "polling_interval_seconds": 0.2,
            "request_throttling_milliseconds": 0,
            "vcpus": 1,
            "gpus": 0,
            **options,
        }
        return JobSubmitter(
            batch_name, self.queue, container, self.bucket, clients=self.clients, **settings
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalBackend:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the HTTP endpoint and the Batch engine, create the bucket.

        Raises:
            RuntimeError: the backend is running already, or (a `ContainerRuntimeError`) the
                container runtime it names does not answer.
            OSError: the endpoint cannot listen on `host` and `port` (e.g. the port is taken).
        """
        if self._stack is not None:
            raise RuntimeError("LocalBackend is already running")
        with ExitStack() as stack:
            # Callbacks run in reverse: unpublish, forget, stop the engine (kills jobs), drop
            # the buckets, close the clients, stop the server, close the logs, close the kept
            # account (its buckets leave moto, the lock goes), restore the loggers.
            _quiet_loggers(stack)
            account = self._open_account()
            if account is not None:
                stack.callback(account.close)
            credentials, logs = self._keys_and_logs()
            stack.callback(logs.close)
            owner = account.owner if account is not None else BucketOwner(None)
            owner.claim(self.bucket, fresh=False)  # temporary: refused if an account owns it
            s3_app = MirroredS3(
                moto_application(), owner, account.mirror if account is not None else None
            )
            gateway, server = self._listen(credentials, s3_app)  # serving from server.start()
            stack.callback(server.stop)
            endpoint_url = f"http://{connect_host(self.host)}:{server.port}"

            launcher, engine = self._engine_parts(stack, endpoint_url, credentials, logs)
            if account is not None:
                account.restore(engine, logs)
            batch_endpoint = RestJsonEndpoint(service_model("batch"), engine.operations())
            logs_endpoint = JsonEndpoint(service_model("logs"), logs.operations())
            gateway.route("batch", batch_endpoint)
            gateway.route("logs", logs_endpoint)
            server.start()
            in_process: dict[str, Callable[..., Any]] = {
                "before-send.batch": batch_endpoint,
                "before-send.cloudwatch-logs": logs_endpoint,
            }
            session, clients = clients_at(endpoint_url, self.region, credentials, in_process)
            for client in (clients.batch, clients.s3, clients.logs):
                stack.callback(client.close)
            self._buckets = []
            if account is None:  # a kept account's buckets leave moto when it closes
                stack.callback(_drop_buckets, clients.s3, self._buckets)
            launcher.open()  # containers: fails if the runtime does not answer
            stack.callback(launcher.close)  # after the engine: removes what containers are left
            stack.callback(engine.close)
            if self.run_jobs:
                engine.start()
            stack.callback(self._forget)

            self._engine = engine
            self._credentials = credentials
            self._clients = clients
            self._session = session
            self._endpoint_url = endpoint_url
            self._log_dir = logs.directory
            self.create_bucket(self.bucket)
            if account is not None:
                self._publish(account.lock, endpoint_url)
                stack.callback(account.lock.unpublish)  # first: nobody joins a closing holder
            logger.info(
                "local backend: AWS Batch, CloudWatch Logs and S3 at %s, bucket %s, queue %s, "
                "compute environment %s%s",
                endpoint_url,
                self.bucket,
                self.queue,
                self._capacity,
                "" if self.max_parallel is None else f", at most {self.max_parallel} at once",
            )
            self._stack = stack.pop_all()
            self._stopped.clear()

    def _engine_parts(
        self, stack: ExitStack, endpoint_url: str, credentials: LocalCredentials, logs: LogStore
    ) -> tuple[LocalLauncher | ContainerLauncher, BatchEngine]:
        """The supervisor (started, closed last of the engine's parts: it kills what is left),
        the launcher and the engine (not started)."""
        supervisor = Supervisor(sample_seconds=self._settings.memory_sample_seconds)
        supervisor.open()
        stack.callback(supervisor.close)
        launcher = self._launcher(
            JobWiring(endpoint_url, credentials, self.region, self._settings.extra_env),
            supervisor,
        )
        engine = BatchEngine(
            launcher,
            logs,
            queue=self.queue,
            region=self.region,
            capacity=self._capacity,
            max_parallel=self.max_parallel,
            timeout_scale=self.timeout_scale,
            grace_seconds=self.grace_seconds,
        )
        return launcher, engine

    def _launcher(
        self, wiring: JobWiring, supervisor: Supervisor
    ) -> LocalLauncher | ContainerLauncher:
        settings = self._settings
        if settings.containers is None:
            return LocalLauncher(settings.command, wiring, supervisor, cwd=settings.cwd)
        return ContainerLauncher(
            settings.containers,
            settings.command,
            wiring,
            supervisor,
            backend_id=uuid.uuid4().hex,
            host_access=settings.host_access,
        )

    def _keys_and_logs(self) -> tuple[LocalCredentials, LogStore]:
        if self.data_dir is None:
            return LocalCredentials.generate(), LogStore(clock_ms=_epoch_ms)
        directory = log_directory(self.data_dir)
        return load_or_create(self.data_dir), LogStore(clock_ms=_epoch_ms, directory=directory)

    def _open_account(self) -> KeptAccount | None:
        """Hold the kept account (None: a temporary backend)."""
        if self.data_dir is None:
            return None
        account = KeptAccount.open(
            self.data_dir, settings=self._kept_settings, bucket=self.bucket, sleep=self._sleep
        )
        self._account = account
        return account

    def _publish(self, lock: HolderLock, endpoint_url: str) -> None:
        lock.publish(
            Holder(
                url=endpoint_url,
                pid=os.getpid(),
                started_at=time.time(),
                runs_jobs=self.run_jobs,
                bucket=self.bucket,
                queue=self.queue,
                region=self.region,
                program=program_name(),
            )
        )

    def _listen(
        self, credentials: LocalCredentials, s3_app: WSGIApplication
    ) -> tuple[Gateway, HttpServer]:
        """The gateway and its HTTP server, bound to `host` and `port` (not serving yet)."""
        extra = list(self.allow_hosts)
        if self._settings.containers is not None and sys.platform == "darwin":
            extra.append(MAC_HOST)  # how containers reach this machine on macOS
        gateway = Gateway(Verifier(credentials), allowed_hosts(self.host, extra), s3_app)
        server = HttpServer(
            gateway, host=self.host, port=self.port, screen=gateway, limits=ServerLimits()
        )
        bound = server.address
        self._address = f"[{bound}]:{server.port}" if ":" in bound else f"{bound}:{server.port}"
        if not is_loopback(self.host):
            logger.warning(
                "local backend: listening on %s, beyond this machine: anyone who reaches it "
                "with the backend's keys runs commands here",
                self._address,
            )
        return gateway, server

    def close(self) -> None:
        """Kill running jobs, stop the engine and the S3 server, close the clients."""
        stack, self._stack = self._stack, None
        if stack is not None:
            try:
                stack.close()
            finally:
                self._stopped.set()

    def _forget(self) -> None:
        self._account = None
        self._engine = None
        self._credentials = None
        self._address = None
        self._clients = None
        self._session = None
        self._endpoint_url = None
        self._log_dir = None


def _quiet_loggers(stack: ExitStack) -> None:
    """Silence the HTTP libraries' request logs until the stack closes."""
    for name in _QUIET_LOGGERS:
        quiet = logging.getLogger(name)
        stack.callback(quiet.setLevel, quiet.level)
        quiet.setLevel(logging.ERROR)


def _as_lists(
    command: Sequence[str] | Mapping[str, Sequence[str]] | None,
) -> list[str] | dict[str, list[str]] | None:
    if command is None:
        return None
    if isinstance(command, Mapping):
        return {image: list(argv) for image, argv in command.items()}
    return list(command)


def _epoch_ms() -> int:
    return int(time.time() * 1000)


def _drop_buckets(s3: S3Client, names: list[str]) -> None:
    """Empty and delete the buckets a backend created: moto's state outlives its server."""
    for name in names:
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                keys: list[ObjectIdentifierTypeDef] = [
                    {"Key": item["Key"]} for item in page.get("Contents", [])
                ]
                if keys:
                    s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
            s3.delete_bucket(Bucket=name)
        except ClientError as err:
            logger.warning("local S3: could not remove bucket %s: %s", name, err)
