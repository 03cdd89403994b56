"""The customer account directory: the cabinet's Cognito user pool, looked up by e-mail."""

from __future__ import annotations

import re
from typing import Any, Protocol

# What may go inside the ListUsers filter's quotes: a plain addr-spec. Quotes, backslashes
# and other specials would change the filter (Cognito refuses it; moto accepts it).
_FILTER_SAFE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}")


class AccountDirectory(Protocol):
    def find_by_email(self, email: str) -> str | None:
        """The account id (`sub`) registered with this e-mail, if any."""
        ...


class CognitoDirectory:
    def __init__(self, client: Any, user_pool_id: str) -> None:
        self._client = client
        self._pool = user_pool_id

    def find_by_email(self, email: str) -> str | None:
        if not _FILTER_SAFE.fullmatch(email):
            return None  # not an address an account can have: no lookup, no guess
        users = self._client.list_users(
            UserPoolId=self._pool, Filter=f'email = "{email}"', Limit=2
        ).get("Users", [])
        if len(users) != 1:
            return None  # none, or ambiguous: never link to a guess
        for attribute in users[0].get("Attributes", []):
            if attribute["Name"] == "sub":
                return str(attribute["Value"])
        return None
