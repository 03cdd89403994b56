"""Real-world mail (issue: linear time, the true sender, every charset): regressions.

Each test carries its own small fixture; `bench/mail_corpus_check.py` runs the shared
corpus of real messages and `bench/mail_bench.py` measures time against size.
"""

from __future__ import annotations

import base64
import os

import pytest

from chalicelib.intake.mail import mime
from chalicelib.intake.mail.charsets import decode_bytes
from chalicelib.intake.mail.filters import machine_reason
from chalicelib.intake.mail.headers import MAX_HEADER_CHARS
from chalicelib.intake.mail.parse import parse_mail

RUSSIAN = "Здравствуйте! Не работает почта на домене, клиенты получают ошибку 550."


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def b64_lines(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def mixed(*parts: str, boundary: str = "MIX") -> str:
    body = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return (
        f"From: anna@shop.example\nSubject: s\nMIME-Version: 1.0\n"
        f"Content-Type: multipart/mixed; boundary={boundary}\n\n{body}--{boundary}--\n"
    )


# -- big bodies are read, never replaced -------------------------------------------------


def test_screenshots_and_a_pdf_come_through_whole() -> None:
    shots = [os.urandom(size) for size in (250_000, 180_000, 90_000)]
    parts = ["Content-Type: text/plain; charset=utf-8\n\nСкриншоты ошибки во вложении."]
    for number, data in enumerate(shots):
        parts.append(
            f"Content-Type: image/png; name=shot{number}.png\n"
            f"Content-Disposition: attachment; filename=shot{number}.png\n"
            f"Content-Transfer-Encoding: base64\n\n{b64_lines(data)}"
        )
    mail = parse_mail(crlf(mixed(*parts)))
    assert mail.text == "Скриншоты ошибки во вложении."
    assert [a.name for a in mail.attachments] == ["shot0.png", "shot1.png", "shot2.png"]
    assert [a.data for a in mail.attachments] == shots


def test_a_large_base64_html_body_is_read_as_text() -> None:
    html = "<p>" + "Сайт отдаёт ошибку 502. " * 40_000 + "</p>"
    encoded = b64_lines(html.encode("utf-8"))
    assert encoded.count("\n") > 8_192  # past the old blob threshold
    message = (
        "From: anna@shop.example\nSubject: 502\nContent-Type: text/html; charset=utf-8\n"
        f"Content-Transfer-Encoding: base64\n\n{encoded}"
    )
    mail = parse_mail(crlf(message))
    assert mail.text.startswith("Сайт отдаёт ошибку 502.")
    assert mail.attachments == []


def test_a_plain_body_of_key_like_lines_is_kept_as_written() -> None:
    lines = [f"{n:08d}" + "A1b2C3d4" * 7 for n in range(9_000)]
    message = "From: anna@shop.example\nSubject: keys\n\n" + "\n".join(lines) + "\n"
    mail = parse_mail(crlf(message))
    assert mail.text.splitlines() == lines


# -- the sender is the address part of From ----------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "=?utf-8?Q?victim=40customer.example?= <attacker@evil.example>",
        "victim@customer.example <attacker@evil.example>",
        '"victim@customer.example" <attacker@evil.example>',
    ],
)
def test_a_display_name_is_never_the_sender(header: str) -> None:
    mail = parse_mail(crlf(f"From: {header}\nSubject: s\n\nbody"))
    assert mail.from_addr == "attacker@evil.example"
    assert mail.sender_problem == "address_in_display_name"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (
            "=?utf-8?B?" + base64.b64encode("Иванов, Иван".encode()).decode() + "?= <ivan@x.ru>",
            "Иванов, Иван",
        ),
        ("=?iso-8859-1?Q?M=FCller=2C_Bernd?= <bernd@x.de>", "Müller, Bernd"),
        ('"Müller, Bernd" <bernd@x.de>', "Müller, Bernd"),
    ],
)
def test_an_encoded_name_with_a_comma_keeps_its_address(header: str, name: str) -> None:
    mail = parse_mail(f"From: {header}\r\nSubject: s\r\n\r\nbody".encode())
    assert mail.from_addr in ("ivan@x.ru", "bernd@x.de")
    assert mail.from_name == name
    assert mail.sender_problem is None


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("=?utf-8?Q?victim=40customer.example?=", "address_in_encoded_word"),
        ("<=?utf-8?Q?victim=40customer.example?=>", "no_from_address"),
        ("anna@shop.example, boss@shop.example", "several_from_addresses"),
        ("Anna <anna@shop.example>\nFrom: Boss <boss@shop.example>", "several_from_addresses"),
    ],
)
def test_an_unusable_from_gives_no_sender(header: str, problem: str) -> None:
    mail = parse_mail(crlf(f"From: {header}\nSubject: s\n\nbody"))
    assert mail.from_addr is None
    assert mail.sender_problem == problem


def test_a_quoted_local_part_is_no_sender() -> None:
    # Such an address would reach Cognito's ListUsers filter; real Cognito refuses it.
    mail = parse_mail(crlf('From: "a\\"b^=c"@shop.example\nSubject: s\n\nbody'))
    assert mail.from_addr is None


