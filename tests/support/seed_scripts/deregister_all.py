"""The seed's "deregister all" script (CONTRACT.md), in plain boto3 with the default chain.

Pages through DescribeJobDefinitions with status=ACTIVE and maxResults=100 and deregisters
each definition (by ARN) as it goes, one line per definition.
"""

import boto3


def main() -> None:
    batch = boto3.client("batch")
    page = batch.describe_job_definitions(status="ACTIVE", maxResults=100)
    while True:
        for definition in page["jobDefinitions"]:
            batch.deregister_job_definition(jobDefinition=definition["jobDefinitionArn"])
            print(f"Deregistered {definition['jobDefinitionArn']}")  # noqa: T201 - as the seed
        token = page.get("nextToken")
        if not token:
            return
        page = batch.describe_job_definitions(status="ACTIVE", maxResults=100, nextToken=token)


if __name__ == "__main__":
    main()
