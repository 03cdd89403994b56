"""A DynamoDB client's item operations leave the API as botocore would send them, with
less of its walking (`chalicelib.storage.item_wire`, issue 29): the same request,
byte for byte, and the same tables for the endpoint rules."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import jmespath
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.serialize import JSONSerializer
from hypothesis import example, given, settings, strategies as st

from chalicelib.aws import CLIENT_CONFIG
from chalicelib.storage.item_wire import (
    ITEM_OPERATIONS,
    TRANSACTION_TABLES,
    ItemWire,
    fast_item_wire,
    transaction_tables,
)


def client(config: Config = CLIENT_CONFIG, service: str = "dynamodb") -> Any:
    return boto3.client(
        service,
        region_name="eu-central-1",
        config=config,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


MODEL = client().meta.service_model
# botocore's own call, for the one test that builds a request and stops it unsent (the
# unit tests' fixture refuses every call before it is built).
MAKE_API_CALL = BaseClient._make_api_call

TEXT = st.text(max_size=12)
ATTRIBUTE = st.recursive(
    st.builds(lambda s: {"S": s}, TEXT)
    | st.builds(lambda n: {"N": str(n)}, st.integers())
    | st.builds(lambda b: {"BOOL": b}, st.booleans())
    | st.just({"NULL": True})
    | st.builds(lambda s: {"SS": s}, st.lists(TEXT, min_size=1, max_size=3, unique=True))
    | st.builds(lambda b: {"B": b}, st.binary(max_size=6))
    | st.builds(lambda b: {"BS": b}, st.lists(st.binary(max_size=4), min_size=1, max_size=2)),
    lambda inner: st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3))
    | st.builds(lambda v: {"M": v}, st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=12,
)
ITEM = st.dictionaries(TEXT, ATTRIBUTE, min_size=1, max_size=5)
NAMES = st.dictionaries(st.from_regex(r"#[a-z]{1,4}", fullmatch=True), TEXT, max_size=2)
VALUES = st.dictionaries(st.from_regex(r":[a-z]{1,4}", fullmatch=True), ATTRIBUTE, max_size=2)
TABLE = st.sampled_from(["support", "support-intake-local", "другая"])
PUT = st.fixed_dictionaries(
    {"TableName": TABLE, "Item": ITEM}, optional={"ConditionExpression": TEXT}
)
UPDATE = st.fixed_dictionaries(
    {"TableName": TABLE, "Key": ITEM, "UpdateExpression": TEXT},
    optional={"ExpressionAttributeNames": NAMES, "ExpressionAttributeValues": VALUES},
)
KEYED = st.fixed_dictionaries(
    {"TableName": TABLE, "Key": ITEM}, optional={"ConditionExpression": TEXT}
)
ENTRY = (
    st.builds(lambda p: {"Put": p}, PUT)
    | st.builds(lambda u: {"Update": u}, UPDATE)
    | st.builds(lambda d: {"Delete": d}, KEYED)
    | st.builds(lambda c: {"ConditionCheck": c}, KEYED)
)
REQUESTS = st.one_of(
    st.tuples(
        st.just("TransactWriteItems"),
        st.fixed_dictionaries(
            {"TransactItems": st.lists(ENTRY, max_size=6)},
            optional={"ClientRequestToken": TEXT},
        ),
    ),
    st.tuples(st.just("PutItem"), PUT),
    st.tuples(st.just("UpdateItem"), UPDATE),
    st.tuples(
        st.just("GetItem"),
        st.fixed_dictionaries({"TableName": TABLE, "Key": ITEM, "ConsistentRead": st.booleans()}),
    ),
    st.tuples(
        st.just("Query"),
        st.fixed_dictionaries(
            {
                "TableName": TABLE,
                "KeyConditionExpression": TEXT,
                "ExpressionAttributeValues": VALUES,
            },
            optional={"Limit": st.integers(1, 100), "ExclusiveStartKey": ITEM},
        ),
    ),
    st.tuples(
        st.just("BatchWriteItem"),
        st.builds(
            lambda t, items: {"RequestItems": {t: [{"PutRequest": {"Item": i}} for i in items]}},
            TABLE,
            st.lists(ITEM, min_size=1, max_size=3),
        ),
    ),
)


def requests_of(operation: str, parameters: Any) -> tuple[Any, Any]:
    """Each serialiser's request, or the kind of error it raised."""
    model = MODEL.operation_model(operation)
    made = []
    for serialiser in (ItemWire(JSONSerializer()), JSONSerializer()):
        try:
            made.append(serialiser.serialize_to_request(parameters, model))
        except Exception as error:
            made.append(type(error))
    return made[0], made[1]


