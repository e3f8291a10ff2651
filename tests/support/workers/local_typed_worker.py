"""A typed worker (on `tests.support.light_s3`): pydantic models in and out; `mode` plays a Spot
reclaim or a bug.

spot  the first attempt waits (to be reclaimed by the test); later attempts succeed
bug   exits with code 3 on every attempt
ok    returns at once (after `pause` seconds)
"""

import os
import sys
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from pcr_sdk.worker import run

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the checkout: tests.support
from tests.support.light_s3 import light_s3


class Task(BaseModel):
    x: int
    y: int = 0
    pause: float = 0.0
    mode: Literal["ok", "spot", "bug"] = "ok"


class Result(BaseModel):
    total: int
    attempt: int


def handler(task: Task) -> Result:
    attempt = int(os.environ.get("AWS_BATCH_JOB_ATTEMPT", "1"))
    if task.mode == "spot" and attempt == 1:
        sys.stdout.write("waiting to be reclaimed\n")
        sys.stdout.flush()
        time.sleep(600)
    if task.mode == "bug":
        sys.exit(3)
    time.sleep(task.pause)
    return Result(total=task.x + task.y, attempt=attempt)


if __name__ == "__main__":
    run(handler, s3=light_s3())
