"""The same worker written with pcr-sdk: `run` reads the input and writes the output."""

from __future__ import annotations

from pcr_sdk.worker import run


def handler(data: dict[str, int]) -> dict[str, int]:
    """{"x": 2, "y": 3} -> {"x+y": 5, "x*y": 6}."""
    return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}


if __name__ == "__main__":
    run(handler)
