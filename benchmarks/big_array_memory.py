"""What submitting a big array costs in memory: the submitting process's peak resident memory
while `submit_jobs` packs and uploads the inputs of one array, against the inputs' own size.

The S3 it uploads to is a `LocalBackend` in a child process (moto keeps every object in
memory: in this process it would be counted too), its jobs not started (`run_jobs=False`). The
inputs are built first (`--inputs` strings of `--kib` KiB each, as dicts); then the resident
memory is sampled every 10 ms from /proc while `submit_jobs` runs. Printed: the inputs' JSON
size, the memory before the submission (the inputs in memory), the peak during it, and what
the submission added. Linux only (/proc); one run, on a shared machine: read the ratio.

    .venv/bin/python benchmarks/big_array_memory.py [--inputs 6000] [--kib 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

from pcr_sdk import AwsClients, JobSubmitter, SilentProgress

MIB: Final = 1024 * 1024
SERVER: Final = """
import json, sys
from pcr_sdk.local import LocalBackend
with LocalBackend(run_jobs=False) as backend:
    print(json.dumps({"env": backend.client_environment(), "queue": backend.queue,
                      "bucket": backend.bucket}), flush=True)
    sys.stdin.read()
"""


def resident_mib() -> float:
    """This process's resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakSampler:
    """The highest resident memory seen, sampled every 10 ms on a thread."""

    def __init__(self) -> None:
        self.peak = resident_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, resident_mib())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, resident_mib())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=6000)
    parser.add_argument("--kib", type=int, default=100)
    args = parser.parse_args()
    start = resident_mib()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        found = json.loads(server.stdout.readline())
        os.environ.update(found["env"])
        inputs = [{"n": n, "payload": "x" * (args.kib * 1024)} for n in range(args.inputs)]
        size = sum(len(json.dumps(i, separators=(",", ":"))) for i in inputs) / MIB
        before = resident_mib()
        clients = AwsClients.from_session()
        with JobSubmitter(
            "bigarray", found["queue"], "pcr-local", found["bucket"], clients=clients,
            progress=SilentProgress(), vcpus=1, gpus=0,
        ) as submitter:  # fmt: skip
            ready = resident_mib()
            with PeakSampler() as sampler:
                submitter.submit_jobs(inputs)
            submitter.detach()
        sys.stdout.write(
            f"one array of {args.inputs} inputs, {size:.0f} MiB of JSON\n"
            f"  resident at start (Python, pcr_sdk imported):      {start:.0f} MiB\n"
            f"  resident with the inputs built:                     {before:.0f} MiB\n"
            f"  resident with the clients and the JobSubmitter:     {ready:.0f} MiB\n"
            f"  peak while submit_jobs ran:                         {sampler.peak:.0f} MiB\n"
            f"  added by submit_jobs:                               {sampler.peak - ready:.0f} MiB "
            f"({(sampler.peak - ready) / size:.2f}x the inputs' JSON)\n"
            f"  peak against the inputs' JSON size:                 "
            f"+{sampler.peak - size:.0f} MiB\n"
        )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
