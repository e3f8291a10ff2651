"""Infrastructure as code: the AWS stack pcr-sdk runs on, and its submitting users' policy.

`template_text()` is the CloudFormation template (`pcr infra template` prints it): a VPC with
no inbound access, a managed Batch compute environment, a job queue, an encrypted private job
bucket whose data expires, an ECR repository, least-privilege roles, and a managed policy and
user group for the people who submit. `submitter_policy()` is that policy for any queue and
bucket (`pcr iam-policy` prints it): exactly the actions in `SDK_OPERATIONS`, each scoped.
"""

from __future__ import annotations

from pcr_sdk.infra._policy import (
    SDK_OPERATIONS,
    PolicyDocument,
    Statement,
    submitter_actions,
    submitter_policy,
)
from pcr_sdk.infra._template import STACK_OUTPUTS, template_text

__all__ = [
    "SDK_OPERATIONS",
    "STACK_OUTPUTS",
    "PolicyDocument",
    "Statement",
    "submitter_actions",
    "submitter_policy",
    "template_text",
]
