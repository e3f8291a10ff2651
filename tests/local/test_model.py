"""The engine's model of definitions and jobs: `Ref::` parameters in commands."""

from __future__ import annotations

from pcr_sdk.local._model import Definition


def test_ref_arguments_are_substituted_whole() -> None:
    definition = Definition(
        seq=1, name="d", revision=1, arn="arn", type="container",
        container={"image": "i", "command": ["run", "Ref::a", "x-Ref::a", "Ref::unknown"]},
        retry=None, timeout=None, parameters={}, tags={}, propagate_tags=False,
        platform_capabilities=["EC2"],
    )  # fmt: skip
    assert definition.command({"a": "A"}) == ("run", "A", "x-Ref::a", "Ref::unknown")
