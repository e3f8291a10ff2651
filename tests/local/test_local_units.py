"""The local backend's parts without processes: public API, launcher argv and env, logs, wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

import pcr_sdk.local
from pcr_sdk.local import LocalBackend
from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._process import ContainerRun, LaunchError, LocalLauncher, PullError, exit_status
from pcr_sdk.local._refusals import ServiceError
from pcr_sdk.local._wire import JsonEndpoint, RestJsonEndpoint, service_model


def test_public_surface() -> None:
    assert "LocalBackend" in pcr_sdk.local.__all__
    public = {name for name in vars(pcr_sdk.local) if not name.startswith("_")}
    assert public - {"annotations"} == set(pcr_sdk.local.__all__)


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="argv list"):
        LocalBackend("python worker.py")
    with pytest.raises(ValueError, match="max_parallel"):
        LocalBackend(["x"], max_parallel=0)
    with pytest.raises(ValueError, match="timeout_scale"):
        LocalBackend(["x"], timeout_scale=0)
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalBackend(["x"]).clients


def _run(**changes: Any) -> ContainerRun:
    fields: dict[str, Any] = {
        "job_id": "abc:2",
        "attempt": 1,
        "image": "repo/worker:1",
        "command": None,
        "definition_command": ("python", "/app/worker.py"),
        "environment": {"S3_JOB_BUCKET": "b", "AWS_BATCH_JOB_ID": "abc:2"},
    }
    fields.update(changes)
    return ContainerRun(**fields)


KEYS = LocalCredentials("PCRLTESTKEY", "local-test-secret")


def _launcher(command: Any = None, **options: Any) -> LocalLauncher:
    return LocalLauncher(
        command,
        endpoint_url="http://127.0.0.1:4566",
        credentials=KEYS,
        region="eu-central-1",
        parent_environ={
            "PATH": "/bin",
            "HOME": "/home/me",
            "PYTHONPATH": "/src",
            "LC_ALL": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "AKIAREAL",
            "AWS_PROFILE": "prod",
            "DOCKER_HOST": "unix:///run/docker.sock",
            "SECRET_TOKEN": "x",
        },
        **options,
    )


def test_command_precedence() -> None:
    mapping = _launcher({"repo/worker:1": ["python", "local.py"]})
    assert mapping.command(_run()) == ("python", "local.py")
    assert mapping.command(_run(image="other")) == ("python", "/app/worker.py")
    assert mapping.command(_run(command=("python", "override.py"))) == ("python", "override.py")
    assert _launcher(["run-it"]).command(_run()) == ("run-it",)
    with pytest.raises(LaunchError, match="no local command"):
        _launcher().argv_and_env(_run(definition_command=None))


def test_local_process_environment() -> None:
    argv, env = _launcher(["run-it"], extra_env={"EXTRA": "1"}).argv_and_env(_run())
    assert argv == ["run-it"]
    assert env["PATH"] == "/bin"
    assert env["PYTHONPATH"] == "/src"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_ACCESS_KEY_ID"] == KEYS.access_key_id
    assert env["AWS_SECRET_ACCESS_KEY"] == KEYS.secret_access_key
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert env["S3_JOB_BUCKET"] == "b"
    assert env["EXTRA"] == "1"
    assert "AWS_PROFILE" not in env
    assert "SECRET_TOKEN" not in env
    assert "DOCKER_HOST" not in env


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_docker_argv_ends_options_and_passes_the_environment_in_a_private_file() -> None:
    launcher = _launcher(docker=True, extra_env={"EXTRA": "1"})
    launcher.open()
    try:
        argv, env = launcher.argv_and_env(_run())
        env_file = launcher.env_file(_run())

        assert argv == [
            *("docker", "run", "--rm", "--network", "host", "--name", "pcr-local-abc-2-1"),
            *("--env-file", str(env_file), "--"),
            *("repo/worker:1", "python", "/app/worker.py"),
        ]
        assert KEYS.secret_access_key not in " ".join(argv)  # `ps` shows argv to everyone
        assert env_file.stat().st_mode & 0o777 == 0o600
        assert env_file.parent.stat().st_mode & 0o777 == 0o700
        pairs = _env_file(env_file)
        assert pairs["S3_JOB_BUCKET"] == "b"
        assert pairs["AWS_BATCH_JOB_ID"] == "abc:2"
        assert pairs["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
        assert pairs["AWS_SECRET_ACCESS_KEY"] == KEYS.secret_access_key
        assert pairs["EXTRA"] == "1"
        assert "PATH" not in pairs  # the image's own PATH applies inside the container
        assert env["DOCKER_HOST"] == "unix:///run/docker.sock"  # for the docker CLI itself
        assert "AWS_ACCESS_KEY_ID" not in env
        no_command, _ = launcher.argv_and_env(_run(attempt=2, definition_command=None))
        assert no_command[-2:] == ["--", "repo/worker:1"]  # the image's own CMD
    finally:
        launcher.close()
    assert not env_file.parent.exists()


@pytest.mark.parametrize(
    "image",
    ["--privileged", "-v=/:/host", "Upper", "repo/-x", "a b", "x" * 256, "repo:tag:tag", ""],
)
def test_an_image_outside_dockers_reference_grammar_never_reaches_docker(image: str) -> None:
    launcher = _launcher(docker=True)
    launcher.open()
    try:
        with pytest.raises(PullError, match="invalid reference format") as raised:
            launcher.argv_and_env(_run(image=image))
        assert raised.value.reason == "CannotPullContainerError"
        assert list(launcher.env_file(_run()).parent.iterdir()) == []  # no env file written
    finally:
        launcher.close()


@pytest.mark.parametrize(
    "image",
    ["python:3.11-slim", "pcr-local", "registry.example:5000/team/worker_x:v1.2",
     "ubuntu@sha256:" + "a" * 64, "[::1]:5000/img"],
)  # fmt: skip
def test_docker_references_that_follow_the_grammar_are_kept(image: str) -> None:
    launcher = _launcher(docker=True)
    launcher.open()
    try:
        argv, _ = launcher.argv_and_env(_run(image=image, definition_command=None))
        assert argv[-2:] == ["--", image]
    finally:
        launcher.close()


def test_a_line_break_in_a_variable_cannot_go_to_docker() -> None:
    launcher = _launcher(docker=True)
    launcher.open()
    try:
        with pytest.raises(LaunchError, match="line break"):
            launcher.argv_and_env(_run(environment={"BAD": "a\nb"}))
    finally:
        launcher.close()


def test_exit_status_of_a_killed_process() -> None:
    assert exit_status(-9) == 137
    assert exit_status(3) == 3


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogStore]:
    clock = iter(range(1000, 1_000_000))
    store = LogStore(clock_ms=lambda: next(clock), directory=tmp_path / "logs")
    yield store
    store.close()


def _messages(logs: LogStore, **params: Any) -> tuple[list[str], str, str]:
    answer = logs.get_log_events({"logGroupName": "/aws/batch/job", "logStreamName": "s", **params})
    messages = [event["message"] for event in answer["events"]]
    return messages, answer["nextForwardToken"], answer["nextBackwardToken"]


def test_log_events_paging(logs: LogStore, tmp_path: Path) -> None:
    for n in range(5):
        logs.append("s", f"line {n}")

    def page(**params: Any) -> tuple[list[str], str, str]:
        return _messages(logs, **params)

    assert page(limit=2)[0] == ["line 3", "line 4"]
    head, forward, _ = page(limit=2, startFromHead=True)
    assert head == ["line 0", "line 1"]
    middle, forward, _ = page(limit=2, nextToken=forward)
    assert middle == ["line 2", "line 3"]
    last, end, _ = page(limit=2, nextToken=forward)
    assert last == ["line 4"]
    assert page(limit=2, nextToken=end)[:2] == ([], end)  # no news: the same token again
    _, _, backward = page(limit=2)
    assert page(limit=2, nextToken=backward)[0] == ["line 1", "line 2"]
    assert page(startTime=1002, endTime=1004)[0] == ["line 2", "line 3"]
    with pytest.raises(ServiceError, match="log stream"):
        logs.get_log_events({"logGroupName": "/aws/batch/job", "logStreamName": "other"})
    with pytest.raises(ServiceError, match="log group"):
        logs.get_log_events({"logGroupName": "/elsewhere", "logStreamName": "s"})
    assert (tmp_path / "logs" / "s.log").read_text(encoding="utf-8").splitlines()[0] == (
        "1000 line 0"
    )


def test_log_pages_in_both_directions_cover_a_long_stream_exactly(logs: LogStore) -> None:
    """Lines span many 64 KiB blocks; paging forward and backward sees each once, in order."""
    expected = [f"line {n} " + "." * (n % 97) for n in range(6000)]
    for line in expected:
        logs.append("s", line)
    forward: list[str] = []
    page, token, _ = _messages(logs, startFromHead=True, limit=997)
    while page:
        forward += page
        page, token, _ = _messages(logs, nextToken=token, limit=997)
    backward: list[str] = []
    page, _, token = _messages(logs, limit=997)
    while page:
        backward = page + backward
        page, _, token = _messages(logs, nextToken=token, limit=997)
    assert forward == expected
    assert backward == expected


def test_a_log_page_holds_at_most_1_mb_and_a_token_must_start_a_line(logs: LogStore) -> None:
    for n in range(300):
        logs.append("s", f"{n:03d}" + "x" * 9_997)
    tail, forward, backward = _messages(logs)
    assert 90 < len(tail) < 105  # about 1 MB of the newest events
    assert tail[-1].startswith("299")
    assert _messages(logs, nextToken=forward)[0] == []
    assert _messages(logs, nextToken=backward, limit=1)[0][0].startswith(f"{299 - len(tail):03d}")
    with pytest.raises(ServiceError, match="token"):
        _messages(logs, nextToken="f/5")
    with pytest.raises(ServiceError, match="token"):
        _messages(logs, nextToken="elsewhere")


def test_a_message_with_newlines_is_one_event_per_line(logs: LogStore) -> None:
    logs.create_stream("s")
    assert _messages(logs)[0] == []
    logs.append("s", "CannotStartContainerError: no\nsuch file")
    logs.end_stream("s")
    logs.append("s", "after")  # reopens the file
    assert _messages(logs)[0] == ["CannotStartContainerError: no", "such file", "after"]


def test_a_log_store_of_its_own_removes_its_directory_on_close() -> None:
    logs = LogStore(clock_ms=lambda: 1)
    logs.append("a/default/b", "x")
    assert (logs.directory / "a" / "default" / "b.log").is_file()
    logs.close()
    assert not logs.directory.exists()


def _request(method: str, url: str, body: bytes, **headers: str) -> AWSPreparedRequest:
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSPreparedRequest(method, url, http_headers, body, stream_output=False)


def test_rest_json_routing_and_errors() -> None:
    seen: list[dict[str, Any]] = []

    def untag(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        return {}

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError("ClientException", f"no {params['jobId']}")

    endpoint = RestJsonEndpoint(
        service_model("batch"), {"UntagResource": untag, "CancelJob": refuse}
    )
    arn = "arn:aws:batch:us-east-1:123456789012:job/abc"
    response = endpoint(
        _request("DELETE", f"https://h/v1/tags/{quote(arn, safe='')}?tagKeys=a&tagKeys=b", b"")
    )
    assert response.status_code == 200
    assert seen == [{"resourceArn": arn, "tagKeys": ["a", "b"]}]

    refused = endpoint(_request("POST", "https://h/v1/canceljob", b'{"jobId": "j", "reason": "r"}'))
    assert refused.status_code == 400
    assert refused.headers["x-amzn-ErrorType"] == "ClientException"
    assert json.loads(refused.content) == {"message": "no j"}
    missing = endpoint(_request("POST", "https://h/v1/submitjob", b"{}"))
    assert b"not implemented" in missing.content


def test_json_target_routing() -> None:
    endpoint = JsonEndpoint(
        service_model("logs"), {"GetLogEvents": lambda params: {"events": [], "seen": params}}
    )
    ok = endpoint(
        _request(
            "POST", "https://h/", b'{"logStreamName": "s"}',
            **{"X-Amz-Target": "Logs_20140328.GetLogEvents"},
        )
    )  # fmt: skip
    assert json.loads(ok.content) == {"events": [], "seen": {"logStreamName": "s"}}
    unknown = endpoint(
        _request("POST", "https://h/", b"{}", **{"X-Amz-Target": "Logs.PutLogEvents"})
    )
    assert unknown.status_code == 400
    assert json.loads(unknown.content)["__type"] == "InvalidOperationException"


def test_unimplemented_operations_fail_like_aws(tmp_path: Path) -> None:
    with LocalBackend(["true"], cwd=tmp_path) as local:
        with pytest.raises(ClientError, match="not implemented"):
            local.clients.batch.list_scheduling_policies()
        with pytest.raises(ClientError, match="not implemented"):
            local.clients.logs.describe_log_groups()
        # clients made later from the backend's session are answered locally too
        batch = local.session.client("batch")
        assert batch.describe_job_queues()["jobQueues"][0]["jobQueueName"] == local.queue
        batch.close()


def test_answered_requests_never_reach_an_active_moto_mock() -> None:
    from moto import mock_aws
    from moto.batch.models import batch_backends

    with mock_aws(), LocalBackend(["true"]) as local:
        batch = local.session.client("batch")  # the AWS endpoint URL, as a user would make it
        batch.register_job_definition(
            jobDefinitionName="only-local",
            type="container",
            containerProperties={"image": "i", "vcpus": 1, "memory": 16},
        )
        assert local.clients.batch.describe_job_definitions(jobDefinitionName="only-local")[
            "jobDefinitions"
        ]
        assert not batch_backends["123456789012"]["us-east-1"].describe_job_definitions()
        batch.close()
