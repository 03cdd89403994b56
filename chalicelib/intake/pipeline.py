"""One intake pipeline for every channel (DESIGN.md: one pipeline, three doors).

A channel adapter only turns its input into an `Intake`. From there everything is
channel-blind: classify, flag, link the account and the thread, store with one
conditional commit, notify, count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from chalicelib import observability as obs
from chalicelib.accounts import AccountDirectory
from chalicelib.domain.tallies import tally
from chalicelib.domain.tickets import (
    AuditEvent,
    Disposition,
    KbArticle,
    Message,
    Origin,
    OutboxEntry,
    Scope,
    Ticket,
)
from chalicelib.ids import new_event_id, new_ticket_id
from chalicelib.intake.abuse import abuse_notice, flagged_by_message
from chalicelib.intake.records import conversation, created_audit, digest, new_record, sender_flags

# The values live in `values`; adapters import them from here, with the pipeline.
from chalicelib.intake.values import (
    TRUSTED,
    UNLINKED_PREFIX,
    Intake as Intake,
    Recorded as Recorded,
    Sender as Sender,
    Turn as Turn,
    Verification as Verification,
)
from chalicelib.lifecycle import customer_wrote
from chalicelib.outbound.delivery import Dispatcher, Known, entry_for, held
from chalicelib.outbound.routing import ABUSE_NOTICE, ACKNOWLEDGEMENT
from chalicelib.storage import (
    AlreadyRecorded,
    AppendMessage,
    Change,
    DuplicateMail,
    Enqueue,
    RecordReply,
    SendGuard,
    SendRefused,
    StaleState,
    Tickets,
)
from chalicelib.timeutil import Clock, to_iso

_ID_ATTEMPTS = 5


def acknowledgement_owed(record: Ticket) -> OutboxEntry:
    """The automatic acknowledgement a record owes its sender, as an outbox entry."""
    return entry_for(ACKNOWLEDGEMENT, record.id, "1", {"record_id": record.id}, record.updated_at)


class Classifier(Protocol):
    def __call__(
        self, subject: str, text: str, channel: str
    ) -> tuple[Scope, tuple[KbArticle, ...]]:
        """Scope label, flags, evidence and knowledge-base suggestions for a request."""
        ...


class IntakePipeline:
    def __init__(
        self,
        tickets: Tickets,
        classify: Classifier,
        accounts: AccountDirectory,
        dispatcher: Dispatcher,
        clock: Clock,
        first_response_minutes: int,
        incident_for: Callable[[Scope], str | None] | None = None,
        admin_request_for: Callable[[Ticket], dict[str, Any] | None] | None = None,
        timezone: str = "Europe/Moscow",
    ) -> None:
        self._timezone = timezone  # the report's days are the company's (R1.3)
        self._admin_request_for = admin_request_for
        self._tickets = tickets
        self._incident_for = incident_for
        self._classify = classify
        self._accounts = accounts
        self._dispatcher = dispatcher
        self._clock = clock
        self._minutes = first_response_minutes

    def recorded(self, record_id: str) -> Recorded | None:
        """The record an input already made (what it owes is in the outbox)."""
        existing = self._tickets.get(record_id)
        return None if existing is None else Recorded(existing, False)

    def take(self, intake: Intake, *, unseen: bool = False) -> Recorded:
        """Record one intake exactly once, whatever channel it came from. `unseen`: the
        caller has just found no record of it (`recorded`), so it is not read again. A
        copy of a mail already recorded is found by the write itself (DuplicateMail)."""
        if intake.record_id and not unseen and (done := self.recorded(intake.record_id)):
            self._complete(intake, done.request)
            return done
        account = self._link(intake.sender)
        try:
            if intake.thread_refs and (joined := self._join(intake, account)):
                return joined
            return self._create(intake, account)
        except DuplicateMail as duplicate:
            # A copy of the same message won the race to record it.
            return self.record_only(intake, "duplicate", f"duplicate_of: {duplicate.original}")

    def hand_over(self, changes: list[Change], channel: str) -> None:
        """What a stored change owes (a notice written with it): now if it can be, else
        the sweep's drain sends it."""
        for change in changes:
            if isinstance(change, Enqueue):
                if change.entry.kind == ABUSE_NOTICE:
                    obs.count(obs.ABUSE_NOTICES, channel=channel)
                self._dispatcher.try_now(change.entry)

    def record_only(self, intake: Intake, disposition: Disposition, reason: str) -> Recorded:
        """Machine, quarantined or duplicate input: recorded with its reason, and nothing
        else happens (no classification, no notice, no acknowledgement)."""
        assert intake.record_id, "only inputs with a derived id are recorded unprocessed"
        origin = replace(intake.origin or Origin(""), disposition=disposition, reason=reason)
        record = new_record(
            intake, intake.record_id, Scope("unclear"), (), "machine", origin, **self._when()
        )
        record = replace(record, status="closed")
        try:
            self._tickets.create(record, created_audit(intake, record))
        except AlreadyRecorded:
            return Recorded(record, False)
        metric = {"machine": obs.MACHINE_MAIL, "quarantine": obs.MAIL_QUARANTINED}.get(
            disposition, obs.MAIL_DUPLICATES
        )
        obs.count(metric, reason=reason.split(":")[0])
        return Recorded(record, True)

    # -- the steps ----------------------------------------------------------------------

    def _complete(self, intake: Intake, stored: Ticket) -> None:
        """A redelivered conversation finishes what a crash cut short; one with other
        content (the same transcript id posted twice) changes nothing."""
        origin = stored.origin
        if intake.conversation and origin and origin.conversation_digest == digest(intake):
            messages = conversation(intake, stored, origin.account)
            self._tickets.complete_conversation(stored.id, messages)

    def _link(self, sender: Sender) -> str | None:
        """R1.6, R1.7: an account only for an address proven to be the sender's, and only
        when the directory holds it as the account's verified e-mail."""
        if sender.account or sender.address is None:
            return sender.account
        if sender.verified_by in TRUSTED:
            return self._accounts.find_by_email(sender.address)
        return None

    def _join(self, intake: Intake, account: str | None) -> Recorded | None:
        """A reply joins the first request it refers to that its sender owns; else None."""
        sender = intake.sender
        if sender.verified_by not in TRUSTED or not sender.address or intake.record_id is None:
            return None
        found = (self._tickets.get(ref) for ref in intake.thread_refs)
        target = next((t for t in found if t and _owns(t, account, sender.address)), None)
        if target is None:
            return None
        if target.status == "closed":
            # Closed is final (R1.4): the reply is a new advisory record that points to
            # the ticket it followed, and its acknowledgement says how to open a new one.
            return self._create(intake, account, follow_up_of=target)
        at = to_iso(self._clock())
        origin = replace(intake.origin or Origin(""), disposition="reply", thread_of=target.id)
        reply = new_record(
            intake, intake.record_id, target.scope, (), target.customer, origin, **self._when()
        )
        message = Message(
            id=f"{reply.id}-0000",
            ticket_id=target.id,
            author="customer",
            author_id=target.customer,
            text=intake.text or "(empty message)",
            at=at,
        )
        audit = AuditEvent(
            new_event_id(), target.id, "email_reply", sender.address, at, {"mail_record": reply.id}
        )
        # One transaction: the reply's own record and the mail's identity are conditions,
        # so a redelivered, concurrent or re-stored copy cannot append the message twice.
        for _ in range(_ID_ATTEMPTS):
            changes: list[Change] = [
                RecordReply(replace(reply, status="closed"), intake.identity),
                AppendMessage(message),
                *customer_wrote(target, self._clock(), self._minutes),  # R2.5: a new wait
                *flagged_by_message(target, message.text, at, sender.address),  # R6.2
            ]
            try:
                self._tickets.change(target.id, audit, *changes)
            except AlreadyRecorded:
                return Recorded(reply, False)
            except StaleState:  # answered, swept or flagged meanwhile: read it again
                target = self._tickets.get(target.id) or target
                continue
            self.hand_over(changes, intake.channel)
            obs.count(obs.MAIL_REPLIES)
            return Recorded(reply, True)
        raise StaleState(target.id)

    def _create(
        self, intake: Intake, account: str | None, follow_up_of: Ticket | None = None
    ) -> Recorded:
        scope, kb = self._classify(intake.subject, intake.text, intake.channel)
        scope = replace(scope, flags=(*scope.flags, *sender_flags(intake.sender, account)))
        # R3.3: a request about a service under an active incident belongs to it.
        incident = self._incident_for(scope) if self._incident_for else None
        customer = account or (
            f"{UNLINKED_PREFIX.get(intake.sender.verified_by, 'unlinked')}:"
            f"{intake.sender.address or '?'}"
        )
        origin = intake.origin
        if origin is not None:
            origin = replace(
                origin,
                account=account,
                ack="owed" if intake.acknowledge else None,
                conversation_digest=digest(intake) if intake.conversation else None,
            )
        for _ in range(_ID_ATTEMPTS if intake.record_id is None else 1):
            rid = intake.record_id or new_ticket_id()
            record = new_record(intake, rid, scope, kb, customer, origin, **self._when())
            record = replace(
                record, incident=incident, follow_up_of=follow_up_of.id if follow_up_of else None
            )
            if intake.official and self._admin_request_for is not None:  # R5.1, R5.2
                record = replace(record, admin_request=self._admin_request_for(record))
            # What the record owes is written with it, or not at all, held for this
            # process to send at once; the acknowledgement's allowance is spent in the
            # same write while the sender's list has room (else the sender's long way).
            now = self._clock()
            owed = [held(entry, now) for entry in self._owed(intake, record)]
            guards = self._dispatcher.guards(owed, record, to_iso(now))
            try:
                guarded = self._store_new(intake, record, account, owed, guards)
            except AlreadyRecorded:
                if intake.record_id is None:
                    continue  # a drawn id was taken: draw again
                stored = self._tickets.get(intake.record_id)
                if stored is not None:
                    self._complete(intake, stored)
                return Recorded(stored or record, False)
            if follow_up_of is not None:
                self._point_back(follow_up_of, record)
            return self._after_create(intake, record, owed, guarded)
        raise RuntimeError("could not draw a free ticket id")

    def _store_new(
        self,
        intake: Intake,
        record: Ticket,
        account: str | None,
        owed: list[OutboxEntry],
        guards: list[SendGuard],
    ) -> bool:
        """Create the record; True if the `guards` were written with it."""
        for guarded in (True, False) if guards else (False,):
            try:
                self._tickets.create(
                    record,
                    created_audit(intake, record),
                    conversation=conversation(intake, record, account),
                    identity=intake.identity,
                    outbox=owed,
                    tally=tally(record, self._clock(), self._timezone, {"received": 1}),
                    guards=guards if guarded else (),
                    receipt=intake.receipt,
                )
            except SendRefused:
                continue  # the allowance list is full: the sender decides the long way
            return guarded
        raise AssertionError("unreachable: an unguarded create refuses no send")

    def _when(self) -> dict[str, Any]:
        """When a record is made, and its first response's allowance (R2.1)."""
        return {"now": self._clock(), "minutes": self._minutes}

    def _point_back(self, closed: Ticket, follow_up: Ticket) -> None:
        """The closed ticket's audit trail names the record that followed it, for staff."""
        event = AuditEvent(
            new_event_id(),
            closed.id,
            "follow_up_received",
            follow_up.customer_email or follow_up.customer,
            follow_up.updated_at,
            {"record": follow_up.id, "channel": follow_up.channel},
        )
        try:
            self._tickets.change(closed.id, event)
        except Exception:  # the record points to the ticket whatever happens here
            obs.logger.exception("follow-up not noted", extra={"ticket_id": closed.id})

    @staticmethod
    def _owed(intake: Intake, record: Ticket) -> list[OutboxEntry]:
        """R6.2: management is told of a flagged request; a sender the channel wants
        acknowledged (e-mail) is owed one."""
        notice = abuse_notice(record)
        owed = [notice] if notice else []
        if intake.acknowledge:
            owed.append(acknowledgement_owed(record))
        return owed

    def _after_create(
        self, intake: Intake, record: Ticket, owed: list[OutboxEntry], guarded: bool
    ) -> Recorded:
        channel = intake.channel
        with obs.together():  # a new request's counts: one EMF document, mostly
            if any(entry.kind == ABUSE_NOTICE for entry in owed):
                obs.count(obs.ABUSE_NOTICES, channel=channel)
            for entry in owed:  # now if it can; else the sweep retries when the hold ends
                self._dispatcher.send_held(entry, Known(record, guarded=guarded))
            obs.count(
                obs.TICKETS_CREATED if intake.official else obs.ADVISORY_RECORDED,
                channel=channel,
            )
            obs.count(obs.SCOPE_LABELLED, channel=channel, label=record.scope.label)
            if record.incident:
                obs.count(obs.INCIDENT_LINKED_REQUESTS, how="intake")
            if record.admin_request:
                admin = record.admin_request
                obs.count(
                    obs.FREE_ADMIN_REQUESTS, kind=admin["kind"], possible=str(admin["possible"])
                )
            if "ticket_recommended" in record.scope.flags:
                obs.count(obs.TICKET_RECOMMENDED, channel=channel)
            if record.origin and record.origin.within_hours is False:
                obs.count(obs.OUTSIDE_HOURS, channel=channel)
        obs.logger.info(
            "request recorded",
            extra={"ticket_id": record.id, "channel": channel, "label": record.scope.label},
        )
        return Recorded(record, True)


def _owns(ticket: Ticket, account: str | None, address: str) -> bool:
    """Whether the sender of a mail is the owner of a request it refers to."""
    return account == ticket.customer if ticket.official else ticket.customer_email == address
