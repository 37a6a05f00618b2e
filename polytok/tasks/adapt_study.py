"""The measurements of the glyph adaptation study (`polytok.tasks.glyph_adaptation`).

Held-out text is cut into pieces (whole lines, at most ``max_bytes`` each); every piece is encoded
on its own by the base tokenizer and by the hybrid tokenizer and scored after an end-of-text
token, so both see exactly the same bytes and bits per byte compare directly:
``bpb = sum of -log2 p(token) / sum of UTF-8 bytes``.

Every variant trains on the same hybrid windows in the same order (equal bytes seen per step) with
the recipe of its adapter (`LanguageModelSystem.configure_optimizers`: AdamW, warm-up + cosine,
embeddings and norms without decay, gradient clipping).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from polytok.models.base import as_lm_output


def cut_pieces(docs: Sequence[str], max_bytes: int) -> list[str]:
    """Documents -> pieces of whole lines of at most ``max_bytes`` bytes (a longer line alone)."""
    pieces: list[str] = []
    for doc in docs:
        current, size = [], 0
        for line in doc.splitlines(keepends=True):
            n = len(line.encode("utf-8"))
            if current and size + n > max_bytes:
                pieces.append("".join(current))
                current, size = [], 0
            current.append(line)
            size += n
        if current:
            pieces.append("".join(current))
    return [p for p in pieces if p.strip()]


def spread(items: Sequence[str], limit: int) -> list[str]:
    """At most ``limit`` items, evenly spaced over ``items`` (all when ``limit`` <= 0)."""
    if limit <= 0 or len(items) <= limit:
        return list(items)
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in idx]


@torch.no_grad()
def bits_per_byte(
    model: torch.nn.Module,
    encode: Callable[[str], list[int]],
    texts: Sequence[str],
    start_id: int,
    batch_size: int = 16,
) -> dict[str, float]:
    """Bits per byte of ``model`` on ``texts``, each encoded alone after ``start_id``.

    Returns:
        ``{"bpb", "tokens", "bytes"}`` (token and byte totals over all texts).
    """
    device = next(model.parameters()).device
    seqs = [[start_id, *encode(t)] for t in texts]
    nll, tokens = 0.0, 0
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths per batch
    for lo in range(0, len(order), batch_size):
        batch = [seqs[i] for i in order[lo : lo + batch_size]]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), start_id, dtype=torch.long)
        target = torch.full((len(batch), width - 1), -100, dtype=torch.long)
        for i, s in enumerate(batch):
            ids[i, : len(s)] = torch.tensor(s)
            target[i, : len(s) - 1] = torch.tensor(s[1:])
        logits = as_lm_output(model(ids[:, :-1].to(device))).logits.float()  # (B, W-1, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1), target.flatten().to(device), reduction="sum", ignore_index=-100
        )
        nll += float(loss)
        tokens += int((target != -100).sum())
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    return {"bpb": nll / math.log(2) / n_bytes, "tokens": tokens, "bytes": n_bytes}


def window_starts(num_ids: int, block: int, steps: int, batch: int, seed: int) -> np.ndarray:
    """(steps, batch) random window starts, the same for every variant of one study."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_ids - block - 1, size=(steps, batch))


def train_variant(
    system: Any,
    train_ids: np.ndarray,
    starts: np.ndarray,
    block: int,
    evaluate: Callable[[], dict[str, float]],
    eval_steps: Sequence[int],
) -> dict[str, Any]:
    """Train ``system.model`` on the windows ``starts`` (steps, batch); evaluate at ``eval_steps``.

    Returns:
        ``{"curve": [{"step", **evaluate()}], "train_s", "tokens", "tokens_per_s"}``; the
        timing covers optimisation steps only.
    """
    model = system.model
    optim = system.configure_optimizers()
    opt, sched = optim["optimizer"], optim["lr_scheduler"]["scheduler"]
    params = [p for p in model.parameters() if p.requires_grad]
    clip = float(system.hparams.grad_clip)
    ids = torch.from_numpy(train_ids.astype(np.int64))
    curve: list[dict[str, Any]] = []
    train_s = 0.0
    for step in range(len(starts) + 1):
        if step in eval_steps:
            model.eval()
            curve.append({"step": step, **evaluate()})
        if step == len(starts):
            break
        model.train()
        window = torch.stack([ids[s : s + block + 1] for s in starts[step]])  # (B, block + 1)
        tick = time.perf_counter()
        loss, _ = system._step((window[:, :-1], window[:, 1:]))
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        train_s += time.perf_counter() - tick
    tokens = int(starts.size) * block
    return {
        "curve": curve,
        "train_s": train_s,
        "tokens": tokens,
        "tokens_per_s": tokens / max(train_s, 1e-9),
    }


def docs_per_window(token_counts: Sequence[int], window: int = 2048) -> float:
    """Documents of mean length that fit in one ``window``-token context."""
    return window / max(float(np.mean(token_counts)), 1e-9)
