"""Device hygiene of every polytok nn.Module (issue 12).

1. No float64: each module's forward (and backward where it trains), RQ-KMeans fit and encode,
   the PolyTokenizer, and a LanguageModelSystem training / validation / test step run under a
   ``TorchDispatchMode`` that fails on any float64 tensor an op returns (MPS has no float64).
2. Device-clean construction: each module builds under ``torch.device("meta")`` with every
   parameter and buffer on ``meta`` (nothing is pinned to a fixed device); the stateless ones also
   run their forward on meta inputs, so every tensor a forward creates follows the input.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.data import DataLoader, TensorDataset

VOCAB = 40


class NoFloat64(TorchDispatchMode):
    """Fails on the first op that returns a float64 tensor (names the op)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.dtype == torch.float64:
                raise AssertionError(f"float64 tensor returned by {func}")
        return out


def _lm_loss(out) -> torch.Tensor:
    return out.logits.float().logsumexp(-1).mean() + out.aux_loss


def _reso(**kw):
    from polytok.reso.model import ResoFormer, ResoFormerConfig

    options = dict(vocab_size=VOCAB, max_positions=16, dim=32, num_heads=2, num_layers=2,
                   resonant_dim=4, rotary_dim=4, code_dim=8, codebook_size=8)  # fmt: skip
    return ResoFormer(ResoFormerConfig(**{**options, **kw}))


def _modules():
    """``name -> (factory, run)``: ``run(module)`` returns a scalar to backpropagate (or None)."""
    from polytok.glyph.adapter import GlyphGPT2, GlyphGPT2Config
    from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
    from polytok.poly.spreading import GoldSpreading
    from polytok.reso.attention import ResonantAttention
    from polytok.reso.collapse import EntropyCollapse
    from polytok.reso.embedding import PrimeEmbedding
    from polytok.reso.gate import CoherenceGate
    from polytok.sid.rqvae import RQVAE

    ids = torch.randint(VOCAB, (2, 12), generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 12, 32, generator=torch.Generator().manual_seed(1))

    def spreading(m):
        e = torch.randn(5, 32, requires_grad=True)
        return m.despread(m(e, "image"), "image").pow(2).sum()

    def glyph_model():  # construction (outside the guard) builds its GoldSpreading on the host
        m = GlyphGPT2(GlyphGPT2Config(**tiny_gpt, base_vocab_size=VOCAB - 2, spreading=0.5))
        m.init_new_rows({VOCAB - 1: [1, 2, 3], VOCAB - 2: [4]})
        return m

    def rqvae(m):
        m.train()
        return m(torch.randn(64, 16)).loss

    tiny_gpt = dict(vocab_size=VOCAB, dim=32, num_layers=1, num_heads=2, max_positions=16)
    return {
        "GoldSpreading": (lambda: GoldSpreading(32, ("text", "image")), spreading),
        "PrimeEmbedding": (lambda: PrimeEmbedding(VOCAB, 32), lambda m: m(ids).sum()),
        "ResonantAttention": (
            lambda: ResonantAttention(32, 2, 16, resonant_dim=4, rotary_dim=4, golden_heads=True),
            lambda m: m(x).sum(),
        ),
        "CoherenceGate": (lambda: CoherenceGate(32), lambda m: m(x, x.flip(1))[0].sum()),
        "EntropyCollapse": (lambda: EntropyCollapse(32, 8, 8).train(), lambda m: m(x).loss),
        "ResoFormer": (_reso, lambda m: _lm_loss(m(ids))),
        "ResoFormer(halting)": (lambda: _reso(halting=True), lambda m: _lm_loss(m(ids))),
        "RQVAE": (lambda: RQVAE(16, codebook_sizes=[8, 8], e_dim=8, layers=[16]), rqvae),
        "GPT2LM": (lambda: GPT2LM(GPT2LMConfig(**tiny_gpt)), lambda m: _lm_loss(m(ids))),
        "GlyphGPT2": (glyph_model, lambda m: _lm_loss(m(ids))),
    }


MODULES = sorted(_modules())


@pytest.mark.parametrize("name", MODULES)
def test_forward_and_backward_make_no_float64(name):
    factory, run = _modules()[name]
    torch.manual_seed(0)
    module = factory()
    with NoFloat64():
        loss = run(module)
        loss.backward()
    grads = [p.grad for p in module.parameters() if p.requires_grad]
    assert torch.isfinite(loss) and (not grads or any(g is not None for g in grads))


def test_guard_catches_float64():
    with pytest.raises(AssertionError, match="float64"), NoFloat64():
        torch.ones(3).double()


def test_rqkmeans_fit_and_encode_make_no_float64():
    from polytok.sid.rqkmeans import RQKMeans

    x = torch.randn(600, 8, generator=torch.Generator().manual_seed(0))
    for balanced in (False, True):
        with NoFloat64():
            model = RQKMeans(n_levels=2, n_clusters=8, balanced=balanced, max_iter=5).fit(x)
            codes = model.encode(x)
        assert codes.shape == (600, 2)


