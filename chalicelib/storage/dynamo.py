"""The DynamoDB implementation of the repositories, on one table."""

from __future__ import annotations

from typing import Any

from chalicelib.storage import Store
from chalicelib.storage.counters import DynamoReports
from chalicelib.storage.incident_items import DynamoIncidents
from chalicelib.storage.indexes import DynamoDeadlineIndex
from chalicelib.storage.macro_items import DynamoMacros
from chalicelib.storage.markers import DynamoMarkers
from chalicelib.storage.outbox import DynamoOutbox
from chalicelib.storage.quote_items import DynamoQuotes
from chalicelib.storage.table import Table
from chalicelib.storage.ticket_items import DynamoTickets


def dynamo_store(client: Any, table_name: str) -> Store:
    """The repositories over `table_name`, through an injected low-level client."""
    table = Table(client, table_name)
    return Store(
        tickets=DynamoTickets(table),
        deadlines=DynamoDeadlineIndex(table),
        markers=DynamoMarkers(table),
        outbox=DynamoOutbox(table),
        incidents=DynamoIncidents(table),
        quotes=DynamoQuotes(table),
        reports=DynamoReports(table),
        macros=DynamoMacros(table),
    )
