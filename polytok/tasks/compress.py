"""Compression tasks: ``python train.py experiment=compressor_aclsum`` (task ``cross_encoder``)
fine-tunes the learned chunk scorer on ACLSum; ``python eval.py experiment=compress_aclsum``
(task ``compress_aclsum``) runs the ACLSum benchmark (`polytok.compress.benchmark`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig

from polytok.tasks.registry import eval_task, train_task
from polytok.tasks.runtime import make_trainer, output_dir, to_dict

log = logging.getLogger(__name__)


def _best_state(trainer: L.Trainer) -> dict[str, torch.Tensor] | None:
    path = getattr(trainer.checkpoint_callback, "best_model_path", "") or ""
    if not path or not Path(path).is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@train_task("cross_encoder")
def train(cfg: DictConfig) -> dict[str, Any]:
    """Fine-tune a `CrossEncoderScorer` on ACLSum train, select on val, ``save_pretrained``."""
    from polytok.systems.aclsum_pairs import ACLSumPairsDataModule
    from polytok.systems.cross_encoder import CrossEncoderSystem

    options = dict(to_dict(cfg.cross_encoder))
    data_options = dict(options.pop("data", None) or {})
    L.seed_everything(int(cfg.seed), workers=True)
    system = CrossEncoderSystem(**options)
    datamodule = ACLSumPairsDataModule(
        system.model.encode_pairs, seed=int(cfg.seed), **data_options
    )
    datamodule.setup("fit")
    out = output_dir(cfg)
    trainer = make_trainer(cfg)
    start, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()
    trainer.fit(system, datamodule=datamodule)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    best = _best_state(trainer)
    if best is not None:  # the checkpoint with the best val/recall
        system.load_state_dict(best)
    pretrained = system.model.save_pretrained(out / "pretrained")
    best_score = (
        trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
    )
    metrics = {
        "val/recall_best": float(best_score) if best_score is not None else None,
        "steps": int(trainer.global_step),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),  # all threads: on a quiet machine, wall ~ cpu_s / threads
        "torch_threads": torch.get_num_threads(),
        "load_avg_start": [round(x, 2) for x in load],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
    }
    (out / "train_summary.json").write_text(json.dumps(metrics, indent=2))
    log.info("cross-encoder: %s -> %s", metrics, pretrained)
    return {"pretrained": str(pretrained), "output_dir": str(out), "metrics": metrics}


LABELS = {
    "recall": "highlight recall",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "bertscore": "BERTScore F1",
    "achieved": "achieved ratio",
    "within_2pct": "within 2 pts",
    "over_budget": "over budget",
    "seconds_per_3k_tokens": "wall s / 3k tok",
    "cpu_seconds_per_3k_tokens": "CPU s / 3k tok",
}


def targets(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, checked on ``summary`` (see docs/compress.md)."""
    from polytok.compress.benchmark import BASELINES

    recall = {(s["method"], s["ratio"]): s["recall"] for s in summary}
    ratios = sorted({s["ratio"] for s in summary})
    checks = []

    def check(name: str, a: str, b: str, ratio: float, margin: float) -> None:
        if (a, ratio) in recall and (b, ratio) in recall:
            gap = recall[(a, ratio)] - recall[(b, ratio)]
            checks.append({"target": name, "gap": round(gap, 4), "met": gap >= margin})

    for ratio in ratios:
        for base in (*BASELINES, "minilm"):
            check(f"learned >= {base} + 0.03 at {ratio}", "learned", base, ratio, 0.03)
    check("learned >= bm25 + 0.05 at 0.2", "learned", "bm25", 0.2, 0.05)
    check("default (minilm) >= lead + 0.03 at 0.2", "minilm", "lead", 0.2, 0.03)
    check("default (minilm) >= bm25 + 0.03 at 0.2", "minilm", "bm25", 0.2, 0.03)
    return checks


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def report_markdown(result: dict[str, Any]) -> str:
    """``report.md``: the summary table and the target checks."""
    config = result["config"]
    keys = list(LABELS)
    lines = [
        f"# ACLSum compression benchmark ({config['split']})",
        "",
        f"{result['num_docs']} papers x 3 aspects, budgets counted for {config['model_id']}, "
        f"torch threads {config['threads']}, load average {result['load_avg']}.",
        "",
        "| method | ratio | " + " | ".join(LABELS[k] for k in keys) + " |",
        "|---|---:|" + "---:|" * len(keys),
    ]
    for s in result["summary"]:
        cells = " | ".join(_fmt(s.get(k)) for k in keys)
        lines.append(f"| {s['method']} | {s['ratio']} | {cells} |")
    lines += ["", "| target | gap | met |", "|---|---:|---|"]
    lines += [f"| {t['target']} | {t['gap']:+.3f} | {t['met']} |" for t in result["targets"]]
    return "\n".join(lines) + "\n"


def plot_recall(summary: list[dict[str, Any]], path: Path) -> None:
    """PNG: highlight recall against target ratio, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(s["method"] for s in summary):
        points = [(s["ratio"], s["recall"]) for s in summary if s["method"] == method]
        ax.plot(*zip(*points), marker="o", label=method)
    ax.set_xlabel("target ratio (tokens kept / tokens)")
    ax.set_ylabel("highlight recall")
    ax.set_title("ACLSum: highlighted sentences kept")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@eval_task("compress_aclsum")
def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the ACLSum benchmark; write ``results.json``, ``recall_vs_ratio.png``, ``report.md``."""
    from polytok.atomic import write_text_atomic
    from polytok.compress.benchmark import ACLSumBenchmarkConfig, run_benchmark

    config = ACLSumBenchmarkConfig(**to_dict(cfg.benchmark))
    if (cfg.get("trainer") or {}).get("fast_dev_run"):  # smoke run: one paper, no BERTScore
        config.limit_docs, config.bertscore_ratios = 1, ()
    out = output_dir(cfg)
    load = [round(x, 2) for x in os.getloadavg()]
    result = run_benchmark(config, progress=bool(cfg.get("progress", True)))
    result.update(
        config=to_dict(cfg.benchmark),
        num_docs=len({r["doc"] for r in result["rows"]}),
        load_avg=load,
        targets=targets(result["summary"]),
    )
    write_text_atomic(out / "results.json", json.dumps(result, indent=1))
    plot_recall(result["summary"], out / "recall_vs_ratio.png")
    write_text_atomic(out / "report.md", report_markdown(result))
    log.info("ACLSum benchmark written to %s", out)
    metrics = {f"{s['method']}@{s['ratio']}/recall": s["recall"] for s in result["summary"]}
    return {"output_dir": str(out), "metrics": metrics}
