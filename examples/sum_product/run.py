"""Run the sum_product batch: locally by default (no AWS account), or on AWS Batch with --aws.

python examples/sum_product/run.py                       # local, plain-boto3 worker
python examples/sum_product/run.py --worker sdk          # local, pcr_sdk.worker worker
python examples/sum_product/run.py --aws --queue Q --bucket B --image IMG [--region R]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pcr_sdk import JobSubmitter, PrintProgress, handle_signals

HERE = Path(__file__).resolve().parent


def load_jobs(path: Path) -> list[Any]:
    """One JSON input per line (a UTF-8 byte order mark is fine)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8-sig").splitlines()]


def run_batch(submitter: JobSubmitter, jobs: Sequence[Any]) -> list[Any]:
    """Submit every job, wait, and return the parsed outputs (None for a failed job).

    `handle_signals(owns=True)`: Ctrl-C or SIGTERM cancels the batch before the script ends.
    """
    with handle_signals(submitter, owns=True):
        submitter.submit_jobs(jobs, array=False)  # concurrently, any worker
        submitter.wait_until_jobs_finished()
    return [None if out is None else json.loads(out) for out in submitter.get_all_outputs()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--aws", action="store_true", help="run on AWS Batch instead of locally")
    parser.add_argument("--queue", help="AWS Batch job queue (with --aws)")
    parser.add_argument("--bucket", help="S3 job bucket (with --aws)")
    parser.add_argument("--image", help="the worker's container image (with --aws)")
    parser.add_argument("--region", help="AWS region (with --aws; default: configured)")
    parser.add_argument(
        "--worker", choices=["plain", "sdk"], default="plain", help="local worker flavour"
    )
    parser.add_argument("--jobs", type=Path, default=HERE / "jobs.jsonl", help="JSONL inputs")
    args = parser.parse_args(argv)
    jobs = load_jobs(args.jobs)
    progress = PrintProgress(sys.stderr)  # "Jobs finished: 2/3", as the original printed

    if args.aws:
        if not (args.queue and args.bucket and args.image):
            parser.error("--aws needs --queue, --bucket and --image")
        with JobSubmitter(
            "sum-product",
            args.queue,
            args.image,
            args.bucket,
            aws_region=args.region,
            polling_interval_seconds=10,
            vcpus=1,
            gpus=0,
            progress=progress,
        ) as submitter:
            outputs = run_batch(submitter, jobs)
    else:
        from pcr_sdk.local import LocalBackend  # noqa: PLC0415 - needs the `local` extra

        worker = HERE / f"worker_{args.worker}.py"
        with (
            LocalBackend([sys.executable, str(worker)]) as backend,
            # laptop defaults: a poll every 0.2 s, 1 vCPU and no GPU per job
            backend.job_submitter("sum-product", progress=progress) as submitter,
        ):
            outputs = run_batch(submitter, jobs)

    for data, output in zip(jobs, outputs, strict=True):
        print(json.dumps(data), "->", json.dumps(output))
    return 0 if all(output is not None for output in outputs) else 1


if __name__ == "__main__":
    sys.exit(main())
