"""The team's canned replies, in one partition (`MACROS`, one item per macro): a team
keeps tens of them, so a listing is one Query."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.macros import Macro
from chalicelib.storage.codec import dump
from chalicelib.storage.keys import MACROS_PK, macro_key
from chalicelib.storage.table import Table


def _to_item(macro: Macro) -> dict[str, Any]:
    return {
        **macro_key(macro.id),
        "entity": "macro",
        "id": macro.id,
        "title": macro.title,
        "lang": macro.lang,
        "text": macro.text,
        "updated_at": macro.updated_at,
        "updated_by": macro.updated_by,
    }


def _from_item(item: dict[str, Any]) -> Macro:
    return Macro(
        item["id"],
        item["title"],
        item["lang"],
        item["text"],
        item["updated_at"],
        item["updated_by"],
    )


class DynamoMacros:
    def __init__(self, table: Table) -> None:
        self._table = table

    def all(self) -> list[Macro]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk", ExpressionAttributeValues=dump({":pk": MACROS_PK})
        )
        return sorted((_from_item(i) for i in items), key=lambda m: (m.title.lower(), m.id))

    def get(self, macro_id: str) -> Macro | None:
        item = self._table.get(macro_key(macro_id))
        return _from_item(item) if item else None

    def put(self, macro: Macro) -> None:
        self._table.client.put_item(TableName=self._table.name, Item=dump(_to_item(macro)))

    def delete(self, macro_id: str) -> bool:
        return self._table.delete_existing(macro_key(macro_id))
