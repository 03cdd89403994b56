"""The local stack's AWS stand-in runs in a process of its own (issue 29: in the API's
process, moto's work and the API's took turns on one interpreter lock). It answers once
started, and it never outlives the stack that started it, however that stack ends."""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from hypothesis import given, settings, strategies as st

from devtools import moto_process
from devtools.moto_process import MotoProcess, answers, read_request_heads_plainly
from tests.local.stack import ROOT, free_port

STARTER = """
import sys, time
from devtools.moto_process import MotoProcess
MotoProcess(int(sys.argv[1])).start()
print("up", flush=True)
time.sleep(600)
"""


def gone_within(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while answers(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_moto_answers_once_started_and_stop_frees_its_port() -> None:
    moto = MotoProcess(free_port())
    moto.start()
    try:
        assert answers(moto.port)
    finally:
        moto.stop()
    assert not answers(moto.port)
    moto.stop()  # a second stop changes nothing


def test_moto_dies_with_a_stack_killed_outright() -> None:
    """SIGKILL gives the stack no chance to stop its child: the child notices alone."""
    port = free_port()
    stack = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(port)], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert stack.stdout is not None and stack.stdout.readline() == b"up\n"
        assert answers(port)
    finally:
        stack.kill()
        stack.wait()
    assert gone_within(port, 10)


def test_what_survives_a_full_collection_is_set_aside() -> None:
    """The stand-in's tables are not walked again by every full collection."""
    probe = (
        "import gc\n"
        "from devtools.moto_process import freeze_what_survives\n"
        "freeze_what_survives()\n"
        "kept = [[n] for n in range(100_000)]\n"
        "gc.collect()\n"
        "print(gc.get_freeze_count() >= 100_000)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"


IN_TURN = """
import gc, logging, socket, threading
from devtools import moto_process
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app))
collect = moto_process.CollectInTurn(every=1)
threading.Thread(
    target=moto_process.serve_in_turn,
    args=(server.socket, server, threading.Event(), collect),
    daemon=True,
).start()
ask = b"GET /moto-api/data.json HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n"
connection = socket.create_connection(server.socket.getsockname())
answers = connection.makefile("rb")
def asked(times):
    for _ in range(times):
        connection.sendall(ask)
        assert answers.readline().split()[1] == b"200"
        length = 0
        while (line := answers.readline()) != b"\\r\\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        answers.read(length)
asked(30)
before = gc.get_freeze_count()
asked(200)
print(before > 0, gc.get_freeze_count() - before)
"""


def test_a_collection_between_turns_sets_aside_nothing_of_a_request() -> None:
    """The stand-in collects between turns and sets aside what survives: 200 requests
    that store nothing set nothing of theirs aside (a request's objects set aside would
    never be freed; setting aside without collecting first kept 8 per request). A few
    of the probe's own objects, alive in its thread at a collection, may be set aside."""
    result = subprocess.run(
        [sys.executable, "-c", IN_TURN], cwd=ROOT, capture_output=True, text=True, check=True
    )
    froze, more = result.stdout.split()
    assert froze == "True"
    assert int(more) < 50


# The stand-in answers one request at a time, in turn, from one thread.

DATA = b"GET /moto-api/data.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
KEPT = DATA.replace(b"Connection: close\r\n", b"")


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoProcess]:
    process = MotoProcess(free_port())
    process.start()
    yield process
    process.stop()


def answer_to(request: bytes, port: int) -> bytes:
    """The answer to a request sent on a connection of its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        return connection.makefile("rb").read()  # to its end: the stand-in closes


def status_of(request: bytes, port: int) -> int:
    return int(answer_to(request, port).split(b" ", 2)[1])


def statuses_read(connection: socket.socket, count: int) -> list[int]:
    """The statuses of `count` answers on a kept-alive connection, each read to its end."""
    reader = connection.makefile("rb")
    statuses = []
    for _ in range(count):
        statuses.append(int(reader.readline().split()[1]))
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert len(reader.read(length)) == length
    return statuses


def test_a_connection_is_kept_for_the_next_request(moto: MotoProcess) -> None:
    """A client's next request reuses its connection, also when sent before the answer
    to the one before it (select would not see it: it came with the first)."""
    with socket.create_connection(("127.0.0.1", moto.port), timeout=5) as connection:
        connection.sendall(KEPT)
        assert statuses_read(connection, 1) == [200]
        connection.sendall(KEPT)
        assert statuses_read(connection, 1) == [200]
        connection.sendall(KEPT * 2 + DATA)
        assert statuses_read(connection, 3) == [200, 200, 200]
        assert connection.recv(1) == b""  # closed after the one that asked for it


def test_an_upload_that_waits_to_be_asked_for_its_body_is_asked(moto: MotoProcess) -> None:
    """`Expect: 100-continue` (curl with a large file, botocore with a file object)."""
    body = b"x" * 5000
    head = (
        b"PUT /bucket-that-is-not-there/key HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", moto.port), timeout=5) as connection:
        connection.sendall(head)
        reader = connection.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 100")
        assert reader.readline() == b"\r\n"
        connection.sendall(body)
        assert reader.readline().split()[1] == b"404"  # no such bucket: answered in full


def test_a_client_slow_to_send_holds_no_other(moto: MotoProcess) -> None:
    """A client that connects and sends nothing yet (a browser's preconnect), part of its
    request's head, or part of its body, holds no other client's answer."""
    body = b'{"Action": "ListQueues"}'
    upload = (
        b"POST /moto-api/data.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with (
        socket.create_connection(("127.0.0.1", moto.port), timeout=5) as idle,
        socket.create_connection(("127.0.0.1", moto.port), timeout=5) as part_head,
        socket.create_connection(("127.0.0.1", moto.port), timeout=5) as part_body,
    ):
        part_head.sendall(DATA[:20])
        part_body.sendall(upload[:-5])
        started = time.monotonic()
        assert [status_of(DATA, moto.port) for _ in range(3)] == [200, 200, 200]
        assert time.monotonic() - started < 2
        for connection, rest in ((part_head, DATA[20:]), (part_body, upload[-5:])):
            connection.sendall(rest)  # answered in its turn
            assert statuses_read(connection, 1) == [200]
        idle.sendall(DATA)
        assert statuses_read(idle, 1) == [200]


def test_a_body_sent_in_chunks_is_read_as_it_comes(moto: MotoProcess) -> None:
    """Its end is known only as it is read: the connection is closed after its answer."""
    chunked = DATA.replace(
        b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    )
    assert status_of(chunked, moto.port) == 200


def test_a_head_that_never_ends_is_closed(moto: MotoProcess) -> None:
    with socket.create_connection(("127.0.0.1", moto.port), timeout=5) as endless:
        try:
            endless.sendall(b"GET / HTTP/1.1\r\n" + b"X-Padding: 0123456789\r\n" * 4000)
            closed = endless.recv(1) == b""  # unanswered
        except ConnectionResetError:  # closed with what it sent unread
            closed = True
        assert closed
    assert status_of(DATA, moto.port) == 200


def test_a_malformed_or_abandoned_request_stops_nothing(moto: MotoProcess) -> None:
    # http.server answers a request line it cannot read with a page and no status line.
    assert b"Error code: 400" in answer_to(b"NOT HTTP AT ALL\r\n\r\n", moto.port)
    with socket.create_connection(("127.0.0.1", moto.port), timeout=5) as gone:
        gone.sendall(DATA[:10])  # and goes away in the middle of its request
    assert status_of(DATA, moto.port) == 200


# Header lines as clients send them, and as they should not: folded, nameless, with a
# bare carriage return, non-ASCII, empty, duplicated, or the mailbox "From " line.
HEADER_LINES = st.sampled_from(
    [
        b"Host: 127.0.0.1:4599",
        b"Content-Type: application/x-amz-json-1.0",
        b"X-Amz-Target: DynamoDB_20120810.GetItem",
        b"Content-Length: 42",
        b"Content-Length: 42",
        b"X-Empty:",
        b"X-Spaces:   padded   ",
        b"X-Tab:\tvalue",
        b"X-Latin: caf\xe9",
        b"X-Colon: a: b",
        b" folded continuation",
        b"\tfolded with a tab",
        b": no name",
        b"no colon at all",
        b"X-Bare: carriage\rreturn",
        b"From someone",
        b"Bad Name: space in the name",
        b"X-Del\x7f: delete in the name",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(HEADER_LINES, max_size=8),
    ending=st.sampled_from([b"\r\n", b"\n"]),
    whole=st.booleans(),  # or cut short: the connection closed before the blank line
    cut=st.integers(min_value=0, max_value=3),
)
def test_a_head_is_read_as_the_email_parser_reads_it(
    lines: list[bytes], ending: bytes, whole: bool, cut: int, by_email: Callable[..., Any]
) -> None:
    head = b"".join(line + ending for line in lines) + (ending if whole else b"")
    if not whole:
        head = head[: max(0, len(head) - cut)]  # and maybe in the middle of a line
    plain = http.client.parse_headers(io.BytesIO(head))
    standard = by_email(io.BytesIO(head))
    assert read(plain) == read(standard)
    assert plain.items() == standard.items()


def read(message: Any) -> dict[str, Any]:
    """A message's state, its defects by kind and text (each parse makes its own)."""
    return {**vars(message), "defects": [(type(d), str(d)) for d in message.defects]}


@pytest.fixture(scope="module")
def by_email() -> Iterator[Callable[..., Any]]:
    """The plain reader in place for the module's tests; the standard one given, and
    put back after them."""
    standard = http.client.parse_headers
    read_request_heads_plainly()
    assert http.client.parse_headers is not standard
    try:
        yield standard
    finally:
        http.client.parse_headers = standard


def sqs_of(moto: MotoProcess) -> Any:
    return boto3.client(
        "sqs",
        region_name="eu-central-1",
        endpoint_url=f"http://127.0.0.1:{moto.port}",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def held_poll(moto: MotoProcess, url: str, wait: int) -> Future[tuple[Any, float]]:
    """A long poll from a thread (and a client) of its own; its answer, and when."""

    def poll() -> tuple[Any, float]:
        return sqs_of(moto).receive_message(QueueUrl=url, WaitTimeSeconds=wait), time.monotonic()

    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(poll)
    finally:
        pool.shutdown(wait=False)


def test_a_long_poll_is_held_until_a_message_comes_and_holds_no_other(
    moto: MotoProcess,
) -> None:
    """SQS's long poll: a poll of an empty queue is answered when a message comes, and
    every other request is answered meanwhile (one thread answers them all)."""
    sqs = sqs_of(moto)
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # no wait: at once
    assert time.monotonic() - started < 2
    poll = held_poll(moto, url, 15)
    time.sleep(0.5)
    assert not poll.done()
    started = time.monotonic()
    assert [status_of(DATA, moto.port) for _ in range(3)] == [200, 200, 200]
    assert sqs.list_queues()["QueueUrls"] and time.monotonic() - started < 2
    sent = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    answer, at = poll.result(timeout=10)
    assert [m["Body"] for m in answer["Messages"]] == ["kept"] and at - sent < 2
    # A queue with a message to give answers a poll at once.
    sqs.send_message(QueueUrl=url, MessageBody="ready")
    started = time.monotonic()
    found = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)["Messages"]
    assert [m["Body"] for m in found] == ["ready"] and time.monotonic() - started < 2


def test_a_held_poll_ends_with_its_wait_or_a_message_visible_again(moto: MotoProcess) -> None:
    sqs = sqs_of(moto)
    url = sqs.create_queue(QueueName="long-poll-wait")["QueueUrl"]
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert 0.9 <= time.monotonic() - started < 5
    sqs.send_message(QueueUrl=url, MessageBody="again")
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"]
    started = time.monotonic()  # no request makes it visible: the time does
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)
    assert [m["Body"] for m in answer["Messages"]] == ["again"]
    assert time.monotonic() - started < 5


def test_a_client_gone_while_its_poll_is_held_stops_nothing(moto: MotoProcess) -> None:
    url = sqs_of(moto).create_queue(QueueName="long-poll-gone")["QueueUrl"]
    body = json.dumps({"QueueUrl": url, "WaitTimeSeconds": 20}).encode()
    poll = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonSQS.ReceiveMessage\r\n"
        b"Content-Type: application/x-amz-json-1.0\r\nAuthorization: AWS4-HMAC-SHA256 "
        b"Credential=local/20261205/eu-central-1/sqs/aws4_request, SignedHeaders=host, "
        b"Signature=0\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", moto.port), timeout=5) as connection:
            connection.sendall(poll)
            time.sleep(0.3)
        assert status_of(DATA, moto.port) == 200
    sqs_of(moto).send_message(QueueUrl=url, MessageBody="after")  # the held polls answer
    assert status_of(DATA, moto.port) == 200  # to nobody, and nothing stops


