"""The e-mail adapter: one SES notification in, one `Intake` for the pipeline out.

SES stores the raw MIME in S3 (kept) and notifies through SNS → SQS. For each
notification the record id is derived from the S3 object, so a redelivered
notification finds the record it already made. Spam or virus verdicts are quarantined
and machine mail is recorded with its reason; everything else goes through the one
intake pipeline: a reply by the owner of a thread joins it, anything else becomes an
advisory record (R1.4) whose sender is owed one acknowledgement (rate-limited).
"""

from __future__ import annotations

import hashlib
import json
import re

from chalicelib.blobs import BlobStore
from chalicelib.domain.tickets import Disposition, Origin, StoredAttachment
from chalicelib.ids import OUR_MESSAGE_ID, SUBJECT_TAG, mail_ticket_id
from chalicelib.intake.mail.filters import machine_reason
from chalicelib.intake.mail.parse import ParsedMail, parse_mail
from chalicelib.intake.pipeline import Intake, IntakePipeline, Recorded, Sender
from chalicelib.timeutil import Clock
from chalicelib.values import frozen

EXCERPT_CHARS = 8_000
MAX_LISTED_ATTACHMENTS = 50
MAX_STORED_ATTACHMENTS = 100
BOUNCE_SCAN_BYTES = 262_144
_QUOTED_AUTO_REPLY = re.compile(rb"^[> \t]*auto-submitted:[ \t]*auto-replied", re.MULTILINE)
_NO_POLICY = ("GRAY", "")  # SES: the sender's domain publishes no DMARC policy
_NOT_FAILED = ("PASS", "GRAY", "")  # passed, or nothing to check


class MailError(Exception):
    """A notification that cannot be processed now; the queue retries, then dead-letters."""


@frozen
class Notification:
    bucket: str
    key: str
    envelope_sender: str | None
    verdicts: dict[str, str]


@frozen
class Outcome:
    record_id: str
    disposition: Disposition
    reason: str | None
    created: bool
    ticket_id: str | None = None

    @classmethod
    def of(cls, recorded: Recorded) -> Outcome:
        origin = recorded.request.origin
        return cls(
            recorded.request.id,
            recorded.disposition,
            origin.reason if origin else None,
            recorded.created,
            origin.thread_of if origin else None,
        )


def parse_notification(body: str) -> Notification:
    """An SQS body: the SNS envelope around SES's receipt notification (S3 action)."""
    try:
        outer = json.loads(body)
        inner = json.loads(outer["Message"]) if "Message" in outer else outer
        action = inner["receipt"]["action"]
        bucket, key = str(action["bucketName"]), str(action["objectKey"])
    except (ValueError, KeyError, TypeError) as error:
        raise MailError(f"not an SES S3 notification: {error}") from None
    receipt = inner.get("receipt", {})
    verdicts = {
        name: str((receipt.get(f"{name}Verdict") or {}).get("status", "")).upper()
        for name in ("spf", "dkim", "dmarc", "spam", "virus")
    }
    source = (inner.get("mail") or {}).get("source")
    return Notification(bucket, key, None if source is None else str(source), verdicts)


THREAD_CANDIDATES = 4  # requests a mail may be answering, read at most (one read each)


def thread_references(mail: ParsedMail, domain: str) -> tuple[str, ...]:
    """The requests a mail may answer, most certain first: our Message-ID it replies to,
    then every subject tag in order (a customer's own subject may carry another request's
    tag: the pipeline joins the first one the sender owns)."""
    found: list[str] = []
    for message_id in [*mail.in_reply_to, *reversed(mail.references)]:
        local, _, host = message_id.rpartition("@")
        match = OUR_MESSAGE_ID.match(message_id)
        if match and host.lower() == domain.lower() and local:
            found.append(match.group(1))
            break
    found.extend(tag.group(1) for tag in SUBJECT_TAG.finditer(mail.subject))
    return tuple(dict.fromkeys(found))[:THREAD_CANDIDATES]


def mail_identity(mail: ParsedMail) -> str | None:
    """What makes two stored objects the same message: its Message-ID and its sender."""
    if not mail.message_id:
        return None
    sender = mail.from_addr or mail.headers.get("from", "")
    return hashlib.sha256(f"{mail.message_id}\n{sender}".encode()).hexdigest()[:40]


def sender_verified(mail: ParsedMail, verdicts: dict[str, str]) -> bool:
    """R1.7: From is trusted only when it names one address and SES's own DMARC verdict,
    from the receipt notification, passed. A header inside the message (an
    `Authentication-Results` the sender wrote) is a claim, never a verdict."""
    if not mail.from_addr or mail.sender_problem in ("several_from_addresses",):
        return False
    return verdicts.get("dmarc") == "PASS"


