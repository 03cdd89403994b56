"""Threads started together and switching places as often as CPython lets them: the
races of the local stack's concurrent requests and of the outbox drain's senders."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


def at_once(work: Callable[[int], None], threads: int = 8) -> None:
    """Run `work(0)` to `work(threads - 1)`, each on its own thread, and wait for all."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
