"""`@public(home)`: the module users import a name from, as its `__module__`; `lazy_names`: how
such a module imports its names on first use."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def public(home: str) -> Callable[[T], T]:
    """Give a public class or function the `__module__` of its public home (e.g. `"pcr_sdk"`).

    Reprs, tracebacks, pickles and the documentation then name `pcr_sdk.PcrError`, not the
    private module that defines it (as httpx does); `tests/meta/test_public_api.py` holds every
    public name to its home. A class's string annotations are resolved first, in the module
    that defines it: `typing.get_type_hints` looks names up in `__module__`'s namespace, and
    the home (lazy, or another module) does not hold them.
    """

    def mark(obj: T) -> T:
        if isinstance(obj, type):
            _resolve_annotations(obj)
        obj.__module__ = home  # type: ignore[attr-defined,unused-ignore] # any class or function
        return obj

    return mark


def _resolve_annotations(cls: type) -> None:
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - resolved in place
    namespace = vars(sys.modules[cls.__module__])
    for name, annotation in list(annotations.items()):
        if not isinstance(annotation, str):
            continue
        try:
            annotations[name] = eval(annotation, namespace, dict(vars(cls)))  # noqa: S307 - the class's own source
        except (NameError, AttributeError, TypeError, SyntaxError):
            continue  # a name imported only for type checking: unresolvable at run time anyway


def lazy_names(module: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """The `__getattr__` (PEP 562) of public module `module`: a name in `where` is imported
    from the module `where` names on first use, and kept in `module`; any other raises
    `AttributeError`. `import pcr_sdk` then loads nothing it does not use."""

    def __getattr__(name: str) -> object:
        home = where.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[module], name, value)
        return value

    return __getattr__
