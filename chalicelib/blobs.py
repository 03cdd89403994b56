"""Objects kept whole outside the table: raw mail, full texts, attachments, reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote


class BlobStore(Protocol):
    def size(self, bucket: str, key: str) -> int:
        """The object's size in bytes; raise if it cannot be read."""
        ...

    def read(self, bucket: str, key: str) -> bytes:
        """The whole object; raise if it cannot be read."""
        ...

    def write(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Store an object; the same key written twice holds the last body."""
        ...

    def head(self, bucket: str, key: str, length: int) -> tuple[int, bytes] | None:
        """The object's size and its first `length` bytes; None if there is no object."""
        ...

    def delete(self, bucket: str, key: str) -> None: ...

    def tags(self, bucket: str, key: str) -> dict[str, str]:
        """The object's tags (a malware scanner's verdict is one)."""
        ...

    def upload_form(
        self, bucket: str, key: str, content_type: str, size: int, expires_in: int
    ) -> dict[str, Any]:
        """A presigned POST (`url`, `fields`) that S3 accepts only for exactly `size`
        bytes of `content_type` at `key`, until it expires."""
        ...

    def download_url(
        self, bucket: str, key: str, name: str, content_type: str, expires_in: int
    ) -> str:
        """A presigned GET that saves the object as `name` (never shown inline)."""
        ...


# A media type S3 may carry as Content-Type: anything else (a folded line, junk) is stored
# as octet-stream, rather than failing the upload and with it whatever brought it.
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}", re.IGNORECASE)


def media_type(content_type: str) -> str:
    """The bare media type for S3's Content-Type (`text/plain` of a folded header such
    as a bounce's `text/plain\\r\\n charset=...`), or octet-stream."""
    head = content_type.split(";", 1)[0].split()
    candidate = head[0].lower() if head else ""
    return candidate if _CONTENT_TYPE.fullmatch(candidate) else "application/octet-stream"


def header_safe(text: str, limit: int = 200) -> str:
    """Text an HTTP header (S3 user metadata) can carry: printable ASCII, bounded. A
    file name with a line break would otherwise fail the upload, and the mail with it."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)[:limit]


def disposition(name: str) -> str:
    """`Content-Disposition: attachment` with the name in both RFC 6266 forms."""
    fallback = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_" for ch in name)
    return f"attachment; filename=\"{fallback[:100] or 'file'}\"; filename*=UTF-8''{quote(name)}"


class S3Blobs:
    """The BlobStore on S3, through an injected client. Content-Type and user metadata
    travel as HTTP headers, so they are made header-safe here, for every caller."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def size(self, bucket: str, key: str) -> int:
        return int(self._client.head_object(Bucket=bucket, Key=key)["ContentLength"])

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self._client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def write(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        if content_type:
            params["ContentType"] = media_type(content_type)
        if metadata:
            params["Metadata"] = {k: header_safe(v) for k, v in metadata.items()}
        self._client.put_object(**params)

    def head(self, bucket: str, key: str, length: int) -> tuple[int, bytes] | None:
        try:
            response = self._client.get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}"
            )
        except self._client.exceptions.NoSuchKey:
            return None
        total = response.get("ContentRange", "").rpartition("/")[2]
        size = int(total) if total.isdigit() else int(response["ContentLength"])
        return size, bytes(response["Body"].read(length))

    def delete(self, bucket: str, key: str) -> None:
        self._client.delete_object(Bucket=bucket, Key=key)

    def tags(self, bucket: str, key: str) -> dict[str, str]:
        response = self._client.get_object_tagging(Bucket=bucket, Key=key)
        return {str(t["Key"]): str(t["Value"]) for t in response.get("TagSet", [])}

    def upload_form(
        self, bucket: str, key: str, content_type: str, size: int, expires_in: int
    ) -> dict[str, Any]:
        form = self._client.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires_in,
        )
        return {"url": form["url"], "fields": dict(form["fields"])}

    def download_url(
        self, bucket: str, key: str, name: str, content_type: str, expires_in: int
    ) -> str:
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": bucket,
                    "Key": key,
                    "ResponseContentDisposition": disposition(name),
                    "ResponseContentType": media_type(content_type),
                },
                ExpiresIn=expires_in,
            )
        )
