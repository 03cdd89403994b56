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
adds to that record is dropped when it returns.
"""

from __future__ import annotations

import functools
import json
from typing import Any


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
def snapshot_only_what_a_transaction_touches() -> None:
    """moto deep-copies every table a transaction touches, to roll back on failure: at a
    few thousand items that is 0.2 s a transaction, and the local stack crawled under a
    burst of mail. A transaction only changes the items it names, so the snapshot
    copies those items and shares the rest, which it leaves alone. moto takes it again
    for every item of the transaction (twenty for a new ticket), all before the first
    write, so one is taken and given to each."""
    import threading
    from collections import defaultdict

    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    real_copy = getattr(backend_module, "copy")  # noqa: B009  (not exported by moto)
    touched = threading.local()

    class CopyForTransactions:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_copy, name)

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            partitions = getattr(touched, "partitions", None)
            if isinstance(value, Table) and partitions is not None:
                # moto snapshots the table once per item of the transaction, before any
                # of them is written: the first snapshot serves them all.
                made = touched.snapshots
                if value.name not in made:
                    made[value.name] = snapshot(value, partitions.get(value.name, ()))
                return made[value.name]
            return real_copy.deepcopy(value, memo)

    def snapshot(table: Any, keys: Any) -> Any:
        """The table as it is, sharing every item but the ones the transaction names:
        those are copied, so a rollback restores them and nothing else."""
        clone = real_copy.copy(table)
        clone.items = defaultdict(dict, table.items)
        by_partition: dict[str, tuple[Any, set[str]]] = {}
        for hash_raw, range_raw in keys:
            name = json.dumps(hash_raw, sort_keys=True)
            entry = by_partition.setdefault(name, (hash_raw, set()))
            entry[1].add(json.dumps(range_raw, sort_keys=True) if range_raw else "")
        for hash_raw, ranges in by_partition.values():
            key = DynamoType(hash_raw)
            if key not in table.items:
                continue
            part = table.items[key]
            if not isinstance(part, dict) or "" in ranges:
                clone.items[key] = real_copy.deepcopy(part)  # a hash-only table's item
                continue
            copied = dict(part)
            for range_text in ranges:
                range_key = DynamoType(json.loads(range_text))
                if range_key in part:
                    copied[range_key] = real_copy.deepcopy(part[range_key])
            clone.items[key] = copied
        return clone

    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: Any) -> Any:
        partitions: dict[str, list[Any]] = {}
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            source = op.get("Key") or op.get("Item") or {}
            if table is not None and table.hash_key_attr in source:
                range_raw = source.get(table.range_key_attr) if table.range_key_attr else None
                key = (source[table.hash_key_attr], range_raw)
                partitions.setdefault(table.name, []).append(key)
        touched.partitions, touched.snapshots = partitions, {}
        try:
            return original(self, transact_items)
        finally:
            touched.partitions, touched.snapshots = None, {}

    setattr(backend_module, "copy", CopyForTransactions())  # noqa: B010
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


@functools.cache
def query_only_the_partition() -> None:
    """moto answers every Query by sorting every item of the table (`all_items`) and then
    keeping the partition's: the local stack's outbox drain, queue pages and fan-out
    slowed as the table grew (during a fan-out to 600 requests, two thirds of the stack's
    busy time was moto's Query).
    A Query reads the partition it names: the base table's items under its hash key, or
    for an index the items whose index key attributes equal the query's (a string
    compared as such, anything else by moto's own equality). moto's code then applies
    every condition, the order, the filter and the page to those, as before."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    def candidates(table: Any, hash_key: Any, index_name: Any, conditions: Any) -> Any:
        if not index_name:
            part = table.items.get(hash_key)
            if part is None:
                return []
            return list(part.values()) if table.range_key_attr else [part]
        wanted = [(name, value.type, value.value, value) for name, value in conditions]
        found = []
        for part in table.items.values():
            for item in part.values() if table.range_key_attr else (part,):
                attrs = item.attrs
                for name, kind, raw, value in wanted:
                    have = attrs.get(name)
                    if have is None:
                        break
                    if kind == "S":
                        if have.type != "S" or have.value != raw:
                            break
                    elif have != value:
                        break
                else:
                    found.append(item)
        return found

    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions")
        if (index_name and not conditions) or (not index_name and hash_key is None):
            return original(self, hash_key, *args, **kwargs)
        found = candidates(self, hash_key, index_name, conditions)
        self.all_items = lambda: found  # what `query` walks; the instance's, for this call
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]


@functools.cache
def remember_moto_services() -> None:
    """moto's server lists its own package folder (about 150 `isdir` calls) to route
    every request to a service; the list does not change while it runs."""
    from moto import backends

    services = tuple(backends.list_of_moto_modules())
    setattr(backends, "list_of_moto_modules", lambda: services)  # noqa: B010


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
    """Every workaround (the snapshot one first: the tracking fix wraps it; the lock
    outermost, so a transaction and its rollback are one step to other threads)."""
    snapshot_only_what_a_transaction_touches()
    stop_transaction_copies_from_piling_up()
    query_only_the_partition()
    remember_moto_services()
    serialise_item_operations()
