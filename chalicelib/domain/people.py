"""Who wrote or did something, as staff and customers are shown it (API.md, "Working as
a team"): staff see an agent's id, name and e-mail; a customer sees the name only."""

from __future__ import annotations

from typing import Any

from chalicelib.values import frozen


@frozen
class StaffRef:
    """A staff member as they were when they acted (a later rename leaves it as it was)."""

    id: str
    name: str
    email: str | None = None

    def to_api(self, staff_view: bool = True) -> dict[str, Any]:
        if not staff_view:
            return {"name": self.name}
        return {"id": self.id, "name": self.name, "email": self.email}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email}

    @classmethod
    def from_dict(cls, data: Any) -> StaffRef | None:
        if not isinstance(data, dict) or not data.get("id"):
            return None
        return cls(str(data["id"]), str(data.get("name") or data["id"]), data.get("email"))


def display_name(name: str | None, email: str | None, fallback: str) -> str:
    """The name a person goes by: the one on their account, else the part of their
    address before the `@`, else `fallback`."""
    if name and name.strip():
        return name.strip()[:100]
    if email and "@" in email:
        return email.split("@", 1)[0][:100]
    return fallback
