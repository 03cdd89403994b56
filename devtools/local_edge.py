"""The local stack's HTTP edge answers as API Gateway would (issue: loose ends at the
edges): an unknown method or a malformed request gets the API's error shape, not the
standard library's HTML page; a body over API Gateway's 10 MB payload limit is refused
with 413 before it is read (a `Content-Length` of 99,999,999,999 raised MemoryError in a
server thread); the listening socket takes a burst of connections (the default
backlog of 5 reset the 20 concurrent clients of a load test); and a response on a
kept-alive connection is not held back by Nagle's algorithm."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024  # API Gateway REST APIs: 10 MB
BACKLOG = 128
_CODES = {
    400: "bad_request",
    404: "not_found",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
}


def strict_handler(local: Any, after: Callable[[], None] = lambda: None) -> type:
    """A subclass of chalice local's request handler with API Gateway's edge; `after`
    runs when each request is answered."""

    class StrictHandler(local.ChaliceRequestHandler):  # type: ignore[misc]
        # Headers and body leave in separate writes: with Nagle's algorithm the body
        # waits for the client's delayed ACK, about 40 ms per response on a kept-alive
        # connection. API Gateway answers at once.
        disable_nagle_algorithm = True

        def send_error(self, code: int, message: str | None = None, explain: Any = None) -> None:
            if code == 501:  # a method the API has no route for: API Gateway's 404
                code, message = 404, "no such route"
            self._send_error_shape(code, message or "the request could not be read")

        def _send_error_shape(self, status: int, message: str) -> None:
            body = json.dumps(
                {"error": {"code": _CODES.get(status, "bad_request"), "message": message}}
            ).encode()
            self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _generic_handle(self) -> None:
            declared = self.headers.get("content-length")
            if declared is not None:
                if not declared.strip().isdigit():
                    return self._send_error_shape(400, "Content-Length is not a number")
                if int(declared) > GATEWAY_PAYLOAD_LIMIT:
                    return self._send_error_shape(413, "the body is over 10 MB")
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                return self._send_error_shape(400, "chunked bodies are not accepted")
            super()._generic_handle()
            after()
            return None

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    return StrictHandler


def install(
    server: Any, local: Any, app: Any, config: Any, after: Callable[[], None] = lambda: None
) -> None:
    """Puts the strict handler and a deeper backlog on a `LocalDevServer`."""
    handler = strict_handler(local, after)
    server.server.RequestHandlerClass = functools.partial(handler, app_object=app, config=config)
    # The socket already listens: listen again with the deeper backlog.
    server.server.socket.listen(BACKLOG)
