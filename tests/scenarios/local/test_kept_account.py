"""A kept local account (`LocalBackend(data_dir=...)`): S3 objects mirrored to files as each
write happens and replayed at start, the engine's journal, attempts an ended holder was
running, versions refused, one holder at a time, buckets kept apart in one process, and
`LocalAccount` (joining the holder, listing and forgetting batches)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Final

import pytest
from botocore.exceptions import ClientError

from pcr_sdk.local import (
    AccountConflictError,
    AccountFormatError,
    AccountInUseError,
    LocalAccount,
    LocalBackend,
)
from pcr_sdk.local import _moto_s3 as moto
from pcr_sdk.local._s3mirror import object_path
from tests.support.local import Kit, scripted

pytestmark = pytest.mark.subprocess

SLEEP_ON_FIRST: Final = (
    "import os, time\n"
    "if os.environ['AWS_BATCH_JOB_ATTEMPT'] == '1':\n"
    "    print('first attempt, sleeping', flush=True)\n"
    "    time.sleep(600)\n"
    "print('attempt', os.environ['AWS_BATCH_JOB_ATTEMPT'])\n"
)
"""Sleeps through its first attempt (the one a holder's end cuts off), succeeds on the next."""
TAG_BATCH: Final = "pcr:batch-id"


def _kept(directory: Path, *, bucket: str = "kept", **options: object) -> LocalBackend:
    return LocalBackend(data_dir=directory, bucket=bucket, **options)  # type: ignore[arg-type]


def test_objects_are_written_through_as_each_request_is_answered_and_come_back_unchanged(
    tmp_path: Path,
) -> None:
    root = tmp_path / "s3"
    with _kept(tmp_path) as backend:
        s3 = backend.clients.s3
        s3.put_object(
            Bucket="kept", Key="jobs/b/000000/config.json", Body=b'{"x": 1}',
            ContentType="application/json", Metadata={"owner": "me"}, Tagging="kind=input",
        )  # fmt: skip
        on_disk = object_path(root, "kept", "jobs/b/000000/config.json")
        assert on_disk.is_file()  # before close: a SIGKILL now loses nothing
        source = {"Bucket": "kept", "Key": "jobs/b/000000/config.json"}
        s3.copy_object(Bucket="kept", Key="copy.json", CopySource=source)  # type: ignore[arg-type]
        upload = s3.create_multipart_upload(Bucket="kept", Key="big/odd key+ü?.bin")
        parts = [
            s3.upload_part(
                Bucket="kept", Key="big/odd key+ü?.bin", UploadId=upload["UploadId"],
                PartNumber=n, Body=bytes([n]) * (5 * 1024 * 1024 if n == 1 else 10),
            )["ETag"]
            for n in (1, 2)
        ]  # fmt: skip
        assert not object_path(root, "kept", "big/odd key+ü?.bin").exists()  # parts only
        s3.complete_multipart_upload(
            Bucket="kept", Key="big/odd key+ü?.bin", UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in ((1, parts[0]),
                                                                                 (2, parts[1]))]},
        )  # fmt: skip
        for key in ("gone-1", "gone-2", "gone-3"):
            s3.put_object(Bucket="kept", Key=key, Body=b"x")
        s3.delete_object(Bucket="kept", Key="gone-1")
        s3.delete_objects(Bucket="kept", Delete={"Objects": [{"Key": "gone-2"}, {"Key": "gone-3"}]})
        assert not object_path(root, "kept", "gone-2").exists()
        s3.create_bucket(Bucket="second")
        s3.put_object(Bucket="second", Key="a/", Body=b"")  # a folder marker
        s3.put_object_tagging(
            Bucket="kept", Key="copy.json", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]}
        )
        before = {
            key: s3.head_object(Bucket="kept", Key=key)
            for key in ("jobs/b/000000/config.json", "copy.json", "big/odd key+ü?.bin")
        }
    assert not moto.bucket_exists("kept")  # out of this process's S3 once closed

    with LocalBackend.reopen(tmp_path) as again:
        s3 = again.clients.s3
        for key, head in before.items():
            after = s3.head_object(Bucket="kept", Key=key)
            for field in ("ETag", "LastModified", "ContentLength", "ContentType", "Metadata"):
                assert after.get(field) == head.get(field), (key, field)
        body = s3.get_object(Bucket="kept", Key="big/odd key+ü?.bin")["Body"].read()
        assert body == b"\x01" * (5 * 1024 * 1024) + b"\x02" * 10
        assert before["big/odd key+ü?.bin"]["ETag"].endswith('-2"')  # a multipart ETag, kept
        tags = s3.get_object_tagging(Bucket="kept", Key="jobs/b/000000/config.json")["TagSet"]
        assert tags == [{"Key": "kind", "Value": "input"}]
        assert s3.get_object_tagging(Bucket="kept", Key="copy.json")["TagSet"] == [
            {"Key": "t", "Value": "v"}
        ]
        listed = s3.list_objects_v2(Bucket="kept")["Contents"]
        assert {o["Key"] for o in listed} == set(before)
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="second")["Contents"]] == ["a/"]
        s3.delete_object(Bucket="second", Key="a/")
        s3.delete_bucket(Bucket="second")
    assert not (root / "second").exists()
    with LocalBackend.reopen(tmp_path) as third:
        names = {b["Name"] for b in third.clients.s3.list_buckets()["Buckets"]}
        assert "kept" in names
        assert "second" not in names


