"""Every public name has a docstring: the API reference (docs/api/) is generated from them.

Public: every name in the `__all__` of the documented modules, and the public methods and
properties (no leading underscore) that the public classes define themselves.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

import pytest

DOCUMENTED = (
    "pcr_sdk",
    "pcr_sdk.advanced",
    "pcr_sdk.worker",
    "pcr_sdk.testing",
    "pcr_sdk.local",
    "pcr_sdk.infra",
)


def _doc(value: object) -> str:
    return (getattr(value, "__doc__", None) or "").strip()


def public_members(cls: type) -> Iterator[tuple[str, object]]:
    """The methods and properties `cls` itself defines whose names do not start with `_`."""
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, staticmethod | classmethod):
            yield name, member.__func__
        elif isinstance(member, property) or inspect.isfunction(member):
            yield name, member


def public_names() -> Iterator[tuple[str, object]]:
    """(qualified name, object) of every documented module, name and member."""
    for module_name in DOCUMENTED:
        module = importlib.import_module(module_name)
        yield module_name, module
        for name in module.__all__:
            value = getattr(module, name)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue  # constants and __version__: described by their module
            yield f"{module_name}.{name}", value
            if inspect.isclass(value):
                for member_name, member in public_members(value):
                    yield f"{module_name}.{name}.{member_name}", member


def test_every_public_name_has_a_docstring() -> None:
    missing = [name for name, value in public_names() if not _doc(value)]
    assert not missing, f"public names without a docstring: {missing}"


@pytest.mark.parametrize("module_name", DOCUMENTED)
def test_the_check_sees_each_modules_names(module_name: str) -> None:
    names = [n for n, _ in public_names() if n.startswith(f"{module_name}.")]
    assert len(names) >= len(importlib.import_module(module_name).__all__) // 2
