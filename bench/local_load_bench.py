"""The local stack under load: 8 clients at once, each on a kept-alive connection, as a
newcomer's load test or the console's refreshes are. Prints p50 and p99 of
`GET /health` (the floor: the edge alone) and of `POST /tickets` (the whole intake on
moto), and their ratio, both measured against the same stack in the same run (target:
POST p99 within 5 times health's). One ticket is sent first and not timed: a fresh
stack's first ticket is its cold start.

    make run &  # then:
    .venv/bin/python bench/local_load_bench.py [--port 8000] [--aws-port 4599]
        [--clients 8] [--requests 40]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def token(email: str, aws_port: int) -> str:
    sys.path.insert(0, str(ROOT))
    from devtools.server import dev_token

    return str(dev_token(email, False, aws_port))


def client_run(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str], count: int
) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status >= 400:
            raise SystemExit(f"{method} {path}: {response.status}")
        times.append(time.perf_counter() - started)
    connection.close()
    return times


def load(
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    count: int,
    clients: int,
) -> list[float]:
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        runs = [
            pool.submit(client_run, port, method, path, body, headers, count)
            for _ in range(clients)
        ]
        return sorted(t for run in runs for t in run.result())


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--aws-port", type=int, default=4599)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    args = parser.parse_args(argv)
    auth = {
        "Authorization": token("load@example.com", args.aws_port),
        "Content-Type": "application/json",
    }
    ticket = json.dumps({"subject": "Тариф", "text": "Как перейти на тариф побольше?"}).encode()
    # One ticket first: a fresh stack's first ticket loads the routes, the classifier
    # and the clients (the cold start, which bench/coldstart_bench.py measures).
    client_run(args.port, "POST", "/tickets", ticket, auth, 1)
    health = load(args.port, "GET", "/health", None, {}, args.requests, args.clients)
    tickets = load(args.port, "POST", "/tickets", ticket, auth, args.requests, args.clients)
    print(f"== local stack, {args.clients} clients at once, kept-alive, {args.requests} each")
    for name, times in (("GET /health", health), ("POST /tickets", tickets)):
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        print(f"  {name:14} p50 {p50 * 1e3:7.1f} ms   p99 {p99 * 1e3:7.1f} ms")
    ratio = percentile(tickets, 0.99) / percentile(health, 0.99)
    print(f"  POST /tickets p99 / GET /health p99: {ratio:.1f} (target <= 5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
