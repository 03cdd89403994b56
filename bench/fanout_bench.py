"""One incident update with notify, against a running `make run`: how long until every
linked request is answered (target: 1,000 within 5 minutes). The update's call answers
what its time allows; the rest continues from the outbox, page after page, in the
sweep's drain (the local stack sweeps every minute, as EventBridge does).

    make run &  # then:
    .venv/bin/python bench/fanout_bench.py [--linked 1000] [--port 8000] [--aws-port 4599]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PER_CUSTOMER = 10  # under the daily allowance of mails to one address
DB_DOWN = "MySQL не отвечает, ошибка подключения к базе данных"


def token(email: str, staff: bool, aws_port: int) -> str:
    sys.path.insert(0, str(ROOT))
    from devtools.server import dev_token

    return str(dev_token(email, staff, aws_port))


def call(
    connection: http.client.HTTPConnection, method: str, path: str, auth: str, body: Any = None
) -> Any:
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status >= 400:
        raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data else None


def open_tickets(port: int, auth: str, count: int) -> list[str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = {"subject": "База данных", "text": DB_DOWN}
    return [call(connection, "POST", "/tickets", auth, body)["id"] for _ in range(count)]


def answered(port: int, staff: str, incident: str) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    done = total = 0
    token_: str | None = None
    while True:
        query = f"?limit=100{'&next=' + token_ if token_ else ''}"
        page = call(connection, "GET", f"/staff/incidents/{incident}/requests{query}", staff)
        total += len(page["items"])
        done += sum(1 for item in page["items"] if item["status"] == "answered")
        if not (token_ := page.get("next")):
            return done, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--aws-port", type=int, default=4599)
    parser.add_argument("--linked", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    staff = token("lead@example.com", True, args.aws_port)
    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
    incident = call(
        connection,
        "POST",
        "/staff/incidents",
        staff,
        {"kind": "incident", "services": ["mysql"], "title": "MySQL", "message": "Разбираемся."},
    )["id"]
    customers = [
        token(f"fanout{n}@example.com", False, args.aws_port)
        for n in range((args.linked + PER_CUSTOMER - 1) // PER_CUSTOMER)
    ]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        shares = [min(PER_CUSTOMER, args.linked - i * PER_CUSTOMER) for i in range(len(customers))]
        made = sum(
            len(f.result())
            for f in [
                pool.submit(open_tickets, args.port, auth, share)
                for auth, share in zip(customers, shares, strict=True)
            ]
        )
    seeded = time.perf_counter() - started
    update = {"message": "Причина найдена, восстанавливаем.", "state": "identified", "notify": True}
    started = time.perf_counter()
    call(connection, "POST", f"/staff/incidents/{incident}/updates", staff, update)
    in_call = time.perf_counter() - started
    first, linked = answered(args.port, staff, incident)
    done = first
    while done < linked and time.perf_counter() - started < args.timeout:
        time.sleep(20)  # reading every linked request is load on the stack too
        done, linked = answered(args.port, staff, incident)
    elapsed = time.perf_counter() - started
    print(f"== incident update with notify, {made} requests opened in {seeded:.0f} s")
    print(f"linked {linked}; answered by the update's own call ({in_call:.1f} s): {first}")
    print(
        f"all {done} of {linked} answered {elapsed:.0f} s after the update (target: 1,000 in 300 s)"
    )
    return 0 if done == linked else 1


if __name__ == "__main__":
    raise SystemExit(main())