def test_the_engine_is_kept_definitions_jobs_attempts_and_array_children(tmp_path: Path) -> None:
    with _kept(tmp_path, command=scripted("ok")) as backend:
        kit = Kit(backend)
        old = kit.definition("kept-def")
        kit.batch.deregister_job_definition(jobDefinition=old)
        current = kit.definition("kept-def", tags={TAG_BATCH: "b_1"})
        flaky = kit.submit(current, scripted("flaky"), retryStrategy={"attempts": 2},
                           tags={TAG_BATCH: "b_1"})  # fmt: skip
        array = kit.submit(current, arrayProperties={"size": 3}, tags={TAG_BATCH: "b_1"})
        after = kit.submit(current, depends_on=[array], dependency_type="N_TO_N")
        jobs = kit.wait([flaky, array, after])
        children = [f"{array}:{i}" for i in range(3)]
        jobs.update(kit.wait(children))
        listed = kit.batch.list_jobs(jobQueue=backend.queue, jobStatus="SUCCEEDED")
        definitions = kit.batch.describe_job_definitions(jobDefinitionName="kept-def")
        log = kit.log(jobs[flaky])
    assert [a["container"]["exitCode"] == 0 for a in jobs[flaky]["attempts"]] == [False, True]

    with LocalBackend.reopen(tmp_path, run_jobs=False) as again:
        kit = Kit(again)
        described = {j["jobId"]: j for j in kit.batch.describe_jobs(jobs=list(jobs))["jobs"]}
        assert described == jobs  # every field, attempts and array summaries included
        relisted = kit.batch.list_jobs(jobQueue=again.queue, jobStatus="SUCCEEDED")
        assert relisted["jobSummaryList"] == listed["jobSummaryList"]
        assert (
            len(kit.batch.list_jobs(arrayJobId=array, jobStatus="SUCCEEDED")["jobSummaryList"]) == 3
        )
        assert kit.batch.describe_job_definitions(jobDefinitionName="kept-def")["jobDefinitions"] \
            == definitions["jobDefinitions"]  # fmt: skip
        assert kit.log(described[flaky]) == log  # the log, read back from its kept file
        newer = kit.definition("kept-def")
        assert newer.endswith(":3")  # revisions go on where they were
        assert kit.batch.list_tags_for_resource(resourceArn=jobs[flaky]["jobArn"])["tags"] == {
            TAG_BATCH: "b_1"
        }


