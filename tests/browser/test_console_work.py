"""The rest of an agent's tools at the console, in Chromium: a quote's steps (R5.3), an
administration request corrected (R5.1), and the keyboard in the queue and the answer."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Stack, new_page, sign_in


def test_a_quote_from_proposal_to_payment_and_completion(stack: Stack, browser: Any) -> None:
    boris = stack.token("boris.work@example.com", "Борис", staff=False)
    made = stack.call(
        "POST",
        "/tickets",
        boris,
        {"subject": "Платная настройка", "text": "Готов оплатить настройку nginx на моём VPS"},
    )
    page = new_page(browser)
    sign_in(page, stack, "quotes.work@example.com", "Нина")
    page.goto(f"{stack.url}/console/#/requests/{made['id']}")
    page.locator("summary", has_text="Предложить работы").click()
    page.fill("textarea[name=scope]", "Настройка nginx и TLS")
    page.fill("input[name=price]", "1500")
    page.fill("input[name=deadline]", "2031-01-15T12:00")
    page.get_by_role("button", name="Предложить работы").click()
    page.wait_for_selector(".quote .badge >> text='предложено'")
    [quote] = stack.call("GET", f"/tickets/{made['id']}/quotes", boris)["items"]
    stack.call("POST", f"/tickets/{made['id']}/quotes/{quote['id']}/accept", boris, {})
    page.reload()
    page.wait_for_url("**/dev-signin**")
    page.click("button[type=submit]")
    page.wait_for_selector(".quote .badge >> text='принято'")
    page.fill("input[name=amount]", "1500")
    page.get_by_role("button", name="Записать платёж").click()
    page.wait_for_selector(".quote >> text=оплачено: 1500.00")
    page.get_by_role("button", name="Выполнено").click()
    page.wait_for_selector(".quote .badge >> text='выполнено'")
    assert stack.call("GET", f"/tickets/{made['id']}/quotes", boris)["items"][0]["state"] == (
        "completed"
    )
    assert page.errors == []


def test_an_admin_request_is_corrected_and_the_keyboard_works(stack: Stack, browser: Any) -> None:
    vera = stack.token("vera.work@example.com", "Вера", staff=False)
    made = stack.call(
        "POST",
        "/tickets",
        vera,
        {"subject": "Переустановка", "text": "Переустановите, пожалуйста, ОС на сервере 4242"},
    )
    page = new_page(browser)
    sign_in(page, stack, "admin.work@example.com", "Олег")
    # The queue by keyboard: j moves down, k up, o opens the selected line.
    page.wait_for_selector(".row")
    page.wait_for_selector(f".row[data-id='{made['id']}']")
    for _ in range(page.locator(".row").count()):  # j until the new request is selected
        if page.locator(".row.selected").get_attribute("data-id") == made["id"]:
            break
        page.keyboard.press("j")
    assert page.locator(".row.selected").get_attribute("data-id") == made["id"]
    page.keyboard.press("o")
    page.wait_for_url(f"**/#/requests/{made['id']}")
    page.wait_for_selector("form >> text=Исправить")
    page.fill("input[name=server]", "vps-4242")
    page.get_by_role("button", name="Исправить", exact=True).click()
    page.wait_for_selector(".panel >> text=vps-4242")
    corrected = stack.call(
        "GET", f"/tickets/{made['id']}", stack.token("x.work@example.com", "X", staff=True)
    )
    assert corrected["admin_request"]["server"] == "vps-4242"
    # `a` jumps to the answer box; Ctrl+Enter in it sends.
    page.locator("h1").click()
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.name") == "answer"
    page.keyboard.type("Переустановим сегодня вечером.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".msg.staff >> text=Переустановим сегодня вечером.")
    page.keyboard.press("u")
    page.wait_for_url("**/#/queue")
    assert page.errors == []
