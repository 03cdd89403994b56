"""The collaborators of one cold start, built once from the settings and injected."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from chalicelib import observability as obs
from chalicelib.accounts import CognitoDirectory
from chalicelib.classify import default_classifier
from chalicelib.config import OPTIONAL, REQUIRED, Settings
from chalicelib.errors import Conflict, InvalidInput
from chalicelib.hours import SupportHours
from chalicelib.identity import Principal
from chalicelib.intake.abuse import AbuseNotices
from chalicelib.intake.cabinet import CabinetService, NewTicket
from chalicelib.intake.chat import ChatIntake
from chalicelib.intake.chat_import import ChatImport
from chalicelib.intake.mail.pipeline import MailConfig, MailIntake
from chalicelib.notify import Publisher, SnsPublisher
from chalicelib.sla.desk import StaffDesk
from chalicelib.sla.sweep import Sweeper
from chalicelib.storage import SupportStore
from chalicelib.timeutil import Clock, utc_now

IDEMPOTENCY_KEY_MAX = 255


@dataclass
class Runtime:
    settings: Settings
    store: SupportStore
    cabinet: CabinetService
    desk: StaffDesk
    sweeper: Sweeper
    abuse: AbuseNotices
    chat: ChatIntake
    mail: MailIntake
    imports: ChatImport
    hours: SupportHours
    chat_secret: Callable[[], bytes]
    create_ticket: Callable[[Principal, NewTicket, str | None, Any], tuple[dict[str, Any], bool]]


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    dynamodb: Any = None,
    publisher: Publisher | None = None,
) -> Runtime:
    """Wire storage, the classifier, notices and idempotency for one process."""
    client = dynamodb or boto3.client("dynamodb", region_name=settings.region)
    store = SupportStore(client, settings.table_name)
    classify_request = default_classifier(settings.kb_base_url)
    publisher = publisher or SnsPublisher(boto3.client("sns", region_name=settings.region))
    cabinet = CabinetService(store, classify_request, clock, settings.first_response_minutes)
    abuse = AbuseNotices(store, publisher, settings.management_topic_arn, clock)
    desk = StaffDesk(store, clock)
    sweeper = Sweeper(
        store, publisher, settings.escalation_topic_arn, clock, settings.warning_minutes
    )
    hours = SupportHours(settings.timezone)
    directory = CognitoDirectory(
        boto3.client("cognito-idp", region_name=settings.region), settings.user_pool_id
    )
    chat = ChatIntake(store, classify_request, directory, hours, abuse, clock, settings.cabinet_url)

    mail = MailIntake(
        store,
        boto3.client("s3", region_name=settings.region),
        boto3.client("ses", region_name=settings.region),
        classify_request,
        directory,
        abuse,
        clock,
        MailConfig(
            bucket=settings.mail_bucket,
            domain=settings.mail_domain,
            ack_from=settings.ack_from,
            cabinet_url=settings.cabinet_url,
            acks_per_day=settings.acks_per_day,
        ),
    )

    def chat_secret() -> bytes:
        # Cached for five minutes: a rotated secret is picked up without a redeploy.
        value = parameters.get_secret(settings.chat_secret_name, max_age=300)
        return value.encode() if isinstance(value, str) else bytes(value)

    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table_name, boto3_client=client
    )
    config = IdempotencyConfig(
        event_key_jmespath="[customer, key]",
        payload_validation_jmespath="ticket",
        expires_after_seconds=settings.idempotency_ttl_seconds,
        use_local_cache=False,
    )

    @idempotent_function(  # type: ignore[misc]
        data_keyword_argument="request",
        persistence_store=persistence,
        config=config,
    )
    def create_once(
        request: dict[str, Any], principal: Principal, created: list[bool]
    ) -> dict[str, Any]:
        # Only `request` is hashed and stored; the principal is bound by the caller
        # from the token and is part of the key through request["customer"].
        created.append(True)
        return _create(principal, NewTicket(**request["ticket"]))

    def _create(principal: Principal, new: NewTicket) -> dict[str, Any]:
        ticket = cabinet.open_ticket(principal, new)
        abuse.notify(ticket)
        obs.count(obs.TICKETS_CREATED, channel="cabinet")
        obs.count(obs.SCOPE_LABELLED, channel="cabinet", label=ticket.scope.label)
        obs.logger.info(
            "ticket created",
            extra={"ticket_id": ticket.id, "label": ticket.scope.label},
        )
        return ticket.to_api()

    def create_ticket(
        principal: Principal, new: NewTicket, key: str | None, lambda_context: Any = None
    ) -> tuple[dict[str, Any], bool]:
        """Open a ticket; with an Idempotency-Key a replay returns the first response.

        Returns the ticket body and whether this call created it.
        """
        if key is None:
            return _create(principal, new), True
        if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not key.isprintable() or not key.isascii():
            raise InvalidInput(
                "invalid_idempotency_key",
                f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} printable ASCII characters",
            )
        if lambda_context is not None:
            # Lets an in-progress record expire with the invocation that wrote it.
            config.register_lambda_context(lambda_context)
        created: list[bool] = []
        request = {"customer": principal.sub, "key": key, "ticket": new.to_dict()}
        try:
            body: dict[str, Any] = create_once(
                request=request, principal=principal, created=created
            )
        except IdempotencyValidationError:
            raise Conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different ticket",
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict(
                "request_in_progress", "a request with this Idempotency-Key is in progress"
            ) from None
        if not created:
            obs.count(obs.IDEMPOTENT_REPLAYS, channel="cabinet")
        return body, bool(created)

    return Runtime(
        settings=settings,
        store=store,
        cabinet=cabinet,
        desk=desk,
        sweeper=sweeper,
        abuse=abuse,
        chat=chat,
        mail=mail,
        imports=ChatImport(boto3.client("s3", region_name=settings.region), chat),
        hours=hours,
        chat_secret=chat_secret,
        create_ticket=create_ticket,
    )


@functools.cache
def runtime_from_env(env_items: tuple[tuple[str, str], ...]) -> Runtime:
    return build_runtime(Settings.from_env(dict(env_items)))


def get_runtime(env: Mapping[str, str]) -> Runtime:
    """The process-wide runtime (one per cold start, keyed by the configuration)."""
    keys = REQUIRED + OPTIONAL
    return runtime_from_env(tuple((k, env[k]) for k in keys if k in env))
