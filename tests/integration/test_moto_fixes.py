"""The local stack's and the tests' fixes to moto (`devtools/moto_fixes.py`) answer as
moto does: a Query that reads only its partition returns what moto's own Query returns,
page for page (issue 29: moto sorted the whole table for every Query)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from moto.dynamodb.models.table import Table

TABLE = os.environ["SUPPORT_TABLE_NAME"]  # the table the `aws` fixture builds


def put(dynamodb: Any, count: int) -> None:
    for n in range(count):
        item = {
            "PK": {"S": f"T#{n % 7}"},
            "SK": {"S": f"M#{n:04d}"},
            "GSI2PK": {"S": f"DUE#{n % 3}"},
            "GSI2SK": {"S": f"2026-12-04T{n % 24:02d}:{n % 60:02d}#{n}"},
            "n": {"N": str(n)},
        }
        if n % 5 == 0:
            del item["GSI2SK"]  # not in the sparse index
        dynamodb.put_item(TableName=TABLE, Item=item)


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "T#3"}}},
    {
        "KeyConditionExpression": "PK = :p AND SK > :s",
        "ExpressionAttributeValues": {":p": {"S": "T#1"}, ":s": {"S": "M#0040"}},
        "ScanIndexForward": False,
        "Limit": 4,
    },
    {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "T#none"}}},
    {
        "IndexName": "DueDeadlines",
        "KeyConditionExpression": "GSI2PK = :p AND GSI2SK <= :s",
        "ExpressionAttributeValues": {":p": {"S": "DUE#2"}, ":s": {"S": "2026-12-04T12"}},
        "Limit": 5,
    },
    {
        "IndexName": "DueDeadlines",
        "KeyConditionExpression": "GSI2PK = :p",
        "FilterExpression": "n > :n",
        "ExpressionAttributeValues": {":p": {"S": "DUE#0"}, ":n": {"N": "30"}},
        "ScanIndexForward": False,
        "Limit": 3,
    },
]


def pages(dynamodb: Any, query: dict[str, Any]) -> list[Any]:
    seen, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = dynamodb.query(TableName=TABLE, **query, **extra)
        seen.append((page["Items"], page["Count"], page.get("LastEvaluatedKey")))
        if not (start := page.get("LastEvaluatedKey")):
            return seen


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_a_query_reads_its_partition_and_answers_as_moto_does(
    aws: Any, query: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    put(aws, 120)
    fixed = pages(aws, query)
    assert fixed[0][0] or query["ExpressionAttributeValues"][":p"]["S"] == "T#none"

    def walked(self: Any) -> Any:
        raise AssertionError("the query walked the whole table")

    monkeypatch.setattr(Table, "all_items", walked)
    assert pages(aws, query) == fixed  # the fix never walks the table
    monkeypatch.undo()
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)  # moto's own
    assert pages(aws, query) == fixed
