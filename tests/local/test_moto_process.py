"""The local stack's AWS stand-in runs in a process of its own (issue 29: in the API's
process, moto's work and the API's took turns on one interpreter lock). It answers once
started, and it never outlives the stack that started it, however that stack ends."""

from __future__ import annotations

import subprocess
import sys
import time

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
