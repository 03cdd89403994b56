"""The reliability scenarios (issue 13). Each returns one `Row` of the table; `quick`
runs a sample small enough for `make test`, the full form is `make reliability`."""

from __future__ import annotations

import contextlib
import gc
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from tests.reliability.harness import (
    Faults,
    RecordingMailer,
    RecordingPublisher,
    Row,
    aws_runtime,
    corpus_mails,
    http,
    moto_stack,
    over_once,
    put_raw,
    sqs_record,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MOTO_SLICE = 100


def timed(run: Callable[..., Row]) -> Callable[..., Row]:
    def wrapper(*args: Any, **kwargs: Any) -> Row:
        started = time.perf_counter()
        row = run(*args, **kwargs)
        row.seconds = time.perf_counter() - started
        return row

    wrapper.__name__ = run.__name__
    return wrapper


def _customer(n: int) -> Any:
    from chalicelib.domain.identity import Principal

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

    from chalicelib.ids import mail_ticket_id

    created: dict[str, int] = {}
    for key in keys:
        rid = mail_ticket_id(os.environ["MAIL_BUCKET"], key)
        record = runtime.store.tickets.get(rid)
        if record is None:
            row.lost += 1
            continue
        row.stored += 1
        trail = runtime.store.tickets.audit_trail(rid)
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

    mails = corpus_mails(60 if quick else None)
    tickets, transcripts = (10, 10) if quick else (100, 100)
    row = Row("redelivery x3", inputs=len(mails) + tickets + transcripts)
    # moto copies the whole table on every transaction (its way to roll one back), so a
    # long run on one table grows quadratically; the full corpus goes in slices.
    for start in range(0, len(mails), MOTO_SLICE):
        with moto_stack():
            _redeliver_mails(mails[start : start + MOTO_SLICE], row)
        gc.collect()
    with moto_stack():
        rt = aws_runtime(mailer=RecordingMailer(), publisher=RecordingPublisher())
        for n in range(tickets):
            new = NewTicket(subject=f"Сайт не открывается {n}", text="Ошибка 500 с утра.")
            bodies = {
                rt.cabinet.create_ticket(_customer(n), new, f"key-{n}")[0]["id"] for _ in range(3)
            }
            listed = rt.store.tickets.for_customer(_customer(n).sub, 10, None).items
            row.stored += min(len(listed), 1)
            row.duplicated += max(len(listed) - 1, 0) + len(bodies) - 1
            row.lost += 0 if listed else 1
        for n in range(transcripts):
            ids = {rt.chat.record(parse_transcript(_transcript(n)))[0]["id"] for _ in range(3)}
            thread = rt.store.tickets.thread(next(iter(ids)))
            row.stored += 1 if thread else 0
            row.lost += 0 if thread else 1
            row.duplicated += len(ids) - 1
            if thread and len(thread.messages) != 2:
                row.duplicated += abs(len(thread.messages) - 2)
    row.notes.append(_concurrent_redelivery(mails, row))
    return row


def _redeliver_mails(mails: list[Any], row: Row) -> None:
    from chalicelib.intake.mail.handler import mail_batch

    mailer, publisher = RecordingMailer(), RecordingPublisher()
    rt = aws_runtime(mailer=mailer, publisher=publisher)
    keys = [put_raw(path.read_bytes()) for path in mails]
    for _ in range(3):
        for start in range(0, len(keys), 10):
            event = {"Records": [sqs_record(k) for k in keys[start : start + 10]]}
            failures = mail_batch(event, rt.mail, rt.imports)["batchItemFailures"]
            row.lost += len(failures)
            if failures:
                row.notes.append(f"{len(failures)} deliveries failed in a batch")
    rt.sweeper.run(datetime.now(UTC) + timedelta(minutes=5))  # drain what is owed
    _mail_checks(rt, keys, mailer, row)
    row.duplicated += over_once(publisher.count("abusive_request"))


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
    from chalicelib.ids import mail_ticket_id

    return mail_ticket_id(bucket, key)


class MovingClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


RUDE = "Вы там совсем охренели? Сайт опять лежит, идиоты."


def _create_until_done(rt: Any, n: int) -> tuple[int, int]:
    """A cabinet client: retry the same Idempotency-Key until a 2xx; (5xx, attempts)."""
    from chalicelib.intake.cabinet import NewTicket

    text = RUDE if n % 4 == 0 else f"Сайт не открывается, ошибка 500 ({n})."
    new = NewTicket(subject=f"Сайт {n}", text=text)
    errors = 0
    for attempt in range(1, 40):
        try:
            rt.cabinet.create_ticket(_customer(n), new, f"key-{n}")
            return errors, attempt
        except Exception:
            errors += 1  # what the client would see as a 500 before retrying
    raise AssertionError(f"ticket {n} never created")


def _deliver_with_retries(rt: Any, keys: list[str], dlq: list[str]) -> int:
    """SQS as configured: a failed message comes back, and after 5 receives it is
    dead-lettered. Returns how many deliveries failed."""
    from chalicelib.intake.mail.handler import mail_batch

    receives = dict.fromkeys(keys, 0)
    pending = list(keys)
    failed_total = 0
    while pending:
        batch, pending = pending[:10], pending[10:]
        for key in batch:
            receives[key] += 1
        event = {"Records": [sqs_record(k) for k in batch]}
        by_message = {r["messageId"]: k for r, k in zip(event["Records"], batch, strict=True)}
        try:
            failures = mail_batch(event, rt.mail, rt.imports)["batchItemFailures"]
            failed = [by_message[f["itemIdentifier"]] for f in failures]
        except Exception:
            failed = batch  # the whole invocation failed
        failed_total += len(failed)
        for key in failed:
            (dlq if receives[key] >= 5 else pending).append(key)
    return failed_total


@timed
def faults(quick: bool = True) -> Row:
    """DynamoDB throttling and lost answers, S3 read and SNS/SES failures injected at
    random while mail, tickets, the sweep and the senders run; then redrive."""
    import os

    import boto3

    from chalicelib.ids import mail_ticket_id

    mails = corpus_mails(40 if quick else 150)
    tickets = 12 if quick else 40
    row = Row("faults, then redrive", inputs=len(mails) + tickets)
    with moto_stack():
        clock = MovingClock(T0)
        fault = Faults(rate=0.03, seed=13)
        publisher, mailer = RecordingPublisher(fault), RecordingMailer(fault)
        rt = aws_runtime(clock=clock, publisher=publisher, mailer=mailer, faults=fault)
        raws = {put_raw(path.read_bytes()): path.read_bytes() for path in mails}
        fault.unreadable.update(list(raws)[:2])  # these end in the dead-letter queue
        dlq: list[str] = []
        for n in range(tickets):
            errors, _ = _create_until_done(rt, n)
            row.notes.append(f"ticket {n}: {errors} failed attempts") if errors > 3 else None
        failed = _deliver_with_retries(rt, list(raws), dlq)
        for minute in range(55, 75):  # the sweep every minute, through the deadlines
            clock.now = T0 + timedelta(minutes=minute)
            try:
                rt.sweeper.run(clock.now)
            except Exception:
                row.notes.append(f"sweep at +{minute} failed; the next one runs")
        for n in range(tickets):  # staff answer each breached ticket, retrying with a key
            _answer_until_done(rt, _customer(n).sub)
        injected, fault.on = fault.injected, False
        redriven = list(dlq)
        dlq.clear()
        _deliver_with_retries(rt, redriven, dlq)
        for hours in (5, 10):  # what is still owed waits for its backoff, then goes
            clock.now = T0 + timedelta(hours=hours)
            rt.sweeper.run(clock.now)
        row.notes.append(
            f"{injected} faults injected; {failed} mail deliveries failed; "
            f"{len(redriven)} dead-lettered and redriven"
        )
        s3 = boto3.client("s3", region_name="eu-central-1")
        bucket = os.environ["MAIL_BUCKET"]
        created: dict[str, int] = {}
        for key, raw in raws.items():
            if s3.get_object(Bucket=bucket, Key=key)["Body"].read() != raw:
                row.lost += 1
                row.notes.append(f"raw mail changed: {key}")
            record = rt.store.tickets.get(mail_ticket_id(bucket, key))
            if record is None or (record.origin and record.origin.ack == "owed"):
                row.lost += 1
                continue
            row.stored += 1
            trail = rt.store.tickets.audit_trail(record.id)
            created[record.id] = sum(e.action.endswith("_recorded") for e in trail)
        row.duplicated += over_once(created) + over_once(mailer.by_record)
        _check_tickets(rt, tickets, publisher, row)
        _check_answers(rt, tickets, mailer, row)
        owed, aside = rt.store.outbox.due("9999", 1000), rt.store.outbox.given_up()
        row.lost += len(owed) + len(aside)
        if owed or aside:
            row.notes.append(f"outbox: {len(owed)} still owed, {len(aside)} given up")
    return row


def _answer_until_done(rt: Any, customer: str) -> None:
    """A staff client: the same Idempotency-Key until the answer is taken."""
    from chalicelib.domain.identity import Principal

    agent = Principal(sub="sub-agent", email="agent@hosting.example", groups=("staff",))
    failures: list[Exception] = []
    for _ in range(40):
        try:
            [ticket] = rt.store.tickets.for_customer(customer, 10, None).items
            rt.desk.respond(agent, ticket.id, "Сайт снова работает.", key=f"answer-{ticket.id}")
            return
        except Exception as error:  # what the client would see as a 5xx: it retries
            failures.append(error)
    raise AssertionError(f"no answer for {customer}: {failures[-1]!r}")


def _check_answers(rt: Any, tickets: int, mailer: RecordingMailer, row: Row) -> None:
    """One stored answer per ticket, and one notification of it (R2.6)."""
    for n in range(tickets):
        for ticket in rt.store.tickets.for_customer(_customer(n).sub, 10, None).items:
            thread = rt.store.tickets.thread(ticket.id)
            answers = [m for m in thread.messages if m.author == "staff"] if thread else []
            row.lost += not answers
            row.duplicated += max(len(answers) - 1, 0)
            mailed = mailer.by_record.get(ticket.id, 0)
            row.lost += mailed == 0
            row.duplicated += max(mailed - 1, 0)


def _check_tickets(rt: Any, tickets: int, publisher: RecordingPublisher, row: Row) -> None:
    """One ticket per key, one escalation per breach, one abuse notice per flagged ticket,
    the open gauge equal to what waits, and every conversation whole."""
    escalations, abuse = publisher.count("sla_breach"), publisher.count("abusive_request")
    waiting = 0
    for n in range(tickets):
        listed = rt.store.tickets.for_customer(_customer(n).sub, 10, None).items
        row.lost += 0 if listed else 1
        row.duplicated += max(len(listed) - 1, 0)
        for ticket in listed:
            row.stored += 1
            thread = rt.store.tickets.thread(ticket.id)
            if thread is None or len(thread.messages) != ticket.message_count:
                row.mistakes += 1
                row.notes.append(f"{ticket.id}: half-written conversation")
            waiting += ticket.sla is not None and ticket.sla.first_response_at is None
            breaches = escalations.get(ticket.id, 0)
            row.lost += breaches == 0
            row.duplicated += max(breaches - 1, 0)
            flagged = "abusive" in ticket.scope.flags
            row.lost += flagged and abuse.get(ticket.id, 0) == 0
            row.duplicated += max(abuse.get(ticket.id, 0) - 1, 0)
    if rt.store.deadlines.open_count() != waiting:
        row.mistakes += 1
        row.notes.append(f"open gauge {rt.store.deadlines.open_count()}, waiting {waiting}")


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same instant; their results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@timed
def races(quick: bool = True) -> Row:
    """Concurrent writers on the atomic in-memory store (conditional writes as DynamoDB
    applies them); moto is not atomic across threads, so it is not used here."""
    rounds = 10 if quick else 60
    row = Row("races", inputs=rounds * 5)
    _race_two_sweeps(rounds, row)
    _race_answer_and_breach(rounds, row, seconds_after_due=30)
    _race_answer_and_breach(rounds, row, seconds_after_due=-30)
    _race_idempotent_posts(rounds, row)
    _race_transcripts(rounds, row)
    return row


def _race_two_sweeps(rounds: int, row: Row) -> None:
    from tests.fakes import fake_world

    one = fake_world(T0)
    two = fake_world(T0, share=one)
    ids = [one.runtime.cabinet.open_ticket(_customer(n), _new(n)).id for n in range(rounds)]
    due = T0 + timedelta(minutes=61)
    _together(lambda: one.runtime.sweeper.run(due), lambda: two.runtime.sweeper.run(due))
    breaches = dict.fromkeys(ids, 0)
    for _, kind, message in one.publisher.sent:
        if kind == "sla_breach":
            breaches[message["ticket_id"]] += 1
    row.stored += sum(1 for i in ids if one.store.get(i) is not None)
    row.lost += sum(n == 0 for n in breaches.values())
    row.duplicated += over_once(breaches)
    recorded = sum(sum(e.action == "sla_breached" for e in one.store.audit_trail(i)) for i in ids)
    row.duplicated += recorded - len(ids) if recorded > len(ids) else 0
    row.notes.append(f"two sweeps: {len(ids)} due, {sum(breaches.values())} escalations")


def _new(n: int) -> Any:
    from chalicelib.intake.cabinet import NewTicket

    return NewTicket(subject=f"Сайт {n}", text=f"Сайт не открывается, ошибка 500 ({n}).")


def _race_answer_and_breach(rounds: int, row: Row, *, seconds_after_due: int) -> None:
    """A staff answer and the sweep at the same moment, on one side of the deadline."""
    from chalicelib.domain.identity import Principal
    from tests.fakes import fake_world

    agent = Principal(sub="sub-agent", email="agent@hosting.example", groups=("staff",))
    sweep = fake_world(T0)
    ids = [sweep.runtime.cabinet.open_ticket(_customer(n), _new(n)).id for n in range(rounds)]
    moment = T0 + timedelta(minutes=60, seconds=seconds_after_due)
    desk = fake_world(moment, share=sweep)
    sweep.clock.now = moment
    for ticket_id in ids:
        _together(
            lambda t=ticket_id: desk.runtime.desk.respond(agent, t, "Готово."),
            lambda: sweep.runtime.sweeper.run(moment),
        )
    late = seconds_after_due > 0
    escalations: dict[str, int] = {}
    for _, kind, message in sweep.publisher.sent:
        if kind == "sla_breach":
            escalations[message["ticket_id"]] = escalations.get(message["ticket_id"], 0) + 1
    for ticket_id in ids:
        ticket = sweep.store.get(ticket_id)
        assert ticket is not None and ticket.sla is not None
        row.stored += 1
        answered = ticket.sla.first_response_at is not None
        breached = ticket.sla.state == "breached"
        row.lost += not answered
        if breached != late or escalations.get(ticket_id, 0) != int(late):
            row.mistakes += 1
            row.notes.append(f"{ticket_id}: {ticket.sla.state}, {escalations.get(ticket_id)}")
    side = "after" if late else "before"
    row.notes.append(f"answer vs sweep {abs(seconds_after_due)} s {side} the deadline: ok")


def _race_idempotent_posts(rounds: int, row: Row) -> None:
    from chalicelib.errors import Conflict
    from tests.fakes import fake_world

    world = fake_world(T0)
    for n in range(rounds):
        results = _together(
            *(
                lambda n=n: world.runtime.cabinet.create_ticket(_customer(n), _new(n), f"key-{n}")
                for _ in range(2)
            )
        )
        ids = {r[0]["id"] for r in results if isinstance(r, tuple)}
        unexpected = [
            r for r in results if isinstance(r, Exception) and not isinstance(r, Conflict)
        ]
        listed = world.store.for_customer(_customer(n).sub, 10, None).items
        row.stored += min(len(listed), 1)
        row.lost += not listed
        row.duplicated += max(len(listed) - 1, 0) + max(len(ids) - 1, 0)
        row.mistakes += len(unexpected)
    row.notes.append("two identical idempotent POSTs: one ticket each (the other 409 or replay)")


def _race_transcripts(rounds: int, row: Row) -> None:
    from chalicelib.ids import chat_ticket_id
    from chalicelib.intake.chat import parse_transcript
    from tests.fakes import fake_world

    world = fake_world(T0)
    for n in range(rounds):
        first, second = _transcript(n, "Первый вариант"), _transcript(n, "Второй вариант")
        _together(
            lambda b=first: world.runtime.chat.record(parse_transcript(b)),
            lambda b=second: world.runtime.chat.record(parse_transcript(b)),
        )
        thread = world.store.thread(chat_ticket_id(first["channel"], first["id"]))
        if thread is None:
            row.lost += 1
            continue
        row.stored += 1
        words = {m.text.split(" (")[0] for m in thread.messages if m.author == "customer"}
        if len(words) != 1 or len(thread.messages) != 2:
            row.mistakes += 1
            row.notes.append(f"transcript {n}: mixed thread {sorted(words)}")
    row.notes.append("one transcript id, two bodies at once: one record, one body's turns")


def _signed(body: dict[str, Any], secret: bytes) -> tuple[bytes, str]:
    import hashlib
    import hmac
    import json

    raw = json.dumps(body, ensure_ascii=False).encode()
    return raw, "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()


@timed
def authorization(quick: bool = True, *, stack: tuple[int, int]) -> Row:
    """Every route x every kind of caller, over HTTP against a running local stack: a
    customer never reaches another's request, and identity never comes from the body."""
    from tests.conftest import make_token

    api = f"http://127.0.0.1:{stack[0]}"
    a = make_token("sub-a", "a@example.com")
    b = make_token("sub-b", "b@example.com")
    staff = make_token("sub-staff", "agent@hosting.example", ["staff"])
    callers = {"none": None, "malformed": "Bearer not-a-jwt", "A": a, "B": b, "staff": staff}
    row = Row("authorization matrix")
    _, created = http("POST", f"{api}/tickets", a, {"subject": "Почта", "text": "Не уходят"})
    ticket = created["id"]
    eta = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    who_may = {"none": 401, "malformed": 401}
    routes: list[tuple[str, str, Any, dict[str, int]]] = [
        ("GET", "/health", None, dict.fromkeys(callers, 200)),
        ("GET", "/support/hours", None, dict.fromkeys(callers, 200)),
        ("GET", "/openapi.json", None, dict.fromkeys(callers, 200)),
        ("GET", "/tickets", None, {**who_may, "A": 200, "B": 200, "staff": 200}),
        (
            "POST",
            "/tickets",
            {"subject": "s", "text": "t"},
            {**who_may, "A": 201, "B": 201, "staff": 201},
        ),
        (
            "POST",
            "/tickets",
            {"subject": "s", "text": "t", "customer": "sub-a"},
            {**who_may, "A": 400, "B": 400, "staff": 400},
        ),
        ("GET", f"/tickets/{ticket}", None, {**who_may, "A": 200, "B": 404, "staff": 200}),
        (
            "POST",
            f"/tickets/{ticket}/messages",
            {"text": "ещё"},
            {**who_may, "A": 201, "B": 404, "staff": 404},
        ),
        ("GET", "/staff/queue", None, {**who_may, "A": 403, "B": 403, "staff": 200}),
        ("GET", f"/tickets/{ticket}/events", None, {**who_may, "A": 403, "B": 403, "staff": 200}),
        (
            "POST",
            f"/tickets/{ticket}/responses",
            {"text": "Ответ"},
            {**who_may, "A": 403, "B": 403, "staff": 201},
        ),
        (
            "POST",
            f"/tickets/{ticket}/delay-notices",
            {"reason": "Диск", "eta": eta},
            {**who_may, "A": 403, "B": 403, "staff": 201},
        ),
        (
            "PUT",
            f"/tickets/{ticket}/scope",
            {"label": "consultation"},
            {**who_may, "A": 403, "B": 403, "staff": 200},
        ),
        (
            "POST",
            f"/tickets/{ticket}/notes",
            {"text": "Внутренняя заметка"},
            {**who_may, "A": 403, "B": 403, "staff": 201},
        ),
        (
            "PUT",
            f"/tickets/{ticket}/assignee",
            {"assignee": "me"},
            {**who_may, "A": 403, "B": 403, "staff": 200},
        ),
        (
            "GET",
            f"/staff/search?q={quote('почта')}",
            None,
            {**who_may, "A": 403, "B": 403, "staff": 200},
        ),
        ("GET", "/staff/macros", None, {**who_may, "A": 403, "B": 403, "staff": 200}),
        (
            "GET",
            "/staff/suppressions?email=a@example.com",
            None,
            {**who_may, "A": 403, "B": 403, "staff": 200},
        ),
        ("GET", "/no/such/route", None, dict.fromkeys(callers, 404)),
    ]
    for method, path, body, expected in routes:
        for who, token in callers.items():
            row.inputs += 1
            status, _ = http(method, f"{api}{path}", token, body)
            row.http_5xx += status >= 500
            if status != expected[who]:
                row.mistakes += 1
                row.notes.append(f"{method} {path} as {who}: {status}, not {expected[who]}")
            else:
                row.stored += 1
    _, seen_by_a = http("GET", f"{api}/tickets/{ticket}", a)
    shown = json.dumps(seen_by_a, ensure_ascii=False)
    if "Внутренняя заметка" in shown or "agent@hosting" in shown:
        row.mistakes += 1
        row.notes.append("the customer sees a staff note or a staff address")
    _, listed = http("GET", f"{api}/tickets", b)
    if any(item["id"] == ticket for item in listed["items"]):
        row.mistakes += 1
        row.notes.append("B's list shows A's ticket")
    _chat_signatures(api, _dev_secret(stack[1]), row)
    return row


def _dev_secret(aws_port: int) -> bytes:
    import subprocess
    import sys

    from tests.local.stack import ROOT, clean_environment

    out = subprocess.run(
        [sys.executable, "-m", "chalicelib", "dev-secret", "--aws-port", str(aws_port)],
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().encode()


def _chat_signatures(api: str, secret: bytes, row: Row) -> None:
    body = _transcript(1)
    raw, good = _signed(body, secret)
    _, wrong_secret = _signed(body, b"another-secret")
    _, other_body = _signed(_transcript(2), secret)
    for name, signature, expected in (
        ("no signature", None, 401),
        ("another secret", wrong_secret, 401),
        ("another body's", other_body, 401),
        ("valid", good, 201),
    ):
        headers = {"X-Signature": signature} if signature else {}
        status, _ = http("POST", f"{api}/chat/transcripts", None, raw=raw, headers=headers)
        row.inputs += 1
        row.http_5xx += status >= 500
        if status != expected:
            row.mistakes += 1
            row.notes.append(f"chat, {name} signature: {status}, not {expected}")
        else:
            row.stored += 1


@timed
def hostile_http(quick: bool = True, *, stack: tuple[int, int]) -> Row:
    """schemathesis generates requests from openapi.json, valid and invalid, against the
    running local stack: never a 5xx, and every 4xx in API.md's error shape."""
    import itertools

    import schemathesis
    from schemathesis import GenerationMode

    from tests.conftest import make_token

    api = f"http://127.0.0.1:{stack[0]}"
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    tokens = [
        make_token("sub-fuzz", "fuzz@example.com"),
        make_token("sub-fuzz-staff", "staff@hosting.example", ["staff"]),
    ]
    row = Row("hostile HTTP (schemathesis)")
    examples = 15 if quick else 150
    for result in schema.get_all_operations():
        operation = result.ok()
        for token, mode in itertools.product(tokens, GenerationMode):
            seen = _probe(operation.as_strategy(generation_mode=mode), api, token, examples)
            row.inputs += len(seen)
            for status, problem in seen:
                row.http_5xx += status >= 500
                row.mistakes += bool(problem) and status < 500
                if status >= 500 or problem:
                    row.notes.append(f"{operation.label}: {status} {problem}"[:200])
            row.stored += sum(1 for status, problem in seen if status < 500 and not problem)
    return row


def _probe(strategy: Any, api: str, token: str, examples: int) -> list[tuple[int, str]]:
    """Generated calls of one operation: (status, what is wrong with a 4xx, or "")."""
    import warnings

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    seen: list[tuple[int, str]] = []

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def probe(case: Any) -> None:
        headers = {**(case.headers or {}), "Authorization": token}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            response = case.call(base_url=api, headers=headers, timeout=30)
        problem = ""
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                assert isinstance(error["code"], str) and isinstance(error["message"], str)
            except Exception:
                problem = f"not in the error shape: {response.text[:120]!r}"
        seen.append((response.status_code, problem))

    # Unsatisfiable: nothing to make invalid (an operation without parameters or body).
    with contextlib.suppress(Unsatisfiable):
        probe()
    return seen


@timed
def load(quick: bool = True, *, stack: tuple[int, int]) -> Row:
    """A burst of tickets over HTTP and of e-mails through S3 and SNS into the running
    local stack; every one must be stored once."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from chalicelib.ids import mail_ticket_id
    from chalicelib.storage.dynamo import dynamo_store
    from devtools.mail import push_mail
    from devtools.server import local_environment
    from tests.conftest import make_token
    from tests.samples import mail

    count = 60 if quick else 1_000
    api = f"http://127.0.0.1:{stack[0]}"
    row = Row(f"load: {count} tickets + {count} mails", inputs=2 * count)
    saved = dict(os.environ)
    try:
        os.environ.update(local_environment(stack[1]))
        store = dynamo_store(boto3.client("dynamodb"), os.environ["SUPPORT_TABLE_NAME"])

        def post(n: int) -> int:
            body = {"subject": f"Нагрузка {n}", "text": "Сайт отвечает 502 с утра."}
            token = make_token(f"sub-load-{n % 50}", f"load{n % 50}@example.com")
            status, _ = http(
                "POST", f"{api}/tickets", token, body, headers={"Idempotency-Key": f"load-{n}"}
            )
            return status

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, range(count)))
        ticket_seconds = time.perf_counter() - started
        row.http_5xx += sum(s >= 500 for s in statuses)
        row.lost += sum(s != 201 for s in statuses if s < 500)
        mine = sum(len(_all_for(store, f"sub-load-{c}")) for c in range(50))
        row.stored += min(mine, count)
        row.duplicated += max(mine - count, 0)
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            keys = list(
                pool.map(
                    lambda n: push_mail(
                        mail(sender=f"load{n}@example.com", subject=f"Нагрузка {n}")
                    ),
                    range(count),
                )
            )
        bucket = os.environ["MAIL_BUCKET"]
        waiting = set(keys)
        deadline = time.monotonic() + 120 + count * 0.2
        while waiting and time.monotonic() < deadline:
            waiting = {k for k in waiting if store.tickets.get(mail_ticket_id(bucket, k)) is None}
            time.sleep(0.5)
        mail_seconds = time.perf_counter() - started
        row.stored += count - len(waiting)
        row.lost += len(waiting)
        row.notes.append(
            f"tickets: {count / ticket_seconds:.0f}/s over HTTP (8 clients); "
            f"mails: {count / mail_seconds:.0f}/s through S3, SNS, SQS and the poller"
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return row


def _all_for(store: Any, sub: str) -> list[Any]:
    found, token = [], None
    while True:
        page = store.tickets.for_customer(sub, 100, token)
        found += list(page.items)
        if page.next is None:
            return found
        token = page.next


@timed
def races_on_moto(quick: bool = True) -> Row:
    """The same races on moto, the stand-in `make run` serves from threads: every write
    it acknowledged is stored (moto alone lost one of ten concurrent answers, and stored
    breaches two sweeps reported as `pending`, without their audit event)."""
    rounds = 3 if quick else 8
    row = Row("races on moto (the local stack's stand-in)")
    with moto_stack():
        _moto_concurrent_answers(rounds, row)
        _moto_two_sweeps(rounds, row)
    return row


def _moto_concurrent_answers(rounds: int, row: Row) -> None:
    from chalicelib.domain.identity import Principal

    rt = aws_runtime(clock=MovingClock(T0), mailer=RecordingMailer())
    for n in range(rounds):
        ticket = rt.cabinet.open_ticket(_customer(n), _new(n))
        agents = [
            Principal(sub=f"sub-agent-{i}", email=f"agent{i}@hosting.example", groups=("staff",))
            for i in range(10)
        ]
        results = _together(
            *(
                lambda a=agent, i=i, t=ticket.id: rt.desk.respond(a, t, f"Ответ {i}")
                for i, agent in enumerate(agents)
            )
        )
        taken = {r.id for r in results if not isinstance(r, Exception)}
        thread = rt.store.tickets.thread(ticket.id)
        stored = {m.id for m in thread.messages if m.author == "staff"} if thread else set()
        row.inputs += len(agents)
        row.stored += len(taken & stored)
        row.lost += len(taken - stored)
        row.duplicated += max(len(stored) - len(taken), 0)
        row.mistakes += sum(
            1 for r in results if isinstance(r, Exception) and not hasattr(r, "code")
        )
    row.notes.append(f"{rounds} x 10 concurrent answers on one ticket: each 201 is stored")


def _moto_two_sweeps(rounds: int, row: Row) -> None:
    publisher = RecordingPublisher()
    due = T0 + timedelta(minutes=61)
    one = aws_runtime(clock=MovingClock(T0), publisher=publisher, mailer=RecordingMailer())
    ids = [one.cabinet.open_ticket(_customer(100 + n), _new(n)).id for n in range(rounds * 4)]
    two = aws_runtime(clock=MovingClock(due), publisher=publisher, mailer=RecordingMailer())
    one = aws_runtime(clock=MovingClock(due), publisher=publisher, mailer=RecordingMailer())
    _together(lambda: one.sweeper.run(due), lambda: two.sweeper.run(due))
    breaches = publisher.count("sla_breach")
    row.inputs += len(ids)
    for ticket_id in ids:
        ticket = one.store.tickets.get(ticket_id)
        trail = one.store.tickets.audit_trail(ticket_id)
        recorded = sum(e.action == "sla_breached" for e in trail)
        if ticket is None or ticket.sla is None:
            row.lost += 1
            continue
        row.stored += 1
        row.lost += breaches.get(ticket_id, 0) == 0 or recorded == 0
        row.duplicated += max(breaches.get(ticket_id, 0) - 1, 0) + max(recorded - 1, 0)
        if ticket.sla.state != "breached":
            row.mistakes += 1
            row.notes.append(f"{ticket_id}: escalated but stored {ticket.sla.state}")
    row.notes.append(f"two sweeps at once over {len(ids)} due tickets: each breached once")


def _three_ways(rt: Any, who: Any, ticket_id: str, attachment_id: str, key: str) -> list[Any]:
    """S3's notification, the scanner's result and a reader, checking one file at once."""
    return _together(
        lambda: rt.attachments.uploaded("unit-mail", key),
        lambda: rt.attachments.uploaded("unit-mail", key),
        lambda: rt.attachments.one(who, ticket_id, attachment_id),
    )


@timed
def uploads(quick: bool = True) -> Row:
    """Cabinet uploads with threats and without, each checked from three places at once
    (S3's notification, the scanner's result, a reader opening the ticket): a threat is
    never offered for download, from any of them, and a clean file is always stored."""
    import io
    import zipfile

    from chalicelib.intake.cabinet import NewTicket
    from chalicelib.scanning import EICAR
    from chalicelib.uploads import NewAttachment
    from tests.fakes import fake_world

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(16 * 1024 * 1024))
    files = {
        "eicar.txt": ("text/plain", EICAR + b"\n", False),
        "bomb.zip": ("application/zip", packed.getvalue(), False),
        "log.txt": ("text/plain", b"ERROR 530 Login incorrect\n" * 20, True),
    }
    rounds = 5 if quick else 40
    row = Row("uploads", inputs=rounds * len(files))
    for n in range(rounds):
        world = fake_world(T0, accounts={f"c{n}@example.com": f"sub-{n:04d}"})
        rt, who = world.runtime, _customer(n)
        body, _ = rt.cabinet.create_ticket(who, NewTicket(subject="Лог", text="Прилагаю лог"), None)
        for name, (kind, data, clean) in files.items():
            made = rt.attachments.announce(who, body["id"], NewAttachment(name, kind, len(data)))
            key = made["upload"]["fields"]["key"]
            world.blobs.write("unit-mail", key, data)
            seen = _three_ways(rt, who, body["id"], made["id"], key)
            final = rt.attachments.one(who, body["id"], made["id"])
            offered = [s for s in [*seen, final] if isinstance(s, dict) and s.get("url")]
            if clean:
                row.stored += final["state"] == "stored"
                row.lost += final["state"] != "stored"
            else:
                row.refused += final["state"] == "rejected"
                row.leaked += bool(offered) or final["state"] != "rejected"
                row.mistakes += world.blobs.objects.get(("unit-mail", key)) is not None
    row.notes.append(
        f"{rounds} tickets x EICAR, a zip bomb and a clean log, each checked three ways at once"
    )
    return row


ALL = [redelivery, faults, races, races_on_moto, uploads]
ON_A_STACK = [authorization, hostile_http, load]
