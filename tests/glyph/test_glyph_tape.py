import sqlite3

import numpy as np
import pytest

from polytok.glyph.address import make_unique, phrase_addresses
from polytok.glyph.tape import GlyphTape, TapeError


def test_versions_fall_back_and_ids_stay_stable(tmp_path):
    tape = GlyphTape.create(tmp_path / "t.db", "cl100k_base", 100277)
    v1 = tape.add_version([((1, 2), "ab", "一一", 5, 5), ((3, 4), "cd", "一丁", 4, 4)])
    v2 = tape.add_version([((1, 2), "ab", "丁丁", 7, 7), ((5, 6), "ef", "丁一", 3, 3)], parent=v1)
    g1 = {g.base_ids: g for g in tape.glyphs(v1)}
    g2 = {g.base_ids: g for g in tape.glyphs(v2)}
    assert set(g2) == {(1, 2), (3, 4), (5, 6)}  # (3, 4) comes from v1 by fallback
    assert g2[(1, 2)].token_id == g1[(1, 2)].token_id  # same phrase, same id across versions
    assert g2[(1, 2)].count == 7 and g2[(1, 2)].address == "一一"  # v2 stats, original address
    assert g2[(3, 4)].rank > g2[(5, 6)].rank  # own glyphs first
    assert tape.chain(v2) == [v2, v1]
    assert tape.vocab_size == 100277 + 2 + 3 + 1  # entry ids start at 1
    assert tape.marker_ids == (100277, 100278)
    reopened = GlyphTape(tmp_path / "t.db")
    assert reopened.glyphs() == tape.glyphs(v2)
    with pytest.raises(ValueError, match="no version 9"):
        tape.glyphs(9)


def test_families_round_trip(tmp_path):
    tape = GlyphTape.create(tmp_path / "t.db", "gpt2", 50257)
    centroid = np.ones(4, dtype=np.float32) / 2
    tape.add_version([], [("乀", "Hello there.", centroid, 3)])
    (family,) = tape.families()
    assert family.representative == "Hello there." and family.size == 3
    np.testing.assert_array_equal(family.centroid, centroid)
    assert tape.all_families() == {family.token_id: "Hello there."}


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="polytok tape build"):
        GlyphTape(tmp_path / "missing.db")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TapeError, match="not a readable glyph tape"):
        GlyphTape(bad)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE meta(key TEXT, value TEXT)")
    with pytest.raises(TapeError, match="not a polytok glyph tape"):
        GlyphTape(other)
    tape = GlyphTape.create(tmp_path / "old.db", "gpt2", 50257)
    with sqlite3.connect(tape.path) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(TapeError, match="schema version 0"):
        GlyphTape(tape.path)
    with pytest.raises(TapeError, match="no versions"):
        GlyphTape.create(tmp_path / "empty.db", "gpt2", 50257).glyphs()
    with pytest.raises(FileExistsError):
        GlyphTape.create(tmp_path / "empty.db", "gpt2", 50257)


def test_make_unique_is_idempotent_and_respects_taken():
    out = make_unique(["一", "一", "丁", "一"], taken=["丁"])
    assert len(set(out)) == 4 and out[0] == "一" and "丁" not in out
    assert make_unique(out) == out
    many = make_unique(["一"] * 7000)
    assert len(set(many)) == 7000


def test_similar_phrases_share_address_prefixes(embedder):
    groups = [
        ["the king", "the queen", "the prince", "the duke", "my lord"],
        ["computer", "keyboard", "printer", "software", "laptop"],
        ["banana", "apple", "orange juice", "strawberry", "pineapple"],
    ]
    phrases = [p for g in groups for p in g]
    addresses, vectors = phrase_addresses(phrases, embedder, n_levels=2, n_clusters=3)
    assert len(set(addresses)) == len(addresses)
    assert all(
        len(a) >= 2 and all(0x4E00 <= ord(c) < 0xA000 or ord(c) >= 0x3400 for c in a)
        for a in addresses
    )
    first = [a[0] for a in addresses]
    same = [first[i] == first[j] for i in range(15) for j in range(i + 1, 15) if i // 5 == j // 5]
    diff = [first[i] == first[j] for i in range(15) for j in range(i + 1, 15) if i // 5 != j // 5]
    assert np.mean(same) > np.mean(diff) + 0.3
    sims = vectors @ vectors.T
    shared = [
        float(sims[i, j]) for i in range(15) for j in range(i + 1, 15) if first[i] == first[j]
    ]
    other = [float(sims[i, j]) for i in range(15) for j in range(i + 1, 15) if first[i] != first[j]]
    assert np.mean(shared) > np.mean(other)
