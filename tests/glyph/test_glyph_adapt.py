"""Glyph adaptation of a pretrained Hugging Face GPT-2 (a tiny one saved to a temporary directory)."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from polytok.glyph.adapted_lm import GlyphAdaptedLM
from polytok.glyph.adapted_save import load_adapter, save_adapter, save_merged
from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.glyph.hybrid import HybridTokenizer
from polytok.models import build_model
from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
from polytok.models.hf_export import export_hf
from polytok.systems import LanguageModelSystem

PLAY = (
    "ROMEO: But soft, what light through yonder window breaks?\n"
    "JULIET: O Romeo, Romeo, wherefore art thou Romeo?\n"
    "ROMEO: Shall I hear more, or shall I speak at this?\n"
)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    torch.manual_seed(0)
    model = GPT2LM(GPT2LMConfig(dim=16, num_layers=1, num_heads=2, max_positions=64))
    with torch.no_grad():  # a trained final LayerNorm has a bias (an untrained one is 0)
        model.net.transformer.ln_f.bias.normal_(0, 0.5)
    return export_hf(model, tmp_path_factory.mktemp("base") / "hf")


@pytest.fixture(scope="module")
def tok(tmp_path_factory, embedder):
    path = tmp_path_factory.mktemp("tape") / "gpt2.db"
    build_tape([PLAY * 3] * 4, path, "gpt2", TapeBuildConfig(num_glyphs=40), embedder=embedder)
    return HybridTokenizer("gpt2", path)


def _system(base, tok, adapter, init="split", lr=1e-2):
    model = {"name": "glyph_adapt", "path": str(base), "adapter": adapter, "init": init}
    return LanguageModelSystem(model=model, tokenizer=tok.to_spec(), lr=lr, warmup_steps=0)


def _train(system, tok, steps=3):
    ids = torch.tensor([tok.encode(PLAY * 2)])[:, :33]
    opt = system.configure_optimizers()["optimizer"]
    for _ in range(steps):
        loss, _ = system._step((ids[:, :-1], ids[:, 1:]))
        loss.backward()
        opt.step()
        opt.zero_grad()
    return ids


@pytest.mark.parametrize(
    "adapter",
    [
        "new_rows",
        pytest.param("lora", marks=pytest.mark.slow),
        pytest.param("full", marks=pytest.mark.slow),
    ],
)
def test_each_adapter_trains(base, tok, adapter):
    system = _system(base, tok, adapter)
    model = system.model
    before = {k: v.detach().clone() for k, v in model.hf.state_dict().items()}
    rows = model.new_in.detach().clone()
    _train(system, tok)
    after = model.hf.state_dict()
    assert not torch.equal(model.new_in, rows)  # the new rows trained
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    if adapter == "new_rows":
        assert changed == []  # every original weight bitwise equal
    elif adapter == "lora":
        assert changed and all("lora_" in k for k in changed)
    else:
        assert any("wte" in k for k in changed) and any("h.0.attn" in k for k in changed)


@pytest.mark.slow
def test_peft_adapter_reload_and_merged_dir(base, tok, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    system = _system(base, tok, "lora")
    ids = _train(system, tok, steps=2)
    model = system.model.eval()
    with torch.no_grad():
        expected = model(ids).logits
    save_adapter(model, tmp_path / "adapter", tok)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    loaded, loaded_tok = load_adapter(tmp_path / "adapter")
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, expected)
    assert loaded_tok.encode(PLAY) == tok.encode(PLAY)
    save_merged(model, tmp_path / "merged", tok)
    net = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"), local_files_only=True)
    assert net.config.vocab_size == tok.vocab_size
    with torch.no_grad():  # offsets folded through the final LayerNorm: float32 rounding only
        torch.testing.assert_close(net(ids).logits, expected, atol=5e-3, rtol=1e-4)
    assert AutoTokenizer.from_pretrained(str(tmp_path / "merged"))("ROMEO")["input_ids"]


def test_split_offsets_share_each_first_token():
    from polytok.glyph.inits import split_offsets

    first = torch.tensor([3, 3, 5])
    logprob = torch.tensor([0.5, 0.25, 0.99]).log()
    got = split_offsets(first, logprob, 8)
    expected = torch.zeros(8)
    expected[3], expected[5] = torch.tensor(0.25).log(), torch.tensor(0.05).log()  # 5: capped
    torch.testing.assert_close(got, expected)


def test_split_init_keeps_the_base_normaliser(base, tok):
    """At step 0 each base token's mass is shared with the glyphs it starts (none capped here),
    so the extended softmax has the base model's partition function at every position."""
    model = build_model({"name": "glyph_adapt", "path": str(base), "init": "split"}, tok).eval()
    ids = torch.tensor([tok.base.encode(PLAY)])[:, :40]
    mass = torch.zeros(tok.base.vocab_size)
    first = torch.tensor([g.base_ids[0] for g in tok.glyphs])
    offsets = model.new_offset[[g.token_id - tok.base.vocab_size for g in tok.glyphs]]
    mass.index_add_(0, first, offsets.detach().exp())
    with torch.no_grad():
        hybrid = model(ids).logits
        plain = model.hf(ids).logits
    if bool((mass < 0.95).all()):
        torch.testing.assert_close(hybrid.logsumexp(-1), plain.logsumexp(-1), atol=1e-4, rtol=0)
    assert not torch.equal(model.base_offset, torch.zeros_like(model.base_offset))
    expansion = build_model({"name": "glyph_adapt", "path": str(base), "init": "expansion"}, tok)
    with torch.no_grad():  # without the split, the first tokens' mass is counted twice
        assert bool((expansion.eval()(ids).logits.logsumexp(-1) > plain.logsumexp(-1)).all())


