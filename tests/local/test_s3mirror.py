"""The S3 mirror (`_s3mirror`): where each bucket and object is kept (a key becomes a path that
can be neither confused with another's nor escape its bucket), object files written from what
S3 holds and read back, refused in another version or damaged, replayed into S3 at start, who
may use which bucket in one process (`BucketOwner`), and `MirroredS3`, the WSGI wrapper that
refuses another backend's bucket and keeps a change before its client gets the answer.

moto's S3 is replaced by `FakeS3` (the functions of `_moto_s3` the mirror calls): nothing here
touches moto's process-wide state; `tests/local/test_moto_s3.py` covers that module."""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk.local import AccountConflictError, AccountFormatError
from pcr_sdk.local import _moto_s3 as moto
from pcr_sdk.local._files import dump_record
from pcr_sdk.local._s3mirror import (
    BUCKET_FILE,
    OBJECT_FORMAT,
    BucketOwner,
    MirroredS3,
    S3Mirror,
    bucket_directory,
    object_path,
    prefix_directory,
    read_object_file,
    segment,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000)


class FakeS3:
    """moto's S3 as the mirror sees it: buckets (region, objects), each object state and bytes."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[str, dict[str, tuple[moto.ObjectState, bytes]]]] = {}

    def put(self, bucket: str, key: str, value: bytes, **changes: Any) -> moto.ObjectState:
        state = moto.ObjectState(key=key, etag=f"etag-{len(value)}", last_modified=WHEN,
                                 size=len(value), **changes)  # fmt: skip
        self.buckets[bucket][1][key] = (state, value)
        return state

    def bucket_exists(self, bucket: str) -> bool:
        return bucket in self.buckets

    def bucket_region(self, bucket: str) -> str | None:
        found = self.buckets.get(bucket)
        return None if found is None else found[0]

    def object_keys(self, bucket: str) -> list[str]:
        return list(self.buckets[bucket][1]) if bucket in self.buckets else []

    def read_object(self, bucket: str, key: str, write: Any) -> bool:
        found = self.buckets.get(bucket, ("", {}))[1].get(key)
        if found is None:
            return False
        write(found[0], io.BytesIO(found[1]))
        return True

    def create_bucket(self, bucket: str, region: str) -> None:
        self.buckets.setdefault(bucket, (region, {}))

    def restore_object(self, bucket: str, state: moto.ObjectState, value: bytes) -> None:
        self.buckets[bucket][1][state.key] = (state, value)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> FakeS3:
    fake = FakeS3()
    for name in ("bucket_exists", "bucket_region", "object_keys", "read_object",
                 "create_bucket", "restore_object"):  # fmt: skip
        monkeypatch.setattr(moto, name, getattr(fake, name))
    return fake


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[BucketOwner]:
    """A kept account's owner; whatever it still owns is released after the test."""
    found = BucketOwner(tmp_path)
    yield found
    for bucket in found.owned():
        found.release(bucket)


# -- where things are kept ---------------------------------------------------------------------


def test_a_key_becomes_a_path_that_can_be_neither_confused_nor_escaped(tmp_path: Path) -> None:
    assert segment("config.json") == "config.json"
    assert segment("..") == "%2E%2E"
    assert segment("") == "%"
    assert segment("a~b c") == "a%7Eb%20c"
    assert segment("x" * 300).startswith("%%")
    paths = {object_path(tmp_path, "b", key) for key in ("a", "a/b", "a/", "../x", "a%2Fb")}
    assert len(paths) == 5
    assert all(tmp_path / "b" in p.parents for p in paths)


KEYS = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", ".", "..", "/", "a/../b", "~bucket", "a~", ".x.tmp", "%", "%%", "x" * 250]
)


