"""Shared test configuration: hypothesis profiles (CI is the default, `HYPOTHESIS_PROFILE=dev`),
the fast loop's guard, and the fault suite's counts.

Markers (registered in pyproject.toml; `make test-fast` deselects all six), set by each module
(`pytestmark`) or test (a decorator), never by folder:

- `subprocess`: starts processes or servers (the local backend, the `pcr` command, real
  workers and signals);
- `integration`: runs on mocked AWS (a `MotoWorld`, moto's `mock_aws`: a tenth of a second and
  more per test);
- `slow`: takes seconds each (the fault suite, 1,000-job arrays, cfn-lint, the benchmark);
- `conformance`: tests/conformance (its local half starts processes too);
- `browser`: headless Chromium;
- `containers`: real containers (tests/containers, and the conformance suite's `[containers]`
  target): `make test-containers` runs them, `make test` does not.

A test without any of them is a unit test: `make test-fast` runs it, so keep it in-process and
well under a tenth of a second, or mark it. Under `make test-fast` (PCR_TEST_FAST=1) a unit test
that starts a process, binds a socket or starts mocked AWS fails naming the marker it lacks, and
the summary names every unmarked test that took longer than `FAST_BUDGET_SECONDS`.

Nothing here imports moto: the `moto_world` plugin loads it when a test first asks for a world,
and the guard only under PCR_TEST_FAST.
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Final, NoReturn

import pytest
from hypothesis import HealthCheck, settings

from tests.faults._counts import COUNTS_KEY, WIRE_KEY, counts_of

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
# make test-fast: a few examples each, the same every run
settings.register_profile("fast", max_examples=10, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = ["pcr_sdk.testing.fixtures"]


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `make test-fast`, a test that starts a process, binds a socket or starts mocked AWS
    fails, naming the marker it lacks (a fixture of a wider scope set up before this one is not
    caught)."""
    if os.environ.get("PCR_TEST_FAST") != "1":
        return
    from moto.core.models import MockAWS  # imported by pytest_collection_finish

    node = request.node.nodeid

    def refuse(what: str, marker: str) -> Callable[..., NoReturn]:
        def fail(*_: object, **__: object) -> NoReturn:
            raise RuntimeError(f"{node} {what}: mark it `{marker}` (tests/conftest.py)")

        return fail

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("starts a process", "subprocess"))
    monkeypatch.setattr(socket.socket, "bind", refuse("starts a server", "subprocess"))
    monkeypatch.setattr(MockAWS, "start", refuse("mocks AWS (moto)", "integration"))


LOCAL_DIR: Final = "PCR_LOCAL_DIR"
_accounts = itertools.count()


@pytest.fixture(autouse=True, scope="session")
def _no_local_account_of_the_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite never writes to the user's state directory: `pcr ... --local`, `pcr demo` and
    `pcr local serve` keep their account where PCR_LOCAL_DIR says (children inherit it)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(LOCAL_DIR, str(tmp_path_factory.mktemp("pcr-local-session")))
        yield


@pytest.fixture(autouse=True)
def _local_account_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test its own local account (created only if the test uses it)."""
    base = tmp_path_factory.getbasetemp() / "pcr-local"
    monkeypatch.setenv(LOCAL_DIR, str(base / str(next(_accounts))))


FAST_BUDGET_SECONDS: Final = 0.2
"""A unit test's budget (setup, call and teardown) under `make test-fast`."""
_spent: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background by a shell without job control inherits SIGINT
    ignored (so does every xdist worker): the tests that press Ctrl-C in this process need
    Python's own handler back."""
    del config
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`slow` tests first (a stable sort: otherwise in collection order): on pytest-xdist the
    longest ones start at once, in parallel, instead of one of them ending the run alone."""
    del config
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Under `make test-fast`, add up each test's setup, call and teardown time."""
    if os.environ.get("PCR_TEST_FAST") == "1":
        _spent[report.nodeid] = _spent.get(report.nodeid, 0.0) + report.duration


def _slow_unit_tests(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the unit tests over their budget: mark them `integration` or `slow`."""
    over = sorted(((s, n) for n, s in _spent.items() if s > FAST_BUDGET_SECONDS), reverse=True)
    if over:
        terminalreporter.write_sep("-", f"unit tests over {FAST_BUDGET_SECONDS} s: mark them")
        for seconds, nodeid in over:
            terminalreporter.write_line(f"{seconds:5.2f} s  {nodeid}")


def pytest_collection_finish(session: object) -> None:
    """Move what collection loaded (service models, modules) out of the collector's way.

    Long-lived objects are scanned again by every full collection; frozen, they are not.
    The fault suite creates many short-lived objects, so this saves a fifth of its time.
    """
    del session
    if os.environ.get("PCR_TEST_FAST") == "1":
        # the guard's moto, loaded here rather than in the first test's time budget (a run of
        # the whole tree has loaded it already, collecting moto's users)
        import moto.core.models  # noqa: F401

    gc.collect()
    gc.freeze()


# -- the fault suite's counters, summed over pytest-xdist's workers ------------------------------


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: send this process's fault-suite counters to the controller."""
    counts = session.config.stash.get(COUNTS_KEY, None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if counts is not None and isinstance(workeroutput, dict):
        workeroutput[WIRE_KEY] = counts.to_wire()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """In pytest-xdist's controller: add a finished worker's counters to the session's."""
    del error
    wire = getattr(node, "workeroutput", {}).get(WIRE_KEY)
    config = getattr(node, "config", None)
    if wire is not None and isinstance(config, pytest.Config):
        counts_of(config).add(wire)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The unit tests over budget (`make test-fast`), and the fault-injection suite's counts
    when it ran (in this process or in pytest-xdist's workers)."""
    _slow_unit_tests(terminalreporter)
    if hasattr(config, "workeroutput"):
        return  # a worker: its controller prints the sum
    counts = config.stash.get(COUNTS_KEY, None)
    if counts is None:
        return
    terminalreporter.write_sep("-", "fault-injection suite")
    for line in counts.lines():
        terminalreporter.write_line(line)
