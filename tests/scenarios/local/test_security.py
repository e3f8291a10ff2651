"""The local backend's socket, attacked: only requests signed with the backend's own keys, for a
Host of this machine and without an Origin header act; a refusal is AWS's error and changes
nothing; bodies are capped before they are received; half-open connections cost no thread."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from pcr_sdk import InvalidJobSpecError, JobSubmitter
from pcr_sdk.local import LocalBackend
from pcr_sdk.local._credentials import CredentialsFileError, LocalCredentials
from pcr_sdk.local._gateway import Gateway, allowed_hosts
from pcr_sdk.local._server import HttpServer, ServerLimits
from pcr_sdk.local._signature import Verifier
from tests.support.light_s3 import LightS3
from tests.support.local import Kit

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

pytestmark = pytest.mark.subprocess

DRIVE_BY: Final = "?X-Amz-Credential=a/20260101/us-east-1/batch/aws4_request"
FIFTY_MB: Final = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    with LocalBackend(vcpus=2, memory_mib=2048) as local:
        yield local


def _raw(
    backend: LocalBackend,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send a request as curl or a page would, with exactly these headers (Host included)."""
    port = urlsplit(backend.endpoint_url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": f"127.0.0.1:{port}", "Content-Length": str(len(body)), **(headers or {})}
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _signed(
    backend: LocalBackend,
    keys: LocalCredentials,
    path: str,
    body: bytes,
    *,
    service: str = "batch",
    host: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers botocore's signer gives a POST of `body` to `path` signed with `keys`."""
    host = host or urlsplit(backend.endpoint_url).netloc
    request = AWSRequest("POST", f"http://{host}{path}", data=body, headers=headers or {})
    request.headers["Host"] = host
    SigV4Auth(
        Credentials(keys.access_key_id, keys.secret_access_key), service, "us-east-1"
    ).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def _nothing_registered(batch: BatchClient) -> None:
    assert batch.describe_job_definitions(jobDefinitionName="evil")["jobDefinitions"] == []


def test_the_curl_drive_by_runs_nothing(backend: LocalBackend, tmp_path: Path) -> None:
    """The issue's attack: text/plain POSTs with a credential scope in the query and an Origin."""
    touched = tmp_path / "touched"
    definition = json.dumps(
        {
            "jobDefinitionName": "evil",
            "type": "container",
            "containerProperties": {
                "image": "other",
                "vcpus": 1,
                "memory": 256,
                "command": ["touch", str(touched)],
            },
        }
    ).encode()
    for origin in ({"Origin": "http://evil.example"}, {}):
        headers = {"Content-Type": "text/plain", **origin}
        status, answer, body = _raw(
            backend, "POST", f"/v1/registerjobdefinition{DRIVE_BY}", definition, headers
        )
        assert status in (400, 403), body  # no Origin: IncompleteSignatureException (400)
        assert answer["content-type"] == "application/json"
        assert "access-control-allow-origin" not in answer
        submit = json.dumps(
            {"jobName": "evil", "jobQueue": backend.queue, "jobDefinition": "evil"}
        ).encode()
        status, _, _ = _raw(backend, "POST", f"/v1/submitjob{DRIVE_BY}", submit, headers)
        assert status in (400, 403)

    _nothing_registered(backend.clients.batch)
    assert (
        backend.clients.batch.list_jobs(jobQueue=backend.queue, jobStatus="SUCCEEDED")[
            "jobSummaryList"
        ]
        == []
    )
    assert not touched.exists()


def test_a_foreign_host_is_refused_even_when_signed(backend: LocalBackend) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    body = (
        b'{"jobDefinitionName": "evil", "type": "container", '
        b'"containerProperties": {"image": "x", "vcpus": 1, "memory": 16}}'
    )
    port = urlsplit(backend.endpoint_url).port
    headers = _signed(
        backend, backend.credentials, "/v1/registerjobdefinition", body, host=f"evil.example:{port}"
    )
    status, answer, text = _raw(backend, "POST", "/v1/registerjobdefinition", body, headers)

    assert status == 403
    assert answer["x-amzn-errortype"] == "AccessDeniedException"
    assert b"evil.example" in text
    _nothing_registered(backend.clients.batch)
    # the same request for this machine's Host goes through
    body = body.replace(b'"evil"', b'"host-ok"')
    good = _signed(backend, backend.credentials, "/v1/registerjobdefinition", body)
    assert _raw(backend, "POST", "/v1/registerjobdefinition", body, good)[0] == 200


def test_an_origin_header_is_refused_even_when_signed(backend: LocalBackend) -> None:
    body = json.dumps({"jobs": []}).encode()
    headers = _signed(backend, backend.credentials, "/v1/describejobs", body)
    status, answer, _ = _raw(
        backend, "POST", "/v1/describejobs", body, {**headers, "Origin": "null"}
    )
    assert status == 403
    assert answer["x-amzn-errortype"] == "AccessDeniedException"
    assert not [name for name in answer if name.startswith("access-control-")]
    preflight = _raw(
        backend, "OPTIONS", f"/{backend.bucket}/x", b"",
        {"Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"},
    )  # fmt: skip
    assert preflight[0] == 403
    assert not [name for name in preflight[1] if name.startswith("access-control-")]


def _foreign(
    backend: LocalBackend, *, key: str | None = None, secret: str = "x" * 40
) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=key or backend.credentials.access_key_id,
        aws_secret_access_key=secret,
        region_name=backend.region,
    )


@pytest.mark.parametrize(
    ("key", "batch_code", "s3_code"),
    [
        (None, "InvalidSignatureException", "SignatureDoesNotMatch"),  # right id, wrong secret
        ("AKIAIOSFODNN7EXAMPLE", "UnrecognizedClientException", "InvalidAccessKeyId"),
    ],
)
def test_foreign_keys_get_awss_errors_on_batch_logs_and_s3(
    backend: LocalBackend, key: str | None, batch_code: str, s3_code: str
) -> None:
    session = _foreign(backend, key=key)
    url = backend.endpoint_url
    config = Config(retries={"total_max_attempts": 1})
    batch = session.client("batch", endpoint_url=url, config=config)
    logs = session.client("logs", endpoint_url=url, config=config)
    s3 = session.client("s3", endpoint_url=url, config=config)

    with pytest.raises(ClientError) as refused:
        batch.register_job_definition(
            jobDefinitionName="evil", type="container", containerProperties={"image": "x"}
        )
    assert refused.value.response["Error"]["Code"] == batch_code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as refused:
        logs.get_log_events(logGroupName="/aws/batch/job", logStreamName="x")
    assert refused.value.response["Error"]["Code"] == batch_code
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=backend.bucket, Key="evil.html", Body=b"<script></script>")
    assert refused.value.response["Error"]["Code"] == s3_code
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=backend.bucket)

    _nothing_registered(backend.clients.batch)
    listed = backend.clients.s3.list_objects_v2(Bucket=backend.bucket, Prefix="evil")
    assert listed["KeyCount"] == 0


