"""The seed's "stop all" script (CONTRACT.md), in plain boto3 with the default credential chain.

Usage: python stop_all.py QUEUE (a name or an ARN). Pages through ListJobs with
jobStatus=RUNNABLE, 50 jobs a page, and terminates each job as it goes, one line per job.
"""

import sys

import boto3


def main(queue: str) -> None:
    batch = boto3.client("batch")
    pages = batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, jobStatus="RUNNABLE", PaginationConfig={"PageSize": 50}
    )
    for page in pages:
        for job in page["jobSummaryList"]:
            batch.terminate_job(jobId=job["jobId"], reason="Manual cancellation.")
            print(f"Terminated job {job['jobName']} ({job['jobId']})")  # noqa: T201 - as the seed


if __name__ == "__main__":
    main(sys.argv[1])
