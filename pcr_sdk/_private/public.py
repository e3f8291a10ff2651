"""`@public(home)`: the module users import a name from, as its `__module__`."""

from __future__ import annotations

import sys
from collections.abc import Callable
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
