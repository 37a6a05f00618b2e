"""Bits per byte of a smoothed bigram count model on the same data, tokenizer and windows as
``python train.py`` (the baseline the default GPT-2 run must beat).

    python scripts/bigram_baseline.py [hydra overrides, e.g. data=dialog tokenizer=bpe]

Counts bigrams over the training ids (Lidstone smoothing, alpha picked on the training split
itself by leave-one-out, so the evaluation split stays unseen), then scores exactly the
(context, target) pairs of the validation and test windows the LM is evaluated on.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir

from polytok.data import TokenStreamDataModule, load_source
from polytok.run import to_dict
from polytok.tokenizers import build_tokenizer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def bigram_counts(ids: np.ndarray, vocab: int) -> torch.Tensor:
    pairs = torch.from_numpy(ids[:-1].astype(np.int64) * vocab + ids[1:].astype(np.int64))
    return torch.bincount(pairs, minlength=vocab * vocab).reshape(vocab, vocab).double()


def loo_alpha(counts: torch.Tensor) -> float:
    """Smoothing that maximises leave-one-out likelihood on the training counts."""
    vocab = counts.shape[1]
    rows = counts.sum(1, keepdim=True)
    best, best_nll = 1.0, math.inf
    for alpha in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0):
        mask = counts > 0
        p = (counts - 1 + alpha) / (rows - 1 + alpha * vocab)
        nll = -(counts[mask] * torch.log(p[mask].clamp_min(1e-300))).sum() / counts.sum()
        if nll < best_nll:
            best, best_nll = alpha, float(nll)
    return best


def evaluate(dm: TokenStreamDataModule, split: str, logp: torch.Tensor) -> dict[str, float]:
    loader = dm.val_dataloader() if split == "val" else dm.test_dataloader()
    total, count = 0.0, 0
    for x, y in loader:
        keep = y.flatten() != -100  # padding of the last window
        total -= logp[x.flatten()[keep], y.flatten()[keep]].sum().item()
        count += int(keep.sum())
    loss = total / count
    return {"loss": loss, "bpb": loss / math.log(2) / dm.bytes_per_token(split)}


def main(overrides: list[str]) -> dict[str, float]:
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    data = to_dict(cfg.data)
    source = load_source(data["source"])
    tokenizer = build_tokenizer(to_dict(cfg.tokenizer), lambda: source.documents("train"))
    options = {k: v for k, v in data.items() if k != "source"}
    options["train_windows"] = 1
    dm = TokenStreamDataModule(source=source, tokenizer=tokenizer, **options)
    dm.setup("fit")
    dm.setup("test")
    counts = bigram_counts(np.asarray(dm.token_ids("train")), tokenizer.vocab_size)
    alpha = loo_alpha(counts)
    logp = torch.log((counts + alpha) / (counts.sum(1, keepdim=True) + alpha * counts.shape[1]))
    result = {"alpha": alpha}
    for split in ("val", "test"):
        for key, value in evaluate(dm, split, logp).items():
            result[f"{split}/{key}"] = value
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