def test_count_logprob_is_the_share_of_first_token_positions():
    from polytok.glyph.inits import count_logprob

    counts = torch.tensor([0.0, 6, 1, 0, 3, 1])  # base ids 0-3; new ids 4, 5 start with 1, 2
    got = count_logprob(counts, torch.tensor([1, 2]), 4, alpha=0.0)
    torch.testing.assert_close(got, torch.tensor([3 / 9, 1 / 2]).log())
    with pytest.raises(ValueError, match="one entry per id"):
        count_logprob(counts[:5], torch.tensor([1, 2]), 4)


def test_split_init_uses_training_counts(base, tok):
    from polytok.glyph.inits import SPLIT_COUNT_WEIGHT

    model = build_model({"name": "glyph_adapt", "path": str(base), "init": "split"}, tok)
    from_model = model.new_offset.detach().clone()
    train_ids = tok.encode(PLAY * 3)
    model.init_from_data(train_ids, tok)
    glyph = max(tok.glyphs, key=lambda g: tok.encode(PLAY * 3).count(g.token_id))
    i = glyph.token_id - tok.base.vocab_size
    n_first = sum(t == glyph.base_ids[0] or (t >= tok.base.vocab_size and
                  tok.expand([t])[0] == glyph.base_ids[0]) for t in train_ids)  # fmt: skip
    share = (train_ids.count(glyph.token_id) + 0.5) / (n_first + 0.5)
    expected = (1 - SPLIT_COUNT_WEIGHT) * from_model[i] + SPLIT_COUNT_WEIGHT * math.log(share)
    assert abs(float(model.new_offset.detach()[i]) - float(expected)) < 1e-4
    other = build_model({"name": "glyph_adapt", "path": str(base), "init": "mean"}, tok)
    rows = other.new_in.detach().clone()
    other.init_from_data(train_ids, tok)  # inits without counts ignore them
    assert torch.equal(other.new_in, rows)


def test_generation_returns_plain_text(base, tok, tmp_path):
    import polytok

    model = build_model({"name": "glyph_adapt", "path": str(base), "init": "mean"}, tok)
    glyph = max(tok.glyphs, key=lambda g: len(g.base_ids))
    with torch.no_grad():  # make the model always continue with this glyph
        model.new_in[glyph.token_id - tok.base.vocab_size] *= 0
        model.new_in[glyph.token_id - tok.base.vocab_size] += model.hf.transformer.ln_f.bias * 50
    save_merged(model, tmp_path / "merged", tok)
    save_adapter(model, tmp_path / "adapter", tok)
    for directory in ("merged", "adapter"):
        text = polytok.from_pretrained(tmp_path / directory).generate(
            "ROMEO:", max_new_tokens=3, strategy="greedy"
        )
        assert text == tok.decode([glyph.token_id] * 3) and "<GLYPH>" not in text


def test_bad_inputs(base, tok, tmp_path):
    with pytest.raises(ValueError, match="unknown adapter 'prefix'.*new_rows"):
        _system(base, tok, "prefix")
    with pytest.raises(ValueError, match="unknown init 'zeros'.*expansion"):
        _system(base, tok, "new_rows", init="zeros")
    options = {"name": "glyph_adapt", "path": str(base), "adapter": "lora"}
    with pytest.raises(ValueError, match=r"\['q_proj'\] are not in this gpt2 model.*c_attn"):
        build_model({**options, "lora_targets": ["q_proj"]}, tok)
    cl100k = tmp_path / "cl100k.db"
    build_tape([PLAY * 3] * 4, cl100k, "cl100k_base", TapeBuildConfig(num_glyphs=10)).close()
    with pytest.raises(ValueError, match="built on base tokenizer 'cl100k_base'.*uses 'gpt2'"):
        build_model(options, HybridTokenizer("cl100k_base", cl100k))


def test_moved_or_changed_base_is_refused(base, tok, tmp_path):
    from polytok.models.hf_causal import model_fingerprint

    moved = tmp_path / "base"
    shutil.copytree(base, moved)
    fingerprint = model_fingerprint(moved)
    options = {"name": "glyph_adapt", "path": str(moved), "base_fingerprint": fingerprint}
    assert isinstance(build_model(options, tok), GlyphAdaptedLM)
    config = moved / "config.json"
    config.write_text(config.read_text().replace('"n_head": 2', '"n_head": 1'))
    with pytest.raises(ValueError, match="changed since this adaptation was made"):
        build_model(options, tok)
    shutil.rmtree(moved)
    with pytest.raises(FileNotFoundError, match="no longer exists.*model.path"):
        build_model(options, tok)
