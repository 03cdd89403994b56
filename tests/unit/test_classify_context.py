"""Issue 17: the classifier judges a request's own words. Quoted correspondence, reply
and forward headers, signatures and greetings are set aside; a `Re:` subject counts
only when the reply says nothing; Russian in Latin letters is read in Cyrillic too."""

from __future__ import annotations

import pytest

from chalicelib.classify import abuse_evidence, classify_request
from chalicelib.classify.clean import bare_subject, own_words, translit_reading
from chalicelib.classify.text import tokenize


def label(subject: str, text: str) -> tuple[str, str | None]:
    scope, _ = classify_request(subject, text, "email")
    return scope.label, scope.sub


def test_a_thank_you_that_quotes_the_outage_is_not_an_outage() -> None:
    text = (
        "Спасибо, всё заработало!\n\n"
        "On Mon, 1 Dec 2026 at 10:00, Support <support@hosting.example> wrote:\n"
        "> Сайт не работает, ошибка 502"
    )
    assert label("Re: Сайт не работает", text)[0] != "outage"


def test_a_new_question_under_an_old_reply_subject_is_the_new_question() -> None:
    assert label("Re: Почта не работает", "Подскажите, как подключить SSL к домену?") == (
        "consultation",
        None,
    )
    assert label("Re: Почта не работает", "")[0] == "outage"  # nothing of its own


def test_the_earlier_message_under_a_russian_reply_header_is_not_read() -> None:
    text = "Как продлить домен?\n\n01.12.2026 10:00, Поддержка пишет:\nMySQL не отвечает"
    assert own_words(text) == "Как продлить домен?"


def test_a_forward_with_nothing_of_its_own_is_read_whole() -> None:
    text = "-------- Пересланное сообщение --------\nОт: robot@x\nТема: ошибка\nMySQL не отвечает"
    assert label("Fwd: ошибка", text) == ("outage", "mysql")


def test_signature_greeting_and_sign_off_are_set_aside() -> None:
    text = "Добрый день!\nКак настроить DNS-записи?\n\nС уважением,\nИван\nServer admin, MySQL"
    assert own_words(text) == "Как настроить DNS-записи?"
    assert own_words("Вопрос про тариф\n-- \nООО Сервер-Плюс") == "Вопрос про тариф"
    assert own_words("> только цитата") == "> только цитата"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zdravstvuyte, ne rabotaet pochta na domene", ("outage", "email")),
        ("sait ne otkryvaetsya s utra, oshibka 500", ("outage", "apache")),
    ],
)
def test_russian_in_latin_letters_is_read(text: str, expected: tuple[str, str]) -> None:
    assert label("Pomogite", text) == expected


def test_translit_is_read_only_when_the_text_looks_like_it() -> None:
    assert translit_reading("Please check the mail server, the site is down") is None
    reading = translit_reading("Zdravstvuyte, sait ne otkryvaetsya, dayte dostup")
    assert reading == "здравствуйте, сайт не открывается, дайте доступ"


def test_reply_prefixes_are_stripped_from_the_subject() -> None:
    assert bare_subject("Re: RE: Fwd: Сайт") == "Сайт"
    assert bare_subject("Ответ: Re[2]: Сайт") == "Сайт"


# -- word-level faults, slang and narrow word lists (issue 17, causes 2, 4, 5, 6) ---------


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        # "we'll" is "we will", not "well"; "charge" asks for a price (R5.3)
        (
            "Работа",
            "We'll pay for the migration of our sites, how much do you charge?",
            ("paid_admin", None),
        ),
        # slang for "down"
        ("Почта", "Почта не пашет с утра, письма не уходят", ("outage", "email")),
        # raising a limit, opening a port: the server adjusted to one customer (R4.4)
        (
            "Лимит",
            "Увеличьте, пожалуйста, memory_limit до 512M",
            ("out_of_scope", "custom_server_config"),
        ),
        ("Порт", "Откройте порт 8080 на моем хостинге", ("out_of_scope", "custom_server_config")),
        ("Лимит", "Как увеличить memory_limit?", ("consultation", None)),
        # planned updates are maintenance (R3.3)
        ("Обновления", "Когда плановое обновление серверов?", ("maintenance", None)),
    ],
)
def test_word_lists_cover_what_they_missed(
    subject: str, text: str, expected: tuple[str, str | None]
) -> None:
    scope, _ = classify_request(subject, text, "cabinet")
    assert (scope.label, scope.sub) == expected


