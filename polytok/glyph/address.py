"""Hierarchical glyph addresses: semantic IDs of phrase embeddings written in CJK characters.

A glyph's phrase is embedded (`polytok.embed.StaticEmbedder`), the embeddings are quantised by
residual k-means (RQ-KMeans: each level clusters the residual left by the previous levels; Juang &
Gray, 1982, "Multiple stage vector quantization"; used as semantic IDs by Rajput et al., 2023,
"Recommender Systems with Generative Retrieval"), and the code of level ``l`` becomes one
character ``chr(alphabet_start + code)``. Phrases in the same first-level cluster share the first
character, so similar phrases share address prefixes. Collisions (same code at every level) get a
suffix character from a separate block, so every address is unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

CJK_START = 0x4E00  # CJK Unified Ideographs: one character per level code
SUFFIX_START = 0x3400  # CJK Extension A: collision suffixes (6592 characters)
SUFFIX_SIZE = 6592


def codes_to_address(codes: Sequence[int], alphabet_start: int = CJK_START) -> str:
    """(L,) level codes -> an L-character address."""
    return "".join(chr(alphabet_start + int(c)) for c in codes)


def _suffix(k: int) -> str:
    """k >= 1 -> base-`SUFFIX_SIZE` digits as characters of the suffix block."""
    suffix = ""
    while k:
        k, digit = divmod(k - 1, SUFFIX_SIZE)
        suffix = chr(SUFFIX_START + digit) + suffix
    return suffix


def make_unique(addresses: Sequence[str], taken: Iterable[str] = ()) -> list[str]:
    """Append suffix characters to repeated addresses (first occurrence kept as is).

    Idempotent on already unique input, and never returns an address in ``taken``.
    """
    used = set(taken)
    next_suffix: dict[str, int] = {}  # address -> next k to try, so n repeats cost O(n)
    out = []
    for address in addresses:
        candidate, k = address, next_suffix.get(address, 0)
        if k:
            candidate = address + _suffix(k)
        while candidate in used:
            k += 1
            candidate = address + _suffix(k)
        next_suffix[address] = k + 1
        used.add(candidate)
        out.append(candidate)
    return out


def semantic_codes(
    embeddings: torch.Tensor, n_levels: int = 3, n_clusters: int = 16, seed: int = 0
) -> np.ndarray:
    """(N, D) embeddings -> (N, n_levels) RQ-KMeans codes (`polytok.sid.RQKMeans`).

    ``n_clusters`` is lowered to N when there are fewer points than clusters.
    """
    if embeddings.shape[0] == 0:
        return np.zeros((0, n_levels), dtype=np.int64)
    k = max(1, min(n_clusters, embeddings.shape[0]))
    x = embeddings.detach().float().cpu()
    from polytok.sid import RQKMeans

    model = RQKMeans(n_levels=n_levels, n_clusters=k, random_state=seed)
    model.fit(x)
    return np.asarray(torch.as_tensor(model.encode(x)).cpu().numpy(), dtype=np.int64)


def phrase_addresses(
    phrases: Sequence[str],
    embedder=None,
    n_levels: int = 3,
    n_clusters: int = 16,
    seed: int = 0,
    taken: Iterable[str] = (),
    alphabet_start: int = CJK_START,
) -> tuple[list[str], torch.Tensor]:
    """Unique hierarchical addresses for phrases, plus their (N, D) normalised embeddings.

    Args:
        phrases: N phrase texts.
        embedder: object with ``embed(list[str]) -> (N, D)``; default `StaticEmbedder`.
        n_levels: characters per address before any collision suffix.
        n_clusters: codes per level (``alphabet_start + code`` must stay in the CJK block).
        seed: k-means seed.
        taken: addresses already used (e.g. by earlier tape versions).
        alphabet_start: first code point of the level alphabet.
    """
    if embedder is None:
        from polytok.embed import StaticEmbedder

        embedder = StaticEmbedder()
    vectors = embedder.embed(list(phrases))  # (N, D)
    codes = semantic_codes(vectors, n_levels, n_clusters, seed)  # (N, L)
    raw = [codes_to_address(row, alphabet_start) for row in codes]
    return make_unique(raw, taken), vectors
