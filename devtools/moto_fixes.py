"""Workarounds for moto 5.2's DynamoDB, which the local stack and the tests apply.

moto is not atomic across threads: a conditional write checks, then writes, and a
thread can run in between; a failed transaction rolls back by restoring a snapshot of
the tables taken before it, undoing whatever another thread wrote meanwhile. The local
stack serves requests on threads, so ten concurrent answers could all get 201 while one
was lost. Every operation on the stand-in's tables is serialised by one lock, as the
single writer DynamoDB behaves like for one item.

moto rolls back a failed TransactWriteItems by restoring a deep copy of each table it
touched, taken before every transaction. Its models record every instance they create
(`instances_tracked`, for its model API only), and the copied table and items are
instances too: every transaction left a whole copy of the table alive. A local stack
taking a burst of a thousand tickets grew past 20 GB and was killed. What a transaction
adds to that record is dropped when it returns, and the copy is now an undo log of the
items the transaction names.

The rest bring moto's cost per call closer to the API's own (issue 29): a Query reads
its partition (an index's partitions are grouped once and kept up to date write by
write), an update expression is parsed once, an update that only sets and adds to
top-level attributes is applied directly, an item's size is checked once, and a plain
attribute of a returned item is written as moto's serialiser writes it, without its
walk.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from chalicelib.storage.item_wire import ITEM_OPERATIONS


@functools.cache
def stop_transaction_copies_from_piling_up() -> None:
    from moto.core.model_instances import model_data
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    models: list[Any] = list(model_data["dynamodb"].values())

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: Any) -> Any:
        before = [len(model.instances_tracked) for model in models]
        try:
            return original(self, transact_items)
        finally:
            for model, length in zip(models, before, strict=True):
                del model.instances_tracked[length:]

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


@functools.cache
def undo_only_what_a_transaction_touched() -> None:
    """moto deep-copies every table a transaction touches, to roll back on failure: at a
    few thousand items that is 0.2 s a transaction, and the local stack crawled under a
    burst of mail. Even a copy of the partitions a transaction names grew with the table
    (every ticket writes into the partitions of its search terms, and a common word's
    holds every ticket). A transaction only changes the items it names: before it runs,
    each of those is copied (or noted absent), and a failed one puts them back, newest
    write undone last-first. moto's own copy of the table is the table itself, so its
    rollback (putting the copy in the table's place) changes nothing."""
    import threading

    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    real_copy = getattr(backend_module, "copy")  # noqa: B009  (not exported by moto)
    inside = threading.local()

    class CopyForTransactions:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_copy, name)

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table) and getattr(inside, "transaction", False):
                return value  # the undo log below restores what the transaction changed
            return real_copy.deepcopy(value, memo)

    def named_items(backend: Any, transact_items: Any) -> list[tuple[Any, Any, Any]]:
        named = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            try:  # the item's key, read as moto reads it (`get_keys_value`)
                key = backend.get_keys_value(table, op.get("Key") or op.get("Item") or {})
            except Exception:  # noqa: S112 (no such table or key: moto refuses it unwritten)
                continue
            named.append((table, *key))
        return named

    def saved(table: Any, hash_key: Any, range_key: Any) -> Any:
        part = table.items.get(hash_key)
        item = part.get(range_key) if range_key is not None and part is not None else part
        return real_copy.deepcopy(item) if item is not None else None

    def restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
        # Only items the transaction wrote differ, and each write marked its key for the
        # index partitions (`IndexPartitions.changed`): a restored one is filed again.
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item

    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: Any) -> Any:
        undo = [(*key, saved(*key)) for key in named_items(self, transact_items)]
        inside.transaction = True
        try:
            return original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, item in reversed(undo):
                restore(table, hash_key, range_key, item)
            raise
        finally:
            inside.transaction = False

    setattr(backend_module, "copy", CopyForTransactions())  # noqa: B010
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class IndexPartitions:
    """A table's items grouped by the value of one attribute, an index's partition key:
    built by one walk of the table when an index is first read, and kept up to date
    item by item. Every write of an item marks its key (`changed`); the next read of
    the grouping files the items written since under their new values. Writes this
    does not follow one by one (PartiQL), and more marked keys than a walk would read
    again, drop the grouping (`forget`): the next read walks the table once more."""

    SCALARS = frozenset({"S", "N", "B"})  # what an index key can be

    def __init__(self, table: Any, attribute: str) -> None:
        self.attribute = attribute
        self.groups: dict[Any, dict[Any, Any]] = {}  # value -> {item key: item}
        self.filed: dict[Any, Any] = {}  # item key -> the value it is filed under
        self.pending: set[Any] = set()
        for part in table.items.values():
            for item in part.values() if table.range_key_attr else (part,):
                self._file((item.hash_key, item.range_key), item)

    def _file(self, key: Any, item: Any) -> None:
        value = item.attrs.get(self.attribute) if item is not None else None
        if value is not None and value.type in self.SCALARS:
            self.groups.setdefault(value, {})[key] = item
            self.filed[key] = value

    def partition(self, table: Any, value: Any) -> list[Any]:
        for key in self.pending:
            old = self.filed.pop(key, None)
            if old is not None:
                group = self.groups[old]
                del group[key]
                if not group:
                    del self.groups[old]
            part = table.items.get(key[0])
            if table.range_key_attr:
                part = part.get(key[1]) if part is not None else None
            self._file(key, part)
        self.pending.clear()
        return list(self.groups.get(value, {}).values())

    @staticmethod
    def of(table: Any) -> dict[str, IndexPartitions]:
        found: dict[str, IndexPartitions] | None = table.__dict__.get("_index_partitions")
        if found is None:
            found = table.__dict__["_index_partitions"] = {}
        return found

    @staticmethod
    def changed(table: Any, hash_key: Any, range_key: Any) -> None:
        groupings = IndexPartitions.of(table)
        for attribute, grouping in list(groupings.items()):
            grouping.pending.add((hash_key, range_key))
            if len(grouping.pending) > max(1024, len(grouping.filed)):
                del groupings[attribute]  # written more than read: walk again when read

    @staticmethod
    def forget(table: Any) -> None:
        IndexPartitions.of(table).clear()


