"""Incidents and planned maintenance (R3.3, API.md "Service status"): the values, their
states, and what a customer-facing status makes of them."""

from __future__ import annotations

from dataclasses import field
from typing import Any, Literal

from chalicelib.values import frozen

IncidentKind = Literal["incident", "maintenance"]
# The outage sub-labels of SPEC.md: the services a status page shows.
STATUS_SERVICES = ("cabinet", "panel", "email", "mysql", "apache", "ftp", "ssh")
STATES: dict[str, tuple[str, ...]] = {
    "incident": ("investigating", "identified", "monitoring", "resolved"),
    "maintenance": ("scheduled", "in_progress", "completed"),
}
FINAL = frozenset({"resolved", "completed"})
UPDATES_MAX = 50  # updates kept on one incident (the item stays far below 400 KB)


@frozen
class IncidentUpdate:
    """One posted update: what customers are told, and the state it set."""

    id: str
    at: str
    by: str
    message: str
    state: str
    notify: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "message": self.message,
            "state": self.state,
            "notify": self.notify,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_api(), "by": self.by}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IncidentUpdate:
        return cls(
            str(data["id"]),
            str(data["at"]),
            str(data.get("by", "")),
            str(data["message"]),
            str(data["state"]),
            bool(data.get("notify")),
        )


@frozen
class Incident:
    id: str
    kind: IncidentKind
    services: tuple[str, ...]
    title: str
    state: str
    created_at: str
    updated_at: str
    created_by: str
    starts_at: str | None = None  # maintenance: its window
    ends_at: str | None = None
    updates: tuple[IncidentUpdate, ...] = field(default=())
    linked: int = 0  # requests linked to it (kept by the links themselves)
    version: int = 0  # every save is conditional on the version read

    @property
    def active(self) -> bool:
        return self.state not in FINAL

    @property
    def latest(self) -> IncidentUpdate | None:
        return self.updates[-1] if self.updates else None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "services": list(self.services),
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "updates": [u.to_api() for u in self.updates],
            "linked": self.linked,
        }
        if self.kind == "maintenance":
            body["starts_at"], body["ends_at"] = self.starts_at, self.ends_at
        return body

    def summary(self) -> dict[str, Any]:
        """What a linked request shows of it: the incident and its latest update."""
        latest = self.latest
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "services": list(self.services),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "latest_update": latest.to_api() if latest else None,
        }


def service_states(active: list[Incident]) -> dict[str, str]:
    """Each service's state for `GET /status`: an incident being worked on is an
    outage, one being monitored a degradation; maintenance under way is maintenance."""
    states = dict.fromkeys(STATUS_SERVICES, "operational")
    rank = {"operational": 0, "maintenance": 1, "degraded": 2, "outage": 3}
    for incident in active:
        if incident.kind == "incident":
            state = "degraded" if incident.state == "monitoring" else "outage"
        elif incident.state == "in_progress":
            state = "maintenance"
        else:
            continue  # scheduled: announced, nothing affected yet
        for service in incident.services:
            if rank[state] > rank[states.get(service, "operational")]:
                states[service] = state
    return states