# -- raw 8-bit headers -------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["utf-8", "cp1251", "koi8-r"])
def test_raw_8bit_subject_and_name_are_read(charset: str) -> None:
    headers = f"From: Иван Петров <ivan@shop.example>\r\nSubject: {RUSSIAN}\r\n"
    mail = parse_mail(headers.encode(charset) + b"\r\n" + "Текст".encode(charset))
    assert mail.subject == RUSSIAN
    assert mail.from_name == "Иван Петров"
    assert "\ufffd" not in mail.subject


def test_raw_bytes_and_encoded_words_mix_in_one_subject() -> None:
    word = "=?utf-8?B?" + base64.b64encode("Заявка".encode()).decode() + "?="
    raw = (
        b"From: a@shop.example\r\nSubject: " + "Ответ: ".encode() + word.encode() + b" 42\r\n\r\nx"
    )
    mail = parse_mail(raw)
    assert mail.subject == "Ответ: Заявка 42"


def test_a_raw_8bit_subject_follows_the_body_charset() -> None:
    raw = (
        b"From: a@shop.example\r\nSubject: " + "Не работает сайт".encode("koi8-r") + b"\r\n"
        b"Content-Type: text/plain; charset=koi8-r\r\n\r\n" + "Сайт не открывается".encode("koi8-r")
    )
    mail = parse_mail(raw)
    assert mail.subject == "Не работает сайт"
    assert mail.text == "Сайт не открывается"


# -- charsets: supersets, tolerance, no Cyrillic guess for everything ----------------------


def test_gbk_text_declared_gb2312_is_read() -> None:
    text = "镕 服务器无法访问"  # 镕 is in GBK, not in GB2312
    assert decode_bytes(text.encode("gbk"), "gb2312") == text


def test_iso_2022_jp_with_nec_extensions_is_read() -> None:
    text = "①サーバー②"  # NEC row 13 circled digits
    data = text.encode("cp932")
    # Shift_JIS -> ISO-2022-JP by hand: the stdlib cannot encode these characters.
    jis = bytearray(b"\x1b$B")
    for index in range(0, len(data), 2):
        s1, s2 = data[index], data[index + 1]
        row = (s1 - (0x70 if s1 < 0xA0 else 0xB0)) * 2
        if s2 < 0x9F:
            row, col = row - 1, s2 - (0x1F if s2 < 0x7F else 0x20)
        else:
            col = s2 - 0x7E
        jis += bytes((row, col))
    jis += b"\x1b(B"
    assert decode_bytes(bytes(jis), "iso-2022-jp") == text


def test_ks_c_5601_means_cp949() -> None:
    text = "똠방각하"  # CP949 extension syllables
    assert decode_bytes(text.encode("cp949"), "ks_c_5601-1987") == text


def test_one_stray_byte_in_utf8_russian_is_replaced_not_reguessed() -> None:
    body = (RUSSIAN + " ") * 60
    data = body[:2000].encode() + b"\xff" + body[2000:].encode()
    text = decode_bytes(data, "utf-8")
    assert text.count("\ufffd") == 1
    assert "Здравствуйте" in text
    assert decode_bytes(data).count("\ufffd") == 1  # undeclared too


def test_latin1_text_without_a_charset_is_not_read_as_cyrillic() -> None:
    text = "Grüße aus München, das Passwort für die Datenbank funktioniert nicht."
    assert decode_bytes(text.encode("latin-1")) == text


def test_undeclared_cp1251_and_koi8r_are_still_told_apart() -> None:
    assert decode_bytes(RUSSIAN.encode("cp1251")) == RUSSIAN
    assert decode_bytes(RUSSIAN.encode("koi8-r")) == RUSSIAN


# -- broken header blocks keep what they hold --------------------------------------------


def test_an_unfolded_continuation_line_loses_no_header() -> None:
    message = (
        "From: anna@shop.example\nSubject: Сайт\nне открывается\n"
        "Auto-Submitted: auto-replied\nMessage-ID: <m1@shop.example>\n\nbody"
    )
    mail = parse_mail(crlf(message))
    assert mail.subject == "Сайт не открывается"
    assert mail.message_id == "m1@shop.example"
    assert (machine_reason(mail) or "").startswith("auto_submitted")


def test_a_first_line_that_is_not_a_header_is_skipped() -> None:
    message = "garbage line from a broken gateway\nFrom: anna@shop.example\nSubject: hi\n\nbody"
    mail = parse_mail(crlf(message))
    assert (mail.from_addr, mail.subject, mail.text) == ("anna@shop.example", "hi", "body")


def test_obsolete_space_before_the_colon_is_read() -> None:
    mail = parse_mail(crlf("From : anna@shop.example\nSubject : hi\nPrecedence : bulk\n\nbody"))
    assert (mail.from_addr, mail.subject) == ("anna@shop.example", "hi")
    assert (machine_reason(mail) or "").startswith("precedence")


