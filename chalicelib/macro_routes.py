"""The routes of the team's canned replies (API.md, "Working as a team"), a blueprint
of the app: `/staff/macros`, staff only, through the same route decorator."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib import http
from chalicelib.blueprints import RouteSet
from chalicelib.domain.identity import Principal

macro_routes = Blueprint(__name__)
routes = RouteSet(macro_routes)
api = routes.api


@api("GET", "/staff/macros", access="staff")
def list_macros(who: Principal) -> Response:
    request = routes.query().get("request")
    return http.json_response(routes.runtime().macros.listing(who, request))


@api("POST", "/staff/macros", access="staff")
def create_macro(who: Principal) -> Response:
    macro = routes.runtime().macros.create(who, routes.body())
    return http.created(routes.current(), macro.to_api(), f"/staff/macros/{macro.id}")


@api("PUT", "/staff/macros/{macro_id}", access="staff")
def change_macro(who: Principal, macro_id: str) -> Response:
    return http.json_response(routes.runtime().macros.change(who, macro_id, routes.body()).to_api())


@api("DELETE", "/staff/macros/{macro_id}", access="staff")
def delete_macro(who: Principal, macro_id: str) -> Response:
    routes.runtime().macros.delete(who, macro_id)
    return Response(body="", status_code=204)
