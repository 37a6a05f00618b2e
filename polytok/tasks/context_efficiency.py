"""The context-efficiency experiment: ``python eval.py experiment=context_efficiency``.

For each corpus (dialog by conversation, Shakespeare by play) a tape is built on the train split
only and measured on val and test against the base tokenizer and two baselines with the same
number of added tokens (`polytok.glyph.efficiency`); lossy mode is judged by an independent
embedder (`polytok.glyph.lossy_eval`); GPT-2 is trained on base and on hybrid tokens at equal
compute and compared in bits per byte (`polytok.tasks.glyph_lm_compare`). Writes ``results.json``,
PNG plots and ``report.md`` to the run's output directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from polytok.data import load_source
from polytok.glyph.efficiency import HeldOut, novel_lines
from polytok.tasks.glyph_lm_compare import compare
from polytok.tasks.registry import eval_task
from polytok.tasks.runtime import output_dir, to_dict

TARGETS = {"dialog": 0.15, "shakespeare": 0.25}


def load_held_out(name: str) -> HeldOut:
    """``"dialog"`` (English dialogs, novel lines) or ``"shakespeare"`` (whole held-out plays)."""
    if name == "dialog":
        source = load_source({"name": "dialog", "language": "english"})
        train = list(source.documents("train"))
        val = novel_lines(train, source.documents("val"))
        return HeldOut(name, train, val, novel_lines(train, source.documents("test")), "line")
    if name == "shakespeare":
        source = load_source({"name": "shakespeare"})
        return HeldOut(
            name,
            list(source.documents("train")),
            list(source.documents("val")),
            list(source.documents("test")),
            "document",
        )
    raise ValueError(f"unknown held-out corpus {name!r}; expected 'dialog' or 'shakespeare'")


@eval_task("context_efficiency")
def evaluate(cfg: Any) -> dict[str, Any]:
    """Run the experiment described by ``cfg.glyph`` and return its results (also on disk)."""
    import torch

    from polytok.embed import StaticEmbedder
    from polytok.glyph.build import torch_threads
    from polytok.glyph.efficiency import measure
    from polytok.glyph.hybrid import HybridTokenizer
    from polytok.glyph.lossy_eval import evaluate_lossy

    options = to_dict(cfg.glyph)
    out = output_dir(cfg)
    tapes = out / "tapes"
    tapes.mkdir(exist_ok=True)
    torch.manual_seed(int(cfg.get("seed", 0)))
    results: dict[str, Any] = {"config": options, "corpora": {}}
    with torch_threads(1):
        embedder = StaticEmbedder()
    for name in options["corpora"]:
        data = load_held_out(name)
        families = int(options["families"]) if name == "dialog" else 0
        with torch_threads(1):
            row = measure(
                data,
                tapes / f"{name}.db",
                options["base"],
                int(options["glyphs"]),
                families,
                embedder,
            )
        row["target"] = TARGETS.get(name)
        results["corpora"][name] = row
        if families:
            lossy = HybridTokenizer(
                options["base"],
                tapes / f"{name}.db",
                mode="lossy",
                similarity_threshold=float(options["lossy_threshold"]),
            )
            train_lines = [line for d in data.train for line in d.split("\n") if line]
            results["lossy"] = {"corpus": name, **evaluate_lossy(lossy, data.test, train_lines)}
    if options.get("lm", {}).get("enabled", False):
        lm = dict(options["lm"])
        lm.setdefault("cache_dir", str(Path(cfg.paths.cache_dir) / "tokens"))
        results["lm"] = compare(cfg, lm, tapes / "lm.db")
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    plots = write_plots(results, out)
    report = write_report(results, out, plots)
    metrics = {
        f"{c}/{m}_reduction": r["test"]["reduction"][m]
        for c, r in results["corpora"].items()
        for m in r["test"]["reduction"]
    }
    if "lm" in results:
        metrics["lm/base_bpb"] = results["lm"]["base"]["test_bpb"]
        metrics["lm/hybrid_bpb"] = results["lm"]["hybrid"]["test_bpb"]
    return {"metrics": metrics, "report": str(report), "output_dir": str(out)}


def write_plots(results: dict[str, Any], out: Path) -> list[str]:
    """Token reduction per method and corpus, glyph usage, bits per byte -> PNG files."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    corpora = results["corpora"]
    methods = ["hybrid", "ngram", "word_bpe"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.25
    for k, method in enumerate(methods):
        values = [100 * corpora[c]["test"]["reduction"].get(method, 0.0) for c in corpora]
        ax.bar([i + (k - 1) * width for i in range(len(corpora))], values, width, label=method)
    ax.set_xticks(range(len(corpora)), list(corpora))
    ax.set_ylabel("% fewer tokens than base (test)")
    ax.legend()
    ax.set_title("Token reduction, every id counted")
    fig.tight_layout()
    fig.savefig(out / "token_reduction.png", dpi=120)
    plt.close(fig)
    paths.append("token_reduction.png")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for c, r in corpora.items():
        usage = r["test"]["glyph_usage"]
        ax.bar(
            c,
            100 * usage["glyph_token_share"],
            label=f"{c}: {usage['distinct_glyphs_used']} of {r['glyphs']} glyphs used",
        )
    ax.set_ylabel("% of test tokens that are glyphs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "glyph_usage.png", dpi=120)
    plt.close(fig)
    paths.append("glyph_usage.png")
    if "lm" in results:
        fig, ax = plt.subplots(figsize=(4, 3.5))
        lm = results["lm"]
        ax.bar(["base", "hybrid"], [lm["base"]["test_bpb"], lm["hybrid"]["test_bpb"]])
        ax.set_ylabel("test bits per byte (lower is better)")
        fig.tight_layout()
        fig.savefig(out / "bits_per_byte.png", dpi=120)
        plt.close(fig)
        paths.append("bits_per_byte.png")
    return paths


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _reduction_table(results: dict[str, Any]) -> list[str]:
    """Report lines: the per-corpus reduction table and whether each target was met."""
    lines = [
        "| corpus | split | items | base tokens | glyph tape | naive n-gram | word BPE | "
        "round trip | docs / 2048 (base -> hybrid) | glyph share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results["corpora"].items():
        for split in ("val", "test"):
            s = r[split]
            red = s["reduction"]
            lines.append(
                f"| {name} | {split} | {s['items']} | {s['tokens']['base']} | "
                f"{100 * red['hybrid']:.1f}% | {100 * red.get('ngram', float('nan')):.1f}% | "
                f"{100 * red.get('word_bpe', float('nan')):.1f}% | "
                f"{100 * s['round_trip_exact']:.0f}% | {s['docs_per_window']['base']:.2f} -> "
                f"{s['docs_per_window']['hybrid']:.2f} | "
                f"{100 * s['glyph_usage']['glyph_token_share']:.1f}% |"
            )
    lines += [
        "",
        "Held-out definitions: dialog = test lines not seen verbatim in train; "
        "shakespeare = whole test plays.",
        "",
    ]
    for name, r in results["corpora"].items():
        target = r.get("target")
        if target is not None:
            red = r["test"]["reduction"]
            ok = red["hybrid"] >= target and red["hybrid"] - red.get("ngram", 0) >= 0.02
            lines.append(
                f"- {name}: {100 * red['hybrid']:.1f}% (target >= {100 * target:.0f}%, "
                f"{100 * (red['hybrid'] - red.get('ngram', 0)):+.1f} pts vs n-gram): "
                f"{'met' if ok else 'MISSED'}"
            )
    return lines


def _lossy_section(lo: dict[str, Any]) -> list[str]:
    """Report lines of the opt-in lossy mode."""
    return [
        "",
        "## Lossy mode (opt-in)",
        "",
        f"threshold {lo['threshold']}: {lo['lines_replaced']} of {lo['lines']} lines "
        f"replaced, {100 * lo['token_reduction']:.1f}% fewer tokens, tape-embedder "
        f"fidelity {lo['mean_fidelity_tape_embedder']:.3f}, independent TF-IDF "
        f"similarity of replaced lines {_fmt(lo['mean_similarity_independent_judge_replaced'])}, "
        f"numbers and names of replaced lines preserved "
        f"{100 * lo['numbers_and_names_preserved']:.0f}% "
        f"(of {lo['numbers_and_names_in_replaced_lines']}).",
    ]


def _lm_section(lm: dict[str, Any]) -> list[str]:
    """Report lines of the GPT-2 comparison, base vs hybrid tokens."""
    lines = [
        "",
        "## GPT-2, base vs hybrid tokens (equal compute)",
        "",
        f"Definition: {lm['definition']}.",
        "",
        "| tokens | block | params | train s | test bpb |",
        "|---|---|---|---|---|",
    ]
    for k in ("base", "hybrid"):
        m = lm[k]
        lines.append(
            f"| {k} | {m['block_size']} | {m['parameters']} | {m['train_s']} | "
            f"{m['test_bpb']:.4f} |"
        )
    return lines + ["", f"bpb hybrid - base: {lm['bpb_delta_hybrid_minus_base']:+.4f}"]


def write_report(results: dict[str, Any], out: Path, plots: list[str]) -> Path:
    """A Markdown summary of ``results`` next to the plots."""
    cfg = results["config"]
    lines = ["# Context-efficiency experiment", ""]
    lines += [f"Tape: {cfg['glyphs']} glyphs over `{cfg['base']}`, built on train only.", ""]
    lines += _reduction_table(results)
    if "lossy" in results:
        lines += _lossy_section(results["lossy"])
    if "lm" in results:
        lines += _lm_section(results["lm"])
    lines += [""] + [f"![{p}]({p})" for p in plots]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
