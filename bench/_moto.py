"""What the DynamoDB benches share: the repository on the path, moto with throwaway
credentials (never a real endpoint), no metrics or traces, and the tables the template
deploys, built from the same definitions (`devtools.resources`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",  # moto only
    AWS_DEFAULT_REGION="eu-central-1",
    POWERTOOLS_METRICS_DISABLED="true",
    POWERTOOLS_TRACE_DISABLED="true",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from devtools.resources import create_tables  # noqa: E402


@contextmanager
def moto_tables(name: str = "bench") -> Iterator[Any]:
    """A DynamoDB client on moto with the support table made."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        create_tables(client, {"SUPPORT_TABLE_NAME": name})
        yield client
