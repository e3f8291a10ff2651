"""A worker written with pcr-sdk's worker runtime."""

from typing import Any

from pcr_sdk.worker import run


def handler(data: Any) -> dict[str, int]:
    return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}


if __name__ == "__main__":
    run(handler)