def test_an_attempt_an_ended_holder_ran_ends_as_a_host_that_went_away(tmp_path: Path) -> None:
    snapshot = tmp_path / "journal-while-running.jsonl"
    journal = tmp_path / "account" / "engine" / "journal.jsonl"
    command = [sys.executable, "-c", SLEEP_ON_FIRST]
    with _kept(tmp_path / "account", command=command) as backend:
        kit = Kit(backend)
        definition = kit.definition("cut")
        retried = kit.submit(definition, retryStrategy={"attempts": 2})
        once = kit.submit(definition)
        queued = kit.submit(definition, depends_on=[once])
        kit.wait([retried, once], statuses={"RUNNING"})
        kit.wait_for_log(once)
        shutil.copy(journal, snapshot)  # what a SIGKILL now would leave
        shutil.copy(journal.parents[1] / "endpoint", tmp_path / "endpoint")
    shutil.copy(snapshot, journal)
    shutil.copy(tmp_path / "endpoint", journal.parents[1] / "endpoint")

    with LocalBackend.reopen(tmp_path / "account", run_jobs=False) as reading:
        kit = Kit(reading)
        jobs = {
            j["jobId"]: j for j in kit.batch.describe_jobs(jobs=[retried, once, queued])["jobs"]
        }
        assert {j["status"] for j in jobs.values()} <= {"FAILED", "RUNNABLE"}
        assert jobs[once]["status"] == "FAILED"
        reason = jobs[once]["statusReason"]
        assert reason.startswith("Host EC2 (instance i-")
        assert f"The local backend holding the job (process {os.getpid()}) ended" in reason
        (attempt,) = jobs[once]["attempts"]
        assert "exitCode" not in attempt["container"]
        assert attempt["statusReason"] == reason
        assert attempt["startedAt"] <= attempt["stoppedAt"] <= jobs[once]["stoppedAt"]
        assert jobs[queued]["statusReason"] == "Dependent Job failed"
        assert jobs[retried]["status"] == "RUNNABLE"  # its next attempt waits for a runner
        assert kit.log(jobs[once]) == ["first attempt, sleeping"]

    with LocalBackend.reopen(tmp_path / "account") as running:
        job = Kit(running).wait_one(retried)
        assert job["status"] == "SUCCEEDED"
        assert [a["statusReason"][:8] for a in job["attempts"]] == ["Host EC2", "Essentia"]


def test_a_journal_settings_or_object_of_another_version_is_refused(tmp_path: Path) -> None:
    with _kept(tmp_path) as backend:
        backend.clients.s3.put_object(Bucket="kept", Key="k", Body=b"v")
    journal = tmp_path / "engine" / "journal.jsonl"
    settings = tmp_path / "settings.json"
    stored = object_path(tmp_path / "s3", "kept", "k")
    for path in (journal, settings, stored):
        original = path.read_bytes()
        header, _, rest = original.partition(b"\n")
        record = json.loads(header)
        record["version"] = 99
        path.write_bytes(json.dumps(record).encode() + b"\n" + rest)
        with pytest.raises(AccountFormatError, match="version 99") as refused:
            LocalBackend.reopen(tmp_path).start()
        assert refused.value.path == path
        assert refused.value.version == 99
        path.write_bytes(original)
    journal.write_bytes(journal.read_bytes() + b'{"r": "state", "id": "x"')  # a torn last line
    with LocalBackend.reopen(tmp_path) as backend:
        assert backend.clients.s3.get_object(Bucket="kept", Key="k")["Body"].read() == b"v"


def test_one_holder_at_a_time_and_buckets_kept_apart_in_one_process(tmp_path: Path) -> None:
    with _kept(tmp_path / "a") as holder:
        with pytest.raises(AccountInUseError, match="held by") as held:
            _kept(tmp_path / "a", bucket="other").start()
        assert held.value.holder is not None
        assert held.value.holder.url == holder.endpoint_url
        with pytest.raises(AccountConflictError, match="'kept'"):
            _kept(tmp_path / "b").start()  # another account, the same bucket
        with pytest.raises(AccountConflictError, match="'kept'"):
            LocalBackend(bucket="kept").start()  # a temporary backend may not use it either
        with LocalBackend(bucket="scratch") as temporary:
            with pytest.raises(ClientError, match="AccessDenied"):
                temporary.clients.s3.put_object(Bucket="kept", Key="k", Body=b"x")
            with pytest.raises(ClientError, match="AccessDenied"):
                holder.clients.s3.put_object(Bucket="scratch", Key="k", Body=b"x")
        assert not (tmp_path / "b" / "lock").exists() or not LocalAccount(tmp_path / "b").holder()
    with _kept(tmp_path / "b") as other:  # free again
        assert other.clients.s3.list_objects_v2(Bucket="kept")["KeyCount"] == 0


