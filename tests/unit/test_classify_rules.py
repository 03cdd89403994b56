"""The scope classifier, rule by rule (SPEC.md, Scope labels), in Russian and English."""

from __future__ import annotations

import io
import json

import pytest

from chalicelib.classify import classify_request
from devtools.cli import classify_lines


def scope(text: str, subject: str = "", channel: str = "cabinet"):
    return classify_request(subject, text, channel)[0]


def label(text: str, subject: str = "") -> tuple[str, str | None]:
    found = scope(text, subject)
    return found.label, found.sub


@pytest.mark.parametrize(
    ("text", "sub"),
    [
        ("Не могу зайти в личный кабинет, пишет что сервис недоступен", "cabinet"),
        ("Панель управления не открывается со вчерашнего вечера", "panel"),
        ("Письма с нашего домена не уходят, сервер отвечает ошибкой 554", "email"),
        ("MySQL упал, сайты пишут что не могут подключиться к базе данных", "mysql"),
        ("Apache отдаёт 500 на всех сайтах после перезагрузки", "apache"),
        ("FTP не отвечает, соединение обрывается по таймауту", "ftp"),
        ("SSH не пускает: Connection refused на 22 порту", "ssh"),
        ("Our webmail inbox is not receiving anything since noon", "email"),
        ("The control panel login is down for all users", "panel"),
        ("Cannot connect to the MariaDB database from my scripts: too many connections", "mysql"),
    ],
)
def test_r3_1_a_hosting_service_that_does_not_work_is_an_outage(text: str, sub: str) -> None:
    assert label(text) == ("outage", sub)


def test_r3_1_the_service_nearest_the_failure_is_the_sub_label() -> None:
    text = "Упала база данных mysql. Почта аккаунта: ivan@example.com, сайт на этом же сервере."
    assert label(text) == ("outage", "mysql")


@pytest.mark.parametrize(
    "text",
    [
        "Как в панели управления создать почтовый ящик?",
        "How do I connect to FTP with FileZilla?",
        "Где в панели посмотреть логи ошибок сайта?",
    ],
)
def test_r3_2_a_how_to_question_about_the_panel_is_a_consultation_not_an_outage(text: str) -> None:
    assert label(text)[0] == "consultation"


@pytest.mark.parametrize(
    "text",
    [
        "Будут ли на этой неделе технические работы на серверах хостинга?",
        "Is there any planned maintenance on the database servers tonight?",
        "What is the current status of your services? Any incident?",
        "Когда вы планируете обновление MySQL на серверах?",
    ],
)
def test_r3_3_maintenance_and_service_status(text: str) -> None:
    assert label(text)[0] == "maintenance"


@pytest.mark.parametrize(
    "text",
    [
        "Переустановите операционную систему на моём VPS, нужна Rocky Linux 9",
        "Please reinstall the OS on my dedicated server with Ubuntu 22.04",
    ],
)
def test_r5_1_os_reinstall_on_vps_or_dedicated_is_free_administration(text: str) -> None:
    found = scope(text)
    assert found.label == "free_admin"
    assert any(e.rule == "R5.1" for e in found.evidence)


def test_r5_2_panel_on_a_clean_os_is_free_administration() -> None:
    found = scope("Install HestiaCP on my fresh VPS, nothing is installed yet.")
    assert found.label == "free_admin"
    assert any(e.rule == "R5.2" for e in found.evidence)


@pytest.mark.parametrize(
    "text",
    [
        "Поставьте ISPmanager на сервер, где уже работают сайты, без переустановки",
        "Install Plesk on my server that already hosts live sites, keep my data.",
    ],
)
def test_r5_2_panel_on_a_server_that_runs_sites_is_not_a_clean_os(text: str) -> None:
    assert label(text) == ("out_of_scope", "custom_server_config")


@pytest.mark.parametrize(
    "text",
    [
        "Готов оплатить работу администратора по настройке кластера, сколько это будет стоить?",
        "We are willing to pay for an admin to migrate our Postgres cluster. Please quote.",
    ],
)
def test_r5_3_explicit_paid_administration(text: str) -> None:
    assert label(text)[0] == "paid_admin"


@pytest.mark.parametrize(
    ("text", "sub"),
    [
        ("Перепишите мой скрипт корзины, он неправильно считает скидки", "customer_code"),
        ("Please fix my PHP code, the contact form script sends empty emails", "customer_code"),
        ("Установите OpenCart на мой домен и настройте его", "script_setup"),
        ("Install WordPress for me and set up the theme", "script_setup"),
        ("Создайте FTP аккаунт для подрядчика", "self_service"),
        ("Please reset the password of my mailbox and send it to me", "self_service"),
        ("Установите Docker на сервер виртуального хостинга", "custom_server_config"),
        (
            "Change the server settings for the entire server to suit my project",
            "custom_server_config",
        ),
        ("Настройте почту в Outlook на моём компьютере", "customer_pc"),
        ("Help me set up my laptop so Thunderbird downloads mail", "customer_pc"),
        ("Научите меня программировать на PHP", "training"),
        ("Find the bug in my JavaScript code, the function returns undefined", "training"),
    ],
)
def test_r4_out_of_scope_reasons(text: str, sub: str) -> None:
    assert label(text) == ("out_of_scope", sub)


