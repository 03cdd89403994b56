"""The public status page (R3.3; API.md, "The staff console and the public status page"):
`GET /status` answers a browser with this HTML, everyone else with JSON.

One page in Russian and English: each service's state, the active incidents with their
latest update, upcoming and current maintenance, and a link to the Atom feed. No script;
its one style block is allowed by hash in the Content-Security-Policy, so the page needs
no `unsafe-inline`.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.timeutil import parse_iso

SERVICE_NAMES = {
    "cabinet": ("Личный кабинет", "Customer account"),
    "panel": ("Панель управления", "Control panel"),
    "email": ("Почта", "E-mail"),
    "mysql": ("MySQL", "MySQL"),
    "apache": ("Веб-сервер (Apache)", "Web server (Apache)"),
    "ftp": ("FTP", "FTP"),
    "ssh": ("SSH", "SSH"),
}
STATE_NAMES = {
    "operational": ("Работает", "Operational"),
    "degraded": ("Работает с перебоями", "Degraded"),
    "outage": ("Не работает", "Outage"),
    "maintenance": ("Плановые работы", "Maintenance"),
    "investigating": ("Выясняем причину", "Investigating"),
    "identified": ("Причина найдена", "Identified"),
    "monitoring": ("Наблюдаем", "Monitoring"),
    "scheduled": ("Запланированы", "Scheduled"),
    "in_progress": ("Идут", "In progress"),
}

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}"
    "main{max-width:46rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}"
    "table{border-collapse:collapse;width:100%;background:#fff}"
    "th,td{text-align:left;padding:.5rem;border-bottom:1px solid #d5d9de}"
    ".operational{color:#116329}.degraded,.maintenance{color:#7a4b00}.outage{color:#a40e26}"
    "article{background:#fff;border:1px solid #d5d9de;border-radius:6px;padding:.5rem 1rem;"
    "margin:.5rem 0}.en{color:#4b535c}a{color:#0b5cad}"
)
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
PAGE_HEADERS: dict[str, str | list[str]] = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{STYLE_HASH}'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def prefers_html(accept: str | None) -> bool:
    """Whether an `Accept` header ranks `text/html` above JSON (RFC 9110, 12.5.1):
    a browser's does; curl's `*/*` and an API client's `application/json` do not."""
    html_q = json_q = 0.0
    for part in (accept or "")[:1024].split(","):
        kind, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        kind = kind.strip().lower()
        if kind in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, q)
        elif kind in ("application/json", "application/*"):
            json_q = max(json_q, q)
    return html_q > json_q


def _both(pair: tuple[str, str]) -> str:
    ru, en = (html.escape(p) for p in pair)
    return ru if ru == en else f'{ru} <span class="en" lang="en">/ {en}</span>'


def _when(value: str | None, timezone: str) -> str:
    if not value:
        return ""
    try:
        at = parse_iso(value).astimezone(ZoneInfo(timezone))
    except (ValueError, KeyError):
        return html.escape(value)
    return f'<time datetime="{html.escape(value)}">{at:%d.%m.%Y %H:%M} ({timezone})</time>'


def _incident(item: dict[str, Any], timezone: str) -> str:
    latest = item.get("latest_update") or {}
    services = ", ".join(_both(SERVICE_NAMES.get(s, (s, s))) for s in item.get("services", []))
    state = str(item.get("state", ""))
    window = ""
    if item.get("starts_at"):
        window = (
            f"<p>{_when(item.get('starts_at'), timezone)} — "
            f"{_when(item.get('ends_at'), timezone)}</p>"
        )
    message = html.escape(str(latest.get("message", "")))
    return (
        f"<article><h3>{html.escape(str(item.get('title', '')))}</h3>"
        f"<p>{_both(STATE_NAMES.get(state, (state, state)))} · {services}</p>{window}"
        f"<p>{message}</p><p>{_when(latest.get('at'), timezone)}</p></article>"
    )


def status_page(status: dict[str, Any], feed_url: str, timezone: str) -> str:
    """The HTML page of `GET /status` (the same data as its JSON)."""
    rows = "".join(
        f'<tr><th scope="row">{_both(SERVICE_NAMES.get(name, (name, name)))}</th>'
        f'<td class="{html.escape(state)}">{_both(STATE_NAMES.get(state, (state, state)))}</td>'
        "</tr>"
        for name, state in status.get("services", {}).items()
    )
    incidents = "".join(_incident(i, timezone) for i in status.get("incidents", [])) or (
        f"<p>{_both(('Сейчас инцидентов нет.', 'No incidents right now.'))}</p>"
    )
    maintenance = "".join(_incident(i, timezone) for i in status.get("maintenance", [])) or (
        f"<p>{_both(('Плановых работ не запланировано.', 'No maintenance planned.'))}</p>"
    )
    feed = html.escape(feed_url)
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Состояние сервисов / Service status</title>"
        f'<link rel="alternate" type="application/atom+xml" href="{feed}">'
        f"<style>{_STYLE}</style></head><body><main>"
        f"<h1>{_both(('Состояние сервисов', 'Service status'))}</h1>"
        f"<p>{_both(('Обновлено', 'Updated'))}: {_when(status.get('at'), timezone)}</p>"
        f"<table><caption>{_both(('Сервисы', 'Services'))}</caption>"
        f'<thead><tr><th scope="col">{_both(("Сервис", "Service"))}</th>'
        f'<th scope="col">{_both(("Состояние", "State"))}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        f"<h2>{_both(('Инциденты', 'Incidents'))}</h2>{incidents}"
        f"<h2>{_both(('Плановые работы', 'Maintenance'))}</h2>{maintenance}"
        f'<p><a href="{feed}">{_both(("Лента обновлений (Atom)", "Updates feed (Atom)"))}</a>'
        "</p></main></body></html>"
    )
