import math

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from polytok.systems.lm import LanguageModelSystem
from polytok.systems.optim import PHI, lr_factor

TEXT = "to be or not to be, that is the question. " * 40
TINY = {"name": "gpt2", "dim": 32, "num_layers": 1, "num_heads": 2, "max_positions": 32}


def windows(tokenizer, block=16):
    ids = torch.tensor(tokenizer.encode(TEXT))
    n = (len(ids) - 1) // block
    x = ids[: n * block].view(n, block)
    y = ids[1 : n * block + 1].view(n, block)
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)


def make_system(tokenizer, **kw):
    options = {"lr": 3e-3, "warmup_steps": 5, "max_steps": 60, "sample_tokens": 5, **kw}
    return LanguageModelSystem(model=TINY, tokenizer=tokenizer.to_spec(), **options)


def test_training_reduces_loss_and_checkpoint_is_weights_only(tmp_path, char_tokenizer):
    from polytok.tokenizers import CharTokenizer

    tok = CharTokenizer.train([TEXT])
    system = make_system(tok)
    loader = windows(tok)
    x, y = next(iter(loader))
    before = torch.nn.functional.cross_entropy(system(x).flatten(0, 1), y.flatten()).item()
    trainer = L.Trainer(
        max_steps=60,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(system, loader)
    after = torch.nn.functional.cross_entropy(system(x).flatten(0, 1), y.flatten()).item()
    assert after < before - 0.5
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)  # primitives only: no code is unpickled
    assert ckpt["hyper_parameters"]["model"] == TINY
    loaded = LanguageModelSystem.load_from_checkpoint(path, weights_only=True)
    system.eval()
    torch.testing.assert_close(loaded(x), system(x))
    assert loaded.tokenizer.to_spec() == tok.to_spec()


def test_weight_decay_only_on_matrices(char_tokenizer):
    system = make_system(char_tokenizer)
    optimizer = system.configure_optimizers()["optimizer"]
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] > 0 and no_decay["weight_decay"] == 0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])


def test_schedules():
    assert lr_factor(0, "cosine", 10, 100, 0.1) == pytest.approx(0.1)
    assert lr_factor(9, "cosine", 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_factor(100, "cosine", 10, 100, 0.1) == pytest.approx(0.1)
    assert lr_factor(55, "cosine", 10, 100, 0.1) == pytest.approx(0.55)
    assert lr_factor(20, "golden", 10, 100, 0.0) == pytest.approx(PHI**-2)
    assert lr_factor(10_000, "golden", 10, 100, 0.05) == 0.05
    assert lr_factor(50, "constant", 10, 100, 0.1) == 1.0


def test_sample_returns_text(char_tokenizer):
    text = make_system(char_tokenizer).sample("hello", 10, seed=0)
    assert isinstance(text, str) and len(text) == 10


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"lr_schedule": "linear"}, "lr_schedule"),
        ({"lr": 0}, "lr > 0"),
        ({"min_lr_ratio": 2}, "min_lr_ratio"),
    ],
)
def test_bad_hyperparameters(kw, match, char_tokenizer):
    with pytest.raises(ValueError, match=match):
        make_system(char_tokenizer, **kw)


class _TinyEval(L.LightningDataModule):
    """Two validation batches (the second padded with -100) and a known bytes-per-token."""

    def __init__(self, x, y, bytes_per_token: float) -> None:
        super().__init__()
        self.x, self.y, self.bpt = x, y, bytes_per_token

    def val_dataloader(self):
        return DataLoader(TensorDataset(self.x, self.y), batch_size=2)

    def bytes_per_token(self, split: str) -> float:
        assert split == "val"
        return self.bpt


def test_bpb_is_loss_over_bytes(char_tokenizer, tmp_path):
    system = make_system(char_tokenizer).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, char_tokenizer.vocab_size, (3, 8), generator=g)
    y = torch.randint(0, char_tokenizer.vocab_size, (3, 8), generator=g)
    y[2, 5:] = -100  # padding of the last window is not a token
    trainer = L.Trainer(logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    metrics = trainer.validate(system, datamodule=_TinyEval(x, y, 2.5), verbose=False)[0]
    # by hand: mean cross-entropy (nats) over the 21 real target tokens, to bits, per byte
    with torch.no_grad():
        logits = system(x)
    nats = (
        torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), y.flatten(), ignore_index=-100, reduction="sum"
        )
        / (y != -100).sum()
    )
    assert metrics["val/loss"] == pytest.approx(float(nats), rel=1e-5)
    assert metrics["val/bpb"] == pytest.approx(float(nats) / math.log(2) / 2.5, rel=1e-5)
