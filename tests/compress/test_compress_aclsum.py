"""The ACLSum benchmark: loading, budgets on every paper, bad input."""

import pytest
import torch

from polytok.compress import CompressorConfig, ContextCompressor
from polytok.compress.aclsum import ASPECT_QUERIES, ASPECTS, SPLITS, check_aspect, load_aclsum
from polytok.compress.compressor import kept_indices
from polytok.compress.scorers import FixedScorer, LeadScorer


@pytest.fixture(scope="module")
def splits():
    return {split: load_aclsum(split) for split in SPLITS}


def test_splits_aspects_and_aligned_labels(splits) -> None:
    assert {k: len(v) for k, v in splits.items()} == {"train": 100, "val": 50, "test": 100}
    ids = [d.id for docs in splits.values() for d in docs]
    assert len(set(ids)) == 250  # no paper in two splits
    for docs in splits.values():
        for doc in docs:
            assert len(doc.sections) == len(doc.sentences)
            assert set(doc.highlights) == set(ASPECTS) == set(doc.summaries)
            for aspect in ASPECTS:
                assert len(doc.labels(aspect)) == len(doc.sentences)
                assert set(doc.labels(aspect)) <= {0, 1}
    # written out from aclsum/dataset/train.jsonl (paper P06-1112) and test.jsonl (E09-1056)
    first = splits["train"][0]
    assert first.id == "P06-1112" and first.sections[:6] == ("abstract",) * 5 + ("introduction",)
    assert first.highlighted("challenge") == [17, 18, 19, 20, 22, 23, 24]
    assert first.highlighted("outcome") == [4, 40, 41, 52, 53]
    assert first.sentences[0].startswith("In this paper , we explore correlation")
    assert first.summaries["approach"].startswith("They propose a statistical method")
    test = splits["test"][0]
    assert test.id == "E09-1056" and test.highlighted("challenge") == [0, 1, 6, 10]


def test_unknown_aspect_and_split() -> None:
    with pytest.raises(ValueError, match="unknown ACLSum aspect 'method'.*challenge"):
        check_aspect("method")
    with pytest.raises(ValueError, match="unknown ACLSum split 'dev'"):
        load_aclsum("dev")


def test_budget_never_exceeded_on_any_paper(splits) -> None:
    """Every paper of every split, every ratio: exact recount <= budget, within 2 points."""
    compressor = ContextCompressor(CompressorConfig(strategy="scored"), scorer=LeadScorer())
    gaps = []
    for docs in splits.values():
        for doc in docs:
            sentences = list(doc.sentences)
            order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(0))
            compressor._scorer = FixedScorer(order.float().tolist())
            for ratio in (0.1, 0.2, 0.3):
                r = compressor.compress_chunks(
                    sentences, ASPECT_QUERIES["outcome"], target_ratio=ratio
                )
                assert r.compressed_tokens <= r.target_tokens == int(ratio * r.original_tokens)
                assert r.compressed_tokens == compressor.counter("gpt-4o").count(r.text)
                kept = kept_indices(r, sentences)
                assert r.text == " ".join(sentences[i] for i in kept)
                gaps.append(ratio - r.ratio)
    assert min(gaps) >= 0 and sum(gaps) / len(gaps) < 0.02


def test_compress_chunks_bad_input() -> None:
    compressor = ContextCompressor(CompressorConfig(strategy="scored"), scorer=LeadScorer())
    with pytest.raises(ValueError, match="non-empty strings"):
        compressor.compress_chunks([], target_ratio=0.5)
    with pytest.raises(ValueError, match="non-empty strings"):
        compressor.compress_chunks(["a sentence here.", "  "], target_ratio=0.5)
    with pytest.raises(TypeError, match="list of strings"):
        compressor.compress_chunks("one string", target_ratio=0.5)
    for ratio in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"target_ratio must be in \(0, 1\]"):
            compressor.compress_chunks(["a sentence here.", "and one more."], target_ratio=ratio)
    with pytest.raises(ValueError, match="context is empty"):
        compressor.compress("   ", target_ratio=0.5)
    with pytest.raises(TypeError, match="scorer must have score"):
        ContextCompressor(scorer=42)
