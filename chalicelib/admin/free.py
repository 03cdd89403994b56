"""Free administration (R5.1, R5.2): what a request asks to install, on which server,
and whether the regulation makes it free work.

The catalogue (`catalogue.json`) lists the OS images offered and the OSes each control
panel runs on. A panel goes only onto a clean OS (R5.2): a request that says the server
already has sites or data is told to reinstall first (free, R5.1) or to order paid work
(R5.3), and is not free work.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from chalicelib import observability as obs
from chalicelib.classify import rule_set  # the classifier's own "not clean" cues
from chalicelib.domain.identity import Principal, require_staff, visible_to
from chalicelib.domain.tickets import MESSAGE_MAX, AuditEvent, Ticket
from chalicelib.errors import InvalidInput
from chalicelib.ids import new_event_id
from chalicelib.storage import SetAdminRequest, Tickets
from chalicelib.timeutil import Clock, to_iso
from chalicelib.validation import clean_text, reject_unknown_fields
from chalicelib.values import frozen

_SERVER = re.compile(
    r"\b(?:vps|vds|dedic\w*|server|сервер\w*|сервак\w*)\s*(?:#|№|id|:)?\s*"
    r"([a-z]{0,4}-?\d{2,9})\b|\b((?:vps|vds|srv|ds)-\d{2,9})\b|"
    r"\b((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3})\b"
)
# "Windows Server 2022", "Ubuntu Server 22.04": a product's name and version, not a server.
_PRODUCT_BEFORE = re.compile(r"(?:windows|ubuntu|debian|centos|linux|rhel|suse)\s*$")
_VERSION_AFTER = re.compile(r"\.\d")
_CLEAN_OVERRIDE = ("clean", "чист")  # "на чистый сервер": a word that outweighs none


@frozen
class AdminRequest:
    """API.md: `{"kind", "server"?, "os"?, "panel"?, "possible", "reason"?}`."""

    kind: str  # os_install | panel_install
    server: str | None
    os: str | None
    panel: str | None
    possible: bool
    reason: str | None = None
    clean: bool | None = None  # None: not said; False: it has sites or data
    corrected_by: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "server": self.server,
            "os": self.os,
            "panel": self.panel,
            "possible": self.possible,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.corrected_by:
            body["corrected_by"] = self.corrected_by
        return body

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_api(), "clean": self.clean, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdminRequest:
        return cls(
            kind=str(data["kind"]),
            server=data.get("server"),
            os=data.get("os"),
            panel=data.get("panel"),
            possible=bool(data.get("possible")),
            reason=data.get("reason"),
            clean=data.get("clean"),
            corrected_by=data.get("corrected_by"),
        )


_Aliases = list[tuple[re.Pattern[str], str]]


@functools.cache
def catalogue() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (Path(__file__).with_name("catalogue.json")).read_text("utf-8")
    )
    return data


@functools.cache
def _patterns() -> tuple[
    list[tuple[re.Pattern[str], str]],
    list[tuple[re.Pattern[str], str]],
    re.Pattern[str],
    re.Pattern[str],
]:
    """Longest alias first, so `ubuntu 22.04` wins over `ubuntu`."""
    data = catalogue()

    def word(alias: str) -> re.Pattern[str]:
        return re.compile(r"(?<![\w.])" + re.escape(alias) + r"(?![\w])")

    os_aliases = sorted(
        ((a, o["id"]) for o in data["os"] for a in o["aliases"]), key=lambda p: -len(p[0])
    )
    panel_aliases = sorted(
        ((a, p["id"]) for p in data["panels"] for a in p["aliases"]), key=lambda p: -len(p[0])
    )
    unavailable = re.compile(
        "|".join(r"(?<![\w.])" + re.escape(u) + r"(?![\w.])" for u in data["unavailable"])
    )
    not_clean = re.compile(
        "|".join(re.escape(c).replace(r"\*", r"\w*") for c in rule_set("not_clean"))
    )
    return (
        [(word(a), i) for a, i in os_aliases],
        [(word(a), i) for a, i in panel_aliases],
        unavailable,
        not_clean,
    )


def _server_of(text: str) -> str | None:
    """The first server the text names; a product's version is not one."""
    for found in _SERVER.finditer(text):
        if _PRODUCT_BEFORE.search(text, max(0, found.start() - 12), found.start()):
            continue
        if _VERSION_AFTER.match(text, found.end()):
            continue
        return next((g for g in found.groups() if g), None)
    return None


