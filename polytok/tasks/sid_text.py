"""Hydra task ``sid_text``: semantic IDs for real sentences (``python train.py experiment=sid_text``).

Sentences of the 250 ACLSum papers and of the dialog corpus (`polytok.data.sentences`) are
embedded by all-MiniLM-L6-v2 (`polytok.embed.SentenceEmbedder`, through the content-keyed
embedding cache, so reruns and interrupted runs reuse every finished vector), quantised by
`RQKMeans`, and evaluated with `polytok.sid.evaluation.evaluate`: recall@k and nDCG@k of
retrieval by ID against exact neighbours in the embedding space, usage and perplexity per
level, collision rates. Writes ``rqkmeans/`` (the model), ``ids.tsv`` (ID, source sentence),
``metrics.json`` and ``code_usage.png`` (items per code, sorted, one panel per level).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from polytok.tasks.registry import train_task
from polytok.tasks.runtime import discard_incomplete, output_dir, to_dict

log = logging.getLogger(__name__)

DATA_KEYS = {
    "kind",
    "max_sentences",
    "sources",
    "fill",
    "seed",
    "dialog_language",
    "batch_size",
    "cache",
}
EVAL_KEYS = {"k", "sample_size", "n_pairs"}
DEV_SENTENCES, DEV_CLUSTERS = 64, 4  # debug=fast_dev_run: a smoke run in seconds


def _settings(cfg: DictConfig) -> tuple[dict, dict, dict]:
    data = dict(to_dict(cfg.data) or {})
    model = {k: v for k, v in (to_dict(cfg.model) or {}).items() if k != "name"}
    evaluation = dict(to_dict(cfg.get("evaluation")) or {})
    for name, given, valid in (("data", data, DATA_KEYS), ("evaluation", evaluation, EVAL_KEYS)):
        unknown = sorted(set(given) - valid)
        if unknown:
            raise ValueError(f"unknown {name} keys {unknown}; valid keys: {sorted(valid)}")
    if (cfg.get("trainer") or {}).get("fast_dev_run"):
        data["max_sentences"] = DEV_SENTENCES
        model["n_clusters"] = DEV_CLUSTERS
        evaluation["k"] = min(int(evaluation.get("k", 10)), 5)
    return data, model, evaluation


def embed_sentences(data: dict) -> tuple[list[str], np.ndarray]:
    """The corpus named by ``data`` and its (N, 384) MiniLM embeddings (cached on disk)."""
    from polytok.assets import cache_dir
    from polytok.data.sentences import sentence_corpus
    from polytok.embed import SentenceEmbedder, embed_cached

    texts = sentence_corpus(
        data.get("max_sentences", 100_000),
        sources=tuple(data.get("sources", ("aclsum", "dialog"))),
        fill=data.get("fill"),
        seed=int(data.get("seed", 0)),
        dialog_language=data.get("dialog_language", "all"),
    )
    cache = data.get("cache") or cache_dir() / "embeddings.sqlite"
    x = embed_cached(
        SentenceEmbedder(), texts, cache, batch_size=int(data.get("batch_size", 64)),
        show_progress=True,
    )  # fmt: skip
    return texts, x


def plot_usage(codes: np.ndarray, sizes: list[int], path: Path) -> None:
    """PNG: items per code (sorted, log scale), one panel per level, usage in the titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sizes), figsize=(4 * len(sizes), 3.2), squeeze=False)
    for level, (ax, size) in enumerate(zip(axes[0], sizes)):
        counts = np.sort(np.bincount(codes[:, level], minlength=size))[::-1]
        ax.bar(np.arange(size), counts, width=1.0)
        ax.set_yscale("log")
        ax.set_title(f"level {level}: {np.count_nonzero(counts) / size:.1%} of {size} codes used")
        ax.set_xlabel("code (sorted by items)")
        ax.set_ylabel("items")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@train_task("sid_text")
def train(cfg: DictConfig) -> dict[str, Any]:
    """Embed, quantise and evaluate; see the module docstring."""
    from polytok.sid import RQKMeans, RQKMeansConfig
    from polytok.sid.evaluation import evaluate

    out_dir = output_dir(cfg)
    try:
        data, model_cfg, ev = _settings(cfg)
        RQKMeansConfig(**model_cfg)  # validate before the (long) embedding step
    except (ValueError, TypeError) as err:
        discard_incomplete(out_dir)
        raise ValueError(f"sid_text: {err}") from err
    texts, x = embed_sentences(data)
    model = RQKMeans(**model_cfg).fit(x)
    codes = model.encode(x)
    k = int(ev.get("k", 10))
    report = evaluate(
        x, codes, model=model, k=k, sample_size=ev.get("sample_size", 1000),
        n_pairs=int(ev.get("n_pairs", 2000)), seed=int(cfg.get("seed", 0)),
    )  # fmt: skip
    metrics = {f"sid/{key}": v for key, v in report.items() if not isinstance(v, list)}
    for level, (u, p) in enumerate(zip(report["usage"], report["perplexity"])):
        metrics[f"sid/usage_l{level}"], metrics[f"sid/perplexity_l{level}"] = u, p
    model.save(out_dir / "rqkmeans")
    ids = model.semantic_id(codes)
    (out_dir / "ids.tsv").write_text(
        "".join(f"{i}\t{t.replace(chr(9), ' ')}\n" for i, t in zip(ids, texts)), encoding="utf-8"
    )
    plot_usage(codes, list(model.config.codebook_sizes), out_dir / "code_usage.png")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    log.info("sid_text: %d sentences -> %s", len(texts), metrics)
    return {"metrics": metrics, "output_dir": str(out_dir)}
