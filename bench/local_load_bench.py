"""The local stack under load: 8 clients at once, each on a kept-alive connection, as a
newcomer's load test or the console's refreshes are. Prints p50 and p99 of
`GET /health` (the floor: the edge alone) and of `POST /tickets` (the whole intake on
moto), and their ratio, both measured against the same stack in the same run (target:
POST p99 within 5 times health's). Twenty tickets are sent first, one at a time, and
not timed: a fresh stack's first ticket is its cold start, and the next ones are
still slower than the steady state (a first burst of eight tickets took 101 ms at the
median after one ticket, 29 ms after twenty; the bursts after either took 41 to 48).
On Linux it also prints the CPU time each request cost the API's process and the AWS
stand-in's (from /proc): on two cores, the busier of the two sets how fast eight
clients are served.

    make run &  # then:
    .venv/bin/python bench/local_load_bench.py [--port 8000] [--aws-port 4599]
        [--clients 8] [--requests 100] [--warm-up 20]

Each p99 is read from 800 answers (100 per client). From 320, as it was, it was the
fourth slowest answer, and the same code's ratio ranged from 2.7 to 5.5 over six runs;
from 800, 3.0 to 4.2 over six runs in the same sitting.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
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


def listener(port: int) -> int | None:
    """The process listening on a loopback port, from /proc (Linux); None elsewhere."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for process in Path("/proc").glob("[0-9]*"):
        try:
            if any(os.readlink(fd) in inodes for fd in (process / "fd").iterdir()):
                return int(process.name)
        except OSError:
            continue
    return None


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU time of a process so far (0 where /proc is not there)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--aws-port", type=int, default=4599)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100, help="per client")
    parser.add_argument("--warm-up", type=int, default=20, help="untimed tickets first")
    args = parser.parse_args(argv)
    auth = {
        "Authorization": token("load@example.com", args.aws_port),
        "Content-Type": "application/json",
    }
    ticket = json.dumps({"subject": "Тариф", "text": "Как перейти на тариф побольше?"}).encode()
    # A fresh stack's first ticket loads the routes, the classifier and the clients
    # (the cold start, which bench/coldstart_bench.py measures); the next ones warm
    # the rest (see above). None of them is timed.
    client_run(args.port, "POST", "/tickets", ticket, auth, max(args.warm_up, 1))
    api, aws = listener(args.port), listener(args.aws_port)
    spent: dict[str, tuple[float, float]] = {}
    before = cpu_seconds(api), cpu_seconds(aws)
    health = load(args.port, "GET", "/health", None, {}, args.requests, args.clients)
    middle = cpu_seconds(api), cpu_seconds(aws)
    tickets = load(args.port, "POST", "/tickets", ticket, auth, args.requests, args.clients)
    after = cpu_seconds(api), cpu_seconds(aws)
    count = args.requests * args.clients
    spent["GET /health"] = ((middle[0] - before[0]) / count, (middle[1] - before[1]) / count)
    spent["POST /tickets"] = ((after[0] - middle[0]) / count, (after[1] - middle[1]) / count)
    print(f"== local stack, {args.clients} clients at once, kept-alive, {args.requests} each")
    for name, times in (("GET /health", health), ("POST /tickets", tickets)):
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        print(f"  {name:14} p50 {p50 * 1e3:7.1f} ms   p99 {p99 * 1e3:7.1f} ms")
    ratio = percentile(tickets, 0.99) / percentile(health, 0.99)
    print(f"  POST /tickets p99 / GET /health p99: {ratio:.1f} (target <= 5)")
    if api and aws:  # what each request cost each process, background work included
        print("  CPU per request, the API's process / the AWS stand-in's:")
        for name, (in_api, in_aws) in spent.items():
            print(f"  {name:14} {in_api * 1e3:6.2f} ms / {in_aws * 1e3:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
