"""The container side of pcr-sdk: read the job's input, write its output.

A worker script::

    from pcr_sdk.worker import run

    def handler(data):
        return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}

    if __name__ == "__main__":
        run(handler)

A handler whose first parameter and return value are annotated with pydantic models gets its
input validated (an invalid input fails the job with exit code 2, without calling it) and its
output serialized with `model_dump(mode="json")`::

    class In(BaseModel):
        x: int
        y: int

    class Out(BaseModel):
        total: int

    def handler(data: In) -> Out:
        return Out(total=data.x + data.y)

Everything comes from the environment contract (S3_JOB_BUCKET, S3_JOB_CONFIG_KEY, S3_JOB_PREFIX,
S3_OUTPUT_OJBECT_KEY, BATCH_ID). A job that names a newer contract (PCR_WORKER_CONTRACT) than
this worker honours fails with exit code 3 and one log line, before it reads or writes anything:
rebuild the image with a newer pcr-sdk. The S3 client is boto3's default one, so `AWS_ENDPOINT_URL`
(set by the local backend) and the container's role credentials (on AWS) both just work.

This module imports none of the submitting side (no facade, no pydantic, no CLI), so a job's
container starts fast; pydantic is used only for a handler whose annotations are models (the
module defining them imported it), and boto3 only when the default client is made (`run(...,
s3=client)` never imports it). Its errors are `PcrError`s: S3 failures are `AwsError`s, a
broken environment contract is a `WorkerEnvironmentError`, a corrupt packed input a `PackError`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pcr_sdk._private.edge.mapping import aws_call
from pcr_sdk._private.errors import WorkerContractError, WorkerEnvironmentError
from pcr_sdk._private.wire.handlers import InvalidInputError, typed
from pcr_sdk._private.wire.jsonio import dump_json
from pcr_sdk._private.wire.layout import (
    ARRAY_VARIABLES,
    CONTRACT_VARIABLES,
    ENV_ARRAY_BASE_INDEX,
    ENV_ARRAY_INDEX,
    ENV_ARRAY_INPUTS_KEY,
    ENV_BATCH_ID,
    ENV_BUCKET,
    ENV_CONFIG_KEY,
    ENV_OUTPUT_KEY,
    ENV_PREFIX,
    ENV_WORKER_CONTRACT,
    INDEXED_ARRAY_CONTRACT,
    INDEXED_ARRAY_VARIABLES,
    WORKER_CONTRACT_VERSION,
    BatchLayout,
    check_relative_key,
)
from pcr_sdk._private.wire.packing import read_entry, read_indexed_record

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["JobContext", "run"]

INVALID_INPUT_EXIT_CODE: Final = 2
"""The exit code of a job whose input does not validate against its handler's input model."""
UNSUPPORTED_CONTRACT_EXIT_CODE: Final = 3
"""The exit code of a job that needs a newer worker contract than this worker honours."""

logger = logging.getLogger(__name__)


def _default_s3() -> S3Client:
    import boto3  # noqa: PLC0415 - here, not at the top: a worker handed a client never imports it

    return boto3.client("s3")


