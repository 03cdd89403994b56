"""Attachments on cabinet tickets (issue 15, API.md Attachments), on fakes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.identity import Principal
from chalicelib.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.mail.adapter import Notification
from chalicelib.intake.mail.handler import mail_batch
from chalicelib.uploads import NewAttachment, parse_new_attachment, sniff
from tests.fakes import FakeWorld, fake_world
from tests.samples import mail

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ANNA = Principal("sub-anna", "anna@flowershop.example", frozenset())
BORIS = Principal("sub-boris", "boris@example.org", frozenset())
AGENT = Principal("sub-agent", "agent@hosting.example", frozenset({"staff"}))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj\n" * 20
BUCKET = "unit-mail"
MAX = 20 * 1024 * 1024


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})


def ticket(world: FakeWorld) -> str:
    body, _ = world.runtime.cabinet.create_ticket(
        ANNA, NewTicket(subject="Сайт", text="Ошибка 500 на главной, скриншот прилагаю"), None
    )
    return str(body["id"])


def announce(world: FakeWorld, tid: str, body: bytes, kind: str = "image/png") -> dict:
    new = NewAttachment("screen shot.png", kind, len(body))
    return world.runtime.attachments.announce(ANNA, tid, new)


def upload(world: FakeWorld, tid: str, announced: dict, body: bytes) -> None:
    """What S3 does with an accepted POST: the object is at the announced key."""
    world.blobs.objects[(BUCKET, f"attachments/{tid}/{announced['id']}")] = body


def shown(world: FakeWorld, who: Principal, tid: str) -> list[dict]:
    thread = world.runtime.cabinet.thread(who, tid)
    return world.runtime.attachments.listing(thread)


def test_a_screenshot_is_pending_until_uploaded_then_stored_with_a_link(world: FakeWorld) -> None:
    tid = ticket(world)
    announced = announce(world, tid, PNG)
    assert announced["state"] == "pending" and announced["upload"]["url"]
    assert announced["expires_at"] == (T0 + timedelta(minutes=15)).isoformat(
        timespec="milliseconds"
    )
    [pending] = shown(world, ANNA, tid)
    assert pending["state"] == "pending" and "url" not in pending
    upload(world, tid, announced, PNG)
    [stored] = shown(world, ANNA, tid)
    assert stored["state"] == "stored" and "screen shot.png" in stored["url"]
    [staff_view] = shown(world, AGENT, tid)
    assert staff_view["url"]
    actions = sorted(e.action for e in world.store.audit_trail(tid))
    assert actions == ["attachment_added", "attachment_stored", "ticket_created"]


def test_another_customers_download_is_404(world: FakeWorld) -> None:
    tid = ticket(world)
    announced = announce(world, tid, PNG)
    upload(world, tid, announced, PNG)
    assert world.runtime.attachments.one(ANNA, tid, announced["id"])["state"] == "stored"
    with pytest.raises(NotFound):
        world.runtime.attachments.one(BORIS, tid, announced["id"])
    with pytest.raises(NotFound):
        world.runtime.attachments.one(ANNA, tid, "A-NOTTHEREATALL")
    with pytest.raises(NotFound):
        world.runtime.attachments.announce(BORIS, tid, NewAttachment("x.png", "image/png", 10))


def test_content_that_is_not_what_was_announced_is_rejected_and_deleted(world: FakeWorld) -> None:
    tid = ticket(world)
    disguised = announce(world, tid, PDF)  # announced as image/png
    upload(world, tid, disguised, PDF)
    [rejected] = shown(world, ANNA, tid)
    assert rejected["state"] == "rejected" and "url" not in rejected
    assert rejected["reason"].startswith("type_mismatch")
    assert (BUCKET, f"attachments/{tid}/{disguised['id']}") not in world.blobs.objects


def test_an_upload_of_another_size_is_rejected(world: FakeWorld) -> None:
    tid = ticket(world)
    announced = announce(world, tid, PNG)
    upload(world, tid, announced, PNG + b"more")
    [rejected] = shown(world, ANNA, tid)
    assert rejected["reason"].startswith("size_mismatch")


def test_an_upload_that_never_came_is_rejected_after_its_link_expired(world: FakeWorld) -> None:
    tid = ticket(world)
    announce(world, tid, PNG)
    world.clock.now = T0 + timedelta(minutes=16)
    [expired] = shown(world, ANNA, tid)
    assert expired["state"] == "rejected" and expired["reason"].startswith("upload_expired")


def test_an_oversized_or_unknown_file_is_refused_before_any_upload() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        parse_new_attachment(
            {"name": "dump.zip", "content_type": "application/zip", "size": MAX + 1}, MAX
        )
    assert caught.value.code == "attachment_too_large"
    parsed = parse_new_attachment(
        {"name": "a.zip", "content_type": "application/zip", "size": MAX}, MAX
    )
    assert parsed.size == MAX
    for body, code in [
        (
            {"name": "a.exe", "content_type": "application/x-msdownload", "size": 10},
            "unsupported_content_type",
        ),
        ({"name": "../etc/passwd", "content_type": "text/plain", "size": 10}, "invalid_name"),
        ({"name": "a.txt", "content_type": "text/plain", "size": 0}, "invalid_size"),
        ({"name": "a.txt", "content_type": "text/plain", "size": True}, "invalid_size"),
        ({"name": "a.txt", "content_type": "text/plain", "size": 1, "x": 1}, "unknown_field"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            parse_new_attachment(body, MAX)
        assert refused.value.code == code


def test_ten_per_ticket_and_a_rejected_one_frees_its_place(world: FakeWorld) -> None:
    tid = ticket(world)
    first = announce(world, tid, PNG)
    for _ in range(9):
        announce(world, tid, PNG)
    with pytest.raises(Conflict) as caught:
        announce(world, tid, PNG)
    assert caught.value.code == "too_many_attachments"
    upload(world, tid, first, PDF)  # rejected: a PDF announced as PNG
    shown(world, ANNA, tid)
    assert announce(world, tid, PNG)["state"] == "pending"


def test_no_uploads_to_a_closed_ticket_or_an_advisory_record(world: FakeWorld) -> None:
    tid = ticket(world)
    world.runtime.lifecycle.set_status(ANNA, tid, "closed")
    with pytest.raises(Conflict) as caught:
        announce(world, tid, PNG)
    assert caught.value.code == "ticket_closed"
    key = f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[(BUCKET, key)] = mail()
    pass_all = dict.fromkeys(("spf", "dkim", "dmarc", "spam", "virus"), "PASS")
    rid = world.runtime.mail.process(Notification(BUCKET, key, "x@y", pass_all)).record_id
    with pytest.raises(Conflict) as advisory:
        world.runtime.attachments.announce(AGENT, rid, NewAttachment("a.png", "image/png", 9))
    assert advisory.value.code == "cabinet_only"


def test_a_mails_attachments_are_listed_the_same_way(world: FakeWorld) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "olga@shop.example"
    message["To"] = "support@support.hosting.example"
    message["Subject"] = "Ошибка на сайте"
    message.set_content("Сайт выдаёт ошибку, скриншот во вложении.")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="error.png")
    key = f"raw/{uuid.uuid4().hex}"
    world.blobs.objects[(BUCKET, key)] = message.as_bytes()
    pass_all = dict.fromkeys(("spf", "dkim", "dmarc", "spam", "virus"), "PASS")
    rid = world.runtime.mail.process(Notification(BUCKET, key, "x@y", pass_all)).record_id
    [listed] = shown(world, AGENT, rid)
    assert (listed["name"], listed["state"], listed["size"]) == ("error.png", "stored", len(PNG))
    assert "error.png" in listed["url"]


def test_s3s_notification_of_an_upload_settles_it_through_the_mail_queue(
    world: FakeWorld,
) -> None:
    tid = ticket(world)
    announced = announce(world, tid, PNG)
    upload(world, tid, announced, PNG)
    key = f"attachments/{tid}/{announced['id']}"
    s3_event = {
        "Records": [
            {"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}
        ]
    }
    event = {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r",
                "body": json.dumps(s3_event),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:mail",
                "awsRegion": "eu-central-1",
            }
        ]
    }
    rt = world.runtime
    assert mail_batch(event, rt.mail, rt.imports, rt.customer_mail, rt.attachments) == {
        "batchItemFailures": []
    }
    assert world.store.attachment(tid, announced["id"]).state == "stored"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"GIF89a\x01\x00", "gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (PDF, "pdf"),
        (b"PK\x03\x04\x14\x00", "zip"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (b"Rar!\x1a\x07\x01\x00", "rar"),
        (b"backup/" + bytes(250) + b"ustar\x0000", "tar"),
        (b"[error] PHP Fatal error: Allowed memory size\n", "text"),
        ("Ошибка 500 на главной\r\n".encode("cp1251"), "text"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "unknown"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(8), "unknown"),
        (b"", "unknown"),
    ],
)
def test_the_first_bytes_say_what_a_file_is(head: bytes, kind: str) -> None:
    assert sniff(head) == kind
