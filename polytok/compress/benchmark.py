"""The ACLSum compression benchmark: every method, every ratio, the same budgets and metrics.

For each paper of a split and each aspect, the paper's sentences are compressed for the aspect's
query (`polytok.compress.aclsum.ASPECT_QUERIES`) to ``ratio`` of its tokens, counted exactly for
``model_id`` (``ContextCompressor.compress_chunks``: whole sentences, exact recount, never over
budget). Per setting: highlight recall (share of the aspect's highlighted sentences kept),
ROUGE-1/2/L F1 of the kept text against the aspect's human summary, BERTScore F1 (``bert-score``
with the local MiniLM), the achieved ratio and the compressor's time. ``python eval.py
experiment=compress_aclsum`` runs it (`polytok.tasks.compress`).

Methods: ``gold`` (highlighted sentences, shortest first: the upper bound), ``lead``, ``random``,
``bm25``, ``tfidf``, ``static-mmr`` (the static-embedding MMR compressor, before this benchmark
the default), ``self-info`` (Selective Context under a local causal LM, ``lm_dir``), ``minilm``
(the default ``ContextCompressor()`` scorer: `EncoderScorer` with the head polytok ships, on the
first layers of int8 MiniLM; `polytok.compress.head`), ``minilm:P:B[:C:L]`` (the untrained
weighted sum on all six layers, without a head, with these position, BM25, centrality and length
weights, the rest at `DEFAULT_WEIGHTS`, e.g. ``minilm:0:0:0:0`` is the dense MiniLM similarity
alone) and
``learned`` (the cross-encoder of ``learned_dir``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from polytok.compress.aclsum import ASPECT_QUERIES, ASPECTS, ACLSumDocument, load_aclsum
from polytok.compress.compressor import CompressorConfig, ContextCompressor, kept_indices
from polytok.compress.head import default_head
from polytok.compress.metrics import bertscore_f1, highlight_recall, rouge_scores
from polytok.compress.scorers import (
    BM25Scorer,
    EncoderScorer,
    FixedScorer,
    LeadScorer,
    RandomScorer,
    SelfInformationScorer,
    TfidfScorer,
)

BASELINES = ("lead", "random", "bm25", "tfidf", "static-mmr", "self-info")
METHODS = ("gold", *BASELINES, "minilm", "learned")


@dataclass
class ACLSumBenchmarkConfig:
    """What `run_benchmark` runs.

    Attributes:
        split: "train", "val" or "test" (tune on val, report test once).
        ratios: target ratios, each in (0, 1].
        model_id: the model whose tokenizer counts budgets (exact counts).
        methods: names from `METHODS` (``minilm:P:B[:C:L]`` for position / BM25 / centrality /
            length weights).
        learned_dir: the ``save_pretrained`` directory of the learned scorer (``learned``).
        lm_dir: a local causal LM directory (``self-info``).
        position_weight, bm25_weight: set either to run ``minilm`` as the untrained weighted
            sum with these weights (None: the default scorer, with its head).
        limit_docs: only the first N papers (None: all).
        bertscore_ratios: ratios at which BERTScore is computed (it is the slow metric).
        seed: seed of the random baseline.
        threads: torch threads while compressing (timings are per this many threads).
    """

    split: str = "val"
    ratios: tuple[float, ...] = (0.1, 0.2, 0.3)
    model_id: str = "gpt-4o"
    methods: tuple[str, ...] = METHODS
    learned_dir: str | None = None
    lm_dir: str | None = None
    position_weight: float | None = None
    bm25_weight: float | None = None
    limit_docs: int | None = None
    bertscore_ratios: tuple[float, ...] = (0.2,)
    seed: int = 0
    threads: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ratios = tuple(float(r) for r in self.ratios)
        self.methods = tuple(self.methods)
        self.bertscore_ratios = tuple(float(r) for r in self.bertscore_ratios)
        for ratio in self.ratios:
            if not 0.0 < ratio <= 1.0:
                raise ValueError(f"ratios must be in (0, 1], got {ratio}")
        for name in self.methods:
            if name.split(":")[0] not in METHODS:
                raise ValueError(f"unknown method {name!r}; valid methods: {list(METHODS)}")
        if "learned" in self.methods and not self.learned_dir:
            raise ValueError(
                "method 'learned' needs learned_dir (python train.py "
                "experiment=compressor_aclsum prints it as 'pretrained')"
            )
        if "self-info" in self.methods and not self.lm_dir:
            raise ValueError("method 'self-info' needs lm_dir, a local causal LM directory")


class MemoEmbedder:
    """Caches sentence vectors by text: a paper is embedded once for its three aspect queries
    (and for every scorer variant sharing the encoder; ``scripts/fit_default_scorer.py`` too)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.cache: dict[str, torch.Tensor] = {}

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            encode = getattr(self.embedder, "encode", None) or self.embedder.embed
            for text, vector in zip(missing, encode(missing).float().cpu()):
                self.cache[text] = vector
        return torch.stack([self.cache[t] for t in texts])


