"""``results.json``, PNG curves and ``report.md`` of the glyph adaptation study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polytok.atomic import write_text_atomic

SETS = {"plays": "held-out plays (pieces)", "dialog": "novel dialog lines"}


def write_plots(results: dict[str, Any], out: Path) -> list[str]:
    """One PNG per held-out set: bpb against bytes seen, a line per variant, the base dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for name, title in SETS.items():
        if name not in results.get("held_out", {}):
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for v in results.get("variants", []):
            xs = [p["bytes_seen"] / 1e3 for p in v["curve"]]
            ax.plot(
                xs, [p[name] for p in v["curve"]], marker="o", label=f"{v['adapter']}, {v['init']}"
            )
        ax.axhline(
            results["held_out"][name]["base_bpb"], ls="--", c="k", label="base on base tokens"
        )
        ax.set_xlabel("training text seen (kB)")
        ax.set_ylabel("test bits per byte")
        ax.set_title(f"glyph adaptation: {title}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"bpb_{name}.png", dpi=120)
        plt.close(fig)
        names.append(f"bpb_{name}.png")
    return names


def _report(results: dict[str, Any], plots: list[str]) -> str:
    c, held = results["config"], results["held_out"]
    lines = [
        "# Glyph adaptation study",
        "",
        f"Base: `{results['base']['path']}` (sha256 {results['base']['fingerprint'][:16]}...). "
        f"Tape: {results['tape']['glyphs']} glyphs over `gpt2`, mined on the train split of "
        f"`{json.dumps(c['source'])}` only. Budget: {c['steps']} steps x {c['batch_size']} windows of "
        f"{results.get('train', {}).get('block', '?')} hybrid tokens (= the bytes of "
        f"{c['base_block_size']} base tokens), evaluated every {c['eval_every']} steps; seed {c['seed']}.",
        "",
        "| held-out set | items | scored bytes | tokens saved | docs / 2048 window (base -> hybrid) "
        "| base bpb (base tokens) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in held.items():
        lines.append(
            f"| {SETS[name]} | {r['items']} | {r['scored_bytes']} | {r['tokens_saved']:.1%} | "
            f"{r['docs_per_window_base']:.2f} -> {r['docs_per_window_hybrid']:.2f} | "
            f"{r['base_bpb']:.3f} |"
        )
    lines += ["", "Step 0 (no training), bits per byte on hybrid tokens:", ""]
    lines += ["| init | " + " | ".join(SETS[n] for n in held) + " |", "|---|" + "---|" * len(held)]
    for init, r in results.get("step0", {}).items():
        lines.append(f"| {init} | " + " | ".join(f"{r[n]:.3f}" for n in held) + " |")
    lines += [
        "",
        "Along training (last point = end of budget); delta = vs the base on base tokens:",
        "",
    ]
    head = " | ".join(f"{SETS[n]} bpb (delta)" for n in held)
    lines += [
        f"| adapter | init | {head} | train tokens/s |",
        "|---|---|" + "---|" * (len(held) + 1),
    ]
    for v in results.get("variants", []):
        end = v["curve"][-1]
        cells = " | ".join(f"{end[n]:.3f} ({end[n] - held[n]['base_bpb']:+.3f})" for n in held)
        lines.append(f"| {v['adapter']} | {v['init']} | {cells} | {v['tokens_per_s']:.0f} |")
    lines += [""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_outputs(results: dict[str, Any], out: Path) -> Path:
    """Write ``results.json``, the plots and ``report.md`` into ``out``; returns the report path."""
    write_text_atomic(out / "results.json", json.dumps(results, indent=2, ensure_ascii=False))
    plots = write_plots(results, out) if results.get("variants") else []
    write_text_atomic(out / "report.md", _report(results, plots))
    return out / "report.md"
