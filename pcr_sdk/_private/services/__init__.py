"""The four services `JobSubmitter` is a facade over, each usable on its own, and `LogReader`.

`BatchRegistry` (the job definition), `InputStore` (the batch's S3 objects), `Submitter`
(SubmitJob and stopping jobs), `Poller` (DescribeJobs). None imports the facade or `batch/`.
"""
