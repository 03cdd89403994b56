"""The collaborators of one cold start, built once from the settings and injected.

Wiring only: every decision lives in the modules wired here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities import parameters

from chalicelib.accounts import AccountDirectory, CognitoDirectory
from chalicelib.admin.free import AdminRequests, admin_request_of
from chalicelib.admin.quote_desk import QuoteDesk
from chalicelib.aws import lazy_client
from chalicelib.blobs import BlobStore, S3Blobs
from chalicelib.classify import default_classifier
from chalicelib.config import Settings, settings_from
from chalicelib.domain.hours import SupportHours
from chalicelib.domain.tickets import KbArticle, Scope, Ticket
from chalicelib.intake.cabinet import CabinetService
from chalicelib.intake.chat import ChatIntake
from chalicelib.intake.chat_import import ChatImport
from chalicelib.intake.mail.adapter import MailIntake
from chalicelib.intake.pipeline import IntakePipeline
from chalicelib.lifecycle import Lifecycle
from chalicelib.outbound.ack import AckConfig, MailAcknowledgements
from chalicelib.outbound.delivery import Dispatcher, publishing
from chalicelib.outbound.mailer import FolderMailer, Mailer, SesMailer
from chalicelib.outbound.notify import Publisher, Readable, SnsPublisher
from chalicelib.outbound.routing import (
    ABUSE_NOTICE,
    ACKNOWLEDGEMENT,
    AUTO_CLOSE,
    BREACH,
    CUSTOMER_MAIL,
    INCIDENT_BREACH,
    MAINTENANCE_CLOCK,
    NOTIFY,
    SOLVED_MAIL,
    WARNING,
    unrouted,
)
from chalicelib.outbound.sender import CustomerMail, MailSettings
from chalicelib.outbound.solved import SolvedMail
from chalicelib.ratings import Ratings
from chalicelib.reports import SlaReports
from chalicelib.scanning import scanner_for
from chalicelib.sla.sweep import Sweeper
from chalicelib.staff.desk import StaffDesk
from chalicelib.staff.macros import MacroDesk
from chalicelib.staff.search import StaffSearch
from chalicelib.staff.suppressions import Suppressions
from chalicelib.staff.team import TeamDesk
from chalicelib.status.board import StatusBoard
from chalicelib.status.fanout import IncidentEscalations, IncidentNotifier
from chalicelib.storage import Store
from chalicelib.storage.dynamo import dynamo_store
from chalicelib.storage.item_wire import fast_item_wire
from chalicelib.timeutil import Clock, utc_now
from chalicelib.uploads import Attachments
from chalicelib.values import frozen


@dataclass
class Runtime:
    settings: Settings
    store: Store
    pipeline: IntakePipeline
    cabinet: CabinetService
    desk: StaffDesk
    sweeper: Sweeper
    dispatcher: Dispatcher
    customer_mail: CustomerMail
    chat: ChatIntake
    mail: MailIntake
    imports: ChatImport
    hours: SupportHours
    chat_secret: Callable[[], bytes]
    lifecycle: Lifecycle
    attachments: Attachments
    board: StatusBoard
    quotes: QuoteDesk
    admin_requests: AdminRequests
    reports: SlaReports
    ratings: Ratings
    team: TeamDesk
    suppressions: Suppressions
    macros: MacroDesk
    search: StaffSearch


@frozen
class Services:
    """What the runtime talks to outside itself; tests pass fakes for any of them."""

    store: Store
    publisher: Publisher
    directory: AccountDirectory
    blobs: BlobStore
    mailer: Mailer


def aws_services(settings: Settings, dynamodb: Any = None) -> Services:
    """The AWS implementations, each with its own client for the configured region."""
    region = settings.region

    def aws(service: str) -> Any:
        return lazy_client(service, region)

    client = dynamodb or lazy_client("dynamodb", region, fast_item_wire)
    return Services(
        store=dynamo_store(client, settings.table_name),
        publisher=SnsPublisher(
            aws("sns"),
            Readable(settings.console_url, settings.timezone),
        ),
        directory=CognitoDirectory(aws("cognito-idp"), settings.user_pool_id),
        blobs=S3Blobs(aws("s3")),
        mailer=FolderMailer(Path(settings.outbox_dir))
        if settings.outbox_dir
        else SesMailer(aws("ses"), settings.ses_configuration_set),
    )


def build_lifecycle(settings: Settings, services: Services, clock: Clock) -> Lifecycle:
    return Lifecycle(
        services.store.tickets,
        clock,
        first_response_minutes=settings.first_response_minutes,
        reopen_days=settings.reopen_days,
        auto_close_days=settings.auto_close_days,
    )


def build_dispatcher(
    settings: Settings,
    services: Services,
    customer_mail: CustomerMail,
    clock: Clock,
    lifecycle: Lifecycle | None = None,
    notes: Callable[[Ticket], list[str]] | None = None,
) -> Dispatcher:
    """Delivery of the outbox (the kinds and who sends each: `outbound.routing`):
    escalations and warnings on-duty, abuse notices to management, acknowledgements to
    e-mail senders, and the close of a solved ticket when its days are up."""
    store = services.store
    topics = {
        WARNING: settings.escalation_topic_arn,
        BREACH: settings.escalation_topic_arn,
        ABUSE_NOTICE: settings.management_topic_arn,
    }
    acknowledgements = MailAcknowledgements(
        store.tickets,
        store.markers,
        services.mailer,
        AckConfig(
            sender=settings.ack_from,
            domain=settings.mail_domain,
            cabinet_url=settings.cabinet_url,
            per_day=settings.acks_per_day,
        ),
        clock,
        notes,
    )
    senders = {
        **publishing(services.publisher, topics),
        ACKNOWLEDGEMENT: acknowledgements.send,
        CUSTOMER_MAIL: customer_mail.send,
        AUTO_CLOSE: (lifecycle or build_lifecycle(settings, services, clock)).auto_close,
    }
    given_up = {CUSTOMER_MAIL: customer_mail.failed, ACKNOWLEDGEMENT: acknowledgements.failed}
    dispatcher = Dispatcher(store.outbox, senders, clock, given_up)
    dispatcher.register_known(ACKNOWLEDGEMENT, acknowledgements.send_known, acknowledgements.guards)
    dispatcher.register_known(CUSTOMER_MAIL, customer_mail.send_known, customer_mail.guards)
    return dispatcher


def build_solved_mail(
    settings: Settings, services: Services, clock: Clock, ratings: Ratings
) -> SolvedMail:
    """The solved notification and its rating request (API.md, satisfaction)."""
    store = services.store

    def link(request_id: str, now: datetime) -> str:
        if not settings.api_url:
            return ""
        return f"{settings.api_url}/ratings/{ratings.link_token(request_id, now)}"

    return SolvedMail(
        store.tickets,
        store.markers,
        services.directory,
        services.mailer,
        mail_settings(settings),
        clock,
        link,
    )


def mail_settings(settings: Settings) -> MailSettings:
    return MailSettings(
        sender=settings.ack_from,
        domain=settings.mail_domain,
        cabinet_url=settings.cabinet_url,
        timezone=settings.timezone,
    )


def build_customer_mail(settings: Settings, services: Services, clock: Clock) -> CustomerMail:
    """Answers and notifications to customers (R2.6)."""
    store = services.store
    return CustomerMail(
        store.tickets,
        store.markers,
        services.directory,
        services.mailer,
        mail_settings(settings),
        clock,
    )


def build_pipeline(
    settings: Settings,
    services: Services,
    dispatcher: Dispatcher,
    clock: Clock,
    incident_for: Callable[[Scope], str | None] | None = None,
) -> IntakePipeline:
    """The one intake pipeline every channel feeds."""
    kb_base_url = settings.kb_base_url

    def classify(subject: str, text: str, channel: str) -> tuple[Scope, tuple[KbArticle, ...]]:
        # Built at the first request that classifies (issue 29: a cold start serving a
        # staff page does not load the rules and the weights), then kept.
        return default_classifier(kb_base_url)(subject, text, channel)

    return IntakePipeline(
        services.store.tickets,
        classify,
        services.directory,
        dispatcher,
        clock,
        settings.first_response_minutes,
        incident_for,
        admin_request_of,
        timezone=settings.timezone,
    )


def mail_places(settings: Settings) -> dict[str, Any]:
    return {"bucket": settings.mail_bucket, "domain": settings.mail_domain}


def attachment_limits(settings: Settings, blobs: BlobStore) -> dict[str, Any]:
    return {
        "bucket": settings.mail_bucket,
        "per_ticket": settings.attachments_per_ticket,
        "scanner": scanner_for(settings.upload_scanner, blobs),
    }


def register_incident_senders(
    settings: Settings, services: Services, dispatcher: Dispatcher, desk: StaffDesk, clock: Clock
) -> None:
    """R3.3: an update's answer to every linked request, and one escalation per incident."""
    incidents = services.store.incidents
    dispatcher.register(
        NOTIFY,
        IncidentNotifier(incidents, desk, clock, together=dispatcher.settling_together).send,
    )
    escalations = IncidentEscalations(incidents, services.publisher, settings.escalation_topic_arn)
    dispatcher.register(INCIDENT_BREACH, escalations.send)


