"""The `pcr` tests' usual job: the examples' sum and product, as a pcr_sdk.worker on the
standard library's S3 client (`tests.support.light_s3`).

{"x": 2, "y": 3} -> {"x+y": 5, "x*y": 6}; an input without "y" fails the job with a KeyError
in its log, as `examples/sum_product/worker_plain.py` does (the tests that name that plain
boto3 worker run it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pcr_sdk.worker import run

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the checkout: tests.support
from tests.support.light_s3 import light_s3


def handler(data: dict[str, Any]) -> dict[str, Any]:
    x, y = data["x"], data["y"]
    return {"x+y": x + y, "x*y": x * y}


if __name__ == "__main__":
    run(handler, s3=light_s3())