@settings(max_examples=300, deadline=None)
@given(REQUESTS)
def test_an_item_operation_is_the_request_botocore_makes(request: tuple[str, Any]) -> None:
    """Byte for byte, binary attributes included (they go to botocore's own walk)."""
    ours, botocores = requests_of(*request)
    assert ours == botocores


@pytest.mark.parametrize(
    "value",
    [b"\x00bytes", bytearray(b"x"), Decimal("1.5"), {"a", "set"}, 1.5],
)
def test_what_json_writes_otherwise_is_botocores_to_write(value: Any) -> None:
    """Bytes are written in base64 by botocore; what it cannot write fails as before."""
    parameters = {"TableName": "t", "Key": {"PK": {"S": "x"}, "b": {"B": value}}}
    ours, botocores = requests_of("GetItem", parameters)
    assert ours == botocores
    if isinstance(value, bytes):
        assert isinstance(ours, dict) and b'"B": "AGJ5dGVz"' in ours["body"]


class Asked(JSONSerializer):
    def __init__(self) -> None:
        self.asked: list[Any] = []

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        self.asked.append(parameters)
        return super().serialize_to_request(parameters, operation_model)


def test_botocore_walks_only_what_json_cannot_write_as_it_would() -> None:
    plain = {"TableName": "t", "Item": {"PK": {"S": "Тариф"}, "n": {"L": [{"N": "1"}]}}}
    binary = {"TableName": "t", "Item": {"PK": {"S": "x"}, "b": {"B": b"\x00"}}}
    named_b = {"TableName": "t", "Item": {"PK": {"S": "x"}, "B": {"S": "an attribute"}}}
    model = MODEL.operation_model("PutItem")
    for parameters, walked in ((plain, {}), (binary, binary), (named_b, named_b)):
        inner = Asked()
        ItemWire(inner).serialize_to_request(parameters, model)
        assert inner.asked == [walked]


def test_other_operations_are_botocores() -> None:
    parameters = {"TableName": "t"}
    model = MODEL.operation_model("DescribeTable")
    assert ItemWire(JSONSerializer()).serialize_to_request(parameters, model) == (
        JSONSerializer().serialize_to_request(parameters, model)
    )


