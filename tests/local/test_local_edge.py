"""The local stack's HTTP edge answers as API Gateway would (issue 31): the error shape
for a method it has no route for, 413 for a body over 10 MB before reading it, and a
burst of concurrent clients served, none reset; the stack's hook runs after each answer
(issue 29)."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT


def raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(body) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("method", ["TRACE", "FOO", "CONNECT"])
def test_a_method_without_a_route_gets_the_error_shape(
    local_stack: tuple[int, int], method: str
) -> None:
    status, headers, body = raw(
        local_stack[0], f"{method} /health HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert status == 404 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "not_found"


def test_a_body_over_the_gateway_limit_is_refused_unread(local_stack: tuple[int, int]) -> None:
    request = (
        b"POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 99999999999\r\n\r\n{"
    )
    status, _, body = raw(local_stack[0], request)
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    bad = b"POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n"
    assert raw(local_stack[0], bad)[0] == 400


def test_twenty_concurrent_clients_are_all_served(local_stack: tuple[int, int]) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: raw(local_stack[0], request)[0], range(100)))
    assert statuses == [200] * 100


@pytest.mark.parametrize(
    ("bench", "args", "reports"),
    [
        ("local_load_bench.py", ["--clients", "2", "--requests", "2"], "POST /tickets p99 /"),
        ("fanout_bench.py", ["--linked", "5", "--timeout", "60"], "of 5 answered"),
    ],
)
def test_the_benches_on_a_stack_run_against_it(
    local_stack: tuple[int, int], bench: str, args: list[str], reports: str
) -> None:
    """The benches that need a running stack cannot rot: each runs here, tiny, in its
    own process (it points boto3 at the stack's moto); the figures are asserted by nobody."""
    import subprocess
    import sys

    api, aws = local_stack
    where = ["--port", str(api), "--aws-port", str(aws)]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / bench), *where, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert reports in result.stdout


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:3000"])
def test_both_cabinet_origins_read_the_gateways_errors_and_the_routes(
    local_stack: tuple[int, int], origin: str
) -> None:
    """Issue 28: with two cabinet origins, the second got a CORS failure instead of a
    readable 401 from the deployed gateway; the local stack and the template now agree."""
    refused = raw(
        local_stack[0],
        f"GET /tickets HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAuthorization: nope\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert refused[0] == 401 and refused[1]["access-control-allow-origin"] == origin
    routed = raw(
        local_stack[0],
        f"GET /status HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n".encode(),
    )
    assert routed[0] == 200 and routed[1]["access-control-allow-origin"] == origin
    stranger = raw(
        local_stack[0],
        b"GET /status HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n",
    )
    assert "access-control-allow-origin" not in stranger[1]


def test_the_hook_after_each_answer_runs_once_per_request() -> None:
    """`after` (the stack's `SetAsideAsItWarms`) runs once per answered request, the
    route's answer and the gateway's own alike, after the answer is written."""
    from chalice import Chalice, local
    from chalice.config import Config

    from devtools import local_edge

    app = Chalice("edge")

    @app.route("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    answered: list[int] = []
    handler = local_edge.strict_handler(local, after=lambda: answered.append(len(answered)))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        client.sendall(
            b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        served, _ = listener.accept()
        config = Config.create(chalice_app=app, lambda_timeout=30)
        handler(served, ("127.0.0.1", 1), object(), app_object=app, config=config)
        served.close()
        data = b""
        while chunk := client.recv(65536):
            data += chunk
        client.close()
    assert data.count(b"HTTP/1.1 ") == 2 and answered == [0, 1]
