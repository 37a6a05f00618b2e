"""Text through a PolyTokenizer: registered tokens first, the base tokenizer for the rest.

Ids follow the Hugging Face "added tokens" convention: ids below the base vocabulary size are base
tokenizer ids; a registered token of the modality with token id ``k`` is ``base.vocab_size + k``.
Registered tokens are matched literally, longest first (like added tokens in HF tokenizers), so a
multi-word token such as ``"New York"`` becomes one id.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from polytok.poly.registry import PolyTokenizer


def _pattern(poly: PolyTokenizer, modality: str) -> re.Pattern | None:
    ids = poly._ids[modality]
    cache = poly.__dict__.setdefault("_patterns", {})
    cached = cache.get(modality)
    if cached is not None and cached[0] == len(ids):  # token ids only grow
        return cached[1]
    words = sorted(ids, key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, words))) if words else None
    cache[modality] = (len(ids), pattern)
    return pattern


def _base_size(poly: PolyTokenizer, modality: str) -> int:
    return poly._base[modality].vocab_size if modality in poly._base else 0


def encode(poly: PolyTokenizer, text: str, modality: str = "text") -> list[int]:
    """``text`` -> ids (registered tokens as ``base.vocab_size + token_id``)."""
    poly._check_modality(modality)
    base = poly._base.get(modality)
    offset = _base_size(poly, modality)
    pattern = _pattern(poly, modality)
    ids: list[int] = []
    pos = 0

    def gap(piece: str) -> None:
        if not piece:
            return
        if base is None:
            raise ValueError(
                f"{piece[:30]!r} is not a registered {modality!r} token and no base tokenizer is "
                f"registered for {modality!r}; call register_base(tokenizer, modality={modality!r})"
            )
        ids.extend(base.encode(piece))

    if pattern is not None:
        for match in pattern.finditer(text):
            gap(text[pos : match.start()])
            ids.append(offset + poly._ids[modality][match.group()])
            pos = match.end()
    gap(text[pos:])
    return ids


def decode(poly: PolyTokenizer, ids: list[int], modality: str = "text") -> str:
    """Inverse of `encode` (exact when the base tokenizer round-trips)."""
    poly._check_modality(modality)
    offset = _base_size(poly, modality)
    names = {i: t for t, i in poly._ids[modality].items()}
    out, run = [], []
    for i in ids:
        if i >= offset:
            if run:
                out.append(poly._base[modality].decode(run))
                run = []
            if i - offset not in names:
                raise ValueError(f"id {i} is neither a base id (< {offset}) nor a registered token")
            out.append(names[i - offset])
        else:
            run.append(i)
    if run:
        out.append(poly._base[modality].decode(run))
    return "".join(out)


def embed_ids(
    poly: PolyTokenizer, ids: list[int], modality: str = "text", version: str | None = None
) -> torch.Tensor:
    """``(T,)`` ids -> ``(T, dim)``: registered tokens from the registry, base ids from the base
    embedding matrix spread into the modality's code."""
    modality, version = poly._target(modality, version)
    offset = _base_size(poly, modality)
    ids_t = torch.as_tensor(ids, dtype=torch.int64)
    out = torch.empty(len(ids), poly.dim)
    added = ids_t >= offset
    if added.any():
        names = {i: t for t, i in poly._ids[modality].items()}
        tokens = [names[int(i) - offset] for i in ids_t[added]]
        out[added] = poly.get_embeddings(tokens, modality, version).detach()
    if (~added).any():
        if modality not in poly._base_weight:
            raise ValueError(
                f"no base embedding matrix registered for {modality!r} (register_base)"
            )
        meta = poly._base_weight[modality][ids_t[~added]]  # (B, in_dim)
        out[~added] = poly.spreading.spread(meta.double(), modality).float()
    return out
