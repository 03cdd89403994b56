"""Staff search finds a request's id and its sender's address without a posting of
their own (`classify.terms.keyed_term`, issue 29): that is sound only while no word of
any text can be such a term, or a request whose text holds it would not be found."""

from __future__ import annotations

from hypothesis import given, strategies as st

from chalicelib.classify.terms import _words, keyed_term, query_terms

# Letters, digits, whitespace and every character the tokenizer treats specially.
TEXT = st.text(alphabet="abtT-_.@!*#$%:/()ё0123456789 \n" + "абв", max_size=80)


@given(TEXT)
def test_no_word_of_a_text_is_an_id_or_an_address(text: str) -> None:
    assert [w for w in _words(text) if keyed_term(w) is not None] == []


def test_what_a_query_names_by_key() -> None:
    terms = query_terms("T-JASGWSZ anna@flowershop.example flowershop.example e-mail почта")
    assert [keyed_term(t) for t in terms] == ["id", "address", None, None, None]
    assert keyed_term("user@host") is None  # a handle in a text is a word (no dot)
    assert keyed_term("t-straße") is None  # upper-cased it would look like an id
