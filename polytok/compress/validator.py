"""`CompressionValidator`: score a compression with several metrics; an error fails, never passes.

Metrics (names as passed to ``validate``):

* ``rouge-l``: ROUGE-L F1 of the compressed text against the original (Unicode words).
* ``embedding``: cosine of the static sentence embeddings (`polytok.embed.StaticEmbedder`).
* ``bertscore``: BERTScore F1 over a local transformers model (``bertscore_model_dir``).
* ``query-retention``: share of the original's query-relevant sentences (the top
  ``relevant_fraction`` by embedding similarity to the query) still present in the compressed
  text, where present means its words are matched by one compressed sentence with ROUGE-L recall
  >= ``retention_overlap`` (1.0 for verbatim extractive kept sentences).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from polytok.compress.chunking import split_chunks
from polytok.compress.metrics import bertscore, lcs_length, rouge_l
from polytok.compress.text import words

logger = logging.getLogger(__name__)

METRICS = ("rouge-l", "embedding", "bertscore", "query-retention")
DEFAULT_THRESHOLDS = {"rouge-l": 0.2, "embedding": 0.8, "bertscore": 0.8, "query-retention": 0.5}


def _check_threshold(name: str, value: Any) -> float:
    """A threshold as a float; NaN (every comparison false) would pass anything, so it is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"threshold for {name!r} must be a finite number, got {value!r}; e.g. 0.5")
    return float(value)


