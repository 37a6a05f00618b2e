"""Chunk scorers for ``ContextCompressor(scorer=...)``: the default encoder scorer and baselines.

A scorer maps the chunks of one document (in order) and an optional query to one score per
chunk, ``score(chunks, query) -> Tensor (n,)``; the compressor keeps chunks in score order while
they fit the token budget (`polytok.compress.compressor`). Here:

* `EncoderScorer` (the default of ``ContextCompressor()``): a weighted sum of standardised
  features of each chunk: dense similarity to the query (MiniLM sentence embeddings,
  all-MiniLM-L6-v2, Reimers & Gurevych, 2019, int8 on CPU), Okapi BM25 (dense + sparse hybrids as
  in Karpukhin et al., 2020, sec. 5.1), a lead prior ``-log(1 + i)`` (an abstract opens a paper),
  centrality (cosine to the document's mean vector) and length, plus a learned head over the
  sentence and query vectors (`polytok.compress.head`). The default is the head polytok ships:
  fit on ACLSum train, its encoder depth (3 of MiniLM's 6 layers) and regularisation chosen on
  val (``scripts/fit_default_scorer.py``; docs/compress.md). ``head=None`` gives the untrained
  weighted sum, `DEFAULT_WEIGHTS`. Without a query the document centroid stands in for it
  (Gholipour Ghalandari, 2017) and BM25 drops out.
* Baselines: `LeadScorer` (document order), `RandomScorer`, `BM25Scorer` (Okapi BM25,
  Robertson & Zaragoza, 2009, through ``bm25s``), `TfidfScorer` (TF-IDF cosine, scikit-learn),
  `SelfInformationScorer` (Selective Context, Li et al., 2023: mean token self-information
  ``-log p(x_t | x_<t)`` of each chunk under a local causal LM), `FixedScorer` (given scores,
  e.g. gold labels).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from polytok.compress.head import ScorerHead, default_head
from polytok.compress.limits import check_limits


@runtime_checkable
class ChunkScorer(Protocol):
    """Anything with ``score(chunks, query) -> Tensor (n,)``; higher is kept first."""

    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor: ...


def zscore(x: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` (zeros when all values are equal)."""
    spread = x.std(unbiased=False) if x.numel() > 1 else x.new_zeros(())
    return (x - x.mean()) / spread if float(spread) > 1e-12 else torch.zeros_like(x)


def lead_prior(n: int) -> torch.Tensor:
    """(n,) ``-log(1 + i)``: earlier chunks first, with diminishing differences."""
    return -torch.log1p(torch.arange(n, dtype=torch.float))


class LeadScorer:
    """Document order (the lead baseline)."""

    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        return -torch.arange(len(chunks), dtype=torch.float)


class RandomScorer:
    """Seeded random order (the random baseline); the same chunks give the same order."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        rng = random.Random(f"{self.seed}:{len(chunks)}:{chunks[0] if chunks else ''}")
        return torch.tensor([rng.random() for _ in chunks], dtype=torch.float)


class FixedScorer:
    """Returns the scores it was given (gold upper bounds, precomputed scores)."""

    def __init__(self, scores: Sequence[float]) -> None:
        self.scores = torch.tensor(list(scores), dtype=torch.float)

    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        if len(chunks) != len(self.scores):
            raise ValueError(f"FixedScorer has {len(self.scores)} scores for {len(chunks)} chunks")
        return self.scores.clone()


class BM25Scorer:
    """Okapi BM25 of each chunk (as a document of its own) for the query, via ``bm25s``.

    Without a query every chunk scores 0 (ties keep document order).
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b

    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        import bm25s

        if not query or not query.strip():
            return torch.zeros(len(chunks))
        retriever = bm25s.BM25(k1=self.k1, b=self.b)
        retriever.index(
            bm25s.tokenize(list(chunks), stopwords="en", show_progress=False), show_progress=False
        )
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)
        scores = retriever.get_scores(tokens[0])
        return torch.as_tensor(scores, dtype=torch.float)


class TfidfScorer:
    """Cosine of TF-IDF vectors (fit on the document's chunks) of each chunk and the query."""

    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not query or not query.strip():
            return torch.zeros(len(chunks))
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        try:
            matrix = vectorizer.fit_transform(list(chunks))
        except ValueError:  # only stop words
            return torch.zeros(len(chunks))
        sims = matrix @ vectorizer.transform([query]).T  # (n, 1); rows are L2-normalised
        return torch.tensor(sims.toarray()[:, 0], dtype=torch.float)


