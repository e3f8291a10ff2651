"""A picture of a batch: its jobs' timeline, summary figures and failures, as HTML or JSON.

`ReportJob` holds one job as the report needs it (built from a DescribeJobs entry with
`ReportJob.from_detail`); `BatchReport.build` computes every figure; `render_html` draws one
self-contained page and `BatchReport.to_json` gives the same data for plotting elsewhere.
Nothing here calls AWS: the caller gathers the jobs. docs/report.md describes the page.
"""

from __future__ import annotations

from pcr_sdk.report._html import render_html
from pcr_sdk.report._model import BatchReport, JobTiming, ReportJob

__all__ = ["BatchReport", "JobTiming", "ReportJob", "render_html"]
