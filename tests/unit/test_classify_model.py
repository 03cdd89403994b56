"""The classifier's learned part (issue 17): reproducible, explained, bounded by the rules."""

from __future__ import annotations

import base64
import math
from array import array

import pytest

from chalicelib.classify import classify_request
from chalicelib.classify.engine import Decision
from chalicelib.classify.learned import LinearModel, choose, gram_values, grams
from chalicelib.domain.tickets import Evidence


def test_make_test_checks_that_make_train_rebuilds_the_committed_weights() -> None:
    """The weights are data in the repo: fitting them again from the training part gives
    the same file (to its last digit). The refit takes minutes, so `make train-check`
    runs it as its own step of `make test` rather than the unit suite."""
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    test_target = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "train-check" in test_target.split()
    assert "devtools.train_classifier --check" in makefile


def _decision(label: str) -> Decision:
    return Decision(label, None, "R", (Evidence("label", label, "R", "cue", "text", "w"),))


def test_the_model_never_picks_a_label_the_rules_vetoed_in_context() -> None:
    scores = {"outage": 5.0, "out_of_scope": 1.0, "consultation": 0.5}
    assert choose(scores, [], {"outage"}, 0.0) == "out_of_scope"
    assert choose(scores, [], set(), 0.0) == "outage"


def test_the_rules_first_label_stands_within_the_margin() -> None:
    scores = {"outage": 2.0, "consultation": 1.5}
    assert choose(scores, [_decision("consultation")], set(), 1.0) == "consultation"
    assert choose(scores, [_decision("consultation")], set(), 0.2) == "outage"


def _model(weights: dict[str, list[int]], bias: list[float], scale: float = 0.5) -> LinearModel:
    names = sorted(weights)
    levels = array("b", [level for name in names for level in weights[name]])
    return LinearModel(
        {
            "labels": ["a", "b"],
            "bias": bias,
            "scale": scale,
            "features": names,
            "weights": base64.b64encode(levels.tobytes()).decode(),
        }
    )


def test_scores_are_bias_plus_the_weights_of_the_features_present() -> None:
    model = _model({"w:x": [2, 4], "w:y": [0, -2]}, [0.5, 0.0])
    assert model.scores(["w:x", "w:y", "w:unknown"]) == {"a": 1.5, "b": 1.0}
    assert model.best(["w:x"]) == "b"
    assert model.best(["w:x"], among={"a"}) == "a"
    assert model.reasons(["w:x", "w:y"], "b") == ["w:x"]


def test_a_words_character_n_grams_weigh_over_the_square_root_of_the_distinct_words() -> None:
    """Issue 30: each distinct word adds the weights of its n-grams once; the sum is
    divided by the square root of how many distinct words there are, as it was fitted
    (`gram_values`)."""
    assert grams("ftp") == {
        "g:<f",
        "g:ft",
        "g:tp",
        "g:p>",
        "g:<ft",
        "g:ftp",
        "g:tp>",
        "g:<ftp",
        "g:ftp>",
    }
    model = _model({"g:<f": [0, 2], "g:tp>": [0, 2], "g:ma": [2, 0]}, [0.0, 0.0], scale=1.0)
    scores = model.scores([], ["ftp", "mail"])
    assert scores["b"] == pytest.approx(4 / math.sqrt(2))
    assert scores["a"] == pytest.approx(2 / math.sqrt(2))
    values = gram_values(["ftp", "mail"])
    fitted_b = 2 * values["g:<f"] + 2 * values["g:tp>"]
    assert scores["b"] == pytest.approx(fitted_b)  # what the fit saw is what is applied


def test_a_request_a_rule_fired_on_is_never_unclear() -> None:
    """R6.4: `unclear` is for requests where nothing actionable was found; when a rule
    fired, the model chooses among the other labels."""
    scores = {"unclear": 3.0, "consultation": 1.0, "outage": 0.5}
    assert choose(scores, [_decision("outage")], set(), 0.0) == "consultation"
    assert choose(scores, [], set(), 0.0) == "unclear"


def test_a_topic_alone_is_unclear_whatever_the_model_prefers() -> None:
    """R6.4: a few words that fire no rule and ask nothing need details."""
    assert choose({"consultation": 3.0, "unclear": 0.0}, [], set(), 0.0, vague=True) == "unclear"
    assert choose({"consultation": 3.0, "unclear": 0.0}, [], set(), 0.0) == "consultation"


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Проблема", "Со вчерашнего дня ни одно письмо не доходит до наших клиентов"),
        ("Вопрос", "Сколько стоит перенос домена к вам?"),
        ("Срочно", "Клиенты не получают от нас ничего уже сутки, отправка висит"),
    ],
)
def test_every_label_comes_with_evidence_in_the_request_s_words(subject: str, text: str) -> None:
    scope, _ = classify_request(subject, text, "cabinet")
    label_evidence = [e for e in scope.evidence if e.kind in {"label", "sub"}]
    assert scope.label != "unclear"
    assert label_evidence, scope
    words = (subject + " " + text).lower()
    assert all(e.match and e.match.split()[0] in words for e in label_evidence), label_evidence
