"""The e-mail intake: one SES notification in, one record out, exactly once.

SES stores the raw MIME in S3 (kept) and notifies through SNS → SQS. For each
notification: the record id is derived from the S3 object, so a redelivered
notification finds the record it already made; machine mail is recorded with its
reason and nothing else happens; spam or virus verdicts are quarantined; a reply to
one of our messages by the owner of the thread is appended to it; everything else is
an advisory record (R1.4) with its scope, and the sender gets one acknowledgement
(rate-limited) that points to the cabinet.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from chalicelib import observability as obs
from chalicelib.accounts import AccountDirectory
from chalicelib.ids import OUR_MESSAGE_ID, SUBJECT_TAG, mail_record_id, new_event_id
from chalicelib.intake.abuse import AbuseNotices
from chalicelib.intake.cabinet import Classifier
from chalicelib.intake.mail.ack import build_ack
from chalicelib.intake.mail.filters import machine_reason
from chalicelib.intake.mail.parse import ParsedMail, parse_mail
from chalicelib.models import AuditEvent, Disposition, Message, Scope, Status, Ticket
from chalicelib.storage import (
    AlreadyRecorded,
    DuplicateMail,
    SupportStore,
    mail_identity_item,
    message_to_item,
    ticket_to_item,
)
from chalicelib.timeutil import Clock, to_iso

EXCERPT_CHARS = 8_000
MAX_LISTED_ATTACHMENTS = 50
MAX_STORED_ATTACHMENTS = 100
BOUNCE_SCAN_BYTES = 262_144
_QUOTED_AUTO_REPLY = re.compile(rb"^[> \t]*auto-submitted:[ \t]*auto-replied", re.MULTILINE)
_TRUSTED_AUTHSERV = ("amazonses.com",)


class MailError(Exception):
    """A notification that cannot be processed now; the queue retries, then dead-letters."""


@dataclass(frozen=True)
class MailConfig:
    bucket: str
    domain: str
    ack_from: str
    cabinet_url: str
    acks_per_day: int = 3


@dataclass(frozen=True)
class Notification:
    bucket: str
    key: str
    envelope_sender: str | None
    verdicts: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    record_id: str
    disposition: Disposition
    reason: str | None
    created: bool
    ticket_id: str | None = None


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


def thread_reference(mail: ParsedMail, domain: str) -> str | None:
    """The request a mail answers: our Message-IDs first, then the subject tag."""
    for message_id in [*mail.in_reply_to, *reversed(mail.references)]:
        local, _, host = message_id.rpartition("@")
        match = OUR_MESSAGE_ID.match(message_id)
        if match and host.lower() == domain.lower() and local:
            return match.group(1)
    tag = SUBJECT_TAG.search(mail.subject)
    return tag.group(1) if tag else None


def mail_identity(mail: ParsedMail) -> str | None:
    """What makes two stored objects the same message: its Message-ID and its sender."""
    if not mail.message_id:
        return None
    sender = mail.from_addr or mail.headers.get("from", "")
    return hashlib.sha256(f"{mail.message_id}\n{sender}".encode()).hexdigest()[:40]


def sender_verified(mail: ParsedMail, verdicts: dict[str, str]) -> bool:
    """Trust From only when it names one address and DMARC passed, per SES or our own
    receiver's header."""
    if not mail.from_addr or mail.sender_problem in ("several_from_addresses",):
        return False
    if verdicts.get("dmarc") == "PASS":
        return True
    if verdicts.get("dmarc") == "FAIL" or verdicts.get("spf") == "FAIL":
        return False
    header = mail.headers.get("authentication-results", "")
    authserv = header.split(";", 1)[0].strip().lower()
    return authserv in _TRUSTED_AUTHSERV and "dmarc=pass" in header.lower()