def test_how_to_is_a_word_not_a_stem_and_names_stay_whole() -> None:
    from chalicelib.classify.text import tokenize

    norms = [t.norm for t in tokenize("Error in config.php on Ubuntu 22.04 with node.js")]
    assert "config.php" in norms and "22.04" in norms and "node.js" in norms
    assert "php" not in norms
    scope, _ = classify_request("Тарифы", "Какие-то проблемы", "cabinet")
    assert not any(e.cue == "=как" for e in scope.evidence)


@pytest.mark.parametrize(
    "text",
    [
        "Вы там совсем бездари? Третий день не можете ответить",
        "You clowns broke my site again",
        "Криворукие админы опять всё сломали",
    ],
)
def test_insults_aimed_at_staff_without_obscenity_are_flagged(text: str) -> None:
    scope, _ = classify_request("Жалоба", text, "cabinet")
    assert "abusive" in scope.flags


@pytest.mark.parametrize(
    "text",
    [
        "Клоунада какая-то с этим DNS",
        "Чмокаю, спасибо за помощь",
        "Тупик в настройках nginx",
        "Загрузка тупо висит на 99%",  # the adverb shares its stem with the insult
    ],
)
def test_innocent_words_near_the_new_roots_are_not_flagged(text: str) -> None:
    scope, _ = classify_request("Вопрос", text, "cabinet")
    assert "abusive" not in scope.flags


# -- outage in context (issue 17, causes 3 and 4) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the customer's mail client vetoes only the failure it is next to
        (
            "Outlook на ноутбуке не отправляет письма, а ещё сайт не открывается с утра, 502",
            "outage",
        ),
        ("Outlook на ноутбуке не отправляет письма", "not outage"),
        # a failure described as over is not an outage now
        ("Вчера вечером сайт не работал, сейчас всё нормально. Что случилось?", "not outage"),
        ("The mail server was down an hour ago but it is back, thanks", "not outage"),
        # "не заработал" is still broken
        ("Сайт так и не заработал, 502", "outage"),
        ("Почта опять не работает, третий раз за неделю", "outage"),
    ],
)
def test_an_outage_is_judged_in_its_context(text: str, expected: str) -> None:
    scope, _ = classify_request("Проблема", text, "cabinet")
    assert (scope.label == "outage") == (expected == "outage")


# -- consultation is not the default; errors of the customer's own code (causes 1, 3) ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SSL сертификат", ("unclear", None)),  # a topic, nothing asked
        ("Вопрос по SSL сертификату", ("consultation", None)),
        ("Какой SSL у вас бесплатный?", ("consultation", None)),
        ("Do you support PHP 8.3 on shared hosting?", ("consultation", None)),
        ("hosting", ("unclear", None)),
    ],
)
def test_a_topic_word_alone_asks_nothing(text: str, expected: tuple[str, str | None]) -> None:
    scope, _ = classify_request("", text, "cabinet")
    assert (scope.label, scope.sub) == expected
    assert ("needs_details" in scope.flags) == (expected[0] == "unclear")


def test_an_error_of_the_customers_own_code_is_not_a_failing_service() -> None:
    text = "Сайт выдаёт Fatal error: Call to undefined function get_header() in index.php"
    scope, _ = classify_request("Ошибка", text, "cabinet")
    assert (scope.label, scope.sub) == ("out_of_scope", "training")  # R4.6, bug hunting
    scope, _ = classify_request("Ошибка", "Сайт выдаёт ошибку 500 с утра", "cabinet")
    assert scope.label == "outage"


def test_a_question_mark_is_a_cue_and_adds_no_word() -> None:
    from chalicelib.classify.text import tokenize

    assert [t.norm for t in tokenize("Работает? Да.")] == ["работает", "?", "да"]


def test_a_how_to_in_one_part_does_not_block_a_request_in_another() -> None:
    text = (
        "Как посмотреть логи сайта? И ещё: установите, пожалуйста, WordPress на домен blog-17.ru."
    )
    scope, _ = classify_request("Два вопроса", text, "cabinet")
    assert (scope.label, scope.sub) == ("out_of_scope", "script_setup")  # R4.2 outranks R3
    scope, _ = classify_request("Вопрос", "Как установить WordPress на хостинг?", "cabinet")
    assert scope.label == "consultation"