@dataclass(frozen=True)
class JobContext:
    """Where this job's data lives, read from the container's environment.

    A plain job reads its keys from the contract's variables. A child of an array job finds its
    job index as PCR_ARRAY_BASE_INDEX + AWS_BATCH_JOB_ARRAY_INDEX, its input in the array's
    packed inputs object, and writes its output to the same per-job prefix as a plain job. A
    child of an array with an index table (contract 2: a rerun) reads its job index from the
    table in the packed inputs (one ranged GET).
    """

    bucket: str
    """The job bucket."""
    config_key: str
    """The key of the job's config.json (a plain job's input)."""
    prefix: str
    """The prefix the job owns, `jobs/<batch_id>/<index, 6 digits>`."""
    output_key: str
    """The key the job writes its output.json to."""
    batch_id: str
    """The batch's id, `<name>_<uuid4>`."""
    job_id: str | None = None
    """The job's AWS Batch id (`AWS_BATCH_JOB_ID`), if set."""
    index: int | None = None
    """The job's index in its batch, if known."""
    inputs_key: str | None = None
    """An array child's packed inputs object; None for a plain job."""
    array_index: int | None = None
    """An array child's index in its array (`AWS_BATCH_JOB_ARRAY_INDEX`); None for a plain
    job."""
    s3: S3Client | None = field(default=None, repr=False, compare=False)
    """The S3 client to use; None: one shared by the process, made on first use."""
    payload: tuple[int, int] | None = None
    """Where an indexed array child's input is in the packed inputs: [start, end)."""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, s3: S3Client | None = None
    ) -> JobContext:
        """Read where this job's data lives from the container's environment.

        Args:
            environ: the variables to read (default: `os.environ`).
            s3: the S3 client for this job's reads and writes (default: one made on first use).

        Returns:
            The job's context.

        Raises:
            WorkerEnvironmentError: a variable of the contract is missing (it names every
                missing one).
            WorkerContractError: the job needs a newer worker contract (raised before any
                request).
            AwsError: a rerun array child could not read its index table.
        """
        env = os.environ if environ is None else environ
        contract = _contract(env)
        if env.get(ENV_ARRAY_INPUTS_KEY) and contract >= INDEXED_ARRAY_CONTRACT:
            return cls._indexed_child(env, s3)
        if env.get(ENV_ARRAY_INPUTS_KEY):
            return cls._array_child(env, s3)
        _require(env, CONTRACT_VARIABLES)
        tail = env[ENV_PREFIX].rsplit("/", 1)[-1]
        return cls(
            bucket=env[ENV_BUCKET],
            config_key=env[ENV_CONFIG_KEY],
            prefix=env[ENV_PREFIX],
            output_key=env[ENV_OUTPUT_KEY],
            batch_id=env[ENV_BATCH_ID],
            job_id=env.get("AWS_BATCH_JOB_ID"),
            index=int(tail) if tail.isdigit() else None,
            s3=s3,
        )

    @classmethod
    def _array_child(cls, env: Mapping[str, str], s3: S3Client | None) -> JobContext:
        _require(env, (*ARRAY_VARIABLES, ENV_ARRAY_INDEX))
        try:
            base, child = int(env[ENV_ARRAY_BASE_INDEX]), int(env[ENV_ARRAY_INDEX])
        except ValueError as err:
            raise WorkerEnvironmentError(
                f"{ENV_ARRAY_BASE_INDEX} and {ENV_ARRAY_INDEX} must be integers: {err}",
                missing=(),
            ) from err
        layout = BatchLayout(env[ENV_BATCH_ID])
        index = base + child
        return cls(
            bucket=env[ENV_BUCKET],
            config_key=layout.config_key(index),
            prefix=layout.prefix(index),
            output_key=layout.output_key(index),
            batch_id=env[ENV_BATCH_ID],
            job_id=env.get("AWS_BATCH_JOB_ID"),
            index=index,
            inputs_key=env[ENV_ARRAY_INPUTS_KEY],
            array_index=child,
            s3=s3,
        )

    @classmethod
    def _indexed_child(cls, env: Mapping[str, str], s3: S3Client | None) -> JobContext:
        _require(env, (*INDEXED_ARRAY_VARIABLES, ENV_ARRAY_INDEX))
        text = env[ENV_ARRAY_INDEX]
        if not text.isdigit():
            raise WorkerEnvironmentError(f"{ENV_ARRAY_INDEX} must be an integer: {text!r}",
                                         missing=())  # fmt: skip
        bucket, key, child = env[ENV_BUCKET], env[ENV_ARRAY_INPUTS_KEY], int(text)
        client = s3 if s3 is not None else _client_cache.get()
        index, start, end = read_indexed_record(_ranged(client, bucket, key), child)
        layout = BatchLayout(env[ENV_BATCH_ID])
        return cls(
            bucket=bucket,
            config_key=layout.config_key(index),
            prefix=layout.prefix(index),
            output_key=layout.output_key(index),
            batch_id=env[ENV_BATCH_ID],
            job_id=env.get("AWS_BATCH_JOB_ID"),
            index=index,
            inputs_key=key,
            array_index=child,
            s3=s3,
            payload=(start, end),
        )

    @property
    def client(self) -> S3Client:
        """The S3 client: the one given, else one shared by the process (made on first use)."""
        return self.s3 if self.s3 is not None else _client_cache.get()

    def load_input(self) -> Any:
        """The job's input: config.json, or this child's entry of its array's packed inputs.

        Returns:
            The input's JSON value.

        Raises:
            AwsError: reading it failed (e.g. `AccessDeniedError`).
        """
        if self.inputs_key is not None and self.payload is not None:
            start, end = self.payload
            read_range = _ranged(self.client, self.bucket, self.inputs_key)
            return json.loads(read_range(start, end - 1) if end > start else b"")
        if self.inputs_key is not None and self.array_index is not None:
            read_range = _ranged(self.client, self.bucket, self.inputs_key)
            return json.loads(read_entry(read_range, self.array_index))
        return json.loads(self._get(self.config_key))

    def save_output(self, result: object) -> None:
        """Write `result` as output.json; NaN and Infinity are refused like inputs are.

        Args:
            result: JSON-serializable data (no NaN or Infinity).

        Raises:
            InvalidJobSpecError: `result` cannot be serialized as JSON.
            AwsError: writing it failed.
        """
        body = dump_json(result, what="job output").encode()
        with aws_call("PutObject", bucket=self.bucket, key=self.output_key):
            self.client.put_object(
                Bucket=self.bucket, Key=self.output_key, Body=body, ContentType="application/json"
            )

    def resource_key(self, name: str) -> str:
        """The key of resource `name` under this job's prefix.

        Args:
            name: a relative key.

        Returns:
            The S3 key, `<prefix>/<name>`.

        Raises:
            InvalidJobSpecError: `name` would leave the prefix (`..`, a leading `/`, empty
                parts).
        """
        return f"{self.prefix}/{check_relative_key(name)}"

    def put_resource(self, name: str, data: bytes) -> str:
        """Store extra bytes under this job's prefix.

        Args:
            name: a relative key under the prefix (no `..`, no leading `/`).
            data: the bytes.

        Returns:
            Their `s3://` URI.

        Raises:
            InvalidJobSpecError: `name` would leave the prefix.
            AwsError: writing them failed.
        """
        key = self.resource_key(name)
        with aws_call("PutObject", bucket=self.bucket, key=key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def get_resource(self, name: str) -> bytes:
        """Read extra bytes stored under this job's prefix.

        Args:
            name: the resource's key relative to the prefix.

        Returns:
            The bytes.

        Raises:
            InvalidJobSpecError: `name` would leave the prefix.
            AwsError: reading them failed (e.g. there is no such object).
        """
        return self._get(self.resource_key(name))

    def _get(self, key: str) -> bytes:
        with aws_call("GetObject", bucket=self.bucket, key=key):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


def _ranged(client: S3Client, bucket: str, key: str) -> Callable[[int, int], bytes]:
    """Ranged GETs of one object: bytes first..last, inclusive."""

    def read_range(first: int, last: int) -> bytes:
        with aws_call("GetObject", bucket=bucket, key=key):
            response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")
            return response["Body"].read()

    return read_range


def _contract(env: Mapping[str, str]) -> int:
    """The worker-contract version the job needs (1 without PCR_WORKER_CONTRACT); raise
    `WorkerContractError` if this worker does not honour it."""
    text = env.get(ENV_WORKER_CONTRACT, "")
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= WORKER_CONTRACT_VERSION:
        raise WorkerContractError(
            f"this job needs worker contract {text} ({ENV_WORKER_CONTRACT}); this "
            f"pcr_sdk.worker honours versions 1 to {WORKER_CONTRACT_VERSION}: rebuild the "
            "image with a newer pcr-sdk",
            required=text,
            supported=WORKER_CONTRACT_VERSION,
        )
    return int(text)


def _require(env: Mapping[str, str], names: tuple[str, ...]) -> None:
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise WorkerEnvironmentError(
            "the job's environment lacks "
            + ", ".join(missing)
            + " (is this running as a pcr-sdk job?)",
            missing=missing,
        )


class _ClientCache:
    """One default S3 client per process, created on first use (never at import)."""

    def __init__(self) -> None:
        self._client: S3Client | None = None

    def get(self) -> S3Client:
        if self._client is None:
            self._client = _default_s3()
        return self._client


_client_cache = _ClientCache()


def run(
    handler: Callable[[Any], object],
    *,
    environ: Mapping[str, str] | None = None,
    s3: S3Client | None = None,
) -> None:
    """Load the input, call `handler`, save its return value.

    Any failure (reading the input, the handler, saving the output) is logged with its
    traceback and ends the process with exit code 1, which AWS Batch reports as the job's
    failure (with the log as its explanation). A handler that calls `sys.exit()` without
    returning an output fails its job too: with its exit code, or 1 for `sys.exit(0)`.
    If `handler`'s first parameter is annotated with a pydantic model, an input that does not
    validate ends the process with exit code 2 and the validation errors in the log, before
    the handler runs; a model it returns is saved as `model_dump(mode="json")`. A job that
    needs a newer worker contract ends with exit code 3 before anything is read or written.

    Args:
        handler: takes the job's input (parsed JSON, or a pydantic model if its first
            parameter is annotated with one) and returns its output (JSON data or a model).
        environ: the contract's variables (default: `os.environ`), for tests.
        s3: the S3 client (default: one made on first use), for tests.

    Raises:
        SystemExit: on any failure, with the exit code the job should end with (1, 2 for an
            input that does not validate, 3 for a worker contract this worker cannot honour).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        context = JobContext.from_env(environ, s3=s3)
    except WorkerContractError as err:
        logger.error("%s; the job fails with exit code %d, nothing read or written", err,
                     UNSUPPORTED_CONTRACT_EXIT_CODE)  # fmt: skip
        raise SystemExit(UNSUPPORTED_CONTRACT_EXIT_CODE) from err
    logger.info(
        "job %s of batch %s: loading %s", context.job_id, context.batch_id, context.config_key
    )
    try:
        context.save_output(typed(handler)(context.load_input()))
    except InvalidInputError as err:
        logger.error(  # the validation errors say it all: no traceback
            "job %s: invalid input, the handler was not called (exit code %d): %s",
            context.job_id, INVALID_INPUT_EXIT_CODE, err,
        )  # fmt: skip
        raise SystemExit(INVALID_INPUT_EXIT_CODE) from err
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) and exit_.code != 0 else 1
        logger.error(
            "job %s: the handler exited (sys.exit(%r)) without returning an output; "
            "the job fails with exit code %d",
            context.job_id, exit_.code, code,
        )  # fmt: skip
        raise SystemExit(code) from exit_
    except Exception as err:  # any failure must become exit code 1
        logger.exception("job %s failed", context.job_id)
        raise SystemExit(1) from err
    logger.info("job %s: wrote %s", context.job_id, context.output_key)
