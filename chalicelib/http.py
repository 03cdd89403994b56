"""The HTTP edge: claims to principals, domain errors to API.md's error shape.

This is the only module besides app.py that knows about Chalice.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalice.app import Request, Response

from chalicelib import observability as obs
from chalicelib.errors import DomainError, InvalidInput
from chalicelib.identity import Principal, principal_from_claims
from chalicelib.timeutil import parse_iso, utc_now

JSON_HEADERS: dict[str, str | list[str]] = {"Content-Type": "application/json; charset=utf-8"}

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


def principal(request: Request) -> Principal:
    """The caller, from the authorizer's claims only (401 without them)."""
    context = request.context or {}
    authorizer = context.get("authorizer") or {}
    return principal_from_claims(authorizer.get("claims"))


def _dumps(body: Any) -> str:
    # Readable UTF-8 rather than \u escapes: most requests are in Russian.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


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
