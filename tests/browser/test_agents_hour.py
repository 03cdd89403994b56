"""An agent's hour at the console, in Chromium against the local stack (issue: the agent's
desk in the browser): sign in; a breached ticket leads the queue (R2.4); answer it with a
knowledge-base link (R2.3) and the customer's mail lands in the outbox (R2.1); an internal
note reaches neither the outbox nor the customer; a colleague's answer makes a stale one
refused and shown (409 `conversation_changed`); a delay notice moves the deadline (R2.2);
solve with an answer (R2.8); search finds it; an incident update answers the linked
requests and the public status page shows the incident (R3.3)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser.conftest import ROOT, Stack, accessible, new_page, shoot, sign_in
from tests.local.stack import clean_environment

FTP = "Не могу подключиться по FTP: 530 Login incorrect, сайт example.com"


def ticket(stack: Stack, token: str, subject: str, text: str = FTP) -> str:
    body = {"subject": subject, "text": text, "domain": "example.com"}
    made = stack.call("POST", "/tickets", token, body)
    return str(made["id"])


def sweep_at(stack: Stack, minutes: int) -> None:
    """One SLA sweep with the clock `minutes` ahead (`sla-sweep --now`, the local stack)."""
    at = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    env = {**clean_environment(), "SUPPORT_INTAKE_LOCAL": stack.name}
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib", "sla-sweep", "--now", at],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def wait_for(condition: Any, what: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_an_agents_hour(stack: Stack, browser: Any) -> None:
    anna = stack.token("anna.hour@example.com", "Анна Петрова", staff=False)
    late = ticket(stack, anna, "FTP не подключается с утра")
    sweep_at(stack, 61)  # an hour and a minute later: the first one is breached
    stale = ticket(stack, anna, "FTP снова не пускает")
    delayed = ticket(stack, anna, "Перенос сайта по FTP застрял")

    page = new_page(browser)
    sign_in(page, stack, "olga.hour@example.com", "Ольга")
    # Breaches lead the queue (other tests' requests may be breached too, by the same
    # sweep): the first line is a breach, and so is every line up to this one.
    page.wait_for_selector(".row")
    rows = page.locator(".row")
    ids = [rows.nth(i).get_attribute("data-id") for i in range(rows.count())]
    assert late in ids and "breached" in (rows.first.get_attribute("class") or "")
    for i in range(ids.index(late) + 1):
        assert "breached" in (rows.nth(i).get_attribute("class") or "")
    first = rows.nth(ids.index(late))
    assert "Просрочено" in first.inner_text()
    assert int(page.locator(".count.breached strong").inner_text().rstrip("+")) >= 1

    # Answer the breached ticket with a link from the knowledge base (R2.3).
    first.locator("a").click()
    page.wait_for_selector(".thread")
    page.get_by_role("button", name=re.compile("Вставить ссылку: Подключение по FTP")).click()
    answer = page.locator("textarea[name=answer]")
    answer.press("End")
    answer.type(" Проверили: пароль FTP сброшен, попробуйте снова.")
    assert "https://" in answer.input_value()
    answer.press("Control+Enter")
    page.wait_for_selector(".msg.staff .delivery")
    wait_for(
        lambda: [m for m in stack.mails() if "anna.hour@example.com" in m and "kb/" in m],
        "the answer with its KB link in outbox/",
    )

    # An internal note: shown to staff, never mailed, never in the customer's view.
    page.get_by_role("tab", name="Внутренняя заметка").click()
    page.fill("textarea[name=note]", "Заметка-для-своих: клиент звонил дважды")
    page.get_by_role("button", name="Добавить заметку").click()
    page.wait_for_selector(".msg.note")
    assert "Внутренняя заметка" in page.locator(".msg.note").inner_text()
    time.sleep(1.5)  # a mail, had one been queued, would be in the outbox by now
    assert not [m for m in stack.mails() if "Заметка-для-своих" in m]
    seen_by_anna = stack.call("GET", f"/tickets/{late}", anna)
    assert "Заметка-для-своих" not in str(seen_by_anna)

    # A colleague answers while Olga writes: her stale answer is refused and shown.
    page.goto(f"{stack.url}/console/#/requests/{stale}")
    page.wait_for_selector("textarea[name=answer]")
    page.fill("textarea[name=answer]", "Ответ Ольги по старому виду")
    ivan = stack.token("ivan.hour@example.com", "Иван", staff=True)
    stack.call("POST", f"/tickets/{stale}/responses", ivan, {"text": "Иван уже ответил"})
    stack.call("POST", f"/tickets/{stale}/messages", anna, {"text": "А теперь SFTP тоже"})
    page.get_by_role("button", name="Отправить", exact=True).click()
    alert = page.locator("[role=alert]", has_text="Пока вы писали")
    alert.wait_for()
    assert "Иван уже ответил" in alert.inner_text() and "А теперь SFTP тоже" in alert.inner_text()
    assert page.locator("textarea[name=answer]").input_value() == "Ответ Ольги по старому виду"
    shoot(page, "conflict", "wide")
    page.get_by_role("button", name="Отправить", exact=True).click()  # now it answers
    page.wait_for_selector(".msg.staff >> text=Ответ Ольги по старому виду")

    # A delay notice moves the deadline (R2.2); then solve with an answer (R2.8).
    page.goto(f"{stack.url}/console/#/requests/{delayed}")
    page.wait_for_selector(".thread")
    page.get_by_role("tab", name="Уведомление о задержке").click()
    page.fill("textarea[name=reason]", "Нужна проверка на сервере")
    eta = datetime.now() + timedelta(hours=3)  # the browser's local time, as the agent types
    page.fill("input[name=eta]", eta.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Отправить уведомление").click()
    page.wait_for_selector(".msg.delay")
    assert "Отсрочено" in page.locator(".panel", has_text="Срок ответа").inner_text()
    view = stack.call("GET", f"/tickets/{delayed}", ivan)
    assert view["sla"]["state"] == "delayed"
    assert view["sla"]["due_at"].startswith(eta.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))
    page.fill("textarea[name=answer]", "Перенос завершён, проверьте сайт.")
    page.get_by_role("button", name="Отправить и решить").click()
    page.wait_for_selector(".badge.status-solved")

    # Search finds it by a word form of its subject.
    page.goto(f"{stack.url}/console/#/search?q=перенос")
    page.wait_for_selector(f".row[data-id='{delayed}']")

    # An incident: opened on FTP, an update with notify answers the linked open request.
    linked = ticket(stack, anna, "FTP лежит у всех?")
    page.goto(f"{stack.url}/console/#/incidents")
    page.locator("summary", has_text="Открыть инцидент или работы").click()
    page.fill("input[name=title]", "FTP недоступен на web7")
    page.check("input[value=ftp]")
    page.fill("textarea[name=message]", "Разбираемся с FTP на web7.")
    page.locator("form button.primary").click()
    page.wait_for_url("**/#/incidents/I-*")
    page.wait_for_selector(f".row[data-id='{linked}']")
    page.fill("textarea[name=message]", "FTP снова работает, проверьте, пожалуйста.")
    page.select_option("select[name=state]", "resolved")
    page.check("input[name=notify]")
    page.get_by_role("button", name="Опубликовать обновление").click()
    page.wait_for_selector("text=разослано")
    wait_for(
        lambda: [m for m in stack.mails() if "FTP снова работает" in m],
        "the incident update mailed to the linked request's customer",
    )
    assert stack.call("GET", f"/tickets/{linked}", anna)["status"] == "answered"

    # The public status page shows an incident while it is active.
    stack.call(
        "POST",
        "/staff/incidents",
        ivan,
        {
            "kind": "incident",
            "services": ["mysql"],
            "title": "MySQL медленно отвечает",
            "message": "Смотрим нагрузку на MySQL.",
        },
    )
    page.goto(f"{stack.url}/status")
    assert "MySQL медленно отвечает" in page.content()
    assert page.errors == []
    assert accessible(page) == []