@functools.cache
def query_only_the_partition() -> None:
    """moto answers every Query by sorting every item of the table (`all_items`) and then
    keeping the partition's: the local stack's outbox drain, queue pages and fan-out
    slowed as the table grew (during a fan-out to 600 requests, two thirds of the stack's
    busy time was moto's Query; a staff queue page over 3,000 tickets took 170 ms).
    A Query reads the partition it names: the base table's items under its hash key, or
    for an index the items filed under the query's value of the index's partition key
    (`IndexPartitions`, moto's own equality). moto's code then applies every condition,
    the order, the filter and the page to those, as before."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = Table.query

    def candidates(table: Any, hash_key: Any, index_name: Any, conditions: Any) -> Any:
        if not index_name:
            part = table.items.get(hash_key)
            if part is None:
                return []
            return list(part.values()) if table.range_key_attr else [part]
        ((attribute, value),) = conditions
        groupings = IndexPartitions.of(table)
        if attribute not in groupings:
            groupings[attribute] = IndexPartitions(table, attribute)
        return groupings[attribute].partition(table, value)

    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions")
        if (index_name and len(conditions or ()) != 1) or (not index_name and hash_key is None):
            return original(self, hash_key, *args, **kwargs)  # no key, or one of several values
        found = candidates(self, hash_key, index_name, conditions)
        self.all_items = lambda: found  # what `query` walks; the instance's, for this call
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    put, delete = Table.put_item, Table.delete_item

    @functools.wraps(put)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = put(self, *args, **kwargs)
        IndexPartitions.changed(self, item.hash_key, item.range_key)
        return item

    @functools.wraps(delete)
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        IndexPartitions.changed(self, hash_key, range_key)
        return delete(self, hash_key, range_key)

    update = DynamoDBBackend.update_item

    @functools.wraps(update)
    def update_item(self: Any, table_name: Any, key: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return update(self, table_name, key, *args, **kwargs)  # changes items in place
        finally:  # a failed update may have changed its item half-way
            table = self.tables.get(table_name)
            if table is not None:
                try:
                    IndexPartitions.changed(table, *self.get_keys_value(table, key))
                except Exception:
                    IndexPartitions.forget(table)

    def forgetting(name: str) -> None:
        """Writes through paths not followed above: every table's groupings go."""
        method = getattr(DynamoDBBackend, name)

        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                for table in list(self.tables.values()):
                    IndexPartitions.forget(table)

        setattr(DynamoDBBackend, name, call)

    for name in ("execute_statement", "execute_transaction", "batch_execute_statement"):
        forgetting(name)

    order = Table.sorted_items

    @functools.wraps(order)
    def sorted_items(self: Any, hash_attrs: Any, range_attrs: Any, items: list[Any]) -> Any:
        """moto's order (by the key attributes), compared as moto compares them (by
        `cast_value`), computed once per item instead of at every comparison."""
        names = self._generate_attr_to_sort_by(hash_attrs, range_attrs)
        items.sort(key=lambda item: tuple([item.attrs[name].cast_value for name in names]))
        return items

    Table.sorted_items = sorted_items  # type: ignore[assignment,method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


