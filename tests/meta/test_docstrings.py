"""Every public name has a docstring: the API reference (docs/api/) is generated from them.

What pydoclint (`make lint`, `[tool.pydoclint]`) checks is not repeated here: that a docstring
with sections names every argument, the return value or what it yields, in Google style. A
docstring that is only a summary is not checked by it; so this module holds what it leaves:

- every public name (the `__all__` of the documented modules, and the public methods and
  properties the public classes define) has a docstring, and every public field of a public
  dataclass or pydantic model one right below it (the reference lists it as an attribute);
- the facade, the services and the worker keep their sections: each of their public
  callables that takes arguments or returns a value has `Args:`/`Returns:` sections (pydoclint
  then checks them), or says "as for `other`"; properties, and the services' one-line
  helpers, may be a summary alone;
- every exception class a public callable's own source raises by name (`raise SomeError(...)`)
  is in its `Raises:` section. The section may name more (errors raised deeper down are the
  contract too), which is why pydoclint's raise checks are off (`skip-checking-raises`).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import enum
import importlib
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from pydantic import BaseModel

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


def sections(doc: str) -> dict[str, set[str]]:
    """The sections of `doc`, each with the names its entries (`name: ...`, indented one
    level) start with."""
    found: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in inspect.cleandoc(doc).splitlines():
        if match := re.fullmatch(r"(\w+):\s*", line):
            current = found.setdefault(match[1], set())
        elif line and not line.startswith(" "):
            current = None  # prose after the section
        elif current is not None and (entry := re.match(r" {4}\**(\w+)( \(.*?\))?:", line)):
            current.add(entry[1])
    return found


def exempt(cls: type) -> bool:
    """Whether `cls`'s constructor need not list its parameters (see the module's docstring)."""
    return (
        issubclass(cls, BaseModel | enum.Enum | BaseException)
        or dataclasses.is_dataclass(cls)
        or bool(getattr(cls, "_is_protocol", False))
    )


def callables() -> Iterator[tuple[str, Callable[..., Any], str]]:
    """(name, function, docstring) of every public function, method and constructor."""
    for name, value in public_names():
        if inspect.isfunction(value):
            yield name, value, value.__doc__ or ""
        elif inspect.isclass(value) and "__init__" in vars(value) and not exempt(value):
            init = vars(value)["__init__"]
            doc = "\n\n".join(inspect.cleandoc(d or "") for d in (value.__doc__, init.__doc__))
            yield name, init, doc


def raised(function: Callable[..., Any]) -> set[str]:
    """The exception classes `function`'s own source raises by name (`raise SomeError(...)`)."""
    function = inspect.unwrap(function)
    scope = {**vars(builtins), **function.__globals__}
    errors = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))):
        if isinstance(node, ast.Raise):
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = exc.id if isinstance(exc, ast.Name) else ""
            if isinstance(error := scope.get(name), type) and issubclass(error, BaseException):
                errors.add(name)
    return errors


SECTIONED: Final = ("pcr_sdk.JobSubmitter", "pcr_sdk.worker")
"""The facade and the worker: each public callable keeps its sections."""
SERVICES: Final = (
    "pcr_sdk.advanced.BatchRegistry", "pcr_sdk.advanced.InputStore",
    "pcr_sdk.advanced.Submitter", "pcr_sdk.advanced.Poller", "pcr_sdk.advanced.LogReader",
)  # fmt: skip
"""The services: each public callable keeps its sections, but a one-line helper."""


def one_line(function: Callable[..., Any]) -> bool:
    """Whether `function`'s body is one statement, its docstring aside."""
    node = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(function)))).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return len(body) == 1


def test_the_facade_the_services_and_the_worker_keep_their_sections() -> None:
    missing = []
    for name, function, doc in callables():
        if not name.startswith(SECTIONED) and not (
            name.startswith(SERVICES) and not one_line(function)
        ):
            continue
        signature, found = inspect.signature(function), sections(doc)
        takes = [p for p in signature.parameters if p not in {"self", "cls"}]
        if takes and "Args" not in found and "as for `" not in doc:
            missing.append(f"{name}: Args")
        returns = signature.return_annotation
        if function.__name__ != "__init__" and returns not in {"None", None, signature.empty}:
            missing += [] if found.keys() & {"Returns", "Yields"} else [f"{name}: Returns"]
    assert not missing, f"{len(missing)} sections missing: {missing}"


def test_every_error_a_public_callable_raises_is_in_its_raises_section() -> None:
    missing = [
        f"{name}: Raises {error}"
        for name, function, doc in callables()
        for error in sorted(raised(function) - sections(doc).get("Raises", set()))
    ]
    assert not missing, f"{len(missing)} errors not described: {missing}"


def class_node(cls: type) -> ast.ClassDef:
    """`cls`'s definition, found in the package's sources: its `__module__` names its public
    home (`pcr_sdk`), not the file that defines it, so `inspect.getsource` cannot find it."""
    package = Path(inspect.getfile(importlib.import_module("pcr_sdk"))).parent
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if f"class {cls.__name__}" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                return node
    raise LookupError(f"no definition of class {cls.__name__}")


def undocumented_fields(cls: type) -> list[str]:
    """The public fields `cls`'s own body declares without a docstring right below them."""
    body = class_node(cls).body
    return [
        node.target.id
        for node, after in zip(body, [*body[1:], None], strict=True)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and not node.target.id.startswith("_")
        and not (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant))
    ]


def test_every_field_is_described() -> None:
    missing = [
        f"{name}.{field}"
        for name, value in public_names()
        if inspect.isclass(value)
        and (dataclasses.is_dataclass(value) or issubclass(value, BaseModel))
        for field in undocumented_fields(value)
    ]
    assert not missing, f"fields without a docstring: {missing}"


def test_every_public_name_has_a_docstring() -> None:
    missing = [name for name, value in public_names() if not _doc(value)]
    assert not missing, f"public names without a docstring: {missing}"


@pytest.mark.parametrize("module_name", DOCUMENTED)
def test_the_check_sees_each_modules_names(module_name: str) -> None:
    names = [n for n, _ in public_names() if n.startswith(f"{module_name}.")]
    assert len(names) >= len(importlib.import_module(module_name).__all__) // 2