def test_a_sigv4_signer_other_than_botocores_is_verified_the_same(backend: LocalBackend) -> None:
    """The suite's light S3 client (its own SigV4, from AWS's specification) reads and writes
    with the backend's keys, ranges included, and is refused with any other secret."""
    env = backend.client_environment()
    light = LightS3.from_env(env)
    key = "light/one object.json"  # a space: the canonical path is percent-encoded
    light.put_object(Bucket=backend.bucket, Key=key, Body=b'{"n": 12345}', ContentType="x/y")
    assert backend.clients.s3.get_object(Bucket=backend.bucket, Key=key)["Body"].read() == (
        b'{"n": 12345}'
    )
    assert light.get_object(Bucket=backend.bucket, Key=key)["Body"].read() == b'{"n": 12345}'
    assert light.get_object(Bucket=backend.bucket, Key=key, Range="bytes=6-10")["Body"].read() == (
        b"12345"
    )

    forged = LightS3.from_env(
        {**env, "AWS_SECRET_ACCESS_KEY": "not-" + env["AWS_SECRET_ACCESS_KEY"]}
    )
    with pytest.raises(ClientError) as refused:
        forged.get_object(Bucket=backend.bucket, Key=key)
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError):
        forged.put_object(Bucket=backend.bucket, Key="light/evil.json", Body=b"{}")
    listed = backend.clients.s3.list_objects_v2(Bucket=backend.bucket, Prefix="light/evil")
    assert listed["KeyCount"] == 0