# An update of the shape `update_plain_attributes_directly` applies: SET and ADD clauses
# (each at most once, in capitals) of actions on top-level attributes, named plainly or
# through `#name`, with values from `:value`. Anything else is moto's to read.
_PLAIN_PATH = r"(#[A-Za-z0-9_]+|[A-Za-z][A-Za-z0-9_]*)"
_PLAIN_VALUE = r"(:[A-Za-z0-9_]+)"
_PLAIN_CLAUSE = re.compile(r" *(SET|ADD) +")
_PLAIN_ACTION = {
    "SET": re.compile(_PLAIN_PATH + r" *= *" + _PLAIN_VALUE),
    "ADD": re.compile(_PLAIN_PATH + r" +" + _PLAIN_VALUE),
}
_PLAIN_COMMA = re.compile(r" *, *")


@functools.lru_cache(maxsize=1024)
def plain_actions(text: str) -> tuple[tuple[str, str, str], ...] | None:
    """(SET or ADD, path, value token) of each action of a plain update, in its order;
    None for any other text."""
    found: list[tuple[str, str, str]] = []
    kinds: set[str] = set()
    position, end = 0, len(text.rstrip(" "))
    while position < end:
        clause = _PLAIN_CLAUSE.match(text, position)
        if clause is None or clause.group(1) in kinds:
            return None
        kind = clause.group(1)
        kinds.add(kind)
        position = clause.end()
        while True:
            action = _PLAIN_ACTION[kind].match(text, position)
            if action is None:
                return None
            found.append((kind, action.group(1), action.group(2)))
            position = action.end()
            comma = _PLAIN_COMMA.match(text, position)
            if comma is None:
                break
            position = comma.end()
    return tuple(found) or None


_ITEM_SIZE_LIMIT = 405_000  # moto's (`LimitedSizeDict`)


@functools.cache
def _reserved_words() -> frozenset[str]:
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    return frozenset(ReservedKeywords.get_reserved_keywords())


