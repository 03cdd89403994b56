"""The local inbox moves a mail only once its record is stored (issue 31: the watcher
moved a file to done/ before its record existed, so a stack stopped in between forgot a
mail that was no longer in the inbox), and to failed/ if it could not be processed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from devtools import mail as local_mail


def _until(condition: object, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_mail_leaves_the_inbox_only_once_it_is_stored_or_has_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed: list[str] = []
    monkeypatch.setenv("MAIL_BUCKET", "local-mail")
    monkeypatch.setattr(
        local_mail, "push_mail", lambda raw: pushed.append(raw) or f"raw/{len(pushed)}"
    )
    (tmp_path / "a.eml").write_bytes(b"From: a@example.com\r\n\r\nhi")
    (tmp_path / "b.eml").write_bytes(b"From: b@example.com\r\n\r\nhi")
    settled = local_mail.Settled()
    stop = threading.Event()
    watcher = threading.Thread(target=local_mail.watch_inbox, args=(tmp_path, stop, settled))
    watcher.start()
    try:
        assert _until(lambda: len(pushed) == 2)
        time.sleep(1.5)  # a few turns of the watcher: nothing stored yet, nothing moves
        assert sorted(p.name for p in tmp_path.glob("*.eml")) == ["a.eml", "b.eml"]
        assert len(pushed) == 2  # and nothing is received twice while under way
        settled.record("raw/1", stored=True)
        settled.record("raw/2", stored=False)
        assert _until(lambda: (tmp_path / "done" / "a.eml").exists())
        assert _until(lambda: (tmp_path / "failed" / "b.eml").exists())
        assert not list(tmp_path.glob("*.eml"))
    finally:
        stop.set()
        watcher.join()


def test_the_poller_reads_which_mail_a_queue_message_is_about() -> None:
    import json

    inner = json.dumps({"receipt": {"action": {"bucketName": "b", "objectKey": "raw/x"}}})
    assert local_mail._object_key(json.dumps({"Message": inner})) == "raw/x"
    assert local_mail._object_key("not json") is None
