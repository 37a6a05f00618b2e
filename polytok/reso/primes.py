"""Primes for ResoFormer: a sieve, ``nth_prime`` and the prime-indexed `PrimeTokenizer`.

Token ids stay dense (``0 .. V-1``) everywhere; the bijection ``id <-> nth_prime(id + 1)`` gives
each token a prime that models read as a *feature* (`polytok.reso.embedding.PrimeEmbedding`).
The TinyAleph design used the primes themselves as embedding indices, which wastes a table of size
``p_V`` for ``V`` tokens; the bijection keeps the prime structure without that cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from polytok.tokenizers.base import TextTokenizer, register_spec_type, tokenizer_from_spec
from polytok.tokenizers.factory import build_tokenizer, register_builder, training_documents

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")
"""PAD, UNK, BOS, EOS: ids 0..3, primes 2, 3, 5, 7."""


def sieve(limit: int) -> list[int]:
    """All primes ``<= limit`` (sieve of Eratosthenes).

    Args:
        limit: inclusive upper bound (any int; fewer than 2 gives ``[]``).
    """
    if limit < 2:
        return []
    flags = bytearray([1]) * (limit + 1)
    flags[0] = flags[1] = 0
    for i in range(2, math.isqrt(limit) + 1):
        if flags[i]:
            flags[i * i :: i] = bytearray(len(range(i * i, limit + 1, i)))
    return [i for i, is_prime in enumerate(flags) if is_prime]


def first_primes(count: int) -> list[int]:
    """The first ``count`` primes ``[2, 3, 5, ...]``.

    Uses Rosser's bound ``p_n < n (ln n + ln ln n)`` for ``n >= 6`` to size the sieve.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if count == 0:
        return []
    limit = 15 if count < 6 else int(count * (math.log(count) + math.log(math.log(count)))) + 1
    primes = sieve(limit)
    assert len(primes) >= count, (count, limit, len(primes))
    return primes[:count]


def nth_prime(n: int) -> int:
    """The ``n``-th prime, 1-based: ``nth_prime(1) == 2``, ``nth_prime(4) == 7``."""
    if n < 1:
        raise ValueError(f"nth_prime is 1-based; n must be >= 1, got {n}")
    return first_primes(n)[-1]


def is_prime(n: int) -> bool:
    """Deterministic trial division (enough for the sizes used here)."""
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


def next_prime(n: int) -> int:
    """The smallest prime ``>= n``."""
    candidate = max(2, n)
    while not is_prime(candidate):
        candidate += 1
    return candidate


def token_primes(vocab_size: int) -> torch.Tensor:
    """(vocab_size,) int64 tensor: the prime of each dense id, ``nth_prime(id + 1)``."""
    return torch.tensor(first_primes(vocab_size), dtype=torch.long)


