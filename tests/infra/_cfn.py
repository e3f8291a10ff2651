"""Test helpers: read the CloudFormation template, evaluate its conditions, derive moto's variant.

The YAML short forms (``!Ref``, ``!Sub``, ``!GetAtt``...) are read into CloudFormation's long
form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``), the JSON shape CloudFormation itself works on.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Final

import yaml
from moto.cloudformation.parsing import get_model_map

from pcr_sdk.infra import template_text

NO_VALUE: Final = {"Ref": "AWS::NoValue"}
DEFAULTS: Final[Mapping[str, str]] = {
    "ProvisioningModel": "EC2",
    "UseGpu": "false",
    "InstanceTypes": "optimal",
    "KmsKeyArn": "",
    "ImmutableImageTags": "false",
    "InstanceRoleDataAccess": "true",
}


class _Loader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form tags."""


def _intrinsic(loader: _Loader, suffix: str, node: Any) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def load_template(text: str | None = None) -> dict[str, Any]:
    """The template (default: the packaged one) as CloudFormation's JSON structure."""
    loaded = yaml.load(template_text() if text is None else text, Loader=_Loader)
    assert isinstance(loaded, dict)
    return loaded


def conditions(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, bool]:
    """Every condition of `template` evaluated for `parameters` (defaults: `DEFAULTS`)."""
    values = {**DEFAULTS, **parameters}
    found: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and "Ref" in node:
            return values[node["Ref"]]
        return node

    def evaluate(node: Any) -> bool:
        (name, args), *rest = node.items()
        assert not rest, node
        if name == "Condition":
            return condition(args)
        if name == "Fn::Equals":
            return bool(value(args[0]) == value(args[1]))
        if name == "Fn::Not":
            return not evaluate(args[0])
        if name == "Fn::And":
            return all(evaluate(a) for a in args)
        if name == "Fn::Or":
            return any(evaluate(a) for a in args)
        raise AssertionError(f"unknown condition function {name}")

    def condition(name: str) -> bool:
        if name not in found:
            found[name] = evaluate(template["Conditions"][name])
        return found[name]

    for name in template.get("Conditions", {}):
        condition(name)
    return found


def resolve_ifs(node: Any, truth: Mapping[str, bool]) -> Any:
    """`node` with every Fn::If decided by `truth` and every AWS::NoValue removed."""
    if isinstance(node, dict):
        if "Fn::If" in node:
            name, yes, no = node["Fn::If"]
            return resolve_ifs(yes if truth[name] else no, truth)
        resolved = {k: resolve_ifs(v, truth) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v != NO_VALUE}
    if isinstance(node, list):
        items = [resolve_ifs(v, truth) for v in node]
        return [v for v in items if v != NO_VALUE]
    return node


def walk(node: Any, visit: Callable[[Any], None]) -> None:
    """Call `visit` on `node` and on everything nested in it."""
    visit(node)
    if isinstance(node, dict):
        for child in node.values():
            walk(child, visit)
    elif isinstance(node, list):
        for child in node:
            walk(child, visit)


def refers_to(node: Any, names: set[str]) -> bool:
    """Whether `node` refers (Ref, GetAtt, ${Name} in Sub, DependsOn) to one of `names`."""
    hits: list[bool] = []

    def visit(item: Any) -> None:
        if isinstance(item, dict):
            if item.get("Ref") in names:
                hits.append(True)
            get_att = item.get("Fn::GetAtt")
            if isinstance(get_att, list) and get_att[0] in names:
                hits.append(True)
            sub = item.get("Fn::Sub")
            text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) else ""
            if any(f"${{{n}}}" in text or f"${{{n}." in text for n in names):
                hits.append(True)

    walk(node, visit)
    return bool(hits)


def moto_unsupported_types(template: Mapping[str, Any]) -> set[str]:
    """Resource types of `template` that moto's CloudFormation does not model (it warns and
    skips them: moto/cloudformation/parsing.py, parse_resource)."""
    supported = set(get_model_map())
    return {r["Type"] for r in template["Resources"].values()} - supported


MOTO_REPOSITORY_NAME: Final = "pcr-stack-repository"


def moto_variant(
    template: Mapping[str, Any], parameters: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The template as moto 5.2 can deploy it; returns it and the logical ids dropped.

    The transformation, step by step (each for a moto limitation, see test_stack_deploy.py):
    1. drop the resources whose type moto's CloudFormation does not model, and the outputs
       that refer to them (nothing else refers to them);
    2. decide every Fn::If for `parameters` (moto keeps ``!Ref AWS::NoValue`` inside a list as
       null, which its IAM validator rejects as a malformed policy);
    3. name the ECR repository (moto generates "<stack>-Repository-<suffix>" with capitals,
       which its own ECR name check rejects; AWS generates lowercase names).
    """
    variant = copy.deepcopy(dict(template))
    unsupported = moto_unsupported_types(variant)
    dropped = sorted(k for k, r in variant["Resources"].items() if r["Type"] in unsupported)
    for name in dropped:
        del variant["Resources"][name]
    gone = set(dropped)
    assert not any(refers_to(r, gone) for r in variant["Resources"].values())
    variant["Outputs"] = {k: v for k, v in variant["Outputs"].items() if not refers_to(v, gone)}
    truth = conditions(variant, parameters)
    variant["Resources"] = resolve_ifs(variant["Resources"], truth)
    variant["Outputs"] = resolve_ifs(variant["Outputs"], truth)
    variant["Resources"]["Repository"]["Properties"]["RepositoryName"] = MOTO_REPOSITORY_NAME
    return variant, dropped