class MailIntake:
    def __init__(
        self,
        store: SupportStore,
        s3: Any,
        ses: Any,
        classify: Classifier,
        accounts: AccountDirectory,
        abuse: AbuseNotices,
        clock: Clock,
        config: MailConfig,
    ) -> None:
        self._store = store
        self._s3 = s3
        self._ses = ses
        self._classify = classify
        self._accounts = accounts
        self._abuse = abuse
        self._clock = clock
        self._config = config

    def process(self, note: Notification) -> Outcome:
        rid = mail_record_id(note.bucket, note.key)
        existing = self._store.get_extra(rid, ("disposition", "reason", "thread_of", "ack"))
        if existing:
            if existing.get("ack") == "owed":
                self._acknowledge_again(rid)
            return Outcome(
                rid,
                existing["disposition"],
                existing.get("reason"),
                False,
                existing.get("thread_of"),
            )
        try:
            raw = self._s3.get_object(Bucket=note.bucket, Key=note.key)["Body"].read()
        except Exception as error:
            raise MailError(f"raw mail unreadable at s3://{note.bucket}/{note.key}") from error
        mail = parse_mail(raw)
        for verdict in ("virus", "spam"):
            if note.verdicts.get(verdict) == "FAIL":
                return self._record_only(
                    rid, note, mail, "quarantine", f"ses {verdict} verdict FAIL"
                )
        reason = machine_reason(mail, note.envelope_sender) or self._bounce_of_ours(raw, mail)
        if reason:
            return self._record_only(rid, note, mail, "machine", reason)
        identity = mail_identity(mail)
        original = self._store.mail_identity(identity) if identity else None
        if original and original != rid:
            return self._duplicate(rid, note, mail, original)
        verified = sender_verified(mail, note.verdicts)
        account = (
            self._accounts.find_by_email(mail.from_addr) if verified and mail.from_addr else None
        )
        target = thread_reference(mail, self._config.domain)
        try:
            if target:
                outcome = self._append_reply(rid, note, mail, target, verified, account, identity)
                if outcome is not None:
                    return outcome
            return self._advisory(rid, note, mail, verified, account, identity)
        except DuplicateMail as duplicate:
            # A copy of the same message won the race to record it.
            return self._duplicate(rid, note, mail, duplicate.original)

    def _duplicate(self, rid: str, note: Notification, mail: ParsedMail, original: str) -> Outcome:
        return self._record_only(rid, note, mail, "duplicate", f"duplicate_of: {original}")

    # -- the three kinds of outcome -------------------------------------------------------

    def _record_only(
        self, rid: str, note: Notification, mail: ParsedMail, disposition: Disposition, reason: str
    ) -> Outcome:
        """Machine or quarantined mail: recorded with its reason, nothing else happens."""
        ticket = self._ticket(rid, mail, Scope("unclear"), (), "closed", customer="machine")
        created = self._store_record(ticket, note, mail, disposition, reason, (), None)
        metric = {"machine": obs.MACHINE_MAIL, "quarantine": obs.MAIL_QUARANTINED}.get(
            disposition, obs.MAIL_DUPLICATES
        )
        if created:
            obs.count(metric, reason=reason.split(":")[0])
        return Outcome(rid, disposition, reason, created)

    def _append_reply(
        self,
        rid: str,
        note: Notification,
        mail: ParsedMail,
        target: str,
        verified: bool,
        account: str | None,
        identity: str | None,
    ) -> Outcome | None:
        """A reply by the owner of the thread joins it; anyone else starts a new record."""
        ticket = self._store.get_ticket(target)
        if ticket is None or not verified or not mail.from_addr:
            return None
        owner = (
            account == ticket.customer
            if ticket.official
            else (ticket.customer_email == mail.from_addr)
        )
        if not owner:
            return None
        at = to_iso(self._clock())
        message = Message(
            id=f"{rid}-0000",
            ticket_id=target,
            author="customer",
            author_id=ticket.customer,
            text=mail.text[:EXCERPT_CHARS] or "(empty message)",
            at=at,
        )
        reply = self._ticket(rid, mail, ticket.scope, (), "closed", customer=ticket.customer)
        extra = self._persist_content(rid, note, mail, "reply", None, target)
        audit = AuditEvent(
            new_event_id(), target, "email_reply", mail.from_addr, at, {"mail_record": rid}
        )
        # One transaction: the reply's own record and the mail's identity are the
        # conditions, so a redelivered, concurrent or re-stored copy of the mail cannot
        # append the message twice.
        items = [{**ticket_to_item(reply), **extra}, message_to_item(message)]
        if identity:
            items.append(mail_identity_item(identity, rid))
        try:
            self._store.change_ticket(
                target, at=at, audit=audit, status="open", items=items, bump_messages=True
            )
        except AlreadyRecorded:
            original = self._store.mail_identity(identity) if identity else None
            if original and original != rid:
                raise DuplicateMail(original) from None
            return Outcome(rid, "reply", None, False, target)
        obs.count(obs.MAIL_REPLIES)
        return Outcome(rid, "reply", None, True, target)

    def _advisory(
        self,
        rid: str,
        note: Notification,
        mail: ParsedMail,
        verified: bool,
        account: str | None,
        identity: str | None,
    ) -> Outcome:
        scope, kb = self._classify(mail.subject, mail.text, "email")
        flags = list(scope.flags)
        if not verified:
            flags.append("sender_unverified")
        scope = replace(scope, flags=tuple(flags))
        customer = account or f"{'email' if verified else 'unverified'}:{mail.from_addr or '?'}"
        ticket = self._ticket(rid, mail, scope, kb, "open", customer=customer)
        # An acknowledgement is owed to a sender with an address; it is settled once sent
        # (or refused by the rate limit), and a redelivery retries one still owed.
        ack = "owed" if mail.from_addr and "@" in mail.from_addr else None
        created = self._store_record(
            ticket, note, mail, "advisory", None, kb, None, identity=identity, ack=ack
        )
        if not created:
            return Outcome(rid, "advisory", None, False)
        stored = self._store.get_ticket(rid)
        if stored is not None:
            self._abuse.notify(stored)
        obs.count(obs.ADVISORY_RECORDED, channel="email")
        if "ticket_recommended" in flags:
            obs.count(obs.TICKET_RECOMMENDED, channel="email")
        if ack:
            self._acknowledge(rid, mail.from_addr or "", mail.subject, mail.message_id, kb)
        return Outcome(rid, "advisory", None, True)

    # -- helpers ------------------------------------------------------------------------

    def _ticket(
        self,
        rid: str,
        mail: ParsedMail,
        scope: Scope,
        kb: Any,
        status: Status,
        *,
        customer: str,
    ) -> Ticket:
        now = to_iso(self._clock())
        return Ticket(
            id=rid,
            channel="email",
            official=False,  # R1.4
            status=status,
            subject=mail.subject[:200],
            text=mail.text[:EXCERPT_CHARS],
            created_at=now,
            updated_at=now,
            customer=customer,
            customer_email=mail.from_addr,
            scope=scope,
            kb=tuple(kb),
        )

    def _store_record(
        self,
        ticket: Ticket,
        note: Notification,
        mail: ParsedMail,
        disposition: str,
        reason: str | None,
        kb: Any,
        thread_of: str | None,
        identity: str | None = None,
        ack: str | None = None,
    ) -> bool:
        """Put full text and attachments in S3, then the bounded record; False if it existed."""
        extra = self._persist_content(ticket.id, note, mail, disposition, reason, thread_of)
        if ack:
            extra["ack"] = ack
        audit = AuditEvent(
            new_event_id(),
            ticket.id,
            f"email_{disposition}",
            "mail-intake",
            ticket.created_at,
            {"reason": reason},
        )
        try:
            self._store.create_advisory(ticket, [], audit, extra, identity)
        except AlreadyRecorded:
            return False
        return True

    def _persist_content(
        self,
        rid: str,
        note: Notification,
        mail: ParsedMail,
        disposition: str,
        reason: str | None,
        thread_of: str | None,
    ) -> dict[str, Any]:
        """Full text and attachments to S3 (idempotent keys); the record's bounded part."""
        prefix = f"records/{rid}"
        if len(mail.text) > EXCERPT_CHARS:
            self._s3.put_object(
                Bucket=self._config.bucket, Key=f"{prefix}/text.txt", Body=mail.text.encode()
            )
        listed: list[dict[str, Any]] = []
        # Each attachment is one S3 write; past the limit they stay in the raw mail,
        # which is kept, and the record says how many were not extracted.
        for attachment in mail.attachments[:MAX_STORED_ATTACHMENTS]:
            key = f"{prefix}/attachments/{attachment.sha256}"
            self._s3.put_object(
                Bucket=self._config.bucket,
                Key=key,
                Body=attachment.data,
                ContentType=attachment.content_type,
                Metadata={"filename": attachment.name.encode("ascii", "replace").decode()},
            )
            if len(listed) < MAX_LISTED_ATTACHMENTS:
                listed.append(
                    {
                        "name": attachment.name,
                        "content_type": attachment.content_type,
                        "size": attachment.size,
                        "sha256": attachment.sha256,
                        "s3_key": key,
                        "inline": attachment.inline,
                    }
                )
        extra = {
            "disposition": disposition,
            "reason": reason,
            "thread_of": thread_of,
            "raw_s3": f"s3://{note.bucket}/{note.key}",
            "full_text_s3": f"s3://{self._config.bucket}/{prefix}/text.txt"
            if len(mail.text) > EXCERPT_CHARS
            else None,
            "attachments": listed,
            "attachment_count": len(mail.attachments),
            "attachments_not_extracted": max(0, len(mail.attachments) - MAX_STORED_ATTACHMENTS)
            or None,
            "message_id": mail.message_id,
            "defects": mail.defects[:20],
        }
        return {k: v for k, v in extra.items() if v is not None}

    def _bounce_of_ours(self, raw: bytes, mail: ParsedMail) -> str | None:
        """A failure notice quoting one of our acknowledgements is a bounce of ours.

        Only quoted header lines in the body count: a person's reply names our
        Message-ID in its own headers and may say "auto-replied" in its text.
        """
        sample = raw[mail.body_offset : mail.body_offset + BOUNCE_SCAN_BYTES].lower()
        ours = re.compile(
            rb"^[> \t]*message-id:[ \t]*<ack\.[^>\s]*@"
            + re.escape(self._config.domain.lower().encode())
            + rb">",
            re.MULTILINE,
        )
        if ours.search(sample) and _QUOTED_AUTO_REPLY.search(sample):
            return "bounce_of_our_acknowledgement"
        return None

    def _acknowledge_again(self, rid: str) -> None:
        """Retry an acknowledgement a previous delivery owed but could not send."""
        ticket = self._store.get_ticket(rid)
        if ticket is None or not ticket.customer_email:
            return
        message_id = self._store.get_extra(rid, ("message_id",)).get("message_id")
        self._acknowledge(rid, ticket.customer_email, ticket.subject, message_id, ticket.kb)

    def _acknowledge(
        self, rid: str, to_addr: str, subject: str, message_id: str | None, kb: Any
    ) -> None:
        """Send the owed acknowledgement, or settle it as rate-limited.

        A failed send gives the allowance back and raises, so the queue redelivers the
        notification and the retry finds the acknowledgement still owed.
        """
        at = to_iso(self._clock())
        if not self._store.take_ack_allowance(to_addr, at, self._config.acks_per_day, rid):
            obs.count(obs.ACKS_RATE_LIMITED)
            self._store.settle_ack(rid, "rate_limited")
            return
        message = build_ack(
            record_id=rid,
            to_addr=to_addr,
            from_addr=self._config.ack_from,
            subject=subject,
            in_reply_to=message_id,
            kb=tuple(kb),
            cabinet_url=self._config.cabinet_url,
            domain=self._config.domain,
            clock=self._clock,
        )
        try:
            self._ses.send_raw_email(
                Source=self._config.ack_from,
                Destinations=[to_addr],
                RawMessage={"Data": message.as_bytes()},
            )
        except Exception as error:
            obs.logger.exception("acknowledgement not sent", extra={"record_id": rid})
            obs.count(obs.NOTICE_FAILURES, kind="acknowledgement")
            self._store.release_ack_allowance(to_addr, at, rid)
            raise MailError(f"acknowledgement of {rid} not sent; retried") from error
        self._store.settle_ack(rid, "sent")
        obs.count(obs.ACKS_SENT)
