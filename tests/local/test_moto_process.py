"""The local stack's AWS stand-in runs in a process of its own (issue 29: in the API's
process, moto's work and the API's took turns on one interpreter lock). It answers once
started, and it never outlives the stack that started it, however that stack ends."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devtools.moto_process import MotoProcess, answers
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


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    moto = MotoProcess(free_port())
    moto.start()
    yield moto.port
    moto.stop()


def dynamodb_call(
    connection: http.client.HTTPConnection, target: str, body: bytes, **headers: str
) -> http.client.HTTPResponse:
    connection.request(
        "POST",
        "/",
        body=body,
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": SIGNED,
            **headers,
        },
    )
    return connection.getresponse()


SIGNED = (
    "AWS4-HMAC-SHA256 Credential=local/20261204/eu-central-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def test_calls_share_one_kept_alive_connection(moto_port: int) -> None:
    """werkzeug's server closed the connection after every answer: each AWS call of the
    API was a new TCP connection and a new thread in moto's process."""
    connection = http.client.HTTPConnection("127.0.0.1", moto_port, timeout=10)
    sockets = []
    for _ in range(3):
        response = dynamodb_call(connection, "ListTables", b"{}")
        assert response.status == 200 and "TableNames" in json.loads(response.read())
        assert response.getheader("Connection") is None
        sockets.append(connection.sock)
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3
    connection.close()


def read_answer(reader: Any) -> tuple[int, bytes]:
    """One response read off a raw connection by its Content-Length: (status, body)."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, reader.read(length)


def test_a_chunked_body_is_read_whole_and_the_connection_goes_on(moto_port: int) -> None:
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "X-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        f"Content-Type: application/x-amz-json-1.0\r\nAuthorization: {SIGNED}\r\n"
    )
    with socket.create_connection(("127.0.0.1", moto_port), timeout=10) as raw:
        reader = raw.makefile("rb")
        raw.sendall(
            f"{head}Transfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n1\r\n}}\r\n0\r\n\r\n".encode()
        )
        status, body = read_answer(reader)
        assert status == 200 and "TableNames" in json.loads(body)
        raw.sendall(f"{head}Content-Length: 2\r\n\r\n{{}}".encode())
        status, body = read_answer(reader)
        assert status == 200 and "TableNames" in json.loads(body)


def test_an_unreadable_length_is_refused_and_the_connection_closed(moto_port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", moto_port, timeout=10)
    connection.putrequest("POST", "/")
    connection.putheader("Content-Length", "-5")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 400 and response.getheader("Connection") == "close"
    connection.close()


def test_s3_through_the_kept_alive_server(moto_port: int) -> None:
    """An upload that waits for `100 Continue`, and a HEAD whose length is the object's
    while it has no body: the next call on the same connection still reads right."""
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{moto_port}",
        region_name="eu-central-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    s3.create_bucket(
        Bucket="kept-alive", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    s3.put_object(Bucket="kept-alive", Key="a.txt", Body=b"hello")
    assert s3.head_object(Bucket="kept-alive", Key="a.txt")["ContentLength"] == 5
    assert s3.get_object(Bucket="kept-alive", Key="a.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="kept-alive")["Contents"]] == ["a.txt"]
