"""Shared fixtures for the glyph tests: one real embedder and one small real tape per session."""

from __future__ import annotations

import pytest

DIALOG_LINES = [
    "Good morning, how are you?",
    "I am doing well, how about you?",
    "I am also good, thank you for asking.",
    "What is your favorite book?",
    "My favorite book is the one about the ocean.",
    "Do you like music? I like music very much.",
    "How are you doing today?",
    "The price is 42 dollars, said Alice.",
    "Ceci n'est pas une pipe. 日本語のテキストです。 😀😀😀",
]


@pytest.fixture(scope="session")
def embedder():
    from polytok.embed import StaticEmbedder

    return StaticEmbedder()


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return ["\n".join(DIALOG_LINES[i:] + DIALOG_LINES[:i]) for i in range(len(DIALOG_LINES))] * 3


@pytest.fixture(scope="session")
def tape_path(tmp_path_factory, corpus, embedder):
    from polytok.glyph.build import TapeBuildConfig, build_tape

    path = tmp_path_factory.mktemp("tape") / "tape.db"
    config = TapeBuildConfig(num_glyphs=300, num_families=8, n_clusters=4)
    build_tape(corpus, path, "cl100k_base", config, embedder=embedder).close()
    return path
