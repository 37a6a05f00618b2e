"""CompressionValidator: metric scores, thresholds, errors failing, BERTScore on a local model."""

from __future__ import annotations

import pytest
import torch

from polytok.compress import CompressionValidator, ValidatorConfig
from polytok.embed import StaticEmbedder

ORIGINAL = (
    "Refunds are issued within 30 days of purchase. To request a refund, email support. "
    "Shipping is free for orders over fifty dollars. Our office is closed on public holidays. "
    "The founder likes cycling and old movies."
)
KEPT = "Refunds are issued within 30 days of purchase. To request a refund, email support."
DROPPED = (
    "Shipping is free for orders over fifty dollars. The founder likes cycling and old movies."
)


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder()


def test_scores_and_quality(embedder) -> None:
    v = CompressionValidator(embedder=embedder)
    res = v.validate(ORIGINAL, KEPT, query="how do I get a refund")
    assert set(res.scores) == {"rouge-l", "embedding", "query-retention"}
    assert res.details["rouge-l"]["precision"] == 1.0
    assert 0.0 < res.scores["rouge-l"] < 1.0
    assert res.scores["query-retention"] == 1.0
    assert res.quality == pytest.approx(sum(res.scores.values()) / 3)
    worse = v.validate(ORIGINAL, DROPPED, query="how do I get a refund")
    assert worse.scores["query-retention"] == 0.0 and not worse.passed
    assert (
        "query-retention" in worse.failures
        and "below threshold" in worse.failures["query-retention"]
    )
    same = v.validate(ORIGINAL, ORIGINAL, metrics=["rouge-l", "embedding"])
    assert same.passed and same.scores["rouge-l"] == 1.0
    assert same.scores["embedding"] == pytest.approx(1.0, abs=1e-5)


def test_non_ascii_rouge(embedder) -> None:
    v = CompressionValidator(embedder=embedder)
    res = v.validate("我们今天去公园散步。天气很好。", "我们今天去公园散步。", metrics=["rouge-l"])
    assert res.scores["rouge-l"] > 0.5


def test_thresholds_are_parameters(embedder) -> None:
    v = CompressionValidator(ValidatorConfig(thresholds={"rouge-l": 0.9}), embedder=embedder)
    assert not v.validate(ORIGINAL, KEPT, metrics=["rouge-l"]).passed
    assert v.validate(ORIGINAL, KEPT, metrics=["rouge-l"], thresholds={"rouge-l": 0.1}).passed


class _BrokenEmbedder:
    def embed(self, texts, **kw):
        raise RuntimeError("embedding backend exploded")


def test_metric_errors_fail_never_pass(embedder) -> None:
    v = CompressionValidator(embedder=_BrokenEmbedder())
    res = v.validate(
        ORIGINAL, KEPT, metrics=["rouge-l", "embedding"], thresholds={"embedding": 0.0}
    )
    assert not res.passed
    assert res.failures["embedding"].startswith("raised RuntimeError: embedding backend exploded")
    assert "embedding" not in res.scores and "rouge-l" in res.scores
    ok = CompressionValidator(embedder=embedder)
    no_bert = ok.validate(ORIGINAL, KEPT, metrics=["bertscore"], thresholds={"bertscore": 0.0})
    assert not no_bert.passed and "bertscore_model_dir" in no_bert.failures["bertscore"]
    no_query = ok.validate(ORIGINAL, KEPT, metrics=["query-retention"])
    assert not no_query.passed and "needs a non-empty query" in no_query.failures["query-retention"]
    empty = ok.validate(ORIGINAL, "", metrics=["rouge-l", "embedding"])
    assert not empty.passed and empty.scores == {"rouge-l": 0.0, "embedding": 0.0}


def test_bad_inputs(embedder) -> None:
    v = CompressionValidator(embedder=embedder)
    with pytest.raises(ValueError, match="unknown or no metrics"):
        v.validate(ORIGINAL, KEPT, metrics=["bleu"])
    with pytest.raises(ValueError, match="original is empty"):
        v.validate("  ", KEPT)
    with pytest.raises(TypeError, match="compressed must be a str"):
        v.validate(ORIGINAL, None)
    with pytest.raises(ValueError, match="unknown metric"):
        v.validate(ORIGINAL, KEPT, thresholds={"bleu": 0.1})
    with pytest.raises(ValueError, match="unknown metrics"):
        ValidatorConfig(thresholds={"bleu": 0.5})
    with pytest.raises(ValueError, match="relevant_fraction"):
        ValidatorConfig(relevant_fraction=0.0)
    # a NaN threshold would let every score pass (all comparisons are false): refused
    with pytest.raises(ValueError, match="finite number"):
        ValidatorConfig(thresholds={"rouge-l": float("nan")})
    with pytest.raises(ValueError, match="finite number"):
        v.validate(ORIGINAL, KEPT, thresholds={"embedding": float("nan")})
    with pytest.raises(ValueError, match="finite number"):
        v.validate(ORIGINAL, KEPT, thresholds={"embedding": "0.5"})


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory) -> str:
    """A randomly initialised BERT and a locally written WordPiece vocabulary (no download)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny_bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += sorted({w.strip(".,").lower() for w in ORIGINAL.split()}) + [".", ","]
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)})
    assert "[UNK]" not in tokenizer.tokenize(" ".join(vocab[5:]))
    tokenizer.save_pretrained(str(path))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(path))
    return str(path)


def test_bertscore_with_local_model(embedder, tiny_bert_dir) -> None:
    v = CompressionValidator(
        ValidatorConfig(bertscore_model_dir=tiny_bert_dir, thresholds={"bertscore": 0.5}),
        embedder=embedder,
    )
    assert "bertscore" in v.default_metrics(None)
    same = v.validate(ORIGINAL, ORIGINAL, metrics=["bertscore"])
    assert same.scores["bertscore"] == pytest.approx(1.0, abs=1e-5) and same.passed
    part = v.validate(ORIGINAL, KEPT, metrics=["bertscore"])
    d = part.details["bertscore"]
    assert d["precision"] == pytest.approx(1.0, abs=1e-5)  # kept sentences match themselves
    assert d["recall"] < 1.0 and part.scores["bertscore"] < 1.0
    missing = CompressionValidator(
        ValidatorConfig(bertscore_model_dir="/nonexistent/model"), embedder=embedder
    ).validate(ORIGINAL, KEPT, metrics=["bertscore"])
    assert not missing.passed and "FileNotFoundError" in missing.failures["bertscore"]
