"""The local stack's AWS stand-in (moto) in a process of its own.

In the API's process, moto's work and the API's shared one interpreter lock: a burst of
tickets stalled `GET /health` and every console page behind DynamoDB's stand-in, and
the two cores of a laptop did the work of one. Here moto answers on its port from a
child process, as AWS answers from elsewhere, and dies with the stack that started it.

It answers one request at a time, in the order they come, from one thread
(`serve_in_turn`). moto's item operations take one lock anyway (see
`devtools/moto_fixes.py`), and threads of one interpreter do not run Python at once:
werkzeug's thread per connection only made the requests take the interpreter lock in
turns of the scheduler's choosing, and a request that had the item lock could wait for
one that had not.

    python -m devtools.moto_process PORT PARENT_PID
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from devtools.resources import REPO

STARTUP_SECONDS = 60
# A request whose head has come but not all of its body holds the others at most this long.
PARTIAL_REQUEST_SECONDS = 10
# The most a request's head (its request line and headers) may take.
HEAD_LIMIT = 65536


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


class _Replayed(io.RawIOBase):
    """A connection's bytes read already (its request's head), then the connection."""

    def __init__(self, head: bytes, connection: socket.socket) -> None:
        self._head, self._connection = memoryview(head), connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size], self._head = self._head[:size], self._head[size:]
            return size
        return self._connection.recv_into(buffer)


def _request_handler() -> type[Any]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Request(MotoRequestHandler):
        """One connection, read without waiting until its request's head has come, then
        answered by `serve_in_turn` (socketserver's handler would wait for the request
        as soon as the connection is made)."""

        # werkzeug still closes each connection after its answer; HTTP/1.1 is for
        # `Expect: 100-continue` (an upload with curl), which HTTP/1.0 would leave unanswered.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # the headers and the body leave in two writes
        timeout = PARTIAL_REQUEST_SECONDS

        def __init__(self, connection: socket.socket, address: Any, server: Any) -> None:
            self.request, self.client_address, self.server = connection, address, server
            self.head = bytearray()
            connection.setblocking(False)

        def read_head(self) -> bool | None:
            """Read what has come: True once the request's head is whole, None when the
            connection is to be closed unanswered (gone, or a head beyond the limit)."""
            try:
                data = self.request.recv(HEAD_LIMIT)
            except BlockingIOError:
                return False
            except OSError:
                return None
            if not data:
                return None
            self.head += data
            if b"\r\n\r\n" in self.head or b"\n\n" in self.head:
                return True
            return None if len(self.head) > HEAD_LIMIT else False

        def answer(self) -> None:
            """Answer the request, then close the connection."""
            try:
                self.setup()  # blocking again, with the timeout, for the body
                self.rfile.close()  # the head is in hand: read it first, then the connection
                self.rfile = io.BufferedReader(_Replayed(bytes(self.head), self.request))
                self.handle_one_request()
            except (ConnectionError, TimeoutError):
                pass  # the client went away, or sent only part of its body
            finally:
                self.close()

        def close(self) -> None:
            with contextlib.suppress(OSError, ValueError):
                self.finish()
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_WR)
            self.request.close()

    return Request


def serve_in_turn(listener: socket.socket, server: Any, stopped: threading.Event) -> None:
    """Answer every connection to `listener` from this thread, one request at a time,
    in the order the requests' heads come whole, until `stopped` is set."""
    request_class = _request_handler()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    try:
        while not stopped.is_set():
            for key, _ in selector.select(timeout=0.5):
                if key.data is None:
                    try:
                        connection, address = listener.accept()
                    except OSError:  # gone before it was accepted, or out of descriptors
                        continue
                    request = request_class(connection, address, server)
                    selector.register(connection, selectors.EVENT_READ, request)
                    continue
                request = key.data
                whole = request.read_head()
                if whole is False:
                    continue
                selector.unregister(key.fileobj)
                if whole is None:
                    request.request.close()
                    continue
                try:
                    request.answer()
                except Exception:  # one bad request never stops the stand-in
                    logging.getLogger(__name__).exception("moto: a request failed")
    finally:
        for key in list(selector.get_map().values()):
            if key.data is not None:
                key.data.request.close()
        selector.close()


def answer_long_polls_at_once() -> None:
    """An SQS long poll would hold every other request for its wait (one thread answers
    them all): it answers at once with what the queue has, as a short poll does. The
    stack's pollers wait between polls themselves."""
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message

    def receive_message(
        self: Any, queue_name: str, count: int, wait_seconds_timeout: int, *rest: Any
    ) -> Any:
        return original(self, queue_name, count, 0, *rest)

    setattr(SQSBackend, "receive_message", receive_message)  # noqa: B010


def serve(port: int, parent: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from devtools import moto_fixes

    moto_fixes.apply()
    answer_long_polls_at_once()
    # moto logs every AWS call through werkzeug; the API's own log is what a user reads.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    threading.Thread(target=_die_with, args=(parent,), daemon=True).start()
    # werkzeug's server, for the listening socket and what a request handler reads of it.
    server = make_server("127.0.0.1", port, DomainDispatcherApplication(create_backend_app))
    freeze_what_survives()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve_in_turn(server.socket, server, stopped)
    finally:
        server.server_close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
