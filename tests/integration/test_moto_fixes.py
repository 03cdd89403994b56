"""The local stack's and the tests' fixes to moto (`devtools/moto_fixes.py`) answer as
moto does (issue 29: each made moto's cost grow with the table, or cost a ticket more
than the API did): a Query that reads only its partition returns what moto's own Query
returns, page for page; a failed transaction leaves the table as it found it without
copying it; an update expression parsed once still gives each item its own values, and
a bad one is still refused; a condition parsed once checks each item with its own
values too, and still tells which names it uses; its shape is checked again for other
names or keys; a plain update applied directly answers, refuses and leaves its item as
moto does; an item request read as JSON is what moto's parser reads, and a binary value
is still decoded, whichever way its name is written; an item's size is refused where moto refuses it; an item is returned
in the very bytes moto's own serialiser writes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, strategies as st
from moto.dynamodb.models.dynamo_type import Item
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
    assert pages(aws, query) == motos_own(aws, query, monkeypatch)


def motos_own(aws: Any, query: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The pages moto's own Query (and its own order) gives."""
    with monkeypatch.context() as patched:
        patched.setattr(Table, "query", Table.query.__wrapped__)
        patched.setattr(Table, "sorted_items", Table.sorted_items.__wrapped__)
        return pages(aws, query)


def index_queries() -> list[dict[str, Any]]:
    return [q for q in QUERIES if "IndexName" in q] + [
        {
            "IndexName": "DueDeadlines",
            "KeyConditionExpression": "GSI2PK = :p",
            "ExpressionAttributeValues": {":p": {"S": f"DUE#{n}"}},
        }
        for n in (0, 1, 2, 9)
    ]


def update(dynamodb: Any, pk: str, sk: str, expression: str, **values: Any) -> None:
    dynamodb.update_item(
        TableName=TABLE,
        Key=key(pk, sk),
        UpdateExpression=expression,
        **({"ExpressionAttributeValues": values} if values else {}),
    )


WRITES: list[tuple[str, Any]] = [
    (
        "an update moves an item",
        lambda d: update(d, "T#1", "M#0001", "SET GSI2PK = :p", **{":p": {"S": "DUE#9"}}),
    ),
    ("an update takes it out", lambda d: update(d, "T#2", "M#0002", "REMOVE GSI2PK")),
    (
        "an update of another attribute",
        lambda d: update(d, "T#4", "M#0004", "SET n = :n", **{":n": {"N": "99"}}),
    ),
    (
        "a new item by update",
        lambda d: update(
            d,
            "T#8",
            "M#new",
            "SET GSI2PK = :p, GSI2SK = :s",
            **{":p": {"S": "DUE#0"}, ":s": {"S": "2026-12-04T00:00#x"}},
        ),
    ),
    (
        "a put over an item",
        lambda d: d.put_item(
            TableName=TABLE,
            Item={
                **key("T#3", "M#0003"),
                "GSI2PK": {"S": "DUE#9"},
                "GSI2SK": {"S": "2026-12-04T01:00#3"},
            },
        ),
    ),
    ("a delete", lambda d: d.delete_item(TableName=TABLE, Key=key("T#6", "M#0006"))),
    (
        "a batch",
        lambda d: d.batch_write_item(
            RequestItems={
                TABLE: [
                    {
                        "PutRequest": {
                            "Item": {
                                **key("T#9", "M#b"),
                                "GSI2PK": {"S": "DUE#1"},
                                "GSI2SK": {"S": "2026-12-04T02:00#b"},
                            }
                        }
                    },
                    {"DeleteRequest": {"Key": key("T#0", "M#0007")}},
                ]
            }
        ),
    ),
    (
        "a failed transaction",
        lambda d: pytest.raises(
            ClientError, d.transact_write_items, TransactItems=writes_then(FAILING)
        ),
    ),
    ("a transaction", lambda d: d.transact_write_items(TransactItems=writes_then(FAILING)[:-1])),
    (
        "a PartiQL update",
        lambda d: d.execute_statement(
            Statement=f"UPDATE \"{TABLE}\" SET GSI2PK = 'DUE#9' WHERE PK = 'T#5' AND SK = 'M#0012'"  # noqa: S608 (constants)
        ),
    ),
    (
        "a failed update",
        lambda d: pytest.raises(
            ClientError,
            update,
            d,
            "T#1",
            "M#0008",
            "SET GSI2PK = :p ADD GSI2SK :one",  # GSI2SK is a string
            **{":p": {"S": "DUE#9"}, ":one": {"N": "1"}},
        ),
    ),
]