def test_poly_tokenizer_makes_no_float64():
    from polytok.poly import PolyTokenizer
    from polytok.tokenizers import get_tokenizer

    gpt2 = get_tokenizer("gpt2")
    weight = torch.randn(gpt2.vocab_size, 32)
    poly = PolyTokenizer(dim=32, modalities=("text", "image"), oov_buckets=4)  # Q: host QR
    with NoFloat64():
        poly.register_base(gpt2, weight)
        poly.add_modality("audio")
        poly.add_tokens(["New York", "polytokenizer"])
        poly.add_token("cat.png", modality="image", init=torch.randn(32))
        out = poly(["New York", "never-seen", "cat.png"])
        poly.get_meta_embedding("New York").sum().backward()
        vectors = poly.embed("I love New York")
    assert out.shape == (3, 32) and vectors.dtype == torch.float32


def test_static_embedder_makes_no_float64():
    from polytok.embed import StaticEmbedder

    static = StaticEmbedder()
    with NoFloat64():
        vectors = static.embed(["machine learning", "banana bread"])
    assert vectors.shape == (2, static.dim) and vectors.dtype == torch.float32


@pytest.mark.parametrize("model", ["gpt2", "resoformer"])
def test_lm_system_steps_make_no_float64(model, char_tokenizer, tmp_path):
    from polytok.systems.lm import LanguageModelSystem

    options = {"name": model, "dim": 32, "num_layers": 1, "num_heads": 2, "max_positions": 16}
    if model == "resoformer":
        options |= {"resonant_dim": 4, "rotary_dim": 4, "code_dim": 8, "codebook_size": 8}
    system = LanguageModelSystem(
        model=options, tokenizer=char_tokenizer.to_spec(), max_steps=2, warmup_steps=1,
        sample_tokens=0,
    )  # fmt: skip
    x = torch.randint(
        char_tokenizer.vocab_size, (8, 16), generator=torch.Generator().manual_seed(0)
    )
    loader = DataLoader(TensorDataset(x, x.roll(-1, 1)), batch_size=4)
    trainer = L.Trainer(
        max_steps=2, limit_val_batches=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
        num_sanity_val_steps=0,
    )  # fmt: skip
    with NoFloat64():
        trainer.fit(system, loader, loader)
        assert torch.isfinite(trainer.callback_metrics["val/loss"])
        trainer.test(system, loader, verbose=False)
    assert torch.isfinite(trainer.callback_metrics["test/loss"])


@pytest.mark.parametrize("name", MODULES)
def test_builds_on_meta_device(name):
    factory, _ = _modules()[name]
    with torch.device("meta"):
        module = factory()
    tensors = dict(module.named_parameters()) | dict(module.named_buffers())
    assert tensors
    pinned = {k: t.device for k, t in tensors.items() if t.device.type != "meta"}
    assert not pinned, f"{name} made tensors on a fixed device: {pinned}"


def test_poly_tokenizer_builds_on_meta_device():
    from polytok.poly import PolyTokenizer

    with torch.device("meta"):
        poly = PolyTokenizer(dim=16, modalities=("text", "image"), oov_buckets=4)
    assert poly.device.type == "meta"
    assert all(t.device.type == "meta" for t in poly.state_dict().values())


@pytest.mark.parametrize(
    "name", ["GoldSpreading", "PrimeEmbedding", "ResonantAttention", "CoherenceGate"]
)
def test_forward_follows_the_input_device(name):
    """On meta inputs any tensor made on a fixed device would fail to combine with the input.

    (Modules whose forward reads a value on the host, such as Hugging Face's GPT-2 mask code or
    a quantizer's k-means init, cannot run on meta; the float64 guard covers them on the CPU.)
    """
    factory, _ = _modules()[name]
    with torch.device("meta"):
        module = factory()
    if name == "GoldSpreading":
        out = module(torch.randn(5, 32, device="meta"), "image")
    elif name in ("ResonantAttention",):
        out = module(torch.randn(2, 12, 32, device="meta"))
    elif name == "CoherenceGate":
        x = torch.randn(2, 12, 32, device="meta")
        out = module(x, x)[0]
    else:
        out = module(torch.zeros(2, 12, dtype=torch.long, device="meta"))
    out = out.logits if hasattr(out, "logits") else out
    assert out.device.type == "meta"


@pytest.mark.slow  # builds a tape and exports a Hugging Face model (~25 s each on loaded cores)
@pytest.mark.parametrize("adapter", ["new_rows", "lora"])
def test_glyph_adaptation_model_makes_no_float64(tmp_path, adapter):
    """The glyph adapter over a pretrained (tiny, exported) Hugging Face GPT-2."""
    from polytok.embed import StaticEmbedder
    from polytok.glyph.build import TapeBuildConfig, build_tape
    from polytok.glyph.hybrid import HybridTokenizer
    from polytok.models import build_model
    from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
    from polytok.models.hf_export import export_hf

    torch.manual_seed(0)
    base = export_hf(GPT2LM(GPT2LMConfig(dim=16, num_layers=1, num_heads=2, max_positions=32)),
                     tmp_path / "hf")  # fmt: skip
    play = "ROMEO: But soft, what light through yonder window breaks?\n"
    build_tape([play * 12] * 4, tmp_path / "t.db", "gpt2", TapeBuildConfig(num_glyphs=20),
               embedder=StaticEmbedder())  # fmt: skip
    tok = HybridTokenizer("gpt2", tmp_path / "t.db")
    model = build_model({"name": "glyph_adapt", "path": str(base), "adapter": adapter}, tok)
    ids = torch.tensor([tok.encode(play)[:32]])  # (1, T)
    with NoFloat64():
        loss = _lm_loss(model(ids))
        loss.backward()
    assert any(p.grad is not None for p in model.parameters() if p.requires_grad)
