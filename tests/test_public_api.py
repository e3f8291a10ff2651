"""`pcr_sdk.__all__` and `pcr_sdk.advanced.__all__` are exactly the public surface (two tiers),
every name in them exists, and the poll internals that moved to the second tier still resolve
from `pcr_sdk` with a `DeprecationWarning` (docs/compatibility.md), used nowhere in this
repository."""

from __future__ import annotations

import ast
import importlib
import importlib.resources
import re
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

import pcr_sdk

EXPECTED = {
    "AccessDeniedError", "AwsClients", "AwsConnectionError", "AwsError", "BatchClosedError",
    "BatchId", "BatchName", "BucketNotFoundError", "InvalidBatchNameError",
    "InvalidJobSpecError", "JobNotFoundError", "JobQueueNotFoundError", "JobResult", "JobStatus",
    "JobSubmitter", "OutputError", "OutputMalformedError", "OutputNotFoundError", "PcrError",
    "PcrInputError", "PrintProgress", "RateGovernor", "SilentProgress", "ThrottledError",
    "UnknownDependencyError", "WaitTimeoutError", "WorkerEnvironmentError", "__version__",
    "FailureKind", "S3Encryption", "BatchStatus", "CredentialsError",
    "CredentialsExpiredError", "ManifestError", "ManifestVersionError", "PackError",
    "RetryPolicy", "RetryRule", "InterruptedBySignal", "handle_signals",
    # the services JobSubmitter is a facade over, each usable on its own (also in advanced)
    "BatchLayout", "BatchRegistry", "InputStore", "JobDefinitionSpec", "JobSpec", "LogReader",
    "Poller", "Submitter",
}  # fmt: skip
DEPRECATED = {"JobState", "PollProgress", "ProgressReporter", "SubmittedJob"}
"""Poll internals pcr-sdk 0.1.0 exported from `pcr_sdk`: now in `pcr_sdk.advanced` only."""
ADVANCED = DEPRECATED | {
    "BatchLayout", "BatchRegistry", "InputStore", "JobDefinitionSpec", "JobSpec", "LogReader",
    "Poller", "Submitter",
}  # fmt: skip
"""The second tier: the poll internals and the services, what composing them takes."""
ROOT = Path(__file__).resolve().parents[1]


def test_all_is_exactly_the_public_surface() -> None:
    assert set(pcr_sdk.__all__) == EXPECTED
    public = {
        name
        for name, value in vars(pcr_sdk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert public <= EXPECTED | {"__version__"}
    for name in pcr_sdk.__all__:
        assert hasattr(pcr_sdk, name), name


def test_the_second_tier_is_exactly_its_names_and_each_resolves() -> None:
    advanced = importlib.import_module("pcr_sdk.advanced")
    assert set(advanced.__all__) == ADVANCED
    assert ADVANCED & set(pcr_sdk.__all__) == ADVANCED - DEPRECATED
    for name in advanced.__all__:
        assert getattr(advanced, name).__name__ == name
    for name in ADVANCED - DEPRECATED:  # one object, two homes
        assert getattr(pcr_sdk, name) is getattr(advanced, name)


@pytest.mark.parametrize("name", sorted(DEPRECATED))
def test_the_old_path_still_works_and_warns_naming_the_new_home(name: str) -> None:
    advanced = importlib.import_module("pcr_sdk.advanced")
    with pytest.warns(DeprecationWarning, match=rf"pcr_sdk\.{name} .*pcr_sdk\.advanced") as caught:
        value = getattr(pcr_sdk, name)
    assert value is getattr(advanced, name)
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert name not in vars(pcr_sdk)  # not cached: every use warns, not only the first
    assert name not in dir(pcr_sdk)


def test_from_import_of_a_deprecated_name_warns() -> None:
    with pytest.warns(DeprecationWarning, match="import it from pcr_sdk.advanced"):
        from pcr_sdk import JobState  # noqa: F401


def test_the_first_tier_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in pcr_sdk.__all__:
            getattr(pcr_sdk, name)


def _deprecated_uses(path: Path) -> list[str]:
    """Where a file imports or reads a deprecated name through `pcr_sdk`."""
    text = path.read_text(encoding="utf-8")
    if not re.search(rf"\b({'|'.join(DEPRECATED)})\b", text):
        return []  # most files: nothing to parse
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module == "pcr_sdk" and node.level == 0:
            found += [f"{path}:{node.lineno}: {a.name}" for a in node.names if a.name in DEPRECATED]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "pcr_sdk"
            and node.attr in DEPRECATED
        ):
            found.append(f"{path}:{node.lineno}: {node.attr}")
    return found


def test_nothing_in_the_repository_uses_the_deprecated_path() -> None:
    """Also code that never runs under pytest (tests/typing, TYPE_CHECKING blocks) and the
    Markdown pages' snippets."""
    found: list[str] = []
    for folder in ("pcr_sdk", "tests", "examples", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name != "test_public_api.py":
                found += _deprecated_uses(path)
    names = "|".join(sorted(DEPRECATED))
    text_use = re.compile(rf"from pcr_sdk import [^\n]*\b({names})\b|\bpcr_sdk\.({names})\b")
    for page in sorted([*ROOT.glob("*.md"), *(ROOT / "docs").rglob("*.md"),
                        *(ROOT / "examples").rglob("*.md")]):  # fmt: skip
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if text_use.search(line) and "deprecated" not in line.lower():
                found.append(f"{page}:{number}: {line.strip()}")
    assert not found


def test_every_error_derives_from_the_root() -> None:
    errors = [getattr(pcr_sdk, n) for n in pcr_sdk.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, pcr_sdk.PcrError) for e in errors)


def test_worker_module_is_public_and_light() -> None:
    worker = importlib.import_module("pcr_sdk.worker")
    assert set(worker.__all__) == {"JobContext", "run"}


@pytest.mark.subprocess
def test_importing_the_worker_loads_nothing_of_the_submitting_side() -> None:
    """A job's container imports `pcr_sdk.worker`: no facade, no pydantic, no CLI libraries."""
    probe = (
        "import sys, pcr_sdk.worker\n"
        "heavy = ('pydantic', 'typer', 'rich', 'moto', 'pcr_sdk._private.facade',"
        " 'pcr_sdk._private.model', 'pcr_sdk.cli._app')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_public_names_resolve_lazily_and_only_once() -> None:
    with pytest.raises(AttributeError):
        _ = pcr_sdk.NotAName
    assert pcr_sdk.JobSubmitter is pcr_sdk.JobSubmitter
    assert set(dir(pcr_sdk)) >= set(pcr_sdk.__all__)


def test_package_ships_py_typed() -> None:
    assert importlib.resources.files("pcr_sdk").joinpath("py.typed").is_file()
