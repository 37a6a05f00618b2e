"""The one sentence splitter: each named rule on the same text, spans, bounds, bad rule."""

from __future__ import annotations

import pytest

from polytok.data.segment import RULES, sentence_spans

TEXT = 'Mr. Smith left.  "Why?" she asked (twice).\nthen  \n(Later) he came back…\t好的。'


def texts(rule: str, **bounds) -> list[str]:
    return [TEXT[s:e] for s, e in sentence_spans(TEXT, rule, **bounds)]


def test_rules_split_the_same_text_their_own_way() -> None:
    assert texts("line") == [
        "Mr.", "Smith left.", '"Why?', '" she asked (twice).', "then  ", "(Later) he came back…\t好的。",
    ]  # fmt: skip
    assert texts("prose") == [
        "Mr.", "Smith left.", '"Why?"', "she asked (twice).", "then  \n(Later) he came back…", "好的。",
    ]  # fmt: skip
    assert texts("capital") == [  # a quote is not a capital; "Mr." still ends one here
        "Mr.", 'Smith left.  "Why?" she asked (twice).\nthen  \n(Later) he came back…\t好的。',
    ]  # fmt: skip


@pytest.mark.parametrize("rule", sorted(RULES))
def test_spans_are_ordered_trimmed_and_bounded(rule: str) -> None:
    spans = sentence_spans(TEXT, rule, 4, 40)
    assert spans and all(4 <= s < e <= 40 for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert all(not TEXT[s].isspace() for s, _ in spans)
    assert sentence_spans("", rule) == [] and sentence_spans(" \n ", rule) == []


def test_unknown_rule() -> None:
    with pytest.raises(ValueError, match=r"unknown sentence rule 'nltk'; valid rules: \['capital'"):
        sentence_spans(TEXT, "nltk")
