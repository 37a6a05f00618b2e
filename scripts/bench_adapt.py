"""Training throughput of the glyph adapters, as ratios against full fine-tuning in one process.

    python scripts/bench_adapt.py --base DIR [--tape TAPE] [--steps 6] [--repeats 2]

Builds ``new_rows``, ``lora`` and ``full`` adaptations (default init) of the base directory over
the tape, and times optimiser steps (forward, backward, clipping, AdamW) on the same random
windows, interleaving the adapters ``repeats`` times so machine load hits all of them alike.
Target (issue 11): ``new_rows`` and ``lora`` at least as fast as ``full`` (ratio >= 1). Writes
``logs/bench_adapt/results.json``; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ADAPTERS = ("full", "new_rows", "lora")
RECIPES = {"new_rows": 3.0e-3, "lora": 2.0e-3, "full": 3.0e-4}


def main(argv: list[str]) -> int:
    from polytok.glyph.hybrid import HybridTokenizer
    from polytok.systems import LanguageModelSystem
    from polytok.tasks.adapt_study import train_variant, window_starts

    cache = Path(os.environ.get("POLYTOK_CACHE", Path.home() / ".cache" / "polytok"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="local Hugging Face model directory")
    parser.add_argument("--tape", default=str(cache / "tapes" / "mix_gpt2_4096.db"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--block", type=int, default=92)
    parser.add_argument("--out", default="logs/bench_adapt")
    args = parser.parse_args(argv)
    tok = HybridTokenizer("gpt2", args.tape)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, tok.vocab_size - 2, size=50_000)
    starts = window_starts(len(ids), args.block, args.steps, args.batch_size, seed=0)
    times: dict[str, list[float]] = {a: [] for a in ADAPTERS}
    for _ in range(args.repeats):
        for adapter in ADAPTERS:
            model = {"name": "glyph_adapt", "path": args.base, "adapter": adapter}
            system = LanguageModelSystem(
                model=model, tokenizer=tok.to_spec(), lr=RECIPES[adapter], sample_tokens=0
            )
            run = train_variant(system, ids, starts, args.block, dict, eval_steps=())
            times[adapter].append(run["tokens_per_s"])
    rate = {a: float(np.median(v)) for a, v in times.items()}
    ratios = {a: rate[a] / rate["full"] for a in ADAPTERS}
    result = {
        "base": args.base,
        "tape_glyphs": len(tok.glyphs),
        "steps": args.steps,
        "repeats": args.repeats,
        "window": [args.batch_size, args.block],
        "tokens_per_s": rate,
        "ratio_vs_full": ratios,
        "target_met": ratios["new_rows"] >= 1.0 and ratios["lora"] >= 1.0,
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
