"""The local stack's AWS stand-in (moto) in a process of its own.

In the API's process, moto's work and the API's shared one interpreter lock: a burst of
tickets stalled `GET /health` and every console page behind DynamoDB's stand-in, and
the two cores of a laptop did the work of one. Here moto answers on its port from a
child process, as AWS answers from elsewhere, and dies with the stack that started it.

It answers one request at a time, in the order they come whole, from one thread
(`serve_in_turn`), on kept-alive connections. moto's item operations take one lock
anyway (see `devtools/moto_fixes.py`), and threads of one interpreter do not run Python
at once: werkzeug's thread per connection only made the requests take the interpreter
lock in turns of the scheduler's choosing, and a request that had the item lock could
wait for one that had not. A request is read without waiting until it has come whole,
so a client that is slow to send holds nobody; werkzeug closes each connection after
its answer because it would not know where the next request starts, and here that is
known.

    python -m devtools.moto_process PORT PARENT_PID
"""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import json
import logging
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from devtools.resources import REPO

STARTUP_SECONDS = 60
# An answer the client does not read, or a body sent in chunks that stops coming, holds
# the others at most this long.
PARTIAL_REQUEST_SECONDS = 10
# The most a request's head (its request line and headers) may take.
HEAD_LIMIT = 65536
READ_SIZE = 1 << 20
# How often a held SQS long poll looks at its queue again while nothing else comes (a
# message becomes visible when its delay or visibility timeout ends, with no request).
LONG_POLL_CHECK = 0.25


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


class CollectInTurn:
    """A full collection between two turns (a turn: what came from one client, read and
    answered), every `every` turns, and what survives it set aside. Left to its
    thresholds, the collector ran a full collection about every 600 requests of a
    burst, in the middle of one, walking the 50,000 to 77,000 objects stored since the
    last: 7 to 34 ms during which every client waited. Between turns, every 50, it
    walks 6,000 to 9,000 (under 1 ms). Nothing of a
    request is alive between two turns (`Request.answer` lets go of it), so what is
    set aside is the stand-in's tables and connections."""

    def __init__(self, every: int = 50) -> None:
        self.every, self.turns = every, 0

    def __call__(self) -> None:
        self.turns += 1
        if self.turns >= self.every:
            self.turns = 0
            gc.collect()
            gc.freeze()


class SetAsideAsItWarms:
    """In the API's process: a full collection, and what survives it set aside, after
    its 1st, 2nd, 4th ... 1,024th request. What a process builds when a route first
    needs it (a client, its service model, the classifier) lives as long as the
    process, but was built after the stack's start had set aside what it had: the first
    full collection after the first tickets walked it all, 25 ms during which every
    request in flight waited. After the 1,024th, the collector's own full collections
    (each setting aside what survives, `freeze_what_survives`) only meet what came
    since the last. What eleven collections find in flight, and later becomes a
    cycle of garbage, is never freed: a few requests' worth, once."""

    LAST = 1024

    def __init__(self) -> None:
        self._served = itertools.count(1)

    def __call__(self) -> None:
        served = next(self._served)  # one step under the interpreter's lock
        if served <= self.LAST and served & (served - 1) == 0:  # a power of two
            gc.collect()
            gc.freeze()


def _die_with(parent: int) -> None:
    """The stack that started this process may be killed outright (SIGKILL): its child
    must not keep the port and the memory."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


class _Replayed(io.RawIOBase):
    """A connection's bytes read already, then the connection itself (a request whose
    body comes in chunks: its end is known only as it is read)."""

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


class _Sent(io.RawIOBase):
    """What a handler writes, sent whole on the connection."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._connection.sendall(data)
        return len(data)


def _at_end() -> socket.socket:
    """A socket always readable, at its end: werkzeug waits up to 10 ms after each answer
    for more of the request on the handler's connection (it closes every connection, so
    that is the client going away); a request read whole beforehand has no more."""
    ours, theirs = socket.socketpair()
    theirs.close()
    return ours


