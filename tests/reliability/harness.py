"""What every reliability scenario shares: a moto stack built from infrastructure/, a
runtime on it with outside calls that can be made to fail, and the table's rows."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

import tests.conftest  # noqa: F401  (the test environment: region, names, Powertools)

SHARED = Path(__file__).resolve().parents[3] / "shared"
CORPUS = SHARED / "corpus"
REGION = "eu-central-1"


@dataclass
class Row:
    """One line of `make reliability`: what went in and what came out."""

    scenario: str
    inputs: int = 0
    stored: int = 0
    duplicated: int = 0
    lost: int = 0
    http_5xx: int = 0
    mistakes: int = 0  # authorization or contract mistakes
    refused: int = 0  # attacks: tried and refused
    leaked: int = 0  # attacks: tried and got through
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not (self.duplicated or self.lost or self.http_5xx or self.mistakes or self.leaked)


def corpus_mails(limit: int | None = None) -> list[Path]:
    """Every .eml of the shared corpus (or an even sample of `limit`), in a fixed order."""
    mails = sorted(CORPUS.rglob("*.eml"))
    if limit is not None and len(mails) > limit:
        step = len(mails) / limit
        mails = [mails[int(i * step)] for i in range(limit)]
    return mails


@contextlib.contextmanager
def moto_stack(secret: str = "reliability-secret") -> Iterator[Any]:
    """moto with every resource the runtime uses, built from the infrastructure
    definitions; yields the DynamoDB client. The `aws` test fixture is this too."""
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from chalicelib.runtime import runtime_for
    from devtools.resources import (
        create_mail_path,
        create_secrets,
        create_tables,
        create_topics,
        create_user_pool,
    )

    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(
            client,
            {
                "SUPPORT_TABLE_NAME": os.environ["SUPPORT_TABLE_NAME"],
            },
        )
        arns = create_topics(boto3.client("sns", region_name=REGION))
        assert all(os.environ.get(k, v) == v for k, v in arns.items()), arns
        cognito = boto3.client("cognito-idp", region_name=REGION)
        os.environ["USER_POOL_ID"] = create_user_pool(cognito, "support-intake-test")[0]
        create_secrets(boto3.client("secretsmanager", region_name=REGION), secret)
        mail = create_mail_path(
            boto3.client("s3", region_name=REGION),
            boto3.client("sns", region_name=REGION),
            boto3.client("sqs", region_name=REGION),
        )
        assert mail["MAIL_BUCKET"] == os.environ["MAIL_BUCKET"]
        boto3.client("ses", region_name=REGION).verify_domain_identity(
            Domain="support.hosting.example"
        )
        parameters.clear_caches()
        runtime_for.cache_clear()
        try:
            yield client
        finally:
            runtime_for.cache_clear()
            parameters.clear_caches()


class Faults:
    """Decides, with a seeded coin, whether the next outside call fails, and how: before
    it takes effect, or after (the effect happened, the answer was lost: a timeout).

    The rate is of failures that get past the SDK's own retries of throttling and 5xx:
    a few in a hundred for DynamoDB and S3 is already a bad day; notice services fail
    more (`rate * external`)."""

    def __init__(self, rate: float, seed: int, external: float = 4.0) -> None:
        self.rate = rate
        self.external = external
        self.on = True
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = 0
        self.unreadable: set[str] = set()  # S3 keys that fail every read while faults are on

    def roll(self, scale: float = 1.0, *, lost_answers: bool = True) -> str | None:
        """None, "before" or "after". Notice services are asked with `lost_answers=False`:
        SNS and SES take no idempotency key, so a publish whose answer is lost cannot
        be told from one that failed; what is injected there is a refusal."""
        if not self.on:
            return None
        with self._lock:
            if self._random.random() >= self.rate * scale:
                return None
            self.injected += 1
            if not lost_answers:
                return "before"
            return "before" if self._random.random() < 0.5 else "after"


class FaultyClient:
    """A boto3 client whose listed operations fail as `Faults` decides."""

    def __init__(self, real: Any, faults: Faults, operations: set[str], code: str) -> None:
        self._real, self._faults, self._operations, self._code = real, faults, operations, code

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name not in self._operations:
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            when = self._faults.roll()
            key = kwargs.get("Key")
            if self._faults.on and isinstance(key, str) and key in self._faults.unreadable:
                when = "before"
            if when == "before":
                raise ClientError({"Error": {"Code": self._code, "Message": "injected"}}, name)
            result = method(*args, **kwargs)
            if when == "after":
                raise ClientError({"Error": {"Code": self._code, "Message": "injected"}}, name)
            return result

        return call


class RecordingPublisher:
    """Counts what reached each topic, by kind and ticket; fails as `Faults` decides."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def publish(self, topic_arn: str, kind: str, message: dict[str, Any]) -> None:
        when = self.faults.roll(self.faults.external, lost_answers=False) if self.faults else None
        if when == "before":
            raise ConnectionError("injected: SNS unreachable")
        with self._lock:
            self.sent.append((kind, message))
        if when == "after":
            raise ConnectionError("injected: SNS answered too late")

    def count(self, kind: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for sent_kind, message in self.sent:
            if sent_kind == kind:
                found[message["ticket_id"]] = found.get(message["ticket_id"], 0) + 1
        return found


def aws_runtime(
    *,
    clock: Callable[[], Any] | None = None,
    publisher: Any = None,
    mailer: Any = None,
    faults: Faults | None = None,
) -> Any:
    """A runtime on the moto stack; with `faults`, DynamoDB, S3 and SNS calls fail."""
    import boto3

    from chalicelib.blobs import S3Blobs
    from chalicelib.config import Settings
    from chalicelib.runtime import aws_services, build_runtime
    from chalicelib.storage.dynamo import dynamo_store

    settings = Settings.from_env(os.environ)
    services = aws_services(settings)
    if faults is not None:
        dynamodb = FaultyClient(
            boto3.client("dynamodb", region_name=REGION),
            faults,
            {"transact_write_items", "update_item", "get_item", "query", "batch_write_item"},
            "ProvisionedThroughputExceededException",
        )
        s3 = FaultyClient(
            boto3.client("s3", region_name=REGION), faults, {"get_object"}, "InternalError"
        )
        services = replace(
            services,
            store=dynamo_store(dynamodb, settings.table_name),
            blobs=S3Blobs(s3),
        )
    if publisher is not None:
        services = replace(services, publisher=publisher)
    if mailer is not None:
        services = replace(services, mailer=mailer)
    kwargs: dict[str, Any] = {"services": services}
    if clock is not None:
        kwargs["clock"] = clock
    return build_runtime(settings, **kwargs)


def put_raw(raw: bytes, key: str | None = None) -> str:
    import boto3

    key = key or f"raw/{uuid.uuid4().hex}"
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=os.environ["MAIL_BUCKET"], Key=key, Body=raw
    )
    return key


def sqs_record(key: str) -> dict[str, Any]:
    from tests.integration.test_email_intake import PASS, sqs_record as record

    return record(os.environ["MAIL_BUCKET"], key, source="sender@example.com", verdicts=PASS)


class RecordingMailer:
    """Counts acknowledgements by the record their subject names; fails as decided."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults
        self.by_record: dict[str, int] = {}
        self._lock = threading.Lock()

    def send(self, message: Any, *, source: str, to: str, tags: Any = None) -> str | None:
        when = self.faults.roll(self.faults.external, lost_answers=False) if self.faults else None
        if when == "before":
            raise ConnectionError("injected: SES throttled")
        from chalicelib.ids import SUBJECT_TAG

        tag = SUBJECT_TAG.search(str(message["Subject"]))
        record = tag.group(1) if tag else "?"
        with self._lock:
            self.by_record[record] = self.by_record.get(record, 0) + 1
        if when == "after":
            raise ConnectionError("injected: SES answered too late")


def over_once(counts: dict[str, int]) -> int:
    """How many extra times things that should happen once happened."""
    return sum(n - 1 for n in counts.values() if n > 1)


def http(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP call to a local stack: (status, JSON body or None)."""
    import json
    import urllib.error
    import urllib.request

    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = token
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, None