def update_directly(
    table: Any, key: Any, text: str, names: dict[str, str], values: dict[str, Any]
) -> Any:
    """Applies a plain update (`plain_actions`) to its item as moto's executor would, and
    returns the item; None, having changed nothing, for anything moto must see: another
    shape, a reserved or unknown name, a value not given, a path named twice or a key
    attribute, a value an index's key refuses, an ADD that is not of a number to a
    number. The values are moto's (`DynamoType`, its sum), and so is the size limit,
    checked before each attribute is set as moto's `LimitedSizeDict` checks it."""
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    actions = plain_actions(text)
    key_names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if actions is None or sorted(key) != sorted(key_names):
        return None
    planned: list[tuple[str, str, Any]] = []
    for kind, path, token in actions:
        name = names.get(path) if path[0] == "#" else path
        raw = values.get(token)
        if (
            name is None
            or (path[0] != "#" and path.upper() in _reserved_words())
            or name in table.table_key_attrs
            or name in (seen for _, seen, _ in planned)
            or type(raw) is not dict
            or len(raw) != 1
        ):
            return None
        value = DynamoType(raw)
        if kind == "ADD" and value.type != "N":
            return None
        if kind == "SET" and (
            any(d["AttributeName"] == name and d["AttributeType"] != value.type for d in table.attr)
            or (not value.value and value.type in ("S", "B") and name in table.attribute_keys)
        ):
            return None
        planned.append((kind, name, value))
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(hash_value, range_value)
    attrs = item.attrs if item is not None else {}
    changes: list[tuple[str, Any]] = []
    for kind, name, value in planned:
        if kind == "ADD":
            current = attrs.get(name)
            if current is None:
                current = DynamoType({"N": "0"})
            if current.type != "N":
                return None
            try:
                value = current + value
            except Exception:  # a number moto cannot read: moto says how it fails
                return None
        changes.append((name, value))
    if item is None:  # created with its key alone, as moto creates it
        created = {table.hash_key_attr: key[table.hash_key_attr]}
        if table.range_key_attr:
            created[table.range_key_attr] = key[table.range_key_attr]
        table.put_item(created)
        item = table.get_item(hash_value, range_value)
    size = sum(
        part.size() if type(part) is DynamoType else bytesize(str(part))
        for part in (*item.attrs.keys(), *item.attrs.values())
    )
    for name, value in changes:
        added = bytesize(name) + value.size()
        if size + added > _ITEM_SIZE_LIMIT:
            raise ItemSizeToUpdateTooLarge()
        old = item.attrs.get(name)
        dict.__setitem__(item.attrs, name, value)
        size += added - (0 if old is None else bytesize(name) + old.size())
    return item


