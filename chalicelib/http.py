"""The HTTP edge: claims to principals, domain errors to API.md's error shape.

This is the only module besides app.py that knows about Chalice.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from chalice.app import (
    Authorizer,
    Blueprint,
    Chalice,
    CognitoUserPoolAuthorizer,
    Request,
    Response,
)

from chalicelib import observability as obs
from chalicelib.domain.identity import Principal, principal_from_claims, require_staff
from chalicelib.errors import DomainError, InvalidInput, NotFound
from chalicelib.ids import is_request_id
from chalicelib.timeutil import parse_iso, utc_now

JSON_HEADERS: dict[str, str | list[str]] = {"Content-Type": "application/json; charset=utf-8"}
# CORS (API.md, Conventions): what a browser on an allowed origin may send and read.
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key"
EXPOSED_HEADERS = "Location, Idempotent-Replayed"
PREFLIGHT_MAX_AGE = "600"

# Chalice's own refusals (415, 405, ...) come as {"Code", "Message"}; rename them.
_CHALICE_CODES = {
    "UnsupportedMediaType": "unsupported_media_type",
    "MethodNotAllowedError": "method_not_allowed",
    "BadRequestError": "bad_request",
    "BadRequest": "bad_request",
    "NotFoundError": "not_found",
    "UnauthorizedError": "unauthenticated",
    "ForbiddenError": "forbidden",
    "ConflictError": "conflict",
    "RequestTimeoutError": "request_timeout",
    "TooManyRequestsError": "too_many_requests",
    "InternalServerError": "internal_error",
}


@functools.cache
def openapi_document() -> str:
    """`openapi.json` as shipped in the bundle (the project root links to it)."""
    return (Path(__file__).parent / "openapi.json").read_text(encoding="utf-8")


def principal(request: Request) -> Principal:
    """The caller, from the authorizer's claims only (401 without them)."""
    context = request.context or {}
    authorizer = context.get("authorizer") or {}
    return principal_from_claims(authorizer.get("claims"))


def _dumps(body: Any) -> str:
    # Readable UTF-8 rather than \u escapes: most requests are in Russian.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def query_params(request: Request) -> dict[str, str]:
    """The query string's parameters (the last value of each)."""
    return {str(k): str(v) for k, v in (request.query_params or {}).items()}


def body_bytes(request: Request) -> bytes:
    """The request's body as bytes (Chalice hands text or bytes)."""
    body = request.raw_body
    return body.encode() if isinstance(body, str) else bytes(body or b"")


def request_id(value: str) -> str:
    """A `{ticket_id}` path parameter: anything not shaped like our ids is unknown (404),
    before it reaches a key (DynamoDB refuses keys over 2 KB with a 400 of its own)."""
    if not is_request_id(value):
        raise NotFound("ticket_not_found", "no such ticket")
    return value


def instant_param(raw: str | None) -> datetime:
    """An `at=` query parameter: ISO 8601 with offset, or now when absent."""
    if raw is None or raw == "":
        return utc_now()
    try:
        return parse_iso(raw)
    except ValueError:
        raise InvalidInput(
            "invalid_at", "`at` must be an ISO 8601 time with an offset", field="at"
        ) from None


def error_response(error: DomainError) -> Response:
    return Response(body=_dumps(error.to_body()), status_code=error.status, headers=JSON_HEADERS)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str | list[str]] | None = None
) -> Response:
    return Response(
        body=_dumps(body), status_code=status, headers={**JSON_HEADERS, **(headers or {})}
    )


