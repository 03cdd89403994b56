"""Delivery of what the outbox holds: claimed, sent, and settled exactly once, retried
with backoff while the outside service fails, and set aside after the last attempt.

A change that owes a notice writes its outbox entry in the same transaction, so a crash
between the write and the send loses nothing: the entry waits in the outbox. Whoever
made the entry tries it at once; the sweep drains whatever is still owed every minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.tickets import DelayNotice, Message, OutboxEntry, Ticket
from chalicelib.outbound.notify import Publisher
from chalicelib.storage import Outbox, SendGuard, Settle
from chalicelib.timeutil import Clock, to_iso
from chalicelib.values import frozen

# A sender delivers an entry and says what it leaves behind (written with the entry's
# removal, in one write), or None.
Sender = Callable[[OutboxEntry], Settle | None]
LEASE = timedelta(minutes=2)  # longer than any send takes; then another sender may try
BACKOFF_MINUTES = (1, 2, 4, 8, 15, 30, 60, 120)  # after attempt 1, 2, ...; then give up
SETTLE_ATTEMPTS = 5
DRAIN_SECONDS = 35.0  # of the sweep's 60 s: its reads and writes come first
DRAIN_WORKERS = 8  # sends at once (SNS and SES calls wait on the network)


@frozen
class Known:
    """What the writer of an entry already holds, so its sender need not read it again:
    the request as written, the staff item the mail carries, and whether the
    recipient's allowance and suppression were settled in the same write."""

    ticket: Ticket
    item: Message | DelayNotice | None = None
    guarded: bool = False


KnownSender = Callable[[OutboxEntry, Known], Settle | None]
Delivered = list[tuple[OutboxEntry, Settle | None]]
# The deliveries of the current `settling_together` block (a context variable: the
# drain's other workers, sending other entries at the same time, settle on their own).
_TOGETHER: ContextVar[Delivered | None] = ContextVar("settling_together", default=None)
# The guards an entry's writer may write with it (`SendGuard`), at a time.
Guards = Callable[[OutboxEntry, Ticket, str], list[SendGuard]]


def held(entry: OutboxEntry, now: datetime) -> OutboxEntry:
    """The entry as its writer stores it when it sends it at once: already claimed
    (one attempt, the lease running), so no other sender takes it meanwhile and no
    claim is written apart; if the writer dies, the lease ends and the sweep sends it."""
    return replace(entry, due_at=to_iso(now + LEASE), attempts=entry.attempts + 1)


@dataclass
class DrainReport:
    delivered: list[OutboxEntry] = field(default_factory=list)
    retrying: list[OutboxEntry] = field(default_factory=list)
    given_up: list[OutboxEntry] = field(default_factory=list)


