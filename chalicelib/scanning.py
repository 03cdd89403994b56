"""Malware scanning of cabinet uploads (issue 31: an EICAR file and a zip bomb were
stored and offered to agents, who are the ones who open them).

Deployed, Amazon GuardDuty Malware Protection for S3 scans every object under
`attachments/` and tags it `GuardDutyMalwareScanStatus`; its result event reaches the
mail queue, which has the attachment checked again. An attachment stays `pending` until
the verdict, is `stored` only when no threat was found, and is `rejected` with the
reason otherwise: a threat, or a file the scanner could not read (an encrypted or
over-deep archive). Locally and in tests, `ContentScanner` stands in: it finds the EICAR
test file and decompression bombs, so the same path runs end to end.
"""

from __future__ import annotations

import io
import zipfile
from typing import Protocol

from chalicelib.blobs import BlobStore

SCAN_TAG = "GuardDutyMalwareScanStatus"
CLEAN = "clean"
# GuardDuty's statuses (the object tag's value) -> our verdict.
GUARDDUTY = {
    "NO_THREATS_FOUND": CLEAN,
    "THREATS_FOUND": "threat: GuardDuty found malware",
    "UNSUPPORTED": "unscanned: the scanner cannot read this file (encrypted or too deep)",
    "ACCESS_DENIED": "unscanned: the scanner could not read the object",
    "FAILED": "unscanned: the scan failed",
}
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
BOMB_RATIO = 100  # unpacked size over packed size: ordinary archives stay far below
BOMB_BYTES = 256 * 1024 * 1024  # unpacked, in all
MAX_ENTRIES = 10_000


class MalwareScanner(Protocol):
    def verdict(self, bucket: str, key: str) -> str | None:
        """None while the scan is under way; `clean`; else `threat: ...` or
        `unscanned: ...`, the reason the file is not offered."""
        ...


class GuardDutyTags:
    """Reads the verdict GuardDuty Malware Protection for S3 tags the object with."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    def verdict(self, bucket: str, key: str) -> str | None:
        status = self._blobs.tags(bucket, key).get(SCAN_TAG)
        if status is None:
            return None
        return GUARDDUTY.get(status, f"unscanned: unknown scan status {status[:40]}")


class ContentScanner:
    """The local stand-in: the EICAR test file anywhere in the object (or in a zip's
    members), and zip archives that unpack to far more than they weigh."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    def verdict(self, bucket: str, key: str) -> str | None:
        return content_verdict(self._blobs.read(bucket, key))


def content_verdict(body: bytes) -> str:
    if EICAR in body:
        return "threat: EICAR-Test-File"
    if body[:4] != b"PK\x03\x04":
        return CLEAN
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return "unscanned: a zip archive that cannot be read"
    if len(members) > MAX_ENTRIES:
        return "threat: decompression bomb (too many entries)"
    unpacked = sum(m.file_size for m in members)  # as declared: nothing is unpacked
    if unpacked > BOMB_BYTES or unpacked > BOMB_RATIO * max(len(body), 1):
        return f"threat: decompression bomb ({unpacked} bytes from {len(body)})"
    if any(m.flag_bits & 0x1 for m in members):
        return "unscanned: an encrypted archive"
    for member in members:
        if member.file_size <= 1024 * 1024 and EICAR in archive.read(member):
            return f"threat: EICAR-Test-File in {member.filename[:100]}"
    return CLEAN


def scanner_for(kind: str, blobs: BlobStore) -> MalwareScanner:
    """`UPLOAD_SCANNER`: `guardduty` deployed, `content` locally and in tests."""
    return GuardDutyTags(blobs) if kind == "guardduty" else ContentScanner(blobs)
