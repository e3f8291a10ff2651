"""`SDK_OPERATIONS` is exactly the set of AWS operations pcr-sdk's code calls.

The scan reads the source with `ast` (no grep) and finds every AWS client call site in
pcr_sdk/_private, pcr_sdk/cli and pcr_sdk/worker.py: a method call whose receiver's last name
is a client name (``batch``, ``_batch``, ``s3``, ``_s3``, ``logs``, ``_logs``, ``client``, as in
``batch.x(``, ``self._batch.x(``, ``clients.s3.x(``, ``self.client.x(``), a call on
``boto3.client("svc")`` / ``<session>.client("svc")``, and ``get_paginator("op")`` on any of
those, whose method is an operation of that service's botocore model (other methods mean the
receiver is no client, e.g. a record named ``batch``).

Its limits: a client held under another name (``c = clients.s3; c.put_object(...)``), reached
through ``getattr`` or a container, or called in code outside those files, is not seen; the
recorded-lifecycle test (test_policy_covers_sdk.py) is the second net for those.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

from pcr_sdk.infra import SDK_OPERATIONS, submitter_actions
from pcr_sdk.infra._policy import iam_action

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [ROOT / "pcr_sdk" / "_private", ROOT / "pcr_sdk" / "cli", ROOT / "pcr_sdk" / "worker.py"]
RECEIVERS = {
    "batch": "batch",
    "_batch": "batch",
    "s3": "s3",
    "_s3": "s3",
    "logs": "logs",
    "_logs": "logs",
    "client": None,  # service inferred from the method (worker.py's self.client is S3)
}
NON_API_METHODS = {"close", "can_paginate", "get_waiter"}


@cache
def operations(service: str) -> dict[str, str]:
    """snake_case client method -> operation name, from botocore's service model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def _files() -> list[Path]:
    found: list[Path] = []
    for path in SCANNED:
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def _receiver_service(node: ast.expr) -> tuple[bool, str | None]:
    """(is a client, its service if known) for the receiver of a method call."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        args = node.args
        if node.func.attr == "client" and args and isinstance(args[0], ast.Constant):
            return True, str(args[0].value)
        return False, None
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    if name in RECEIVERS:
        return True, RECEIVERS[name]
    return False, None


@cache  # one scan of the package for every test here
def call_sites() -> list[tuple[str, str, str]]:
    """(file:line, service, Operation) of every AWS client call in the scanned code."""
    sites: list[tuple[str, str, str]] = []
    for path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            is_client, service = _receiver_service(node.func.value)
            if not is_client:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            method = node.func.attr
            if method in NON_API_METHODS:
                continue
            if method == "get_paginator":
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant), f"{where}: paginator name not literal"
                method = str(first.value)
            services = [service] if service else sorted(SDK_OPERATIONS)
            owners = [s for s in services if method in operations(s)]
            if not owners:
                continue  # not an API method: the receiver is no client (e.g. a record `batch`)
            assert len(owners) == 1, f"{where}: {method}() is an operation of {owners}"
            sites.append((where, owners[0], operations(owners[0])[method]))
    return sites


def _inside_aws_call(tree: ast.Module) -> set[int]:
    """The lines of the calls that run inside a `with aws_call(...)` block of `tree`."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(
            isinstance(item.context_expr, ast.Call)
            and isinstance(item.context_expr.func, ast.Name)
            and item.context_expr.func.id == "aws_call"
            for item in node.items
        ):
            lines |= {n.lineno for n in ast.walk(node) if isinstance(n, ast.Call)}
    return lines


def test_every_aws_call_of_the_sdk_is_mapped_where_it_is_made() -> None:
    """Errors are mapped at one layer: every client call of the SDK and the worker runs inside
    `aws_call`, so no botocore error reaches a caller (the CLI's own maintenance calls have the
    CLI's boundary instead). A paginator's requests run where its pages are read, inside
    `aws_call` in `edge/reads.py`; creating it sends nothing."""
    mapped: dict[str, set[int]] = {}
    unmapped = []
    for where, _, _ in call_sites():
        file, line = where.rsplit(":", 1)
        if file.startswith("pcr_sdk/cli/"):
            continue
        if file not in mapped:
            mapped[file] = _inside_aws_call(ast.parse((ROOT / file).read_text(encoding="utf-8")))
        source = (ROOT / file).read_text(encoding="utf-8").splitlines()[int(line) - 1]
        if int(line) not in mapped[file] and "get_paginator(" not in source:
            unmapped.append(where)
    assert not unmapped


def test_the_scan_finds_the_known_call_sites() -> None:
    """A sanity check of the scanner itself: the calls every batch makes are found."""
    found = {(service, op) for _, service, op in call_sites()}
    assert {("batch", "SubmitJob"), ("s3", "PutObject"), ("logs", "GetLogEvents")} <= found
    assert ("batch", "ListJobs") in found  # through get_paginator("list_jobs")
    assert ("s3", "ListObjectsV2") in found  # through get_paginator("list_objects_v2")


def test_sdk_operations_is_exactly_what_the_code_calls() -> None:
    found: dict[str, set[str]] = {}
    for _, service, op in call_sites():
        found.setdefault(service, set()).add(op)
    assert found == {service: set(ops) for service, ops in SDK_OPERATIONS.items()}, (
        "update SDK_OPERATIONS in pcr_sdk/infra/_policy.py (and the policy, and the stack's "
        "SubmitterPolicy) to the operations the code calls"
    )


def test_every_call_site_maps_to_a_policy_action() -> None:
    granted = submitter_actions()
    missing = [
        f"{where}: {service} {op} needs {iam_action(service, op)}"
        for where, service, op in call_sites()
        if iam_action(service, op) not in granted
    ]
    assert not missing


def test_sdk_operations_are_real_operations() -> None:
    for service, ops in SDK_OPERATIONS.items():
        assert ops <= set(operations(service).values()), service
