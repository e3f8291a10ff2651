"""One environment for the batch commands, held for every command of the typer app.

The run and follow commands read --queue, --bucket, --region, --image and --poll-seconds from
PCR_QUEUE, PCR_BUCKET, PCR_REGION, PCR_IMAGE and PCR_POLL_SECONDS (what `pcr local serve`
exports); `pcr local serve` creates its queue and bucket and reads none of them. The rule is
checked on whatever commands the app has, so a new command cannot forget it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import typer.main

from pcr_sdk.cli._app import app
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.support.cli import assert_clean_exit, invoke, lines, write_jobs
from tests.support.fakes import FakeClock

VARIABLES: Final = {
    "queue": "PCR_QUEUE",
    "bucket": "PCR_BUCKET",
    "region": "PCR_REGION",
    "image": "PCR_IMAGE",
    "poll_seconds": "PCR_POLL_SECONDS",
    "data_dir": "PCR_LOCAL_DIR",
}
"""A parameter of this name reads this variable."""
CREATES: Final = frozenset({"pcr local serve"})
"""Commands whose options name what they create: they read no variable."""
EXCEPTIONS: Final = {
    # the region the policy's ARNs name ("*": any), not the region a batch runs in
    ("pcr iam-policy", "region"): None,
    # the local account it holds is the one every --local command finds
    ("pcr local serve", "data_dir"): "PCR_LOCAL_DIR",
}


def commands() -> Iterator[tuple[str, Any]]:
    """Every command of the app (not the groups), by its full name, as click sees it (typer
    0.29 brings its own click: its classes are not `click`'s)."""

    def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            yield path, command
            return
        for name, sub in subcommands.items():
            yield from walk(sub, f"{path} {name}")

    yield from walk(typer.main.get_command(app), "pcr")


def test_the_walk_sees_every_command() -> None:
    names = {name for name, _ in commands()}
    assert {"pcr run", "pcr retry", "pcr report", "pcr local serve", "pcr iam-policy"} <= names
    assert len(names) >= 15


@pytest.mark.parametrize(("name", "command"), list(commands()), ids=[n for n, _ in commands()])
def test_every_command_follows_the_environment_rule(name: str, command: Any) -> None:
    for param in command.params:
        if (name, param.name) in EXCEPTIONS:
            expected = EXCEPTIONS[name, param.name]
        elif name in CREATES:
            expected = None
        else:
            expected = VARIABLES.get(param.name or "")
        assert param.envvar == expected, (name, param.name)
        if name in CREATES and expected is None:
            assert "(PCR_" not in (getattr(param, "help", None) or ""), (name, param.name)


@pytest.mark.parametrize(
    "name", [n for n, c in commands() if any(p.name == "batch_id" for p in c.params)]
)
def test_every_batch_id_argument_shows_its_form(name: str) -> None:
    shown = invoke([*name.split()[1:], "--help"])
    assert_clean_exit(shown, 0)
    assert "<name>_<uuid>" in shown.stdout
    assert "(_)" not in shown.stdout


def _waited_sleeps(world: MotoWorld, tmp_path: Path, *extra: str) -> list[float]:
    clock = FakeClock()
    aws = Runtime(aws_clients=lambda region: world.clients, sleep=clock.sleep, clock=clock)
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 1, "y": 2}'])
    where = ["--queue", world.queue, "--bucket", world.bucket]
    submitted = invoke(["submit", str(jobs), *where, "--image", "img"], obj=aws)
    assert_clean_exit(submitted, 0)
    (batch_id,) = lines(submitted.stdout)
    clock.sleeps.clear()
    waited = invoke(["wait", batch_id, *where, *extra], obj=aws)
    assert_clean_exit(waited, 0)
    return clock.sleeps


@pytest.mark.integration
def test_polling_comes_from_pcr_poll_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MotoWorld(polls_to_finish=4) as world:
        world.script.worker(lambda data: data)
        assert 10.0 in _waited_sleeps(world, tmp_path)  # the default on AWS
        monkeypatch.setenv("PCR_POLL_SECONDS", "0.2")
        served = _waited_sleeps(world, tmp_path)
        assert 0.2 in served
        assert 10.0 not in served
        given = _waited_sleeps(world, tmp_path, "--poll-seconds", "3")
        assert 3.0 in given
        assert 0.2 not in given
