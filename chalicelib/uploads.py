"""Attachments on cabinet tickets (API.md, Attachments): a screenshot, a log, an archive.

The file never passes through the API. The owner (or staff) announces it, and gets a
presigned S3 POST that S3 accepts only for exactly the announced size and type, for 15
minutes. The attachment is `pending` until its object exists; then its first bytes are
checked against the declared type, and it becomes `stored` or `rejected` with the
reason (a rejected object is deleted); a file of the right type is `stored` only once
the malware scanner found no threat in it (`scanning`). The check runs when S3 reports
the upload or the scanner its verdict (the mail queue carries both) and, whichever
comes first, when the ticket is read. Downloads are presigned GETs of five minutes, offered
only to those who may read the ticket: a stranger gets 404, as for the ticket.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.blobs import BlobStore
from chalicelib.domain.identity import Principal, visible_to
from chalicelib.domain.tickets import Attachment, AttachmentState, AuditEvent, Ticket, TicketThread
from chalicelib.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from chalicelib.ids import new_attachment_id, new_event_id
from chalicelib.scanning import CLEAN, ContentScanner, MalwareScanner
from chalicelib.storage import AddAttachment, StaleState, Tickets
from chalicelib.timeutil import Clock, parse_iso, to_iso
from chalicelib.validation import reject_unknown_fields, text_field
from chalicelib.values import frozen

# Declared media type -> the kind its content must be (`sniff`).
KINDS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "text",
    "text/csv": "text",
    "text/x-log": "text",
    "application/json": "text",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/x-tar": "tar",
    "application/x-7z-compressed": "7z",
    "application/vnd.rar": "rar",
    "application/x-rar-compressed": "rar",
}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
)
SNIFF_BYTES = 512
UPLOAD_SECONDS = 15 * 60
DOWNLOAD_SECONDS = 5 * 60
NAME_MAX = 255
KEY_PREFIX = "attachments/"
CHECKER = "attachment-check"
ATTACHMENT_ID = re.compile(r"A-[0-9A-Z]{12}")  # who the audit trail names for a check


def sniff(head: bytes) -> str:
    """The kind of content the first bytes of a file show; `unknown` if none we take."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[257:262] == b"ustar":
        return "tar"
    if head and b"\x00" not in head:
        controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
        if controls * 50 <= len(head):  # text in any 8-bit or UTF-8 encoding
            return "text"
    return "unknown"


@frozen
class NewAttachment:
    name: str
    content_type: str
    size: int


def parse_new_attachment(body: dict[str, Any], max_bytes: int) -> NewAttachment:
    """A `POST /tickets/{id}/attachments` body: a file name, an allowed type, a size."""
    reject_unknown_fields(body, ("name", "content_type", "size"))
    name = text_field(body, "name", max_chars=NAME_MAX, single_line=True)
    assert name is not None  # required
    if any(ch in name for ch in "/\\") or name.strip(". ") == "":
        raise InvalidInput("invalid_name", "`name` is a file name, not a path", field="name")
    content_type = body.get("content_type")
    if not isinstance(content_type, str) or content_type.strip().lower() not in KINDS:
        raise InvalidInput(
            "unsupported_content_type",
            "images, text, PDF and archives are accepted",
            field="content_type",
            allowed=sorted(KINDS),
        )
    size = body.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInput("invalid_size", "`size` is the file's length in bytes", field="size")
    if size > max_bytes:
        raise PayloadTooLarge(
            "attachment_too_large", f"an attachment is at most {max_bytes} bytes", limit=max_bytes
        )
    return NewAttachment(name.strip(), content_type.strip().lower(), size)


