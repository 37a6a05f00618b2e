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
from hydra import compose, initialize_config_dir

from polytok.data import load_source
from polytok.run import to_dict
from polytok.systems import TokenStreamDataModule
from polytok.tokenizers import build_tokenizer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class SparseBigrams:
    """Bigram counts over ``vocab`` ids kept sparse (GPT-2's 50257^2 dense table would be 20 GB).

    Lidstone smoothing: ``p(t | c) = (n(c, t) + alpha) / (n(c) + alpha * vocab)``.
    """

    def __init__(self, ids: np.ndarray, vocab: int) -> None:
        ids = ids.astype(np.int64)
        keys, counts = np.unique(ids[:-1] * vocab + ids[1:], return_counts=True)
        self.vocab, self.keys, self.counts = vocab, keys, counts.astype(np.float64)
        self.rows = np.bincount(ids[:-1], minlength=vocab).astype(np.float64)  # n(c)
        self.alpha = 1.0

    def pair_counts(self, ctx: np.ndarray, tgt: np.ndarray) -> np.ndarray:
        keys = ctx.astype(np.int64) * self.vocab + tgt.astype(np.int64)
        pos = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, self.counts[pos], 0.0)

    def loo_alpha(self) -> float:
        """Smoothing that maximises leave-one-out likelihood on the training counts."""
        row = self.rows[self.keys // self.vocab]
        best, best_nll = 1.0, math.inf
        for alpha in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0):
            p = (self.counts - 1 + alpha) / (row - 1 + alpha * self.vocab)
            nll = -(self.counts * np.log(np.maximum(p, 1e-300))).sum() / self.counts.sum()
            if nll < best_nll:
                best, best_nll = alpha, float(nll)
        self.alpha = best
        return best

    def logp(self, ctx: np.ndarray, tgt: np.ndarray) -> np.ndarray:
        a = self.alpha
        return np.log((self.pair_counts(ctx, tgt) + a) / (self.rows[ctx] + a * self.vocab))


def evaluate(dm: TokenStreamDataModule, split: str, model: SparseBigrams) -> dict[str, float]:
    loader = dm.val_dataloader() if split == "val" else dm.test_dataloader()
    total, count = 0.0, 0
    for x, y in loader:
        keep = (y.flatten() != -100).numpy()  # padding of the last window
        ctx, tgt = x.flatten().numpy()[keep], y.flatten().numpy()[keep]
        total -= float(model.logp(ctx, tgt).sum())
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
    model = SparseBigrams(np.asarray(dm.token_ids("train")), tokenizer.vocab_size)
    result = {"alpha": model.loo_alpha()}
    for split in ("val", "test"):
        for key, value in evaluate(dm, split, model).items():
            result[f"{split}/{key}"] = value
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
