"""Byte-level BPE trained with the `tokenizers` library: lossless, deterministic, saved/reloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytok.tokenizers import (
    ByteBPETokenizer,
    load_tokenizer,
    save_tokenizer,
    tokenizer_fingerprint,
    tokenizer_from_spec,
)
from polytok.tokenizers.bpe import EOS_TOKEN

CORPUS = [
    "To be, or not to be, that is the question:\n",
    "Whether 'tis nobler in the mind to suffer\n",
    "The slings and arrows of outrageous fortune,\n",
    "Or to take arms against a sea of troubles\n",
] * 20 + ["Le cœur a ses raisons. 心に太陽を。 Привет!"]


@pytest.fixture(scope="module")
def bpe() -> ByteBPETokenizer:
    return ByteBPETokenizer.train(CORPUS, vocab_size=400)


def test_training_learns_merges(bpe: ByteBPETokenizer) -> None:
    assert 257 < bpe.vocab_size <= 400
    assert bpe.eos_id == 0 and bpe.bos_id is None and bpe.pad_id is None
    line = CORPUS[0]
    assert len(bpe.encode(line)) < len(line.encode()) / 2  # merges compress seen text
    assert bpe.tokenizer.id_to_token(bpe.eos_id) == EOS_TOKEN


def test_vocab_size_is_configurable_and_deterministic() -> None:
    small = ByteBPETokenizer.train(CORPUS, vocab_size=300)
    assert small.vocab_size == 300
    assert ByteBPETokenizer.train(CORPUS, vocab_size=300).to_json() == small.to_json()
    assert ByteBPETokenizer.train(iter(CORPUS), vocab_size=300).encode(CORPUS[1]) == small.encode(
        CORPUS[1]
    )


def test_special_token_text_is_not_injected(bpe: ByteBPETokenizer) -> None:
    text = f"end{EOS_TOKEN}start"
    assert bpe.eos_id not in bpe.encode(text)
    assert bpe.decode(bpe.encode(text)) == text
    assert bpe.decode([*bpe.encode("a"), bpe.eos_id]) == "a" + EOS_TOKEN


def test_save_load_and_spec(bpe: ByteBPETokenizer, tmp_path: Path) -> None:
    bpe.save(tmp_path / "tok")
    assert {p.name for p in (tmp_path / "tok").iterdir()} == {
        "tokenizer.json",
        "tokenizer_config.json",
    }
    loaded = ByteBPETokenizer.load(tmp_path / "tok")
    generic = load_tokenizer(tmp_path / "tok")
    assert isinstance(generic, ByteBPETokenizer)
    spec = json.loads(json.dumps(bpe.to_spec()))
    from_spec = tokenizer_from_spec(spec)
    text = "Or not to be: 心に太陽 🙂"
    for other in (loaded, generic, from_spec):
        assert other.encode(text) == bpe.encode(text)
        assert other.vocab_size == bpe.vocab_size
        assert tokenizer_fingerprint(other) == tokenizer_fingerprint(bpe)
    assert save_tokenizer(bpe, tmp_path / "again").name == "tokenizer_config.json"


def test_fingerprint_differs_with_vocab(bpe: ByteBPETokenizer) -> None:
    other = ByteBPETokenizer.train(CORPUS, vocab_size=300)
    assert tokenizer_fingerprint(other) != tokenizer_fingerprint(bpe)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vocab_size must be >= 257"):
        ByteBPETokenizer.train(CORPUS, vocab_size=100)
    with pytest.raises(ValueError, match="min_frequency"):
        ByteBPETokenizer.train(CORPUS, min_frequency=0)
    with pytest.raises(ValueError, match="empty corpus"):
        ByteBPETokenizer.train([])
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        ByteBPETokenizer.load(tmp_path)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_round_trip_property(bpe: ByteBPETokenizer, text: str) -> None:
    ids = bpe.encode(text)
    assert all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.decode(ids) == text
