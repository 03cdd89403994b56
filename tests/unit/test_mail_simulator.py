"""The local SES stand-in's mailbox simulator (issue 31): mail to SES's simulator
addresses produces the events SES publishes, in the shape the mail handler reads."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest

from chalicelib.intake.mail.handler import feedback_of
from devtools.mail_simulator import feedback_event


def _sent(to: str) -> bytes:
    message = EmailMessage()
    message["To"] = to
    message["From"] = "support@support.hosting.example"
    message["Message-ID"] = "<T-ABCDE12.M-XYZ@support.hosting.example>"
    message.set_content("Ответ")
    return message.as_bytes()


@pytest.mark.parametrize(
    ("to", "permanent", "complaint"),
    [
        ("bounce@simulator.amazonses.com", True, False),
        ("suppressionlist@simulator.amazonses.com", True, False),
        ("complaint@simulator.amazonses.com", False, True),
    ],
)
def test_simulator_addresses_come_back_as_ses_feedback(
    to: str, permanent: bool, complaint: bool
) -> None:
    event = feedback_event(_sent(to))
    assert event is not None
    read = feedback_of(json.dumps({"Message": json.dumps(event)}))  # as SNS delivers it
    assert read is not None
    assert read.addresses == (to,) and read.permanent is permanent and read.complaint is complaint
    assert read.message_id == "<T-ABCDE12.M-XYZ@support.hosting.example>"


@pytest.mark.parametrize(
    "to", ["anna@example.com", "success@simulator.amazonses.com", "bounce@simulator.example"]
)
def test_any_other_recipient_gets_no_feedback(to: str) -> None:
    assert feedback_event(_sent(to)) is None
