"""A test worker (pcr_sdk.worker) whose handler calls sys.exit(0) for {"exit": 0}, returns a
value JSON cannot hold for {"set": true}, and echoes its input otherwise."""

from __future__ import annotations

import sys
from typing import Any

from pcr_sdk.worker import run


def handler(data: dict[str, Any]) -> object:
    if "exit" in data:
        sys.exit(data["exit"])
    if data.get("set"):
        return {"values": {1, 2}}
    return data


if __name__ == "__main__":
    run(handler)
