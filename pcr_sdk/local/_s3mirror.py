"""S3 stays moto; a kept account mirrors every write to files as it happens, and replays them.

`MirroredS3` wraps moto's server application where the gateway hands it S3 requests (every S3
request a backend with a socket answers passes there, `backend.clients.s3`'s too). After moto
has applied a request that changes objects (PutObject, CopyObject, CompleteMultipartUpload,
DeleteObject(s), object tagging) or buckets (CreateBucket, DeleteBucket), and before the client
gets its answer, `S3Mirror` reads the current state of what the request touched from moto
(`_moto_s3`) and replaces its file, or removes it. A SIGKILL loses no acknowledged write. At
start `S3Mirror.replay` puts every kept bucket and object back into moto, with its bytes, ETag,
LastModified, metadata and tags.

The files: `<data_dir>/s3/<bucket>/~bucket` (the bucket: its name and region), and one file per
object at `<data_dir>/s3/<bucket>/<key, a directory per '/'>~`: a JSON header line, then the
object's bytes. Path segments keep `[A-Za-z0-9._-]` and write any other byte as `%XX`; the
header holds the exact key. Not kept: object versions other than the current one, unfinished
multipart uploads, bucket settings (versioning, policies, lifecycle, CORS, bucket tags).

moto's S3 state belongs to the whole process, so two backends in one process could see each
other's buckets. `BucketOwner` keeps them apart: a kept account owns its buckets in this
process (a backend opening one refuses buckets moto has already; its gateway refuses requests
naming a bucket it does not own); temporary backends share the buckets nobody owns, as before,
and are refused those a kept account owns.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import logging
import os
import re
import secrets
import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

from pcr_sdk._private.public import public
from pcr_sdk.local import _moto_s3 as moto
from pcr_sdk.local._files import (
    PRIVATE_FILE,
    AccountFormatError,
    LocalAccountError,
    dump_record,
    load_record,
    write_atomically,
)
from pcr_sdk.local._gateway import SECURITY_HEADERS, error_answer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

S3_DIRECTORY: Final = "s3"
BUCKET_FILE: Final = "~bucket"
OBJECT_SUFFIX: Final = "~"
OBJECT_FORMAT: Final = "pcr-local-s3-object"
BUCKET_FORMAT: Final = "pcr-local-s3-bucket"
VERSION: Final = 1
_SAFE: Final = re.compile(r"[A-Za-z0-9._-]+")
_LONGEST_SEGMENT: Final = 200
_HEADER_LIMIT: Final = 1024 * 1024
_DELETE_BODY_LIMIT: Final = 4 * 1024 * 1024
_STRIPES: Final = 64
_READS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@public("pcr_sdk.local")
class AccountConflictError(LocalAccountError):
    """Another backend of this process uses a bucket of the account (moto's S3 is per process)."""

    def __init__(self, message: str, *, path: Path, bucket: str) -> None:
        super().__init__(message, path=path)
        self.bucket = bucket


# -- where a bucket's and an object's files are ------------------------------------------------


def segment(text: str) -> str:
    """One path segment for `text`: safe characters as they are, other bytes as `%XX`."""
    if text == "":
        return "%"
    if text in (".", ".."):
        return "%2E" * len(text)
    escaped = "".join(
        char
        if _SAFE.fullmatch(char)
        else "".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
        for char in text
    )
    if len(escaped) > _LONGEST_SEGMENT:
        return "%%" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return escaped


def bucket_directory(root: Path, bucket: str) -> Path:
    return root / segment(bucket)


def object_path(root: Path, bucket: str, key: str) -> Path:
    """The file of object `key` of `bucket` (its `/`-separated parts as directories)."""
    *folders, name = key.split("/")
    return bucket_directory(root, bucket).joinpath(
        *map(segment, folders), segment(name) + OBJECT_SUFFIX
    )


def prefix_directory(root: Path, bucket: str, prefix: str) -> Path:
    """The directory holding the objects under `prefix` (which ends with `/`)."""
    return bucket_directory(root, bucket).joinpath(*map(segment, prefix.rstrip("/").split("/")))


# -- who may use which bucket in this process ------------------------------------------------


_owners_lock = threading.Lock()
_owners: dict[str, BucketOwner] = {}


class BucketOwner:
    """A backend's share of this process's S3: the buckets it owns (a kept account's)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        """The kept account's directory; None for a temporary backend (it owns nothing)."""

    @property
    def kept(self) -> bool:
        return self.path is not None

    def claim(self, bucket: str, *, fresh: bool) -> None:
        """Own `bucket` (a temporary backend: check nobody owns it); `fresh`: it must not be
        in moto yet (opening the account).

        Args:
            bucket: the bucket's name.
            fresh: the bucket must not be in moto yet.

        Raises:
            AccountConflictError: another backend of this process owns or uses it.
        """
        with _owners_lock:
            owner = _owners.get(bucket)
            if owner is self:
                return
            taken = owner is not None or (fresh and self.kept and moto.bucket_exists(bucket))
            if taken:
                where = f" (the account in {owner.path})" if owner is not None else ""
                mine = f" of the account in {self.path}" if self.path is not None else ""
                raise AccountConflictError(
                    f"bucket {bucket!r}{mine} is in use by another LocalBackend of this "
                    f"process{where}: the embedded S3 (moto) is shared by the whole process. "
                    "Close that backend first, or give this one another bucket=.",
                    path=(owner.path if owner is not None else self.path) or Path(),
                    bucket=bucket,
                )
            if self.path is not None:
                _owners[bucket] = self

    def release(self, bucket: str) -> None:
        with _owners_lock:
            if _owners.get(bucket) is self:
                del _owners[bucket]

    def owned(self) -> list[str]:
        with _owners_lock:
            return sorted(name for name, owner in _owners.items() if owner is self)

    def may_use(self, bucket: str) -> bool:
        """Whether requests through this backend may name `bucket`."""
        with _owners_lock:
            owner = _owners.get(bucket)
        if owner is not None:
            return owner is self
        return not (self.kept and moto.bucket_exists(bucket))


# -- the files -----------------------------------------------------------------------------------


class S3Mirror:
    """The files of the buckets a kept account owns, under `<data_dir>/s3`."""

    def __init__(self, root: Path, owner: BucketOwner) -> None:
        self.root = root
        self.owner = owner
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]

    def _stripe(self, *names: str) -> threading.Lock:
        digest = hashlib.blake2b("\0".join(names).encode("utf-8", "surrogatepass"), digest_size=2)
        return self._stripes[int.from_bytes(digest.digest(), "big") % _STRIPES]

    # -- at start ----------------------------------------------------------------------------

    def kept_buckets(self) -> list[tuple[str, str]]:
        """(name, region) of every kept bucket."""
        found: list[tuple[str, str]] = []
        if not self.root.is_dir():
            return found
        for directory in sorted(self.root.iterdir()):
            marker = directory / BUCKET_FILE
            if not marker.is_file():
                continue
            record = load_record(
                marker.read_bytes(), fmt=BUCKET_FORMAT, version=VERSION, path=marker
            )
            found.append((str(record["name"]), str(record["region"])))
        return found

    def replay(self, buckets: Iterable[tuple[str, str]]) -> int:
        """Put the kept buckets and their objects into moto; the number of objects.

        Args:
            buckets: the kept buckets and their directories.

        Returns:
            The number of objects put back.

        Raises:
            AccountFormatError: an object file is from a newer pcr-sdk or damaged.
        """
        count = 0
        for name, region in buckets:
            moto.create_bucket(name, region)
            for path in _object_files(bucket_directory(self.root, name)):
                state, value = read_object_file(path)
                moto.restore_object(name, state, value)
                count += 1
        return count

    # -- as requests change things -----------------------------------------------------------

    def bucket_created(self, bucket: str) -> None:
        region = moto.bucket_region(bucket)
        if region is None:
            return
        self.owner.claim(bucket, fresh=False)
        directory = bucket_directory(self.root, bucket)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        record = dump_record(BUCKET_FORMAT, VERSION, {"name": bucket, "region": region})
        write_atomically(directory / BUCKET_FILE, record)

    def bucket_deleted(self, bucket: str) -> None:
        if moto.bucket_exists(bucket):
            return
        shutil.rmtree(bucket_directory(self.root, bucket), ignore_errors=True)
        self.owner.release(bucket)

    def sync(self, bucket: str, key: str) -> None:
        """Make the file of `key` what moto holds now: rewritten, or removed."""
        path = object_path(self.root, bucket, key)
        with self._stripe(bucket, key):
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")

            def write(state: moto.ObjectState, body: IO[bytes]) -> None:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
                with os.fdopen(fd, "wb") as out:
                    out.write(_header(state))
                    shutil.copyfileobj(body, out)

            try:
                present = moto.read_object(bucket, key, write)
                if present:
                    os.replace(temporary, path)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            except BaseException:
                with contextlib.suppress(OSError):
                    temporary.unlink()
                raise

    def sync_all(self, bucket: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.sync(bucket, key)

    def resync(self, bucket: str) -> None:
        """Make every file of `bucket` what moto holds (after a request of unknown effect)."""
        keys = set(moto.object_keys(bucket))
        for path in _object_files(bucket_directory(self.root, bucket)):
            state, _ = read_object_file(path, header_only=True)
            if state.key not in keys:
                self.sync(bucket, state.key)
        for key in keys:
            self.sync(bucket, key)


def _header(state: moto.ObjectState) -> bytes:
    body: dict[str, Any] = {
        "key": state.key,
        "etag": state.etag,
        "last_modified": state.last_modified.isoformat(),
        "size": state.size,
        "metadata": state.metadata,
        "tags": state.tags,
        "storage_class": state.storage_class,
        "checksum_algorithm": state.checksum_algorithm,
        "checksum_value": state.checksum_value,
    }
    return dump_record(OBJECT_FORMAT, VERSION, body)


def read_object_file(path: Path, *, header_only: bool = False) -> tuple[moto.ObjectState, bytes]:
    """An object file's state and bytes (no bytes with `header_only`).

    Args:
        path: the object file.
        header_only: read the state only.

    Returns:
        The object's state and its bytes.

    Raises:
        AccountFormatError: the file is from a newer pcr-sdk or damaged.
    """
    with path.open("rb") as source:
        header = source.readline(_HEADER_LIMIT)
        record = load_record(header, fmt=OBJECT_FORMAT, version=VERSION, path=path)
        value = b"" if header_only else source.read()
    try:
        state = moto.ObjectState(
            key=str(record["key"]),
            etag=str(record["etag"]),
            last_modified=datetime.datetime.fromisoformat(str(record["last_modified"])),
            size=int(record["size"]),
            metadata={str(k): str(v) for k, v in dict(record["metadata"]).items()},
            tags={str(k): str(v) for k, v in dict(record["tags"]).items()},
            storage_class=str(record["storage_class"]),
            checksum_algorithm=record.get("checksum_algorithm"),
            checksum_value=record.get("checksum_value"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise AccountFormatError(f"{path}: not an object file: {err}", path=path) from err
    if not header_only and len(value) != state.size:
        raise AccountFormatError(
            f"{path}: {len(value)} bytes where the header says {state.size}", path=path
        )
    return state, value


def _object_files(directory: Path) -> Iterator[Path]:
    """The object files under `directory`; leftovers of an interrupted write are removed."""
    if not directory.is_dir():
        return
    for base, _, names in os.walk(directory):
        for name in sorted(names):
            path = Path(base, name)
            if name.startswith(".") and name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    path.unlink()
            elif name.endswith(OBJECT_SUFFIX):
                yield path


# -- the WSGI wrapper ------------------------------------------------------------------------


class MirroredS3:
    """moto's S3 application, with the ownership check before and the mirror after a request."""

    def __init__(self, app: WSGIApplication, owner: BucketOwner, mirror: S3Mirror | None) -> None:
        self._app = app
        self._owner = owner
        self._mirror = mirror

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw = str(environ.get("RAW_URI") or environ.get("PATH_INFO") or "/")
        split = urlsplit(raw)
        bucket, _, key = split.path.lstrip("/").partition("/")
        bucket, key = unquote(bucket), unquote(key)
        if bucket and not self._owner.may_use(bucket):
            refused = error_answer(
                "s3",
                403,
                "AccessDenied",
                f"bucket {bucket!r} belongs to another local backend of this process",
            )
            start_response(refused.status_line, [*refused.headers, *SECURITY_HEADERS])
            return [refused.body]
        if self._mirror is None or method in _READS or not bucket:
            return self._app(environ, start_response)
        query = parse_qs(split.query, keep_blank_values=True)
        change = _change(method, bucket, key, query, environ)
        if change is None:
            return self._app(environ, start_response)
        status: list[int] = []

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, exc_info)

        answer = self._app(environ, start)
        body = list(answer)  # moto answers whole; the change is applied once it has answered
        close = getattr(answer, "close", None)
        if close is not None:
            close()
        if status and status[0] < 400:
            try:
                change(self._mirror)
            except OSError as err:  # applied in moto, not kept: the client must not believe it
                logger.exception(
                    "local S3: could not keep %s %s in %s", method, raw, self._mirror.root
                )
                failed = error_answer(
                    "s3", 500, "InternalError", f"the local account could not keep it: {err}"
                )
                start_response(
                    failed.status_line, [*failed.headers, *SECURITY_HEADERS], sys.exc_info()
                )
                return [failed.body]
        return body


Change = Callable[[S3Mirror], None]


def _change(
    method: str, bucket: str, key: str, query: dict[str, list[str]], environ: WSGIEnvironment
) -> Change | None:
    """What to mirror once moto has applied the request (None: it changes nothing kept)."""
    if key:
        unfinished = ("uploadId" in query and method == "PUT") or (
            "uploads" in query and method == "POST"
        )  # parts of an unfinished multipart upload are not objects yet
        return None if unfinished else lambda mirror: mirror.sync(bucket, key)
    if not query:  # CreateBucket, DeleteBucket, or a browser form upload (its key in the form)
        changes: dict[str, Change] = {
            "PUT": lambda mirror: mirror.bucket_created(bucket),
            "DELETE": lambda mirror: mirror.bucket_deleted(bucket),
            "POST": lambda mirror: mirror.resync(bucket),
        }
        return changes.get(method)
    if method == "POST" and "delete" in query:
        keys = _deleted_keys(environ)
        if keys is None:
            return lambda mirror: mirror.resync(bucket)
        return lambda mirror: mirror.sync_all(bucket, keys)
    return None  # bucket settings: not kept


def _deleted_keys(environ: WSGIEnvironment) -> list[str] | None:
    """The keys a DeleteObjects request names (its body is read and put back); None if unknown."""
    length_text = str(environ.get("CONTENT_LENGTH") or "0")
    length = int(length_text) if length_text.isdigit() else 0
    if length > _DELETE_BODY_LIMIT:
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - signed with the backend's keys; expat refuses entity bombs
    except ElementTree.ParseError:
        return None  # moto refuses it too; nothing changes
    return [
        element.text or ""
        for element in root.iter()
        if element.tag.rsplit("}", 1)[-1] == "Key" and element.text is not None
    ]