PAGE_HEADERS: dict[str, str | list[str]] = {
    "Content-Type": "text/html; charset=utf-8",
    # A page of our own HTML only: no script at all, forms back to this address.
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def created(request: Request, body: Any, path: str, *, replayed: bool = False) -> Response:
    """201 with `Location`, and `Idempotent-Replayed: true` for a replayed create."""
    headers: dict[str, str | list[str]] = {"Location": location(request, path)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(body, 201, headers)


def page_response(body: str, status: int = 200) -> Response:
    """An HTML page of our own (the rating page): no script, never cached."""
    return Response(body=body, status_code=status, headers=PAGE_HEADERS)


def api_view(view: Callable[..., Response]) -> Callable[..., Response]:
    """Map domain errors to their 4xx and anything unexpected to a logged 500."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            obs.count(obs.REQUESTS_REJECTED, reason=error.code)
            return error_response(error)
        except Exception:
            # Caught to answer in the error shape, so Lambda's Errors stays at 0: the
            # UnhandledErrors metric is what alarms on a bug.
            obs.unhandled("api")
            obs.logger.exception("unhandled error")
            return Response(
                body=_dumps({"error": {"code": "internal_error", "message": "internal error"}}),
                status_code=500,
                headers=JSON_HEADERS,
            )

    return wrapper


def reshape_chalice_errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """HTTP middleware: every error body leaves in the API.md shape."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, (dict, str, bytes)):
        parsed = body
        if isinstance(body, (str, bytes)):
            try:
                parsed = json.loads(body)
            except ValueError:
                return response
        if isinstance(parsed, dict) and "Code" in parsed and "error" not in parsed:
            code = _CHALICE_CODES.get(str(parsed["Code"]), "error")
            response.body = _dumps(
                {"error": {"code": code, "message": str(parsed.get("Message", ""))}}
            )
            response.headers = {**(response.headers or {}), **JSON_HEADERS}
    return response


def request_header(request: Request, name: str) -> str | None:
    """A request header by lower-case name (Chalice's mapping is case-insensitive)."""
    headers: Any = request.headers
    value = headers.get(name) if headers else None
    return None if value is None else str(value)


def cors_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """Headers that let a browser on an allowed origin read the response.

    The origin is echoed only when it is configured; `Vary: Origin` keeps caches from
    serving one origin's answer to another.
    """
    headers = {"Vary": "Origin"}
    if origin and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return headers


def with_cors(
    event: Request, get_response: Callable[[Request], Response], allowed: tuple[str, ...]
) -> Response:
    """HTTP middleware: CORS headers on every response, success and error alike."""
    response = get_response(event)
    origin = request_header(event, "origin")
    response.headers = {**(response.headers or {}), **cors_headers(origin, allowed)}
    return response


def preflight(request: Request, allowed: tuple[str, ...], methods: list[str]) -> Response:
    """The answer to a browser's OPTIONS preflight for one route."""
    origin = request_header(request, "origin")
    if not origin or origin not in allowed:
        body = {
            "error": {"code": "origin_not_allowed", "message": "this origin may not call the API"}
        }
        return Response(
            body=_dumps(body), status_code=403, headers={**JSON_HEADERS, "Vary": "Origin"}
        )
    return Response(
        body="",
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join([*methods, "OPTIONS"]),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        },
    )


_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?")


def absolute(request: Request, path: str) -> str:
    """`location` as an absolute URL, for links that leave the API (feeds, pages).

    Behind API Gateway the host is the request context's `domainName` (the gateway's, over
    HTTPS only); the local stack has no context domain, and answers over HTTP on the `Host`
    it was reached by. A host that is not a host name is left out (the link stays relative).
    """
    context = request.context or {}
    domain = str(context.get("domainName") or "")
    if _HOST.fullmatch(domain):
        return f"https://{domain}{location(request, path)}"
    host = str(request.headers.get("host") or "")
    return (
        f"http://{host}{location(request, path)}"
        if _HOST.fullmatch(host)
        else location(request, path)
    )


def location(request: Request, path: str) -> str:
    """`path` under the API's base URL as the caller reached it.

    Behind the execute-api URL the stage is part of the path (`/api/tickets/...`), behind
    a custom domain the base path mapping is; both are what the request's own path has
    in front of the route it matched.
    """
    context = request.context or {}
    full = str(context.get("path") or "")
    concrete = str(context.get("resourcePath") or "")
    for name, value in (request.uri_params or {}).items():
        concrete = concrete.replace("{" + name + "}", str(value))
    base = full[: len(full) - len(concrete)] if concrete and full.endswith(concrete) else ""
    return base.rstrip("/") + path


def add_preflights(
    app: Chalice, current: Callable[[], Request], origins: Callable[[], tuple[str, ...]]
) -> None:
    """An OPTIONS route for every path of `app`. A browser asks before it sends
    Authorization or JSON across origins; API Gateway sends OPTIONS to the function like
    any route (no authorizer), and chalice local calls it too, so the allowed origins are
    checked in one place."""

    def view(methods: list[str]) -> Callable[..., Response]:
        def answer(**_uri_params: str) -> Response:
            return preflight(current(), origins(), methods)

        return answer

    for path, views in list(app.routes.items()):
        app.route(path, methods=["OPTIONS"], name=f"preflight {path}")(view(sorted(views)))


Access = Literal["anyone", "signed_in", "staff"]
View = Callable[..., Response]


# The cabinet's user pool: customers and staff (the `staff` group) sign in to it.
CABINET_USERS = CognitoUserPoolAuthorizer(
    "SupportUsers",
    provider_arns=[
        os.environ.get(
            "USER_POOL_ARN", "arn:aws:cognito-idp:eu-central-1:123456789012:userpool/local"
        )
    ],
)


def routes(
    app: Chalice | Blueprint, authorizer: Authorizer, current: Callable[[], Request]
) -> Callable[..., Callable[[View], View]]:
    """The route decorator of `app`: `@api(method, path, access="signed_in"|"staff"|
    "anyone", **chalice_options)`. In this order for every route: the error shape for
    whatever goes wrong (`api_view`); the caller from the token's claims (401 without
    one) passed to the view as `who`; staff routes refuse anyone else (403) before a
    body or an id is read, so a customer learns nothing from a 400 or a 404; a
    `{ticket_id}` not shaped like our ids is 404 before it reaches a key."""

    def api(
        method: str, path: str, access: Access = "signed_in", **options: Any
    ) -> Callable[[View], View]:
        def register(view: View) -> View:
            @functools.wraps(view)
            def signed_in(**params: str) -> Response:
                who = principal(current())
                if access == "staff":
                    require_staff(who)
                if "ticket_id" in params:
                    params["ticket_id"] = request_id(params["ticket_id"])
                return view(who, **params)

            handler = view if access == "anyone" else signed_in
            guard = None if access == "anyone" else authorizer
            wrapped = api_view(handler)
            app.route(path, methods=[method], authorizer=guard, **options)(wrapped)
            return wrapped

        return register

    return api
