"""get_tokenizer / build_tokenizer / save_tokenizer / load_tokenizer and the package contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polytok.tokenizers import (
    ByteBPETokenizer,
    CharTokenizer,
    TextTokenizer,
    TiktokenTokenizer,
    available_tokenizers,
    build_tokenizer,
    get_tokenizer,
    load_tokenizer,
    save_tokenizer,
    tokenizer_fingerprint,
    tokenizer_from_spec,
)

TEXTS = ["First Citizen:\nBefore we proceed any further, hear me speak.\n"] * 30


def test_available_names() -> None:
    assert available_tokenizers() == ["gpt2", "r50k_base", "p50k_base", "cl100k_base", "o200k_base"]


def test_unknown_name_lists_valid_ones() -> None:
    import polytok.catalog  # noqa: F401  (registers prime and hybrid, defined in reso and glyph)

    with pytest.raises(
        ValueError, match=r"'gpt5'.*gpt2, r50k_base, p50k_base, cl100k_base, o200k_base"
    ):
        get_tokenizer("gpt5")
    with pytest.raises(ValueError, match="build_tokenizer"):
        get_tokenizer("char")
    with pytest.raises(ValueError, match=r"'wordpiece'; valid names: .*char, bpe, hf.*gpt2") as err:
        build_tokenizer({"name": "wordpiece"}, TEXTS)
    for name in ("prime", "hybrid", "cl100k_base", "o200k_base"):
        assert name in str(err.value)
    with pytest.raises(ValueError, match="'name' key"):
        build_tokenizer({"vocab_size": 3}, TEXTS)


def test_unknown_keys_list_valid_options() -> None:
    with pytest.raises(
        ValueError, match=r"\['vocab'\].*valid keys: name, vocab_size, min_frequency"
    ):
        build_tokenizer({"name": "bpe", "vocab": 300}, TEXTS)
    with pytest.raises(ValueError, match=r"valid keys: name$"):
        build_tokenizer({"name": "cl100k_base", "path": "x"})
    with pytest.raises(ValueError, match="tokenizer.path"):
        build_tokenizer({"name": "hf"})
    with pytest.raises(ValueError, match="training texts"):
        build_tokenizer({"name": "char"})


def test_build_each_kind() -> None:
    calls = []

    def texts():
        calls.append(1)
        return iter(TEXTS)

    assert isinstance(build_tokenizer({"name": "cl100k_base"}, texts), TiktokenTokenizer)
    assert calls == []  # texts are not read when nothing is trained
    char = build_tokenizer({"name": "char"}, texts)
    assert isinstance(char, CharTokenizer) and calls == [1]
    bpe = build_tokenizer({"name": "bpe", "vocab_size": 300, "min_frequency": 1}, TEXTS)
    assert isinstance(bpe, ByteBPETokenizer) and bpe.vocab_size <= 300
    for tok in (char, bpe, get_tokenizer("gpt2")):
        assert isinstance(tok, TextTokenizer)
        assert tok.decode(tok.encode(TEXTS[0])) == TEXTS[0]


def test_mapping_config_like_omegaconf() -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"name": "bpe", "vocab_size": 280})
    assert build_tokenizer(cfg, TEXTS).vocab_size <= 280


@pytest.mark.parametrize("kind", ["char", "bpe", "gpt2", "o200k_base"])
def test_save_load_round_trip(kind: str, tmp_path: Path) -> None:
    cfg = {"name": kind, "vocab_size": 300} if kind == "bpe" else {"name": kind}
    tok = build_tokenizer(cfg, TEXTS)
    path = save_tokenizer(tok, tmp_path / "ckpt")
    assert json.loads(path.read_text())["spec"]["type"] == tok.to_spec()["type"]
    assert not list((tmp_path / "ckpt").glob("*.tmp"))  # atomic writes leave no temp files
    again = load_tokenizer(tmp_path / "ckpt")
    assert type(again) is type(tok)
    assert again.encode(TEXTS[0]) == tok.encode(TEXTS[0])
    assert tokenizer_fingerprint(again) == tokenizer_fingerprint(tok)
    assert tokenizer_from_spec(json.loads(json.dumps(tok.to_spec()))).encode("speak") == tok.encode(
        "speak"
    )


def test_fingerprints_differ_between_tokenizers() -> None:
    prints = {
        tokenizer_fingerprint(t)
        for t in (
            get_tokenizer("gpt2"),
            get_tokenizer("cl100k_base"),
            CharTokenizer.train(TEXTS),
            CharTokenizer.train(["xyz"]),
        )
    }
    assert len(prints) == 4


def test_bad_config_file(tmp_path: Path) -> None:
    (tmp_path / "tokenizer_config.json").write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"format_version": 99, "spec": {}}))
    with pytest.raises(ValueError, match="format_version 99"):
        load_tokenizer(tmp_path)
    spec = {"format_version": 1, "spec": {"type": "alien"}}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="unknown tokenizer spec type 'alien'"):
        load_tokenizer(tmp_path)


def test_import_does_not_pull_torch_lightning_hydra() -> None:
    code = (
        "import sys, polytok.tokenizers as t; t.get_tokenizer('gpt2'); "
        "t.build_tokenizer({'name': 'bpe', 'vocab_size': 260}, ['ab ab']); "
        "bad = [m for m in ('torch', 'lightning', 'hydra', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