def test_an_index_query_follows_every_kind_of_write_as_moto_does(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index's partitions are grouped once and kept up to date write by write."""
    put(aws, 60)
    for query in index_queries():
        assert pages(aws, query) == motos_own(aws, query, monkeypatch)
    for name, write in WRITES:
        write(aws)
        for query in index_queries():
            assert pages(aws, query) == motos_own(aws, query, monkeypatch), name


def everything(dynamodb: Any) -> list[Any]:
    items = dynamodb.scan(TableName=TABLE)["Items"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def writes_then(last: dict[str, Any]) -> list[dict[str, Any]]:
    """A transaction that changes an existing item of every kind, adds two, then `last`."""
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": key("T#1", "M#0001"),
                "UpdateExpression": "ADD n :one SET note = :note",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":note": {"S": "changed"}},
            }
        },
        {"Put": {"TableName": TABLE, "Item": {**key("T#2", "M#0002"), "n": {"N": "-1"}}}},
        {"Delete": {"TableName": TABLE, "Key": key("T#3", "M#0003")}},
        {"Put": {"TableName": TABLE, "Item": {**key("T#4", "M#new"), "n": {"N": "7"}}}},
        {"Put": {"TableName": TABLE, "Item": {**key("NEW#partition", "M#1"), "n": {"N": "8"}}}},
        last,
    ]


FAILING = {
    "ConditionCheck": {
        "TableName": TABLE,
        "Key": key("T#5", "M#0005"),
        "ConditionExpression": "attribute_not_exists(PK)",
    }
}


