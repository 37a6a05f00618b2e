"""save_pretrained / from_pretrained: round trip, atomicity, newer-format and bad-dir errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from polytok.poly import FORMAT_VERSION, PolyTokenizer
from polytok.tokenizers import get_tokenizer


def _registry():
    p = PolyTokenizer(dim=32, modalities=("text", "image"), oov_buckets=4)
    tok = get_tokenizer("gpt2")
    p.register_base(
        tok, torch.randn(tok.vocab_size, 32, generator=torch.Generator().manual_seed(1))
    )
    p.add_tokens(["New York", "hello"])
    p.add_token("pinned", init=torch.ones(32))
    p.add_version("text", "v2")
    p.add_token("fresh", version="v2")
    p.add_token("img-1", modality="image", init=torch.randn(32))
    p.add_modality("audio", oov_buckets=0)
    return p


def test_round_trip_equal_outputs(tmp_path):
    p = _registry()
    path = p.save_pretrained(tmp_path / "reg")
    assert {f.name for f in path.iterdir()} == {
        "config.json", "vocab.json", "tables.safetensors", "base_embeddings.safetensors", ".polytok"
    }  # fmt: skip
    config = json.loads((path / "config.json").read_text())
    assert config["format_version"] == FORMAT_VERSION and config["class"] == "PolyTokenizer"
    assert set(load_file(str(path / "tables.safetensors"))) == {
        "global", "oov:text", "oov:image", "text:v1", "text:v2", "image:v1", "audio:v1"
    }  # fmt: skip
    q = PolyTokenizer.from_pretrained(path)
    tokens = ["New York", "hello", "fresh", "unknown!", "pinned"]
    for version in ("v1", "v2"):
        assert torch.equal(
            q.get_embeddings(tokens, version=version), p.get_embeddings(tokens, version=version)
        )
        assert [q.resolve(t, version=version) for t in tokens] == [
            p.resolve(t, version=version) for t in tokens
        ]
    assert torch.equal(q.get_embedding("img-1", "image"), p.get_embedding("img-1", "image"))
    assert q.lookup("x", "audio").level == "global"
    assert q.encode("I love New York") == p.encode("I love New York")
    assert torch.equal(q.embedding.spreading.codes, p.embedding.spreading.codes)
    q.add_token("pinned", init=torch.ones(32))  # init fingerprints survive: same init is fine
    with pytest.raises(ValueError, match="different init"):
        q.add_token("pinned", init=torch.zeros(32))
    q.add_token("later")  # base weights were saved: subtoken-mean init still works
    assert torch.allclose(
        q.get_meta_embedding("later"),
        q.embedding.base("text")[q.base_tokenizer().encode("later")].mean(0),
        atol=1e-5,
    )


def test_save_is_atomic_and_replaces(tmp_path, monkeypatch):
    p = _registry()
    target = tmp_path / "reg"
    p.save_pretrained(target)
    p.add_token("extra")
    import polytok.poly.serialization as ser

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ser, "save_tensors", boom)
    with pytest.raises(OSError, match="disk full"):
        p.save_pretrained(target)
    monkeypatch.undo()
    assert [f.name for f in tmp_path.iterdir()] == ["reg"]  # no temp dirs left behind
    old = PolyTokenizer.from_pretrained(target)
    # the failed save did not touch the previous directory
    assert "extra" not in old.tokens("text", "v1")
    p.save_pretrained(target)
    assert "extra" in PolyTokenizer.from_pretrained(target).tokens("text", "v1")
    assert [f.name for f in tmp_path.iterdir()] == ["reg"]


def test_newer_format_and_bad_dirs(tmp_path):
    p = _registry()
    path = p.save_pretrained(tmp_path / "reg")
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = FORMAT_VERSION + 1
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="newer than this polytok supports"):
        PolyTokenizer.from_pretrained(path)
    with pytest.raises(FileNotFoundError, match="never a hub"):
        PolyTokenizer.from_pretrained(tmp_path / "nope")
    config["format_version"] = FORMAT_VERSION
    config["config"]["mystery"] = 1
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unknown config keys"):
        PolyTokenizer.from_pretrained(path)