def test_presigned_urls_work_with_the_keys_and_only_with_them(backend: LocalBackend) -> None:
    s3 = backend.clients.s3
    s3.put_object(Bucket=backend.bucket, Key="page.html", Body=b"<script>alert(1)</script>")
    good = s3.generate_presigned_url(
        "get_object", Params={"Bucket": backend.bucket, "Key": "page.html"}, ExpiresIn=60
    )
    with urllib.request.urlopen(good) as answer:
        assert answer.read() == b"<script>alert(1)</script>"
        assert answer.headers["Content-Security-Policy"] == "sandbox"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    foreign = _foreign(backend).client(
        "s3", endpoint_url=backend.endpoint_url, config=Config(signature_version="s3v4")
    )
    forged = foreign.generate_presigned_url(
        "get_object", Params={"Bucket": backend.bucket, "Key": "page.html"}, ExpiresIn=60
    )
    tampered = good.replace("page.html", "other.html")
    for url, code in ((forged, b"SignatureDoesNotMatch"), (tampered, b"SignatureDoesNotMatch")):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url)
        assert refused.value.code == 403
        assert code in refused.value.read()
    # a presigned PUT with foreign keys stores nothing
    put = foreign.generate_presigned_url(
        "put_object", Params={"Bucket": backend.bucket, "Key": "evil.html"}, ExpiresIn=60
    )
    request = urllib.request.Request(put, data=b"<script></script>", method="PUT")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request)
    assert s3.list_objects_v2(Bucket=backend.bucket, Prefix="evil")["KeyCount"] == 0


def test_an_s3_body_that_is_not_the_one_signed_is_refused(backend: LocalBackend) -> None:
    port = urlsplit(backend.endpoint_url).port
    path = f"/{backend.bucket}/swapped.txt"
    request = AWSRequest("PUT", f"http://127.0.0.1:{port}{path}", data=b"signed body")
    request.headers["Host"] = f"127.0.0.1:{port}"
    keys = backend.credentials
    from botocore.auth import S3SigV4Auth

    S3SigV4Auth(
        Credentials(keys.access_key_id, keys.secret_access_key), "s3", "us-east-1"
    ).add_auth(request)
    headers = {name: str(value) for name, value in request.headers.items()}
    status, _, text = _raw(backend, "PUT", path, b"other body!", headers)
    assert status == 400
    assert b"XAmzContentSHA256Mismatch" in text
    assert (
        backend.clients.s3.list_objects_v2(Bucket=backend.bucket, Prefix="swapped")["KeyCount"] == 0
    )
    assert _raw(backend, "PUT", path, b"signed body", headers)[0] == 200


def _port(backend: LocalBackend) -> int:
    port = urlsplit(backend.endpoint_url).port
    assert port is not None
    return port


