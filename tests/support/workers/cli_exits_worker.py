"""A test worker (pcr_sdk.worker, on `tests.support.light_s3`) whose handler calls sys.exit(0)
for {"exit": 0}, returns a value JSON cannot hold for {"set": true}, and echoes its input
otherwise."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pcr_sdk.worker import run

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the checkout: tests.support
from tests.support.light_s3 import light_s3


def handler(data: dict[str, Any]) -> object:
    if "exit" in data:
        sys.exit(data["exit"])
    if data.get("set"):
        return {"values": {1, 2}}
    return data


if __name__ == "__main__":
    run(handler, s3=light_s3())
