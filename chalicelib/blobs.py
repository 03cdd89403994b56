"""Objects kept whole outside the table: raw mail, full texts, attachments, reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


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


class S3Blobs:
    """The BlobStore on S3, through an injected client."""

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
            params["ContentType"] = content_type
        if metadata:
            params["Metadata"] = dict(metadata)
        self._client.put_object(**params)
