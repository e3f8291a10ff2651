"""A test worker (pcr_sdk.worker, on the standard library's S3 client `tests.support.light_s3`):
marks its pid (and a grandchild's) in a directory, sleeps.

Input: {"marks": DIR, "sleep": SECONDS, "grandchild": bool}; output: {"slept": SECONDS}.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pcr_sdk.worker import run

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the checkout: tests.support
from tests.support.light_s3 import light_s3

SLEEPER = "import time; time.sleep(300)"


def handler(data: dict[str, Any]) -> dict[str, Any]:
    marks = Path(data["marks"])
    (marks / f"worker-{os.getpid()}").write_text("", encoding="utf-8")
    if data.get("grandchild"):
        child = subprocess.Popen([sys.executable, "-c", SLEEPER])
        (marks / f"grandchild-{child.pid}").write_text("", encoding="utf-8")
    time.sleep(float(data["sleep"]))
    return {"slept": data["sleep"]}


if __name__ == "__main__":
    run(handler, s3=light_s3())
