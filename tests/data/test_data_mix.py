"""The ``mix`` source: several corpora, each keeping its own held-out split."""

from __future__ import annotations

import pytest

from polytok.data import load_source


def test_mix_keeps_each_split(tmp_path):
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}\n" * 5)
    files = {"name": "files", "paths": [str(tmp_path / "*.txt")]}
    dialog = {"name": "dialog", "language": "english"}
    mix = load_source({"name": "mix", "sources": [files, dialog]})
    parts = [load_source(files), load_source(dialog)]
    for split in ("train", "val", "test"):
        assert mix.documents(split) == parts[0].documents(split) + parts[1].documents(split)
    assert mix.spec["sources"][1] == parts[1].spec
    with pytest.raises(ValueError, match="non-empty list"):
        load_source({"name": "mix", "sources": []})
    with pytest.raises(ValueError, match="cannot contain another 'mix'"):
        load_source({"name": "mix", "sources": [{"name": "mix", "sources": [dialog]}]})
    with pytest.raises(ValueError, match="unknown key"):
        load_source({"name": "mix", "sources": [dialog], "shuffle": True})
