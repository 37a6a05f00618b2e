"""ResoFormer end to end: causality, gradients, save/load, configs, parameter parity."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from polytok.io import from_pretrained, save_pretrained
from polytok.models import build_model
from polytok.models.base import LMOutput
from polytok.reso.model import ResoFormer, ResoFormerConfig
from polytok.reso.primes import PrimeTokenizer
from polytok.tokenizers import CharTokenizer

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(
    vocab_size=23,
    max_positions=16,
    dim=32,
    num_heads=2,
    num_layers=2,
    code_dim=8,
    codebook_size=16,
    resonant_dim=8,
    rotary_dim=4,
)
VARIANTS = {
    "full": dict(SMALL),
    "halting": dict(SMALL, halting=True),
    "plain": dict(ResoFormerConfig.plain_gpt(**SMALL).__dict__),
}


def make(name: str, seed: int = 0) -> ResoFormer:
    torch.manual_seed(seed)
    return ResoFormer(ResoFormerConfig(**VARIANTS[name]))


def train_once(model: ResoFormer) -> None:
    """One training forward, so the collapse codebook is k-means initialised."""
    model.train()
    model(torch.randint(0, 23, (4, 16)))
    model.eval()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_changing_a_later_token_leaves_earlier_logits_bit_identical(name):
    model = make(name)
    train_once(model)
    x = torch.randint(0, 23, (3, 16))
    y = x.clone()
    y[:, 9:] = (y[:, 9:] + 1) % 23
    with torch.no_grad():
        a, b = model(x).logits, model(y).logits
    assert torch.equal(a[:, :9], b[:, :9])
    assert not torch.equal(a[:, 9:], b[:, 9:])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_gradient_reaches_every_parameter(name):
    model = make(name).train()
    x = torch.randint(0, 23, (4, 16))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    # Two steps: at initialisation the open gates (w = 0) pass no gradient to their own
    # LayerNorm, by construction; after one update every parameter must receive gradient.
    for _ in range(2):
        optimizer.zero_grad()
        out = model(x)
        assert isinstance(out, LMOutput) and out.logits.shape == (4, 16, 23)
        loss = F.cross_entropy(out.logits.flatten(0, 1), x.roll(-1, 1).flatten()) + out.aux_loss
        loss.backward()
        optimizer.step()
    for pname, param in model.named_parameters():
        assert param.grad is not None, pname
        assert param.grad.abs().sum() > 0, pname
        assert torch.isfinite(param.grad).all(), pname


def test_metrics_and_aux_loss_follow_the_config():
    full, halting, plain = (make(n).train() for n in ("full", "halting", "plain"))
    x = torch.randint(0, 23, (2, 16))
    out = full(x)
    assert set(out.metrics) == {"gate_mean", "code_perplexity", "code_usage"}
    assert out.aux_loss.item() > 0 and 0.9 < out.metrics["gate_mean"].item() < 1.0
    assert 1.0 <= out.metrics["code_perplexity"].item() <= 16
    out = halting(x)
    assert "ponder_cost" in out.metrics and 0 < out.metrics["ponder_cost"].item() <= 1
    out = plain(x)
    assert out.metrics == {} and out.aux_loss.item() == 0.0
    assert plain.positions is not None and plain.collapse is None


def test_save_pretrained_round_trip(tmp_path):
    tok = PrimeTokenizer(CharTokenizer.train(["abcdefghij klmnop.\n"]))
    model = build_model(
        {"name": "resoformer", **{k: v for k, v in SMALL.items() if k != "vocab_size"}}, tok
    )
    assert model.config.vocab_size == tok.vocab_size
    model.train()
    model(torch.randint(0, tok.vocab_size, (4, 16)))
    model.eval()
    path = save_pretrained(model, tmp_path / "reso", tok)
    loaded, tok2 = from_pretrained(path)
    assert type(loaded) is ResoFormer and loaded.config == model.config
    assert tok2.to_spec() == tok.to_spec()
    x = torch.tensor([tok.encode("abc defg")])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).logits, model(x).logits, rtol=0, atol=0)
    keys = set(model.state_dict())
    assert "collapse.quantizer.codebook" in keys and not any(
        k.endswith((".cos", ".sin")) for k in keys
    )


def test_state_dict_round_trip_and_stable_keys():
    model = make("full")
    train_once(model)
    again = make("full", seed=1)
    again.load_state_dict(model.state_dict(), strict=True)
    again.eval()
    x = torch.randint(0, 23, (2, 16))
    with torch.no_grad():
        assert torch.equal(again(x).logits, model(x).logits)
    assert "embed.feature_proj.weight" in model.state_dict()
    assert "blocks.0.gate.score.weight" in model.state_dict()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (dict(dim=30, num_heads=4), "not divisible"),
        (dict(rotary_dim=3), "even"),
        (dict(resonant_dim=-2), "even"),
        (dict(resonant_dim=16, rotary_dim=8), "exceeds the head width"),
        (dict(gate_tau=1.0), r"\(0, 1\)"),
        (dict(gate_tau=0.0), r"\(0, 1\)"),
        (dict(gate_kappa=0.0), "kappa"),
        (dict(dropout=1.0), "dropout"),
        (dict(codebook_size=1), "codebook_size"),
    ],
)
def test_bad_configs_raise(override, match):
    with pytest.raises(ValueError, match=match):
        ResoFormerConfig(**dict(SMALL, **override))


def test_build_errors():
    tok = CharTokenizer.train(["abc"])
    with pytest.raises(ValueError, match="unknown ResoFormerConfig option"):
        build_model({"name": "resoformer", "depth": 3}, tok)
    with pytest.raises(ValueError, match="disagrees"):
        build_model({"name": "resoformer", "vocab_size": 999}, tok)
    model = build_model({"name": "resoformer", "max_positions": 8}, tok)
    with pytest.raises(ValueError, match="max_positions"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(TypeError):
        ResoFormer({"dim": 8})


def test_experiment_models_match_in_parameters_within_two_percent():
    """reso_shakespeare and gpt_shakespeare compose to models of ~0.8M parameters within 2%."""
    from hydra import compose, initialize_config_dir

    from polytok.run import to_dict

    counts = {}
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        for exp in ("reso_shakespeare", "gpt_shakespeare"):
            cfg = compose(config_name="train", overrides=[f"experiment={exp}"])
            model = build_model(
                to_dict(cfg.model), CharTokenizer.train(["".join(map(chr, range(32, 113)))])
            )
            counts[exp] = model.num_parameters()
            assert cfg.data.block_size == 64 and cfg.data.batch_size == 12
            assert cfg.system.max_steps == 2000 and cfg.system.lr == 1e-3
    assert 0.75e6 < counts["gpt_shakespeare"] < 0.85e6
    assert abs(counts["reso_shakespeare"] / counts["gpt_shakespeare"] - 1) < 0.02


def test_ablation_sweep_switches_one_component_off_each():
    from hydra import compose, initialize_config_dir

    from polytok.run import to_dict

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            config_name="train", overrides=["experiment=reso_ablation"], return_hydra_config=True
        )
        variants = str(cfg.hydra.sweeper.params.ablate).split(",")  # what -m sweeps
        table = to_dict(cfg.reso_ablations)
        full = table["none"]
        for name, switches in table.items():
            diff = {k for k in switches if switches[k] != full[k]}
            assert name == "none" or diff <= {name, "resonant_dim", "rotary_dim"}, (name, diff)
            cell = compose(
                config_name="train", overrides=["experiment=reso_ablation", f"ablate={name}"]
            )
            assert {k: to_dict(cell.model)[k] for k in switches} == switches
        assert sorted(variants) == sorted(table) and len(variants) == 6  # every variant swept
        assert str(cfg.hydra.sweeper.params.seed) == "0,1"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    model = make("full").cuda().train()
    x = torch.randint(0, 23, (2, 16), device="cuda")
    out = model(x)
    assert out.logits.device.type == "cuda" and out.aux_loss.device.type == "cuda"
    model.eval()
    cpu = make("full").train()
    cpu.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    cpu.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits.cpu(), cpu(x.cpu()).logits, atol=1e-4, rtol=1e-4)
