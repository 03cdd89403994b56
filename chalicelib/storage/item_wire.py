"""A DynamoDB client's item operations, sent with less of botocore's walking (issue 29).

DynamoDB speaks JSON, and an item operation's body is its parameters as they are: every
value in them goes to `json.dumps` unchanged, except a binary attribute (`B`, `BS`),
which botocore writes in base64. botocore still walks every parameter against the
service model to get there: a new ticket's 18-item transaction made 352 such steps,
0.8 of the 3.9 ms of CPU the API spent on the ticket (timed around the serialiser).
The JS SDK took the same shortcut for DynamoDB (aws/aws-sdk-js-v3#7933); in botocore
it is a known cost with no switch (boto/boto3#2928).

Before it sends a transaction, botocore also finds the tables it names for the endpoint
rules (`ResourceArnList`, the model's JMESPath expression over every item): 0.3 ms for
the same ticket. The same list is read here in one loop, while the model's expression
is still the one this loop was written from.

`fast_item_wire(client)` gives the client a serialiser that writes an item operation's
body straight from its parameters when they hold only what JSON writes as botocore
does (text, numbers, flags, lists, maps, null, and no binary attribute) and asks
botocore for the rest of the request (method, headers, address). Anything else (a
binary attribute, bytes, a set, a Decimal, any operation but the item ones) goes to
botocore's own serialiser, as before. The client keeps botocore's serialiser where it
is not the plain JSON one this was measured against (a validating client, another
protocol, a future botocore), and its endpoint resolver where its method has another
shape. On the local stack, the API's CPU per ticket fell from 4.8-5.5 ms to 3.4-4.3
(eight clients, three fresh stacks each way, interleaved).
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from botocore.serialize import JSONSerializer

# The operations whose inputs hold no timestamp, float or renamed member, and a blob
# only in an attribute value (tests/unit/test_item_wire.py reads botocore's model).
ITEM_OPERATIONS = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
    }
)


class _NotPlain(Exception):
    """A parameter JSON does not write as botocore would (bytes, a set, a Decimal)."""


def _refuse(value: Any) -> Any:
    raise _NotPlain(type(value).__name__)


class ItemWire:
    """botocore's JSON serialiser, with item operations' bodies written directly."""

    def __init__(self, inner: JSONSerializer) -> None:
        self._inner = inner

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        if operation_model.name in ITEM_OPERATIONS:
            body = _plain_json(parameters)
            # A binary attribute is botocore's to write in base64, whatever it holds.
            # json.dumps writes every `B` or `BS` member as `"B": ` (it escapes no
            # letter), so none passes unseen; text that only looks like one (an
            # attribute named B) goes the long way, as before.
            if body is not None and '"B": ' not in body and '"BS": ' not in body:
                # Method, headers and address are the model's, whatever the parameters.
                request = self._inner.serialize_to_request({}, operation_model)
                if "host_prefix" not in request:
                    request["body"] = body.encode(self._inner.DEFAULT_ENCODING)
                    return request
        return self._inner.serialize_to_request(parameters, operation_model)


def _plain_json(parameters: Any) -> str | None:
    """The parameters in JSON, or None where they hold what JSON cannot write."""
    try:
        return json.dumps(parameters, default=_refuse)
    except _NotPlain:
        return None


# The model's expression for the tables a transaction names, and its one reader here.
TRANSACTION_TABLES = (
    "TransactItems[*].[ConditionCheck.TableName, Put.TableName, Delete.TableName, "
    "Update.TableName][]"
)
_KINDS = ("ConditionCheck", "Put", "Delete", "Update")


def transaction_tables(call_args: Any) -> list[str] | None:
    """What `TRANSACTION_TABLES` finds in well-formed parameters: each entry's table
    names in the expression's order, missing ones left out. None where the parameters
    are anything else (JMESPath then reads them)."""
    entries = call_args.get("TransactItems")
    if type(entries) is not list:
        return None
    tables = []
    for entry in entries:
        if type(entry) is not dict:
            return None
        for kind in _KINDS:
            part = entry.get(kind)
            if part is None:
                continue
            if type(part) is not dict:
                return None
            name = part.get("TableName")
            if type(name) is str:
                tables.append(name)
            elif name is not None:
                return None
    return tables


def _read_transaction_tables_directly(resolver: Any) -> None:
    original = getattr(resolver, "_resolve_param_as_operation_context_param", None)
    if original is None or list(inspect.signature(original).parameters) != [
        "param_name",
        "operation_model",
        "call_args",
    ]:
        return

    def resolve(param_name: str, operation_model: Any, call_args: Any) -> Any:
        if param_name == "ResourceArnList" and operation_model.name == "TransactWriteItems":
            context = operation_model.operation_context_parameters.get(param_name, {})
            if context.get("path") == TRANSACTION_TABLES:
                tables = transaction_tables(call_args)
                if tables is not None:
                    return tables
        return original(param_name, operation_model, call_args)

    resolver._resolve_param_as_operation_context_param = resolve


def fast_item_wire(client: Any) -> Any:
    """`client`, sending its item operations through `ItemWire` and reading a
    transaction's tables directly, where it can."""
    if client.meta.service_model.service_name != "dynamodb":
        return client
    inner = getattr(client, "_serializer", None)
    if type(inner) is JSONSerializer:
        client._serializer = ItemWire(inner)
    resolver = getattr(client, "_ruleset_resolver", None)
    if resolver is not None:
        _read_transaction_tables_directly(resolver)
    return client
