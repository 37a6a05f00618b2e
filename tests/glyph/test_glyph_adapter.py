import pytest
import torch

from polytok.glyph.adapter import GlyphGPT2, GlyphGPT2Config, new_row_expansions
from polytok.glyph.hybrid import HybridTokenizer
from polytok.models import build_model
from polytok.tokenizers import get_tokenizer

TINY = {"dim": 32, "num_layers": 1, "num_heads": 2, "max_positions": 64}


@pytest.fixture(scope="module")
def tok(tape_path):
    return HybridTokenizer("cl100k_base", tape_path)


def test_new_rows_are_means_of_replaced_embeddings(tok):
    torch.manual_seed(0)
    model = build_model({"name": "glyph_gpt2", **TINY}, tok)
    assert isinstance(model, GlyphGPT2) and model.config.base_vocab_size == 100277
    weight = model.net.get_input_embeddings().weight
    assert weight.shape == (tok.vocab_size, 32)
    expansions = new_row_expansions(tok)
    assert set(tok.marker_ids) <= set(expansions) and len(expansions) > len(tok.glyphs)
    for token_id in [tok.glyphs[0].token_id, tok.marker_ids[0], max(expansions)]:
        expected = weight[expansions[token_id]].mean(0)
        torch.testing.assert_close(weight[token_id], expected)
    ids = torch.tensor([tok.encode("Good morning, how are you?")])  # (1, T)
    out = model(ids)
    assert out.logits.shape == (1, ids.shape[1], tok.vocab_size)
    out.logits.logsumexp(-1).sum().backward()
    glyphs_in_input = [t for t in ids[0].tolist() if t >= model.config.base_vocab_size]
    assert glyphs_in_input, "the sentence should encode with at least one glyph or marker"
    # the new rows are trained: every glyph/marker row the input used receives a gradient
    assert weight.grad is not None
    assert all(weight.grad[t].abs().sum() > 0 for t in glyphs_in_input)


def test_spreading_and_random_init_and_errors(tok):
    torch.manual_seed(0)
    spread = build_model({"name": "glyph_gpt2", "spreading": 0.5, **TINY}, tok)
    torch.manual_seed(0)
    plain = build_model({"name": "glyph_gpt2", **TINY}, tok)
    g = tok.glyphs[0].token_id
    w_s, w_p = spread.net.get_input_embeddings().weight, plain.net.get_input_embeddings().weight
    assert not torch.allclose(w_s[g], w_p[g])
    torch.testing.assert_close(w_s[:100277], w_p[:100277])
    with pytest.raises(ValueError, match="init must be one of"):
        GlyphGPT2Config(vocab_size=10, init="zeros")
    with pytest.raises(ValueError, match="spreading must be in"):
        GlyphGPT2Config(vocab_size=10, spreading=2.0)
    with pytest.raises(TypeError, match="needs a HybridTokenizer"):
        build_model({"name": "glyph_gpt2", **TINY}, get_tokenizer("gpt2"))


def test_save_and_load_pretrained_round_trip(tok, tmp_path):
    from polytok.io import from_pretrained, save_pretrained

    torch.manual_seed(0)
    model = build_model({"name": "glyph_gpt2", **TINY}, tok).eval()
    save_pretrained(model, tmp_path / "m", tok)
    loaded, loaded_tok = from_pretrained(tmp_path / "m")
    ids = torch.tensor([tok.encode("I am doing well, how about you?")])
    torch.testing.assert_close(loaded.eval()(ids).logits, model(ids).logits)
    spec = loaded_tok.to_spec()  # the tape travels with the tokenizer (a copy in the directory)
    assert spec.pop("tape") == str((tmp_path / "m" / "tokenizer" / "tape.db").resolve())
    assert spec == {k: v for k, v in tok.to_spec().items() if k != "tape"}
