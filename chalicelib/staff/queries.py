"""What staff ask of the queue and the lookup, validated (API.md, Staff)."""

from __future__ import annotations

import re

from chalicelib.classify import label_catalogue
from chalicelib.errors import InvalidInput
from chalicelib.validation import choice_field, domain_field
from chalicelib.values import frozen


@frozen
class QueueFilter:
    """At most one facet of the queue: a channel, a label, or a flag."""

    channel: str | None = None
    label: str | None = None
    flag: str | None = None
    assignee: str | None = None  # "me", "none" or a staff id (API.md)

    def assignee_for(self, staff_id: str) -> str | None:
        return assignee_key(self.assignee, staff_id)


def assignee_key(assignee: str | None, staff_id: str) -> str | None:
    """`assignee=me|none|<id>` as the queue's facet keys it: the caller for `me`, `-`
    for `none`; None when not filtered."""
    return {"me": staff_id, "none": "-"}.get(assignee or "", assignee)


@frozen
class Contact:
    """Whose requests staff look up: one address, or one domain."""

    address: str | None = None
    domain: str | None = None


_FLAG = re.compile(r"[a-z][a-z_]{0,39}")
_STAFF_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
_ADDRESS = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")
CHANNELS = ("cabinet", "email", "chat", "skype")


def parse_queue_filter(params: dict[str, str]) -> QueueFilter:
    """`channel`, `label`, `flag` or `assignee` (one of them: each is its own index
    partition)."""
    given = [name for name in ("channel", "label", "flag", "assignee") if params.get(name)]
    if len(given) > 1:
        raise InvalidInput(
            "one_filter",
            "filter the queue by one of `channel`, `label`, `flag` or `assignee` at a time",
        )
    channel = choice_field(params, "channel", CHANNELS)
    label = choice_field(params, "label", label_catalogue())
    flag = params.get("flag") or None
    if flag is not None and not _FLAG.fullmatch(flag):
        raise InvalidInput("invalid_flag", "`flag` is a flag name such as `abusive`", field="flag")
    return QueueFilter(channel, label, flag, assignee_param(params.get("assignee")))


def assignee_param(raw: str | None) -> str | None:
    """`assignee=me|none|<staff id>`."""
    if not raw:
        return None
    if len(raw) > 128 or not _STAFF_ID.fullmatch(raw):
        raise InvalidInput(
            "invalid_assignee", "`assignee` is me, none or a staff id", field="assignee"
        )
    return raw


def parse_contact(params: dict[str, str]) -> Contact:
    """`customer_email` or `domain`: exactly one."""
    address, domain = params.get("customer_email"), params.get("domain")
    if bool(address) == bool(domain):
        raise InvalidInput("contact_required", "give exactly one of `customer_email` or `domain`")
    if address:
        address = address.strip().lower()
        if len(address) > 254 or not _ADDRESS.fullmatch(address):
            raise InvalidInput(
                "invalid_customer_email",
                "`customer_email` is not an e-mail address",
                field="customer_email",
            )
        return Contact(address=address)
    return Contact(domain=domain_field(params, "domain"))