# The untrained scorer's feature weights (`EncoderScorer(head=None)`), on standardised features,
# over all six MiniLM layers: chosen on ACLSum val highlight recall at ratio 0.2 (logistic fits on
# train of every feature subset and grids did not beat them: 0.432 against at most 0.423). The
# default scorer uses the shipped head's weights instead (`polytok.compress.head`); re-derive both
# with ``python scripts/fit_default_scorer.py`` (docs/compress.md, "Benchmarks").
DEFAULT_WEIGHTS: dict[str, float] = {
    "similarity": 1.0,
    "bm25": 2.0,
    "position": 1.0,
    "centrality": 0.0,
    "length": 0.0,
}
FEATURES = tuple(DEFAULT_WEIGHTS)


class EncoderScorer:
    """Query relevance from a sentence encoder (MiniLM by default), BM25, position and a head.

    ``score = sum_f w_f * z(f) [+ head]`` over the features (each standardised over the
    document's chunks, `zscore`): ``similarity`` (cosine of chunk and query vectors), ``bm25``
    (Okapi BM25 of the chunk for the query), ``position`` (``-log(1 + i)``, a lead prior),
    ``centrality`` (cosine of the chunk to the document's mean vector, Radev et al., 2004;
    Gholipour Ghalandari, 2017) and ``length`` (``log`` of the chunk's characters). Without a
    query, ``similarity`` is the centrality, ``bm25`` is 0 and the head reads the document's mean
    vector as the query.

    The head (`polytok.compress.head.ScorerHead`) adds ``s . (w_s + w_q * q)`` over the chunk
    and query vectors and brings its own feature weights and encoder depth. The default
    (``head="auto"`` without an ``embedder``) is the head polytok ships, fit on ACLSum train and
    chosen on val: the first 3 layers of int8 all-MiniLM-L6-v2 (docs/compress.md).

    Args:
        embedder: an object with ``encode(texts) -> (N, D)`` vectors (default:
            ``polytok.embed.SentenceEmbedder`` with the head's precision and layers, or the full
            int8 all-MiniLM-L6-v2 without a head; loaded on first use).
        position_weight, bm25_weight, centrality_weight, length_weight, similarity_weight:
            the feature weights; None takes the head's (or, without a head, `DEFAULT_WEIGHTS`).
        head: "auto" (the shipped head when ``embedder`` is None, else none), a `ScorerHead`,
            the directory of a saved one, or None (the untrained weighted sum).

    Raises:
        ValueError: a weight that is not a finite number, an invalid head directory.
    """

    def __init__(
        self,
        embedder: Any = None,
        position_weight: float | None = None,
        bm25_weight: float | None = None,
        centrality_weight: float | None = None,
        length_weight: float | None = None,
        similarity_weight: float | None = None,
        head: Any = "auto",
    ) -> None:
        self.head = _resolve_head(head, embedder)
        given = {
            "similarity": similarity_weight,
            "bm25": bm25_weight,
            "position": position_weight,
            "centrality": centrality_weight,
            "length": length_weight,
        }
        base = DEFAULT_WEIGHTS if self.head is None else self.head.feature_weights
        weights = {}
        for name, value in given.items():
            if value is None:
                value = base.get(name, 0.0)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(f"{name}_weight must be a finite number, got {value!r}")
            weights[name] = float(value)
        self._embedder = embedder
        self.weights = weights

    @property
    def position_weight(self) -> float:
        return self.weights["position"]

    @property
    def bm25_weight(self) -> float:
        return self.weights["bm25"]

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from polytok.embed import SentenceEmbedder

            if self.head is None:
                self._embedder = SentenceEmbedder(precision="int8")
            else:
                self._embedder = SentenceEmbedder(
                    precision=self.head.precision, num_layers=self.head.num_layers
                )
        return self._embedder

    block = 256  # texts embedded between two checks of the work limits (deadline, shutdown)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, D) unit vectors of ``texts``, embedded in blocks that each check the work limits."""
        encode = getattr(self.embedder, "encode", None) or self.embedder.embed
        texts = list(texts)
        parts = []
        for start in range(0, len(texts), self.block):
            check_limits()
            parts.append(encode(texts[start : start + self.block]).float().cpu())
        check_limits()
        if not parts:
            return torch.zeros(0, 0)
        return F.normalize(torch.cat(parts), dim=-1)

    def features(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        """(n, len(FEATURES)) standardised features, columns in `FEATURES` order."""
        return self._features(chunks, query)[0]

    def _features(
        self, chunks: Sequence[str], query: str | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Standardised features (n, F), chunk vectors (n, D) and the query vector (D,)."""
        n = len(chunks)
        if n == 0:
            return torch.zeros(0, len(FEATURES)), torch.zeros(0, 0), torch.zeros(0)
        has_query = bool(query and query.strip())
        vectors = self.embed(list(chunks) + ([query] if has_query else []))  # (n [+1], D)
        centroid = F.normalize(vectors[:n].mean(0), dim=-1)  # (D,)
        target = vectors[n] if has_query else centroid
        centrality = vectors[:n] @ centroid  # (n,)
        need_bm25 = has_query and self.weights["bm25"] != 0
        bm25 = BM25Scorer().score(chunks, query) if need_bm25 else torch.zeros(n)
        length = torch.tensor([math.log(len(c) + 1) for c in chunks])
        columns = {
            "similarity": vectors[:n] @ target,
            "bm25": bm25,
            "position": lead_prior(n),
            "centrality": centrality,
            "length": length,
        }
        features = torch.stack([zscore(columns[name].float()) for name in FEATURES], dim=1)
        return features, vectors[:n], target

    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        if len(chunks) == 0:
            return torch.zeros(0)
        features, vectors, target = self._features(chunks, query)
        weights = torch.tensor([self.weights[name] for name in FEATURES])
        scores = features @ weights  # (n, F) @ (F,) -> (n,)
        if self.head is not None:
            scores = scores + self.head.vector_scores(vectors, target)
        return scores


def _resolve_head(head: Any, embedder: Any) -> Any:
    """The `ScorerHead` an `EncoderScorer` uses (see its ``head`` argument), or None."""
    if isinstance(head, str) and head == "auto":
        return default_head() if embedder is None else None
    if head is None or isinstance(head, ScorerHead):
        return head
    if isinstance(head, (str, os.PathLike)):
        return ScorerHead.load(head)
    raise TypeError(
        f"head must be 'auto', None, a ScorerHead or a head directory, got {type(head).__name__}"
    )


class SelfInformationScorer:
    """Selective Context (Li et al., 2023): mean self-information of each chunk's tokens.

    ``I(x_t) = -log p(x_t | x_<t)`` under a causal LM read from a local transformers directory
    (``AutoModelForCausalLM``; e.g. the directory ``python train.py experiment=gpt2_base``
    writes). The document is read left to right in windows of ``window`` tokens, so each chunk
    is conditioned on the text before it; a chunk's score is the mean over its tokens (the
    chunk's first token has no context at the very start and is skipped). Query-independent.

    Raises:
        FileNotFoundError: ``model_dir`` is not a local model directory.
    """

    def __init__(self, model_dir: str | os.PathLike, window: int = 512) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{str(path)!r} is not a local causal LM directory (no config.json); pass a "
                "directory written by save_pretrained, e.g. by python train.py experiment=gpt2_base"
            )
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True).eval()
        limit = getattr(self.model.config, "n_positions", None) or getattr(
            self.model.config, "max_position_embeddings", window
        )
        self.window = max(2, min(window, int(limit)))

    @torch.no_grad()
    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        ids: list[int] = []
        owner: list[int] = []
        for i, chunk in enumerate(chunks):
            piece = self.tokenizer.encode((" " if i else "") + chunk, add_special_tokens=False)
            ids += piece
            owner += [i] * len(piece)
        surprisal = torch.zeros(len(ids))  # (T,) -log p(token | previous tokens in the window)
        step = self.window // 2
        for start in range(0, max(len(ids) - 1, 1), step):
            span = ids[start : start + self.window]
            if len(span) < 2:
                break
            logits = self.model(torch.tensor([span])).logits[0, :-1].float()  # (L-1, V)
            nll = F.cross_entropy(logits, torch.tensor(span[1:]), reduction="none")  # (L-1,)
            first = 0 if start == 0 else self.window - step - 1  # positions with full context
            surprisal[start + 1 + first : start + len(span)] = nll[first:]
        totals = torch.zeros(len(chunks)).index_add(0, torch.tensor(owner), surprisal)
        counts = torch.zeros(len(chunks)).index_add(0, torch.tensor(owner), torch.ones(len(ids)))
        if ids:
            counts[owner[0]] -= 1  # the very first token has no prediction
        return totals / counts.clamp_min(1)
