"""`pcr infra template` and `pcr iam-policy`: the AWS stack and a submitting user's policy."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._runtime import cli_errors
from pcr_sdk.infra import submitter_policy, template_text

infra_app = typer.Typer(
    name="infra",
    help="The AWS infrastructure pcr-sdk runs on, as code.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@infra_app.command("template")
def template() -> None:
    """Print the CloudFormation template (YAML) of the pcr-sdk stack.

    Deploy it with: `pcr infra template > stack.yaml` then `aws cloudformation deploy
    --template-file stack.yaml --stack-name pcr --capabilities CAPABILITY_NAMED_IAM`.
    Its outputs JobQueue and JobBucket are what --queue and --bucket take.
    """
    typer.echo(template_text(), nl=False)


def iam_policy(
    bucket: opt.Bucket,
    queue: opt.Queue,
    region: Annotated[
        str,
        typer.Option("--region", help="Region the ARNs name ('*': any region)."),
    ] = "*",
    account: Annotated[
        str,
        typer.Option("--account", help="12-digit account id the ARNs name ('*': any account)."),
    ] = "*",
    job_role_arn: Annotated[
        str | None,
        typer.Option(
            "--job-role-arn",
            help="Job role the user passes to jobs (adds iam:PassRole on it only).",
            show_default=False,
        ),
    ] = None,
    execution_role_arn: Annotated[
        str | None,
        typer.Option(
            "--execution-role-arn",
            help="Fargate execution role the user passes to jobs (adds iam:PassRole on it only).",
            show_default=False,
        ),
    ] = None,
    kms_key_arn: Annotated[
        str | None,
        typer.Option(
            "--kms-key-arn",
            help="KMS key the bucket encrypts with (adds kms:Decrypt/GenerateDataKey on it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the least-privilege IAM policy (JSON) of a user who submits pcr-sdk batches.

    Exactly the AWS actions pcr-sdk calls, each on the narrowest resources IAM supports: submit
    to QUEUE only, read, write and delete (`pcr cleanup --data`) only `jobs/*` of BUCKET, read
    the Batch job logs. Create it with `aws iam create-policy --policy-document
    file://policy.json`.
    """
    with cli_errors():
        policy = submitter_policy(
            bucket,
            queue,
            region=region,
            account=account,
            job_role_arn=job_role_arn,
            execution_role_arn=execution_role_arn,
            kms_key_arn=kms_key_arn,
        )
    typer.echo(json.dumps(policy, indent=2))
