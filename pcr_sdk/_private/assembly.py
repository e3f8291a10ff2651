"""How a JobSubmitter is put together: settings, then clients, then services and ledger.

`JobSubmitter.__init__` and `JobSubmitter.attach` both come through here; nothing in this
module sends a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from typing_extensions import TypedDict

from pcr_sdk._private.batch.discovery import scan_batch_jobs
from pcr_sdk._private.batch.follow import BatchFollower
from pcr_sdk._private.batch.lease import LeaseKeeper
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import BatchRecord, Manifest
from pcr_sdk._private.batch.rerun import BatchRerun, adopt_definition
from pcr_sdk._private.batch.results import BatchResults
from pcr_sdk._private.batch.sessions import (
    ATTACHED,
    Presence,
    Session,
    SessionBook,
    holder_name,
)
from pcr_sdk._private.batch.submitting import BatchSubmission
from pcr_sdk._private.batch.waiting import BatchWatch
from pcr_sdk._private.edge.clients import AwsClients
from pcr_sdk._private.edge.governor import RateGovernor
from pcr_sdk._private.edge.hooks import max_attempts
from pcr_sdk._private.edge.resend import LostAnswerPolicy
from pcr_sdk._private.model.names import BatchId
from pcr_sdk._private.model.retry_policy import RetryPolicy
from pcr_sdk._private.model.settings import (
    EXPIRY_SECONDS,
    IO_WORKERS,
    LOST_ANSWER_SETTLE_SECONDS,
    POLL_INTERVAL_SECONDS,
    REQUEST_SPACING_MS,
    STALE_AFTER_SECONDS,
    BatchSettings,
    LostAnswerSettings,
    PollSettings,
    SessionSettings,
    StoreSettings,
    build,
)
from pcr_sdk._private.model.specs import S3Encryption
from pcr_sdk._private.progress import PrintProgress, ProgressReporter
from pcr_sdk._private.public import public
from pcr_sdk._private.seams import Seams
from pcr_sdk._private.services.logs import LogReader
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.registry import BatchRegistry
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.services.submitter import Submitter
from pcr_sdk._private.wire.layout import BatchLayout


@public("pcr_sdk.advanced")
class SubmitterOptions(TypedDict, total=False):
    """JobSubmitter's keyword-only settings that `attach` takes as well."""

    io_workers: int
    cancel_on_error: bool
    adaptive_polling: bool
    expiry_seconds: float
    lost_answer_settle_seconds: float
    expected_bucket_owner: str | None
    encryption: S3Encryption | None
    stale_after_seconds: float
    progress: ProgressReporter | None
    seams: Seams


@public("pcr_sdk.advanced")
class BatchOptions(SubmitterOptions, total=False):
    """The keyword settings of a new batch: JobSubmitter's, but for where the batch runs (queue,
    bucket, image, clients, session, region, credentials). What `LocalBackend.job_submitter`
    passes on to `JobSubmitter`."""

    memory_in_mb: int
    timeout_in_hours: float
    polling_interval_seconds: float
    request_throttling_milliseconds: float
    vcpus: int
    gpus: int
    retry_attempts: int | None
    retry: RetryPolicy | None
    environment: Mapping[str, str] | None
    tags: Mapping[str, str] | None
    job_role_arn: str | None
    platform: Literal["EC2", "FARGATE"]
    execution_role_arn: str | None
    governor: RateGovernor | None


def batch_settings(
    job_queue: str,
    job_bucket: str,
    polling_interval_seconds: float = POLL_INTERVAL_SECONDS,
    request_throttling_milliseconds: float = REQUEST_SPACING_MS,
    *,
    adaptive_polling: bool = False,
    expiry_seconds: float = EXPIRY_SECONDS,
    lost_answer_settle_seconds: float = LOST_ANSWER_SETTLE_SECONDS,
    io_workers: int = IO_WORKERS,
    cancel_on_error: bool = False,
    expected_bucket_owner: str | None = None,
    encryption: S3Encryption | None = None,
    stale_after_seconds: float = STALE_AFTER_SECONDS,
    **_collaborators: object,
) -> BatchSettings:
    """Every batch setting validated into frozen objects (`PcrInputError` naming the bad one).

    Takes JobSubmitter's keywords; the collaborators among them (clock, progress...) are not
    settings and are ignored here.
    """
    return build(
        BatchSettings,
        job_queue=job_queue,
        cancel_on_error=cancel_on_error,
        store=build(StoreSettings, bucket=job_bucket, io_workers=io_workers,
                    expected_bucket_owner=expected_bucket_owner, encryption=encryption),
        poll=build(PollSettings, interval_seconds=polling_interval_seconds,
                   request_spacing_ms=request_throttling_milliseconds, adaptive=adaptive_polling,
                   expiry_seconds=expiry_seconds),
        lost_answers=build(LostAnswerSettings, settle_seconds=lost_answer_settle_seconds),
        sessions=build(SessionSettings, stale_after_seconds=stale_after_seconds),
    )  # fmt: skip