@functools.cache
def update_plain_attributes_directly() -> None:
    """moto takes every update expression through ten walks of its tree, a copy of the
    tree and a copy of the item (for a stream the table does not have): a ticket's five
    counters (`SET entity = :entity ADD #f0 :f0`) were a quarter of its transaction in
    moto's process. An update without a condition, on a table without a stream, that
    only sets top-level attributes to given values and adds numbers to them, is applied
    directly (`update_directly`); everything else is moto's, as before. moto's request
    handler has already parsed the text and refused a bad one."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.update_item

    @functools.wraps(original)
    def update_item(
        self: Any,
        table_name: str,
        key: dict[str, Any],
        update_expression: str,
        expression_attribute_names: dict[str, Any],
        expression_attribute_values: dict[str, Any],
        attribute_updates: dict[str, Any] | None = None,
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        table = self.tables.get(table_name)
        if (
            table is not None
            and table.stream_shard is None
            and isinstance(update_expression, str)
            and not (attribute_updates or expected or condition_expression)
        ):
            item = update_directly(
                table,
                key,
                update_expression,
                expression_attribute_names or {},
                expression_attribute_values or {},
            )
            if item is not None:
                return item
        return original(
            self,
            table_name,
            key,
            update_expression,
            expression_attribute_names,
            expression_attribute_values,
            attribute_updates,
            expected,
            condition_expression,
            return_values_on_condition_check_failure,
        )

    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


@functools.cache
def parse_each_update_expression_once() -> None:
    """moto parses an update expression twice per write (the request's check, then the
    backend's) and deep-copies the tree twice more to validate it against the item: for a
    ticket's five counters that was a third of its transaction. An expression's tree
    depends on its text alone, so it is parsed once; moto's validator works on its own
    copy of it (`deepcopy`), which is now a pickled snapshot read back, a quarter of
    the time. A text moto refuses raises, as before, and is not remembered."""
    import copy
    import importlib
    import pickle

    from moto.dynamodb.parsing import validators

    # moto's parser modules are untyped (`ignore-errors`): what they define is Any here.
    Node = importlib.import_module("moto.dynamodb.parsing.ast_nodes").Node
    UpdateExpressionParser = importlib.import_module(
        "moto.dynamodb.parsing.expressions"
    ).UpdateExpressionParser

    parse = UpdateExpressionParser.make.__func__
    parsed: functools._lru_cache_wrapper[Any] = functools.lru_cache(maxsize=1024)(
        lambda text: parse(UpdateExpressionParser, text)
    )
    frozen: dict[int, tuple[Any, bytes, str]] = {}  # id(tree) -> (tree, its pickle, text)

    def make(cls: Any, text: Any) -> Any:
        if cls is not UpdateExpressionParser or not isinstance(text, str):
            return parse(cls, text)
        tree = parsed(text)
        if id(tree) not in frozen:
            if len(frozen) >= 1024:
                frozen.clear()
            pickled = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
            frozen[id(tree)] = (tree, pickled, text)
        return tree

    def deepcopy(value: Any, memo: Any = None) -> Any:
        known = frozen.get(id(value)) if isinstance(value, Node) else None
        if known is not None and known[0] is value:
            tree = pickle.loads(known[1])  # noqa: S301 (its own pickle, made just above)
            tree.expression_text = known[2]  # which text it is (`check_each_shape_once`)
            return tree
        return copy.deepcopy(value, memo)

    UpdateExpressionParser.make = classmethod(make)
    setattr(validators, "deepcopy", deepcopy)  # noqa: B010


@functools.cache
def parse_each_condition_once() -> None:
    """moto parses a write's condition twice (the request's check of the names it
    uses, then the backend's), and an empty one at every put that has none: a twelfth
    of its CPU for a ticket's transaction (eight new items, each
    `attribute_not_exists(PK)`). A parsed condition, and the names and values it
    uses, depend on its text, names and values alone, and its operators only read
    the item each check gives them: each is parsed once. One moto refuses raises, as
    before, and is not remembered; values JSON cannot key (bytes) are parsed anew."""
    import json

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser.parse
    parsed: dict[tuple[Any, str, str], tuple[Any, list[str], list[str]]] = {}

    def parse(self: Any) -> Any:
        text = self.condition_expression
        try:
            if text is not None and type(text) is not str:
                raise TypeError(text)
            key = (
                text,
                json.dumps(self.expression_attribute_names),
                json.dumps(self.expression_attribute_values),
            )
        except (TypeError, ValueError):
            return original(self)
        known = parsed.get(key)
        if known is None:
            tree = original(self)
            if len(parsed) >= 1024:
                parsed.clear()
            known = parsed[key] = (
                tree,
                list(self.expr_attr_names_found),
                list(self.expr_attr_values_found),
            )
        self.expr_attr_names_found = list(known[1])
        self.expr_attr_values_found = list(known[2])
        return known[0]

    setattr(ConditionExpressionParser, "parse", parse)  # noqa: B010


@functools.cache
def validate_with_each_processors_map_once() -> None:
    """moto validates an update expression with ten walks of its tree (two hundred nodes
    for `SET a = :a ADD b :b`), and at every node each walk rebuilt its processor's map
    of node types to handlers and asked an abstract class whether the node was a node.
    A processor's map names its own methods and never changes, and a node's type
    decides both answers: each processor finds the handler for a type once, by moto's
    own rule (the first type in its map the node is an instance of), and the walk is
    moto's, in the same order, calling the same hooks."""
    import importlib

    ast_nodes = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    node_type, traverser = ast_nodes.Node, ast_nodes.DepthFirstTraverser
    is_node: dict[type, bool] = {}

    matched: dict[tuple[type, type], Any] = {}  # (processor, node type) -> map key

    def handler_for(self: Any, kind: type) -> Any:
        handlers: dict[Any, Any] | None = self.__dict__.get("_handlers")
        if handlers is None:
            handlers = self.__dict__["_handlers"] = self._processing_map()
        pair = (type(self), kind)
        if pair not in matched:
            matched[pair] = next((k for k in handlers if issubclass(kind, k)), None)
        key = matched[pair]
        return handlers[key] if key is not None else None

    def walk(self: Any, node: Any, child_id: int = -1) -> Any:
        kind = type(node)
        if kind not in is_node:
            is_node[kind] = issubclass(kind, node_type)
        if not is_node[kind]:
            return node
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                walk(self, child_node, i)
        handler = handler_for(self, kind)
        if handler is not None:
            node = handler(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    traverser.traverse_node_recursively = walk


@functools.cache
def check_each_shape_once() -> None:
    """Three of moto's ten walks of an update expression check its shape: at most one
    clause of each kind, no two actions on one path, no key attribute updated. They read
    the text, its attribute names and the table's key attributes, never the item or the
    values, and change nothing: a ticket's five counters passed the same three checks
    on every ticket, a third of their cost. What passed them once with the same names
    and key attributes is not walked by them again; what failed is checked every time.
    The other seven walks, and their order, are moto's."""
    from moto.dynamodb.parsing import validators

    shape_checks = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    passed: set[tuple[Any, ...]] = set()

    def validate(self: Any) -> Any:
        text = getattr(self.node_to_validate, "expression_text", None)
        names = tuple(sorted((self.expression_attribute_names or {}).items()))
        shape = None if text is None else (text, names, tuple(self.table.table_key_attrs))
        known = shape is not None and shape in passed
        node = self.node_to_validate
        for processor in self.processors:
            if not (known and isinstance(processor, shape_checks)):
                node = processor.traverse(node)
        if shape is not None and not known:
            if len(passed) >= 4096:
                passed.clear()
            passed.add(shape)
        return node

    setattr(validators.UpdateExpressionValidator, "validate", validate)  # noqa: B010


@functools.cache
def check_an_items_size_once() -> None:
    """moto checks the 400 KB limit of an item on every attribute it sets, summing the
    sizes of all the attributes set before: a new item of n attributes cost n² sizes (a
    ticket's record, a fifth of its transaction). An item is built from its attributes,
    then its size is checked once; the limit and the error are moto's, and a new item
    over it is refused exactly when moto's own check would refuse it: every running
    sum is at most the whole."""
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    original = Item.__init__
    check = LimitedSizeDict.__setitem__

    @functools.wraps(original)
    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        if not attrs:
            original(self, hash_key, range_key, attrs)
            return
        self.hash_key, self.range_key = hash_key, range_key
        built = LimitedSizeDict()
        *head, (last_name, last_value) = attrs.items()
        for name, value in head:
            dict.__setitem__(built, name, DynamoType(value))
        check(built, last_name, DynamoType(last_value))  # moto's check, on the whole
        self.attrs = built

    setattr(dynamo_type.Item, "__init__", init)  # noqa: B010


@functools.cache
def serialise_plain_attribute_values_directly() -> None:
    """moto writes each attribute of every item it returns through its general response
    serialiser, which tries every member of DynamoDB's AttributeValue shape (ten) under
    two spellings each: a page of 25 ticket records took 70 ms, most of a staff queue
    page. A string, number, boolean or null value is written as that walk writes it;
    anything else (binary, sets, lists, maps) still takes the walk."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure
    plain = {"S": str, "N": str, "BOOL": bool, "NULL": bool}

    @functools.wraps(original)
    def structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and type(value) is dict and len(value) == 1:
            ((kind, raw),) = value.items()
            if type(raw) is plain.get(kind):
                self._default_serialize(serialized, {kind: raw}, shape, key)
                return
        original(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = structure  # type: ignore[method-assign]


def _names_binary(value: Any) -> bool:
    """Whether a JSON value holds a binary attribute value anywhere."""
    if isinstance(value, dict):
        return "B" in value or "BS" in value or any(_names_binary(v) for v in value.values())
    if isinstance(value, list):
        return any(_names_binary(v) for v in value)
    return False


# How JSON can write a member named B or BS: the name as it is, or with a letter escaped
# (`\u0042` is B, `\u0053` is S; the escape's digits have no case).
_BINARY_NAMES = ('"B"', '"BS"', "\\u0042", "\\u0053")


def holds_binary(text: str, value: Any) -> bool:
    """Whether `value`, read from the JSON `text`, holds a binary attribute value
    anywhere. A text that writes no member named B or BS holds none, and its value is
    not walked: the walk of a ticket's transaction (eighteen items) took 0.18 ms, the
    look at its text 0.02 ms (`timeit`)."""
    return any(name in text for name in _BINARY_NAMES) and _names_binary(value)


@functools.cache
def read_item_requests_as_json() -> None:
    """moto reads each request through a parser built from botocore's model of the
    service, and DynamoDB's handler reads what it returns (moto read the JSON body as
    it was before). For an item operation the parser's only change to the body is to
    decode a binary attribute value from base64: a tenth of a ticket's transaction in
    moto went to walking the model over every attribute of every item. A body of an
    item operation that is a JSON object without a binary value is read as JSON, to
    the same result for what botocore writes (`tests/integration/test_moto_fixes.py`
    compares them); anything else goes through moto's parser."""
    import json

    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.parse_parameters

    @functools.wraps(original)
    def parse_parameters(self: Any, request: Any) -> None:
        # No member of an item operation's request is a blob or a timestamp but a binary
        # attribute value (`B`, `BS`), at any depth (tests/unit/test_item_wire.py).
        if self._get_action() in ITEM_OPERATIONS:
            try:
                text = request.data.decode()
                body = json.loads(text)
            except ValueError:  # UnicodeDecodeError too
                text, body = "", None
            if isinstance(body, dict) and not holds_binary(text, body):
                self.params = body
                return
        original(self, request)

    setattr(DynamoHandler, "parse_parameters", parse_parameters)  # noqa: B010


