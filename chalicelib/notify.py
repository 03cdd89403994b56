"""Notices that leave the system: escalations to the on-duty channel, incidents to management."""

from __future__ import annotations

import json
from typing import Any, Protocol


class Publisher(Protocol):
    def publish(self, topic_arn: str, kind: str, message: dict[str, Any]) -> None:
        """Send one notice; raise if it could not be handed over."""
        ...


class SnsPublisher:
    """SNS with a `kind` message attribute, so subscribers can filter by notice type."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def publish(self, topic_arn: str, kind: str, message: dict[str, Any]) -> None:
        subject = f"[support-intake] {kind}"
        self._client.publish(
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps({"kind": kind, **message}, ensure_ascii=False),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )
