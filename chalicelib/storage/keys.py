"""Key formats of the one table (infrastructure/resources.json, `SupportTable`).

| item           | PK             | SK                        | indexes                         |
|----------------|----------------|---------------------------|---------------------------------|
| request        | REQ#<id>       | META                      | ByCustomer; DueDeadlines if due |
| message        | REQ#<id>       | MSG#<at>#<message id>     |                                 |
| message id     | REQ#<id>       | AKEY#<message id>         | (claims the id: no retry twice) |
| delay notice   | REQ#<id>       | DELAY#<at>#<notice id>    |                                 |
| attachment     | REQ#<id>       | FILE#<attachment id>      |                                 |
| audit event    | REQ#<id>       | AUDIT#<at>#<event id>     |                                 |
| mail identity  | MAILID#<hash>  | MAIL                      |                                 |
| ack allowance  | ACK#<address>  | RATE                      |                                 |
| mail allowance | SEND#<address> | RATE                      |                                 |
| suppression    | SUPPRESS#<addr>| ADDRESS                   |                                 |
| correction     | CORRECTIONS    | <at>#<request id>         |                                 |
| open gauge     | STATS          | OPEN_OFFICIAL#<shard>     | DueDeadlines (P#<shard>, first) |
| queue facet    | REQ#<id>       | @Q#CH, @Q#LB, @Q#FL#<f>, @Q#AS | StaffQueue (a filter) |
| lookup pointer | REQ#<id>       | @L#DOM, @L#SITE           | ByContact (a domain's requests) |
| incident link  | REQ#<id>       | @L#INC                    | ByContact (an incident's)       |
| incident       | INC#<id>       | META                      | ByCustomer (INCIDENTS#...)      |
| incident audit | INC#<id>       | AUDIT#<at>#<event id>     |                                 |
| outbox entry   | OUTBOX#<shard> | <due_at>#<entry id>       |                                 |
| macro          | MACROS         | <macro id>                |                                 |
| given up       | OUTBOX#FAILED  | <at>#<entry id>           |                                 |

`ByCustomer` (GSI1PK = CUST#<sub>, GSI1SK = <created_at>#<id>) lists a customer's own
requests by time. `DueDeadlines` (GSI2PK = <part>#<shard>, GSI2SK = <due_at>#<id>) is
sparse: only official requests still waiting for a staff answer carry its attributes.
The partition says what the clock is owed next (`domain.clock.Duty`), so that one
sweep reads an item only when an action on it is due:

| part | requests                                   | the sweep reads          |
|------|--------------------------------------------|--------------------------|
| P    | pending, or delayed and not yet warned     | due_at <= now + warning  |
| W    | warned (pending or delayed)                | due_at <= now            |
| L    | breached and still unanswered              | never: only an answer    |

Shards (`DEADLINE_SHARDS`) spread the write load; the sweep does one Query per shard
and part, and the cost follows the due deadlines, not the table. The gauge of official
requests waiting for staff is kept per shard, in the shard's part P at the very front
(`GAUGE_SORT` sorts before any time), so the sweep reads it with the shard's due
deadlines and makes no call for it (issue 29: an idle sweep reads only its shards).

`StaffQueue` (QPK, QSK) is the one staff queue (`domain.queue`): QSK is
`<tier>#<instant>#<id>` and exists only while the request waits for staff, so the index
holds nothing else. The request item sits in partition `QUEUE`; a filtered queue reads
the partition of one facet (`CH#<channel>`, `LB#<label>`, `FL#<flag>`, `AS#<staff id>`
or `AS#-` for the unassigned), whose small
facet items carry the same QSK, and then the requests of that page in one batch. A page
costs one Query, or one Query and one BatchGetItem with a filter, however long the queue.
(One partition takes about 1,000 writes a second: far above what a support desk makes.)

`ByContact` (LPK, LSK = <created_at>#<id>) finds requests by who wrote them: the request
item under `ADDR#<address>`, pointers under `DOM#<domain>` for the address's domain and
for the site the ticket is about. Both are written once, when the request is made.

The outbox holds what is owed to the outside world (escalations, notices, mail) and
work owed at a later time (the automatic close of a solved ticket), each entry written
in the transaction of the change that owes it. Its sort key is the time
a sender may next try it, so a claim (a conditional move of that time into the future)
is also a lease: a sender that dies mid-send leaves the entry to be tried again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from chalicelib.domain.clock import Duty, duty
from chalicelib.domain.tickets import Sla
from chalicelib.errors import InvalidInput
from chalicelib.ids import REQUEST_ID

DEADLINE_SHARDS = 8
BY_CUSTOMER_INDEX = "ByCustomer"
DUE_DEADLINES_INDEX = "DueDeadlines"
QUEUE_INDEX = "StaffQueue"
CONTACT_INDEX = "ByContact"
QUEUE_ALL = "QUEUE"
META = "META"
GAUGE_PK, GAUGE_PREFIX = "STATS", "OPEN_OFFICIAL#"
GAUGE_SORT = "!"  # before every `<due_at>#<id>` of the deadline index
# Sort-key prefixes of the items in a request's partition (the table above).
MESSAGE_PREFIX, MESSAGE_ID_PREFIX, DELAY_PREFIX = "MSG#", "AKEY#", "DELAY#"
FILE_PREFIX, AUDIT_PREFIX, QUOTE_PREFIX = "FILE#", "AUDIT#", "QUOTE#"
REPORT_PREFIX = "RPT#"  # report counters: RPT#<period>, <group>#<value>#<shard>
CORRECTIONS_PK = "CORRECTIONS"

# A page token holds one position of about 60 characters; anything longer is not ours.
MAX_TOKEN_CHARS = 512
# The positions a page token may hold, one per paged query: an index sort key (or a
# table sort key) as written, never a partition (that comes from the caller).
_INSTANT = r"\d{4}-\d\d-\d\dT[0-9:.]{8,16}\+00:00"
CUSTOMER_POSITION = re.compile(_INSTANT + "#" + REQUEST_ID)
QUEUE_POSITION = re.compile(r"[0-2]#" + _INSTANT + "#" + REQUEST_ID)
# A lookup position: the index sort key and the item it is on (a request or a pointer).
CONTACT_POSITION = re.compile(_INSTANT + "#" + REQUEST_ID + r"\|(?:META|@L#DOM|@L#SITE)")
AUDIT_POSITION = re.compile(r"AUDIT#" + _INSTANT + r"#E-[0-9A-Z]{5,16}")
LINKED_POSITION = re.compile(r"[0-9T:.+-]{20,40}#[TEC]-[0-9A-Z]{5,12}")
PAST_INCIDENT_POSITION = re.compile(r"[0-9T:.+-]{20,40}#I-[0-9A-Z]{8,12}")

PENDING, WARNED, LATE = "P", "W", "L"
OUTBOX_SHARDS = 4
OUTBOX_FAILED_PK = "OUTBOX#FAILED"
_PART_OF_DUTY = {Duty.WARN: PENDING, Duty.BREACH: WARNED, Duty.ANSWER: LATE}


def request_pk(request_id: str) -> str:
    return f"REQ#{request_id}"


def request_key(request_id: str) -> dict[str, str]:
    return {"PK": request_pk(request_id), "SK": META}


def customer_pk(sub: str) -> str:
    return f"CUST#{sub}"


def mail_identity_key(identity: str) -> dict[str, str]:
    return {"PK": f"MAILID#{identity}", "SK": "MAIL"}


def ack_allowance_key(address: str) -> dict[str, str]:
    return {"PK": f"ACK#{address.lower()}", "SK": "RATE"}


def send_allowance_key(address: str) -> dict[str, str]:
    return {"PK": f"SEND#{address.lower()}", "SK": "RATE"}


def suppression_key(address: str) -> dict[str, str]:
    return {"PK": f"SUPPRESS#{address.lower()}", "SK": "ADDRESS"}


RECEIPT = "@RECEIPT"  # sorts before the conversation: `thread` never reads it


def receipt_key(request_id: str) -> dict[str, str]:
    """What a keyed create answered first (its request's digest and the ticket as made)."""
    return {"PK": request_pk(request_id), "SK": RECEIPT}


def message_key(request_id: str, at: str, message_id: str) -> dict[str, str]:
    return {"PK": request_pk(request_id), "SK": f"{MESSAGE_PREFIX}{at}#{message_id}"}


def message_id_key(request_id: str, message_id: str) -> dict[str, str]:
    return {"PK": request_pk(request_id), "SK": f"{MESSAGE_ID_PREFIX}{message_id}"}


def delay_notice_key(request_id: str, posted_at: str, notice_id: str) -> dict[str, str]:
    return {"PK": request_pk(request_id), "SK": f"{DELAY_PREFIX}{posted_at}#{notice_id}"}


def attachment_key(request_id: str, attachment_id: str) -> dict[str, str]:
    return {"PK": request_pk(request_id), "SK": f"{FILE_PREFIX}{attachment_id}"}


def audit_key(partition_key: str, at: str, event_id: str) -> dict[str, str]:
    """An audit event in a request's (`REQ#`) or an incident's (`INC#`) partition."""
    return {"PK": partition_key, "SK": f"{AUDIT_PREFIX}{at}#{event_id}"}


def quote_key(request_id: str, quote_id: str) -> dict[str, str]:
    return {"PK": request_pk(request_id), "SK": f"{QUOTE_PREFIX}{quote_id}"}


MACROS_PK = "MACROS"  # the team's canned replies: one partition, one item each


def macro_key(macro_id: str) -> dict[str, str]:
    return {"PK": MACROS_PK, "SK": macro_id}


def report_key(period: str, group: str, value: str, shard: int) -> dict[str, str]:
    return {"PK": f"{REPORT_PREFIX}{period}", "SK": f"{group}#{value}#{shard:02d}"}


def outbox_key(entry_id: str, due_at: str) -> dict[str, str]:
    shard = int.from_bytes(hashlib.sha256(entry_id.encode()).digest()[:4], "big")
    return {"PK": f"OUTBOX#{shard % OUTBOX_SHARDS}", "SK": f"{due_at}#{entry_id}"}


def outbox_partitions() -> list[str]:
    return [f"OUTBOX#{shard}" for shard in range(OUTBOX_SHARDS)]


def deadline_shard(request_id: str) -> int:
    """Stable shard of a request in the deadline index, so no partition is hot."""
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % DEADLINE_SHARDS


def deadline_part(sla: Sla | None) -> str | None:
    """The part of the deadline index a clock belongs in, if any (see the module doc)."""
    owed = duty(sla)
    return None if owed is None else _PART_OF_DUTY[owed]


def partition(part: str, shard: int) -> str:
    return f"{part}#{shard:02d}"


def deadline_keys(request_id: str, due_at: str, part: str = PENDING) -> dict[str, str]:
    return {
        "GSI2PK": partition(part, deadline_shard(request_id)),
        "GSI2SK": f"{due_at}#{request_id}",
    }


def open_gauge_key(shard: int) -> dict[str, str]:
    """The count of official requests waiting for staff whose deadlines are in `shard`."""
    return {"PK": GAUGE_PK, "SK": f"{GAUGE_PREFIX}{shard:02d}"}


def open_gauge_index(shard: int) -> dict[str, str]:
    """Where a shard's gauge sits in the deadline index: its part P, first."""
    return {"GSI2PK": partition(PENDING, shard), "GSI2SK": GAUGE_SORT}


def queue_sort_key(position: str | None, request_id: str) -> str | None:
    return None if position is None else f"{position}#{request_id}"


LABEL_FACET = "@Q#LB"


def label_partition(label: str) -> str:
    return f"LB#{label}"


ASSIGNEE_FACET = "@Q#AS"
NOBODY = "-"  # the assignee partition of unassigned requests


def assignee_partition(assignee: str | None) -> str:
    return f"AS#{assignee or NOBODY}"


def queue_facets(
    channel: str, label: str, flags: tuple[str, ...], assignee: str | None = None
) -> dict[str, str]:
    """The facet items of a request (sort key → the queue partition it stands in)."""
    facets = {"@Q#CH": f"CH#{channel}", LABEL_FACET: label_partition(label)}
    facets.update({f"@Q#FL#{flag}": f"FL#{flag}" for flag in flags})
    facets[ASSIGNEE_FACET] = assignee_partition(assignee)
    return facets


def queue_partition(
    channel: str | None, label: str | None, flag: str | None, assignee: str | None = None
) -> tuple[str, str]:
    """The partition a (filtered) queue reads, and the sort key of its items;
    `assignee` is a staff id or `-` for nobody."""
    if channel:
        return f"CH#{channel}", "@Q#CH"
    if label:
        return label_partition(label), LABEL_FACET
    if flag:
        return f"FL#{flag}", f"@Q#FL#{flag}"
    if assignee:
        return assignee_partition(None if assignee == NOBODY else assignee), ASSIGNEE_FACET
    return QUEUE_ALL, META


INCIDENT_LINK = "@L#INC"


def incident_pk(incident_id: str) -> str:
    return f"INC#{incident_id}"


def incident_key(incident_id: str) -> dict[str, str]:
    return {"PK": incident_pk(incident_id), "SK": META}


def incidents_partition(active: bool) -> str:
    return "INCIDENTS#ACTIVE" if active else "INCIDENTS#PAST"


def address_partition(address: str) -> str:
    return f"ADDR#{address.strip().lower()}"


def domain_partition(domain: str) -> str:
    return f"DOM#{domain.strip().lower().rstrip('.')}"


def contact_pointers(address: str | None, site: str | None) -> dict[str, str]:
    """The lookup pointers of a request (sort key → its `ByContact` partition)."""
    pointers: dict[str, str] = {}
    if address and "@" in address:
        pointers["@L#DOM"] = domain_partition(address.rsplit("@", 1)[1])
    if site and domain_partition(site) not in pointers.values():
        pointers["@L#SITE"] = domain_partition(site)
    return pointers


def encode_position_token(position: str) -> str:
    """The one page-token codec: a position, as URL-safe base64 of a little JSON."""
    return _b64({"q": position})


def decode_position_token(token: str, pattern: re.Pattern[str]) -> str:
    """The position in a token this API issued for the query `pattern` belongs to, or
    400 `invalid_next`: a forged, foreign or oversized token never reaches a key."""
    data = _unb64(token)
    position = data.get("q") if isinstance(data, dict) else None
    if not isinstance(position, str) or not pattern.fullmatch(position):
        raise _not_ours()
    return position


def _b64(data: Any) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(token: str) -> Any:
    if len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None


def _not_ours() -> InvalidInput:
    return InvalidInput("invalid_next", "the `next` token is not one this API issued")
