"""Fit the default scorer's feature weights on ACLSum train, select on val (`DEFAULT_WEIGHTS`).

For every (paper, aspect) of a split, `EncoderScorer.features` gives each sentence's standardised
features (similarity to the aspect query, BM25, position, centrality, length) with the default
encoder (all-MiniLM-L6-v2, int8 on CPU). Candidates, all fit on **train** only:

* logistic regression (scikit-learn, L2, C=1) of the sentence's highlight label on each subset of
  the features that keeps the similarity, coefficients rounded to 2 decimals;
* the best point of a grid over the weights (similarity 1; each other weight in a few values) by
  train highlight recall at ratio 0.2;
* the previous default (similarity 1, BM25 2, position 1).

Each candidate's highlight recall is then measured on **val** at ratios 0.1 / 0.2 / 0.3, with the
compressor's own selection (sentences in score order while they fit the exact gpt-4o budget), and
the candidate with the best val recall at 0.2 is printed as the new ``DEFAULT_WEIGHTS``. The test
split is never read.

    python scripts/fit_default_scorer.py [--limit-docs N] [--threads 1] [--cache DIR]

With ``--cache DIR`` each split's features are stored in ``DIR/<split>.pt`` and read from there
when present; ``--prepare SPLIT`` only fills that cache (to compute the splits in parallel).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from polytok.compress.aclsum import ASPECT_QUERIES, ASPECTS, load_aclsum
from polytok.compress.budget import model_counter
from polytok.compress.scorers import DEFAULT_WEIGHTS, FEATURES, EncoderScorer

RATIOS = (0.1, 0.2, 0.3)


class _Cached:
    """Sentence vectors by text: each paper is embedded once for its three aspect queries."""

    def __init__(self, embedder) -> None:
        self.embedder, self.cache = embedder, {}

    def encode(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.embedder.encode(missing).float().cpu()))
        return torch.stack([self.cache[t] for t in texts])


def split_data(split: str, scorer: EncoderScorer, limit: int | None) -> list[dict]:
    """Per (paper, aspect): features (n, F), labels (n,), token costs (n,) and budgets."""
    counter = model_counter("gpt-4o")
    groups = []
    for doc in load_aclsum(split)[:limit]:
        sentences = list(doc.sentences)
        costs = counter.count_many([("" if i == 0 else " ") + s for i, s in enumerate(sentences)])
        original = counter.count(" ".join(sentences))
        for aspect in ASPECTS:
            groups.append(
                {
                    "x": scorer.features(sentences, ASPECT_QUERIES[aspect]).numpy(),
                    "y": np.array(doc.labels(aspect), dtype=float),
                    "costs": np.array(costs),
                    "budgets": {r: int(r * original) for r in RATIOS},
                }
            )
    return groups


def cached_split(split: str, args: argparse.Namespace) -> list[dict]:
    path = Path(args.cache) / f"{split}.npz" if args.cache else None
    if path is not None and path.is_file():
        return _load_groups(path)
    scorer = EncoderScorer()
    scorer._embedder = _Cached(scorer.embedder)
    groups = split_data(split, scorer, args.limit_docs)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _save_groups(groups, path)
    return groups


def _save_groups(groups: list[dict], path: Path) -> None:
    """Feature groups as one .npz of plain arrays (no pickle)."""
    arrays = {}
    for i, g in enumerate(groups):
        arrays.update({f"{i}/x": g["x"], f"{i}/y": g["y"], f"{i}/costs": g["costs"]})
        arrays[f"{i}/budgets"] = np.array(sorted(g["budgets"].items()), dtype=float)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _load_groups(path: Path) -> list[dict]:
    with np.load(path, allow_pickle=False) as data:
        n = len({key.split("/")[0] for key in data.files})
        return [
            {
                "x": data[f"{i}/x"],
                "y": data[f"{i}/y"],
                "costs": data[f"{i}/costs"],
                "budgets": {float(r): int(b) for r, b in data[f"{i}/budgets"]},
            }
            for i in range(n)
        ]


def recall(groups: list[dict], weights: np.ndarray, ratio: float) -> float:
    """Mean highlight recall of the compressor's greedy selection under ``weights``."""
    values = []
    for g in groups:
        if g["y"].sum() == 0:
            continue
        scores = g["x"] @ weights
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        used, kept = 0, 0.0
        for i in order:
            if used + g["costs"][i] <= g["budgets"][ratio]:
                used += g["costs"][i]
                kept += g["y"][i]
        values.append(kept / g["y"].sum())
    return statistics.fmean(values)


def logistic(groups: list[dict], columns: list[int]) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([g["x"][:, columns] for g in groups])
    y = np.concatenate([g["y"] for g in groups])
    coef = LogisticRegression(C=1.0, max_iter=1000).fit(x, y).coef_[0]
    weights = np.zeros(len(FEATURES))
    weights[columns] = np.round(coef, 2)
    return weights


def grid(groups: list[dict]) -> np.ndarray:
    values = {
        "bm25": (0.0, 0.5, 1.0, 2.0),
        "position": (0.0, 0.5, 1.0, 1.5),
        "centrality": (0.0, 0.5, 1.0),
        "length": (-0.5, 0.0, 0.5),
    }
    best, best_recall = None, -1.0
    for combo in itertools.product(*values.values()):
        weights = dict(zip(values, combo), similarity=1.0)
        w = np.array([weights[f] for f in FEATURES])
        r = recall(groups, w, 0.2)
        if r > best_recall:
            best, best_recall = w, r
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-docs", type=int, default=None, help="first N papers per split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", default=None, help="directory for the features per split")
    parser.add_argument("--prepare", choices=("train", "val"), default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.process_time()
    if args.prepare:
        cached_split(args.prepare, args)
        return
    train, val = cached_split("train", args), cached_split("val", args)
    print(
        f"features: {len(train)} train, {len(val)} val groups, CPU {time.process_time() - start:.0f} s"
    )
    index = {f: i for i, f in enumerate(FEATURES)}
    candidates = {"previous default (1, 2, 1)": np.array([1.0, 2.0, 1.0, 0.0, 0.0])}
    others = [f for f in FEATURES if f != "similarity"]
    for size in range(len(others) + 1):
        for subset in itertools.combinations(others, size):
            columns = [index["similarity"]] + [index[f] for f in subset]
            candidates["logistic: " + "+".join(["similarity", *subset])] = logistic(train, columns)
    candidates["grid on train recall@0.2"] = grid(train)
    print(
        "| candidate | "
        + " | ".join(FEATURES)
        + " | train R@0.2 | val R@0.1 | val R@0.2 | val R@0.3 |"
    )
    print("|---|" + "---:|" * (len(FEATURES) + 4))
    rows = []
    for name, w in candidates.items():
        val_recall = [recall(val, w, r) for r in RATIOS]
        rows.append((val_recall[1], statistics.fmean(val_recall), name, w))
        cells = " | ".join(f"{v:g}" for v in w)
        figures = " | ".join(f"{v:.4f}" for v in [recall(train, w, 0.2), *val_recall])
        print(f"| {name} | {cells} | {figures} |", flush=True)
    _, _, name, w = max(rows, key=lambda r: (r[0], r[1]))
    print(f"\nchosen on val recall at 0.2: {name}")
    print("DEFAULT_WEIGHTS = " + repr({f: float(v) for f, v in zip(FEATURES, w)}))
    print(f"(current DEFAULT_WEIGHTS: {DEFAULT_WEIGHTS})")


if __name__ == "__main__":
    main()