@given(st.lists(KEYS, min_size=1, max_size=8, unique=True))
def test_distinct_keys_get_distinct_files_inside_their_bucket(keys: list[str]) -> None:
    root = Path("/root/s3")
    paths = [object_path(root, "bucket", key) for key in keys]
    assert len(set(paths)) == len(keys)
    for path in paths:
        assert root / "bucket" in path.parents
        assert ".." not in path.parts
        assert path.name.endswith("~")
        assert path.name != BUCKET_FILE
        assert not (path.name.startswith(".") and path.name.endswith(".tmp"))  # not a leftover
        assert all(len(part) <= 200 + 1 for part in path.relative_to(root).parts)


def test_a_segment_is_safe_text_or_escaped_utf8() -> None:
    assert segment("jobs") == "jobs"
    assert segment("A-z_0.9") == "A-z_0.9"
    assert segment("ü") == "%C3%BC"
    assert segment("%") == "%25"
    assert segment("a/b") == "a%2Fb"
    assert segment(".") == "%2E"
    assert segment("\udcff") == "%ED%B3%BF"  # a lone surrogate is escaped, not an error
    assert segment("y" * 200) == "y" * 200
    assert segment("y" * 201) != segment("y" * 202)


def test_folders_and_prefixes_map_to_the_same_directories(tmp_path: Path) -> None:
    assert bucket_directory(tmp_path, "my.bucket") == tmp_path / "my.bucket"
    assert object_path(tmp_path, "b", "jobs/b_1/000001/config.json") == (
        tmp_path / "b" / "jobs" / "b_1" / "000001" / "config.json~"
    )
    assert prefix_directory(tmp_path, "b", "jobs/b_1/") == tmp_path / "b" / "jobs" / "b_1"
    assert object_path(tmp_path, "b", "jobs/b_1/x").parent == prefix_directory(
        tmp_path, "b", "jobs/b_1/"
    )


# -- who may use which bucket ------------------------------------------------------------------