class Attachments:
    def __init__(
        self,
        tickets: Tickets,
        blobs: BlobStore,
        clock: Clock,
        *,
        bucket: str,
        per_ticket: int,
        scanner: MalwareScanner | None = None,
    ) -> None:
        self._tickets = tickets
        self._blobs = blobs
        self._scanner = scanner or ContentScanner(blobs)
        self._clock = clock
        self._bucket = bucket
        self._per_ticket = per_ticket

    def announce(self, who: Principal, ticket_id: str, new: NewAttachment) -> dict[str, Any]:
        """An attachment `pending` its upload, and the presigned POST that uploads it."""
        ticket = self._readable(who, ticket_id)
        if not ticket.official:
            raise Conflict("cabinet_only", "files are attached to cabinet tickets")
        now = self._clock()
        attachment = Attachment(
            id=(attachment_id := new_attachment_id()),
            ticket_id=ticket_id,
            name=new.name,
            content_type=new.content_type,
            size=new.size,
            state="pending",
            s3_key=f"{KEY_PREFIX}{ticket_id}/{attachment_id}",
            created_at=to_iso(now),
            expires_at=to_iso(now + timedelta(seconds=UPLOAD_SECONDS)),
            by=who.sub,
        )
        detail = {"attachment": attachment.id, "name": new.name, "size": new.size}
        audit = AuditEvent(
            new_event_id(),
            ticket_id,
            "attachment_added",
            who.sub,
            to_iso(now),
            detail,
            who.acting(),
        )
        try:
            self._tickets.change(ticket_id, audit, AddAttachment(attachment, self._per_ticket))
        except StaleState:
            if (self._tickets.get(ticket_id) or ticket).status == "closed":
                raise Conflict("ticket_closed", "this ticket is closed: open a new one") from None
            raise Conflict(
                "too_many_attachments",
                f"a ticket holds at most {self._per_ticket} attachments",
                limit=self._per_ticket,
            ) from None
        upload = self._blobs.upload_form(
            self._bucket, attachment.s3_key, new.content_type, new.size, UPLOAD_SECONDS
        )
        return {**attachment.to_api(), "upload": upload, "expires_at": attachment.expires_at}

    def listing(self, thread: TicketThread) -> list[dict[str, Any]]:
        """What the ticket's reader sees: its files (checked now if still pending) and
        the attachments of the mail it came from, with download links once stored."""
        shown = [self._shown(self.check(a)) for a in thread.attachments]
        origin = thread.ticket.origin
        for n, mail_file in enumerate(origin.attachments if origin else ()):
            url = self._url(mail_file.s3_key, mail_file.name, mail_file.content_type)
            shown.append(
                {
                    "id": f"{thread.ticket.id}.mail-{n + 1}",
                    "name": mail_file.name,
                    "content_type": mail_file.content_type,
                    "size": mail_file.size,
                    "state": "stored",
                    "url": url,
                }
            )
        return shown

    def one(self, who: Principal, ticket_id: str, attachment_id: str) -> dict[str, Any]:
        self._readable(who, ticket_id)
        found = None
        if ATTACHMENT_ID.fullmatch(attachment_id):
            found = self._tickets.attachment(ticket_id, attachment_id)
        if found is None:
            raise NotFound("attachment_not_found", "no such attachment")
        return self._shown(self.check(found))

    def uploaded(self, bucket: str, key: str) -> str:
        """S3 reported an object under `attachments/`: check the attachment it is."""
        parts = key.split("/")
        found = None
        if bucket == self._bucket and len(parts) == 3 and parts[0] + "/" == KEY_PREFIX:
            found = self._tickets.attachment(parts[1], parts[2])
        if found is None:
            obs.logger.warning("upload of no attachment", extra={"key": key[:300]})
            return "unknown"
        return self.check(found).state

    def check(self, attachment: Attachment) -> Attachment:
        """Settle a pending attachment if its upload is there (or its time is up)."""
        if attachment.state != "pending":
            return attachment
        now = self._clock()
        found = self._blobs.head(self._bucket, attachment.s3_key, SNIFF_BYTES)
        if found is None:
            if now <= parse_iso(attachment.expires_at):
                return attachment
            reason = "upload_expired: no file arrived before the upload link expired"
            return self._settle(attachment, "rejected", reason)
        size, head = found
        kind, wanted = sniff(head), KINDS.get(attachment.content_type)
        if size != attachment.size:
            reason = f"size_mismatch: announced {attachment.size} bytes, received {size}"
        elif kind != wanted:
            reason = f"type_mismatch: announced {attachment.content_type}, the content is {kind}"
        else:
            # Stored only once the scanner found no threat (a scan under way: pending).
            verdict = self._scanner.verdict(self._bucket, attachment.s3_key)
            if verdict is None:
                return attachment
            if verdict == CLEAN:
                return self._settle(attachment, "stored", None)
            reason = verdict
        return self._settle(attachment, "rejected", reason)

    def _settle(
        self, attachment: Attachment, state: AttachmentState, reason: str | None
    ) -> Attachment:
        at = to_iso(self._clock())
        settled = replace(attachment, state=state, reason=reason, checked_at=at)
        detail = {"attachment": attachment.id, "state": state, "reason": reason}
        audit = AuditEvent(
            new_event_id(),
            attachment.ticket_id,
            f"attachment_{state}",
            "attachment-check",
            at,
            detail,
        )
        if not self._tickets.settle_attachment(settled, audit):
            # Another check settled it first: theirs is the answer.
            return self._tickets.attachment(attachment.ticket_id, attachment.id) or attachment
        obs.count(obs.ATTACHMENTS_CHECKED, state=state)
        if state == "rejected":
            try:
                self._blobs.delete(self._bucket, attachment.s3_key)  # nobody may fetch it
            except Exception:
                obs.logger.exception(
                    "rejected upload not deleted", extra={"key": attachment.s3_key}
                )
        return settled

    def _shown(self, attachment: Attachment) -> dict[str, Any]:
        url = None
        if attachment.state == "stored":
            url = self._url(attachment.s3_key, attachment.name, attachment.content_type)
        return attachment.to_api(url)

    def _url(self, key: str, name: str, content_type: str) -> str:
        return self._blobs.download_url(self._bucket, key, name, content_type, DOWNLOAD_SECONDS)

    def _readable(self, who: Principal, ticket_id: str) -> Ticket:
        return visible_to(who, self._tickets.get(ticket_id))
