"""Primes and the PrimeTokenizer bijection (dense ids <-> primes; specials 2, 3, 5, 7)."""

import pytest
import torch

from polytok.reso.primes import (
    PrimeTokenizer,
    first_primes,
    is_prime,
    next_prime,
    nth_prime,
    sieve,
    token_primes,
)
from polytok.tokenizers import CharTokenizer, tokenizer_from_spec

TEXT = "To be, or not to be: that is the question.\n"


@pytest.fixture
def tok() -> PrimeTokenizer:
    return PrimeTokenizer(CharTokenizer.train([TEXT]))


def test_sieve_and_nth_prime():
    assert sieve(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert sieve(1) == []
    assert [nth_prime(n) for n in (1, 2, 3, 4, 10, 100, 1000)] == [2, 3, 5, 7, 29, 541, 7919]
    primes = first_primes(2000)
    assert len(primes) == 2000 and all(map(is_prime, primes[:200]))
    assert primes == sieve(primes[-1])
    assert next_prime(24) == 29 and next_prime(29) == 29
    assert token_primes(4).tolist() == [2, 3, 5, 7]
    with pytest.raises(ValueError, match="1-based"):
        nth_prime(0)


def test_specials_are_the_first_four_primes(tok):
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert tok.to_primes([0, 1, 2, 3]) == [2, 3, 5, 7]
    base = tok.base
    # the base tokenizer's own specials land on ours
    assert tok.encode_batch([""]) == [[]]
    assert tok._to_ours[base.pad_id] == 0 and tok._to_ours[base.eos_id] == 3
    assert tok._to_ours[base.unk_id] == 1
    assert tok.encode("~") == [tok.unk_id]  # unseen character -> UNK (prime 3)


def test_bijection_round_trips(tok):
    ids = list(range(tok.vocab_size))
    primes = tok.to_primes(ids)
    assert primes == first_primes(tok.vocab_size) == tok.primes
    assert len(set(primes)) == len(primes)
    assert tok.from_primes(primes) == ids
    encoded = tok.encode(TEXT)
    assert max(encoded) < tok.vocab_size and min(encoded) >= tok.num_special
    assert tok.decode(encoded) == TEXT
    assert tok.decode([0, 2, 3, *encoded]) == TEXT  # PAD/BOS/EOS carry no text
    assert tok.encode_batch([TEXT, "be"]) == [encoded, tok.encode("be")]
    with pytest.raises(ValueError, match="not the prime"):
        tok.from_primes([4])
    with pytest.raises(ValueError, match="outside"):
        tok.decode([tok.vocab_size])
    with pytest.raises(ValueError, match="outside"):
        tok.to_primes([-1])


def test_spec_round_trip_and_train(tok):
    spec = tok.to_spec()
    assert spec["type"] == "prime" and spec["base"]["type"] == "char"
    again = tokenizer_from_spec(spec)
    assert isinstance(again, PrimeTokenizer)
    assert again.encode(TEXT) == tok.encode(TEXT) and again.vocab_size == tok.vocab_size
    trained = PrimeTokenizer.train([TEXT])
    assert trained.encode(TEXT) == tok.encode(TEXT)
    with pytest.raises(TypeError, match="TextTokenizer"):
        PrimeTokenizer("char")
    with pytest.raises(ValueError, match="prime"):
        PrimeTokenizer.from_spec({"type": "char"})


def test_ids_are_dense_primes_are_features(tok):
    from polytok.reso.embedding import PrimeEmbedding

    emb = PrimeEmbedding(tok.vocab_size, 8)
    assert emb.token.weight.shape == (tok.vocab_size, 8)  # not (p_max, 8)
    assert emb.features.shape[0] == tok.vocab_size
    ids = torch.tensor([tok.encode("be")])
    assert emb(ids).shape == (1, 2, 8)
