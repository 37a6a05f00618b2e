"""Checkpoints load with ``weights_only=True`` on every documented path (reliability B6, W5.3-4)."""

from __future__ import annotations

import builtins

import pytest
import torch

from polytok.systems import LanguageModelSystem
from polytok.systems.checkpoint import checkpoint_kind, read_checkpoint
from polytok.systems.rqvae import RQVAESystem
from polytok.tasks.lm import load_checkpoint_hparams

TINY = {"name": "gpt2", "dim": 16, "num_layers": 1, "num_heads": 2, "max_positions": 16}


class Evil:
    """Unpickling this creates a marker file (what a malicious checkpoint would do)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


@pytest.fixture
def lm_ckpt(tmp_path, char_tokenizer):
    system = LanguageModelSystem(model=TINY, tokenizer=char_tokenizer.to_spec())
    path = tmp_path / "lm.ckpt"
    torch.save({"state_dict": system.state_dict(), "hyper_parameters": dict(system.hparams)}, path)
    return system, path


def test_readme_form_loads_and_matches(lm_ckpt) -> None:
    system, path = lm_ckpt
    loaded = LanguageModelSystem.load_from_checkpoint(path)  # the README's line, as written
    x = torch.randint(0, system.tokenizer.vocab_size, (2, 8))
    torch.testing.assert_close(loaded.eval()(x), system.eval()(x))
    with pytest.raises(ValueError, match="weights_only=True"):
        LanguageModelSystem.load_from_checkpoint(path, weights_only=False)


@pytest.mark.parametrize("force", [False, True])
def test_malicious_checkpoint_never_runs(tmp_path, lm_ckpt, monkeypatch, force) -> None:
    _, good = lm_ckpt
    if force:  # the env var that made torch unpickle code in the README form
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    ckpt = torch.load(good, weights_only=True)
    ckpt["hyper_parameters"]["payload"] = Evil(str(marker))
    torch.save(ckpt, evil)
    for load in (LanguageModelSystem.load_from_checkpoint, RQVAESystem.load_from_checkpoint):
        with pytest.raises(ValueError, match="corrupt or not a Lightning checkpoint"):
            load(evil)
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint_hparams(evil)
    assert not marker.exists(), "a checkpoint's pickle was executed"


def test_directory_and_missing_checkpoint(tmp_path) -> None:
    with pytest.raises(IsADirectoryError, match="is a directory; pass the .ckpt file"):
        read_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.ckpt")


def test_checkpoint_of_another_task_is_named(tmp_path) -> None:
    model = {"in_dim": 8, "codebook_sizes": [4, 4], "e_dim": 4, "layers": [8]}
    rq = RQVAESystem(model=model)
    path = tmp_path / "rq.ckpt"
    torch.save({"state_dict": rq.state_dict(), "hyper_parameters": dict(rq.hparams)}, path)
    assert checkpoint_kind(read_checkpoint(path)["hyper_parameters"]) == "rqvae"
    with pytest.raises(ValueError, match="RQ-VAE .* not a language model"):
        load_checkpoint_hparams(path)
    with pytest.raises(ValueError, match="not written by LanguageModelSystem .*'rqvae'"):
        LanguageModelSystem.load_from_checkpoint(path)
    loaded = RQVAESystem.load_from_checkpoint(path)  # its own system loads it
    x = torch.randn(5, 8)
    torch.testing.assert_close(loaded.model.eval()(x).x_hat, rq.model.eval()(x).x_hat)
