"""Benchmark PolyTokenizer lookups and Gold-code interference; prints Markdown tables.

    python scripts/bench_poly.py            # asserts >= 500,000 known tokens/s, exits 1 if missed

Throughput: batched ``get_embeddings`` of 100,000 known tokens (dim 256) against two baselines in
the same process: a per-token ``get_embedding`` loop, and a bare ``index_select`` with precomputed
ids (the floor). Fallback lookups (older version, OOV bucket, global bucket) are timed separately.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import torch

from polytok.poly import GoldSpreading, PolyTokenizer, cross_modality_interference

TARGET = 500_000


CPU_TIMES: list[float] = []  # per best_of call: the best process CPU time (same order as wall)


def best_of(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls; the best CPU time goes to `CPU_TIMES`.

    On a shared machine wall time includes waiting for a core; with one torch thread the process
    CPU time is the single-core cost, which is what the target is asserted on.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    CPU_TIMES.append(min(cpus))
    return min(walls)


def throughput(args) -> tuple[list[tuple[str, float, str]], float]:
    vocab = [f"tok{i:06d}" for i in range(args.vocab)]
    poly = PolyTokenizer(dim=args.dim, modalities=("text",), oov_buckets=1024)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        poly.add_tokens(
            vocab[: args.vocab // 2], inits=torch.randn(args.vocab // 2, poly.in_dim, generator=gen)
        )
        poly.add_version("text", "v2")
        poly.add_tokens(
            vocab[args.vocab // 2 :],
            version="v2",
            inits=torch.randn(args.vocab - args.vocab // 2, poly.in_dim, generator=gen),
        )
    rng = random.Random(0)
    known = [rng.choice(vocab[args.vocab // 2 :]) for _ in range(args.queries)]
    older = [rng.choice(vocab[: args.vocab // 2]) for _ in range(args.queries)]
    unknown = [f"unk{rng.random()}" for _ in range(args.queries)]
    ids = torch.tensor([poly.vocab.row("text", "v2", t) for t in known])
    table = poly.embedding.table("text:v2")
    results = []
    with torch.no_grad():
        t_batched = best_of(lambda: poly.get_embeddings(known, version="v2"), args.repeats)
        results.append(
            ("get_embeddings, 100k known tokens (exact)", args.queries / t_batched, "1.00")
        )
        buffer = torch.empty(args.queries, args.dim)
        t_out = best_of(lambda: poly.get_embeddings(known, version="v2", out=buffer), args.repeats)
        results.append(
            (
                "get_embeddings(..., out=reused buffer)",
                args.queries / t_out,
                f"{t_batched / t_out:.2f}x faster",
            )
        )
        t_floor = best_of(lambda: table.index_select(0, ids), args.repeats)
        results.append(
            (
                "floor: index_select with precomputed ids",
                args.queries / t_floor,
                f"{t_batched / t_floor:.2f}x slower than floor",
            )
        )
        loop = known[: args.queries // 20]
        t_loop = best_of(lambda: [poly.get_embedding(t, version="v2") for t in loop], 1) * 20
        results.append(
            (
                "baseline: per-token get_embedding loop",
                args.queries / t_loop,
                f"batched is {t_loop / t_batched:.0f}x faster",
            )
        )
        t_older = best_of(lambda: poly.get_embeddings(older, version="v2"), 2)
        results.append(("fallback: older version (v2 -> v1)", args.queries / t_older, "fallback"))
        t_oov = best_of(lambda: poly.get_embeddings(unknown, version="v2"), 2)
        results.append(
            ("fallback: OOV bucket (blake2b + jump hash)", args.queries / t_oov, "fallback")
        )
        poly.add_modality("audio", oov_buckets=0)
        t_global = best_of(lambda: poly.get_embeddings(unknown, "audio"), 2)
        results.append(("fallback: global bucket", args.queries / t_global, "fallback"))
    cpu_rates = [args.queries / max(t, 1e-9) for t in CPU_TIMES]
    cpu_rates[3] = args.queries / (CPU_TIMES[3] * 20)  # the loop ran on 1/20 of the queries
    results = [(*row, cpu) for row, cpu in zip(results, cpu_rates)]
    return results, cpu_rates[0]


def interference() -> list[tuple[str, int, str, dict]]:
    mods = tuple(f"m{i}" for i in range(8))
    rows = []
    for dim in (127, 256, 1023):
        for family in ("gold", "random"):
            s = GoldSpreading(dim, mods, code_family=family)
            rows.append(("full", dim, family, cross_modality_interference(s)))
    s = GoldSpreading(256, mods, mode="subspace")
    rows.append(("subspace", 256, "gold", cross_modality_interference(s)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results, known_rate = throughput(args)
    print(
        f"### Lookups ({args.queries:,} tokens, dim {args.dim}, vocab {args.vocab:,}, 1 thread)\n"
    )
    print("| lookup | tokens/s (wall) | tokens/s (CPU time) | note |\n|---|---:|---:|---|")
    for name, rate, note, cpu in results:
        print(f"| {name} | {rate:,.0f} | {cpu:,.0f} | {note} |")
    print("\n### Cross-modality interference (8 modalities, 2000 random meta-embeddings)\n")
    print("| mode | dim | codes | mean abs cos | mean abs bias | max abs code corr |")
    print("|---|---:|---|---:|---:|---:|")
    for mode, dim, family, r in interference():
        print(
            f"| {mode} | {dim} | {family} | {r['mean_abs_cos']:.4f} | {r['mean_abs_bias']:.4f} | {r['max_abs_code_corr']:.4f} |"
        )
    ok = known_rate >= TARGET
    verdict = "met" if ok else "MISSED"
    print(f"\ntarget: >= {TARGET:,} known tokens per CPU-second: {verdict} ({known_rate:,.0f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