def test_an_mbox_line_and_a_byte_order_mark_are_ignored() -> None:
    mail = parse_mail(b"\xef\xbb\xbfFrom: anna@shop.example\r\nSubject: hi\r\n\r\nbody")
    assert mail.from_addr == "anna@shop.example"
    mail = parse_mail(
        crlf("From anna@shop.example Mon Jan 1 00:00:00 2024\nFrom: a@b.example\n\nx")
    )
    assert mail.from_addr == "a@b.example"


def test_text_without_headers_is_a_body() -> None:
    mail = parse_mail(b"Just some text\nwith no headers at all.\n")
    assert mail.text == "Just some text\nwith no headers at all."


# -- alternatives, nesting, budgets ------------------------------------------------------


def test_an_empty_plain_alternative_gives_way_to_html() -> None:
    message = (
        "From: a@shop.example\nContent-Type: multipart/alternative; boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\n \n--B\nContent-Type: text/html\n\n"
        "<p>FTP не подключается</p>\n--B--\n"
    )
    assert parse_mail(crlf(message)).text == "FTP не подключается"


@pytest.mark.parametrize("kind", ["multipart", "rfc822"])
def test_thousand_level_nesting_is_kept_raw_not_recursed(kind: str) -> None:
    depth = 1_000
    if kind == "multipart":
        head = "".join(
            f"Content-Type: multipart/mixed; boundary=b{n}\n\n--b{n}\n" for n in range(depth)
        )
        tail = "".join(f"\n--b{n}--" for n in reversed(range(depth)))
        message = "From: a@shop.example\nSubject: deep\n" + head + "\ninner text" + tail + "\n"
    else:
        message = (
            "From: a@shop.example\nSubject: deep\n"
            + ("Content-Type: message/rfc822\n\nFrom: b@x.example\n" * depth)
            + "\ninner"
        )
    mail = parse_mail(crlf(message))
    assert mail.subject == "deep"
    assert len(mail.attachments) == 1
    if kind == "multipart":
        assert "nesting_too_deep" in mail.defects


def test_parts_past_the_limit_are_not_parsed() -> None:
    parts = [f"Content-Type: text/plain; name=f{n}.txt\n\nx" for n in range(mime.MAX_PARTS + 50)]
    mail = parse_mail(crlf(mixed(*parts)))
    assert "too_many_parts" in mail.defects
    assert len(mail.attachments) < mime.MAX_PARTS


def test_two_hundred_thousand_encoded_words_are_cut_to_a_budget() -> None:
    subject = " ".join(["=?utf-8?q?=D0=B0?="] * 200_000)
    mail = parse_mail(crlf(f"From: a@shop.example\nSubject: {subject}\n\nbody"))
    assert set(mail.subject) == {"а"}
    assert len(mail.subject) <= MAX_HEADER_CHARS


def test_a_huge_header_is_cut_before_decoding() -> None:
    mail = parse_mail(b"From: a@shop.example\r\nSubject: " + b"x" * 5_000_000 + b"\r\n\r\nbody")
    assert len(mail.subject) == MAX_HEADER_CHARS
    assert mail.text == "body"


@pytest.mark.parametrize("filler", [30_000, 250_000])
def test_a_mail_with_a_huge_header_block_keeps_its_sender_and_subject(filler: int) -> None:
    """Past the block's bounds (lines, fields) the parser reads on to its end keeping only
    the fields that identify the mail, so it is still acknowledged and threaded."""
    junk = "".join(f"X-Junk-{n}: {n}\n" for n in range(filler))
    mail = parse_mail(
        crlf(
            f"Received: by mx.example\n{junk}From: Anna <anna@shop.example>\n"
            "Subject: Почта не работает\nMessage-ID: <m1@shop.example>\n\nBody text."
        )
    )
    assert mail.from_addr == "anna@shop.example"
    assert mail.subject == "Почта не работает"
    assert mail.message_id == "m1@shop.example"
    assert mail.text.strip() == "Body text."


def test_inline_parts_are_kept_but_not_listed_as_files() -> None:
    message = mixed(
        "Content-Type: text/plain\n\nsee the screenshot",
        "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n"
        + base64.b64encode(b"png").decode(),
    )
    (shot,) = parse_mail(crlf(message)).attachments
    assert shot.inline and shot.data == b"png"


def test_an_attachment_name_with_a_line_break_is_safe_for_s3_metadata() -> None:
    from chalicelib.blobs import header_safe

    assert header_safe("report\r\nX-Evil: 1.pdf") == "report??X-Evil: 1.pdf"
    assert header_safe("счёт.pdf") == "????.pdf"
    assert len(header_safe("a" * 5000)) == 200


def test_a_folded_content_type_is_stored_as_its_bare_media_type() -> None:
    # As a real bounce has it (sisimai lhost-x1-02): the parameter on a folded line.
    from chalicelib.blobs import media_type

    assert media_type('text/plain\r\n   charset="iso-2022-jp"') == "text/plain"
    assert media_type("Application/PDF; name=a.pdf") == "application/pdf"
    assert media_type("\r\nnot a type") == "application/octet-stream"
    assert media_type("") == "application/octet-stream"
