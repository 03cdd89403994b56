"""The table's few primitive operations, with DynamoDB's failures made into answers."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.storage.codec import dump, load
from chalicelib.storage.keys import decode_position_token, encode_position_token
from chalicelib.values import frozen


@frozen
class Pager:
    """One paged Query, and how its `next` token maps to where the next page starts.

    Only a position goes in the token (`at`, the sort attribute's value, or what
    `position_of` makes of the last item), checked against `pattern`; the partition
    always comes from the caller, so a token cannot open another partition."""

    query: Mapping[str, Any]  # IndexName, KeyConditionExpression, values (plain), order
    at: str  # the attribute whose value is the position
    pattern: re.Pattern[str]
    start: Callable[[str], dict[str, Any]]  # the ExclusiveStartKey of a position
    position_of: Callable[[dict[str, Any]], str] | None = None


class Table:
    """One DynamoDB table through a low-level client (injected, never created here)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, key: Mapping[str, Any], *, consistent: bool = True) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.name, Key=dump(key), ConsistentRead=consistent
        )
        item = response.get("Item")
        return load(item) if item else None

    def put_new(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """A transaction entry that puts `item` only if its key is free."""
        return {
            "Put": {
                "TableName": self.name,
                "Item": dump(item),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def put(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self.name, "Item": dump(item)}}

    def transact(self, entries: Sequence[dict[str, Any]]) -> int | None:
        """Write all entries or none; the position of the entry whose condition failed."""
        try:
            self.client.transact_write_items(TransactItems=list(entries))
        except ClientError as err:
            failed = failed_condition(err)
            if failed is None:
                raise
            return failed
        return None

    def update(
        self,
        key: Mapping[str, Any],
        expression: str,
        condition: str,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """One conditional UpdateItem; False when the condition did not hold."""
        params: dict[str, Any] = {
            "TableName": self.name,
            "Key": dump(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
        }
        if values:
            params["ExpressionAttributeValues"] = dump(values)
        if names:
            params["ExpressionAttributeNames"] = dict(names)
        try:
            self.client.update_item(**params)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def delete_existing(self, key: Mapping[str, Any]) -> bool:
        """Delete the item at `key`; False if there was none."""
        try:
            self.client.delete_item(
                TableName=self.name, Key=dump(key), ConditionExpression="attribute_exists(PK)"
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def query(self, **params: Any) -> dict[str, Any]:
        return dict(self.client.query(TableName=self.name, **params))

    def page(
        self, pager: Pager, limit: int, next_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of `pager`'s Query and the token of the next (None after the last)."""
        params = dict(pager.query)
        params["ExpressionAttributeValues"] = dump(params["ExpressionAttributeValues"])
        params["Limit"] = limit
        if next_token:
            position = decode_position_token(next_token, pager.pattern)
            params["ExclusiveStartKey"] = dump(pager.start(position))
        response = self.query(**params)
        items = [load(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if not (last and items):
            return items, None
        last_key = load(last)
        position = pager.position_of(last_key) if pager.position_of else str(last_key[pager.at])
        return items, encode_position_token(position)

    def query_all(self, **params: Any) -> Iterator[dict[str, Any]]:
        params["TableName"] = self.name
        while True:
            response = self.client.query(**params)
            for item in response.get("Items", []):
                yield load(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def batch_get(self, keys: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Items by their PK (up to 100 keys, one request while DynamoDB keeps up)."""
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self.name: {"Keys": [dump(k) for k in keys]}}
        for attempt in range(8):
            if not request.get(self.name, {}).get("Keys"):
                return found
            backoff(attempt)
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.name, []):
                plain = load(item)
                found[plain["PK"]] = plain
            request = response.get("UnprocessedKeys") or {}
        raise RuntimeError("DynamoDB kept keys unprocessed; the caller retries")

    def batch_put(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Write items 25 at a time, retrying what DynamoDB leaves unprocessed."""
        for start in range(0, len(items), 25):
            chunk = [{"PutRequest": {"Item": dump(i)}} for i in items[start : start + 25]]
            request: dict[str, Any] = {self.name: chunk}
            for attempt in range(8):
                backoff(attempt)
                request = (
                    self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                )
                if not request:
                    break
            else:
                raise RuntimeError("DynamoDB kept items unprocessed; the caller retries")


def backoff(attempt: int, base: float = 0.05, cap: float = 2.0) -> None:
    """Before a retry of what DynamoDB left unprocessed (it is throttling): exponential
    backoff with full jitter, as AWS advises; none before the first attempt."""
    if attempt:
        time.sleep(random.uniform(0, min(cap, base * 2**attempt)))  # noqa: S311 (jitter)


def failed_condition(err: ClientError) -> int | None:
    """The position of the transaction entry whose condition cancelled it, if that was why."""
    error = err.response.get("Error", {})
    if error.get("Code") != "TransactionCanceledException":
        return None
    reasons = err.response.get("CancellationReasons")
    if reasons:
        codes = [str(r.get("Code")) for r in reasons]
    else:
        # Some SDK paths only carry the reasons in the message text.
        message = str(error.get("Message", ""))
        codes = [c.strip() for c in message.partition("[")[2].rstrip("]").split(",")]
    return codes.index("ConditionalCheckFailed") if "ConditionalCheckFailed" in codes else None
