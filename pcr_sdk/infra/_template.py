"""The CloudFormation template shipped in the package (`stack.yaml`)."""

from __future__ import annotations

from importlib import resources
from typing import Final

from pcr_sdk._private.public import public

TEMPLATE_NAME: Final = "stack.yaml"
STACK_OUTPUTS: Final = (
    "JobQueue",
    "JobBucket",
    "Repository",
    "JobRoleArn",
    "SubmitterPolicyArn",
    "SubmittersGroup",
    "ComputeEnvironment",
)
"""The outputs every deployment has (ExecutionRoleArn only with Fargate)."""


@public("pcr_sdk.infra")
def template_text() -> str:
    """The CloudFormation template (YAML) that `pcr infra template` prints.

    Returns:
        The template's text.
    """
    return resources.files(__package__).joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