def test_a_kept_account_owns_its_buckets_and_the_others_are_refused(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    owner.claim("mirror-own", fresh=True)
    owner.claim("mirror-own", fresh=True)  # again: still its own
    assert owner.owned() == ["mirror-own"]
    assert owner.may_use("mirror-own")
    other = BucketOwner(tmp_path / "other")
    temporary = BucketOwner(None)
    assert not temporary.kept
    for stranger in (other, temporary):
        assert not stranger.may_use("mirror-own")
        with pytest.raises(AccountConflictError, match="'mirror-own'") as refused:
            stranger.claim("mirror-own", fresh=False)
        assert refused.value.bucket == "mirror-own"
        assert refused.value.path == tmp_path  # the owner's account
    other.release("mirror-own")  # not its own: nothing happens
    assert owner.owned() == ["mirror-own"]
    owner.release("mirror-own")
    assert owner.owned() == []
    assert temporary.may_use("mirror-own")


def test_a_kept_account_refuses_a_bucket_a_temporary_backend_has_in_s3(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    s3.create_bucket("mirror-shared", "us-east-1")
    temporary = BucketOwner(None)
    temporary.claim("mirror-shared", fresh=True)  # a temporary backend owns nothing
    assert temporary.may_use("mirror-shared")
    assert not owner.may_use("mirror-shared")
    with pytest.raises(AccountConflictError, match="in use by another LocalBackend"):
        owner.claim("mirror-shared", fresh=True)
    owner.claim("mirror-shared", fresh=False)  # created through its own gateway
    assert owner.may_use("mirror-shared")


# -- object files ------------------------------------------------------------------------------


def test_a_synced_object_is_its_header_and_bytes_and_reads_back(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    s3.create_bucket("mirror-b", "eu-west-1")
    state = s3.put("mirror-b", "dir/ü key", b"\x00bytes\n", metadata={"Content-Type": "x/y"},
                   tags={"t": "v"}, checksum_algorithm="CRC32", checksum_value="abc=")  # fmt: skip
    mirror = S3Mirror(tmp_path / "s3", owner)
    mirror.sync("mirror-b", "dir/ü key")
    path = object_path(tmp_path / "s3", "mirror-b", "dir/ü key")
    assert read_object_file(path) == (state, b"\x00bytes\n")
    header_only, value = read_object_file(path, header_only=True)
    assert (header_only, value) == (state, b"")
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left

    del s3.buckets["mirror-b"][1]["dir/ü key"]
    mirror.sync("mirror-b", "dir/ü key")  # gone from S3: gone from the files
    assert not path.exists()
    mirror.sync("mirror-b", "never-there")


def test_a_write_that_fails_leaves_the_kept_file_and_no_temporary(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.create_bucket("mirror-b", "us-east-1")
    s3.put("mirror-b", "k", b"old")
    mirror = S3Mirror(tmp_path, owner)
    mirror.sync("mirror-b", "k")
    s3.put("mirror-b", "k", b"new")

    def failing(bucket: str, key: str, write: Any) -> bool:
        s3.read_object(bucket, key, write)
        raise OSError("disk full")

    monkeypatch.setattr(moto, "read_object", failing)
    with pytest.raises(OSError, match="disk full"):
        mirror.sync("mirror-b", "k")
    path = object_path(tmp_path, "mirror-b", "k")
    assert read_object_file(path)[1] == b"old"
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_an_object_file_of_another_version_or_damaged_is_refused(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    s3.create_bucket("mirror-b", "us-east-1")
    s3.put("mirror-b", "k", b"four")
    S3Mirror(tmp_path, owner).sync("mirror-b", "k")
    path = object_path(tmp_path, "mirror-b", "k")
    header, _, value = path.read_bytes().partition(b"\n")
    path.write_bytes(header + b"\n" + value + b"!")
    with pytest.raises(AccountFormatError, match="5 bytes where the header says 4"):
        read_object_file(path)
    path.write_bytes(dump_record(OBJECT_FORMAT, 2, {"key": "k"}) + b"four")
    with pytest.raises(AccountFormatError, match="version 2") as refused:
        read_object_file(path)
    assert (refused.value.path, refused.value.version) == (path, 2)
    path.write_bytes(dump_record(OBJECT_FORMAT, 1, {"key": "k", "size": 4}) + b"four")
    with pytest.raises(AccountFormatError, match="not an object file"):
        read_object_file(path)
    path.write_bytes(b"x" * (1024 * 1024 + 10))  # no header line within the limit
    with pytest.raises(AccountFormatError, match="not a JSON record"):
        read_object_file(path)


def test_kept_buckets_and_objects_are_replayed_into_s3(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    mirror = S3Mirror(tmp_path / "s3", owner)
    assert mirror.kept_buckets() == []  # no s3 directory yet
    s3.create_bucket("mirror-a", "eu-west-1")
    s3.create_bucket("mirror-b", "us-east-1")
    mirror.bucket_created("mirror-a")
    mirror.bucket_created("mirror-b")
    mirror.bucket_created("not-in-s3")  # refused by S3: nothing kept
    assert owner.owned() == ["mirror-a", "mirror-b"]
    states = {key: s3.put("mirror-a", key, key.encode()) for key in ("x", "d/y", "d/e/z", "d/")}
    mirror.sync_all("mirror-a", list(states))
    leftover = object_path(mirror.root, "mirror-a", "d/y").with_name(".y~.0123.tmp")
    leftover.write_bytes(b"half")  # a write a kill interrupted
    (mirror.root / "stray").mkdir()  # a directory without a bucket file is not a bucket

    restarted = FakeS3()
    for name in ("bucket_exists", "bucket_region", "create_bucket", "restore_object"):
        setattr(moto, name, getattr(restarted, name))  # the fixture's monkeypatch undoes it
    kept = mirror.kept_buckets()
    assert kept == [("mirror-a", "eu-west-1"), ("mirror-b", "us-east-1")]
    assert mirror.replay(kept) == 4
    assert restarted.buckets["mirror-a"][0] == "eu-west-1"
    assert {k: v for k, (v, _) in restarted.buckets["mirror-a"][1].items()} == states
    assert restarted.buckets["mirror-a"][1]["d/e/z"][1] == b"d/e/z"
    assert restarted.buckets["mirror-b"] == ("us-east-1", {})
    assert not leftover.exists()


def test_a_bucket_file_of_another_version_is_refused(tmp_path: Path, owner: BucketOwner) -> None:
    marker = tmp_path / "b" / BUCKET_FILE
    marker.parent.mkdir()
    marker.write_bytes(dump_record("pcr-local-s3-bucket", 7, {"name": "b", "region": "r"}))
    with pytest.raises(AccountFormatError, match="version 7"):
        S3Mirror(tmp_path, owner).kept_buckets()


def test_a_deleted_bucket_leaves_the_files_and_the_owner(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    mirror = S3Mirror(tmp_path, owner)
    s3.create_bucket("mirror-gone", "us-east-1")
    mirror.bucket_created("mirror-gone")
    mirror.bucket_deleted("mirror-gone")  # S3 still has it (the delete was refused)
    assert (tmp_path / "mirror-gone" / BUCKET_FILE).is_file()
    del s3.buckets["mirror-gone"]
    mirror.bucket_deleted("mirror-gone")
    assert not (tmp_path / "mirror-gone").exists()
    assert owner.owned() == []


def test_resync_makes_every_file_what_s3_holds(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    mirror = S3Mirror(tmp_path, owner)
    s3.create_bucket("mirror-b", "us-east-1")
    for key in ("stays", "goes", "a/changes"):
        s3.put("mirror-b", key, b"1")
    mirror.sync_all("mirror-b", ["stays", "goes", "a/changes"])
    del s3.buckets["mirror-b"][1]["goes"]
    s3.put("mirror-b", "a/changes", b"22")
    s3.put("mirror-b", "new", b"333")
    mirror.resync("mirror-b")
    kept = {read_object_file(p)[0].key: read_object_file(p)[1]
            for p in (tmp_path / "mirror-b").rglob("*~")}  # fmt: skip
    assert kept == {"stays": b"1", "a/changes": b"22", "new": b"333"}


# -- the WSGI wrapper --------------------------------------------------------------------------


class App:
    """moto's S3 application: answers `status`, applying `effect` first; records the calls."""

    def __init__(self, status: str = "200 OK", effect: Any = None) -> None:
        self.status = status
        self.effect = effect
        self.calls: list[tuple[str, bytes]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read()
        self.calls.append((f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}", body))
        if self.effect is not None:
            self.effect()
        start_response(self.status, [("Content-Type", "application/xml")])
        return [b"<ok/>"]


class Answer:
    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status, self.headers = status, headers
        return lambda data: None


def _request(method: str, uri: str, body: bytes = b"") -> dict[str, Any]:
    path = uri.split("?", 1)[0]
    return {"REQUEST_METHOD": method, "RAW_URI": uri, "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}  # fmt: skip


def _call(wrapper: MirroredS3, method: str, uri: str, body: bytes = b"") -> tuple[Answer, bytes]:
    answer = Answer()
    chunks = wrapper(_request(method, uri, body), answer)
    return answer, b"".join(chunks)


def test_a_bucket_of_another_backend_is_refused_before_s3_sees_the_request(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    owner.claim("mirror-owned", fresh=False)
    app = App()
    wrapper = MirroredS3(app, BucketOwner(None), None)
    answer, body = _call(wrapper, "GET", "/mirror-owned/k")
    assert answer.status.startswith("403")
    assert b"<Code>AccessDenied</Code>" in body
    assert ("X-Content-Type-Options", "nosniff") in answer.headers
    assert app.calls == []
    _call(wrapper, "GET", "/")  # ListBuckets names no bucket
    _call(wrapper, "PUT", "/scratch/k")
    assert [call for call, _ in app.calls] == ["GET /", "PUT /scratch/k"]


def test_a_change_is_kept_before_its_answer_and_a_read_or_refusal_changes_nothing(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    s3.create_bucket("mirror-b", "us-east-1")
    owner.claim("mirror-b", fresh=False)
    mirror = S3Mirror(tmp_path, owner)
    path = object_path(tmp_path, "mirror-b", "a b/c")
    app = App(effect=lambda: s3.put("mirror-b", "a b/c", b"v"))
    wrapper = MirroredS3(app, owner, mirror)
    answer, body = _call(wrapper, "GET", "/mirror-b/a%20b/c")
    assert (answer.status, body) == ("200 OK", b"<ok/>")
    assert not path.exists()  # a read: not mirrored
    _call(wrapper, "PUT", "/mirror-b/a%20b/c?uploadId=1&partNumber=1")
    assert not path.exists()  # a part of an unfinished upload: not an object yet
    _call(wrapper, "PUT", "/mirror-b/a%20b/c?tagging")  # any other change of an object: synced
    assert path.is_file()
    path.unlink()
    refused = App(status="404 Not Found", effect=lambda: s3.put("mirror-b", "a b/c", b"w"))
    _call(MirroredS3(refused, owner, mirror), "PUT", "/mirror-b/a%20b/c")
    assert not path.exists()  # S3 refused it: nothing to keep
    _call(wrapper, "PUT", "/mirror-b/a%20b/c")
    assert read_object_file(path)[1] == b"v"  # what S3 holds once it has answered


def test_delete_objects_syncs_the_keys_it_names_and_s3_still_reads_the_body(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    s3.create_bucket("mirror-b", "us-east-1")
    owner.claim("mirror-b", fresh=False)
    mirror = S3Mirror(tmp_path, owner)
    for key in ("x", "y", "z"):
        s3.put("mirror-b", key, b"1")
    mirror.sync_all("mirror-b", ["x", "y", "z"])
    request = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
               b"<Object><Key>x</Key></Object><Object><Key>y</Key></Object></Delete>")  # fmt: skip

    def delete() -> None:
        for key in ("x", "y"):
            del s3.buckets["mirror-b"][1][key]

    app = App(effect=delete)
    _call(MirroredS3(app, owner, mirror), "POST", "/mirror-b?delete", request)
    assert app.calls == [("POST /mirror-b", request)]  # the body read, then put back
    assert not object_path(tmp_path, "mirror-b", "x").exists()
    assert not object_path(tmp_path, "mirror-b", "y").exists()
    assert object_path(tmp_path, "mirror-b", "z").exists()


def test_a_change_that_cannot_be_kept_is_answered_as_an_error(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    s3.create_bucket("mirror-b", "us-east-1")
    owner.claim("mirror-b", fresh=False)
    blocked = tmp_path / "file-not-directory"
    blocked.write_bytes(b"")
    mirror = S3Mirror(blocked, owner)  # every object file would go under a regular file
    app = App(effect=lambda: s3.put("mirror-b", "k", b"v"))
    answer, body = _call(MirroredS3(app, owner, mirror), "PUT", "/mirror-b/k")
    assert answer.status.startswith("500")
    assert b"<Code>InternalError</Code>" in body
    assert b"could not keep it" in body


def test_a_created_bucket_is_kept_and_claimed(
    tmp_path: Path, s3: FakeS3, owner: BucketOwner
) -> None:
    mirror = S3Mirror(tmp_path, owner)
    app = App(effect=lambda: s3.create_bucket("mirror-new", "ap-south-1"))
    _call(MirroredS3(app, owner, mirror), "PUT", "/mirror-new")
    assert mirror.kept_buckets() == [("mirror-new", "ap-south-1")]
    assert owner.owned() == ["mirror-new"]