def _head_only(backend: LocalBackend, head: str) -> bytes:
    """Send only a request's head; the answer that comes back without the body."""
    port = _port(backend)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_a_50_mb_body_is_refused_before_it_is_received(backend: LocalBackend) -> None:
    body_head = f"Content-Length: {FIFTY_MB}\r\n"
    headers = _signed(backend, backend.credentials, "/v1/submitjob", b"{}")
    signed = "".join(
        f"{name}: {value}\r\n"
        for name, value in headers.items()
        if name.lower() != "content-length"
    )
    answer = _head_only(backend, f"POST /v1/submitjob HTTP/1.1\r\n{signed}{body_head}\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"x-amzn-errortype: clientexception" in answer.lower()
    port = urlsplit(backend.endpoint_url).port
    unsigned_put = (
        f"PUT /{backend.bucket}/big HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{body_head}\r\n"
    )
    assert _head_only(backend, unsigned_put).startswith(b"HTTP/1.1 403 ")


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_1000_half_open_connections_make_no_threads(backend: LocalBackend) -> None:
    port = urlsplit(backend.endpoint_url).port
    before = _threads()
    held: list[socket.socket] = []
    try:
        for _ in range(1000):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            held.append(sock)
        for sock in held[:300]:  # some send half a request head
            # OSError: not accepted yet (beyond the connection limit), in the backlog
            with contextlib.suppress(OSError):
                sock.send(b"POST /v1/submitjob HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.5)  # let the server accept what it will
        assert _threads() - before < 5
    finally:
        for sock in held:
            sock.close()
    # the server still answers once they are gone
    deadline = time.monotonic() + 30
    while True:
        try:
            backend.clients.s3.list_objects_v2(Bucket=backend.bucket)
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_idle_connections_are_closed_by_the_server() -> None:
    keys = LocalCredentials.generate()
    gateway = Gateway(Verifier(keys), allowed_hosts("127.0.0.1"), lambda environ, start: [])
    server = HttpServer(
        gateway, host="127.0.0.1", port=0, screen=gateway,
        limits=ServerLimits(channel_timeout=1, cleanup_interval=1),
    )  # fmt: skip
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
            started = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server
            assert time.monotonic() - started < 8
    finally:
        server.stop()


def test_non_finite_or_absurd_resources_and_option_like_images_are_refused(
    backend: LocalBackend,
) -> None:
    kit = Kit(backend)
    bad = [
        {"resourceRequirements": [{"type": "VCPU", "value": "inf"}]},
        {"resourceRequirements": [{"type": "VCPU", "value": "nan"}]},
        {"resourceRequirements": [{"type": "VCPU", "value": "1e400"}]},
        {"resourceRequirements": [{"type": "MEMORY", "value": "9" * 30}]},
        {"resourceRequirements": [{"type": "GPU", "value": "100000"}]},
        {"vcpus": 10**12},
        {"image": "-v=/:/host"},
        {"image": "x" * 256},
    ]
    for properties in bad:
        with pytest.raises(ClientError, match="ClientException"):
            kit.definition("absurd", containerProperties=properties)
    definition = kit.definition("fine")
    with pytest.raises(ClientError, match="VCPU"):
        kit.batch.submit_job(
            jobName="inf", jobQueue=backend.queue, jobDefinition=definition,
            containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "inf"}]},
        )  # fmt: skip
    assert kit.batch.list_jobs(jobQueue=backend.queue, jobStatus="RUNNABLE")["jobSummaryList"] == []


def test_job_submitter_refuses_an_image_aws_refuses() -> None:
    with pytest.raises(InvalidJobSpecError, match="image"):
        JobSubmitter("b", "q", "-v=/:/host", "bucket")
    with pytest.raises(InvalidJobSpecError, match="image"):
        JobSubmitter("b", "q", "repo/img --privileged", "bucket")


def test_keys_live_in_the_data_directory_and_are_reused(tmp_path: Path) -> None:
    kept = "kept-keys"  # a kept account owns its bucket: the module's backend has the default
    with LocalBackend(data_dir=tmp_path, bucket=kept) as first:
        keys = first.credentials
    path = tmp_path / "credentials"
    assert path.stat().st_mode & 0o777 == 0o600
    with LocalBackend(data_dir=tmp_path, bucket=kept) as second:
        assert second.credentials == keys
        assert second.client_environment()["AWS_SECRET_ACCESS_KEY"] == keys.secret_access_key
    with LocalBackend() as one, LocalBackend() as other:
        assert one.credentials != other.credentials  # temporary backends: random keys
        assert one.credentials.secret_access_key not in repr(one.credentials)
    path.chmod(0o644)
    with pytest.raises(CredentialsFileError, match="chmod 600"):
        LocalBackend(data_dir=tmp_path, bucket=kept).start()


def test_listening_beyond_loopback_needs_expose() -> None:
    with pytest.raises(ValueError, match="expose=True"):
        LocalBackend(host="0.0.0.0")
    with LocalBackend(host="0.0.0.0", expose=True) as exposed:
        assert exposed.address.startswith("0.0.0.0:")
        assert exposed.endpoint_url.startswith("http://127.0.0.1:")
        exposed.clients.s3.list_objects_v2(Bucket=exposed.bucket)


def test_a_job_gets_the_backends_keys_and_reaches_s3_with_them(tmp_path: Path) -> None:
    script = (
        "import boto3; print(boto3.client('s3').list_objects_v2(Bucket='pcr-local')['KeyCount'])"
    )
    with LocalBackend([sys.executable, "-c", script]) as local:
        kit = Kit(local)
        job = kit.wait_one(kit.submit(kit.definition("keys")))
        assert job["status"] == "SUCCEEDED", kit.log(job)
        assert kit.log(job) == ["0"]


