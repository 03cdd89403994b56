"""The routes of service status and incidents (R3.3; API.md, "Service status, maintenance
and incidents"), a blueprint of the app: the staff board, the public status page (HTML for
a browser, JSON for the rest) and its Atom feed."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib import http
from chalicelib.blueprints import RouteSet
from chalicelib.domain.identity import Principal
from chalicelib.status.incident_forms import parse_new_incident, parse_request_ids, parse_update
from chalicelib.status.page import PAGE_HEADERS, prefers_html, status_page
from chalicelib.validation import limit_param

ATOM = "application/atom+xml; charset=utf-8"
status_routes = Blueprint(__name__)
routes = RouteSet(status_routes)
api = routes.api


@api("PUT", "/tickets/{ticket_id}/incident", access="staff")
def put_incident_link(who: Principal, ticket_id: str) -> Response:
    return http.json_response(
        routes.runtime().board.link(who, ticket_id, routes.body()).to_api(staff_view=True)
    )


@api("POST", "/staff/incidents", access="staff")
def create_incident(who: Principal) -> Response:
    incident = routes.runtime().board.create(who, parse_new_incident(routes.body()))
    return http.created(routes.current(), incident.to_api(), f"/staff/incidents/{incident.id}")


@api("GET", "/staff/incidents", access="staff")
def list_incidents(who: Principal) -> Response:
    params = routes.query()
    limit = limit_param(params.get("limit"))
    return http.json_response(routes.runtime().board.listing(who, limit, params.get("next")))


@api("POST", "/staff/incidents/{incident_id}/links", access="staff")
def link_requests(who: Principal, incident_id: str) -> Response:
    ids = parse_request_ids(routes.body())
    return http.json_response(routes.runtime().board.link_many(who, incident_id, ids))


@api("GET", "/staff/incidents/{incident_id}", access="staff")
def get_incident(who: Principal, incident_id: str) -> Response:
    return http.json_response(routes.runtime().board.get(who, incident_id).to_api())


@api("GET", "/staff/incidents/{incident_id}/requests", access="staff")
def incident_requests(who: Principal, incident_id: str) -> Response:
    params = routes.query()
    limit, token = limit_param(params.get("limit")), params.get("next")
    return http.json_response(
        routes.runtime().board.linked_requests(who, incident_id, limit, token)
    )


@api("POST", "/staff/incidents/{incident_id}/updates", access="staff")
def post_incident_update(who: Principal, incident_id: str) -> Response:
    board = routes.runtime().board
    incident = board.get(who, incident_id)  # staff only, and 404 before the body
    updated = board.post_update(who, incident.id, parse_update(routes.body(), incident.kind))
    return http.created(routes.current(), updated.to_api(), f"/staff/incidents/{incident.id}")


@api("GET", "/status", access="anyone")
def service_status() -> Response:
    """R3.3: each service's state, active incidents, upcoming and current maintenance; an
    HTML page for a browser (its `Accept` prefers HTML), JSON for everyone else."""
    runtime, request = routes.runtime(), routes.current()
    status = runtime.board.status()
    if not prefers_html(request.headers.get("accept")):
        return http.json_response(status, headers={"Vary": "Accept"})
    page = status_page(status, http.absolute(request, "/status/feed"), runtime.settings.timezone)
    return Response(body=page, status_code=200, headers={**PAGE_HEADERS, "Vary": "Accept"})


@api("GET", "/status/feed", access="anyone")
def service_status_feed() -> Response:
    """The same as an Atom feed, for status-page readers (absolute links: RFC 4287)."""
    request = routes.current()
    feed = routes.runtime().board.feed(
        http.absolute(request, "/status/feed"), http.absolute(request, "/status")
    )
    return Response(body=feed, status_code=200, headers={"Content-Type": ATOM})
