"""The customer account directory: the cabinet's Cognito user pool, looked up by e-mail."""

from __future__ import annotations

from typing import Any, Protocol


class AccountDirectory(Protocol):
    def find_by_email(self, email: str) -> str | None:
        """The account id (`sub`) registered with this e-mail, if any."""
        ...


class CognitoDirectory:
    def __init__(self, client: Any, user_pool_id: str) -> None:
        self._client = client
        self._pool = user_pool_id

    def find_by_email(self, email: str) -> str | None:
        # The address was validated as an e-mail (no quotes), so it is safe in the filter.
        users = self._client.list_users(
            UserPoolId=self._pool, Filter=f'email = "{email}"', Limit=2
        ).get("Users", [])
        if len(users) != 1:
            return None  # none, or ambiguous: never link to a guess
        for attribute in users[0].get("Attributes", []):
            if attribute["Name"] == "sub":
                return str(attribute["Value"])
        return None
