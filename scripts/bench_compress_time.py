"""Compressor time per 3,000-token document on one CPU thread: default scorer vs baselines.

Documents: consecutive ACLSum test papers' sentences, cut to the longest prefix of whole
sentences within 3,000 gpt-4o tokens. Each is compressed to ratio 0.2 for the outcome query with
``torch.set_num_threads(1)``, after one warm-up call (model loading is not timed). Reported per
method: wall seconds and process CPU seconds per document (CPU time is robust to other jobs on
the machine; wall time is not), and the ratio of both to BM25's in the same process. The
default ``ContextCompressor()`` runs the first layers of MiniLM (as many as its head was fit on)
with int8 linear layers on CPU; the untrained weighted sum on all six layers (int8, the previous
default, and float32) is timed too.
Target: at most 0.5 CPU s per document for the default.

    python scripts/bench_compress_time.py [--docs 10] [--learned DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from polytok.compress import CompressorConfig, ContextCompressor
from polytok.compress.aclsum import ASPECT_QUERIES, load_aclsum
from polytok.compress.budget import model_counter
from polytok.compress.scorers import BM25Scorer, EncoderScorer, LeadScorer
from polytok.embed import SentenceEmbedder


def documents(count: int, tokens: int = 3000) -> list[list[str]]:
    """``count`` documents of whole ACLSum test sentences, each within ``tokens`` tokens."""
    counter = model_counter("gpt-4o")
    pool = [s for doc in load_aclsum("test") for s in doc.sentences]
    costs = counter.count_many([" " + s for s in pool])
    docs, current, used = [], [], 0
    for sentence, cost in zip(pool, costs):
        if used + cost > tokens:
            docs.append(current)
            current, used = [], 0
            if len(docs) == count:
                break
        current.append(sentence)
        used += cost
    return docs


def time_method(compressor: ContextCompressor, docs: list[list[str]]) -> tuple[float, float]:
    """Mean wall and CPU seconds per document (after one warm-up call)."""
    query = ASPECT_QUERIES["outcome"]
    compressor.compress_chunks(docs[0], query, target_ratio=0.2)
    wall, cpu = [], []
    for doc in docs:
        start, start_cpu = time.perf_counter(), time.process_time()
        compressor.compress_chunks(doc, query, target_ratio=0.2)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.fmean(wall), statistics.fmean(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--learned", default=None, help="a CrossEncoderScorer directory")
    args = parser.parse_args()
    torch.set_num_threads(1)
    docs = documents(args.docs)
    sizes = model_counter("gpt-4o").count_many([" ".join(d) for d in docs])
    print(
        f"{len(docs)} documents, {statistics.fmean(sizes):.0f} gpt-4o tokens on average, 1 thread"
    )
    scored = CompressorConfig(strategy="scored")
    methods = {
        "bm25": ContextCompressor(scored, scorer=BM25Scorer()),
        "lead": ContextCompressor(scored, scorer=LeadScorer()),
        "default ContextCompressor() (int8 MiniLM, first layers + head)": ContextCompressor(),
        "untrained weighted sum, int8 MiniLM, 6 layers (previous default)": ContextCompressor(
            scored, scorer=EncoderScorer(SentenceEmbedder(precision="int8"))
        ),
        "untrained weighted sum, float32 MiniLM, 6 layers": ContextCompressor(
            scored, scorer=EncoderScorer(SentenceEmbedder())
        ),
    }
    if args.learned:
        methods["learned cross-encoder"] = ContextCompressor(scorer=args.learned)
    results = {name: time_method(c, docs) for name, c in methods.items()}
    base_wall, base_cpu = results["bm25"]
    print("| method | wall s / doc | CPU s / doc | wall / BM25 | CPU / BM25 |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu) in results.items():
        print(
            f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / base_wall:.1f}x | {cpu / base_cpu:.1f}x |"
        )


if __name__ == "__main__":
    main()