def publishing(publisher: Publisher, topics: Mapping[str, str]) -> dict[str, Sender]:
    """Senders that publish each kind of notice to its topic (escalations, management)."""

    def sender(topic: str) -> Sender:
        def send(entry: OutboxEntry) -> None:
            publisher.publish(topic, entry.kind, entry.payload)

        return send

    return {kind: sender(topic) for kind, topic in topics.items()}


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        clock: Clock,
        given_up: Mapping[str, Callable[[OutboxEntry, str], None]] | None = None,
    ) -> None:
        self._outbox = outbox
        self._senders = dict(senders)
        self._clock = clock
        self._given_up = dict(given_up or {})
        self._known: dict[str, KnownSender] = {}
        self._guards: dict[str, Guards] = {}

    def kinds(self) -> list[str]:
        """The kinds this dispatcher has a sender for."""
        return sorted(self._senders)

    def register(self, kind: str, sender: Sender) -> None:
        """A sender wired after the dispatcher (one that itself owes through it)."""
        self._senders[kind] = sender

    def register_known(self, kind: str, sender: KnownSender, guards: Guards | None = None) -> None:
        """A sender that uses what the entry's writer holds (`send_held`), and the
        guards the writer may write with the entry so the sender need not check them."""
        self._known[kind] = sender
        if guards is not None:
            self._guards[kind] = guards

    def guards(self, entries: list[OutboxEntry], ticket: Ticket, at: str) -> list[SendGuard]:
        """What the writer of `entries` may write with them (see `register_known`)."""
        found: list[SendGuard] = []
        for entry in entries:
            if (guards := self._guards.get(entry.kind)) is not None:
                found += guards(entry, ticket, at)
        return found

    def deliver(self, entry: OutboxEntry, now: datetime | None = None) -> str:
        """Try one entry now: `delivered`, `retrying`, `given_up`, or `taken` (another
        sender holds it)."""
        now = now or self._clock()
        claimed = self._outbox.claim(entry, to_iso(now + LEASE))
        if claimed is None:
            return "taken"
        return self._send(claimed, lambda: self._senders[claimed.kind](claimed), now)[0]

    def send_held(self, entry: OutboxEntry, known: Known | None = None) -> Settle | None:
        """Send an entry its writer stored `held`, with what the writer knows, and give
        back what the delivery left behind (None if nothing, or not delivered now).
        Like `try_now`, it never raises: the hold's end brings the entry to the sweep."""
        by_known = self._known.get(entry.kind) if known is not None else None

        def send() -> Settle | None:
            if by_known is not None and known is not None:
                return by_known(entry, known)
            return self._senders[entry.kind](entry)

        try:
            return self._send(entry, send, self._clock())[1]
        except Exception:
            obs.logger.exception("delivery deferred to the sweep", extra={"entry": entry.id})
            return None

    def _send(
        self, claimed: OutboxEntry, send: Callable[[], Settle | None], now: datetime
    ) -> tuple[str, Settle | None]:
        """Send, then settle: the outcome, and what a delivery left behind."""
        try:
            settle = send()
        except Exception as error:  # any failure of the outside service: retried
            return self._failed(claimed, error, now), None
        self._settle(claimed, settle)
        return "delivered", settle

    def try_now(self, entry: OutboxEntry) -> str:
        """Deliver an entry its owner has just written, if it can go now. Whatever goes
        wrong is logged, never raised: the change that owes it is already stored, and the
        sweep's drain sends what is still owed (`deferred`)."""
        try:
            return self.deliver(entry)
        except Exception:
            obs.logger.exception("delivery deferred to the sweep", extra={"entry": entry.id})
            return "deferred"

    @contextmanager
    def settling_together(self) -> Iterator[None]:
        """Within the block (and the tasks it runs with its context), what is sent is
        settled together at its end, in as few writes as the outbox allows (issue 29:
        an incident's update settles a page of answers in one transaction, not one
        each). The price: if the function dies inside the block, what it sent there
        is sent again when its hold ends, so a block is kept to one page."""
        delivered: Delivered = []
        token = _TOGETHER.set(delivered)
        try:
            yield
        finally:
            _TOGETHER.reset(token)
            if delivered:
                try:
                    after_sending(lambda: self._outbox.done_many(delivered))
                except Exception:
                    obs.logger.exception("sent but not settled", extra={"entries": len(delivered)})

    def _settle(self, claimed: OutboxEntry, settle: Settle | None) -> None:
        """Mark a sent entry done, with what it leaves behind: if this fails for good,
        the entry is sent again when its lease ends (the one window for a duplicate)."""
        together = _TOGETHER.get()
        if together is not None:
            together.append((claimed, settle))  # settled at the block's end
            return
        try:
            after_sending(lambda: self._outbox.done(claimed, settle))
        except Exception:
            obs.logger.exception("sent but not settled", extra={"entry": claimed.id})
            raise

    def drain(
        self,
        now: datetime | None = None,
        budget: float = DRAIN_SECONDS,
        workers: int = DRAIN_WORKERS,
        page: int = 200,
    ) -> DrainReport:
        """Deliver what is owed at `now`, `workers` at a time, page after page, until
        nothing is left or `budget` seconds have passed (an outage at night breaches a
        thousand tickets at once: a count would leave most escalations for later
        sweeps). An incident's escalations stay one: its claim is conditional, whoever
        sends first."""
        now = now or self._clock()
        started, seen = time.monotonic(), set[str]()
        report = DrainReport()
        with ThreadPoolExecutor(workers, thread_name_prefix="drain") as pool:
            while time.monotonic() - started < budget:
                # What a sender owes on (a fan-out's next page) is due as it writes it:
                # the drain reads at the later of `now` and the clock.
                at = to_iso(max(now, self._clock()))
                batch = [e for e in self._outbox.due(at, page) if e.id not in seen]
                if not batch:
                    break
                seen.update(e.id for e in batch)
                for entry, outcome in zip(
                    batch, pool.map(lambda e: self._drained(e, now), batch), strict=True
                ):
                    target = {
                        "delivered": report.delivered,
                        "retrying": report.retrying,
                        "given_up": report.given_up,
                    }.get(outcome)
                    if target is not None:
                        target.append(entry)
        return report

    def _drained(self, entry: OutboxEntry, now: datetime) -> str:
        try:
            return self.deliver(entry, now)
        except Exception:
            # The outbox itself failed (a claim or a reschedule): the entry is still
            # owed, and the lease or its due time brings it back.
            obs.logger.exception("delivery not recorded", extra={"entry": entry.id})
            return "failed"

    def _failed(self, entry: OutboxEntry, error: Exception, now: datetime) -> str:
        detail = f"{type(error).__name__}: {error}"
        obs.logger.warning(
            "delivery failed",
            extra={"entry": entry.id, "kind": entry.kind, "attempt": entry.attempts},
        )
        obs.notice_failed(entry.kind)
        if entry.attempts > len(BACKOFF_MINUTES):
            self._outbox.give_up(entry, detail, to_iso(now))
            if entry.kind in self._given_up:
                self._given_up[entry.kind](entry, detail)  # e.g. the delivery shows `failed`
            obs.count(obs.DELIVERIES_GIVEN_UP)  # the alarm watches the total; the log says which
            obs.logger.error("delivery given up", extra={"entry": entry.id, "error": detail})
            return "given_up"
        wait = timedelta(minutes=BACKOFF_MINUTES[entry.attempts - 1])
        self._outbox.reschedule(entry, to_iso(now + wait), detail)
        return "retrying"


def after_sending(step: Callable[[], None]) -> None:
    """Bookkeeping after an irreversible send, tried a few times with short pauses: a
    failure here must not look like a failed send, or the send would be repeated."""
    for attempt in range(SETTLE_ATTEMPTS):
        try:
            step()
            return
        except Exception:
            if attempt == SETTLE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def entry_for(
    kind: str, request_id: str, discriminator: str, payload: dict[str, Any], at: str
) -> OutboxEntry:
    """An outbox entry whose id says what it is for, so one change owes it once."""
    return OutboxEntry(f"{kind}:{request_id}:{discriminator}", kind, request_id, payload, at)
