"""What a request is about (SPEC.md R3-R6): its label, sub-label and flags, with the
evidence for each, and the knowledge-base pages suggested for it."""

from __future__ import annotations

from typing import Any

from chalicelib.values import frozen


@frozen
class Evidence:
    """Why a label or flag was given: the cue that fired and where."""

    kind: str  # "label", "sub" or "flag"
    name: str  # the label, sub-label or flag it supports
    rule: str  # the SPEC.md rule, e.g. "R3.1"
    cue: str  # the rule-data cue that matched
    field: str  # "subject" or "text"
    match: str  # the words of the request that matched

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "rule": self.rule,
            "cue": self.cue,
            "field": self.field,
            "match": self.match,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})


@frozen
class Scope:
    """One scope label per request, its sub-label, flags and the evidence (SPEC.md)."""

    label: str
    sub: str | None = None
    flags: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "sub": self.sub,
            "flags": list(self.flags),
            "evidence": [e.to_dict() for e in self.evidence],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scope:
        return cls(
            label=str(data["label"]),
            sub=data.get("sub") or None,
            flags=tuple(data.get("flags") or ()),
            evidence=tuple(Evidence.from_dict(e) for e in data.get("evidence") or ()),
        )


@frozen
class KbArticle:
    title: str
    url: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url}
