"""`@public(home)`: a public name shows its home as its `__module__`, and a class's string
annotations still resolve."""

from __future__ import annotations

import typing

from pcr_sdk._private.public import public


class Helper:
    """A name only this module holds: the annotation below must resolve here, not in the home."""


@public("pcr_sdk.somewhere")
class Shown:
    """A class whose home is another module."""

    helper: Helper
    later: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821 - left as a string


@public("pcr_sdk.somewhere")
def shown() -> None:
    """A function whose home is another module."""


def test_a_public_name_names_its_home() -> None:
    assert Shown.__module__ == shown.__module__ == "pcr_sdk.somewhere"
    assert repr(Shown) == "<class 'pcr_sdk.somewhere.Shown'>"


def test_annotations_are_resolved_where_they_were_written() -> None:
    annotations = vars(Shown)["__annotations__"]
    assert annotations["helper"] is Helper  # resolved before __module__ changed
    assert annotations["later"] == "NotDefinedAnywhere"  # unresolvable: left as it was
    assert typing.get_type_hints(Shown, localns={"NotDefinedAnywhere": int})["helper"] is Helper
