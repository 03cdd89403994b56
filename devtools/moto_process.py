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
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from typing import IO, Any, cast

from devtools.resources import REPO

STARTUP_SECONDS = 60
IDLE_CONNECTION_SECONDS = 300


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


def kept_alive_handler() -> type:
    """moto's request handler, answering on a kept-alive connection.

    werkzeug's development server closes the connection after every response
    (`Connection: close`), then waits up to 10 ms for the client to hang up. So each
    AWS call from the API was a new TCP connection and, in moto's process, a new
    thread: 0.4 ms of moto's time and 0.2 ms of the API's per call, a third of a
    small call's whole cost. Here the body is read whole first (by its length or
    its chunks), so the next request on the connection starts where this one ended;
    the response carries its length and the connection stays open, as AWS's does."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import DechunkedInput

    class KeptAliveHandler(MotoRequestHandler):
        timeout = IDLE_CONNECTION_SECONDS  # an idle connection gives its thread back
        disable_nagle_algorithm = True  # headers and body leave in separate writes

        def run_wsgi(self) -> None:
            try:
                body = self._read_body()
            except (ValueError, OSError):
                self.close_connection = True
                self.send_error(400, "the request's body could not be read")
                return
            environ = self.make_environ()
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("wsgi.input_terminated", None)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            started: list[Any] = []
            chunks: list[bytes] = []

            def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
                started[:] = [status, headers]
                return chunks.append

            try:
                result: Iterable[bytes] = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            except Exception:  # moto's own failure: a 500, as werkzeug's server sends
                logging.getLogger(__name__).exception("moto failed on %s", self.path)
                self.close_connection = True
                self.send_error(500)
                return
            self._respond(started[0], started[1], b"".join(chunks))

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return bytes(DechunkedInput(cast("IO[bytes]", self.rfile)).read())
            length = self.headers.get("Content-Length")
            if length is None:
                return b""
            size = int(length)
            if size < 0:
                raise ValueError(length)
            body = bytes(self.rfile.read(size))
            if len(body) != size:
                raise OSError("the connection ended inside the body")
            return body

        def _respond(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            # A HEAD answer keeps the length the body would have had (S3's HeadObject).
            bodiless = self.command == "HEAD" or int(code) < 200 or int(code) in (204, 304)
            dropped = {"connection", "transfer-encoding"}
            if not bodiless:
                dropped.add("content-length")
                self.send_header("Content-Length", str(len(payload)))
            for key, value in headers:
                if key.lower() not in dropped:
                    self.send_header(key, value)
            self.end_headers()
            if payload and not bodiless:
                self.wfile.write(payload)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Every AWS call is not news: the API's own log is what a user reads."""

    return KeptAliveHandler


def serve(port: int, parent: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from devtools import moto_fixes

    moto_fixes.apply()
    # moto logs every AWS call through werkzeug; the API's own log is what a user reads.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    threading.Thread(target=_die_with, args=(parent,), daemon=True).start()
    server = make_server(
        "127.0.0.1",
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=kept_alive_handler(),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    freeze_what_survives()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        while not stopped.wait(1):
            pass
    server.shutdown()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