def read_request(ticket: Ticket) -> AdminRequest | None:
    """The admin request of a `free_admin` ticket, or of a panel install the classifier
    took for paid work because the server is not clean (R5.2); None for any other."""
    scope = ticket.scope
    panel_not_clean = scope.label == "out_of_scope" and any(
        e.rule == "R5.2" for e in scope.evidence if e.kind in ("label", "sub")
    )
    if scope.label != "free_admin" and not panel_not_clean:
        return None
    # The request's own bound: nothing longer is scanned.
    text = f"{ticket.subject}\n{ticket.text}"[:MESSAGE_MAX].lower().replace("ё", "е")
    os_patterns, panel_patterns, unavailable, not_clean = _patterns()
    os_id = next((i for p, i in os_patterns if p.search(text)), None)
    panel = next((i for p, i in panel_patterns if p.search(text)), None)
    stale = unavailable.search(text)
    server = _server_of(text)
    dirty = bool(not_clean.search(text)) or panel_not_clean
    clean = False if dirty else (True if any(w in text for w in _CLEAN_OVERRIDE) else None)
    kind = "panel_install" if panel else "os_install"
    request = AdminRequest(kind, server, os_id, panel, True, clean=clean)
    if stale and os_id is None:
        return replace(
            request, possible=False, reason=f"os_not_available: {stale.group(0)} is not offered"
        )
    return judge(request)


def judge(request: AdminRequest) -> AdminRequest:
    """Whether the regulation makes it free work, and if not, why (R5.1, R5.2)."""
    data = catalogue()
    offered = {o["id"] for o in data["os"]}
    if request.kind == "os_install":
        if request.os is None:
            names = ", ".join(o["name"] for o in data["os"])
            return replace(request, possible=False, reason=f"os_not_named: choose one of {names}")
        if request.os not in offered:
            return replace(request, possible=False, reason=f"os_not_available: {request.os}")
        return replace(request, possible=True, reason=None)
    panels = {p["id"]: p for p in data["panels"]}
    panel = panels.get(request.panel or "")
    if panel is None:
        return replace(request, possible=False, reason=f"panel_not_available: {request.panel}")
    if request.clean is False:
        return replace(
            request,
            possible=False,
            reason="server_not_clean: a panel goes only onto a clean OS (R5.2); reinstall "
            "the OS first (free, R5.1), or order the installation as paid work (R5.3)",
        )
    if request.os is not None and request.os not in panel["os"]:
        return replace(
            request,
            possible=False,
            reason=f"panel_not_supported: {panel['name']} does not run on {request.os} (R5.2)",
        )
    return replace(request, possible=True, reason=None)


def parse_correction(body: dict[str, Any], current: AdminRequest | None, by: str) -> AdminRequest:
    """`PUT /tickets/{id}/admin-request`: staff's correction of what was read."""
    reject_unknown_fields(body, ("kind", "server", "os", "panel", "clean"))
    data = catalogue()
    base = current or AdminRequest("os_install", None, None, None, False)
    kind = body.get("kind", base.kind)
    if kind not in ("os_install", "panel_install"):
        raise InvalidInput(
            "invalid_kind", "`kind` is `os_install` or `panel_install`", field="kind"
        )
    os_id = _listed(body, "os", base.os, [o["id"] for o in data["os"]])
    panel = _listed(body, "panel", base.panel, [p["id"] for p in data["panels"]])
    server = (
        clean_text(body["server"], "server", max_chars=64, single_line=True, required=False)
        if "server" in body
        else base.server
    )
    clean = body.get("clean", base.clean)
    if clean is not None and not isinstance(clean, bool):
        raise InvalidInput("invalid_clean", "`clean` is true, false or null", field="clean")
    corrected = AdminRequest(kind, server, os_id, panel, False, clean=clean, corrected_by=by)
    return judge(corrected)


def _listed(body: dict[str, Any], name: str, current: str | None, ids: list[str]) -> str | None:
    """A catalogue id (or null) for `name`, else the value read before."""
    value = body.get(name, current)
    if value is not None and value not in ids:
        raise InvalidInput(
            f"invalid_{name}", f"`{name}` is an id of the catalogue", field=name, allowed=ids
        )
    return None if value is None else str(value)


def admin_request_of(ticket: Ticket) -> dict[str, Any] | None:
    """What the intake stores on a new ticket (None when it is no admin request)."""
    request = read_request(ticket)
    return request.to_dict() if request else None


class AdminRequests:
    """Staff's corrections of what an administration request asks."""

    def __init__(self, tickets: Tickets, clock: Clock) -> None:
        self._tickets = tickets
        self._clock = clock

    def correct(self, staff: Principal, ticket_id: str, body: dict[str, Any]) -> Ticket:
        require_staff(staff)
        ticket = visible_to(staff, self._tickets.get(ticket_id))
        current = AdminRequest.from_dict(ticket.admin_request) if ticket.admin_request else None
        corrected = parse_correction(body, current, staff.sub)
        at = to_iso(self._clock())
        detail = {"from": ticket.admin_request, "to": corrected.to_dict()}
        audit = AuditEvent(
            new_event_id(), ticket_id, "admin_request_corrected", staff.sub, at, detail, staff.ref()
        )
        self._tickets.change(ticket_id, audit, SetAdminRequest(corrected.to_dict()))
        obs.count(obs.FREE_ADMIN_REQUESTS, kind=corrected.kind, possible=str(corrected.possible))
        return self._tickets.get(ticket_id) or ticket
