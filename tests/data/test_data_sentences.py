"""Sentence corpora from the installed aclsum and chatterbot-corpus packages."""

from __future__ import annotations

import pytest

from polytok.data.sentences import (
    aclsum_sentences,
    dialog_sentences,
    sentence_corpus,
    shakespeare_sentences,
    split_sentences,
)


def test_split_sentences_rule():
    text = "We propose X (see Fig. 1). It works well! Short. Results in Table 2 are good?"
    assert split_sentences(text) == [
        "We propose X (see Fig. 1).",
        "It works well!",
        "Results in Table 2 are good?",
    ]


def test_corpora_are_real_and_mixed():
    acl = aclsum_sentences()
    dialog = dialog_sentences()
    assert len(acl) > 50_000 and len(dialog) > 10_000  # 250 full papers; 28 languages
    assert len(set(acl)) == len(acl)
    assert any("semantic role" in s.lower() for s in acl)
    corpus = sentence_corpus(2000, seed=0)
    assert len(corpus) == 2000 == len(set(corpus))
    from_dialog = sum(s in set(dialog) for s in corpus)
    assert 100 < from_dialog < 1000  # ~14k of ~73k sentences are dialog lines
    assert sentence_corpus(2000, seed=0) == corpus != sentence_corpus(2000, seed=1)
    assert sentence_corpus(50, sources=("dialog",), seed=3)[0] in set(dialog)


def test_fill_tops_up_with_play_lines():
    whole = set(aclsum_sentences()) | set(dialog_sentences())
    plays = set(shakespeare_sentences())
    corpus = sentence_corpus(len(whole) + 5000, fill="shakespeare", seed=0)
    assert len(corpus) == len(whole) + 5000 == len(set(corpus))
    assert whole <= set(corpus)  # every ACLSum and dialog sentence, then 5,000 play lines
    assert len(set(corpus) - whole) == 5000 and set(corpus) - whole <= plays
    assert sum(s in plays for s in corpus[:1000]) < 200  # the shuffle mixes the sources
    assert sentence_corpus(2000, fill="shakespeare")[0] in whole | plays  # no top-up needed
    assert any("thou" in s.lower() for s in plays) and len(plays) > 50_000


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown sentence sources"):
        sentence_corpus(10, sources=("wiki",))
    with pytest.raises(ValueError, match="max_sentences"):
        sentence_corpus(0)
    with pytest.raises(ValueError, match="unknown sentence sources"):
        sentence_corpus(10, fill="wiki")
    with pytest.raises(ValueError, match="give max_sentences"):
        sentence_corpus(None, fill="shakespeare")
