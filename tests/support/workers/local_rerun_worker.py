"""Fails (exit code 5) while the file its input names exists; else answers with its number.

A pcr_sdk.worker on `tests.support.light_s3`.
"""

import os
import sys
from pathlib import Path
from typing import Any

from pcr_sdk.worker import run

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the checkout: tests.support
from tests.support.light_s3 import light_s3


def handler(data: Any) -> dict[str, int]:
    if data.get("broken_while") and os.path.exists(data["broken_while"]):
        sys.exit(5)
    return {"n": data["n"]}


if __name__ == "__main__":
    run(handler, s3=light_s3())
