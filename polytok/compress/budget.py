"""Token counts for a model id, from polytok's `TokenCounter` (exact where the model allows)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from polytok.count import TokenCounter, UnknownModelError


@dataclass(frozen=True)
class ModelCounter:
    """Counts tokens of texts for one model.

    Attributes:
        model_id: the model id the counts are for.
        count: ``text -> int`` token count.
        count_many: ``texts -> list[int]`` (batched).
        exact: whether the counts equal the model's own tokenizer's.
        strategy: the counter's strategy ("tiktoken", "hf", "approx-script", ...).
        encoding: the encoding / tokenizer behind the counts.
    """

    model_id: str
    count: Callable[[str], int]
    count_many: Callable[[Sequence[str]], list[int]]
    exact: bool
    strategy: str
    encoding: str


def model_counter(
    model_id: str, counter: TokenCounter | None = None, allow_unknown: bool = False
) -> ModelCounter:
    """A `ModelCounter` for ``model_id`` backed by ``counter``.

    Args:
        model_id: e.g. "gpt-4o", "claude-sonnet-4-5", an HF id mapped to a local directory.
        counter: the `TokenCounter` to use (default: a new one, memory cache only).
        allow_unknown: approximate ids no model family claims instead of raising.

    Raises:
        ValueError: an empty or unknown model id (the message lists the known families).
    """
    counter = counter or TokenCounter()
    try:
        info = counter.registry.resolve(model_id, allow_unknown=allow_unknown)
    except UnknownModelError as err:
        raise ValueError(str(err)) from None

    def count(text: str) -> int:
        return counter.count(model_id, text).count

    def count_many(texts: Sequence[str]) -> list[int]:
        return [r.count for r in counter.count_batch(model_id, texts)]

    return ModelCounter(model_id, count, count_many, info.exact, info.strategy, info.encoding)
