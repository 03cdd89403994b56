"""The customer account directory: the cabinet's Cognito user pool, looked up by e-mail."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib.values import frozen

# What may go inside the ListUsers filter's quotes: a plain addr-spec. Quotes, backslashes
# and other specials would change the filter (Cognito refuses it; moto accepts it).
_SUB = re.compile(r"[0-9A-Za-z-]{1,64}")
_FILTER_SAFE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}")


class AccountDirectory(Protocol):
    def find_by_email(self, email: str) -> str | None:
        """The account id (`sub`) whose verified e-mail this is, if any (R1.7): an address
        the account holder typed but never confirmed proves nothing."""
        ...

    def email_of(self, sub: str) -> str | None:
        """The e-mail address of the account `sub`, if it has one."""
        ...

    def profile(self, sub: str) -> Profile:
        """The account's e-mail and language (its `locale`), as far as the pool knows."""
        ...


@frozen
class Profile:
    email: str | None = None
    locale: str | None = None  # Cognito's standard `locale` attribute (`ru`, `en-GB`)
    name: str | None = None  # the standard `name` attribute


# An account's profile is remembered this long by a process (issue 29: an incident's
# update answers ten requests of one customer with one read, not ten). An address
# changed meanwhile is used from the next minute; linking a mail to an account
# (`find_by_email`, R1.7) is never remembered.
PROFILE_SECONDS = 60.0
PROFILES_KEPT = 1024


class CognitoDirectory:
    def __init__(
        self, client: Any, user_pool_id: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._pool = user_pool_id
        self._clock = clock
        self._profiles: dict[str, tuple[float, Profile]] = {}
        self._lock = threading.Lock()

    def find_by_email(self, email: str) -> str | None:
        if not _FILTER_SAFE.fullmatch(email):
            return None  # not an address an account can have: no lookup, no guess
        # Read from the directory at the moment of linking, never from a token that may
        # predate a change of address.
        users = self._client.list_users(
            UserPoolId=self._pool, Filter=f'email = "{email}"', Limit=2
        ).get("Users", [])
        if len(users) != 1:
            return None  # none, or ambiguous: never link to a guess
        attributes = {a["Name"]: a["Value"] for a in users[0].get("Attributes", [])}
        if str(attributes.get("email_verified", "")).lower() != "true":
            return None  # an unverified address is a claim (R1.7)
        if str(attributes.get("email", "")).lower() != email.lower():
            return None
        sub = attributes.get("sub")
        return str(sub) if sub else None

    def email_of(self, sub: str) -> str | None:
        return self.profile(sub).email

    def profile(self, sub: str) -> Profile:
        if not _SUB.fullmatch(sub):
            return Profile()  # an unlinked record's placeholder, not an account
        now = self._clock()
        with self._lock:
            known = self._profiles.get(sub)
        if known is not None and now - known[0] < PROFILE_SECONDS:
            return known[1]
        found = self._read(sub)
        with self._lock:
            if len(self._profiles) >= PROFILES_KEPT:
                self._profiles.clear()
            self._profiles[sub] = (now, found)
        return found

    def _read(self, sub: str) -> Profile:
        users = self._client.list_users(
            UserPoolId=self._pool, Filter=f'sub = "{sub}"', Limit=1
        ).get("Users", [])
        for user in users:
            attributes = {a["Name"]: str(a["Value"]) for a in user.get("Attributes", [])}
            return Profile(
                attributes.get("email"), attributes.get("locale"), attributes.get("name")
            )
        return Profile()
