"""The public status page's content negotiation and rendering (API.md; R3.3)."""

from __future__ import annotations

import pytest

from chalicelib.status.page import PAGE_HEADERS, STYLE_HASH, prefers_html, status_page


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("text/html", True),
        ("*/*", False),
        (None, False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0.2, application/json;q=0.1", True),
        ("text/html;q=bogus", False),
        ("text/html;q=0", False),
        ("x" * 5000 + ",text/html", False),  # an absurd header is not read to its end
    ],
)
def test_a_browser_gets_html_and_everyone_else_json(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html


def test_the_page_escapes_what_staff_wrote_and_allows_only_its_own_style() -> None:
    status = {
        "services": {"mysql": "outage", "ftp": "operational"},
        "incidents": [
            {
                "title": "<script>alert(1)</script>",
                "state": "investigating",
                "services": ["mysql"],
                "latest_update": {"message": "<b>x</b>", "at": "2026-12-04T10:00:00+00:00"},
            }
        ],
        "maintenance": [],
        "at": "2026-12-04T10:05:00+00:00",
    }
    page = status_page(status, "https://api.test/status/feed", "Europe/Moscow")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page
    assert "13:00 (Europe/Moscow)" in page  # the company's time zone
    assert "Плановых работ не запланировано" in page and "No maintenance planned" in page
    assert f"'{STYLE_HASH}'" in str(PAGE_HEADERS["Content-Security-Policy"])