def _head_of(received: bytearray) -> tuple[int, dict[str, str]] | None:
    """Where a request's head ends in what has come, and its headers (names in lower
    case, the first of each name, as the handler reads them); None while the head is
    not whole. Only the first `HEAD_LIMIT` bytes are looked at, whatever has come."""
    ends = [
        (at, len(mark))
        for mark in (b"\r\n\r\n", b"\n\n")
        if (at := received.find(mark, 0, HEAD_LIMIT + len(mark))) >= 0
    ]
    if not ends:
        return None
    at, size = min(ends)
    headers: dict[str, str] = {}
    for line in bytes(received[:at]).decode("latin-1").splitlines()[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return at + size, headers


_SQS_REGION = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/sqs/aws4_request")


class _LongPoll:
    """An SQS ReceiveMessage that asked to wait (`WaitTimeSeconds`) while its queue had
    nothing to give: held, not answered, until the queue has a message or the wait is
    over (SQS's long poll). One thread answers every request here, so a poll cannot wait
    in moto's handler: the stack's pollers asked four times a second instead, the stand-
    in's and the API's busiest work while the stack sat idle."""

    def __init__(self, request: bytes, queue: Any, until: float) -> None:
        self.request, self.queue, self.until = request, queue, until

    @classmethod
    def of(cls, request: bytes, body_at: int, headers: dict[str, str]) -> _LongPoll | None:
        """The poll `request` makes, if it is one to hold now; None for any other request
        (answered at once, as before)."""
        if headers.get("x-amz-target") != "AmazonSQS.ReceiveMessage":
            return None
        region = _SQS_REGION.search(headers.get("authorization", ""))
        if region is None:
            return None
        try:
            asked = json.loads(request[body_at:])
            wait, url = asked.get("WaitTimeSeconds"), asked["QueueUrl"]
            account, name = url.rstrip("/").rsplit("/", 2)[-2:]
            from moto.sqs.models import sqs_backends

            queue = sqs_backends[account][region.group(1)].get_queue(name)
        except Exception:  # not a poll moto would answer: it answers with its error
            return None
        if type(wait) is not int or not 0 < wait <= 20 or queue.messages:
            return None
        return cls(request, queue, time.monotonic() + wait)

    def ready(self, now: float) -> bool:
        return now >= self.until or bool(self.queue.messages)


def _request_handler() -> type[Any]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Request(MotoRequestHandler):
        """One request of a connection, answered by `serve_in_turn` once it has come
        whole (socketserver's handler would read it, waiting, as soon as the connection
        is made). The connection stays open after the answer when the client asks for
        it (werkzeug closes each one: it would not know where the next request starts)."""

        # HTTP/1.1: kept-alive connections, and `Expect: 100-continue` (an upload by curl).
        protocol_version = "HTTP/1.1"

        def __init__(self, connection: socket.socket, address: Any, server: Any) -> None:
            self.request, self.client_address, self.server = connection, address, server
            self.in_hand = False

        def answer(self, received: bytes, in_hand: bool, at_end: socket.socket) -> bool:
            """Answer a request read whole (`in_hand`), or one whose body is still to be
            read from the connection after what was `received`; whether the connection
            stays open."""
            connection = self.request
            connection.settimeout(PARTIAL_REQUEST_SECONDS)  # for the answer to be sent
            self.in_hand = in_hand
            self.wfile = io.BufferedWriter(_Sent(connection))  # headers and body: one send
            if in_hand:
                self.rfile = io.BytesIO(received)
                self.connection = at_end
            else:
                self.rfile = io.BufferedReader(_Replayed(received, connection))
                self.connection = connection
            try:
                self.handle_one_request()
                self.wfile.flush()  # an answer to a request it could not read, too
            except (ConnectionError, TimeoutError):
                return False  # the client went away, or sent only part of its body
            finally:
                connection.setblocking(False)
                # werkzeug's request and its environ hold each other: let go of them, so
                # a collection between turns frees them rather than setting them aside.
                for kept in ("environ", "headers"):
                    vars(self).pop(kept, None)
            return self.in_hand and not self.close_connection

        def handle_expect_100(self) -> bool:
            # A request in hand has its body already; `serve_in_turn` asked for it.
            return True if self.in_hand else bool(super().handle_expect_100())

        def run_wsgi(self) -> None:
            if self.in_hand:
                del self.headers["Expect"]  # werkzeug would ask for the body again
            super().run_wsgi()

        def send_header(self, keyword: str, value: str) -> None:
            if (
                self.in_hand
                and not self.close_connection  # the client did not ask to close
                and keyword.lower() == "connection"
                and value.lower() == "close"
            ):
                return  # the next request will be read whole too: the connection may stay
            super().send_header(keyword, value)

    return Request


class _Client:
    """A connection to the stand-in: what has come of its requests so far."""

    def __init__(self, connection: socket.socket, handler: Any) -> None:
        connection.setblocking(False)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers, then body
        self.connection, self.handler = connection, handler
        self.received = bytearray()
        self.continued = False
        self.waiting: _LongPoll | None = None

    def take_in(self) -> bool:
        """Read what has come; False once the client has gone."""
        try:
            data = self.connection.recv(READ_SIZE)
        except BlockingIOError:
            return True
        except OSError:
            return False
        self.received += data
        return bool(data)

    def serve(self, at_end: socket.socket) -> bool:
        """Read what has come and answer it; whether the connection stays open."""
        return self.take_in() and self.answer_what_came(at_end)

    def answer_what_came(self, at_end: socket.socket) -> bool:
        """Answer each request that has come whole (a long poll is held: `_LongPoll`);
        whether the connection stays open."""
        while self.waiting is None and (head := _head_of(self.received)) is not None:
            end, headers = head
            length = headers.get("content-length", "0")
            if "transfer-encoding" in headers or not (length.isascii() and length.isdigit()):
                # Read as it comes (or refused by the handler), then closed.
                self.handler.answer(bytes(self.received), False, at_end)
                return False
            if len(self.received) < end + int(length):
                if headers.get("expect", "").lower() == "100-continue" and not self.continued:
                    self.continued = True
                    with contextlib.suppress(OSError):
                        self.connection.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                return True
            request = bytes(self.received[: end + int(length)])
            del self.received[: end + int(length)]
            self.continued = False
            self.waiting = _LongPoll.of(request, end, headers)
            if self.waiting is None and not self.handler.answer(request, True, at_end):
                return False
        return len(self.received) <= HEAD_LIMIT

    def answer_if_ready(self, now: float, at_end: socket.socket) -> bool:
        """Answer a held long poll whose queue has a message or whose wait is over, then
        what came after it; whether the connection stays open."""
        if self.waiting is None or not self.waiting.ready(now):
            return True
        request, self.waiting = self.waiting.request, None
        return self.handler.answer(request, True, at_end) and self.answer_what_came(at_end)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def serve_in_turn(
    listener: socket.socket,
    server: Any,
    stopped: threading.Event,
    between: Callable[[], None] = lambda: None,
) -> None:
    """Answer every connection to `listener` from this thread, one request at a time,
    in the order the requests come whole, until `stopped` is set; `between` runs after
    each client's requests that came are answered."""
    request_class = _request_handler()
    at_end = _at_end()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)

    def settled(client: _Client, step: Callable[..., bool], *args: Any) -> None:
        """Run a client's step; a failed one, or a client gone, is closed."""
        try:
            kept = step(*args)
        except Exception:  # one bad request never stops the stand-in
            logging.getLogger(__name__).exception("moto: a request failed")
            kept = False
        if not kept:
            selector.unregister(client.connection)
            client.close()

    try:
        while not stopped.is_set():
            for key, _ in selector.select(timeout=LONG_POLL_CHECK):
                if key.data is None:
                    try:
                        connection, address = listener.accept()
                    except OSError:  # gone before it was accepted, or out of descriptors
                        continue
                    client = _Client(connection, request_class(connection, address, server))
                    selector.register(connection, selectors.EVENT_READ, client)
                    continue
                client = key.data
                settled(client, client.serve, at_end)
                between()
            now = time.monotonic()
            for key in list(selector.get_map().values()):
                if key.data is not None and key.data.waiting is not None:
                    settled(key.data, key.data.answer_if_ready, now, at_end)
    finally:
        for key in list(selector.get_map().values()):
            if key.data is not None:
                key.data.close()
        selector.close()
        at_end.close()


