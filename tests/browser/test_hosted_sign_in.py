"""The deployed console's sign-in, in Chromium: the Cognito hosted UI with the
authorization code and PKCE (RFC 7636), played here by routes that stand in for the
hosted UI's `/oauth2/authorize` and `/oauth2/token` (on the stack's own origin, which
the local Content-Security-Policy allows)."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from typing import Any

from tests.browser.conftest import Stack, new_page


def test_staff_sign_in_with_the_code_and_pkce(stack: Stack, browser: Any) -> None:
    page = new_page(browser)
    console = f"{stack.url}/console/"
    auth = f"{stack.url}/fake-auth"
    config = {
        "signin": "cognito",
        "api": "",
        "auth": {"domain": auth, "client_id": "console-client", "redirect_uri": console},
    }
    token = stack.token("pkce.staff@example.com", "Вера", staff=True)
    seen: dict[str, Any] = {}

    page.route("**/console/config.json", lambda r: r.fulfill(json=config))

    def authorize(route: Any) -> None:
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(route.request.url).query))
        seen["authorize"] = params
        back = f"{console}?code=the-code&state={params['state']}"
        route.fulfill(status=302, headers={"Location": back})

    def exchange(route: Any) -> None:
        seen["token"] = dict(urllib.parse.parse_qsl(route.request.post_data or ""))
        route.fulfill(json={"id_token": token, "refresh_token": "r", "expires_in": 3600})

    page.route("**/fake-auth/oauth2/authorize**", authorize)
    page.route("**/fake-auth/oauth2/token", exchange)
    page.goto(f"{console}#/search")
    page.wait_for_selector("#nav a")

    asked = seen["authorize"]
    assert asked["response_type"] == "code" and asked["client_id"] == "console-client"
    assert asked["code_challenge_method"] == "S256" and asked["redirect_uri"] == console
    sent = seen["token"]
    assert sent["grant_type"] == "authorization_code" and sent["code"] == "the-code"
    digest = hashlib.sha256(sent["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).decode().rstrip("=") == asked["code_challenge"]
    # Back where the agent was going, with no code left in the address bar.
    assert page.url == f"{console}#/search"
    assert "Вера" in page.locator("#who").inner_text()
    assert page.errors == []
