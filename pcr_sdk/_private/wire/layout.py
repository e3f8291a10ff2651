"""The S3 layout and the container environment contract of the original PCR system.

Job k of a batch owns `jobs/<batch_id>/<k, 6 digits>`; its input is `config.json` and its output
`output.json` below that prefix. Containers read the variables below (the misspelt one included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pcr_sdk._private.errors import InvalidJobSpecError, PcrInputError
from pcr_sdk._private.public import public

ENV_BUCKET: Final = "S3_JOB_BUCKET"
ENV_CONFIG_KEY: Final = "S3_JOB_CONFIG_KEY"
ENV_PREFIX: Final = "S3_JOB_PREFIX"
ENV_OUTPUT_KEY: Final = "S3_OUTPUT_OJBECT_KEY"  # sic: existing containers read this spelling
ENV_BATCH_ID: Final = "BATCH_ID"
CONTRACT_VARIABLES: Final = (ENV_BUCKET, ENV_CONFIG_KEY, ENV_PREFIX, ENV_OUTPUT_KEY, ENV_BATCH_ID)

# Array children share one environment; each finds its own job from these and its array index.
ENV_ARRAY_INPUTS_KEY: Final = "PCR_ARRAY_INPUTS_KEY"
ENV_ARRAY_BASE_INDEX: Final = "PCR_ARRAY_BASE_INDEX"
ENV_ARRAY_INDEX: Final = "AWS_BATCH_JOB_ARRAY_INDEX"
ARRAY_VARIABLES: Final = (ENV_BUCKET, ENV_BATCH_ID, ENV_ARRAY_INPUTS_KEY, ENV_ARRAY_BASE_INDEX)

# The worker-contract version a job needs; a job without the variable needs version 1.
ENV_WORKER_CONTRACT: Final = "PCR_WORKER_CONTRACT"
WORKER_CONTRACT_VERSION: Final = 2
"""The newest contract this pcr-sdk's worker honours. 1: plain jobs and arrays whose child i is
job PCR_ARRAY_BASE_INDEX + i; 2: also arrays whose packed input maps each child to its job
index (reruns of array children, see `resubmit_failed`)."""
INDEXED_ARRAY_CONTRACT: Final = 2
"""The contract of an array with an index table. It has no PCR_ARRAY_BASE_INDEX, so a worker
older than the contract variable fails such a child (a missing variable) before writing."""
INDEXED_ARRAY_VARIABLES: Final = (ENV_BUCKET, ENV_BATCH_ID, ENV_ARRAY_INPUTS_KEY,
                                  ENV_WORKER_CONTRACT)  # fmt: skip
RESERVED_VARIABLES: Final = frozenset((*CONTRACT_VARIABLES, *ARRAY_VARIABLES, ENV_WORKER_CONTRACT))

JOBS_ROOT: Final = "jobs"
CONFIG_NAME: Final = "config.json"
OUTPUT_NAME: Final = "output.json"


def check_relative_key(name: str) -> str:
    """Accept a key below a job prefix only if it cannot escape it."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidJobSpecError(
            f"resource name {name!r} must be a relative path without empty, '.' or '..' parts",
            field="name",
        )
    return name