@pytest.mark.parametrize(
    "last",
    [FAILING, {"Delete": {"TableName": TABLE, "Key": key("T#1", "M#0001")}}],
    ids=["a condition fails", "an item named twice"],
)
def test_a_failed_transaction_leaves_the_table_as_it_was_without_copying_it(
    aws: Any, last: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    put(aws, 40)
    before = everything(aws)

    def copied(self: Any, memo: Any) -> Any:
        raise AssertionError("the transaction copied the table")

    monkeypatch.setattr(Table, "__deepcopy__", copied, raising=False)
    with pytest.raises(ClientError) as refused:
        aws.transact_write_items(TransactItems=writes_then(last))
    assert refused.value.response["Error"]["Code"] in {
        "TransactionCanceledException",
        "ValidationException",  # moto's answer to an item named twice
    }
    assert everything(aws) == before
    # The same writes without the failing one all land.
    aws.transact_write_items(TransactItems=writes_then(FAILING)[:-1])
    after = {(i["PK"]["S"], i["SK"]["S"]): i for i in everything(aws)}
    assert after["T#1", "M#0001"]["note"] == {"S": "changed"}
    assert after["T#2", "M#0002"]["n"] == {"N": "-1"}
    assert ("T#3", "M#0003") not in after and ("NEW#partition", "M#1") in after


def test_an_update_expression_parsed_once_gives_each_item_its_own_values(aws: Any) -> None:
    expression = "SET note = :note ADD n :n"
    for n in range(3):
        aws.update_item(
            TableName=TABLE,
            Key=key("U#1", f"M#{n}"),
            UpdateExpression=expression,
            ExpressionAttributeValues={":note": {"S": f"note {n}"}, ":n": {"N": str(n)}},
        )
    items = [i for i in everything(aws) if i["PK"]["S"] == "U#1"]
    assert [(i["note"]["S"], i["n"]["N"]) for i in items] == [
        (f"note {n}", str(n)) for n in range(3)
    ]
    for _ in range(2):  # a text moto refuses is refused every time, not remembered
        with pytest.raises(ClientError, match="Invalid UpdateExpression"):
            aws.update_item(
                TableName=TABLE,
                Key=key("U#1", "M#0"),
                UpdateExpression="SET = :note",
                ExpressionAttributeValues={":note": {"S": "x"}},
            )


def test_an_expressions_shape_is_checked_again_for_other_names_or_keys(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What passed moto's shape checks once is not walked by them again; the same text
    with other attribute names, or on a table with other key attributes, is checked,
    and refused as moto refuses it."""
    from moto.dynamodb.parsing import validators

    walked: list[str] = []
    original = validators.ActionCountValidator.traverse

    def counted(self: Any, node: Any) -> Any:
        walked.append("shape")
        return original(self, node)

    monkeypatch.setattr(validators.ActionCountValidator, "traverse", counted)
    text = "SET #a = if_not_exists(#a, :v) ADD #b :n"  # not a plain update: moto validates it

    def update(table: str, names: dict[str, str]) -> None:
        aws.update_item(
            TableName=table,
            Key=key("V#1", "M#1") if table == TABLE else {"note": {"S": "k"}},
            UpdateExpression=text,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":v": {"S": "x"}, ":n": {"N": "1"}},
        )

    plain = {"#a": "note", "#b": "n"}
    for _ in range(3):
        update(TABLE, plain)
    assert len(walked) == 1  # checked once, then known
    for names, refusal in (
        ({"#a": "PK", "#b": "n"}, "Cannot update attribute PK"),
        ({"#a": "note", "#b": "note"}, "Two document paths"),
    ):
        for _ in range(2):  # refused every time, not remembered
            with pytest.raises(ClientError, match=refusal):
                update(TABLE, names)
    aws.create_table(
        TableName="keyed-by-note",
        KeySchema=[{"AttributeName": "note", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "note", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ClientError, match="Cannot update attribute note"):
        update("keyed-by-note", plain)  # the names that passed, another table's key
    with pytest.raises(ClientError, match="can only be used once"):
        aws.update_item(
            TableName=TABLE,
            Key=key("V#1", "M#1"),
            UpdateExpression="SET a = :v SET b = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )


EVERY_TYPE = {
    "s": {"S": 'Тариф \u00e9 "quoted"'},
    "n": {"N": "-12.50"},
    "yes": {"BOOL": True},
    "none": {"NULL": True},
    "list": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"SS": ["x", "y"]}}}]},
    "map": {"M": {"ns": {"NS": ["1", "2"]}, "empty": {"L": []}}},
}
BINARY = {"blob": {"B": b"\x00\xffbytes"}, "nested": {"M": {"set": {"BS": [b"a", b"b"]}}}}
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("PutItem", {"TableName": "t", "Item": {"PK": {"S": "a"}, **EVERY_TYPE}}),
    (
        "Query",
        {
            "TableName": "t",
            "IndexName": "i",
            "KeyConditionExpression": "PK = :p",
            "ExpressionAttributeValues": {":p": {"S": "x"}},
            "ExclusiveStartKey": {"PK": {"S": "a"}, "SK": {"N": "1"}},
            "ScanIndexForward": False,
            "Limit": 5,
        },
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": EVERY_TYPE, "ConditionExpression": "x"}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"PK": {"S": "a"}},
                        "UpdateExpression": "ADD #n :n",
                        "ExpressionAttributeNames": {"#n": "n"},
                        "ExpressionAttributeValues": {":n": {"N": "1"}},
                    }
                },
            ]
        },
    ),
]


@pytest.mark.parametrize(("action", "request_body"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_an_item_request_read_as_json_is_what_motos_parser_reads(
    action: str, request_body: dict[str, Any]
) -> None:
    import json

    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.responses import get_service_model

    operation = get_service_model("dynamodb").operation_model(action)
    body = json.dumps(request_body).encode()
    parsed = PROTOCOL_PARSERS["json"](operation, map_type=dict).parse(
        {"method": "POST", "values": {}, "headers": {}, "body": body, "url_path": "/"}
    )
    assert parsed == json.loads(body)


def test_binary_values_are_still_decoded_at_any_depth(aws: Any) -> None:
    """A binary value is base64 in the JSON: a request holding one goes through moto's
    parser, which decodes it, or the item would keep the base64 text."""
    item = {**key("BIN#1", "M#1"), **EVERY_TYPE, **BINARY}
    aws.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": item}}])
    aws.put_item(TableName=TABLE, Item={**item, **key("BIN#1", "M#2")})
    for sk in ("M#1", "M#2"):
        stored = aws.get_item(TableName=TABLE, Key=key("BIN#1", sk))["Item"]
        assert stored["blob"] == {"B": b"\x00\xffbytes"}
        assert stored["nested"] == {"M": {"set": {"BS": [b"a", b"b"]}}}
        assert stored["list"] == EVERY_TYPE["list"] and stored["s"] == EVERY_TYPE["s"]
    found = aws.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :p",
        FilterExpression="#blob = :b",
        ExpressionAttributeNames={"#blob": "blob"},
        ExpressionAttributeValues={":p": {"S": "BIN#1"}, ":b": {"B": b"\x00\xffbytes"}},
    )
    assert found["Count"] == 2
    # Kept as its base64 text, a binary key would sort as text: b"\xff" ("/w==") first.
    aws.create_table(
        TableName="binary-keys",
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "B"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for sort_key in (b"\xff", b"a", b"\x00"):
        aws.put_item(TableName="binary-keys", Item={"PK": {"S": "p"}, "SK": {"B": sort_key}})
    ordered = aws.query(
        TableName="binary-keys",
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )["Items"]
    assert [i["SK"]["B"] for i in ordered] == [b"\x00", b"a", b"\xff"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.text(alphabet='BSN\\u"0042'),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["B", "BS", "S", "M", "b", "BB", "SB"]), inner, max_size=3),
    max_leaves=12,
)


def escaped(text: str) -> st.SearchStrategy[str]:
    """The same JSON with any of its letters B and S written as escapes."""
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda escape: "".join(
            f"\\u{ord(c):04x}" if c in "BS" and flag else c
            for c, flag in zip(text, escape, strict=True)
        )
    )


@given(st.data(), JSON_VALUES)
def test_only_a_text_that_names_no_binary_value_skips_the_walk(data: Any, value: Any) -> None:
    """A request whose text writes no member B or BS, as it is or escaped, is read as
    JSON without walking it; any other is walked, as before (`holds_binary`)."""
    from devtools.moto_fixes import _names_binary, holds_binary

    for text in (json.dumps(value), data.draw(escaped(json.dumps(value)))):
        assert json.loads(text) == value
        assert holds_binary(text, value) == _names_binary(value)


def test_a_binary_value_named_with_an_escape_is_still_decoded(aws: Any) -> None:
    """A client may escape any letter of a member's name: `"\\u0042"` is B."""

    def escape(request: Any, **_: Any) -> None:
        request.data = request.data.replace(b'"B": ', b'"\\u0042": ')

    aws.meta.events.register("before-sign.dynamodb.PutItem", escape)
    try:
        aws.put_item(TableName=TABLE, Item={**key("BIN#2", "M#1"), "blob": {"B": b"\x00\xff"}})
    finally:
        aws.meta.events.unregister("before-sign.dynamodb.PutItem", escape)
    stored = aws.get_item(TableName=TABLE, Key=key("BIN#2", "M#1"))["Item"]
    assert stored["blob"] == {"B": b"\x00\xff"}


@pytest.mark.parametrize("length", [40_000, 40_600], ids=["under 400 KB", "over"])
def test_an_items_size_is_refused_where_moto_refuses_it(
    aws: Any, length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = {**key("BIG#1", "M#1"), **{f"a{n}": {"S": "x" * length} for n in range(10)}}

    def outcome() -> str:
        try:
            aws.put_item(TableName=TABLE, Item=item)
        except ClientError as refused:
            return str(refused.response["Error"]["Message"])
        return "stored"

    fixed = outcome()
    assert (fixed == "stored") == (length == 40_000), fixed
    monkeypatch.setattr(Item, "__init__", Item.__init__.__wrapped__)  # moto's own check
    assert outcome() == fixed


EVERY_KIND = {
    **key("KIND#1", "M#1"),
    "s": {"S": "Тариф «побольше» \u2028 ok"},
    "empty": {"S": ""},
    "n": {"N": "-12.5"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "null": {"NULL": True},
    "b": {"B": b"\x00\xffbinary"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"x", b"y"]},
    "l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"k": {"BOOL": False}}}, {"L": []}]},
    "m": {"M": {"a": {"S": "b"}, "nested": {"M": {"c": {"NULL": True}}}, "e": {"M": {}}}},
}


def test_an_item_is_returned_in_the_bytes_motos_serialiser_writes(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core.serialize import BaseJSONSerializer

    aws.put_item(TableName=TABLE, Item=EVERY_KIND)
    bodies: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.content)

    aws.meta.events.register("after-call.dynamodb.*", keep)
    read = [
        lambda: aws.get_item(TableName=TABLE, Key=key("KIND#1", "M#1")),
        lambda: aws.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": {"S": "KIND#1"}},
        ),
    ]

    def answers() -> list[Any]:
        return [{k: v for k, v in call().items() if k != "ResponseMetadata"} for call in read]

    fixed = answers()
    assert fixed[0]["Item"] == EVERY_KIND
    with monkeypatch.context() as patched:
        original = BaseJSONSerializer._serialize_type_structure.__wrapped__  # type: ignore[attr-defined]
        patched.setattr(BaseJSONSerializer, "_serialize_type_structure", original)
        own = answers()
    assert own == fixed
    assert bodies[2:] == bodies[:2]


# (item, update expression, names, values): each applied in turn, as the test below says.
NUMBER, TEXT = {"N": "1"}, {"S": "x"}
COUNTERS = "SET entity = :e ADD #f0 :f0, #m :m"
GAUGE = "ADD open_official :d SET GSI2PK = :pk, GSI2SK = :sk"
EVERY_VALUE = "SET #b = :b, #z = :z, #m = :m, #l = :l, #ss = :ss, #n = :n"
PLAIN_UPDATES: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    ("c1", COUNTERS, {"#f0": "received", "#m": "m0003"}, {":e": TEXT, ":f0": NUMBER, ":m": NUMBER}),
    ("c1", COUNTERS, {"#f0": "received", "#m": "m0004"}, {":e": TEXT, ":f0": NUMBER, ":m": NUMBER}),
    ("c1", "ADD #f0 :f0", {"#f0": "received"}, {":f0": {"N": "2.5"}}),
    ("c1", "ADD entity :f0", {}, {":f0": NUMBER}),  # a number added to text
    ("c2", GAUGE, {}, {":d": {"N": "-1"}, ":pk": {"S": "OPEN"}, ":sk": {"S": "00"}}),
    ("c2", "SET GSI2PK = :n", {}, {":n": NUMBER}),  # an index's key of another type
    ("c2", "SET GSI2PK = :e", {}, {":e": {"S": ""}}),  # an index's key empty
    ("c3", "SET #a = :v, #b = :v", {"#a": "x", "#b": "x"}, {":v": TEXT}),  # one path twice
    ("c3", "SET #k = :v", {"#k": "SK"}, {":v": TEXT}),  # the table's key
    ("c3", "SET name = :v", {}, {":v": TEXT}),  # a reserved word
    ("c3", "SET #a = :v SET #b = :v", {"#a": "a", "#b": "b"}, {":v": TEXT}),  # SET twice
    (
        "c3",
        EVERY_VALUE,
        {"#b": "b", "#z": "z", "#m": "m", "#l": "l", "#ss": "ss", "#n": "n"},
        {
            ":b": {"BOOL": False},
            ":z": {"NULL": True},
            ":m": {"M": {"k": {"S": "v"}, "d": {"M": {"n": NUMBER}}}},
            ":l": {"L": [TEXT, NUMBER]},
            ":ss": {"SS": ["a", "b"]},
            ":n": {"N": "-0.50"},
        },
    ),
    ("c3", "ADD #ss :ss", {"#ss": "ss"}, {":ss": {"SS": ["c"]}}),  # a set: moto's
    ("c3", "ADD #b :n", {"#b": "b"}, {":n": NUMBER}),  # a number added to a boolean
    ("c4", "SET #big = :big", {"#big": "big"}, {":big": {"S": "x" * 405_000}}),  # over 400 KB
    ("c5", "SET #a = :v", {"#a": "a"}, {":v": {"S": "x" * 200_000}}),
    (
        "c5",
        "SET #a = :v ADD #n :n",
        {"#a": "a", "#n": "n"},
        {":v": {"S": "y" * 210_000}, ":n": NUMBER},
    ),
]
DIRECT = {COUNTERS, "ADD #f0 :f0", GAUGE, EVERY_VALUE, "SET #a = :v"}


def plain_updates(dynamodb: Any, partition: str) -> list[Any]:
    """What each of `PLAIN_UPDATES` answers in `partition`, then a transaction of them
    that fails and one that does not, then every item of the partition."""
    seen: list[Any] = []
    for sk, text, names, values in PLAIN_UPDATES:
        names_given = {"ExpressionAttributeNames": names} if names else {}
        try:
            answer = dynamodb.update_item(
                TableName=TABLE,
                Key=key(partition, sk),
                UpdateExpression=text,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                **names_given,
            )
            seen.append({**answer["Attributes"], "PK": "-"})
        except ClientError as error:
            seen.append(error.response["Error"])
    counters = {
        "Update": {
            "TableName": TABLE,
            "Key": key(partition, "c1"),
            "UpdateExpression": COUNTERS,
            "ExpressionAttributeNames": {"#f0": "answered", "#m": "m0009"},
            "ExpressionAttributeValues": {":e": TEXT, ":f0": NUMBER, ":m": NUMBER},
        }
    }
    refused = {  # c2 is there: the transaction is cancelled, and the counters undone
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": key(partition, "c2"),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }
    for last in (refused, {"Put": {"TableName": TABLE, "Item": key(partition, "c6")}}):
        try:
            dynamodb.transact_write_items(TransactItems=[counters, last])
            seen.append("committed")
        except ClientError as error:
            seen.append(error.response["Error"]["Code"])
    items = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": partition}},
    )["Items"]
    return seen + [{**i, "PK": "-"} for i in items]


def test_a_plain_update_is_applied_as_moto_applies_it(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each update, answer, error and item is what moto's own update gives; the plain
    ones took the direct way, and no other did."""
    from devtools import moto_fixes

    direct, original = [], moto_fixes.update_directly

    def counted(*args: Any) -> Any:
        item = original(*args)
        if item is not None:
            direct.append(args[2])
        return item

    monkeypatch.setattr(moto_fixes, "update_directly", counted)
    fixed = plain_updates(aws, "P#fixed")
    monkeypatch.setattr(moto_fixes, "update_directly", lambda *args: None)
    assert fixed == plain_updates(aws, "P#moto")
    assert set(direct) == DIRECT
    assert fixed[2]["received"] == {"N": "4.5"} and fixed[12]["ss"] == {"SS": ["a", "b", "c"]}
    assert fixed[17:19] == ["TransactionCanceledException", "committed"]
    assert fixed[19]["answered"] == {"N": "1"}  # counted by the committed one alone
    assert "exceeded the maximum allowed size" in fixed[14]["Message"] == fixed[16]["Message"]


def test_each_handlers_actions_are_the_ones_moto_lists(aws: Any) -> None:
    """The list of a response class's functions, kept per class, is moto's own list."""
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core import responses, utils
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response
    from moto.sqs.responses import SQSResponse

    kept = responses.method_names_from_class
    assert kept is not utils.method_names_from_class
    for handler in (DynamoHandler, SQSResponse, S3Response, CognitoIdpResponse):
        assert kept(handler) == utils.method_names_from_class(handler)
        assert "get_item" in kept(DynamoHandler)
        assert kept(handler) is kept(handler)  # made once


def test_a_condition_parsed_once_checks_each_item_with_its_own_values(aws: Any) -> None:
    """`parse_each_condition_once`: the same text with other values is another check,
    the same check on another item reads that item, and a refused text is refused
    every time."""
    aws.put_item(TableName=TABLE, Item={**key("C#1", "A"), "n": {"N": "1"}})
    aws.put_item(TableName=TABLE, Item={**key("C#1", "B"), "n": {"N": "2"}})
    condition = {"ConditionExpression": "n = :n", "UpdateExpression": "SET seen = :n"}
    for sk, n, passes in (("A", "1", True), ("B", "1", False), ("B", "2", True), ("A", "2", False)):
        request = {"Key": key("C#1", sk), "ExpressionAttributeValues": {":n": {"N": n}}}
        if passes:
            aws.update_item(TableName=TABLE, **request, **condition)
        else:
            with pytest.raises(ClientError, match="ConditionalCheckFailed"):
                aws.update_item(TableName=TABLE, **request, **condition)
    for sk in ("A", "B", "A"):  # one text, three checks, each on its own item
        with pytest.raises(ClientError, match="ConditionalCheckFailed"):
            aws.put_item(
                TableName=TABLE,
                Item=key("C#1", sk),
                ConditionExpression="attribute_not_exists(PK)",
            )
    aws.put_item(
        TableName=TABLE, Item=key("C#1", "C"), ConditionExpression="attribute_not_exists(PK)"
    )
    for _ in range(2):  # as moto refuses it (a ValueError, in process)
        with pytest.raises(ValueError, match="Bad comparison"):
            aws.put_item(TableName=TABLE, Item=key("C#1", "D"), ConditionExpression="n = = 1")


def test_a_condition_parsed_once_still_tells_which_names_it_uses(aws: Any) -> None:
    """moto refuses names a request does not use, from what its parse found."""
    for sk in ("N1", "N2"):  # the second put reads the remembered parse
        aws.put_item(
            TableName=TABLE,
            Item=key("C#2", sk),
            ConditionExpression="attribute_not_exists(#p)",
            ExpressionAttributeNames={"#p": "PK"},
        )
    for _ in range(2):
        with pytest.raises(ClientError, match="unused"):
            aws.put_item(
                TableName=TABLE,
                Item=key("C#2", "N3"),
                ConditionExpression="attribute_not_exists(#p)",
                ExpressionAttributeNames={"#p": "PK", "#q": "SK"},
            )
