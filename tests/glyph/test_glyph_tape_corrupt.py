"""Corrupt tapes are refused with a named error, never a hang (reliability B3, W3.14-W3.17)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from polytok.cli import main
from polytok.glyph.tape import GlyphTape, TapeError


@pytest.fixture
def tape_copy(tape_path, tmp_path):
    path = tmp_path / "t.db"
    shutil.copy(tape_path, path)
    return path


def _sql(path, *statements) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


def test_parent_cycle_is_refused_not_walked_forever(tape_copy, capsys) -> None:
    _sql(
        tape_copy,
        "INSERT INTO versions(version, parent, created, note) VALUES (2, 1, 'now', '')",
        "UPDATE versions SET parent = 2 WHERE version = 1",
    )
    with pytest.raises(TapeError, match=r"parents form a cycle \(\d -> \d -> \d\)"):
        GlyphTape(tape_copy)
    assert main(["tape", "show", str(tape_copy)]) == 2  # returns at once, rc 2, no traceback
    assert "cycle" in capsys.readouterr().err


def test_self_parent_and_dangling_parent(tape_copy, capsys) -> None:
    _sql(tape_copy, "UPDATE versions SET parent = 1 WHERE version = 1")
    with pytest.raises(TapeError, match=r"cycle \(1 -> 1\)"):
        GlyphTape(tape_copy)
    _sql(tape_copy, "UPDATE versions SET parent = 42 WHERE version = 1")
    with pytest.raises(TapeError, match="version 1 names parent 42, which does not exist"):
        GlyphTape(tape_copy)
    assert main(["tape", "show", str(tape_copy)]) == 2
    assert "parent 42" in capsys.readouterr().err


def test_corrupt_glyph_blob_and_note_are_named(tape_copy, capsys) -> None:
    _sql(tape_copy, "UPDATE versions SET note = '{broken' WHERE version = 1")
    assert main(["tape", "show", str(tape_copy)]) == 2
    assert "note of version 1 is not valid JSON" in capsys.readouterr().err
    _sql(
        tape_copy,
        "UPDATE versions SET note = '{}' WHERE version = 1",
        "UPDATE glyphs SET base_ids = x'010203' WHERE entry_id = (SELECT MIN(entry_id) FROM glyphs)",
    )
    assert main(["tape", "show", str(tape_copy)]) == 2
    err = capsys.readouterr().err
    assert str(tape_copy) in err and "glyph entry" in err and "corrupt" in err


@pytest.mark.parametrize("argv", [["--top", "-5"], ["--top", "0"]])
def test_show_top_must_be_positive(tape_path, argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["tape", "show", str(tape_path), *argv])
    assert exit_info.value.code == 2 and "must be a positive integer" in capsys.readouterr().err


def test_build_refuses_empty_corpus_and_zero_glyphs(tmp_path, capsys) -> None:
    empty_dir = tmp_path / "e"
    empty_dir.mkdir()
    (tmp_path / "empty.txt").write_text("  \n")
    for corpus in (empty_dir, tmp_path / "empty.txt"):
        out = tmp_path / "t.db"
        argv = ["tape", "build", "--corpus", str(corpus), "--glyphs", "5", "--families", "0"]
        assert main([*argv, "--out", str(out)]) == 2
        assert "non-empty corpus" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit):
        main(["tape", "build", "--corpus", str(tmp_path / "empty.txt"), "--glyphs", "0",
              "--out", str(tmp_path / "t0.db")])  # fmt: skip
    assert "must be a positive integer" in capsys.readouterr().err
