"""ContextCompressor: exact budgets, original order and separators, baselines, bad inputs."""

from __future__ import annotations

import pytest

from polytok.compress import CompressorConfig, ContextCompressor
from polytok.count import TokenCounter
from polytok.embed import StaticEmbedder

CONTEXT = """Our store opened in 1998 and sells garden tools.

Refunds are issued within 30 days of purchase if the item is unused. To request a refund, email support with your order number and a photo of the item.

```bash
curl -X POST https://example.com/refund -d order=123
```

- Shipping is free for orders over fifty dollars.
- Express delivery costs ten dollars.

The weather in spring is usually mild. Many customers buy seeds in March. Gardening clubs meet on Saturdays in the town hall. 我们也提供中文服务。

The founder likes cycling and old movies. Our office is closed on public holidays."""


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder()


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(cache=None)


def _compressor(embedder, counter, **kw) -> ContextCompressor:
    return ContextCompressor(CompressorConfig(**kw), embedder=embedder, counter=counter)


@pytest.mark.parametrize("strategy", ["mmr", "lead", "random"])
@pytest.mark.parametrize("ratio", [0.5, 0.2])
def test_budget_exact_order_and_separators(embedder, counter, strategy, ratio) -> None:
    comp = _compressor(embedder, counter)
    r = comp.compress(CONTEXT, query="how do I get a refund", target_ratio=ratio, strategy=strategy)
    exact = counter.count("gpt-4o", r.text).count
    assert r.compressed_tokens == exact <= r.target_tokens == int(ratio * r.original_tokens)
    assert r.original_tokens == counter.count("gpt-4o", CONTEXT).count
    assert r.ratio == pytest.approx(exact / r.original_tokens)
    assert r.exact and r.encoding == "o200k_base" and not r.unchanged and r.strategy == strategy
    spans = r.kept_spans
    assert (
        spans
        and all(a < b for a, b in spans)
        and all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    )  # original order, no overlap
    rebuilt = CONTEXT[spans[0][0] : spans[0][1]]
    for (_, prev_end), (start, end) in zip(spans, spans[1:]):
        gap = CONTEXT[prev_end:start]
        # a gap with dropped text: the kept chunk brings the whitespace that preceded it
        separator = gap[len(gap.rstrip()) :]
        rebuilt += separator + CONTEXT[start:end]
    assert r.text == rebuilt
    # code blocks and lists are kept whole or not at all
    assert ("```bash" in r.text) == ("https://example.com/refund -d order=123\n```" in r.text)
    assert ("- Shipping" in r.text) == ("- Express delivery costs ten dollars." in r.text)


def test_query_relevant_text_is_kept(embedder, counter) -> None:
    comp = _compressor(embedder, counter)
    r = comp.compress(CONTEXT, query="how do I get a refund for my order", target_ratio=0.35)
    assert "Refunds are issued" in r.text or "To request a refund" in r.text
    lead = comp.compress(
        CONTEXT, query="when are gardening clubs", target_ratio=0.3, strategy="lead"
    )
    assert lead.text.startswith("Our store opened in 1998")  # lead = longest fitting prefix
    assert lead.kept_spans[0][0] == 0
    mmr = comp.compress(CONTEXT, query="when do gardening clubs meet", target_ratio=0.3)
    assert "Gardening clubs meet on Saturdays" in mmr.text


def test_blank_query_is_no_query(embedder, counter) -> None:
    comp = _compressor(embedder, counter)
    blank = comp.compress(CONTEXT, query="  \n ", target_ratio=0.4)
    assert blank.kept_spans == comp.compress(CONTEXT, target_ratio=0.4).kept_spans


def test_random_baseline_is_seeded(embedder, counter) -> None:
    a = _compressor(embedder, counter, strategy="random", seed=1).compress(
        CONTEXT, target_ratio=0.4
    )
    b = _compressor(embedder, counter, strategy="random", seed=1).compress(
        CONTEXT, target_ratio=0.4
    )
    others = {
        _compressor(embedder, counter, strategy="random", seed=s)
        .compress(CONTEXT, target_ratio=0.4)
        .text
        for s in range(2, 6)
    }
    assert a.text == b.text and a.compressed_tokens <= a.target_tokens
    assert len(others | {a.text}) > 1  # different seeds pick different chunks


def test_other_models_and_token_budgets(embedder, counter) -> None:
    comp = _compressor(embedder, counter)
    r = comp.compress(CONTEXT, model_id="gpt-4", target_tokens=60)
    assert r.encoding == "cl100k_base" and r.compressed_tokens <= 60
    assert r.compressed_tokens == counter.count("gpt-4", r.text).count
    approx = comp.compress(CONTEXT, model_id="claude-sonnet-4-5", target_ratio=0.5)
    assert not approx.exact  # declared approximation, budget in the approximate count
    assert approx.compressed_tokens <= approx.target_tokens


def test_budget_covering_the_context_returns_it_unchanged(embedder, counter) -> None:
    comp = _compressor(embedder, counter)
    for kwargs in ({"target_ratio": 1.0}, {"target_tokens": 10_000}):
        r = comp.compress(CONTEXT, **kwargs)
        assert r.unchanged and r.text == CONTEXT and r.ratio == 1.0
        assert r.kept_spans == [(0, len(CONTEXT))] and r.tokens_saved == 0
    d = r.to_dict()
    assert d["unchanged"] is True and d["kept_spans"] == [[0, len(CONTEXT)]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"context": ""}, ValueError, "empty"),
        ({"context": "   \n "}, ValueError, "empty"),
        ({"target_ratio": 0.0}, ValueError, r"\(0, 1\]"),
        ({"target_ratio": 1.5}, ValueError, r"\(0, 1\]"),
        ({"target_ratio": -0.1}, ValueError, r"\(0, 1\]"),
        ({"target_ratio": None}, ValueError, "exactly one"),
        ({"target_tokens": 10}, ValueError, "exactly one"),
        ({"target_ratio": None, "target_tokens": 0}, ValueError, ">= 1"),
        ({"model_id": "no-such-model-xyz"}, ValueError, "unknown model"),
        ({"model_id": ""}, ValueError, "non-empty"),
        ({"strategy": "best"}, ValueError, "strategy"),
        ({"context": 42}, TypeError, "str"),
        ({"query": 3}, TypeError, "query"),
        ({"target_ratio": None, "target_tokens": 1}, ValueError, "smaller than every chunk"),
    ],
)
def test_bad_inputs(embedder, counter, kwargs, error, match) -> None:
    args = {"context": CONTEXT, "target_ratio": 0.5, **kwargs}
    with pytest.raises(error, match=match):
        _compressor(embedder, counter).compress(**args)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="strategy"):
        CompressorConfig(strategy="textrank")
    with pytest.raises(ValueError, match="mmr_lambda"):
        CompressorConfig(mmr_lambda=1.5)
    with pytest.raises(ValueError, match="query_weight"):
        CompressorConfig(query_weight=-0.1)
