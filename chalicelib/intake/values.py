"""The values every channel adapter hands the intake pipeline."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from chalicelib.domain.tickets import Author, Channel, Disposition, Origin, Status, Ticket
from chalicelib.values import frozen

# How far a sender's identity is known (R1.7): `token` (a signed-in customer), `dmarc`
# (SES's DMARC verdict passed for From), `platform` (the chat platform verified the
# address, in its signed body), `stated` (an address the customer gave in a
# conversation: a claim), `unverified` (a From we cannot trust), `absent` (no address).
Verification = Literal["token", "dmarc", "platform", "stated", "unverified", "absent"]
TRUSTED: frozenset[Verification] = frozenset({"token", "dmarc", "platform"})
# How an unlinked record names its customer; `unverified:` and `unlinked:` mark a claim.
UNLINKED_PREFIX = {
    "dmarc": "email",
    "platform": "email",
    "unverified": "unverified",
    "stated": "unlinked",
}


@frozen
class Sender:
    """Who sent a request, and how far that is known."""

    address: str | None
    verified_by: Verification
    account: str | None = None  # known from the channel itself (the cabinet's token)
    name: str | None = None  # the account's name, where the token carries one


@frozen
class Turn:
    """One turn of a conversation that arrives whole (a chat transcript)."""

    author: Author
    at: datetime
    text: str


@frozen
class Intake:
    """A request as any channel delivers it, normalised."""

    channel: Channel
    official: bool  # R1.4: only a cabinet ticket from an authenticated customer
    sender: Sender
    subject: str
    text: str  # what is recorded and classified: bounded by the adapter
    received_at: datetime
    recorded_by: str  # who the audit trail names
    origin: Origin | None = None  # the source reference and what the channel saw
    record_id: str | None = None  # derived from the source, so a redelivery finds it
    thread_refs: tuple[str, ...] = ()  # requests it says it answers, most certain first
    conversation: tuple[Turn, ...] = ()
    identity: str | None = None  # what makes two deliveries one message (mail)
    status: Status = "open"
    service: str | None = None
    domain: str | None = None
    acknowledge: bool = False  # the sender is owed an automatic acknowledgement
    receipt: str | None = None  # a keyed create's digest: the request as made is kept


@frozen
class Recorded:
    """What the pipeline made of an intake: the record, and whether it is new."""

    request: Ticket
    created: bool

    @property
    def disposition(self) -> Disposition:
        return self.request.origin.disposition if self.request.origin else "advisory"
