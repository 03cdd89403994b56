"""The staff console in a real browser: Playwright (Python) driving Debian's Chromium
against one local stack (`python -m chalicelib dev`), as an agent uses it.

Without Chromium at /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it
where it is missing), every browser test is skipped and the run's summary says how many
and why. Screenshots of each screen at both widths go to `build/screenshots/`."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.local.stack import ROOT, running_stack

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# The flags DESIGN.md names: this machine's network is closed, so Chromium's own
# background connections are switched off rather than refused many at a time.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "build" / "screenshots"
WIDTHS = {"wide": (1280, 900), "phone": (390, 844)}
SKIP_REASON = f"no Chromium at {CHROMIUM} (apt-get install chromium; README: The staff console)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test is skipped, with the reason, where Chromium is missing."""
    if CHROMIUM.exists():
        return
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Stack:
    """The running local stack as the tests reach it: its URL and its outbox folder."""

    url: str
    outbox: Path
    name: str

    def token(self, email: str, name: str, *, staff: bool) -> str:
        """A token minted by the console's local sign-in page (the form a person posts)."""
        fields = {"email": email, "name": name, "to": "#/queue"}
        if staff:
            fields["staff"] = "1"
        request = urllib.request.Request(
            f"{self.url}/console/dev-signin",
            data=urllib.parse.urlencode(fields).encode(),
            method="POST",
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(request, timeout=30)
        except urllib.error.HTTPError as answer:
            location = answer.headers["Location"]
        fragment = urllib.parse.parse_qs(location.split("#", 1)[1])
        return fragment["token"][0]

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def mails(self) -> list[str]:
        """Each mail in the outbox as its recipients and its text parts, decoded."""
        found = []
        for path in sorted(self.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            parts = [str(message["To"]), str(message["Subject"])]
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    parts.append(part.get_content())
            found.append("\n".join(parts))
        return found


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    outbox = Path(tempfile.mkdtemp(prefix="console-outbox-"))
    try:
        with running_stack({"OUTBOX_DIR": str(outbox)}) as (api, aws):
            yield Stack(f"http://127.0.0.1:{api}", outbox, f"{api}:{aws}")
    finally:
        shutil.rmtree(outbox, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_page(browser: Any, width: str = "wide", locale: str = "ru-RU") -> Any:
    """A page in a fresh context (its own storage) at one of the two widths; page errors
    and console errors are collected on `page.errors`."""
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, locale=locale)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def sign_in(page: Any, stack: Stack, email: str, name: str) -> None:
    page.goto(f"{stack.url}/console/")
    page.wait_for_url("**/console/dev-signin**")
    page.fill("#email", email)
    page.fill("#name", name)
    page.click("button[type=submit]")
    page.wait_for_selector("#nav a")


def shoot(page: Any, name: str, width: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def accessible(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
