"""`stubs/` (mypy's `mypy_path`) holds stubs only for a dependency that ships no types and has
no `types-*` or `*-stubs` distribution, each naming the version it was written against
(stubs/README.md)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
STUBS: Final = ROOT / "stubs"
HEADER: Final = re.compile(r"# stubs for (?P<distribution>\S+) (?P<version>\S+)\s*$")


def stub_roots(folder: Path) -> dict[str, Path]:
    """Top-level name -> the stub file that names its version (a package's __init__.pyi)."""
    roots: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.name.startswith((".", "_")):
            roots[path.name] = path / "__init__.pyi"
        elif path.suffix == ".pyi":
            roots[path.stem] = path
    return roots


def typed_upstream(name: str) -> str | None:
    """Why `name` needs no stubs here, or None: it ships `py.typed`, or a stub-only package
    (`types-*` from typeshed, or `*-stubs`) installed its `<name>-stubs` folder (PEP 561)."""
    for entry in map(Path, sys.path):
        if (entry / f"{name}-stubs").is_dir():
            return f"{entry.name}/{name}-stubs is installed"
    spec = importlib.util.find_spec(name)
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "py.typed").is_file():
            return f"{name} ships py.typed"
    return None


def problems(folder: Path) -> list[str]:
    found = []
    for name, stub in stub_roots(folder).items():
        first = stub.read_text(encoding="utf-8").splitlines()[:1] if stub.is_file() else []
        if not first or not HEADER.match(first[0]):
            found.append(f"{name}: its first line must be '# stubs for <distribution> <version>'")
        if (why := typed_upstream(name)) is not None:
            found.append(f"{name}: shadows a typed package ({why}); delete the stub")
    return found


def test_stubs_holds_only_what_nothing_else_types() -> None:
    assert problems(STUBS) == []
    assert (STUBS / "README.md").is_file()


def test_a_stub_that_shadows_a_typed_package_or_names_no_version_fails(tmp_path: Path) -> None:
    (tmp_path / "yaml").mkdir()  # types-PyYAML is installed (the dev extra)
    (tmp_path / "yaml" / "__init__.pyi").write_text("# stubs for PyYAML 6.0\n")
    (tmp_path / "pydantic").mkdir()  # ships py.typed
    (tmp_path / "pydantic" / "__init__.pyi").write_text("def f() -> None: ...\n")
    (tmp_path / "untyped_thing.pyi").write_text("# stubs for untyped-thing 1.2\n")
    assert problems(tmp_path) == [
        "pydantic: its first line must be '# stubs for <distribution> <version>'",
        "pydantic: shadows a typed package (pydantic ships py.typed); delete the stub",
        "yaml: shadows a typed package (site-packages/yaml-stubs is installed); delete the stub",
    ]