# A header line email's parser reads as a name and a value, and nothing else: a name of
# printable characters but the colon, then the value to the line's end.
_PLAIN_HEADER = re.compile(r"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n\Z")


def read_request_heads_plainly() -> None:
    """http.server reads each request's headers with the standard library's e-mail
    parser, a tenth of the stand-in's CPU for a GetItem. A head whose every line is a
    plain `Name: value` line is read here into the same message, as that parser's
    compat32 policy reads it; any other line (a folded one, one with no name, a bare
    carriage return) goes to the e-mail parser, which reads it as before."""
    import email.parser
    import http.client

    def parse_headers(fp: Any, _class: Any = http.client.HTTPMessage) -> Any:
        lines = http.client._read_headers(fp)  # type: ignore[attr-defined]
        text = b"".join(lines).decode("iso-8859-1")
        headers = []
        for raw in lines:
            if raw in (b"\r\n", b"\n", b""):
                break
            line = raw.decode("iso-8859-1")
            if not _PLAIN_HEADER.match(line):  # a line cut short by the end, too
                return email.parser.Parser(_class=_class).parsestr(text)
            name, value = line.split(":", 1)
            headers.append((name, value.lstrip(" \t").rstrip("\r\n")))
        message = _class()
        message._headers = headers
        message._payload = ""
        return message

    setattr(http.client, "parse_headers", parse_headers)  # noqa: B010


