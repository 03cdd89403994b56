"""The local stack's AWS stand-in (moto) in a process of its own.

In the API's process, moto's work and the API's shared one interpreter lock: a burst of
tickets stalled `GET /health` and every console page behind DynamoDB's stand-in, and
the two cores of a laptop did the work of one. Here moto answers on its port from a
child process, as AWS answers from elsewhere, and dies with the stack that started it.

    python -m devtools.moto_process PORT PARENT_PID
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from devtools.resources import REPO

STARTUP_SECONDS = 60


def answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class MotoProcess:
    """Start with `start()`, stop with `stop()`: the child serves moto on `port`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._child = subprocess.Popen(  # noqa: S603 (this interpreter, two numbers)
            [sys.executable, "-m", "devtools.moto_process", str(self.port), str(os.getpid())],
            cwd=REPO,
            # Ctrl-C in a terminal reaches the whole group; the stack stops its child itself.
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers(self.port):
            if self._child.poll() is not None:
                raise SystemExit(f"moto did not start on port {self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"moto did not answer on port {self.port} in time")
            time.sleep(0.05)

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def freeze_what_survives() -> None:
    """A full collection walks every object the process holds: moto's tables grew to
    millions, and every two seconds of a burst all requests stopped for 150 to 300 ms
    while Python found nothing to free in them. What survives a full collection is
    set aside (`gc.freeze`), so the next one walks only what came after. A cycle set
    aside is never freed if it later becomes garbage: what survives a full collection
    here is the modules and moto's tables, which live as long as the stack."""

    def set_aside(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.collect()  # what the process has loaded so far: its modules, first of all
    gc.freeze()
    gc.callbacks.append(set_aside)


def _die_with(parent: int) -> None:
    """The stack that started this process may be killed outright (SIGKILL): its child
    must not keep the port and the memory."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def serve(port: int, parent: int) -> None:
    from moto.server import ThreadedMotoServer

    from devtools import moto_fixes

    moto_fixes.apply()
    # moto logs every AWS call through werkzeug; the API's own log is what a user reads.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    threading.Thread(target=_die_with, args=(parent,), daemon=True).start()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    freeze_what_survives()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        while not stopped.wait(1):
            pass
    server.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
