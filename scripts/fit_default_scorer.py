"""Fit the default scorer's head on ACLSum train, choose it on val, write it (`ScorerHead`).

For every (paper, aspect) of a split, `EncoderScorer._features` gives each sentence's
standardised features (similarity to the aspect query, BM25, position) and its sentence vector
``s``, with the first L layers of int8 all-MiniLM-L6-v2 (`SentenceEmbedder(num_layers=L)`) and
the query vector ``q`` from the same encoder. A logistic regression (scikit-learn, L2, inverse
strength C) of the sentence's highlight label on ``[z(similarity), z(bm25), z(position), s,
s * q]`` is fit on **train** for each L in 2, 3, 4 and each C in 0.3, 1, 3, 10; its coefficients
are the head (`polytok.compress.head`): feature weights, ``w_s`` and ``w_q``.

Each fit's highlight recall is measured on **val** at ratios 0.1 / 0.2 / 0.3 with the compressor's
own selection (sentences in score order while they fit the exact gpt-4o budget). The choice: the
best mean val recall over the three ratios; fits within 0.005 of it count as ties (50 val papers
cannot tell them apart), and among ties the fewest layers (the cheapest encoder), then the
smallest C (the strongest regularisation). The test split is never read.

Also printed, for the chosen head on val: the untrained weighted sum (`DEFAULT_WEIGHTS`, all six
layers) and BM25 for reference, recall with reworded aspect queries that training never saw,
and recall when each paper is scored for another aspect's query (how much the query steers it).

    python scripts/fit_default_scorer.py [--out polytok/compress/default_head] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from polytok.compress.aclsum import ASPECT_QUERIES, ASPECTS, load_aclsum
from polytok.compress.benchmark import MemoEmbedder
from polytok.compress.budget import model_counter
from polytok.compress.head import ScorerHead
from polytok.compress.scorers import FEATURES, BM25Scorer, EncoderScorer
from polytok.embed import SentenceEmbedder

RATIOS = (0.1, 0.2, 0.3)
LAYERS = (2, 3, 4)
CS = (0.3, 1.0, 3.0, 10.0)
USED = ("similarity", "bm25", "position")  # the standardised features the head weighs
TIE = 0.005
REWORDED = {  # aspect queries never seen in training, for the generalisation check
    "challenge": "Which difficulty or open problem motivates this work?",
    "approach": "How do the authors solve it, and what technique do they introduce?",
    "outcome": "What did the experiments show?",
}


def design(scorer: EncoderScorer, sentences: list[str], query: str) -> np.ndarray:
    """(n, 3 + 2D) ``[z(similarity), z(bm25), z(position), s, s * q]`` for one (paper, query)."""
    features, vectors, q = scorer._features(sentences, query)
    columns = [FEATURES.index(f) for f in USED]
    return torch.cat([features[:, columns], vectors, vectors * q], dim=1).numpy()


def split_groups(split: str, scorer: EncoderScorer, queries: dict[str, str]) -> list[dict]:
    """Per (paper, aspect): design matrix, labels, token costs and budgets per ratio."""
    counter = model_counter("gpt-4o")
    groups = []
    for doc in load_aclsum(split):
        sentences = list(doc.sentences)
        costs = counter.count_many([("" if i == 0 else " ") + s for i, s in enumerate(sentences)])
        original = counter.count(" ".join(sentences))
        for aspect in ASPECTS:
            groups.append(
                {
                    "aspect": aspect,
                    "x": design(scorer, sentences, queries[aspect]),
                    "y": np.array(doc.labels(aspect), dtype=float),
                    "costs": np.array(costs),
                    "budgets": {r: int(r * original) for r in RATIOS},
                }
            )
    return groups


def recall(groups: list[dict], scores: list[np.ndarray], ratio: float) -> float:
    """Mean highlight recall of the compressor's greedy selection under ``scores``."""
    values = []
    for g, s in zip(groups, scores):
        if g["y"].sum() == 0:
            continue
        used, kept = 0, 0.0
        for i in sorted(range(len(s)), key=lambda i: (-s[i], i)):
            if used + g["costs"][i] <= g["budgets"][ratio]:
                used += g["costs"][i]
                kept += g["y"][i]
        values.append(kept / g["y"].sum())
    return statistics.fmean(values)


def recalls(groups: list[dict], coef: np.ndarray) -> list[float]:
    return [recall(groups, [g["x"] @ coef for g in groups], r) for r in RATIOS]


