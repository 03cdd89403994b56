"""The staff console as the local stack serves it (API.md, "The staff console"): the
static files of `console/` under `/console/`, its `config.json`, and a local-only sign-in
page that mints a staff token. Deployed, the console is hosted on S3 behind CloudFront and
staff sign in through the Cognito hosted UI; this module never ships (it is not in
`chalicelib/`, and the template has no route for it: a test checks)."""

from __future__ import annotations

import html
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
# The same policy the deployed console's CloudFront response headers carry (there with the
# API's and the sign-in domain's origins in connect-src): no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
FORM_MAX = 4096

Minter = Callable[[str, str | None, bool], str]


def _response(status: int, body: bytes | str, content_type: str, **extra: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            **SECURITY_HEADERS,
            **extra,
        },
        "multiValueHeaders": {},
        "body": body if isinstance(body, bytes) else body.encode(),
    }


def _not_found() -> dict[str, Any]:
    body = json.dumps({"error": {"code": "not_found", "message": "no such file"}})
    return _response(404, body, "application/json")


def handles(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


def respond(method: str, raw_path: str, body: bytes | None, mint: Minter) -> dict[str, Any]:
    """The local stack's answer for a path under `/console`."""
    path = raw_path.split("?", 1)[0]
    query = raw_path.split("?", 1)[1] if "?" in raw_path else ""
    if path == "/console":
        return _response(301, b"", "text/plain", Location="/console/")
    name = path.removeprefix("/console/") or "index.html"
    if name == "dev-signin":
        if method == "POST":
            return _sign_in(body or b"", mint)
        if method == "GET":
            return _sign_in_page(parse_qs(query))
    if method not in ("GET", "HEAD"):
        return _response(405, b"", "text/plain", Allow="GET, HEAD")
    if name == "config.json":  # where the API is (beside the console) and how to sign in
        return _response(200, json.dumps({"signin": "dev", "api": ""}), TYPES[".json"])
    return _static(name)


def _static(name: str) -> dict[str, Any]:
    target = (CONSOLE_DIR / name).resolve()
    if CONSOLE_DIR not in target.parents or not target.is_file():
        return _not_found()  # outside the folder (`..`), or no such file
    kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    if kind is None:
        return _not_found()
    return _response(200, target.read_bytes(), kind)


def _field(values: dict[str, list[str]], name: str) -> str:
    return (values.get(name) or [""])[0].strip()


def _sign_in_page(values: dict[str, list[str]], error: str = "") -> dict[str, Any]:
    back = html.escape(_field(values, "to") or "#/queue")
    reason = html.escape(_field(values, "reason"))
    note = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    if reason:
        note += f'<p role="status">{reason}</p>'
    if _field(values, "signed_out"):
        note += '<p role="status">Вы вышли. / You are signed out.</p>'
    page = f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Вход для сотрудников / Staff sign-in (local)</title>
<link rel="stylesheet" href="style.css"></head>
<body><main class="signin">
<h1>Вход для сотрудников <span lang="en">/ Staff sign-in</span></h1>
<p>Локальный стенд: вход без пароля. <span lang="en">The local stack: no password.
Deployed, staff sign in through Cognito.</span></p>{note}
<form method="post" action="dev-signin">
<input type="hidden" name="to" value="{back}">
<div class="field"><label for="email">E-mail</label>
<input id="email" name="email" type="email" required autocomplete="username"
 value="agent@example.com"></div>
<div class="field"><label for="name">Имя <span lang="en">/ Name</span></label>
<input id="name" name="name" type="text" maxlength="64" value="Агент"></div>
<div class="field"><label><input type="checkbox" name="staff" value="1" checked>
Сотрудник (группа staff) <span lang="en">/ Staff member</span></label></div>
<button type="submit" class="primary">Войти <span lang="en">/ Sign in</span></button>
</form></main></body></html>"""
    return _response(200, page, TYPES[".html"])


def _sign_in(body: bytes, mint: Minter) -> dict[str, Any]:
    if len(body) > FORM_MAX:
        return _sign_in_page({}, "The form is too large.")
    try:
        values = parse_qs(body.decode("utf-8"), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return _sign_in_page({}, "The form could not be read.")
    email, name = _field(values, "email"), _field(values, "name")[:64] or None
    if "@" not in email or len(email) > 254:
        return _sign_in_page(values, "Enter an e-mail address. / Укажите адрес.")
    token = mint(email, name, bool(_field(values, "staff")))
    back = _field(values, "to") or "#/queue"
    if not back.startswith("#/"):
        back = "#/queue"
    location = f"/console/#token={quote(token, safe='')}&to={quote(back, safe='')}"
    return _response(303, b"", "text/plain", Location=location)