@register_spec_type("prime")
class PrimeTokenizer:
    """Wraps any `TextTokenizer` with a bijection between dense ids and primes.

    Ids 0..3 are PAD, UNK, BOS, EOS (primes 2, 3, 5, 7); the base tokenizer's own special ids
    (``pad_id``, ``unk_id``, ``bos_id``, ``eos_id`` where it has them) map onto these, and its
    other ids follow in order from id 4 (id ``i`` has prime ``nth_prime(i + 1)``). ``encode`` and
    ``decode`` take and return dense ids like any tokenizer; ``to_primes``/``from_primes`` expose
    the bijection.

    Args:
        base: the tokenizer that splits text (characters by default, see `train`).
    """

    num_special = len(SPECIAL_TOKENS)

    def __init__(self, base: TextTokenizer) -> None:
        if not isinstance(base, TextTokenizer):
            raise TypeError(
                f"PrimeTokenizer wraps a TextTokenizer, got {type(base).__name__}; "
                "build one with polytok.tokenizers (e.g. CharTokenizer)"
            )
        self.base = base
        self.name = f"prime-{base.name}"
        base_special = {}  # base id -> our special id
        for ours, attr in enumerate(("pad_id", "unk_id", "bos_id", "eos_id")):
            base_id = getattr(base, attr, None)
            if base_id is not None and base_id not in base_special:
                base_special[int(base_id)] = ours
        self._to_ours = []  # base id -> our id
        self._to_base: list[int | None] = [None] * self.num_special  # our id -> base id
        for ours, base_id in ((o, b) for b, o in base_special.items()):
            self._to_base[ours] = base_id
        for base_id in range(base.vocab_size):
            if base_id in base_special:
                self._to_ours.append(base_special[base_id])
            else:
                self._to_ours.append(len(self._to_base))
                self._to_base.append(base_id)
        self._primes = first_primes(len(self._to_base))
        self._index = {p: i for i, p in enumerate(self._primes)}

    # --- TextTokenizer protocol -------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._to_base)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def bos_id(self) -> int:
        return 2

    @property
    def eos_id(self) -> int:
        return 3

    def encode(self, text: str) -> list[int]:
        """Dense ids of ``text``."""
        table = self._to_ours
        return [table[i] for i in self.base.encode(text)]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        table = self._to_ours
        return [[table[i] for i in ids] for ids in self.base.encode_batch(texts)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of dense ids; specials the base tokenizer lacks decode to nothing.

        Raises:
            ValueError: an id outside ``[0, vocab_size)``.
        """
        base_ids = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} outside [0, {self.vocab_size})")
            base_id = self._to_base[i]
            if base_id is not None:
                base_ids.append(base_id)
        return self.base.decode(base_ids)

    def to_spec(self) -> dict[str, Any]:
        return {"type": "prime", "base": self.base.to_spec()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PrimeTokenizer:
        """Rebuild from ``{"type": "prime", "base": <base spec>}``."""
        if spec.get("type") != "prime" or "base" not in spec:
            raise ValueError(f"expected {{'type': 'prime', 'base': {{...}}}}, got {spec!r}")
        return cls(tokenizer_from_spec(dict(spec["base"])))

    @classmethod
    def train(cls, texts: Iterable[str], base: Mapping[str, Any] | None = None) -> PrimeTokenizer:
        """Build the base tokenizer from its config on ``texts``, then wrap it.

        Args:
            texts: training documents (or a zero-argument callable returning them), used when
                the base tokenizer learns a vocabulary.
            base: base tokenizer config for `polytok.tokenizers.build_tokenizer`
                (default ``{"name": "char"}``).
        """
        return cls(build_tokenizer(dict(base or {"name": "char"}), texts))

    # --- the prime bijection ------------------------------------------------------------------
    @property
    def primes(self) -> list[int]:
        """The prime of every id, in id order (``primes[i] == nth_prime(i + 1)``)."""
        return list(self._primes)

    def to_primes(self, ids: Iterable[int]) -> list[int]:
        """Dense ids -> primes."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} outside [0, {self.vocab_size})")
            out.append(self._primes[i])
        return out

    def from_primes(self, primes: Iterable[int]) -> list[int]:
        """Primes -> dense ids (inverse of `to_primes`).

        Raises:
            ValueError: a number that is not the prime of any id of this vocabulary.
        """
        out = []
        for p in primes:
            p = int(p)
            if p not in self._index:
                raise ValueError(
                    f"{p} is not the prime of any token (vocabulary primes are "
                    f"{self._primes[0]}..{self._primes[-1]})"
                )
            out.append(self._index[p])
        return out

    def __repr__(self) -> str:
        return f"PrimeTokenizer(base={self.base.name!r}, vocab_size={self.vocab_size})"


@register_builder("prime", {"base": {"name": "char"}})
def _build_prime(options: dict[str, Any], texts: Any) -> PrimeTokenizer:
    """``{name: prime, base: {...}}``: dense ids <-> primes over any base tokenizer (ResoFormer)."""
    return PrimeTokenizer.train(training_documents("prime", texts), base=options["base"])
