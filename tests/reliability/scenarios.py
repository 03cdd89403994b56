"""The reliability scenarios (issue 13). Each returns one `Row` of the table; `quick`
runs a sample small enough for `make test`, the full form is `make reliability`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.reliability.harness import (
    RecordingMailer,
    RecordingPublisher,
    Row,
    aws_runtime,
    corpus_mails,
    moto_stack,
    over_once,
    put_raw,
    sqs_record,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def timed(run: Callable[..., Row]) -> Callable[..., Row]:
    def wrapper(*args: Any, **kwargs: Any) -> Row:
        started = time.perf_counter()
        row = run(*args, **kwargs)
        row.seconds = time.perf_counter() - started
        return row

    wrapper.__name__ = run.__name__
    return wrapper


def _customer(n: int) -> Any:
    from chalicelib.identity import Principal

    return Principal(sub=f"sub-{n:04d}", email=f"c{n}@example.com", groups=())


def _transcript(n: int, word: str = "Как сменить тариф?") -> dict[str, Any]:
    return {
        "id": f"conv-{n}",
        "channel": "chat" if n % 2 else "skype",
        "started_at": "2026-11-24T12:00:00+03:00",
        "ended_at": "2026-11-24T12:10:00+03:00",
        "messages": [
            {"from": "customer", "at": "2026-11-24T12:01:00+03:00", "text": f"{word} ({n})"},
            {"from": "operator", "at": "2026-11-24T12:02:00+03:00", "text": "В кабинете."},
        ],
    }


def _mail_checks(runtime: Any, keys: list[str], mailer: RecordingMailer, row: Row) -> None:
    """Every stored object has one record, one creation, at most one acknowledgement."""
    import os

    from chalicelib.ids import mail_record_id

    created: dict[str, int] = {}
    for key in keys:
        rid = mail_record_id(os.environ["MAIL_BUCKET"], key)
        record = runtime.store.requests.get(rid)
        if record is None:
            row.lost += 1
            continue
        row.stored += 1
        trail = runtime.store.requests.audit_trail(rid)
        created[rid] = sum(e.action.endswith("_recorded") for e in trail)
        if record.origin and record.origin.ack == "owed":
            row.lost += 1  # an acknowledgement still owed after every redelivery
            row.notes.append(f"ack owed: {rid}")
    row.duplicated += over_once(created) + over_once(mailer.by_record)


@timed
def redelivery(quick: bool = True) -> Row:
    """Every input delivered three times (SQS, SNS and S3 all deliver at least once)."""
    from chalicelib.intake.cabinet import NewTicket
    from chalicelib.intake.chat import parse_transcript
    from chalicelib.intake.mail.handler import mail_batch
    from tests.fakes import FakeLambdaContext

    mails = corpus_mails(60 if quick else None)
    tickets, transcripts = (10, 10) if quick else (100, 100)
    row = Row("redelivery x3", inputs=len(mails) + tickets + transcripts)
    with moto_stack():
        mailer, publisher = RecordingMailer(), RecordingPublisher()
        rt = aws_runtime(mailer=mailer, publisher=publisher)
        keys = [put_raw(path.read_bytes()) for path in mails]
        for _ in range(3):
            for start in range(0, len(keys), 10):
                event = {"Records": [sqs_record(k) for k in keys[start : start + 10]]}
                failures = mail_batch(event, rt.mail, rt.imports)["batchItemFailures"]
                row.lost += len(failures)
        _mail_checks(rt, keys, mailer, row)
        for n in range(tickets):
            new = NewTicket(subject=f"Сайт не открывается {n}", text="Ошибка 500 с утра.")
            bodies = {
                rt.cabinet.create_ticket(_customer(n), new, f"key-{n}", FakeLambdaContext())[0][
                    "id"
                ]
                for _ in range(3)
            }
            listed = rt.store.requests.for_customer(_customer(n).sub, 10, None).items
            row.stored += min(len(listed), 1)
            row.duplicated += max(len(listed) - 1, 0) + len(bodies) - 1
            row.lost += 0 if listed else 1
        for n in range(transcripts):
            ids = {rt.chat.record(parse_transcript(_transcript(n)))[0]["id"] for _ in range(3)}
            thread = rt.store.requests.thread(next(iter(ids)))
            row.stored += 1 if thread else 0
            row.lost += 0 if thread else 1
            row.duplicated += len(ids) - 1
            if thread and len(thread.messages) != 2:
                row.duplicated += abs(len(thread.messages) - 2)
        row.duplicated += over_once(publisher.count("abusive_request"))
    row.notes.append(_concurrent_redelivery(mails, row))
    return row


def _concurrent_redelivery(mails: list[Any], row: Row) -> str:
    """The same mails delivered by three threads at once, on the atomic in-memory store
    (moto's DynamoDB is not atomic across threads)."""
    from chalicelib.intake.mail.adapter import Notification
    from tests.fakes import fake_world
    from tests.integration.test_email_intake import PASS

    world = fake_world(T0)
    keys = []
    for n, path in enumerate(mails):
        key = f"raw/{n}"
        world.blobs.objects[("unit-mail", key)] = path.read_bytes()
        keys.append(key)
    errors: list[BaseException] = []

    def deliver_all() -> None:
        for key in keys:
            try:
                world.runtime.mail.process(Notification("unit-mail", key, "x@y.example", PASS))
            except Exception as error:  # a redelivery would follow
                errors.append(error)

    threads = [threading.Thread(target=deliver_all) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = {k for k in keys if world.store.get(_rid("unit-mail", k)) is not None}
    acks: dict[str, int] = {}
    for message in world.mailer.sent:
        record = str(message["Subject"]).split("]", 1)[0].removeprefix("[#")
        acks[record] = acks.get(record, 0) + 1
    row.lost += len(keys) - len(records)
    row.duplicated += over_once(acks)
    return f"concurrent: {len(keys)} mails x3 threads, {len(records)} stored, {len(errors)} retried"


def _rid(bucket: str, key: str) -> str:
    from chalicelib.ids import mail_record_id

    return mail_record_id(bucket, key)


ALL = [redelivery]
