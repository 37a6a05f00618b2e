"""Offline tiktoken encodings equal tiktoken's own definitions, id for id."""

from __future__ import annotations

import hashlib

import pytest
import tiktoken
import tiktoken_ext.openai_public as openai_public
from hypothesis import given, settings
from hypothesis import strategies as st

from polytok.tokenizers import TiktokenTokenizer, get_tokenizer, tokenizer_from_spec
from polytok.tokenizers.tiktoken_offline import (
    TIKTOKEN_NAMES,
    _load_ranks,
    dump_tiktoken_ranks,
)

HELLO = {
    "cl100k_base": [9906, 11, 1917, 0],
    "o200k_base": [13225, 11, 2375, 0],
    "gpt2": [15496, 11, 995, 0],
    "r50k_base": [15496, 11, 995, 0],
    "p50k_base": [15496, 11, 995, 0],
}
EOT = {
    "gpt2": 50256,
    "r50k_base": 50256,
    "p50k_base": 50256,
    "cl100k_base": 100257,
    "o200k_base": 199999,
}
N_VOCAB = {
    "gpt2": 50257,
    "r50k_base": 50257,
    "p50k_base": 50281,
    "cl100k_base": 100277,
    "o200k_base": 200019,
}
SAMPLES = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.\n\n  Indented   spaces\t\ttabs\r\n",
    "def f(x):\n        return x ** 2  # comment\n",
    "Ünïcödé: 日本語のテキスト、中文文本，한국어 텍스트, русский текст, العربية, हिन्दी 🙂👍🏽",
    "numbers 1234567 3.14159 -42 1e10 and CAPS WORDS ALLCAPS'S don't we'll I'M",
    "    leading and trailing whitespace    ",
]


def _official(name: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """tiktoken's own constructor for ``name``, with its downloads replaced by a check that the
    ranks we built from local files hash to the digest tiktoken expects for the online file."""
    source = {"gpt2": "r50k", "r50k_base": "r50k", "p50k_base": "p50k"}.get(name, name)
    ours = _load_ranks(source)

    def load_tiktoken_bpe(url: str, expected_hash: str) -> dict[bytes, int]:
        assert hashlib.sha256(dump_tiktoken_ranks(ours)).hexdigest() == expected_hash, url
        return dict(ours)

    def data_gym(vocab_bpe_file, encoder_json_file, vocab_bpe_hash, encoder_json_hash):
        from polytok.assets import ASSETS

        assert ASSETS["gpt2_vocab_bpe"].sha256 == vocab_bpe_hash
        assert ASSETS["gpt2_encoder_json"].sha256 == encoder_json_hash
        return dict(ours)

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", load_tiktoken_bpe)
    monkeypatch.setattr(openai_public, "data_gym_to_mergeable_bpe_ranks", data_gym)
    return openai_public.ENCODING_CONSTRUCTORS[name]()


@pytest.mark.parametrize("name", TIKTOKEN_NAMES)
def test_matches_tiktoken_definition(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    official = _official(name, monkeypatch)
    tok = get_tokenizer(name)
    enc = tok.encoding
    assert enc._pat_str == official["pat_str"]
    assert enc._special_tokens == official["special_tokens"]
    assert enc._mergeable_ranks == official["mergeable_ranks"]
    # pattern, specials and ranks equal: the Encoding is tiktoken's, id for id
    assert enc.n_vocab == N_VOCAB[name]
    if "explicit_n_vocab" in official:
        assert enc.n_vocab == official["explicit_n_vocab"]


def test_encodes_like_a_reference_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = tiktoken.Encoding(**_official("cl100k_base", monkeypatch))
    tok = get_tokenizer("cl100k_base")
    for text in SAMPLES:
        assert tok.encode(text) == reference.encode_ordinary(text)


@pytest.mark.parametrize("name", TIKTOKEN_NAMES)
def test_known_ids_and_special_tokens(name: str) -> None:
    tok = get_tokenizer(name)
    assert tok.encode("Hello, world!") == HELLO[name]
    assert tok.eos_id == EOT[name]
    assert tok.bos_id is None and tok.pad_id is None
    assert tok.vocab_size == N_VOCAB[name]
    assert tok.special_tokens["<|endoftext|>"] == EOT[name]
    # special strings in text are plain text unless explicitly allowed
    assert EOT[name] not in tok.encode("a<|endoftext|>b")
    assert tok.encode("a<|endoftext|>b", allowed_special="all")[1] == EOT[name]
    assert tok.decode([EOT[name]]) == "<|endoftext|>"


def test_p50k_whitespace_runs() -> None:
    p50k, gpt2 = get_tokenizer("p50k_base"), get_tokenizer("gpt2")
    for n in range(2, 26):
        assert p50k.encoding.encode_single_token(" " * n) == 50257 + n - 2
    code = "def f():\n        return 1\n"
    ids = p50k.encode(code)
    assert 50262 in ids  # 7 spaces; the 8th joins " return"
    assert len(ids) < len(gpt2.encode(code))
    assert p50k.decode(ids) == code
    assert p50k.encode("Hello, world! plain prose") == gpt2.encode("Hello, world! plain prose")


@pytest.mark.parametrize("name", TIKTOKEN_NAMES)
def test_multilingual_round_trip_and_batch(name: str) -> None:
    tok = get_tokenizer(name)
    assert [tok.decode(tok.encode(t)) for t in SAMPLES] == SAMPLES
    assert tok.encode_batch(SAMPLES) == [tok.encode(t) for t in SAMPLES]


def test_spec_round_trip_and_cached_encoding() -> None:
    for name in TIKTOKEN_NAMES:
        tok = get_tokenizer(name)
        assert tok.to_spec() == {"type": "tiktoken", "name": name}
        again = tokenizer_from_spec(tok.to_spec())
        assert isinstance(again, TiktokenTokenizer) and again.name == name
        assert again.encoding is tok.encoding  # built once per process


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200), name=st.sampled_from(TIKTOKEN_NAMES))
def test_round_trip_property(text: str, name: str) -> None:
    tok = get_tokenizer(name)
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_loader_verifies_the_vocabulary_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    from polytok import assets
    from polytok.tokenizers import tiktoken_offline

    good = assets.ASSETS["cl100k_base"]
    monkeypatch.setitem(
        assets.ASSETS, "cl100k_base", assets.Asset(good.package, good.path, "0" * 64, gunzip=True)
    )
    monkeypatch.setattr(tiktoken_offline, "_ranks_cache", {})
    monkeypatch.setattr(tiktoken_offline, "_encoding_cache", {})
    with pytest.raises(assets.AssetIntegrityError, match="sha256 mismatch"):
        get_tokenizer("cl100k_base")
