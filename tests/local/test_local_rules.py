"""The engine's rules without processes: capacity, retry rules, resources, parameters, tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pcr_sdk._private.model.retry_policy import glob_matches
from pcr_sdk._private.wire import facts
from pcr_sdk.local import LocalBackend
from pcr_sdk.local import _checks as check
from pcr_sdk.local._capacity import Resources, local_capacity, machine_memory_mib, machine_vcpus
from pcr_sdk.local._model import Definition
from pcr_sdk.local._retry import RetryStrategy, parse_retry_strategy
from pcr_sdk.local._wire import ServiceError


def test_machine_capacity_is_read_and_can_be_injected(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemFree:  1 kB\nMemTotal:       2097152 kB\n")
    assert machine_memory_mib(meminfo) == 2048
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 262_144}
    assert machine_memory_mib(tmp_path / "missing", sysconf=pages.__getitem__) == 1024
    assert machine_vcpus(affinity=lambda: {0, 2, 5}) == 3
    assert local_capacity(vcpus=3, memory_mib=512, gpus=2) == Resources(3, 512, 2)
    defaults = local_capacity()
    assert defaults.vcpus >= 1
    assert defaults.memory_mib > 0
    assert defaults.gpus == 0


def test_resources_fit_and_say_what_is_short() -> None:
    room = Resources(vcpus=2, memory_mib=1024, gpus=0)
    assert Resources(0.5, 512, 0).fits_in(room)
    assert (Resources(0.25, 0, 0) + Resources(0.25, 0, 0) + Resources(1.5, 0, 0)).fits_in(room)
    assert not Resources(1, 0, 1).fits_in(room)
    assert Resources(4, 2048, 1).shortfall(room) == [
        "4 vCPUs (has 2)",
        "2048 MiB of memory (has 1024)",
        "1 GPUs (has 0)",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"vcpus": 0}, "vcpus"),
        ({"memory_mib": 0}, "memory_mib"),
        ({"gpus": -1}, "gpus"),
        ({"grace_seconds": -1}, "grace_seconds"),
    ],
)
def test_backend_refuses_an_impossible_compute_environment(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LocalBackend(["x"], **arguments)


def test_backend_shows_its_compute_environment() -> None:
    backend = LocalBackend(["x"], vcpus=6, memory_mib=2048, gpus=1, grace_seconds=5)
    assert (backend.vcpus, backend.memory_mib, backend.gpus) == (6, 2048, 1)
    assert backend.grace_seconds == 5
    assert backend.max_parallel is None
    with pytest.raises(RuntimeError, match="not running"):
        backend.reclaim_host("job")


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("3", "3", True),
        ("3", "30", False),
        ("3*", "30", True),
        ("*", "", True),
        ("Host EC2*", "Host EC2 (instance i-0abc) terminated.", True),
        ("host ec2*", "Host EC2 (instance i-0abc) terminated.", False),
        ("Essential container in task exited", "Essential container in task exited", True),
    ],
)
def test_evaluate_on_exit_globs(pattern: str, value: str, matches: bool) -> None:
    assert glob_matches(pattern, value) is matches


def test_retry_decisions() -> None:
    strategy = parse_retry_strategy(
        {
            "attempts": 3,
            "evaluateOnExit": [
                {"onExitCode": "1", "onReason": "Out*", "action": "exit"},
                {"onStatusReason": "Host EC2*", "action": "RETRY"},
                {"onExitCode": "*", "action": "EXIT"},
            ],
        }
    )
    exited = facts.CONTAINER_EXITED_REASON
    host = facts.HOST_TERMINATED_REASON_FORMAT.format(instance_id="i-0123456789abcdef0")
    assert strategy.retries(1, 1, "OutOfMemoryError", exited) is False  # rule 1: all fields
    assert strategy.retries(1, None, None, host) is True  # rule 2
    assert strategy.retries(3, None, None, host) is False  # no attempts left
    assert strategy.retries(1, 1, None, exited) is False  # rule 3: `*` matches any code
    assert RetryStrategy(attempts=2).retries(1, 7, None, exited) is True  # no rules: retried
    assert strategy.describe()["evaluateOnExit"][0]["action"] == "exit"  # shown as given


def test_resource_requirements_override_legacy_and_definition_values() -> None:
    definition = {
        "vcpus": 2,
        "memory": 512,
        "resourceRequirements": [{"type": "GPU", "value": "1"}],
    }
    assert check.job_resources(definition, {}) == Resources(2, 512, 1)
    assert check.job_resources(definition, {"vcpus": 4}) == Resources(4, 512, 1)
    modern = {"resourceRequirements": [{"type": "VCPU", "value": "0.5"}], "vcpus": 8}
    assert check.job_resources(modern, {"vcpus": 4}).vcpus == 0.5  # legacy never overrides RR
    override = {"resourceRequirements": [{"type": "VCPU", "value": "3"}]}
    assert check.job_resources(modern, override).vcpus == 3
    assert check.job_resources({}, {}) == Resources(1, 0, 0)
    for bad in ([{"type": "CPU", "value": "1"}], [{"type": "MEMORY", "value": "2"}]):
        with pytest.raises(ServiceError):
            check.job_resources({"resourceRequirements": bad}, {})


def test_ref_arguments_are_substituted_whole() -> None:
    definition = Definition(
        seq=1, name="d", revision=1, arn="arn", type="container",
        container={"image": "i", "command": ["run", "Ref::a", "x-Ref::a", "Ref::unknown"]},
        retry=None, timeout=None, parameters={}, tags={}, propagate_tags=False,
        platform_capabilities=["EC2"],
    )  # fmt: skip
    assert definition.command({"a": "A"}) == ("run", "A", "x-Ref::a", "Ref::unknown")


def test_paging_tokens_are_checked() -> None:
    token = check.encode_token("jobs", 42)
    assert check.decode_token("jobs", token) == 42
    for bad in ("nonsense", check.encode_token("definitions", 42)):
        with pytest.raises(ServiceError, match="nextToken"):
            check.decode_token("jobs", bad)


def test_the_host_termination_reason_starts_as_rules_expect() -> None:
    reason = facts.HOST_TERMINATED_REASON_FORMAT.format(instance_id="i-0abc")
    assert reason.startswith(facts.HOST_TERMINATED_REASON_PREFIX)
    assert reason == "Host EC2 (instance i-0abc) terminated."
