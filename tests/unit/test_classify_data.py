"""The classifier's labelled requests (issue 17): reproducible, split, labelled by SPEC."""

from __future__ import annotations

from chalicelib.classify import label_catalogue
from devtools import classify_data


def test_the_committed_parts_are_what_the_written_requests_build() -> None:
    assert classify_data.main(["--check"]) == 0


def test_enough_requests_split_with_no_written_request_in_both_parts() -> None:
    train, heldout = classify_data.load("train"), classify_data.load("heldout")
    assert len(train) + len(heldout) >= 1000
    assert len(heldout) >= 300

    def bases(rows: list[dict]) -> set[str]:
        return {(r["subject"], r["text"]) for r in rows if not r.get("dressed")}

    assert not bases(train) & bases(heldout)
    assert not {r["id"] for r in train} & {r["id"] for r in heldout}


def test_every_label_and_sub_label_is_one_spec_md_defines() -> None:
    catalogue = label_catalogue()
    for row in classify_data.load("train") + classify_data.load("heldout"):
        assert row["label"] in catalogue, row["id"]
        assert row["sub"] is None or row["sub"] in catalogue[row["label"]], row["id"]
        assert row["channel"] in {"cabinet", "email", "chat", "skype"}, row["id"]


def test_a_dressed_copy_keeps_its_labels_and_is_reproducible() -> None:
    row = {
        "id": "x-1",
        "channel": "email",
        "subject": "Почта",
        "text": "Не работает почта на домене, письма не приходят.",
        "label": "outage",
        "sub": "email",
        "abusive": False,
    }
    first, second = classify_data.dress(row), classify_data.dress(row)
    assert first == second
    assert first["text"] != row["text"] and first["dressed"]
    assert (first["label"], first["sub"], first["abusive"]) == ("outage", "email", False)
    assert classify_data.translit("Щука ёж") == "Schuka ezh"
