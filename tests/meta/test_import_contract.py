"""The directions of the house, read from the imports of `pcr_sdk` (AST, no import run).

- `_private/wire/` (shared with job containers) and the modules it may use import only the
  standard library: a worker image needs no pydantic and nothing of the submitting side.
- `pcr_sdk.worker` imports only that, boto3/botocore and the error mapping.
- The layers point one way: `wire` < `model` < `edge` < `services` < `batch` < the
  composition root (`assembly`, `facade`); no module imports a layer above its own.
- The local engine (`pcr_sdk.local`) uses the AWS facts, the models and the clients, never the
  SDK's services, batch workflows or facade.
- The CLI uses the public API only (`tests/cli/test_cli_boundaries.py` holds that one).

Imports under `if TYPE_CHECKING:` count too, but for the boto3 stubs (`mypy_boto3_*`).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pcr_sdk"
PRIVATE = "pcr_sdk._private"
STDLIB_SIDE = {f"{PRIVATE}.errors", f"{PRIVATE}.public"}
"""What `wire/` may import besides itself and the standard library."""
LAYERS = ["wire", "model", "edge", "services", "batch", "root"]
"""Lowest first; a module may import its own layer and those below."""
BASE = {f"{PRIVATE}.errors", f"{PRIVATE}.public", f"{PRIVATE}.seams"}
"""Modules below every layer (standard library only)."""
LAYER_OF_TOP_LEVEL = {"progress": "batch", "signals": "root", "assembly": "root", "facade": "root"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache  # each module parsed once for every rule
def imports(path: Path) -> frozenset[str]:
    """Every module `path` imports (absolute names; the stubs of boto3 left out)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return frozenset(name for name in found if not name.startswith("mypy_boto3"))


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


def layer(name: str) -> str | None:
    """The layer of a `pcr_sdk._private` module (None: a base module or not private)."""
    if not name.startswith(f"{PRIVATE}.") or name in BASE:
        return None
    first = name.split(".")[2]
    return first if first in LAYERS else LAYER_OF_TOP_LEVEL.get(first, "root")


def is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or path.is_dir()


def ours(names: Iterable[str]) -> set[str]:
    """The pcr_sdk modules among `names` (`from x import y` may import a module or a name)."""
    return {name for name in names if name.startswith("pcr_sdk") and is_module(name)}


@pytest.mark.parametrize("path", modules("_private/wire"), ids=lambda p: p.name)
def test_wire_imports_only_the_standard_library(path: Path) -> None:
    foreign = {
        name
        for name in imports(path)
        if top(name) not in sys.stdlib_module_names
        and not name.startswith(f"{PRIVATE}.wire")
        and not any(name == s or name.startswith(f"{s}.") for s in STDLIB_SIDE)
    }
    assert not foreign


@pytest.mark.parametrize("name", ["errors.py", "public.py", "seams.py"])
def test_the_base_modules_import_only_the_standard_library(name: str) -> None:
    foreign = {
        n
        for n in imports(PACKAGE / "_private" / name)
        if top(n) not in sys.stdlib_module_names and not n.startswith(f"{PRIVATE}.public")
    }
    assert not foreign


def test_the_worker_loads_nothing_of_the_submitting_side() -> None:
    allowed = (f"{PRIVATE}.wire", f"{PRIVATE}.edge.mapping", *STDLIB_SIDE)
    private = {n for n in ours(imports(PACKAGE / "worker.py")) if n.startswith(PRIVATE)}
    assert {n for n in private if not n.startswith(allowed)} == set()
    foreign = {
        n
        for n in imports(PACKAGE / "worker.py")
        if top(n) not in sys.stdlib_module_names and top(n) not in {"pcr_sdk", "boto3", "botocore"}
    }
    assert not foreign


@pytest.mark.parametrize(
    "path", [p for p in modules("_private") if layer(module_name(p))], ids=module_name
)
def test_no_module_imports_a_layer_above_its_own(path: Path) -> None:
    own = layer(module_name(path))
    assert own is not None
    above = {
        name
        for name in ours(imports(path))
        if (other := layer(name)) is not None and LAYERS.index(other) > LAYERS.index(own)
    }
    assert not above, f"{module_name(path)} ({own}) imports {above}"


def test_services_never_import_the_facade_or_a_batch_workflow() -> None:
    """The design's rule, spelled out: a service is usable on its own."""
    for path in modules("_private/services"):
        wrong = {n for n in ours(imports(path)) if layer(n) in {"batch", "root"}}
        assert not wrong, path.name


@pytest.mark.parametrize("path", modules("local"), ids=lambda p: p.name)
def test_the_local_engine_uses_no_sdk_service_or_workflow(path: Path) -> None:
    wrong = {n for n in ours(imports(path)) if layer(n) in {"services", "batch", "root"}}
    assert not wrong
