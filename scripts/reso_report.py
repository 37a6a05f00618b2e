"""Markdown tables of the ResoFormer experiments from their run directories' ``metrics.json``.

    python scripts/reso_report.py --main logs/reso_final --ablation logs/reso_ablation/steps500

``--main`` holds ``gpt_seed{0,1}`` and ``reso_seed{0,1}`` (``experiment=gpt_shakespeare`` /
``reso_shakespeare``); ``--ablation`` holds ``<variant>_seed<s>`` cells of
``experiment=reso_ablation`` (``plain_gpt_seed<s>``: ``gpt_shakespeare`` with the same overrides).
Exits 1 if ResoFormer's mean validation loss is not lower than the plain GPT's by ``--margin``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

VARIANTS = ("none", "prime_features", "resonance", "golden_heads", "coherence_gate", "collapse")


def val_loss(run: Path) -> float | None:
    """Final ``val/loss`` of a run directory, or None if it has not finished."""
    path = run / "metrics.json"
    if not path.exists():
        return None
    return float(json.loads(path.read_text())["metrics"]["val/loss"])


def seeds(root: Path, prefix: str) -> dict[int, float]:
    out = {}
    for run in sorted(root.glob(f"{prefix}_seed*")):
        loss = val_loss(run)
        if loss is not None:
            out[int(run.name.rsplit("seed", 1)[1])] = loss
    return out


def fmt(values: dict[int, float]) -> str:
    return " | ".join(f"{values[s]:.4f}" if s in values else "-" for s in (0, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--main", type=Path, default=Path("logs/reso_final"))
    parser.add_argument("--ablation", type=Path, default=Path("logs/reso_ablation/steps500"))
    parser.add_argument("--margin", type=float, default=0.03)
    args = parser.parse_args(argv)

    gpt, reso = seeds(args.main, "gpt"), seeds(args.main, "reso")
    print("| model | val loss seed 0 | seed 1 | mean |")
    print("|---|---:|---:|---:|")
    for name, values in (
        ("plain GPT (gpt_shakespeare)", gpt),
        ("ResoFormer (reso_shakespeare)", reso),
    ):
        mean = statistics.mean(values.values()) if values else float("nan")
        print(f"| {name} | {fmt(values)} | {mean:.4f} |")
    ok = len(gpt) == 2 and len(reso) == 2
    if ok:
        gap = statistics.mean(gpt.values()) - statistics.mean(reso.values())
        ok = gap >= args.margin
        print(
            f"\nGPT - ResoFormer mean val loss: {gap:.4f} nats (target >= {args.margin}): "
            f"{'PASS' if ok else 'FAIL'}"
        )

    if args.ablation.exists():
        full = seeds(args.ablation, "none")
        full_mean = statistics.mean(full.values()) if full else float("nan")
        print("\n| switched off | val loss seed 0 | seed 1 | mean | minus full ResoFormer |")
        print("|---|---:|---:|---:|---:|")
        for variant in (*VARIANTS, "plain_gpt"):
            values = seeds(args.ablation, variant)
            if not values:
                continue
            mean = statistics.mean(values.values())
            label = {"none": "nothing (full ResoFormer)", "plain_gpt": "everything (plain GPT)"}
            print(
                f"| {label.get(variant, variant)} | {fmt(values)} | {mean:.4f} | "
                f"{mean - full_mean:+.4f} |"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