def test_the_api_sets_aside_what_it_built_as_it_warms(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the 1st, 2nd, 4th ... 1,024th request: a full collection, then a freeze."""
    done: list[tuple[str, int]] = []
    served = 0
    monkeypatch.setattr(moto_process.gc, "collect", lambda: done.append(("collect", served)))
    monkeypatch.setattr(moto_process.gc, "freeze", lambda: done.append(("freeze", served)))
    warm = moto_process.SetAsideAsItWarms()
    for served in range(1, 3001):  # noqa: B007 - read by the lambdas above
        warm()
    at = [2**k for k in range(11)]
    assert done == [(step, n) for n in at for step in ("collect", "freeze")]


TABLE_SPEC = {
    "TableName": "direct",
    "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
ITEM = {"PK": {"S": "a"}, "n": {"N": "1"}, "text": {"S": "Тариф"}}
# DynamoDB requests as botocore sends them, answered, refused and malformed.
DYNAMODB_CALLS: list[tuple[str, Any]] = [
    ("PutItem", {"TableName": "direct", "Item": ITEM}),
    ("GetItem", {"TableName": "direct", "Key": {"PK": {"S": "a"}}}),
    ("GetItem", {"TableName": "missing", "Key": {"PK": {"S": "a"}}}),
    (
        "PutItem",
        {"TableName": "direct", "Item": ITEM, "ConditionExpression": "attribute_not_exists(PK)"},
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "Put": {
                        "TableName": "direct",
                        "Item": ITEM,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            ]
        },
    ),
    (
        "Query",
        {
            "TableName": "direct",
            "KeyConditionExpression": "PK = :p",
            "ExpressionAttributeValues": {":p": {"S": "a"}},
        },
    ),
    ("UpdateItem", {"TableName": "direct", "Key": {"PK": {"S": "a"}}, "UpdateExpression": "x"}),
    ("NoSuchAction", {}),
    ("GetItem", "not json"),
]


def wsgi_answer(app: Any, action: str, body: Any, origin: bool = False) -> tuple[Any, ...]:
    """What a WSGI app answers to a DynamoDB request: status, headers, body."""
    from werkzeug.test import EnvironBuilder

    headers = {
        "X-Amz-Target": f"DynamoDB_20120810.{action}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261205/eu-central-1/dynamodb/"
        "aws4_request, SignedHeaders=host, Signature=0",
        **({"Origin": "http://127.0.0.1:8000"} if origin else {}),
    }
    environ = EnvironBuilder(
        method="POST",
        base_url="http://127.0.0.1:4599",
        headers=headers,
        content_type="application/x-amz-json-1.0",
        data=body if isinstance(body, str) else json.dumps(body),
    ).get_environ()
    answered: list[Any] = []
    try:  # an error moto raises reaches the server (which answers 500), either way
        content = b"".join(app(environ, lambda status, sent, *_: answered.extend([status, sent])))
    except Exception as error:
        return "raised", type(error).__name__, str(error)
    status, sent = answered
    kept = [(k, v) for k, v in sent if k.lower() != "x-amzn-requestid"]  # drawn at random
    return status, kept, content


def test_a_dynamodb_request_is_answered_as_motos_flask_view_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stand-in hands a DynamoDB request to moto's handler without Flask: the same
    status, headers and body as moto's own server, answered, refused or malformed."""
    from flask import Flask
    from moto import mock_aws
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from devtools import moto_fixes
    from devtools.moto_process import dynamodb_without_flask

    moto_fixes.apply()
    through_flask: list[bool] = []
    flask_call = Flask.__call__
    monkeypatch.setattr(
        Flask, "__call__", lambda *args: through_flask.append(True) or flask_call(*args)
    )
    answers = []
    for direct in (False, True):
        through_flask.clear()
        with mock_aws():
            dispatcher = DomainDispatcherApplication(create_backend_app)
            app = dynamodb_without_flask(dispatcher) if direct else dispatcher
            wsgi_answer(app, "CreateTable", TABLE_SPEC)
            answers.append(
                [wsgi_answer(app, action, body) for action, body in DYNAMODB_CALLS]
                + [wsgi_answer(app, "GetItem", DYNAMODB_CALLS[1][1], origin=True)]
            )
    assert through_flask == [True]  # the request with an origin, in the second round
    assert answers[0] == answers[1]
    statuses = [status for status, _, _ in answers[1]]
    assert statuses[:2] == ["200 OK", "200 OK"] and "400 BAD REQUEST" in statuses
