"""The watching process of tests/scenarios/local/test_watcher_processes.py: it attaches to a
batch on the local backend its environment points at and waits for it (what `pcr wait`
does), then prints what it saw.

argv: <batch id> <queue> <bucket>. Prints `attached <n>`, then one JSON line: the outputs by
index and each job's status.
"""

import json
import sys

from pcr_sdk import JobSubmitter, SilentProgress


def _say(*words: object) -> None:
    """One line to the test, at once (it reads as it goes)."""
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()


def main() -> None:
    batch_id, queue, bucket = sys.argv[1:4]
    watcher = JobSubmitter.attach(
        batch_id, job_queue=queue, job_bucket=bucket, polling_interval_seconds=0.2,
        progress=SilentProgress(),
    )  # fmt: skip
    _say("attached", len(watcher.jobs))
    watcher.wait_until_jobs_finished(timeout=120)
    results = watcher.get_results()
    _say(json.dumps({
        "statuses": sorted(r.status.value for r in results),
        "outputs": [watcher.get_output(j.job_id)
                    for j in sorted(watcher.jobs, key=lambda j: j.index)],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