def fit(groups: list[dict], c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([g["x"] for g in groups])
    y = np.concatenate([g["y"] for g in groups])
    return LogisticRegression(C=c, max_iter=5000).fit(x, y).coef_[0]


def choose(results: list[dict]) -> dict:
    """Best mean val recall; ties (within `TIE`) go to fewer layers, then smaller C."""
    best = max(r["mean"] for r in results)
    ties = [r for r in results if r["mean"] >= best - TIE]
    return min(ties, key=lambda r: (r["layers"], r["c"]))


def to_head(chosen: dict, dim: int) -> ScorerHead:
    coef = chosen["coef"]
    weights = dict.fromkeys(FEATURES, 0.0)
    weights.update({f: round(float(w), 6) for f, w in zip(USED, coef[: len(USED)])})
    start = len(USED)
    return ScorerHead(
        encoder="all-MiniLM-L6-v2",
        num_layers=chosen["layers"],
        precision="int8",
        feature_weights=weights,
        sentence_weights=torch.tensor(coef[start : start + dim], dtype=torch.float),
        query_weights=torch.tensor(coef[start + dim :], dtype=torch.float),
        info={
            "fit": "logistic regression (scikit-learn, L2) of ACLSum train highlight labels",
            "C": chosen["c"],
            "chosen_on": "ACLSum val, mean highlight recall at ratios 0.1/0.2/0.3 (gpt-4o tokens)",
            "val_recall": {str(r): round(v, 4) for r, v in zip(RATIOS, chosen["val"])},
            "script": "python scripts/fit_default_scorer.py",
        },
    )


def checks(head: ScorerHead, groups: list[dict], scorer: EncoderScorer) -> None:
    """Val figures for the docs: references, reworded queries, another aspect's query."""
    coef = np.concatenate(
        [[head.feature_weights[f] for f in USED], head.sentence_weights, head.query_weights]
    )
    untrained = EncoderScorer(head=None)
    untrained._embedder = MemoEmbedder(untrained.embedder)
    rows = {
        "head (chosen)": recalls(groups, coef),
        "untrained weighted sum (DEFAULT_WEIGHTS, 6 layers)": _scored(groups, untrained),
        "BM25": _scored(groups, BM25Scorer()),
    }
    reworded = split_groups("val", scorer, REWORDED)
    rows["head, reworded queries"] = recalls(reworded, coef)
    rows["untrained, reworded queries"] = _scored(reworded, untrained, REWORDED)
    rows["BM25, reworded queries"] = _scored(reworded, BM25Scorer(), REWORDED)
    shifted = {a: ASPECT_QUERIES[ASPECTS[(i + 1) % 3]] for i, a in enumerate(ASPECTS)}
    rows["head, the next aspect's query"] = recalls(split_groups("val", scorer, shifted), coef)
    print("\n| val (50 papers x 3 aspects) | R@0.1 | R@0.2 | R@0.3 |\n|---|---:|---:|---:|")
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


def _scored(groups: list[dict], scorer, queries: dict[str, str] = ASPECT_QUERIES) -> list[float]:
    docs = [d for d in load_aclsum("val") for _ in ASPECTS]
    scores = [
        scorer.score(list(doc.sentences), queries[g["aspect"]]).numpy()
        for doc, g in zip(docs, groups)
    ]
    return [recall(groups, scores, r) for r in RATIOS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the chosen head to this directory")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    results, scorers = [], {}
    print("| layers | C | train R@0.2 | val R@0.1 | val R@0.2 | val R@0.3 | val mean |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for layers in LAYERS:
        scorer = EncoderScorer(head=None)
        scorer._embedder = MemoEmbedder(SentenceEmbedder(precision="int8", num_layers=layers))
        scorers[layers] = scorer
        train = split_groups("train", scorer, ASPECT_QUERIES)
        val = split_groups("val", scorer, ASPECT_QUERIES)
        for c in CS:
            coef = fit(train, c)
            val_r = recalls(val, coef)
            row = {"layers": layers, "c": c, "coef": coef, "val": val_r}
            row["mean"] = statistics.fmean(val_r)
            results.append(row)
            figures = [recalls(train, coef)[1], *val_r, row["mean"]]
            print(
                f"| {layers} | {c:g} | " + " | ".join(f"{v:.4f}" for v in figures) + " |",
                flush=True,
            )
    chosen = choose(results)
    dim = (len(chosen["coef"]) - len(USED)) // 2
    head = to_head(chosen, dim)
    print(f"\nchosen: {chosen['layers']} layers, C={chosen['c']:g}; ({time.time() - start:.0f} s)")
    checks(
        head,
        split_groups("val", scorers[chosen["layers"]], ASPECT_QUERIES),
        scorers[chosen["layers"]],
    )
    if args.out:
        head.save(Path(args.out), overwrite=True)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
