"""Chalice app: routes and event handlers only; chalicelib decides."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.logging import correlation_paths
from chalice.app import (
    Chalice,
    ConvertToMiddleware,
    Rate,
    Request,
    Response,
    SQSEvent,
)

from chalicelib import http, observability as obs
from chalicelib.blueprints import RouteSet
from chalicelib.config import settings_from
from chalicelib.domain.identity import Principal
from chalicelib.intake.cabinet import parse_new_message, parse_new_ticket
from chalicelib.intake.chat import signed_transcript
from chalicelib.lifecycle import parse_status
from chalicelib.macro_routes import macro_routes
from chalicelib.observability import logger, metrics, tracer
from chalicelib.ratings import parse_rating, parse_rating_form, rating_page
from chalicelib.staff.forms import (
    parse_delay_notice_request,
    parse_note,
    parse_scope_correction,
    parse_staff_response,
)
from chalicelib.staff.queries import parse_contact, parse_queue_filter
from chalicelib.staff.search import parse_search
from chalicelib.staff.suppressions import address_param
from chalicelib.staff.team import parse_assignee
from chalicelib.status_routes import status_routes
from chalicelib.uploads import parse_new_attachment
from chalicelib.validation import idempotency_key, limit_param

app = Chalice(app_name="support-intake")
app.register_middleware(
    ConvertToMiddleware(
        logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    ),
    "http",
)
app.register_middleware(ConvertToMiddleware(metrics.log_metrics), "all")
app.register_middleware(ConvertToMiddleware(tracer.capture_lambda_handler), "all")
app.register_middleware(http.reshape_chalice_errors, "http")


@app.middleware("http")
def cors(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """CORS on every response for the configured cabinet origins (API.md, Conventions)."""
    obs.count(obs.API_REQUESTS)
    return http.with_cors(event, get_response, allowed_origins())


def allowed_origins() -> tuple[str, ...]:
    return settings_from(os.environ).cors_origins  # per request: tests change the stage


# Every route of the public interface: the error shape, the caller as `who` (401), the
# staff check before the body or the id (403), the id's shape (404); see `http.routes`.
routes = RouteSet(app)
api = routes.api
runtime, current, query, raw_body = routes.runtime, routes.current, routes.query, routes.raw_body


def created(body: dict[str, Any], path: str, *, replayed: bool = False) -> Response:
    """201 with `Location` (messages, answers and notices point at their request's
    thread); `Idempotent-Replayed` when this is the first answer again."""
    return http.created(current(), body, path, replayed=replayed)


_body = routes.body


@app.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@api("POST", "/tickets")
def create_ticket(who: Principal) -> Response:
    new = parse_new_ticket(_body())
    key = current().headers.get("idempotency-key")
    body, new_ticket = runtime().cabinet.create_ticket(who, new, key)
    return created(body, f"/tickets/{body['id']}", replayed=not new_ticket)


@api("GET", "/tickets")
def list_tickets(who: Principal) -> Response:
    params = query()
    page = runtime().cabinet.list_tickets(who, limit_param(params.get("limit")), params.get("next"))
    return http.json_response(page.to_api())


@api("GET", "/tickets/{ticket_id}")
def get_ticket(who: Principal, ticket_id: str) -> Response:
    thread = runtime().cabinet.thread(who, ticket_id)
    listing = runtime().attachments.listing(thread)
    return http.json_response(thread.to_api(listing, staff_view=who.is_staff))


@api("POST", "/tickets/{ticket_id}/attachments")
def post_attachment(who: Principal, ticket_id: str) -> Response:
    new = parse_new_attachment(_body(), runtime().settings.attachment_max_bytes)
    body = runtime().attachments.announce(who, ticket_id, new)
    return created(body, f"/tickets/{ticket_id}/attachments/{body['id']}")


@api("GET", "/tickets/{ticket_id}/attachments/{attachment_id}")
def get_attachment(who: Principal, ticket_id: str, attachment_id: str) -> Response:
    return http.json_response(runtime().attachments.one(who, ticket_id, attachment_id))


@api("POST", "/tickets/{ticket_id}/messages")
def post_message(who: Principal, ticket_id: str) -> Response:
    text = parse_new_message(_body())
    message = runtime().cabinet.add_message(who, ticket_id, text)
    return created(message.to_api(who.is_staff), f"/tickets/{ticket_id}")


@api("PUT", "/tickets/{ticket_id}/status")
def put_status(who: Principal, ticket_id: str) -> Response:
    move = parse_status(_body())
    ticket = runtime().lifecycle.set_status(who, ticket_id, move.status, move.text)
    return http.json_response(ticket.to_api(who.is_staff))


@api("GET", "/staff/queue", access="staff")
def staff_queue(who: Principal) -> Response:
    params = query()
    limit, token = limit_param(params.get("limit")), params.get("next")
    filters = parse_queue_filter(params)
    return http.json_response(runtime().desk.queue(who, limit, token, filters))


@api("GET", "/staff/search", access="staff")
def staff_search(who: Principal) -> Response:
    params = query()
    limit, token = limit_param(params.get("limit")), params.get("next")
    return http.json_response(runtime().search.search(who, parse_search(params), limit, token))


@api("GET", "/staff/tickets", access="staff")
def staff_tickets(who: Principal) -> Response:
    params = query()
    limit, token = limit_param(params.get("limit")), params.get("next")
    page = runtime().desk.lookup(who, limit, token, parse_contact(params))
    return http.json_response(page.to_api(staff_view=True))


@api("POST", "/tickets/{ticket_id}/rating")
def rate_ticket(who: Principal, ticket_id: str) -> Response:
    ticket = runtime().ratings.rate(who, ticket_id, parse_rating(_body()))
    return http.json_response(ticket.to_api())


@api("GET", "/ratings/{token}", access="anyone")
def rating_link(token: str) -> Response:
    """The page a one-click rating link in a solved notification opens."""
    ticket = runtime().ratings.request_of(token)
    score = query().get("score")
    return http.page_response(rating_page(ticket, score))


@api(
    "POST",
    "/ratings/{token}",
    access="anyone",
    content_types=["application/x-www-form-urlencoded", "application/json"],
)
def rate_by_link(token: str) -> Response:
    request = current()
    kind = request.headers.get("content-type", "application/json")
    rating = parse_rating_form(raw_body(), kind, runtime().settings.max_body_bytes)
    ticket = runtime().ratings.rate_by_link(token, rating)
    if kind.startswith("application/x-www-form-urlencoded"):
        return http.page_response(rating_page(ticket, None, done=True))
    return http.json_response({"id": ticket.id, "rating": ticket.rating})


@api("GET", "/staff/reports/sla", access="staff")
def staff_sla_report(who: Principal) -> Response:
    params = query()
    return http.json_response(runtime().reports.report(who, params))


@api("POST", "/tickets/{ticket_id}/responses", access="staff")
def post_response(who: Principal, ticket_id: str) -> Response:
    answer = parse_staff_response(_body())
    key = idempotency_key(current().headers.get("idempotency-key"))
    message = runtime().desk.respond(who, ticket_id, answer.text, key, answer.seen)
    return created(message.to_api(), f"/tickets/{ticket_id}")


@api("POST", "/tickets/{ticket_id}/notes", access="staff")
def post_note(who: Principal, ticket_id: str) -> Response:
    note = runtime().team.note(who, ticket_id, parse_note(_body()))
    return created(note.to_api(), f"/tickets/{ticket_id}")


@api("GET", "/staff/suppressions", access="staff")
def list_suppressions(who: Principal) -> Response:
    address = address_param(query().get("email"))
    return http.json_response(runtime().suppressions.lookup(who, address))


@api("DELETE", "/staff/suppressions/{email}", access="staff")
def lift_suppression(who: Principal, email: str) -> Response:
    runtime().suppressions.lift(who, address_param(unquote(email)))
    return Response(body="", status_code=204)


@api("PUT", "/tickets/{ticket_id}/assignee", access="staff")
def put_assignee(who: Principal, ticket_id: str) -> Response:
    ticket = runtime().team.assign(who, ticket_id, parse_assignee(_body()))
    return http.json_response(ticket.to_api(staff_view=True))


@api("POST", "/tickets/{ticket_id}/delay-notices", access="staff")
def post_delay_notice(who: Principal, ticket_id: str) -> Response:
    notice = runtime().desk.post_delay_notice(who, ticket_id, parse_delay_notice_request(_body()))
    return created(notice.to_api(), f"/tickets/{ticket_id}")


@api("GET", "/tickets/{ticket_id}/events", access="staff")
def ticket_events(who: Principal, ticket_id: str) -> Response:
    params = query()
    limit = limit_param(params.get("limit"))
    return http.json_response(runtime().desk.events(who, ticket_id, limit, params.get("next")))


@api("PUT", "/tickets/{ticket_id}/scope", access="staff")
def put_scope(who: Principal, ticket_id: str) -> Response:
    ticket = runtime().desk.correct_scope(who, ticket_id, parse_scope_correction(_body()))
    return http.json_response(ticket.to_api(staff_view=True))


@api("PUT", "/tickets/{ticket_id}/admin-request", access="staff")
def put_admin_request(who: Principal, ticket_id: str) -> Response:
    return http.json_response(
        runtime().admin_requests.correct(who, ticket_id, _body()).to_api(staff_view=True)
    )


@api("POST", "/tickets/{ticket_id}/quotes", access="staff")
def propose_quote(who: Principal, ticket_id: str) -> Response:
    quote = runtime().quotes.propose(who, ticket_id, _body())
    return created(quote.to_api(), f"/tickets/{ticket_id}/quotes")


@api("GET", "/tickets/{ticket_id}/quotes")
def list_quotes(who: Principal, ticket_id: str) -> Response:
    return http.json_response({"items": runtime().quotes.listing(who, ticket_id)})


@api("POST", "/tickets/{ticket_id}/quotes/{quote_id}/{action}")
def quote_step(who: Principal, ticket_id: str, quote_id: str, action: str) -> Response:
    """`accept`, `decline`, `revise` (either side); `payments`, `refuse`, `complete` (staff)."""
    body = _body() if raw_body() else {}
    quote = runtime().quotes.act(who, ticket_id, quote_id, action, body)
    return http.json_response(quote.to_api())


@app.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    """The OpenAPI 3.1 document of this interface (API.md, Conventions)."""
    return Response(body=http.openapi_document(), status_code=200, headers=http.JSON_HEADERS)


@api("GET", "/support/hours", access="anyone")
def support_hours() -> Response:
    at = http.instant_param(query().get("at"))
    return http.json_response(runtime().hours.to_api(at))


@api("POST", "/chat/transcripts", access="anyone")
def chat_transcript() -> Response:
    signature = current().headers.get("x-signature")
    transcript = signed_transcript(raw_body(), runtime().chat_secret(), signature)
    body, new = runtime().chat.record(transcript)
    return created(body, f"/tickets/{body['id']}", replayed=not new)


app.register_blueprint(macro_routes)  # the team's canned replies (API.md)
app.register_blueprint(status_routes)  # service status and incidents (R3.3)
http.add_preflights(app, current, allowed_origins)  # after every route: one per path


@app.on_sqs_message(queue=os.environ.get("MAIL_QUEUE_NAME", "support-intake-mail"), batch_size=10)
def on_mail(event: SQSEvent) -> dict[str, Any]:
    """SES → S3 → SNS → SQS: each record is one inbound mail; failures are retried alone."""
    # Imported here: only the mail function needs the batch machinery, and the three
    # functions share this module, so each would otherwise pay for it at cold start.
    from chalicelib.intake.mail.handler import mail_batch

    rt = runtime()
    return mail_batch(event.to_dict(), rt.mail, rt.imports, rt.customer_mail, rt.attachments)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sla_sweep")
def sla_sweep(event: object) -> dict[str, Any]:
    """R2.4: every minute, warn, breach and escalate what is due."""
    report = runtime().sweeper.run()
    logger.info("sla sweep", extra=report.to_dict())
    return report.to_dict()