FAKE_DOCKER: Final = """#!{python}
import json, os, signal, sys, time
args = sys.argv[1:]
state = os.environ["DOCKER_FAKE_STATE"]


def path(name, what):
    return os.path.join(state, name + "." + what)


def value(option):
    return next(a.split("=", 1)[1] for a in args if a.startswith(option + "="))


if args[0] == "create":
    record = {{"argv": args, "env_file": None}}
    env_file = value("--env-file")
    mode = os.stat(env_file).st_mode & 0o777
    record["env_file"] = {{"mode": mode, "text": open(env_file).read()}}
    with open(os.environ["DOCKER_FAKE_LOG"], "a") as log:
        log.write(json.dumps(record) + "\\n")
    open(path(value("--name"), "code"), "w").close()
elif args[0] == "start":
    name = args[-1]
    with open(path(name, "pid"), "w") as out:
        out.write(str(os.getpid()))

    def stop(number, _):
        with open(path(name, "code"), "w") as out:
            out.write(str(128 + number))
        sys.exit(128 + number)

    signal.signal(signal.SIGTERM, stop)
    print("fake docker running", flush=True)
    time.sleep(float(os.environ.get("DOCKER_FAKE_SLEEP", "0")))
    with open(path(name, "code"), "w") as out:
        out.write("0")
elif args[0] == "kill":
    try:
        pid = int(open(path(args[-1], "pid")).read())
    except OSError:
        sys.exit(1)
    number = getattr(signal, value("--signal"))
    if number == signal.SIGKILL:
        with open(path(args[-1], "code"), "w") as out:
            out.write("137")
    os.kill(pid, number)
elif args[0] == "inspect":
    code = open(path(args[-1], "code")).read() or "0"
    print(code, "false false 2026-01-01T00:00:00Z")
elif args[0] == "image":
    print("amd64")
"""


def _cmdlines() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:
                continue  # gone meanwhile
    return found


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` first on PATH: `create` records its argv and env file, `start` sleeps."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    log.touch()
    (tmp_path / "state").mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_FAKE_LOG", str(log))
    monkeypatch.setenv("DOCKER_FAKE_STATE", str(tmp_path / "state"))
    return log


def _records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc/*/cmdline")
def test_ps_shows_no_secret_while_a_container_job_runs(
    fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_FAKE_SLEEP", "30")
    with LocalBackend(containers="docker") as local:
        kit = Kit(local)
        secret = local.credentials.secret_access_key.encode()
        job_id = kit.submit(kit.definition("in-a-container"))
        kit.wait_for_log(job_id)  # the fake docker is running
        cmdlines = _cmdlines()
        records = _records(fake_docker)
        kit.batch.terminate_job(jobId=job_id, reason="seen enough")
        kit.wait_one(job_id)

    assert cmdlines
    assert not [line for line in cmdlines if secret in line]
    (record,) = records
    argv = record["argv"]
    assert isinstance(argv, list)
    assert argv[argv.index("--") + 1] == "python:3.11-slim"
    assert "-e" not in argv
    assert not [part for part in argv if part.startswith("--env=")]
    env_file = record["env_file"]
    assert isinstance(env_file, dict)
    assert env_file["mode"] == 0o600
    assert f"AWS_SECRET_ACCESS_KEY={secret.decode()}\n" in env_file["text"]


def test_an_image_and_command_that_look_like_options_never_reach_docker(
    fake_docker: Path,
) -> None:
    with LocalBackend(containers="docker") as local:
        kit = Kit(local)
        definition = kit.definition(
            "injection",
            containerProperties={
                "image": "--privileged",
                "command": ["-v=/:/host", "alpine", "chroot", "/host", "id"],
            },
        )
        job = kit.wait_one(kit.submit(definition))
        safe = kit.wait_one(
            kit.submit(kit.definition("options-as-arguments"), command=["-v=/:/host", "id"])
        )

    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Task failed to start"
    assert job["container"]["reason"].startswith("CannotPullContainerError: invalid reference")
    (record,) = _records(fake_docker)  # only the second job started docker
    assert safe["status"] == "SUCCEEDED"
    argv = record["argv"]
    assert isinstance(argv, list)
    assert argv[argv.index("--") :] == ["--", "python:3.11-slim", "-v=/:/host", "id"]
