"""E-mail parsing never crashes and reads Cyrillic mail right; machine mail is recognised."""

from __future__ import annotations

import base64

import pytest

from chalicelib.intake.mail.filters import machine_reason
from chalicelib.intake.mail.html_text import html_to_text
from chalicelib.intake.mail.parse import decode_bytes, parse_mail

RUSSIAN = "Здравствуйте! Не работает почта на домене, клиенты получают ошибку."


def raw(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


def test_undeclared_cp1251_body_comes_out_readable() -> None:
    mail = parse_mail(
        raw("From: a@b.example\nSubject: x\nContent-Type: text/plain", RUSSIAN.encode("cp1251"))
    )
    assert mail.text == RUSSIAN


def test_undeclared_koi8r_body_comes_out_readable() -> None:
    mail = parse_mail(raw("From: a@b.example\nSubject: x", RUSSIAN.encode("koi8-r")))
    assert mail.text == RUSSIAN


def test_a_wrongly_declared_charset_falls_back_down_the_chain() -> None:
    mail = parse_mail(
        raw("From: a@b.example\nContent-Type: text/plain; charset=us-ascii", RUSSIAN.encode())
    )
    assert mail.text == RUSSIAN
    assert decode_bytes(RUSSIAN.encode("cp1251"), "x-unknown-charset") == RUSSIAN


def test_html_only_mail_becomes_clean_text() -> None:
    html = "<html><head><style>p{}</style></head><body><p>Добрый день!</p><p>Как перейти на тариф <b>Бизнес</b>?</p><script>x()</script></body></html>"
    body = base64.b64encode(html.encode("cp1251"))
    mail = parse_mail(
        raw(
            "From: a@b.example\nContent-Type: text/html; charset=windows-1251\n"
            "Content-Transfer-Encoding: base64",
            body,
        )
    )
    assert mail.text == "Добрый день!\n\nКак перейти на тариф Бизнес?"


def test_html_entities_and_breaks() -> None:
    assert html_to_text("a&amp;b<br>c&nbsp;d<div>e</div>") == "a&b\nc d\ne"


@pytest.mark.parametrize(
    "header",
    [
        'From: "Unterminated <a@b.example>',
        "From: =?unknown-8bit?q?=D0=9F?= <a@b.example>",
        "Message-ID: <[exchange-style]@EX01.corp>\nFrom: a@b.example",
        "From: a@b.example\nSubject: =?utf-8?b?broken base64===?=",
        "From: a@b.example\nContent-Type: multipart/mixed",
        "From: <>\nTo: \x00weird\x01",
        "From: a@b.example\nSubject: \xff\xfe raw bytes",
    ],
)
def test_malformed_headers_never_raise(header: str) -> None:
    mail = parse_mail(header.encode("latin-1") + b"\r\n\r\nbody")
    assert isinstance(mail.subject, str)
    assert isinstance(mail.text, str)


def test_encoded_subject_and_sender_are_decoded() -> None:
    subject = "=?koi8-r?b?" + base64.b64encode("Не работает почта".encode("koi8-r")).decode() + "?="
    mail = parse_mail(
        raw(f"From: =?utf-8?b?0JjQstCw0L0=?= <Ivan@Shop.example>\nSubject: {subject}", b"x")
    )
    assert mail.subject == "Не работает почта"
    assert mail.from_addr == "ivan@shop.example"
    assert mail.from_name == "Иван"


def test_attachments_have_name_type_size_and_sha256_and_forwards_are_kept() -> None:
    message = (
        "From: a@b.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
        "--XX\nContent-Type: text/plain; charset=utf-8\n\nSee attached.\n"
        "--XX\nContent-Type: text/plain; name=log.txt\nContent-Disposition: attachment; filename=log.txt\n\nline\n"
        "--XX\nContent-Type: message/rfc822\n\nFrom: c@d.example\nSubject: original\n\nforwarded body\n"
        "--XX--\n"
    )
    mail = parse_mail(message.replace("\n", "\r\n").encode())
    assert mail.text == "See attached."
    assert [a.name for a in mail.attachments] == ["log.txt", "forwarded-2.eml"]
    log = mail.attachments[0]
    assert log.size == len(log.data) and len(log.sha256) == 64
    assert b"forwarded body" in mail.attachments[1].data
    assert machine_reason(mail) is None  # a forward is not a report


def test_alternative_prefers_plain_text() -> None:
    message = (
        "From: a@b.example\nContent-Type: multipart/alternative; boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\nplain version\n--B\nContent-Type: text/html\n\n<p>html</p>\n--B--\n"
    )
    assert parse_mail(message.encode()).text == "plain version"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-generated", "auto_submitted"),
        ("Precedence: junk", "precedence"),
        ("Precedence: list", "precedence"),
        ("X-Autorespond: yes", "autoreply_headers"),
        ("X-Auto-Response-Suppress: All", "autoreply_headers"),
        ("List-Unsubscribe: <mailto:u@list.example>", "mailing_list"),
        ("Return-Path: <>", "null_sender"),
        ("X-Failed-Recipients: x@y.example", "bounce_signature"),
    ],
)
def test_machine_mail_headers(headers: str, reason: str) -> None:
    mail = parse_mail(raw(f"From: a@b.example\nSubject: hi\n{headers}", b"text"))
    assert (machine_reason(mail) or "").startswith(reason)


def test_auto_submitted_no_is_a_person() -> None:
    mail = parse_mail(raw("From: a@b.example\nSubject: hi\nAuto-Submitted: no", b"text"))
    assert machine_reason(mail) is None


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example",
        "postmaster@mx.example",
        "no-reply@service.example",
        "noreply@x.example",
    ],
)
def test_robot_senders(sender: str) -> None:
    mail = parse_mail(raw(f"From: {sender}\nSubject: hi", b"text"))
    assert machine_reason(mail) is not None


def test_delivery_report_is_machine_mail() -> None:
    message = (
        "From: Mail Delivery System <mx@mx.example>\nContent-Type: multipart/report; "
        "report-type=delivery-status; boundary=R\n\n--R\nContent-Type: text/plain\n\nfailed\n"
        "--R\nContent-Type: message/delivery-status\n\nAction: failed\n--R--\n"
    )
    assert machine_reason(parse_mail(message.encode())) == "delivery_report: multipart/report"


def test_the_envelope_sender_counts_too() -> None:
    mail = parse_mail(raw("From: a@b.example\nSubject: hi", b"text"))
    assert machine_reason(mail, "") is not None
    assert machine_reason(mail, "MAILER-DAEMON@mx.example") is not None
    assert machine_reason(mail, "a@b.example") is None