@dataclass
class ValidatorConfig:
    """Configuration of a `CompressionValidator`.

    Attributes:
        thresholds: minimum score per metric for the validation to pass.
        bertscore_model_dir: local transformers model directory for BERTScore (never a hub id);
            None disables BERTScore (asking for it then fails the validation).
        relevant_fraction: share of the original's sentences that count as query-relevant.
        retention_overlap: ROUGE-L recall a relevant sentence needs in one compressed sentence.
    """

    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    bertscore_model_dir: str | None = None
    relevant_fraction: float = 0.2
    retention_overlap: float = 0.8

    def __post_init__(self) -> None:
        unknown = sorted(set(self.thresholds) - set(METRICS))
        if unknown:
            raise ValueError(f"thresholds for unknown metrics {unknown}; known: {list(METRICS)}")
        self.thresholds = {**DEFAULT_THRESHOLDS, **self.thresholds}
        for name, value in self.thresholds.items():
            _check_threshold(name, value)
        for name in ("relevant_fraction", "retention_overlap"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")


@dataclass
class ValidationResult:
    """Outcome of `CompressionValidator.validate`.

    Attributes:
        passed: every requested metric computed and met its threshold.
        scores: metric -> score in [0, 1] (only metrics that computed).
        thresholds: the thresholds applied.
        failures: metric -> why it failed ("raised ...", "below threshold ...").
        details: metric -> extra numbers (precision/recall, counts).
        quality: mean of ``scores`` (0.0 when none computed).
    """

    passed: bool
    scores: dict[str, float]
    thresholds: dict[str, float]
    failures: dict[str, str]
    details: dict[str, dict[str, float]]
    quality: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CompressionValidator:
    """Validate a compressed context against its original.

    Args:
        config: a `ValidatorConfig`.
        embedder: a `StaticEmbedder`; None loads the default WordLlama one on first use.
    """

    def __init__(self, config: ValidatorConfig | None = None, embedder: Any = None) -> None:
        self.config = config or ValidatorConfig()
        self._embedder = embedder
        self._bert: Any = None

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from polytok.embed import StaticEmbedder

            self._embedder = StaticEmbedder()
        return self._embedder

    def default_metrics(self, query: str | None) -> list[str]:
        """rouge-l and embedding, plus query-retention with a query, bertscore when configured."""
        out = ["rouge-l", "embedding"]
        if self.config.bertscore_model_dir:
            out.append("bertscore")
        if query:
            out.append("query-retention")
        return out

    def validate(
        self,
        original: str,
        compressed: str,
        metrics: Sequence[str] | None = None,
        query: str | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> ValidationResult:
        """Score ``compressed`` against ``original``.

        Args:
            original: the uncompressed context (non-empty).
            compressed: the compressed context.
            metrics: names from `METRICS`; None = `default_metrics`.
            query: the query, needed by "query-retention".
            thresholds: per-call overrides of the configured thresholds.

        Returns:
            A `ValidationResult`; a metric that raises or returns a non-finite score fails it
            (the failure says which metric and why).

        Raises:
            TypeError: ``original`` / ``compressed`` is not a string.
            ValueError: empty original, unknown metric names or thresholds.
        """
        for name, value in (("original", original), ("compressed", compressed)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__}")
        if not original.strip():
            raise ValueError("original is empty; give the uncompressed context")
        metrics = list(metrics) if metrics is not None else self.default_metrics(query)
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown or not metrics:
            raise ValueError(f"unknown or no metrics {unknown or metrics}; known: {list(METRICS)}")
        limits = dict(self.config.thresholds)
        for name, value in (thresholds or {}).items():
            if name not in METRICS:
                raise ValueError(f"threshold for unknown metric {name!r}; known: {list(METRICS)}")
            limits[name] = _check_threshold(name, value)
        scores: dict[str, float] = {}
        failures: dict[str, str] = {}
        details: dict[str, dict[str, float]] = {}
        for name in dict.fromkeys(metrics):
            try:
                score, extra = self._score(name, original, compressed, query)
                if not math.isfinite(score):
                    raise ValueError(f"non-finite score {score!r}")
            except Exception as err:  # a broken metric fails the validation, never passes it
                logger.warning("metric %s failed: %s", name, err)
                failures[name] = f"raised {type(err).__name__}: {err}"
                continue
            scores[name] = score
            details[name] = extra
            if score < limits[name]:
                failures[name] = f"below threshold: {score:.4f} < {limits[name]:.4f}"
        quality = sum(scores.values()) / len(scores) if scores else 0.0
        used = {name: limits[name] for name in metrics}
        return ValidationResult(not failures, scores, used, failures, details, quality)

    def _score(
        self, name: str, original: str, compressed: str, query: str | None
    ) -> tuple[float, dict[str, float]]:
        if name == "rouge-l":
            r = rouge_l(original, compressed)
            return r.f, {"precision": r.precision, "recall": r.recall}
        if name == "embedding":
            vectors = self.embedder.embed([original, compressed])  # (2, D) unit rows
            if float(vectors[1].norm()) == 0.0:
                return 0.0, {}  # nothing embeddable was kept
            return float(vectors[0] @ vectors[1]), {}
        if name == "bertscore":
            return self._bertscore(original, compressed)
        return self._retention(original, compressed, query)

    def _bertscore(self, original: str, compressed: str) -> tuple[float, dict[str, float]]:
        if not self.config.bertscore_model_dir:
            raise ValueError(
                "bertscore needs a local model directory: set "
                "ValidatorConfig(bertscore_model_dir=DIR) (never downloaded)"
            )
        if self._bert is None:
            from polytok.embed import HFMeanPoolEmbedder

            self._bert = HFMeanPoolEmbedder(self.config.bertscore_model_dir)
        # contextual token vectors per sentence: long documents exceed BERT's 512 positions
        ref = self._bert.token_embeddings([c.text for c in split_chunks(original)])
        cand = self._bert.token_embeddings([c.text for c in split_chunks(compressed)])
        r = bertscore(ref, cand)
        return r.f, {"precision": r.precision, "recall": r.recall}

    def _retention(
        self, original: str, compressed: str, query: str | None
    ) -> tuple[float, dict[str, float]]:
        if not query or not query.strip():
            raise ValueError("query-retention needs a non-empty query")
        sentences = [c.text for c in split_chunks(original)]
        sims = self.embedder.embed([query, *sentences])
        scores = (sims[1:] @ sims[0]).tolist()  # similarity of each sentence to the query
        k = max(1, math.ceil(self.config.relevant_fraction * len(sentences)))
        relevant = sorted(range(len(sentences)), key=lambda i: -scores[i])[:k]
        kept_words = [words(c.text) for c in split_chunks(compressed)] if compressed.strip() else []
        retained = 0
        for i in relevant:
            target = words(sentences[i])
            if not target:
                continue
            best = max((lcs_length(target, kw) for kw in kept_words), default=0)
            retained += best / len(target) >= self.config.retention_overlap
        return retained / len(relevant), {
            "relevant": float(len(relevant)),
            "retained": float(retained),
        }