def secret_from_secrets_manager(name: str) -> Callable[[], bytes]:
    def chat_secret() -> bytes:
        # Cached for five minutes: a rotated secret is picked up without a redeploy.
        value = parameters.get_secret(name, max_age=300)
        return value.encode() if isinstance(value, str) else bytes(value)

    return chat_secret


def build_sweeper(
    settings: Settings,
    store: Store,
    dispatcher: Dispatcher,
    clock: Clock,
) -> Sweeper:
    """R2.4 every minute, and what comes due in the outbox."""
    return Sweeper(
        store.tickets,
        store.deadlines,
        dispatcher,
        clock,
        settings.warning_minutes,
        settings.timezone,
    )


def build_cabinet(
    settings: Settings,
    services: Services,
    pipeline: IntakePipeline,
    clock: Clock,
    notice: Callable[[Ticket], dict[str, Any] | None],
) -> CabinetService:
    """The customer's side of official tickets (R1.4)."""
    return CabinetService(
        services.store.tickets,
        pipeline,
        clock,
        settings.first_response_minutes,
        notice,
    )


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    services: Services | None = None,
    chat_secret: Callable[[], bytes] | None = None,
) -> Runtime:
    """Wire the domain to its collaborators for one process."""
    services = services or aws_services(settings)
    store = services.store
    chat_secret = chat_secret or secret_from_secrets_manager(settings.chat_secret_name)
    # One-click rating links are signed with a key derived from the webhook secret.
    ratings = Ratings(store.tickets, clock, settings.timezone, key=chat_secret)
    customer_mail = build_customer_mail(settings, services, clock)
    lifecycle = build_lifecycle(settings, services, clock)
    board = StatusBoard(store.incidents, store.tickets, clock, queue=store.deadlines)
    notes = board.notice_lines
    dispatcher = build_dispatcher(settings, services, customer_mail, clock, lifecycle, notes)
    board.dispatcher = dispatcher
    dispatcher.register(MAINTENANCE_CLOCK, board.move_window)
    dispatcher.register(SOLVED_MAIL, build_solved_mail(settings, services, clock, ratings).send)
    pipeline = build_pipeline(settings, services, dispatcher, clock, board.match)
    hours = SupportHours(settings.timezone)
    chat = ChatIntake(pipeline, hours, settings.cabinet_url, notes)
    desk = StaffDesk(
        store.tickets, store.deadlines, dispatcher, clock, store.incidents, settings.timezone
    )
    lifecycle.answer = desk.respond  # R2.8: a solve or close may carry the answer
    register_incident_senders(settings, services, dispatcher, desk, clock)
    missing = unrouted(dispatcher.kinds())
    assert not missing, f"outbox kinds nobody sends: {missing}"  # outbound.routing.ROUTES
    return Runtime(
        settings=settings,
        store=store,
        pipeline=pipeline,
        cabinet=build_cabinet(settings, services, pipeline, clock, board.notice),
        desk=desk,
        sweeper=build_sweeper(settings, store, dispatcher, clock),
        dispatcher=dispatcher,
        customer_mail=customer_mail,
        chat=chat,
        mail=MailIntake(pipeline, services.blobs, clock, **mail_places(settings)),
        imports=ChatImport(services.blobs, chat),
        hours=hours,
        chat_secret=chat_secret,
        lifecycle=lifecycle,
        attachments=Attachments(
            store.tickets, services.blobs, clock, **attachment_limits(settings, services.blobs)
        ),
        board=board,
        quotes=QuoteDesk(store.quotes, store.tickets, desk, clock),
        admin_requests=AdminRequests(store.tickets, clock),
        reports=SlaReports(store.reports, clock, settings.timezone),
        ratings=ratings,
        team=TeamDesk(store.tickets, services.directory, clock),
        suppressions=Suppressions(store.markers),
        macros=MacroDesk(store.macros, store.tickets, clock),
        search=StaffSearch(store.tickets),
    )


@functools.cache
def runtime_for(settings: Settings) -> Runtime:
    return build_runtime(settings)


def get_runtime(env: Mapping[str, str]) -> Runtime:
    """The process-wide runtime (one per cold start, keyed by the configuration)."""
    return runtime_for(settings_from(env))
