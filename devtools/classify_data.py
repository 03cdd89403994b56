"""The classifier's labelled requests (issue 17): written bases, dressed as real mail is.

    .venv/bin/python -m devtools.classify_data          # rewrite tests/data/classify/*.jsonl
    .venv/bin/python -m devtools.classify_data --check  # exit 1 if they are out of date

`tests/data/classify/written/` (the project's own writer) and each
`../shared/corpus/requests.<writer>.jsonl` (one writer each, issue 30) hold requests
written by hand, one per line (`label[/sub] | abusive | channel | subject | text`, `\\n`
for a new line) or as JSONL; every row says its `writer`. The project's files named
`heldout-*` are its held-out part, and a fifth of every other writer's (`held_out`);
everything else trains. Each written request is kept as written and, once more, dressed
the way real requests arrive: a greeting, a signature or a mobile footer, a quoted
earlier message (an "On ... wrote:" block, `>` lines, an "Original Message" header) that
may itself talk about a failure, a `Re:` subject, typos, HTML remnants, Latin
transliteration of Russian, lower case. A request and its dressed copy always fall in
the same part, so the held-out part shares no text with training. The dressing is
seeded by the request's id: the files are reproducible.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "classify"
WRITTEN = DATA / "written"
PARTS = {"train": DATA / "train.jsonl", "heldout": DATA / "heldout.jsonl"}
# The shared corpus's labelled requests (read where they live): each `requests.*.jsonl`
# is one writer. A fifth of each of their labels is held out (HELD_OUT_EVERY), chosen by a
# hash of the request's id, decided before any of them was read by a model.
CORPUS = ROOT.parent / "shared" / "corpus"
PROJECT = "project"  # the requests written for this project's tests, however many files
HELD_OUT_EVERY = 5

Row = dict[str, Any]

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-zА-Яа-яЁё]{6,}")

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip

_GREETINGS_RU = [
    "Здравствуйте!",
    "Добрый день.",
    "Добрый вечер,",
    "Привет!",
    "Доброе утро, коллеги.",
]
_GREETINGS_EN = ["Hello,", "Hi team,", "Good morning,", "Dear Support,", "Hi there!"]
_SIGNATURES_RU = [
    "--\nС уважением,\nИгорь Петров\nООО «Хостинг-Сервис Плюс», отдел веб-разработки\n"
    "тел. +7 495 000-00-00",
    "Спасибо.\n\nОтправлено из Почты Mail.ru для Android",
    "С уважением, Елена\nменеджер интернет-магазина\nwww.tovary-dlya-doma.ru",
    "--\nАлексей, системный администратор\nSkype: alex.admin.work | Telegram @alex_admin",
    "Отправлено с iPhone",
    "Заранее спасибо!\nЯндекс.Почта — надёжная почта http://mail.yandex.ru",
]
_SIGNATURES_EN = [
    "Best regards,\nJohn Smith\nCTO, Acme Web Hosting Solutions Ltd\n+44 20 0000 0000",
    "Thanks!\n\nSent from my iPhone",
    "Kind regards,\nMaria\nOffice manager | www.northwind-shop.example",
    "--\nSent from Outlook for Android",
    "Cheers,\nDave\nThis e-mail and any attachments are confidential. If you are not the "
    "intended recipient, please delete it and notify the sender.",
    "Regards,\nPriya | DevOps\nGet Outlook for iOS",
]
# Earlier correspondence a reply quotes: some of it names failures and services, which
# the new message's label must not follow.
_QUOTED_RU = [
    "Здравствуйте! Проверили, сервер работает, сайт открывается, почта ходит.",
    "Сайт не открывается, выдаёт ошибку 500, помогите!",
    "Добрый день. Мы перезапустили почтовый сервис, проверьте, пожалуйста.",
    "Уточните, пожалуйста, домен и точный текст ошибки.",
    "База данных недоступна, phpMyAdmin не отвечает.",
]
_QUOTED_EN = [
    "Hello, we checked and the server is up, the site loads and mail is flowing.",
    "My website is down, it shows a 502 error!",
    "We have restarted the mail service, please check again.",
    "Could you tell us the domain and the exact error message?",
    "FTP is not working, connection refused.",
]


def load_written(path: Path) -> list[Row]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if path.suffix == ".jsonl":
            row = json.loads(line)
        else:
            row = _parse_line(line, f"{path.stem}-{number:03d}")
        row.setdefault("sub", None)
        row.setdefault("abusive", False)
        row["source"] = path.name
        rows.append(row)
    return rows


def _parse_line(line: str, row_id: str) -> Row:
    label, abusive, channel, subject, text = (p.strip() for p in line.split("|", 4))
    label, _, sub = label.partition("/")
    return {
        "id": row_id,
        "channel": channel,
        "subject": subject,
        "text": text.replace("\\n", "\n"),
        "label": label,
        "sub": sub or None,
        "abusive": abusive == "1",
    }


def is_russian(row: Row) -> bool:
    return bool(_CYRILLIC.search(row["subject"] + row["text"]))


def translit(text: str) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        if low in _TRANSLIT:
            latin = _TRANSLIT[low]
            out.append(latin.capitalize() if ch != low else latin)
        else:
            out.append(ch)
    return "".join(out)


def _typos(text: str, rng: random.Random) -> str:
    spots = list(_WORD.finditer(text))
    chosen = rng.sample(spots, min(len(spots), rng.randint(1, 2)))
    # From the end backwards, so an earlier word's offsets stay valid.
    for match in sorted(chosen, key=lambda m: m.start(), reverse=True):
        word = match.group(0)
        at = rng.randrange(1, len(word) - 2)
        if rng.random() < 0.5:
            typo = word[:at] + word[at + 1] + word[at] + word[at + 2 :]  # swapped
        else:
            typo = word[:at] + word[at + 1 :]  # dropped
        text = text[: match.start()] + typo + text[match.end() :]
    return text


def _html(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(f"<div>{line or '<br>'}</div>" for line in text.split("\n"))
    return "<p>" + text.replace("\n\n", "</p><p>").replace("\n", "<br>\n") + "</p>&nbsp;"


def _quote(row: Row, text: str, rng: random.Random, ru: bool) -> tuple[str, str]:
    earlier = rng.choice(_QUOTED_RU if ru else _QUOTED_EN)
    subject = (
        row["subject"] if row["subject"].lower().startswith("re:") else "Re: " + row["subject"]
    )
    style = rng.randrange(3)
    if style == 0:
        header = (
            "30.11.2026, 14:05, Техподдержка <support@hosting.example> пишет:"
            if ru
            else "On Mon, 30 Nov 2026 at 14:05, Support <support@hosting.example> wrote:"
        )
        return subject, f"{text}\n\n{header}\n> {earlier}"
    if style == 1:
        return (
            subject,
            f"{text}\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\n{earlier}",
        )
    return subject, f"{text}\n\n> {earlier}\n>\n> --\n> Support team"


def dress(row: Row) -> Row:
    """One more copy of a written request, dressed as it might arrive."""
    rng = random.Random(row["id"])  # noqa: S311 (reproducible test data, not secrets)
    ru = is_russian(row)
    subject, text = row["subject"], row["text"]
    steps: list[str] = []

    def greet() -> None:
        nonlocal text
        text = rng.choice(_GREETINGS_RU if ru else _GREETINGS_EN) + "\n\n" + text
        steps.append("greeting")

    def sign() -> None:
        nonlocal text
        text = text + "\n\n" + rng.choice(_SIGNATURES_RU if ru else _SIGNATURES_EN)
        steps.append("signature")

    def quote() -> None:
        nonlocal subject, text
        subject, text = _quote(row, text, rng, ru)
        steps.append("quoted")

    def typo() -> None:
        nonlocal text
        text = _typos(text, rng)
        steps.append("typos")

    def lower() -> None:
        nonlocal subject, text
        subject, text = subject.lower(), text.lower()
        steps.append("lower")

    choices: list[Callable[[], None]] = [greet, sign, quote, typo, lower]
    for step in rng.sample(choices, rng.randint(2, 3)):
        step()
    if ru and rng.random() < 0.3:
        subject, text = translit(subject), translit(text)
        steps.append("translit")
    if row["channel"] == "email" and rng.random() < 0.3:
        text = _html(text, rng)
        steps.append("html")
    return {
        **row,
        "id": row["id"] + "+d",
        "subject": subject,
        "text": text,
        "dressed": steps,
    }


def writer_of(path: Path) -> str:
    """Each `requests.<name>.jsonl` of the shared corpus is writer <name>; every file of
    tests/data/classify/written is the project's own writer."""
    if path.parent == WRITTEN:
        return PROJECT
    return path.name.removeprefix("requests.").removesuffix(".jsonl")