@public("pcr_sdk")
@dataclass(frozen=True, slots=True)
class BatchLayout:
    """Where a batch's objects live in the job bucket."""

    batch_id: str
    """The batch's id, `<name>_<uuid4>`."""

    @property
    def root(self) -> str:
        """`jobs/<batch_id>`: the prefix every object of the batch lives under."""
        return f"{JOBS_ROOT}/{self.batch_id}"

    def prefix(self, index: int) -> str:
        """The prefix job `index` owns: `jobs/<batch_id>/<index, 6 digits>`.

        Args:
            index: the job's index in its batch (0, 1, 2, ... in submission order).

        Returns:
            The prefix, without a trailing `/`.

        Raises:
            PcrInputError: `index` is negative.
        """
        if index < 0:
            raise PcrInputError(f"job index must be >= 0, got {index}")
        return f"{self.root}/{index:06d}"

    def config_key(self, index: int) -> str:
        """The key of job `index`'s input, `<prefix>/config.json` (as `prefix`, `PcrInputError` for
        a negative index)."""
        return f"{self.prefix(index)}/{CONFIG_NAME}"

    def output_key(self, index: int) -> str:
        """The key job `index` writes its output to, `<prefix>/output.json` (as `prefix`,
        `PcrInputError` for a negative index)."""
        return f"{self.prefix(index)}/{OUTPUT_NAME}"

    @property
    def manifest_prefix(self) -> str:
        """`jobs/<batch_id>/manifest/`: where the batch's durable job list is kept."""
        return f"{self.root}/manifest/"

    def session_key(self, session_id: str, *, closed: bool = False) -> str:
        """The key of a session record in the manifest: the open session's (rewritten as its
        heartbeat), or the record that it closed.

        Args:
            session_id: the session's id (hex digits).
            closed: the closed record's key rather than the open one's.

        Returns:
            The S3 key, `<manifest prefix>session-<id>.json` or `...session-<id>-closed.json`.
        """
        return f"{self.manifest_prefix}session-{session_id}{'-closed' if closed else ''}.json"

    @property
    def lease_key(self) -> str:
        """`jobs/<batch_id>/rerun-lease.json`: the lease whose holder alone may rerun jobs."""
        return f"{self.root}/rerun-lease.json"

    def array_inputs_key(self, base_index: int) -> str:
        """The key of the packed inputs of the array whose child 0 is job `base_index`,
        `jobs/<batch_id>/arrays/<base_index, 6 digits>.pack`."""
        return f"{self.root}/arrays/{base_index:06d}.pack"

    def array_environment(self, *, bucket: str, base_index: int) -> dict[str, str]:
        """The variables every child of an array job is started with.

        Args:
            bucket: the job bucket.
            base_index: the index of the array's child 0.

        Returns:
            The bucket, the batch id, the packed inputs' key and `base_index`, by variable name.
        """
        return {
            ENV_BUCKET: bucket,
            ENV_BATCH_ID: self.batch_id,
            ENV_ARRAY_INPUTS_KEY: self.array_inputs_key(base_index),
            ENV_ARRAY_BASE_INDEX: str(base_index),
        }

    def indexed_inputs_key(self, first_index: int, attempt: int) -> str:
        """The packed inputs (with an index table) of attempt `attempt`'s rerun array whose
        first child is job `first_index`.

        Args:
            first_index: the job index of the array's child 0.
            attempt: the rerun's attempt number.

        Returns:
            The S3 key, `jobs/<batch_id>/arrays/<first_index, 6 digits>-attempt<attempt>.pack`.
        """
        return f"{self.root}/arrays/{first_index:06d}-attempt{attempt}.pack"

    def indexed_array_environment(self, *, bucket: str, inputs_key: str) -> dict[str, str]:
        """The variables every child of an array with an index table is started with.

        Args:
            bucket: the job bucket.
            inputs_key: the key of the packed inputs (`indexed_inputs_key`).

        Returns:
            The bucket, the batch id, `inputs_key` and the worker contract (2), by variable name.
        """
        return {
            ENV_BUCKET: bucket,
            ENV_BATCH_ID: self.batch_id,
            ENV_ARRAY_INPUTS_KEY: inputs_key,
            ENV_WORKER_CONTRACT: str(INDEXED_ARRAY_CONTRACT),
        }

    def resource_key(self, index: int, name: str) -> str:
        """The key of resource `name` under job `index`'s prefix.

        Args:
            index: the job's index.
            name: a relative key (no `..`, no leading `/`, no empty parts).

        Returns:
            The S3 key, `<prefix>/<name>`.

        Raises:
            InvalidJobSpecError: `name` would leave the job's prefix.
        """
        return f"{self.prefix(index)}/{check_relative_key(name)}"

    def environment(self, *, bucket: str, index: int) -> dict[str, str]:
        """The variables one job's container is started with.

        Args:
            bucket: the job bucket.
            index: the job's index.

        Returns:
            The bucket, the input and output keys, the job's prefix and the batch id, by
            variable name.
        """
        return {
            ENV_BUCKET: bucket,
            ENV_CONFIG_KEY: self.config_key(index),
            ENV_PREFIX: self.prefix(index),
            ENV_OUTPUT_KEY: self.output_key(index),
            ENV_BATCH_ID: self.batch_id,
        }
