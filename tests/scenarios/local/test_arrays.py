"""Array jobs on the local backend: children, index variable, status summary, N_TO_N, SEQUENTIAL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from pcr_sdk.local import LocalBackend
from tests.support.local import Kit, scripted

pytestmark = pytest.mark.subprocess


@pytest.fixture(scope="module")
def local() -> Iterator[LocalBackend]:
    with LocalBackend(scripted("ok"), max_parallel=2) as backend:
        yield backend


@pytest.fixture
def kit(local: LocalBackend) -> Kit:
    return Kit(local)


def test_array_children_run_with_their_index(local: LocalBackend, kit: Kit) -> None:
    parent = kit.submit(kit.definition("fan-out"), name="fan", arrayProperties={"size": 3})
    children = [f"{parent}:{i}" for i in range(3)]

    jobs = kit.wait([parent, *children])

    assert jobs[parent]["status"] == "SUCCEEDED"
    assert jobs[parent]["arrayProperties"]["size"] == 3
    summary = jobs[parent]["arrayProperties"]["statusSummary"]
    assert summary["SUCCEEDED"] == 3
    assert sum(summary.values()) == 3
    for index, child in enumerate(children):
        assert jobs[child]["jobName"] == "fan"
        assert jobs[child]["arrayProperties"] == {"index": index}
        assert kit.log(jobs[child]) == [f"job {child} index {index} ok"]
    listed = local.clients.batch.list_jobs(arrayJobId=parent, jobStatus="SUCCEEDED")
    assert [job["jobId"] for job in listed["jobSummaryList"]] == children
    assert [job["arrayProperties"] for job in listed["jobSummaryList"]] == [
        {"index": i} for i in range(3)
    ]
    queue = local.clients.batch.list_jobs(
        jobQueue=local.queue, filters=[{"name": "JOB_NAME", "values": ["fan"]}]
    )
    assert [job["jobId"] for job in queue["jobSummaryList"]] == [parent]  # children are not
    assert queue["jobSummaryList"][0]["arrayProperties"] == {"size": 3}


def test_sequential_children_run_in_index_order(kit: Kit) -> None:
    parent = kit.batch.submit_job(
        jobName="in-order",
        jobQueue=kit.backend.queue,
        jobDefinition=kit.definition("sequential"),
        arrayProperties={"size": 3},
        dependsOn=[{"type": "SEQUENTIAL"}],
    )["jobId"]
    children = [f"{parent}:{i}" for i in range(3)]

    jobs = kit.wait([parent, *children])

    assert jobs[parent]["status"] == "SUCCEEDED"
    for before, after in itertools.pairwise(children):
        assert jobs[after]["startedAt"] >= jobs[before]["stoppedAt"]
        assert jobs[after]["dependsOn"] == [{"jobId": before, "type": "SEQUENTIAL"}]


def test_n_to_n_child_waits_for_its_peer_and_fails_with_it(kit: Kit) -> None:
    definition = kit.definition("n-to-n")
    first = kit.submit(definition, scripted("fail-index", "1"), arrayProperties={"size": 2})
    second = kit.submit(
        definition, depends_on=[first], dependency_type="N_TO_N", arrayProperties={"size": 2}
    )

    jobs = kit.wait([first, second, *(f"{job}:{i}" for job in (first, second) for i in (0, 1))])

    assert jobs[f"{first}:0"]["status"] == "SUCCEEDED"
    assert jobs[f"{first}:1"]["status"] == "FAILED"
    assert jobs[f"{second}:0"]["status"] == "SUCCEEDED"
    assert jobs[f"{second}:0"]["startedAt"] >= jobs[f"{first}:0"]["stoppedAt"]
    assert jobs[f"{second}:0"]["dependsOn"] == [{"jobId": f"{first}:0", "type": "N_TO_N"}]
    assert jobs[f"{second}:1"]["status"] == "FAILED"
    assert jobs[f"{second}:1"]["statusReason"] == "Dependent Job failed"
    assert jobs[f"{second}:1"]["attempts"] == []
    for parent in (first, second):
        assert jobs[parent]["status"] == "FAILED"
        summary = jobs[parent]["arrayProperties"]["statusSummary"]
        assert (summary["SUCCEEDED"], summary["FAILED"]) == (1, 1)
    failed = kit.batch.list_jobs(arrayJobId=second, jobStatus="FAILED")["jobSummaryList"]
    assert [job["jobId"] for job in failed] == [f"{second}:1"]


def test_a_job_waits_for_a_whole_array(kit: Kit) -> None:
    definition = kit.definition("after-array")
    array = kit.submit(definition, arrayProperties={"size": 2})
    after = kit.submit(definition, depends_on=[array])

    jobs = kit.wait([array, after, f"{array}:0", f"{array}:1"])

    assert jobs[after]["status"] == "SUCCEEDED"
    last_child = max(jobs[f"{array}:{i}"]["stoppedAt"] for i in (0, 1))
    assert jobs[after]["startedAt"] >= last_child


def test_terminating_a_parent_stops_its_children(kit: Kit) -> None:
    definition = kit.definition("stop-array")
    parent = kit.submit(definition, scripted("sleep"), arrayProperties={"size": 3})
    children = [f"{parent}:{i}" for i in range(3)]
    kit.wait(children[:2], statuses={"RUNNING"})  # two slots: the third stays RUNNABLE

    kit.batch.terminate_job(jobId=parent, reason="enough")
    jobs = kit.wait([parent, *children])

    assert {jobs[job]["status"] for job in jobs} == {"FAILED"}
    assert {jobs[child]["statusReason"] for child in children} == {"enough"}
    assert jobs[parent]["statusReason"] == "enough"
    assert jobs[parent]["arrayProperties"]["statusSummary"]["FAILED"] == 3


@pytest.mark.parametrize("size", [1, 10_001])
def test_array_size_limits(kit: Kit, size: int) -> None:
    with pytest.raises(ClientError, match="between 2 and 10000"):
        kit.submit(kit.definition("too-big"), arrayProperties={"size": size})


def test_n_to_n_needs_arrays_of_the_same_size(kit: Kit) -> None:
    definition = kit.definition("mismatch")
    small = kit.submit(definition, arrayProperties={"size": 2})
    with pytest.raises(ClientError, match="N_TO_N"):
        kit.submit(
            definition, depends_on=[small], dependency_type="N_TO_N", arrayProperties={"size": 3}
        )
    kit.wait([small])
