"""Acknowledgements: advisory, pointing to the cabinet, never answering a robot.

Built with EmailMessage and the SMTP policy: header values are set from decoded,
single-line text and encoded by the library, never copied raw from the inbound mail
(CVE-2024-6923 class header injection).
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from chalicelib.ids import our_message_id
from chalicelib.models import KbArticle
from chalicelib.timeutil import Clock

ACK_BODY = """\
Здравствуйте!

Мы получили ваше письмо и зарегистрировали его под номером {record}.
Обращения по электронной почте — консультационные: официальные заявки принимаются
только из личного кабинета ({cabinet}), и на них мы отвечаем в течение часа.
{kb_ru}
Hello,

we received your e-mail and recorded it as {record}. E-mail is an advisory channel:
official tickets are filed from your cabinet ({cabinet}) and answered within an hour.
{kb_en}
{signature_delimiter}
Техническая поддержка / Technical support
"""


def single_line(text: str, limit: int = 150) -> str:
    """Header-safe text: no CR/LF or other controls, bounded."""
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()[:limit]


def build_ack(
    *,
    record_id: str,
    to_addr: str,
    from_addr: str,
    subject: str,
    in_reply_to: str | None,
    kb: tuple[KbArticle, ...],
    cabinet_url: str,
    domain: str,
    clock: Clock,
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = from_addr
    message["To"] = to_addr
    message["Subject"] = f"[#{record_id}] " + (single_line(subject) or "Ваше обращение")
    message["Message-ID"] = our_message_id("ack", record_id, domain)
    message["Date"] = format_datetime(clock())
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834
    message["X-Auto-Response-Suppress"] = "All"
    message["Precedence"] = "auto_reply"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    links = "".join(f"\n  - {a.title}: {a.url}" for a in kb)
    message.set_content(
        ACK_BODY.format(
            record=record_id,
            cabinet=cabinet_url,
            kb_ru=f"\nВозможно, поможет:{links}\n" if kb else "",
            kb_en=f"\nThese pages may help:{links}\n" if kb else "",
            signature_delimiter="-- ",  # RFC 3676: dash dash space
        )
    )
    return message
