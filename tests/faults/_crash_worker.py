"""The container of the crash test's jobs: reads its input through `pcr_sdk.worker` (so the
input must be in S3; with `tests.support.light_s3`) and answers `expected_output` of its
number."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pcr_sdk.worker import run

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: tests.support
from tests.support.light_s3 import light_s3


def handler(data: Any) -> dict[str, int]:
    n = int(data["n"])
    return {"n": n, "sq": n * n}  # tests.support.aws_view.expected_output, without its imports


if __name__ == "__main__":
    run(handler, s3=light_s3())
