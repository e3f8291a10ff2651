"""The submitting process of tests/scenarios/local/test_watcher_processes.py: it starts a batch
on the local backend its environment points at, submits a first wave, waits for the test's
go-ahead file, submits a second wave, then waits for its batch (which closes it).

argv: <queue> <bucket> <go file>. Prints `batch <id>`, `wave 1`, `wave 2`, `done <n>`.
"""

import sys
import time
from pathlib import Path

from pcr_sdk import JobSubmitter, SilentProgress


def _say(*words: object) -> None:
    """One line to the test, at once (it reads as it goes)."""
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()


def main() -> None:
    queue, bucket, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    with JobSubmitter(
        "watched", queue, "pcr-local", bucket, polling_interval_seconds=0.2,
        request_throttling_milliseconds=0, vcpus=1, gpus=0, progress=SilentProgress(),
    ) as submitter:  # fmt: skip
        _say("batch", submitter.get_batch_id())
        submitter.submit_jobs([{"x": n, "y": 1} for n in range(3)], array=False)
        _say("wave 1")
        deadline = time.monotonic() + 60
        while not go.exists():
            if time.monotonic() > deadline:
                sys.exit("no go-ahead within 60 s")
            time.sleep(0.05)
        submitter.submit_jobs([{"x": n, "y": 1} for n in range(3, 6)], array=False)
        _say("wave 2")
        submitter.wait_until_jobs_finished(timeout=120)
        _say("done", len(submitter.jobs))


if __name__ == "__main__":
    main()
