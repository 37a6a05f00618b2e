"""``polytok sid fit`` / ``polytok sid encode``: semantic IDs from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def _load_npy(path: str) -> np.ndarray:
    if not Path(path).is_file():
        raise FileNotFoundError(f"input file {path!r} does not exist")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path!r} is not a readable .npy array: {err}") from err


def check_device(device: str) -> str:
    """``device`` if it names a usable device; ValueError saying what to use instead."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"--device {device!r} is not a device name; use cpu, cuda or mps") from err
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: MPS is not available here; use --device cpu")
    return device


def check_output(path: str) -> Path:
    """A file path that can be written, checked before any ID is assigned (W3.13)."""
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"--output {path!r} is a directory; name a file, e.g. {path}/ids.txt")
    if not out.parent.is_dir():
        raise ValueError(f"--output {path!r}: the directory {str(out.parent)!r} does not exist")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ValueError(f"--output {path!r} is not writable; choose another path")
    return out


def _clusters(text: str) -> int | list[int]:
    parts = [p for p in text.split(",") if p.strip()]
    try:
        sizes = [int(p) for p in parts]
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"--clusters takes ints like 256 or 256,256,64: {err}"
        ) from err
    return sizes[0] if len(sizes) == 1 else sizes


def _fit(args: argparse.Namespace) -> int:
    from polytok.sid import RQKMeans

    device = check_device(args.device)
    x = _load_npy(args.input)
    model = RQKMeans(
        n_levels=args.levels,
        n_clusters=args.clusters,
        random_state=args.seed,
        max_iter=args.max_iter,
        balanced=args.balanced,
        backend=args.backend,
    )
    model.fit(x, device=device)
    model.save(args.out, overwrite=args.overwrite)
    m = model.metrics_
    print(
        f"saved {args.out}: rel_mse={m['rel_mse']:.4f} usage={[round(u, 3) for u in m['usage']]} "
        f"collision_rate={m['collision_rate']:.4f} largest_bucket={m['largest_bucket']}"
    )
    return 0


def _encode(args: argparse.Namespace) -> int:
    from polytok.atomic import write_text_atomic
    from polytok.sid import SQLiteCollisionStore, UniqueIdResolver, item_keys
    from polytok.sid.engine import load_encoder, model_fingerprint

    output = check_output(args.output) if args.output else None  # before any ID is assigned
    model = load_encoder(args.model, device=check_device(args.device))
    x = _load_npy(args.input)
    codes = model.encode(x)  # validates x before anything is written
    ids = model.semantic_id(codes, fmt=args.format)
    if args.unique:
        keys = Path(args.keys).read_text().splitlines() if args.keys else item_keys(x)
        if len(keys) != len(ids):
            raise ValueError(f"--keys has {len(keys)} lines for {len(ids)} rows; one per row")
        store = SQLiteCollisionStore(args.unique)
        try:
            resolver = UniqueIdResolver(store, style=args.style)
            layout = f"{args.format}:{codes.shape[1]}"
            ids = resolver.resolve(ids, keys, model=model_fingerprint(model), layout=layout)
        finally:
            store.close()
    text = "\n".join(ids) + "\n"
    if output is not None:
        write_text_atomic(output, text)
    else:
        sys.stdout.write(text)
    return 0


def register(subparsers) -> None:
    """Add ``sid fit`` and ``sid encode`` to the ``polytok`` command."""
    sid = subparsers.add_parser("sid", help="semantic IDs: fit RQ-KMeans, encode vectors")
    sub = sid.add_subparsers(dest="sid_command", required=True)

    fit = sub.add_parser("fit", help="fit RQ-KMeans on an (N, D) .npy file")
    fit.add_argument("--input", required=True, help="(N, D) float .npy file")
    fit.add_argument("--levels", type=int, default=3, help="code levels")
    fit.add_argument(
        "--clusters", type=_clusters, default=256, help="codes per level: 256 or 256,256,64"
    )
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out even if polytok did not write it (default: refuse)",
    )
    fit.add_argument("--balanced", action="store_true", help="equal-size clusters")
    fit.add_argument(
        "--backend", default="torch", choices=["torch", "faiss", "k-means-constrained"]
    )
    fit.add_argument("--max-iter", type=int, default=25, help="Lloyd iterations per level")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    fit.set_defaults(func=_fit)

    enc = sub.add_parser("encode", help="semantic or unique IDs of an (N, D) .npy file")
    enc.add_argument("--model", required=True, help="directory written by sid fit / save()")
    enc.add_argument("--input", required=True, help="(N, D) float .npy file")
    enc.add_argument("--unique", help="SQLite ID store: print collision-free unique IDs")
    enc.add_argument("--style", default="suffix", choices=["suffix", "fixed"])
    enc.add_argument(
        "--format", default="plain", choices=["plain", "token"], help="3-9-1 or <a_3><b_9><c_1>"
    )
    enc.add_argument("--keys", help="text file with one item key per row (default: content hash)")
    enc.add_argument("--output", help="write IDs here instead of stdout")
    enc.add_argument("--device", default="cpu")
    enc.set_defaults(func=_encode)
