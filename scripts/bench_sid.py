"""Benchmark semantic IDs against a residual ``faiss.Kmeans`` loop (issue 4's targets).

Same process, same data (100,000 x 64 float32 Gaussian mixture of 1,000 components, seed 0),
3 levels x 256 codes, the same iteration count (25, no early stop) and one thread for both.
Asserts: RQKMeans fit and encode time <= 1.0x faiss's, relative MSE <= faiss's; balanced mode
< 10 s; the SQLite store assigns >= 50,000 unique IDs per second. Also records RQ-VAE's relative
MSE, usage and collisions on the same data. Prints a Markdown table; exits 1 on a missed target.

    python scripts/bench_sid.py            # full run (about 2-3 minutes on 2 shared cores)
    python scripts/bench_sid.py --quick    # smaller data, no targets asserted
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import torch

from polytok.sid import RQVAE, RQKMeans, SemanticIdEngine, SQLiteCollisionStore, UniqueIdResolver
from polytok.sid.inputs import gaussian_mixture
from polytok.sid.metrics import fit_metrics


def mixture(n: int, dim: int, components: int, seed: int = 0) -> np.ndarray:
    """(n, dim) float32 Gaussian mixture: unit-normal means, isotropic noise of std 0.5."""
    return gaussian_mixture(n, dim, components, seed=seed, spread=0.5)


def faiss_fit(x: np.ndarray, levels: int, k: int, niter: int) -> list[np.ndarray]:
    """Residual faiss.Kmeans: train level l on the residual, assign every point, subtract."""
    residual = x.copy()
    codebooks = []
    for level in range(levels):
        km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=level, verbose=False)
        km.train(residual)
        _, labels = km.index.search(residual, 1)
        residual -= km.centroids[labels[:, 0]]
        codebooks.append(km.centroids)
    return codebooks


def faiss_encode(x: np.ndarray, codebooks: list[np.ndarray]) -> np.ndarray:
    residual = x.copy()
    codes = []
    for cb in codebooks:
        index = faiss.IndexFlatL2(cb.shape[1])
        index.add(cb)
        _, labels = index.search(residual, 1)
        residual -= cb[labels[:, 0]]
        codes.append(labels[:, 0])
    return np.stack(codes, 1).astype(np.int64)  # L x (N,) -> (N, L)


def best_time(fn, repeats: int):
    """(min seconds over ``repeats`` runs, last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def rel_mse(x: np.ndarray, codes: np.ndarray, codebooks: list[np.ndarray]) -> dict:
    x_hat = sum(cb[codes[:, i]] for i, cb in enumerate(codebooks))
    sizes = [cb.shape[0] for cb in codebooks]
    return fit_metrics(
        torch.from_numpy(x), torch.from_numpy(x - x_hat), torch.from_numpy(codes), sizes
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k rows, no assertions")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats (min is kept)")
    parser.add_argument("--vae-epochs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    n = 20_000 if args.quick else 100_000
    levels, k, niter = 3, 256, 25
    x = mixture(n, 64, 1000, seed=0)
    rows: list[tuple[str, str, str, str]] = []
    failures: list[str] = []

    # Alternate faiss and torch runs so machine noise hits both alike.
    faiss_fit_s = torch_fit_s = float("inf")
    for _ in range(args.repeats):
        t, codebooks = best_time(lambda: faiss_fit(x, levels, k, niter), 1)
        faiss_fit_s = min(faiss_fit_s, t)
        model = RQKMeans(n_levels=levels, n_clusters=k, random_state=0, max_iter=niter, tol=0.0)
        t, _ = best_time(lambda m=model: m.fit(x), 1)
        torch_fit_s = min(torch_fit_s, t)
    faiss_enc_s = torch_enc_s = float("inf")
    for _ in range(3 * args.repeats):  # encoding is short: more interleaved repeats
        t, faiss_codes = best_time(lambda: faiss_encode(x, codebooks), 1)
        faiss_enc_s = min(faiss_enc_s, t)
        t, codes = best_time(lambda: model.encode(x), 1)
        torch_enc_s = min(torch_enc_s, t)
    faiss_m = rel_mse(x, faiss_codes, codebooks)
    torch_m = model.metrics_
    assert np.array_equal(codes, model.encode(x))

    balanced = RQKMeans(
        n_levels=levels, n_clusters=k, random_state=0, max_iter=niter, balanced=True
    )
    bal_s, _ = best_time(lambda: balanced.fit(x), 1)
    bal_m = balanced.metrics_

    sids = model.semantic_id(codes)
    keys = [f"item-{i}" for i in range(n)]
    store_s = repeat_s = engine_s = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):  # a fresh database each time: every item is new
            store = SQLiteCollisionStore(Path(tmp) / f"ids{rep}.db")
            resolver = UniqueIdResolver(store)
            t, ids = best_time(lambda r=resolver: r.resolve(sids, keys), 1)
            store_s = min(store_s, t)
            t, again = best_time(lambda r=resolver: r.resolve(sids, keys), 1)
            repeat_s = min(repeat_s, t)
            store.close()
        engine = SemanticIdEngine(model, UniqueIdResolver(SQLiteCollisionStore(Path(tmp) / "e.db")))
        engine_s, _ = best_time(lambda: engine.unique_ids(x), 1)
        engine.resolver.store.close()
    assert len(set(ids)) == n and ids == again
    ids_per_s = n / store_s

    vae = RQVAE(in_dim=64, num_emb_list=[k] * levels, e_dim=32, layers=[128, 64], decay=0.99)
    start = time.perf_counter()
    vae.fit(x, epochs=args.vae_epochs, batch_size=1024, lr=2e-3)
    vae_s = time.perf_counter() - start
    vae_m = vae.metrics_

    def fmt(m: dict) -> str:
        usage = "/".join(f"{u:.2f}" for u in m["usage"])
        return (
            f"rel MSE {m['rel_mse']:.4f}; usage {usage}; collision rate "
            f"{m['collision_rate']:.3f}; duplicate rate {m['duplicate_rate']:.3f}; "
            f"largest bucket {m['largest_bucket']}"
        )

    fit_ratio, enc_ratio = torch_fit_s / faiss_fit_s, torch_enc_s / faiss_enc_s
    rows += [
        (
            "RQKMeans fit (torch) vs residual faiss.Kmeans",
            f"{torch_fit_s:.2f} s",
            f"{faiss_fit_s:.2f} s",
            f"{fit_ratio:.2f}x (target <= 1.0x)",
        ),
        (
            "RQKMeans encode vs faiss IndexFlatL2 search",
            f"{torch_enc_s:.3f} s",
            f"{faiss_enc_s:.3f} s",
            f"{enc_ratio:.2f}x (target <= 1.0x)",
        ),
        (
            "relative MSE",
            f"{torch_m['rel_mse']:.4f}",
            f"{faiss_m['rel_mse']:.4f}",
            "target <= faiss",
        ),
        ("RQKMeans (torch) metrics", fmt(torch_m), "", ""),
        ("faiss metrics", fmt(faiss_m), "", ""),
        ("balanced RQKMeans fit (Sinkhorn)", f"{bal_s:.2f} s", "", "target < 10 s"),
        ("balanced metrics", fmt(bal_m), "", ""),
        ("SQLite unique IDs, new items", f"{ids_per_s:,.0f} IDs/s", "", "target >= 50,000/s"),
        ("SQLite unique IDs, same items again", f"{n / repeat_s:,.0f} IDs/s", "", "idempotent"),
        ("engine.unique_ids (encode + hash + store)", f"{n / engine_s:,.0f} IDs/s", "", ""),
        (f"RQ-VAE fit ({args.vae_epochs} epochs)", f"{vae_s:.1f} s", "", ""),
        ("RQ-VAE metrics", fmt(vae_m), "", ""),
    ]
    if not args.quick:
        if fit_ratio > 1.0:
            failures.append(f"fit {fit_ratio:.2f}x faiss")
        if enc_ratio > 1.0:
            failures.append(f"encode {enc_ratio:.2f}x faiss")
        if torch_m["rel_mse"] > faiss_m["rel_mse"]:
            failures.append(f"rel MSE {torch_m['rel_mse']:.4f} > faiss {faiss_m['rel_mse']:.4f}")
        if bal_s >= 10.0:
            failures.append(f"balanced fit {bal_s:.1f} s")
        if ids_per_s < 50_000:
            failures.append(f"SQLite {ids_per_s:,.0f} IDs/s")
    print(
        f"data: {n:,} x 64 float32 Gaussian mixture (1,000 components, seed 0); {levels} levels x {k}; {niter} iterations; 1 thread"
    )
    print("| measure | polytok | faiss | ratio / target |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if failures:
        print("MISSED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