@pytest.mark.parametrize(
    "text",
    [
        "Сайт выдаёт ошибку подключения к базе данных",
        "My site shows Error establishing a database connection",
        "Сайт пишет SQLSTATE[HY000] [1040] Too many connections",
    ],
)
def test_a_database_error_on_the_site_is_the_database_failing(text: str) -> None:
    scope, _ = classify_request("Сайт", text, "cabinet")
    assert (scope.label, scope.sub) == ("outage", "mysql")  # not the generic "site"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "В моём скрипте где-то ошибка, не могу найти, посмотрите код",
            ("out_of_scope", "training"),
        ),
        ("Помогите почистить мой ноутбук от мусора, тормозит", ("out_of_scope", "customer_pc")),
    ],
)
def test_bug_hunting_and_the_customers_own_computer_are_out_of_scope(
    text: str, expected: tuple[str, str]
) -> None:
    scope, _ = classify_request("Просьба", text, "cabinet")
    assert (scope.label, scope.sub) == expected  # R4.6, R4.5


def test_a_forward_is_found_where_it_starts_even_after_a_same_looking_line() -> None:
    # An earlier "From: x" line that starts no forward must not stand in for the later one.
    text = "Q\n\nFrom: x\nhello\n\nFrom: x\nSent: y\nthe forwarded words"
    assert own_words(text) == "Q\n\nFrom: x\nhello"


@pytest.mark.parametrize(
    ("text", "abusive"),
    [
        ("да ёб твою мать, опять база лежит", True),
        ("Are you dumb? Just create the mailbox", True),
        ("Вы там совсем тупые? Сколько можно ждать?", True),
        ("Ох*еть, почта опять не работает!", True),
        ("This is sh!t, website down again", True),
        # the same stems and marks in innocent use (R6.2: whole words, never substrings)
        ("Сайт тупо не открывается, помогите", False),
        ("Мы зашли в тупик с настройкой почты", False),
        ("Help!please, the site is down", False),
        ("Застрахуйте нас от потери данных: какие бэкапы есть?", False),
        ("Наша команда из Scunthorpe, оплата в рублях", False),
    ],
)
def test_abuse_is_found_in_masked_and_exact_forms_and_not_in_innocent_words(
    text: str, abusive: bool
) -> None:
    scope, _ = classify_request("Запрос", text, "cabinet")
    assert ("abusive" in scope.flags) == abusive, scope.evidence


def test_everyday_russian_typed_in_latin_letters_is_read_in_cyrillic_too() -> None:
    assert translit_reading("vy bezrukie chto li? popravte uzhe skript") is not None
    assert translit_reading("Is it down? Please fix it, we need the site up today.") is None
    tokens = [t.surface for t in tokenize("Привет!Сайт не работает, sh!t")]
    assert tokens == ["привет", "сайт", "не", "работает", "sh!t"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Сайт не упал, всё работает, вопрос: как продлить тариф?", "consultation"),
        (
            "The site is not down, I just want to know how to add a mailbox in cPanel.",
            "consultation",
        ),
        # a negation vetoes the failure it denies, not another one beside it
        ("Сайт не упал, но почта не работает", "outage"),
        ("Site is down, no error shown, just a blank page", "outage"),
    ],
)
def test_a_denied_failure_is_not_an_outage(text: str, expected: str) -> None:
    scope, _ = classify_request("Вопрос", text, "cabinet")
    assert scope.label == expected, scope.evidence


@pytest.mark.parametrize(
    "text",
    [
        # issue 30: insults with no obscenity, aimed at the reader
        "Бездари, верните деньги за месяц простоя!",
        "Ну вы и клоуны, третий день без почты",
        "You useless amateurs broke DNS again",
        "Are you people completely useless or just pretending?",
        "Я вас, козлов, по судам затаскаю!",
        "и не тупите как обычно, дятлы",
        "Вы безрукие что ли? Поправьте уже скрипт",
        # sarcasm: the team's title in scare quotes
        "Ну спасибо, «специалисты», сайт опять лежит",
        'Your "experts" deleted my cron jobs',
        # masked obscenity
        "да е**сь оно всё конём",
        "вы там долб**бы что ли",
        "дам в у*бку вашему админу",
        "its bullsh*t, the mail is down again",
    ],
)
def test_r6_2_insults_sarcasm_and_masked_obscenity_are_flagged(text: str) -> None:
    assert abuse_evidence(text), text


@pytest.mark.parametrize(
    "text",
    [
        # the same words, not aimed at anyone, or a name
        "This plugin is useless without the pro version",
        "Do you think it is useless to upgrade PHP now?",
        "С уважением, Иван Козлов, менеджер",
        "Переходим на тариф «Эксперт», как это сделать?",
        "Тариф «Профи» подходит для магазина?",
        "Раздел «Техподдержка» в кабинете не открывается",
        "We are amateurs at DNS, please explain the records",
    ],
)
def test_r6_2_directed_words_alone_names_and_plan_titles_stay_clean(text: str) -> None:
    assert not abuse_evidence(text), text