def wait_for_the_rest_without_a_new_selector() -> None:
    """After each answer werkzeug looks for more of the request on the connection with
    a new `DefaultSelector`: on Linux an epoll object made and closed per request, a
    twentieth of the stand-in's CPU for a GetItem. `poll` asks the same question of the
    same connection without making anything."""
    import types

    from werkzeug import serving

    selector = getattr(selectors, "PollSelector", selectors.SelectSelector)
    namespace = types.SimpleNamespace(DefaultSelector=selector, EVENT_READ=selectors.EVENT_READ)
    setattr(serving, "selectors", namespace)  # noqa: B010


def answer_long_polls_at_once() -> None:
    """An SQS long poll would hold every other request for its wait (one thread answers
    them all): moto's handler answers it at once with what the queue has, as a short
    poll does. `serve_in_turn` holds a poll of an empty queue before that (`_LongPoll`)."""
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message

    def receive_message(
        self: Any, queue_name: str, count: int, wait_seconds_timeout: int, *rest: Any
    ) -> Any:
        return original(self, queue_name, count, 0, *rest)

    setattr(SQSBackend, "receive_message", receive_message)  # noqa: B010


def dynamodb_without_flask(dispatcher: Any) -> Callable[[dict[str, Any], Any], Any]:
    """moto's server hands each request to a Flask app per service, whose one view calls
    the service's handler and makes a Flask response of what it returns (flask_cors adds
    its header after). For DynamoDB that framework took 0.2 ms of every call (0.44 ms in
    process with it, 0.24 without; the stand-in's CPU per GetItem 1.12 to 1.46 ms, then
    0.96 to 1.12, three stacks each, interleaved). A request moto routes to
    DynamoDB goes to DynamoDB's handler as that view calls it, and is answered as the
    view answers (the same status, headers and body: tests/local/test_moto_process.py);
    every other request goes through `dispatcher` as before."""
    from botocore.exceptions import ClientError
    from flask import Response
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import BackendRequest

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        if (
            not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_")
            or environ.get("REQUEST_METHOD") != "POST"
            or "HTTP_ORIGIN" in environ  # a browser's: flask_cors answers for the origin
            or getattr(dispatcher.get_application(environ), "service", None) != "dynamodb"
        ):
            return dispatcher(environ, start_response)
        request = BackendRequest(environ)
        recorder._record_request(request)
        try:
            result = DynamoHandler.dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as error:
            result = 400, {}, error.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        response = Response(response=content, status=status, headers=headers)
        response.headers["Access-Control-Allow-Origin"] = "*"  # flask_cors, with no origin
        return response(environ, start_response)

    return application


def serve(port: int, parent: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from devtools import moto_fixes

    moto_fixes.apply()
    answer_long_polls_at_once()
    read_request_heads_plainly()
    wait_for_the_rest_without_a_new_selector()
    # moto logs every AWS call through werkzeug; the API's own log is what a user reads.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    threading.Thread(target=_die_with, args=(parent,), daemon=True).start()
    # werkzeug's server, for the listening socket and what a request handler reads of it.
    dispatcher = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, dynamodb_without_flask(dispatcher))
    freeze_what_survives()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve_in_turn(server.socket, server, stopped, CollectInTurn())
    finally:
        server.server_close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
