"""Portable hybrid tokenizers: the tape travels with the tokenizer, a changed tape is refused."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.glyph.hybrid import TAPE_FILE, HybridTokenizer
from polytok.tokenizers import load_tokenizer, save_tokenizer, tokenizer_fingerprint

TEXT = "Good morning, how are you? I am doing well, how about you?\nWhat is your favorite book?"


def test_copied_directory_loads_after_the_tape_is_deleted(tape_path, tmp_path):
    tape = tmp_path / "own.db"
    shutil.copy(tape_path, tape)
    tok = HybridTokenizer("cl100k_base", tape)
    expected = tok.encode(TEXT)
    assert any(i >= tok.base.vocab_size for i in expected)  # glyphs in use
    save_tokenizer(tok, tmp_path / "saved")
    assert (tmp_path / "saved" / TAPE_FILE).is_file()
    shutil.copytree(tmp_path / "saved", tmp_path / "elsewhere")
    shutil.rmtree(tmp_path / "saved")
    tok.tape.close()
    tape.unlink()
    moved = load_tokenizer(tmp_path / "elsewhere")
    assert moved.encode(TEXT) == expected and moved.decode(expected) == TEXT
    assert moved.content_sha256 == tok.content_sha256
    assert tokenizer_fingerprint(moved) == tokenizer_fingerprint(tok)  # the path does not matter


def test_modified_tape_is_refused(tape_path, tmp_path):
    tok = HybridTokenizer("cl100k_base", tape_path)
    save_tokenizer(tok, tmp_path / "saved")
    conn = sqlite3.connect(str(tmp_path / "saved" / TAPE_FILE))
    with conn:  # one glyph now stands for other base ids
        conn.execute(
            "UPDATE glyphs SET base_ids = ? WHERE entry_id = (SELECT MIN(entry_id) FROM glyphs)",
            (b"\x07\x00\x00\x00\x08\x00\x00\x00\x09\x00\x00\x00",),
        )
    conn.close()
    with pytest.raises(ValueError, match="changed since this tokenizer was saved"):
        load_tokenizer(tmp_path / "saved")


def test_rebuilt_tape_changes_the_fingerprint(corpus, embedder, tmp_path):
    """Reliability report B5: a tape rebuilt at the same path must not reuse cached ids."""
    path = tmp_path / "t.db"
    config = TapeBuildConfig(num_glyphs=50, num_families=0)
    build_tape(corpus, path, "cl100k_base", config, embedder=embedder).close()
    first = HybridTokenizer("cl100k_base", path)
    first_fp, first_ids = tokenizer_fingerprint(first), first.encode(TEXT)
    first.tape.close()
    path.unlink()
    other = ["overdrive warp quantum dog " * 30, "quantum overdrive warp " * 20]
    build_tape(other, path, "cl100k_base", config, embedder=embedder).close()
    second = HybridTokenizer("cl100k_base", path)
    assert second.to_spec()["tape"] == first.to_spec()["tape"]  # same path
    assert tokenizer_fingerprint(second) != first_fp
    assert second.encode(TEXT) != first_ids
    with pytest.raises(ValueError, match="changed since"):
        HybridTokenizer.from_spec({**second.to_spec(), "content_sha256": first.content_sha256})
