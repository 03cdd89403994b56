"""Each sender's acknowledgements of the last 24 hours, changed by conditional writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.storage.codec import dump
from chalicelib.storage.keys import ack_allowance_key, send_allowance_key, suppression_key
from chalicelib.storage.table import Table
from chalicelib.timeutil import parse_iso, to_iso


class DynamoMarkers:
    """The `Markers` on DynamoDB: a retry changes nothing twice."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def take_ack_allowance(self, address: str, at: str, per_day: int, record_id: str) -> bool:
        """The sender's item keeps `<time> <record>` entries; the write is conditional on
        the list read, so two concurrent mails cannot both spend the last."""

        def change(recent: list[str]) -> list[str] | None:
            if any(entry.endswith(f" {record_id}") for entry in recent):
                return recent
            if len(recent) >= per_day:
                return None
            return [*recent, f"{at} {record_id}"]

        return self._change_allowance(ack_allowance_key(address), at, change)

    def take_send_allowance(self, address: str, at: str, per_day: int, ref: str) -> bool:
        def change(recent: list[str]) -> list[str] | None:
            if any(entry.endswith(f" {ref}") for entry in recent):
                return recent
            return None if len(recent) >= per_day else [*recent, f"{at} {ref}"]

        return self._change_allowance(send_allowance_key(address), at, change)

    def suppress(self, address: str, reason: str, at: str) -> None:
        self._table.client.put_item(
            TableName=self._table.name,
            Item=dump({**suppression_key(address), "reason": reason, "at": at}),
        )

    def suppression(self, address: str) -> str | None:
        item = self._table.get(suppression_key(address))
        return str(item["reason"]) if item else None

    def suppression_record(self, address: str) -> tuple[str, str] | None:
        item = self._table.get(suppression_key(address))
        return (str(item["reason"]), str(item.get("at") or "")) if item else None

    def lift_suppression(self, address: str) -> bool:
        return self._table.delete_existing(suppression_key(address))

    def release_ack_allowance(self, address: str, at: str, record_id: str) -> None:
        self._change_allowance(
            ack_allowance_key(address),
            at,
            lambda recent: [e for e in recent if not e.endswith(f" {record_id}")],
        )

    def _change_allowance(
        self, key: dict[str, str], at: str, change: Callable[[list[str]], list[str] | None]
    ) -> bool:
        cutoff = to_iso(parse_iso(at) - timedelta(hours=24))
        for _ in range(5):
            item = self._table.get(key) or {}
            sent = [str(entry) for entry in item.get("sent") or []]
            changed = change([entry for entry in sent if entry > cutoff])
            if changed is None:
                return False
            if changed == sent:
                return True
            values: dict[str, Any] = {":new": changed}
            if "sent" in item:
                condition = "sent = :old"
                values[":old"] = sent
            else:
                condition = "attribute_not_exists(sent)"
            if self._table.update(key, "SET sent = :new", condition, values):
                return True
        return False
