"""Who is calling: a principal taken only from verified token claims, never from the body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.people import StaffRef, display_name
from chalicelib.domain.tickets import Ticket
from chalicelib.errors import Forbidden, NotFound, Unauthenticated
from chalicelib.values import frozen

STAFF_GROUP = "staff"


@frozen
class Principal:
    """An authenticated cabinet user (customer) or staff member."""

    sub: str
    email: str | None
    groups: frozenset[str]
    name: str | None = None  # the token's `name` claim, where the pool has one

    @property
    def is_staff(self) -> bool:
        return STAFF_GROUP in self.groups

    def acting(self) -> StaffRef | None:
        """Who the audit trail names: a staff member by name; a customer by id only."""
        return self.ref() if self.is_staff else None

    def ref(self) -> StaffRef:
        """This staff member as messages, notes and the audit trail name them."""
        return StaffRef(self.sub, display_name(self.name, self.email, "Support"), self.email)


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    """Build the principal from Cognito claims; 401 when there are none to trust.

    `chalice local` lets requests without a token through with no claims, so the
    refusal must happen here and not only in API Gateway.
    """
    if not claims:
        raise Unauthenticated("unauthenticated", "a valid cabinet token is required")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthenticated("unauthenticated", "the token has no subject")
    if claims.get("token_use") not in (None, "id"):
        raise Unauthenticated("unauthenticated", "an ID token is required")
    email = claims.get("email")
    name = claims.get("name")
    return Principal(
        sub=sub,
        email=email if isinstance(email, str) and email else None,
        groups=parse_groups(claims.get("cognito:groups")),
        name=name.strip()[:100] if isinstance(name, str) and name.strip() else None,
    )


def require_staff(principal: Principal) -> Principal:
    """Staff routes: a known identity without the group gets 403."""
    if not principal.is_staff:
        raise Forbidden("staff_only", "this action is for support staff")
    return principal


def visible_to(who: Principal, ticket: Ticket | None) -> Ticket:
    """The request as `who` may see it: staff see every one, a customer only their own.
    Anything else does not exist (404), so nobody learns another customer's ticket ids."""
    if ticket is None or (ticket.customer != who.sub and not who.is_staff):
        raise NotFound("ticket_not_found", "no such ticket")
    return ticket


def parse_groups(raw: Any) -> frozenset[str]:
    """`cognito:groups` is a JSON list locally but a string from API Gateway.

    API Gateway renders it as `"staff"` or `"[staff admins]"`; accept every shape.
    """
    if raw is None:
        return frozenset()
    if isinstance(raw, (list, tuple)):
        return frozenset(str(g) for g in raw if str(g))
    if not isinstance(raw, str):
        return frozenset()
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return frozenset(str(g) for g in parsed if str(g))
        text = text[1:-1]
    return frozenset(part for part in text.replace(",", " ").split() if part)