@functools.cache
def remember_moto_services() -> None:
    """moto's server lists its own package folder (about 150 `isdir` calls) to route
    every request to a service; the list does not change while it runs."""
    from moto import backends

    services = tuple(backends.list_of_moto_modules())
    setattr(backends, "list_of_moto_modules", lambda: services)  # noqa: B010


@functools.cache
def remember_each_handlers_actions() -> None:
    """moto lists a response class's functions (`inspect.getmembers`, every member
    sorted) on every request to find the action's method: a tenth of a GetItem's CPU in
    the stand-in. The classes do not change once the fixes are applied: the list is
    kept per class, made the first time as moto makes it."""
    from moto.core import responses

    names = functools.cache(getattr(responses, "method_names_from_class"))  # noqa: B009
    setattr(responses, "method_names_from_class", names)  # noqa: B010


# Every operation that reads or writes items: a read must not see half a transaction.
_SERIALISED = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_write_items",
    "transact_get_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)


@functools.cache
def serialise_item_operations() -> None:
    """One lock around every item operation of moto's DynamoDB (see the module's note)."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()

    def serialised(original: Any) -> Any:
        @functools.wraps(original)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    for name in _SERIALISED:
        setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))


def apply() -> None:
    """Every workaround (the undo log first: the tracking fix wraps it; the lock
    outermost, so a transaction and its rollback are one step to other threads)."""
    undo_only_what_a_transaction_touched()
    stop_transaction_copies_from_piling_up()
    update_plain_attributes_directly()  # under the index partitions' bookkeeping
    query_only_the_partition()
    parse_each_update_expression_once()
    parse_each_condition_once()
    validate_with_each_processors_map_once()
    check_each_shape_once()
    check_an_items_size_once()
    serialise_plain_attribute_values_directly()
    read_item_requests_as_json()
    remember_moto_services()
    remember_each_handlers_actions()
    serialise_item_operations()