def build_scorers(config: ACLSumBenchmarkConfig, embedder: Any = None) -> dict[str, Any]:
    """Scorer per method name (``static-mmr`` and ``gold`` map to None: handled in the run)."""
    scorers: dict[str, Any] = {}
    memos: dict[str, MemoEmbedder] = {}
    for name in config.methods:
        base, *args = name.split(":")
        if base in ("gold", "static-mmr"):
            scorers[name] = None
        elif base == "lead":
            scorers[name] = LeadScorer()
        elif base == "random":
            scorers[name] = RandomScorer(config.seed)
        elif base == "bm25":
            scorers[name] = BM25Scorer()
        elif base == "tfidf":
            scorers[name] = TfidfScorer()
        elif base == "self-info":
            scorers[name] = SelfInformationScorer(config.lm_dir)
        elif base == "minilm":
            scorers[name] = _encoder_scorer(args, config, memos, embedder)
        else:  # learned
            from polytok.compress.cross_encoder import CrossEncoderScorer

            scorers[name] = CrossEncoderScorer.from_pretrained(config.learned_dir)
    return scorers


def _encoder_scorer(
    args: list[str], config: ACLSumBenchmarkConfig, memos: dict[str, Any], embedder: Any
) -> EncoderScorer:
    """``minilm``: the default scorer (shipped head, its encoder layers); ``minilm:P:B[:C:L]``
    (or ``position_weight`` / ``bm25_weight`` set): the untrained weighted sum on all layers."""
    weights = [float(a) for a in args] or [config.position_weight, config.bm25_weight]
    trained = not args and all(w is None for w in weights)
    head = default_head() if trained else None
    key = "head" if trained else "full"
    if key not in memos:
        memos[key] = MemoEmbedder(embedder or EncoderScorer(head=head).embedder)
    return EncoderScorer(memos[key], *weights, head=head)


def _gold_scores(doc: ACLSumDocument, aspect: str) -> list[float]:
    """Highlighted sentences first, shorter ones first (most labelled sentences per token)."""
    return [label * 1e6 - len(s) for label, s in zip(doc.labels(aspect), doc.sentences)]


def _row(doc: ACLSumDocument, aspect: str, ratio: float, result: Any, seconds: float) -> dict:
    kept = kept_indices(result, doc.sentences)
    reference = doc.summaries[aspect]
    rouge = (
        rouge_scores(reference, result.text)
        if result.text.strip()
        else dict.fromkeys(("rouge1", "rouge2", "rougeL"), 0.0)
    )
    return {
        "doc": doc.id,
        "aspect": aspect,
        "ratio": ratio,
        "recall": highlight_recall(kept, doc.labels(aspect)),
        **rouge,
        "original_tokens": result.original_tokens,
        "target_tokens": result.target_tokens,
        "compressed_tokens": result.compressed_tokens,
        "achieved": result.ratio,
        "kept": kept,
        "seconds": seconds,
        "text": result.text,
    }


