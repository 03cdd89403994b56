"""Uploads wait for the malware scanner (issue 31): GuardDuty's tag decides deployed, and
its result event has the attachment checked again; the local stand-in's own verdicts."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

from chalicelib.domain.identity import Principal
from chalicelib.intake.cabinet import NewTicket
from chalicelib.intake.mail.handler import s3_objects
from chalicelib.scanning import EICAR, SCAN_TAG, GuardDutyTags, content_verdict
from chalicelib.uploads import Attachments, NewAttachment
from tests.fakes import fake_world

ANNA = Principal("sub-anna", "anna@flowershop.example", frozenset())
T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _zip(**members: bytes) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return packed.getvalue()


def test_the_local_scanner_finds_eicar_and_bombs_and_passes_the_rest() -> None:
    assert content_verdict(b"log line\n" + EICAR) == "threat: EICAR-Test-File"
    assert content_verdict(_zip(a=EICAR)).startswith("threat: EICAR-Test-File in a")
    assert content_verdict(_zip(z=bytes(32 * 1024 * 1024))).startswith("threat: decompression")
    assert content_verdict(_zip(log=b"ERROR 530\n" * 100)) == "clean"
    assert content_verdict(b"PK\x03\x04 junk").startswith("unscanned: a zip archive")
    assert content_verdict(b"plain text") == "clean"


def test_an_upload_waits_for_guardduty_and_its_tag_decides() -> None:
    world = fake_world(T0, accounts={"anna@flowershop.example": "sub-anna"})
    body, _ = world.runtime.cabinet.create_ticket(
        ANNA, NewTicket(subject="Лог", text="Прилагаю лог ошибок сайта"), None
    )
    files = Attachments(
        world.store.as_store().tickets,
        world.blobs,
        world.clock,
        bucket="unit-mail",
        per_ticket=5,
        scanner=GuardDutyTags(world.blobs),
    )
    results = {}
    for status in ("NO_THREATS_FOUND", "THREATS_FOUND", "UNSUPPORTED"):
        made = files.announce(ANNA, body["id"], NewAttachment(f"{status}.txt", "text/plain", 5))
        key = made["upload"]["fields"]["key"]
        world.blobs.write("unit-mail", key, b"hello")
        assert files.uploaded("unit-mail", key) == "pending"  # uploaded, not yet scanned
        world.blobs.object_tags[("unit-mail", key)] = {SCAN_TAG: status}
        event = {
            "detail-type": "GuardDuty Malware Protection Object Scan Result",
            "detail": {"s3ObjectDetails": {"bucketName": "unit-mail", "objectKey": key}},
        }
        [(bucket, scanned)] = s3_objects(json.dumps(event)) or []
        results[status] = files.uploaded(bucket, scanned)
    assert results == {
        "NO_THREATS_FOUND": "stored",
        "THREATS_FOUND": "rejected",
        "UNSUPPORTED": "rejected",
    }