@dataclass(frozen=True)
class Parts:
    """Everything one JobSubmitter is made of."""

    batch_id: BatchId
    settings: BatchSettings
    clients: AwsClients
    registry: BatchRegistry
    layout: BatchLayout
    progress: ProgressReporter
    store: InputStore
    poller: Poller
    submitter: Submitter
    manifest: Manifest
    log_reader: LogReader
    ledger: Ledger
    results: BatchResults
    submission: BatchSubmission
    watch: BatchWatch
    rerun: BatchRerun
    presence: Presence
    follower: BatchFollower
    seams: Seams


def lost_answer_policy(
    settings: BatchSettings, clients: AwsClients, seams: Seams
) -> LostAnswerPolicy:
    """How SubmitJob and RegisterJobDefinition recover from lost answers."""
    return LostAnswerPolicy(
        attempts=settings.lost_answers.attempts or max_attempts(clients.batch),
        settle_seconds=settings.lost_answers.settle_seconds, sleep=seams.sleep,
        random=seams.random_source,
    )  # fmt: skip


def assemble(
    settings: BatchSettings,
    registry: BatchRegistry,
    clients: AwsClients,
    governor: RateGovernor,
    lost: LostAnswerPolicy,
    progress: ProgressReporter | None,
    seams: Seams,
) -> Parts:
    """Build the services and the ledger of one batch (no request is sent)."""
    batch_id, queue, bucket = registry.batch_id, settings.job_queue, settings.store.bucket
    layout = BatchLayout(str(batch_id))
    store = InputStore(
        clients.s3, bucket, layout, expected_bucket_owner=settings.store.expected_bucket_owner,
        encryption=settings.store.encryption,
    )  # fmt: skip
    poll = settings.poll
    poller = Poller(
        clients.batch, polling_interval_seconds=poll.interval_seconds,
        request_throttling_milliseconds=poll.request_spacing_ms, governor=governor,
        adaptive=poll.adaptive, expiry_seconds=poll.expiry_seconds, seams=seams,
    )  # fmt: skip
    submitter = Submitter(
        clients.batch, job_queue=queue, bucket=bucket, layout=layout,
        job_definition=registry.reference, governor=governor, lost_answers=lost,
    )  # fmt: skip
    manifest = Manifest(store, BatchRecord(str(batch_id), queue, bucket, registry.reference))
    ledger = Ledger(str(batch_id), manifest)
    results = BatchResults(ledger, poller, layout)
    reporter = progress if progress is not None else PrintProgress()
    sessions = settings.sessions
    lease = LeaseKeeper(store, seconds=sessions.stale_after_seconds, holder=holder_name())
    session = Session(
        manifest, heartbeat_seconds=sessions.heartbeat_seconds, on_beat=lease.renew,
        thread=seams.heartbeat,
    )  # fmt: skip
    presence = Presence(session, lease)
    follower = BatchFollower(
        ledger, manifest=manifest, store=store, reads=poller.reads, job_queue=queue,
        book=SessionBook(seams.clock, sessions.stale_after_seconds), session=presence.session,
    )  # fmt: skip
    watch = BatchWatch(
        ledger, poller, results, submitter, follower=follower, seams=seams,
        look_again_seconds=max(poll.interval_seconds, sessions.heartbeat_seconds / 10),
        stop_submitting=presence.stop,
    )  # fmt: skip

    def join() -> None:
        if not presence.session.is_open:  # an attached process submits: it joins the batch
            presence.session.open(ATTACHED)
            adopt_definition(submitter, manifest, registry.ensure_active())

    def take_over() -> bool:
        opened = presence.take_lease()
        try:
            follower.refresh()
        except BaseException:
            presence.give_back(opened)
            raise
        return opened

    rerun = BatchRerun(
        ledger,
        results=results,
        poller=poller,
        store=store,
        submitter=submitter,
        registry=registry,
        manifest=manifest,
        io_workers=settings.store.io_workers,
        sleep=seams.sleep,
        settle=lambda state: watch.settle(state, reporter),
        take_over=take_over,
        give_back=presence.give_back,
    )
    return Parts(
        batch_id=batch_id, settings=settings, clients=clients, registry=registry, layout=layout,
        progress=reporter, store=store,
        poller=poller, submitter=submitter, manifest=manifest, log_reader=LogReader(clients.logs),
        ledger=ledger, results=results, watch=watch,
        submission=BatchSubmission(
            ledger, store=store, submitter=submitter, registry=registry, manifest=manifest,
            io_workers=settings.store.io_workers, join=join,
        ),
        rerun=rerun, presence=presence, follower=follower, seams=seams,
    )  # fmt: skip


def reattach(parts: Parts) -> int:
    """Rebuild the ledger of `parts` from the manifest, then add what only AWS Batch knows
    (every attempt: the highest at an index is its current job); how many were recovered."""
    if parts.registry.closed:
        parts.ledger.close()
    store = parts.store
    found = scan_batch_jobs(
        parts.poller.reads, job_queue=parts.settings.job_queue, batch_id=str(parts.batch_id),
        read_table=lambda bucket, key, size: store.read_index_table(key, size),
    )  # fmt: skip
    return parts.ledger.reconcile(parts.manifest.reader.read_new(), found)
