"""Character tokenizer: vocabulary, unknown characters, specs, round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytok.tokenizers import CharTokenizer, tokenizer_fingerprint, tokenizer_from_spec
from polytok.tokenizers.char import UNK_TEXT


def test_train_vocab_and_ids() -> None:
    tok = CharTokenizer.train(["hello", "world"])
    assert tok.chars == "dehlorw"
    assert tok.vocab_size == 3 + 7
    assert (tok.pad_id, tok.unk_id, tok.eos_id, tok.bos_id) == (0, 1, 2, None)
    assert tok.encode("hold") == [3 + "dehlorw".index(c) for c in "hold"]
    assert tok.decode(tok.encode("hello world")) == "hello" + UNK_TEXT + "world"  # " " unseen


def test_unseen_characters_map_to_unk() -> None:
    tok = CharTokenizer.train(["abc"])
    assert tok.encode("abz!") == [3, 4, tok.unk_id, tok.unk_id]
    assert tok.decode(tok.encode("abz")) == "ab" + UNK_TEXT
    assert tok.decode([tok.pad_id, 3, tok.eos_id]) == "a"


def test_errors() -> None:
    with pytest.raises(ValueError, match="empty corpus"):
        CharTokenizer.train(["", ""])
    with pytest.raises(ValueError, match="unique"):
        CharTokenizer("aab")
    tok = CharTokenizer.train(["abc"])
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        tok.decode([0, 6])
    with pytest.raises(ValueError):
        tok.decode([-1])


def test_spec_round_trip_and_fingerprint() -> None:
    tok = CharTokenizer.train(["To be, or not to be 🙂\n"])
    spec = json.loads(json.dumps(tok.to_spec()))
    again = tokenizer_from_spec(spec)
    assert isinstance(again, CharTokenizer)
    assert again.encode("not to be?") == tok.encode("not to be?")
    assert tokenizer_fingerprint(again) == tokenizer_fingerprint(tok)
    other = CharTokenizer.train(["To be, or not to be!\n"])
    assert tokenizer_fingerprint(other) != tokenizer_fingerprint(tok)
    # order of training texts does not matter
    assert CharTokenizer.train(["ba", "c"]).to_spec() == CharTokenizer.train(["c", "ab"]).to_spec()


@settings(max_examples=200, deadline=None)
@given(train=st.text(min_size=1), text=st.text())
def test_round_trip_property(train: str, text: str) -> None:
    tok = CharTokenizer.train([train, text])
    ids = tok.encode(text)
    assert len(ids) == len(text) and all(3 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text
    assert tok.encode_batch([text, train]) == [ids, tok.encode(train)]
