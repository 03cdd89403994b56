"""Suppressed addresses (API.md, "Working as a team"): why an address gets no more mail
(a permanent bounce, a complaint), and lifting it when the customer's mailbox works
again; a full mailbox once must not silence a customer for ever."""

from __future__ import annotations

from typing import Any

from chalicelib import observability as obs
from chalicelib.domain.identity import Principal, require_staff
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.outbound.compose import Undeliverable, deliverable_address
from chalicelib.storage import Markers


def address_param(raw: str | None, name: str = "email") -> str:
    """An address as the suppression list keys it (lower case, IDNA domain), or 400."""
    if not raw or len(raw) > 254:
        raise InvalidInput(f"invalid_{name}", f"`{name}` is an e-mail address", field=name)
    try:
        return deliverable_address(raw).lower()
    except Undeliverable:
        raise InvalidInput(
            f"invalid_{name}", f"`{name}` is an e-mail address", field=name
        ) from None


class Suppressions:
    def __init__(self, markers: Markers) -> None:
        self._markers = markers

    def lookup(self, staff: Principal, address: str) -> dict[str, Any]:
        """`GET /staff/suppressions?email=`: the address's suppression, if any."""
        require_staff(staff)
        found = self._markers.suppression_record(address)
        items = [] if found is None else [{"email": address, "reason": found[0], "at": found[1]}]
        return {"items": items}

    def lift(self, staff: Principal, address: str) -> None:
        """`DELETE /staff/suppressions/{email}`: mail the address again (logged)."""
        require_staff(staff)
        if not self._markers.lift_suppression(address):
            raise NotFound("suppression_not_found", "this address is not suppressed")
        obs.logger.info("suppression lifted", extra={"address": address, "by": staff.sub})