def _method_rows(
    name: str,
    scorer: Any,
    docs: list[ACLSumDocument],
    config: ACLSumBenchmarkConfig,
    compressor: ContextCompressor,
    tick: Callable[[], None],
) -> list[dict]:
    rows = []
    query_free: dict[str, torch.Tensor] = {}
    for doc in docs:
        for aspect in ASPECTS:
            query = ASPECT_QUERIES[aspect]
            start, cpu = time.perf_counter(), time.process_time()
            if name == "gold":
                scores = torch.tensor(_gold_scores(doc, aspect))
            elif name == "self-info":  # query-independent: one score per paper
                if doc.id not in query_free:
                    query_free[doc.id] = scorer.score(list(doc.sentences))
                scores = query_free[doc.id]
            elif scorer is not None:
                scores = scorer.score(list(doc.sentences), query)
            score_s, score_cpu = time.perf_counter() - start, time.process_time() - cpu
            for ratio in config.ratios:
                start, cpu = time.perf_counter(), time.process_time()
                if scorer is None and name != "gold":  # static-mmr
                    result = compressor.compress_chunks(
                        list(doc.sentences),
                        query,
                        config.model_id,
                        target_ratio=ratio,
                        strategy="mmr",
                    )
                else:
                    compressor._scorer = FixedScorer(scores.tolist())
                    result = compressor.compress_chunks(
                        list(doc.sentences),
                        query,
                        config.model_id,
                        target_ratio=ratio,
                        strategy="scored",
                    )
                seconds = score_s + time.perf_counter() - start
                cpu_seconds = score_cpu + time.process_time() - cpu
                row = _row(doc, aspect, ratio, result, seconds)
                rows.append({"method": name, **row, "cpu_seconds": cpu_seconds})
            tick()
    return rows


def summarize(rows: list[dict], ratios: Sequence[float]) -> list[dict]:
    """Per (method, ratio): means of every metric, budget checks and time per 3,000 tokens."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        for ratio in ratios:
            sel = [r for r in rows if r["method"] == method and r["ratio"] == ratio]
            if not sel:
                continue
            recalls = [r["recall"] for r in sel if r["recall"] is not None]
            bert = [r["bertscore"] for r in sel if r.get("bertscore") is not None]
            out.append(
                {
                    "method": method,
                    "ratio": ratio,
                    "n": len(sel),
                    "recall": statistics.fmean(recalls) if recalls else None,
                    **{
                        k: statistics.fmean(r[k] for r in sel)
                        for k in ("rouge1", "rouge2", "rougeL")
                    },
                    "bertscore": statistics.fmean(bert) if bert else None,
                    "achieved": statistics.fmean(r["achieved"] for r in sel),
                    "abs_gap": statistics.fmean(abs(r["achieved"] - ratio) for r in sel),
                    "within_2pct": statistics.fmean(
                        abs(r["achieved"] - ratio) <= 0.02 for r in sel
                    ),
                    "over_budget": sum(r["compressed_tokens"] > r["target_tokens"] for r in sel),
                    "seconds_per_doc": statistics.fmean(r["seconds"] for r in sel),
                    "seconds_per_3k_tokens": statistics.fmean(
                        r["seconds"] * 3000 / r["original_tokens"] for r in sel
                    ),
                    "cpu_seconds_per_3k_tokens": statistics.fmean(
                        r["cpu_seconds"] * 3000 / r["original_tokens"] for r in sel
                    ),
                }
            )
    return out


def run_benchmark(
    config: ACLSumBenchmarkConfig, embedder: Any = None, progress: bool = True
) -> dict[str, Any]:
    """Run every method of ``config``; returns ``{"rows": [...], "summary": [...]}``.

    ``rows`` hold one entry per (method, paper, aspect, ratio) with the kept sentence indices.
    """
    from tqdm.auto import tqdm

    docs = load_aclsum(config.split)[: config.limit_docs]
    scorers = build_scorers(config, embedder)
    compressor = ContextCompressor(CompressorConfig(strategy="scored"), scorer=LeadScorer())
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    rows: list[dict] = []
    try:
        total = len(config.methods) * len(docs) * len(ASPECTS)
        with tqdm(total=total, disable=not progress, desc=f"ACLSum {config.split}") as bar:
            for name in config.methods:
                bar.set_postfix_str(name)
                rows += _method_rows(
                    name, scorers[name], docs, config, compressor, lambda: bar.update(1)
                )
    finally:
        torch.set_num_threads(threads)
    _add_bertscore(rows, config)
    for row in rows:
        row.pop("text")
    return {"rows": rows, "summary": summarize(rows, config.ratios)}


def _add_bertscore(rows: list[dict], config: ACLSumBenchmarkConfig) -> None:
    docs = {d.id: d for d in load_aclsum(config.split)}
    todo = [r for r in rows if r["ratio"] in config.bertscore_ratios and r["text"].strip()]
    if not todo:
        return
    refs = [docs[r["doc"]].summaries[r["aspect"]] for r in todo]
    for row, f1 in zip(todo, bertscore_f1([r["text"] for r in todo], refs)):
        row["bertscore"] = f1
