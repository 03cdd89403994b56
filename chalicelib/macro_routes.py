"""The routes of the team's canned replies (API.md, "Working as a team"), a blueprint
of the app: `/staff/macros`, staff only, through the same route decorator."""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib import http
from chalicelib.domain.identity import Principal
from chalicelib.runtime import Runtime, get_runtime
from chalicelib.validation import parse_json_object

macro_routes = Blueprint(__name__)


def _runtime() -> Runtime:
    return get_runtime(os.environ)


def _current() -> Request:
    request = macro_routes.current_request
    assert request is not None, "only HTTP routes read the current request"
    return request


def _body() -> dict[str, Any]:
    return parse_json_object(http.body_bytes(_current()), _runtime().settings.max_body_bytes)


api = http.routes(macro_routes, http.CABINET_USERS, _current)


@api("GET", "/staff/macros", access="staff")
def list_macros(who: Principal) -> Response:
    request = http.query_params(_current()).get("request")
    return http.json_response(_runtime().macros.listing(who, request))


@api("POST", "/staff/macros", access="staff")
def create_macro(who: Principal) -> Response:
    macro = _runtime().macros.create(who, _body())
    return http.created(_current(), macro.to_api(), f"/staff/macros/{macro.id}")


@api("PUT", "/staff/macros/{macro_id}", access="staff")
def change_macro(who: Principal, macro_id: str) -> Response:
    return http.json_response(_runtime().macros.change(who, macro_id, _body()).to_api())


@api("DELETE", "/staff/macros/{macro_id}", access="staff")
def delete_macro(who: Principal, macro_id: str) -> Response:
    _runtime().macros.delete(who, macro_id)
    return Response(body="", status_code=204)
