"""Files that come with requests: a mail's attachments (kept as they arrived) and the
files customers attach to cabinet tickets (checked before they are offered)."""

from __future__ import annotations

from typing import Any, Literal

from chalicelib.values import frozen


@frozen
class StoredAttachment:
    """A file that came with a request: kept whole in S3, described on the record."""

    name: str
    content_type: str
    size: int
    sha256: str
    s3_key: str
    inline: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "s3_key": self.s3_key,
            "inline": self.inline,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredAttachment:
        return cls(
            name=str(data["name"]),
            content_type=str(data["content_type"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            s3_key=str(data["s3_key"]),
            inline=bool(data.get("inline")),
        )


AttachmentState = Literal["pending", "stored", "rejected"]


@frozen
class Attachment:
    """A file on a cabinet ticket: `pending` until its upload is there and checked, then
    `stored`, or `rejected` with the reason (API.md, Attachments)."""

    id: str
    ticket_id: str
    name: str
    content_type: str  # as declared; a stored file's real type agrees with it
    size: int
    state: AttachmentState
    s3_key: str
    created_at: str
    expires_at: str  # the upload's deadline
    by: str
    reason: str | None = None
    checked_at: str | None = None

    def to_api(self, url: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "state": self.state,
            "created_at": self.created_at,
        }
        if self.reason:
            body["reason"] = self.reason
        if url:
            body["url"] = url
        return body
