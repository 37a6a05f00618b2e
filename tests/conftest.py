"""Shared fixtures: a tiny corpus tokenizer and a fresh token cache per test session."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _token_cache(tmp_path_factory):
    """Keep tokenized corpora of the test run out of the user's cache."""
    if "POLYTOK_CACHE" not in os.environ:
        os.environ["POLYTOK_CACHE"] = str(tmp_path_factory.mktemp("polytok-cache"))
    yield


@pytest.fixture
def char_tokenizer():
    from polytok.tokenizers import CharTokenizer

    return CharTokenizer.train(["hello world, the quick brown fox jumps over the lazy dog.\n"])
