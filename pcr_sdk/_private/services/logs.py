"""LogReader: the tail of a job's CloudWatch Logs stream (the local backend serves the same API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcr_sdk._private.edge.mapping import aws_call
from pcr_sdk._private.errors import AwsError
from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import BATCH_LOG_GROUP, GET_LOG_EVENTS_MAX_LIMIT

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

__all__ = ["BATCH_LOG_GROUP", "LogReader"]

MAX_EVENTS_PER_CALL = GET_LOG_EVENTS_MAX_LIMIT


@public("pcr_sdk.advanced")
class LogReader:
    """Reads job logs from the group AWS Batch writes them to.

    Args:
        logs: the CloudWatch Logs client.
        log_group: the log group of the jobs' streams (AWS Batch's `/aws/batch/job`).
    """

    def __init__(self, logs: CloudWatchLogsClient, *, log_group: str = BATCH_LOG_GROUP) -> None:
        self._logs = logs
        self.log_group = log_group

    def tail(self, log_stream_name: str, lines: int = 50) -> list[str]:
        """The last `lines` messages of the stream, oldest first; [] if the stream is gone.

        Args:
            log_stream_name: the job attempt's stream (its `JobResult.log_stream_name`).
            lines: how many messages at most (at most 10,000 are read; below 1: none).

        Returns:
            The messages, oldest first.

        Raises:
            AwsError: GetLogEvents failed for another reason than a missing stream.
        """
        if lines < 1:
            return []
        try:
            with aws_call("GetLogEvents"):
                response = self._logs.get_log_events(
                    logGroupName=self.log_group,
                    logStreamName=log_stream_name,
                    limit=min(lines, MAX_EVENTS_PER_CALL),
                    startFromHead=False,
                )
        except AwsError as err:
            if err.code == "ResourceNotFoundException":
                return []
            raise
        return [event.get("message", "") for event in response["events"]][-lines:]