def acknowledgeable(verdicts: dict[str, str]) -> bool:
    """No backscatter: acknowledge a sender whose DMARC passed, or whose domain has no
    DMARC policy (SES says GRAY, or nothing) and whose SPF and DKIM did not fail. An
    acknowledgement to a forged address is mail to a stranger."""
    dmarc = verdicts.get("dmarc", "")
    if dmarc == "PASS":
        return True
    return dmarc in _NO_POLICY and all(verdicts.get(v, "") in _NOT_FAILED for v in ("spf", "dkim"))


class MailIntake:
    """Turns SES notifications into intakes; the pipeline does the rest."""

    def __init__(
        self,
        pipeline: IntakePipeline,
        blobs: BlobStore,
        clock: Clock,
        *,
        bucket: str,
        domain: str,
    ) -> None:
        self._pipeline = pipeline
        self._blobs = blobs
        self._clock = clock
        self._bucket = bucket
        self._domain = domain

    def process(self, note: Notification) -> Outcome:
        rid = mail_ticket_id(note.bucket, note.key)
        done = self._pipeline.recorded(rid)
        if done is not None:
            return Outcome.of(done)
        try:
            raw = self._blobs.read(note.bucket, note.key)
        except Exception as error:
            raise MailError(f"raw mail unreadable at s3://{note.bucket}/{note.key}") from error
        mail = parse_mail(raw)
        intake = self._intake(rid, note, mail)
        for verdict in ("virus", "spam"):
            if note.verdicts.get(verdict) == "FAIL":
                reason = f"ses {verdict} verdict FAIL"
                return Outcome.of(self._pipeline.record_only(intake, "quarantine", reason))
        machine = machine_reason(mail, note.envelope_sender) or self._bounce_of_ours(raw, mail)
        if machine:
            return Outcome.of(self._pipeline.record_only(intake, "machine", machine))
        return Outcome.of(self._pipeline.take(intake, unseen=True))

    def _intake(self, rid: str, note: Notification, mail: ParsedMail) -> Intake:
        verified = sender_verified(mail, note.verdicts)
        address = mail.from_addr
        return Intake(
            channel="email",
            official=False,  # R1.4
            sender=Sender(address, "dmarc" if verified else "unverified"),
            subject=mail.subject,
            text=mail.text[:EXCERPT_CHARS],
            received_at=self._clock(),
            recorded_by="mail-intake",
            origin=self._persist_content(rid, note, mail),
            record_id=rid,
            thread_refs=thread_references(mail, self._domain),
            identity=mail_identity(mail),
            acknowledge=bool(address and "@" in address) and acknowledgeable(note.verdicts),
        )

    def _persist_content(self, rid: str, note: Notification, mail: ParsedMail) -> Origin:
        """Full text and attachments to S3 (idempotent keys); the record's bounded part."""
        prefix = f"records/{rid}"
        full_text = None
        if len(mail.text) > EXCERPT_CHARS:
            self._blobs.write(self._bucket, f"{prefix}/text.txt", mail.text.encode())
            full_text = f"s3://{self._bucket}/{prefix}/text.txt"
        listed: list[StoredAttachment] = []
        # Each attachment is one S3 write; past the limit they stay in the raw mail,
        # which is kept, and the record says how many were not extracted.
        for attachment in mail.attachments[:MAX_STORED_ATTACHMENTS]:
            key = f"{prefix}/attachments/{attachment.sha256}"
            self._blobs.write(
                self._bucket,
                key,
                attachment.data,
                content_type=attachment.content_type,
                metadata={"filename": attachment.name},
            )
            if len(listed) < MAX_LISTED_ATTACHMENTS:
                listed.append(
                    StoredAttachment(
                        attachment.name,
                        attachment.content_type,
                        attachment.size,
                        attachment.sha256,
                        key,
                        attachment.inline,
                    )
                )
        return Origin(
            source_ref=f"s3://{note.bucket}/{note.key}",
            message_id=mail.message_id,
            references=tuple(mail.references[-10:]),
            full_text_ref=full_text,
            attachments=tuple(listed),
            attachment_count=len(mail.attachments),
            attachments_not_extracted=max(0, len(mail.attachments) - MAX_STORED_ATTACHMENTS),
            defects=tuple(mail.defects[:20]),
        )

    def _bounce_of_ours(self, raw: bytes, mail: ParsedMail) -> str | None:
        """A failure notice quoting one of our acknowledgements is a bounce of ours.

        Only quoted header lines in the body count: a person's reply names our
        Message-ID in its own headers and may say "auto-replied" in its text.
        """
        sample = raw[mail.body_offset : mail.body_offset + BOUNCE_SCAN_BYTES].lower()
        ours = re.compile(
            rb"^[> \t]*message-id:[ \t]*<ack\.[^>\s]*@"
            + re.escape(self._domain.lower().encode())
            + rb">",
            re.MULTILINE,
        )
        if ours.search(sample) and _QUOTED_AUTO_REPLY.search(sample):
            return "bounce_of_our_acknowledgement"
        return None
