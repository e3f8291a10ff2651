"""Fails (exit code 5) while the file its input names exists; else answers with its number."""

import os
import sys
from typing import Any

from pcr_sdk.worker import run


def handler(data: Any) -> dict[str, int]:
    if data.get("broken_while") and os.path.exists(data["broken_while"]):
        sys.exit(5)
    return {"n": data["n"]}


if __name__ == "__main__":
    run(handler)
