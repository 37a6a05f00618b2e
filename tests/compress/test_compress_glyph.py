"""The lossless glyph option: budgets in hybrid glyph tokens, ids that decode to the text."""

from __future__ import annotations

import json

import pytest

from polytok.cli import main
from polytok.compress import CompressorConfig, ContextCompressor
from polytok.data import load_source


@pytest.fixture(scope="module")
def tape(tmp_path_factory) -> str:
    from polytok.glyph.build import TapeBuildConfig, build_tape

    path = tmp_path_factory.mktemp("tape") / "tape.db"
    docs = load_source({"name": "dialog"}).documents("train")
    config = TapeBuildConfig(num_glyphs=128, num_families=0, n_levels=2, n_clusters=4)
    build_tape(docs, path, base="o200k_base", config=config)
    return str(path)


def test_glyph_option(tape: str) -> None:
    from polytok.glyph.hybrid import HybridTokenizer

    context = "\n\n".join(load_source({"name": "dialog"}).documents("test")[:20])
    plain = ContextCompressor(CompressorConfig())  # static MMR: this test is about glyphs
    glyph = ContextCompressor(CompressorConfig(glyph_tape=tape), embedder=plain.embedder)
    r = glyph.compress(context, query="What is your favorite book?", target_ratio=0.5)
    hybrid = HybridTokenizer(base_tokenizer="o200k_base", tape=tape)
    assert r.encoding.startswith("hybrid:o200k_base")
    assert r.original_tokens == len(hybrid.encode(context))
    assert r.glyph is not None and r.glyph.lossless and r.glyph.tokens == r.compressed_tokens
    assert hybrid.decode(r.glyph.ids) == r.text
    assert r.compressed_tokens <= r.target_tokens
    assert r.glyph.tokens < r.glyph.base_tokens  # glyphs save tokens on held-out dialogs
    base = plain.compress(context, query="What is your favorite book?", target_ratio=0.5)
    assert base.original_tokens > r.original_tokens
    # the same absolute budget holds more text in hybrid tokens
    same = glyph.compress(context, query="What is your favorite book?", target_tokens=150)
    plain_same = plain.compress(context, query="What is your favorite book?", target_tokens=150)
    assert same.glyph.base_tokens > same.compressed_tokens
    assert len(same.text) > len(plain_same.text) * 1.05
    with pytest.raises(FileNotFoundError, match="glyph tape"):
        ContextCompressor(CompressorConfig(glyph_tape="/no/tape.db")).compress(
            context, target_ratio=0.5
        )
    with pytest.raises(ValueError, match="tiktoken-counted"):
        glyph.compress(context, model_id="claude-sonnet-4-5", target_ratio=0.5)


def test_glyph_option_cli(tape: str, tmp_path, capsys) -> None:
    path = tmp_path / "ctx.txt"
    path.write_text("\n\n".join(load_source({"name": "dialog"}).documents("test")[:10]))
    argv = ["compress", "--ratio", "0.5", "--glyph-tape", tape, "--json", str(path)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["glyph"]["lossless"] and report["glyph"]["tokens"] == report["compressed_tokens"]
    assert report["encoding"].startswith("hybrid:o200k_base")