def _special_members(shape: Any, seen: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    """Members botocore writes otherwise than JSON would: timestamps, floats, blobs,
    renamed members and documents."""
    found = set()
    if shape.type_name in ("blob", "timestamp", "float", "double") or shape.serialization.get(
        "name"
    ):
        found.add((shape.name, shape.type_name))
    if getattr(shape, "is_document_type", False):
        found.add((shape.name, "document"))
    if shape.name in seen:
        return found
    seen |= {shape.name}
    if shape.type_name == "structure":
        for member in shape.members.values():
            found |= _special_members(member, seen)
    elif shape.type_name == "list":
        found |= _special_members(shape.member, seen)
    elif shape.type_name == "map":
        found |= _special_members(shape.value, seen)
    return found


@pytest.mark.parametrize("operation", sorted(ITEM_OPERATIONS))
def test_an_item_operations_only_special_member_is_a_binary_attribute(operation: str) -> None:
    """The ground `ItemWire` stands on, read from botocore's model: in these inputs
    botocore writes every value as JSON does, except binary attribute values (bytes,
    which JSON refuses, so they go to botocore's walk)."""
    model = MODEL.operation_model(operation)
    assert model.endpoint is None  # no host prefix
    assert _special_members(model.input_shape) == {("BinaryAttributeValue", "blob")}
    attribute = MODEL.shape_for("AttributeValue")
    assert attribute.members["B"].name == "BinaryAttributeValue"
    assert attribute.members["BS"].member.name == "BinaryAttributeValue"


PART = (
    st.none()
    | st.integers()
    | st.text(max_size=3)
    | st.fixed_dictionaries({}, optional={"TableName": st.none() | TABLE | st.lists(TABLE)})
)
ENTRIES = st.lists(
    st.none()
    | st.integers()
    | st.dictionaries(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck", "X"]), PART),
    max_size=5,
)


EVERY_KIND = {
    "TransactItems": [
        {k: {"TableName": k.lower()} for k in ("Update", "Delete", "Put", "ConditionCheck")},
        {"Put": {"TableName": "p"}},
    ]
}


@settings(max_examples=500, deadline=None)
@given(st.fixed_dictionaries({}, optional={"TransactItems": ENTRIES | st.text(max_size=3)}))
@example(EVERY_KIND)
def test_a_transactions_tables_are_what_the_models_expression_finds(args: Any) -> None:
    """Where the loop answers, it answers as JMESPath; otherwise JMESPath is asked."""
    tables = transaction_tables(args)
    if tables is not None:
        assert tables == jmespath.search(TRANSACTION_TABLES, args)
    assert (tables is not None) == well_formed(args)


def well_formed(args: Any) -> bool:
    entries = args.get("TransactItems")
    if not isinstance(entries, list):
        return False
    for entry in entries:
        if not isinstance(entry, dict):
            return False
        for kind in ("Put", "Update", "Delete", "ConditionCheck"):
            part = entry.get(kind)
            if part is not None and not (
                isinstance(part, dict) and isinstance(part.get("TableName"), (str, type(None)))
            ):
                return False
    return True


def test_the_models_expression_is_the_one_read_directly() -> None:
    """If botocore's model changes it, JMESPath reads it again (and this fails)."""
    context = MODEL.operation_model("TransactWriteItems").operation_context_parameters
    assert context["ResourceArnList"]["path"] == TRANSACTION_TABLES


class Sent(Exception):
    """Raised where the request would leave: nothing is sent."""


def test_a_client_resolves_the_same_endpoint_and_sends_the_same_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(BaseClient, "_make_api_call", MAKE_API_CALL)
    fast, plain = fast_item_wire(client()), client()
    assert isinstance(fast._serializer, ItemWire)
    sent: dict[str, list[bytes]] = {"fast": [], "plain": []}
    resolved: dict[str, list[Any]] = {"fast": [], "plain": []}
    parameters = {
        "TransactItems": [
            {"Put": {"TableName": "a", "Item": {"PK": {"S": "Тариф"}}}},
            {
                "Update": {
                    "TableName": "b",
                    "Key": {"PK": {"S": "x"}},
                    "UpdateExpression": "SET x = :x",
                    "ExpressionAttributeValues": {":x": {"N": "1"}},
                }
            },
        ],
        "ClientRequestToken": "one-token",  # botocore makes a new one per call otherwise
    }
    for name, each in (("fast", fast), ("plain", plain)):
        original = each._ruleset_resolver._resolve_param_as_operation_context_param

        def spy(*args: Any, _name: str = name, _original: Any = original) -> Any:
            result = _original(*args)
            if args[0] == "ResourceArnList":
                resolved[_name].append(result)
            return result

        each._ruleset_resolver._resolve_param_as_operation_context_param = spy

        def capture(request: Any, _name: str = name, **_: Any) -> Any:
            sent[_name].append(request.body)
            raise Sent

        each.meta.events.register("before-send.dynamodb.TransactWriteItems", capture)
        with pytest.raises(Sent):
            each.transact_write_items(**parameters)
    assert resolved["fast"] == resolved["plain"] == [["a", "b"]]
    assert sent["fast"] == sent["plain"]
    assert json.loads(sent["fast"][0]) == parameters


def test_only_a_plain_dynamodb_client_is_changed() -> None:
    validating = fast_item_wire(client(Config(parameter_validation=True)))
    assert not isinstance(validating._serializer, ItemWire)
    s3 = fast_item_wire(client(service="s3"))
    assert not isinstance(s3._serializer, ItemWire)
    assert "_resolve_param_as_operation_context_param" not in vars(s3._ruleset_resolver)
