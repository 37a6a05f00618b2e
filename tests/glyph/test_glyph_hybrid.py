import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytok.glyph.hybrid import HybridEncoding, HybridTokenizer
from polytok.glyph.tape import TapeError
from polytok.tokenizers import get_tokenizer, tokenizer_from_spec
from polytok.tokenizers.base import TextTokenizer


@pytest.fixture(scope="module")
def tok(tape_path):
    return HybridTokenizer("cl100k_base", tape_path)


def test_protocol_spec_and_saving(tok, corpus):
    assert isinstance(tok, TextTokenizer)
    assert tok.vocab_size > 100277 + 2 + 50
    base = get_tokenizer("cl100k_base")
    text = corpus[0]
    ids = tok.encode(text)
    assert len(ids) < 0.6 * len(base.encode(text))  # the tape saw this text
    assert tok.expand(ids) == base.encode(text)
    assert max(ids) < tok.vocab_size
    again = tokenizer_from_spec(tok.to_spec())
    assert again.encode(text) == ids and again.to_spec() == tok.to_spec()
    assert tok.encode_batch([text, ""]) == [ids, []]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200) | st.sampled_from(["", "😀😀😀", "日本語のテキストです。", "\n\n  "]))
def test_lossless_round_trip_any_text(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    details = tok.encode_hybrid(text, return_details=True)
    assert details.ids == ids
    assert details.num_glyph_tokens + details.num_regular_tokens == len(ids)
    for span in details.spans:
        assert text[span.start : span.end] == span.text and span.fidelity == 1.0


def test_glyph_that_splits_a_character_round_trips(tok):
    base = get_tokenizer("cl100k_base")
    split = [g for g in tok.glyphs if "\ufffd" in g.phrase]
    assert split, "the fixture corpus has emoji/CJK merges that split UTF-8 characters"
    text = "x 😀😀😀 日本語のテキストです。 y"
    ids = tok.encode(text)
    assert any(i in {g.token_id for g in split} for i in ids)
    assert tok.decode(ids) == text and len(ids) < len(base.encode(text))


def test_text_form(tok):
    text = "Good morning, how are you? I am doing well."
    ids = tok.encode(text)
    shown = tok.decode_hybrid(ids)
    assert "<GLYPH>" in shown and "</GLYPH>" in shown
    assert tok.encode_text_form(shown) == ids
    assert tok.decode(list(tok.marker_ids)) == "<GLYPH></GLYPH>"
    with pytest.raises(ValueError, match="unknown glyph address"):
        tok.encode_text_form("<GLYPH>nowhere</GLYPH>")
    with pytest.raises(ValueError, match="cannot decode id"):
        tok.decode([tok.vocab_size])


def test_lossy_mode_reports_fidelity(tape_path):
    lossy = HybridTokenizer("cl100k_base", tape_path, mode="lossy", similarity_threshold=0.5)
    text = "Good morning, how are you today? The price is 42 dollars."
    result = lossy.encode_hybrid(text, return_details=True)
    assert isinstance(result, HybridEncoding) and result.lossy
    families = [s for s in result.spans if s.kind == "family"]
    assert families and all(0.5 <= s.fidelity <= 1.0 for s in families)
    assert 0.0 < result.fidelity < 1.0
    expanded, fidelity = lossy.decode_hybrid_with_expansion(result)
    assert fidelity == result.fidelity and expanded != text
    strict = HybridTokenizer("cl100k_base", tape_path, mode="lossy", similarity_threshold=1.0)
    exact = strict.encode_hybrid("Zebra quantum xylophone.", return_details=True)
    assert exact.fidelity == 1.0 and strict.decode(exact.ids) == "Zebra quantum xylophone."


def test_bad_inputs(tape_path, tmp_path):
    with pytest.raises(ValueError, match="built on base tokenizer 'cl100k_base', not 'gpt2'"):
        HybridTokenizer("gpt2", tape_path)
    with pytest.raises(ValueError, match="unknown tokenizer name"):
        HybridTokenizer("not_a_tokenizer", tape_path)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"similarity_threshold must be in \[0, 1\]"):
            HybridTokenizer("cl100k_base", tape_path, mode="lossy", similarity_threshold=bad)
    with pytest.raises(ValueError, match="mode must be one of"):
        HybridTokenizer("cl100k_base", tape_path, mode="fuzzy")
    with pytest.raises(FileNotFoundError):
        HybridTokenizer("cl100k_base", tmp_path / "missing.db")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 64)
    with pytest.raises(TapeError):
        HybridTokenizer("cl100k_base", corrupt)
    with pytest.raises(ValueError, match="no version 42"):
        HybridTokenizer("cl100k_base", tape_path, version=42)