def test_r4_2_install_wordpress_is_script_setup_but_reinstall_os_is_free_admin() -> None:
    assert label("Install WordPress on my VPS") == ("out_of_scope", "script_setup")
    assert label("Reinstall the OS on my VPS") == ("free_admin", None)


@pytest.mark.parametrize(
    "text",
    [
        "Подскажите, как продлить хостинг на год?",
        "Пришлите счёт на оплату тарифа Бизнес",
        "Which plan includes SSH access?",
    ],
)
def test_r1_5_services_and_billing_are_consultations(text: str) -> None:
    assert label(text)[0] == "consultation"


@pytest.mark.parametrize("text", ["помогите", "Hello?", "Срочно!!!", "ну и что теперь"])
def test_r6_4_nothing_actionable_is_unclear_and_needs_details(text: str) -> None:
    found = scope(text)
    assert found.label == "unclear"
    assert "needs_details" in found.flags


@pytest.mark.parametrize(
    "text",
    [
        "Вы там все дебилы? Почта не работает!",
        "Какого х*я не работает сайт",
        "бл*дь, опять FTP лежит",
        "You are useless morons, fix the mail",
        "f*** this, the panel is down again",
        "What the fuck happened to my database",
    ],
)
def test_r6_2_insults_and_obscenities_are_flagged_abusive_with_evidence(text: str) -> None:
    found = scope(text)
    assert "abusive" in found.flags
    assert any(e.name == "abusive" and e.rule == "R6.2" and e.match for e in found.evidence)


@pytest.mark.parametrize(
    "text",
    [
        "Our Scunthorpe office cannot send mail",
        "Middlesex analysts need the invoice",
        "The shell account on the server cannot run scripts",
        "Ваш сервис ужасен, это худший хостинг, где я был",
        "Оператор оскорбил меня, прошу сообщить руководству",
        "Please assess the class of service, Essex branch",
        "Скажите, можно ли употреблять кириллицу в пароле? Корабль, сукно, хулиган.",
    ],
)
def test_r6_2_no_false_abuse_from_substrings_criticism_or_complaints(text: str) -> None:
    assert "abusive" not in scope(text).flags


def test_r1_5_advisory_channels_get_ticket_recommended_when_not_a_consultation() -> None:
    outage = "MySQL не отвечает уже час"
    assert "ticket_recommended" in scope(outage, channel="chat").flags
    assert "ticket_recommended" in scope(outage, channel="email").flags
    assert "ticket_recommended" not in scope(outage, channel="cabinet").flags
    question = "Как сменить тариф?"
    assert "ticket_recommended" not in scope(question, channel="chat").flags


def test_every_label_comes_with_evidence_naming_cue_field_and_rule() -> None:
    found = scope("Почта не работает", subject="Срочно")
    label_evidence = [e for e in found.evidence if e.kind in ("label", "sub")]
    assert label_evidence
    assert {e.field for e in label_evidence} == {"text"}
    assert all(e.rule == "R3.1" and e.cue and e.match for e in label_evidence)


def test_inflected_forms_and_yo_match_the_same_cues() -> None:
    assert label("Сайты не открываются")[0] == "outage"
    assert label("Сайт не открылся, не открывается и не откроется")[0] == "outage"
    assert label("Пришлите счёт")[0] == label("Пришлите счет")[0] == "consultation"


def test_knowledge_base_suggestions_are_at_most_three_and_relevant() -> None:
    _, kb = classify_request("FTP", "Не могу подключиться по FTP через FileZilla", "cabinet")
    assert 1 <= len(kb) <= 3
    assert "ftp" in kb[0].url


def test_classify_cli_reports_bad_lines_by_number_and_exits_1() -> None:
    source = io.StringIO(
        '{"id": "a", "channel": "chat", "subject": "", "text": "почта не работает"}\n'
        "not json\n"
        '{"id": "b", "channel": "fax", "text": "x"}\n'
    )
    out, err = io.StringIO(), io.StringIO()
    assert classify_lines(source, out, err) == 1
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in results] == ["a"]
    assert results[0]["label"] == "outage" and "ticket_recommended" in results[0]["flags"]
    assert "line 2" in err.getvalue() and "line 3" in err.getvalue()
