"""ListJobs and DescribeJobDefinitions paging, as AWS Batch documents them.

ListJobs takes one filter at a time; with it, `jobStatus` is ignored and the newest jobs come
first; without it, the jobs in `jobStatus` (RUNNING by default) are listed. A page holds up to
100 summaries with a filter and up to 1000 without. DescribeJobDefinitions pages hold 1 to 100.

Paging tokens name the last item returned by its immutable sequence number (submission or
registration order), never a position in a list, so jobs finishing or definitions being
deregistered between two pages neither skip nor repeat an item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pcr_sdk._private.wire import facts
from pcr_sdk.local import _checks as check
from pcr_sdk.local import _refusals as refusal
from pcr_sdk.local._model import Definition, Job
from pcr_sdk.local._wire import JsonObject

JobFilter = Callable[[Job], bool]


def _prefix_or_exact(value: str, text: str, *, fold: bool) -> bool:
    if fold:
        value, text = value.casefold(), text.casefold()
    if value.endswith("*"):
        return text.startswith(value[:-1])
    return text == value


def job_filter(entry: object) -> JobFilter:
    """The one ListJobs filter, as a predicate on jobs."""
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
        raise refusal.WRONG_TYPE.refuse(member="filters", kind="a name and values each")
    name = entry.get("name")
    values = [str(value) for value in entry["values"]]
    if name not in facts.LIST_JOBS_FILTER_NAMES:
        raise refusal.LIST_FILTER_NAME.refuse(name=name)
    if name == "JOB_NAME":  # case-insensitive, `*` at the end for a prefix
        return lambda job: any(_prefix_or_exact(v, job.name, fold=True) for v in values)
    if name == "JOB_DEFINITION":
        return lambda job: any(_definition_matches(v, job.definition) for v in values)
    if name == "SHARE_IDENTIFIER":
        return lambda job: False  # the local queue has no fair-share policy: no job has one
    try:
        bound = int(values[0])
    except (IndexError, ValueError) as err:
        raise refusal.LIST_FILTER_VALUE.refuse(name=name) from err
    if name == "BEFORE_CREATED_AT":
        return lambda job: job.created_at < bound
    return lambda job: job.created_at > bound


def _definition_matches(value: str, definition: Definition) -> bool:
    """A name (any revision, `*` for a prefix), `name:revision`, or an ARN (case sensitive)."""
    if value.startswith("arn:"):
        reference = value.rsplit("job-definition/", 1)[-1]
        name, _, revision = reference.partition(":")
        return name == definition.name and (not revision or revision == str(definition.revision))
    name, _, revision = value.partition(":")
    if revision:
        return name == definition.name and revision == str(definition.revision)
    return _prefix_or_exact(value, definition.name, fold=False)


def list_jobs(params: JsonObject, candidates: Iterable[Job]) -> JsonObject:
    """One ListJobs page of `candidates` (a queue's top-level jobs or an array's children)."""
    filters = params.get("filters") or []
    if not isinstance(filters, list):
        raise refusal.WRONG_TYPE.refuse(member="filters", kind="a list")
    if len(filters) > 1:
        raise refusal.LIST_FILTER_COUNT.refuse(count=len(filters))
    status = params.get("jobStatus")
    if status is not None and status not in facts.BATCH_STATUSES:
        raise refusal.JOB_STATUS.refuse(status=status)
    if filters:
        matches = job_filter(filters[0])
        cap = facts.LIST_JOBS_MAX_RESULTS_FILTERED
    else:
        wanted = status or facts.LIST_JOBS_DEFAULT_STATUS
        matches = lambda job: job.status.value == wanted  # noqa: E731 - like the other filters
        cap = facts.LIST_JOBS_MAX_RESULTS
    limit = check.max_results(params, cap=cap, clamp=True)
    newest_first = bool(filters)
    ordered = sorted(candidates, key=lambda job: job.seq, reverse=newest_first)
    token = params.get("nextToken")
    after = check.decode_token("jobs", token) if token else None
    page: list[Job] = []
    more = False
    for job in ordered:
        if after is not None and (job.seq >= after if newest_first else job.seq <= after):
            continue
        if not matches(job):
            continue
        if len(page) == limit:
            more = True
            break
        page.append(job)
    result: JsonObject = {"jobSummaryList": [job.summary() for job in page]}
    if more:
        result["nextToken"] = check.encode_token("jobs", page[-1].seq)
    return result


def describe_job_definitions(
    params: JsonObject, revisions_by_name: dict[str, list[Definition]]
) -> JsonObject:
    """One DescribeJobDefinitions page, in registration order."""
    wanted_status = params.get("status")
    if params.get("jobDefinitions"):
        found: list[Definition] = []
        for reference in params["jobDefinitions"]:
            text = str(reference)
            name = text.rsplit("job-definition/", 1)[-1].partition(":")[0]
            found += [d for d in revisions_by_name.get(name, []) if _definition_matches(text, d)]
    elif params.get("jobDefinitionName"):
        found = list(revisions_by_name.get(str(params["jobDefinitionName"]), []))
    else:
        found = [d for revisions in revisions_by_name.values() for d in revisions]
    limit = check.max_results(params, cap=facts.DESCRIBE_JOB_DEFINITIONS_MAX_RESULTS, clamp=False)
    token = params.get("nextToken")
    after = check.decode_token("definitions", token) if token else 0
    selected = sorted(
        (
            d
            for d in found
            if d.seq > after and (wanted_status is None or d.status == wanted_status)
        ),
        key=lambda d: d.seq,
    )
    page = selected[:limit]
    result: JsonObject = {"jobDefinitions": [d.describe() for d in page]}
    if len(selected) > limit:
        result["nextToken"] = check.encode_token("definitions", page[-1].seq)
    return result
