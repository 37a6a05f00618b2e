"""Training step time of ResoFormer against the plain GPT (same code, all switches off).

Both models are built from the experiment configs' model settings (``configs/model/resoformer.yaml``
and ``configs/model/gpt_plain.yaml``) for the character vocabulary of the Shakespeare corpus, and
timed on one thread, interleaved (A, B, A, B, ...) so that load from other processes hits both
alike. A step is forward + cross-entropy (+ aux loss) + backward + AdamW, batch 12 x 64.

    python scripts/bench_reso.py [--rounds 7 --steps 10 --max-ratio 1.3]

Prints a Markdown table and exits 1 if ResoFormer's median step time exceeds ``--max-ratio``
times the plain GPT's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from polytok.models import build_config
from polytok.reso.model import ResoFormer

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "model"


def model_options(name: str) -> dict:
    """The model options of ``configs/model/<name>.yaml`` (following its ``defaults``)."""
    data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    options: dict = {}
    for parent in data.pop("defaults", []) or []:
        if parent != "_self_":
            options.update(model_options(parent))
    options.update(data)
    options.pop("name", None)
    return options


def build(name: str, vocab_size: int) -> ResoFormer:
    options = {**model_options(name), "vocab_size": vocab_size}
    return ResoFormer(build_config(ResoFormer, options))


def make_step(model: ResoFormer, batch: int, block: int, vocab_size: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(vocab_size, (batch, block), generator=gen)
    y = torch.randint(vocab_size, (batch, block), generator=gen)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    model.train()

    def step() -> None:
        out = model(x)
        loss = F.cross_entropy(out.logits.flatten(0, 1), y.flatten()) + out.aux_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per model")
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument(
        "--vocab", type=int, default=85, help="85 = the character vocabulary of Shakespeare"
    )
    parser.add_argument("--max-ratio", type=float, default=1.3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    names = ("gpt_plain", "resoformer")
    models = {n: build(n, args.vocab) for n in names}
    steps = {n: make_step(m, args.batch, args.block, args.vocab, 0) for n, m in models.items()}
    for name in names:
        for _ in range(args.warmup):
            steps[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            times[name].append((time.perf_counter() - start) / args.steps)

    med = {n: statistics.median(t) for n, t in times.items()}
    ratio = med["resoformer"] / med["gpt_plain"]
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in models.items()}
    print(
        f"Training step, batch {args.batch} x {args.block}, 1 thread, {args.rounds} interleaved "
        f"rounds of {args.steps} steps (median)\n"
    )
    print("| model | parameters | step time (ms) | ratio |")
    print("|---|---:|---:|---:|")
    for name in names:
        print(
            f"| {name} | {params[name]:,} | {1000 * med[name]:.1f} | "
            f"{med[name] / med['gpt_plain']:.2f} |"
        )
    ok = ratio <= args.max_ratio
    print(
        f"\nResoFormer / plain GPT step time: {ratio:.2f} (target <= {args.max_ratio}): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
