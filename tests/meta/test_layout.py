"""The layout of tests/ (CONTRIBUTING.md, "Layout of tests/"), read from the files (AST, no
import): unit tests beside every module of the core and the engine, one world fixture (the
shipped `moto_world`), one home for helpers and doubles."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
TESTS: Final = ROOT / "tests"
DESELECTED: Final = frozenset({"slow", "subprocess", "integration", "browser", "conformance"})
"""The markers `make test-fast` deselects."""
HELPERS_ELSEWHERE: Final = frozenset({
    "conformance/programs.py", "conformance/scripts.py", "conformance/target.py",
    "faults/_counts.py", "faults/_crash_child.py", "faults/_crash_worker.py",
    "faults/invariants.py", "faults/rules.py", "faults/state.py",
    "infra/_cfn.py", "infra/_iam.py", "infra/_lifecycle.py",
    "report/_fixture.py", "report/_page.py", "typing/public_api.py",
    "typing/wheel/app.py", "typing/wheel/check.py",
})  # fmt: skip
"""Modules that are part of their own suite (its machine, its targets, its pages)."""


def mirrored() -> list[tuple[Path, Path]]:
    """(module, its unit test file) for every module of the core and of the engine."""
    pairs = []
    for module in sorted((ROOT / "pcr_sdk" / "_private").rglob("*.py")):
        if module.name != "__init__.py":
            part = module.relative_to(ROOT / "pcr_sdk" / "_private")
            pairs.append((module, TESTS / "core" / part.parent / f"test_{module.stem}.py"))
    for module in sorted((ROOT / "pcr_sdk" / "local").glob("_*.py")):
        if module.name != "__init__.py":
            pairs.append((module, TESTS / "local" / f"test_{module.stem.lstrip('_')}.py"))
    return pairs


def _marks(nodes: list[ast.expr]) -> set[str]:
    found = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and ast.unparse(sub).startswith("pytest.mark."):
                found.add(sub.attr)
    return found


def unit_tests(path: Path) -> list[str]:
    """The tests of `path` that no marker takes out of `make test-fast`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            module |= _marks([node.value])
    if module & DESELECTED:
        return []
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name.startswith("test_")
        and not _marks(node.decorator_list) & DESELECTED
    ]


@pytest.mark.parametrize(
    ("module", "tests"), mirrored(), ids=[str(m.relative_to(ROOT)) for m, _ in mirrored()]
)
def test_every_module_of_the_core_and_the_engine_has_unit_tests_beside_it(
    module: Path, tests: Path
) -> None:
    assert tests.is_file(), f"{module.relative_to(ROOT)} has no {tests.relative_to(ROOT)}"
    assert unit_tests(tests), f"{tests.relative_to(ROOT)} has no unit test for make test-fast"


def test_the_one_world_fixture_is_the_shipped_one() -> None:
    fixtures = []
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "fixture" not in text or "world" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.FunctionDef)
                and "world" in node.name
                and any("fixture" in ast.unparse(d) for d in node.decorator_list)
            ):
                fixtures.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert fixtures == [], "a test takes `moto_world` (pcr_sdk.testing.fixtures), not its own"


def test_helpers_and_doubles_live_in_tests_support() -> None:
    """Every module under tests/ is a test module, a conftest, tests/support/, a worker script
    there, or part of its own suite's machinery (HELPERS_ELSEWHERE)."""
    strays = [
        relative
        for path in sorted(TESTS.rglob("*.py"))
        if not (relative := path.relative_to(TESTS).as_posix()).startswith("support/")
        and path.name not in ("__init__.py", "conftest.py")
        and not path.name.startswith("test_")
        and relative not in HELPERS_ELSEWHERE
    ]
    assert strays == []