def held_out(rows: list[Row]) -> set[str]:
    """The ids of a writer's held-out part: per label, every HELD_OUT_EVERY-th request in
    the order of a hash of its id (so it does not follow the order they were written)."""
    by_label: dict[str, list[str]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row["id"])
    chosen = set()
    for ids in by_label.values():
        ids.sort(key=lambda i: hashlib.sha256(i.encode()).hexdigest())
        chosen.update(ids[::HELD_OUT_EVERY])
    return chosen


def build() -> dict[str, list[Row]]:
    parts: dict[str, list[Row]] = {"train": [], "heldout": []}
    shared = sorted(CORPUS.glob("requests.*.jsonl"))
    for path in [*shared, *sorted(WRITTEN.iterdir())]:
        if path.suffix not in {".txt", ".jsonl"}:
            continue
        rows = load_written(path)
        writer = writer_of(path)
        if writer == PROJECT:
            kept = {r["id"] for r in rows} if path.name.startswith("heldout-") else set()
        else:
            kept = held_out(rows)
        for row in rows:
            row["writer"] = writer
            if writer != PROJECT:
                row["source"] = "shared/corpus/" + path.name
            part = "heldout" if row["id"] in kept else "train"
            parts[part].append(row)
            parts[part].append(dress(row))
    return parts


def writers(rows: Iterable[Row]) -> list[str]:
    return sorted({row["writer"] for row in rows})


def _lines(rows: Iterable[Row]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def load(part: str) -> list[Row]:
    return [json.loads(line) for line in PARTS[part].read_text(encoding="utf-8").splitlines()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    stale = []
    for part, rows in build().items():
        text = _lines(rows)
        path = PARTS[part]
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{path.relative_to(ROOT)}: {len(rows)} requests")
    if stale:
        print("out of date (run python -m devtools.classify_data):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
