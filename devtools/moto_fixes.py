"""A workaround for moto 5.2's DynamoDB, which the local stack and the tests apply.

moto rolls back a failed TransactWriteItems by restoring a deep copy of each table it
touched, taken before every transaction. Its models record every instance they create
(`instances_tracked`, for its model API only), and the copied table and items are
instances too: every transaction left a whole copy of the table alive. A local stack
taking a burst of a thousand tickets grew past 20 GB and was killed. What a transaction
adds to that record is dropped when it returns.
"""

from __future__ import annotations

import functools
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
