"""R6.2: an abusive request is flagged, never refused, and management is told once."""

from __future__ import annotations

from chalicelib import observability as obs
from chalicelib.models import Ticket
from chalicelib.notify import Publisher
from chalicelib.storage import Markers
from chalicelib.timeutil import Clock, to_iso

NOTICE = "abuse"


class AbuseNotices:
    def __init__(
        self, markers: Markers, publisher: Publisher, topic_arn: str, clock: Clock
    ) -> None:
        self._markers = markers
        self._publisher = publisher
        self._topic = topic_arn
        self._clock = clock

    def notify(self, ticket: Ticket) -> bool:
        """Tell management about a flagged request, at most once; True if sent now.

        The claim is a conditional write, so retries and redeliveries do not repeat it.
        A notice that cannot be handed over is released and counted (NoticeFailures),
        and the request itself is kept: intake never fails because a notice did.
        """
        if "abusive" not in ticket.scope.flags:
            return False
        at = to_iso(self._clock())
        if not self._markers.claim_notice(ticket.id, NOTICE, at):
            return False
        evidence = [e.to_dict() for e in ticket.scope.evidence if e.name == "abusive"]
        try:
            self._publisher.publish(
                self._topic,
                "abusive_request",
                {
                    "ticket_id": ticket.id,
                    "channel": ticket.channel,
                    "customer": ticket.customer,
                    "customer_email": ticket.customer_email,
                    "subject": ticket.subject,
                    "evidence": evidence,
                    "rule": "R6.2",
                },
            )
        except Exception:
            self._markers.release_notice(ticket.id, NOTICE, at)
            obs.logger.exception("could not notify management", extra={"ticket_id": ticket.id})
            obs.count(obs.NOTICE_FAILURES, kind="abusive_request")
            return False
        obs.count(obs.ABUSE_NOTICES, channel=ticket.channel)
        return True