def test_the_account_joins_its_holder_or_opens_it_and_forgets_batches(tmp_path: Path) -> None:
    account = LocalAccount(tmp_path)
    with _kept(tmp_path, command=scripted("ok")) as holder:
        kit = Kit(holder)
        definition = kit.definition("b_1", tags={TAG_BATCH: "b_1"})
        job = kit.submit(definition, tags={TAG_BATCH: "b_1"})
        kit.wait_one(job)
        holder.clients.s3.put_object(Bucket="kept", Key="jobs/b_1/000000/output.json", Body=b"1")
        holder.clients.s3.put_object(Bucket="kept", Key="jobs/b_2/000000/config.json", Body=b"2")
        with account.connect() as joined:
            assert joined.holder is not None
            assert joined.holder.pid == os.getpid()
            assert joined.endpoint_url == holder.endpoint_url
            body = joined.clients.s3.get_object(
                Bucket=joined.bucket, Key="jobs/b_1/000000/output.json"
            )
            assert body["Body"].read() == b"1"
            assert (
                joined.clients.batch.describe_jobs(jobs=[job])["jobs"][0]["status"] == "SUCCEEDED"
            )
        batches = {b.batch_id: b for b in account.batches()}
        assert batches["b_1"].counts == {"SUCCEEDED": 1}
        assert batches["b_1"].s3_bytes > 0
        assert batches["b_1"].log_bytes > 0
        assert batches["b_2"].jobs == 0
        with pytest.raises(AccountInUseError):
            account.forget("b_1")
        with pytest.raises(AccountInUseError):
            account.reset()
    with account.connect() as opened:
        assert opened.holder is None  # nobody held it: opened here, for this block
        assert opened.clients.batch.describe_jobs(jobs=[job])["jobs"][0]["status"] == "SUCCEEDED"
    assert account.holder() is None
    forgotten = account.forget("b_1")
    assert forgotten is not None
    assert forgotten.jobs == 1
    assert account.forget("b_1") is None
    assert [b.batch_id for b in account.batches()] == ["b_2"]
    with LocalBackend.reopen(tmp_path, run_jobs=False) as backend:
        assert backend.clients.batch.describe_jobs(jobs=[job])["jobs"] == []
        assert (
            backend.clients.batch.describe_job_definitions(jobDefinitionName="b_1")[
                "jobDefinitions"
            ]
            == []
        )
    account.reset()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "lock"]
    assert account.batches() == []


def test_reopen_runs_jobs_with_the_settings_kept_in_the_account(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "hello.py").write_text("import os; print(os.getcwd(), os.environ['KEPT'])\n")
    with _kept(
        tmp_path / "account", command={"img": [sys.executable, "hello.py"]}, cwd=work,
        extra_env={"KEPT": "yes"}, vcpus=3, memory_mib=2048, max_parallel=2,
    ) as backend:  # fmt: skip
        definition = Kit(backend).definition("d", containerProperties={"image": "img"})
    reopened = LocalBackend.reopen(tmp_path / "account")
    assert (reopened.vcpus, reopened.memory_mib, reopened.max_parallel) == (3, 2048, 2)
    assert reopened.bucket == "kept"
    with reopened:
        kit = Kit(reopened)
        job = kit.wait_one(kit.submit(definition))
        assert kit.log(job) == [f"{work} yes"]


def test_last_modified_survives_a_restart(tmp_path: Path) -> None:
    with _kept(tmp_path) as backend:
        backend.clients.s3.put_object(Bucket="kept", Key="lease", Body=b"x")
        stored = backend.clients.s3.head_object(Bucket="kept", Key="lease")["LastModified"]
    with LocalBackend.reopen(tmp_path) as again:
        kept = again.clients.s3.head_object(Bucket="kept", Key="lease")["LastModified"]
        listed = again.clients.s3.list_objects_v2(Bucket="kept")["Contents"][0]["LastModified"]
    assert kept == stored == listed
    assert stored < datetime.datetime.now(datetime.timezone.utc)
