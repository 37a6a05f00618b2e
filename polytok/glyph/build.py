"""Build a glyph tape from a training corpus: mine phrases, address them, write SQLite.

Steps: base-tokenize the corpus (documents, or lines when ``unit="line"``), mine ``num_glyphs``
superword merges (`polytok.glyph.mining`), embed each glyph's phrase and give it a hierarchical
CJK address (`polytok.glyph.address`), optionally cluster training sentences into lossy families,
and write everything as a new tape version (`polytok.glyph.tape`).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from polytok.data.segment import sentence_spans
from polytok.glyph.address import phrase_addresses
from polytok.glyph.mining import flatten, mine_merges
from polytok.glyph.tape import GlyphTape

UNITS = ("document", "line")


@dataclass
class TapeBuildConfig:
    """Parameters of `build_tape` (stored as the version's note).

    Attributes:
        num_glyphs: glyphs (merges) to mine; the number of new token ids.
        unit: "document" (merges may cross lines) or "line" (each line mined on its own).
        min_count: a merge must occur at least this often in the corpus.
        max_length: longest glyph, in base ids.
        n_levels: address characters per glyph (RQ-KMeans levels).
        n_clusters: codes per address level.
        num_families: sentence families for lossy mode (0: none).
        seed: k-means seed.
    """

    num_glyphs: int = 4096
    unit: str = "document"
    min_count: int = 2
    max_length: int = 32
    n_levels: int = 3
    n_clusters: int = 16
    num_families: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {self.unit!r}")
        for name in ("num_glyphs", "min_count", "max_length", "n_levels", "n_clusters"):
            if int(getattr(self, name)) < (0 if name == "num_glyphs" else 1):
                raise ValueError(
                    f"TapeBuildConfig.{name} must be positive, got {getattr(self, name)}"
                )
        if self.max_length < 2:
            raise ValueError(f"max_length must be >= 2 base ids, got {self.max_length}")
        if self.num_families < 0:
            raise ValueError(f"num_families must be >= 0, got {self.num_families}")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Temporarily limit torch's intra-op threads (restored on exit).

    The k-means problems of a tape build are small: on a shared 2-core machine one thread ran a
    4096 x 256 k-means in 0.75 s against 10.9 s with two contended threads.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def mine_families(
    sentences: Sequence[str], num_families: int, embedder, seed: int = 0
) -> list[tuple[str, np.ndarray, int]]:
    """Cluster sentences by embedding (k-means, `polytok.nn.kmeans`) into lossy families.

    Returns:
        ``[(representative, centroid (D,) unit vector, size)]``; the representative is the
        member closest to the centroid. Empty when there are fewer than 2 distinct sentences.
    """
    from polytok.nn.kmeans import kmeans

    distinct = sorted(set(sentences))
    if len(distinct) < 2 or num_families == 0:
        return []
    x = embedder.embed(distinct).float()  # (N, D), unit rows
    k = min(num_families, len(distinct))
    result = kmeans(x, k, seed=seed)
    centroids = torch.nn.functional.normalize(result.centroids, dim=-1)  # (K, D)
    out = []
    for c in range(k):
        members = torch.nonzero(result.labels == c).flatten()
        if len(members) == 0:
            continue
        best = members[(x[members] @ centroids[c]).argmax()]
        out.append((distinct[int(best)], centroids[c].numpy(), int(len(members))))
    return out


def build_tape(
    texts: Iterable[str],
    out: str | Path,
    base: str = "cl100k_base",
    config: TapeBuildConfig | None = None,
    extend: bool = False,
    embedder=None,
    progress: Callable[[int], None] | None = None,
) -> GlyphTape:
    """Build a tape on ``texts`` and write it to ``out`` (or add a version to it: ``extend``).

    Args:
        texts: training documents.
        out: the tape file to create.
        base: base tokenizer name (`polytok.tokenizers.get_tokenizer`).
        config: build parameters.
        extend: ``out`` exists: add a new version to it that falls back to its latest version.
        embedder: phrase embedder with ``embed(list[str]) -> (N, D)``; default `StaticEmbedder`.
        progress: called with the number of merges done.

    Returns:
        The open tape. Runs torch single-threaded (see `torch_threads`).

    Raises:
        ValueError: unknown base tokenizer; extending a tape built on another base tokenizer.
        FileExistsError: ``out`` exists and ``extend`` is False.
    """
    with torch_threads(1):
        return _build(texts, out, base, config or TapeBuildConfig(), extend, embedder, progress)


def _open_tape(out, base: str, n_vocab: int, extend: bool) -> tuple[GlyphTape, int | None]:
    """The tape to write and the version the new one extends (None for a new tape)."""
    if not extend:
        return GlyphTape.create(out, base, n_vocab), None
    tape = GlyphTape(out)
    if tape.base_tokenizer != base:
        raise ValueError(
            f"tape {str(out)!r} was built on {tape.base_tokenizer!r}, not {base!r}; "
            f"use base={tape.base_tokenizer!r} or build a new tape"
        )
    return tape, tape.latest_version()


def _family_rows(texts, config: TapeBuildConfig, embedder, taken: set) -> list[tuple]:
    """(address, representative, count, size) of each lossy sentence family (none when off)."""
    if not config.num_families:
        return []
    counts = Counter(t[s:e] for t in texts for s, e in sentence_spans(t, "line"))
    mined = mine_families(list(counts), config.num_families, embedder, config.seed)
    if not mined:
        return []
    fam_addr, _ = phrase_addresses(
        [r for r, _, _ in mined],
        embedder,
        2,
        config.n_clusters,
        config.seed,
        taken,
        alphabet_start=0x4E00 + 0x1000,
    )
    return [(a, r, c, s) for a, (r, c, s) in zip(fam_addr, mined)]


def _build(texts, out, base, config, extend, embedder, progress) -> GlyphTape:
    from polytok.tokenizers import get_tokenizer

    encoding = get_tokenizer(base).encoding
    texts = list(texts)
    units = [line for t in texts for line in t.split("\n")] if config.unit == "line" else texts
    ids = encoding.encode_ordinary_batch([u for u in units if u], num_threads=2)
    tape, parent_version = _open_tape(out, base, encoding.n_vocab, extend)
    # Mine with provisional ids just above the base vocabulary (tape ids are assigned on write).
    result = mine_merges(
        flatten(ids),
        config.num_glyphs,
        encoding.n_vocab,
        min_count=config.min_count,
        max_length=config.max_length,
        progress=progress,
    )
    phrases = [encoding.decode(list(g.base_ids)) for g in result.glyphs]
    if embedder is None:
        from polytok.embed import StaticEmbedder

        embedder = StaticEmbedder()
    taken = set(tape.addresses().values())
    addresses, _ = phrase_addresses(
        phrases, embedder, config.n_levels, config.n_clusters, config.seed, taken
    )
    glyph_rows = [
        (g.base_ids, p, a, c, c * (len(g.base_ids) - 1))
        for g, p, a, c in zip(result.glyphs, phrases, addresses, result.final_counts)
    ]
    family_rows = _family_rows(texts, config, embedder, taken | set(addresses))
    note = {
        **asdict(config),
        "base": base,
        "documents": len(texts),
        "base_tokens": result.base_tokens,
        "merged_tokens": result.merged_tokens,
    }
    tape.add_version(glyph_rows, family_rows, parent=parent_version, note=note)
    return tape
