"""Model id resolution: tiktoken's own tables, HF directories by config, approximated families."""

from __future__ import annotations

import json

import pytest
import tiktoken
import tiktoken.model

from polytok.count import FAMILIES, ModelRegistry, TokenCounter, UnknownModelError
from polytok.count.registry import ENCODING_ALIASES, HF_ENV


@pytest.mark.parametrize("model", sorted(tiktoken.model.MODEL_TO_ENCODING))
def test_openai_exact_names_follow_tiktoken(model: str) -> None:
    info = ModelRegistry().resolve(model)
    assert (info.family, info.strategy, info.exact) == ("openai", "tiktoken", True)
    assert info.encoding == tiktoken.encoding_name_for_model(model)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1-preview", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("ft:gpt-4o-mini:org::abc", "o200k_base"),
        ("text-davinci-003", "p50k_base"),
        ("davinci", "r50k_base"),
        ("gpt-oss-120b", "o200k_harmony"),
        ("openai/gpt-4o", "o200k_base"),
    ],
)
def test_openai_prefixes(model: str, encoding: str) -> None:
    info = ModelRegistry().resolve(model)
    assert info.encoding == encoding and info.exact
    if not model.startswith("openai/"):
        assert info.encoding == tiktoken.encoding_name_for_model(model)


@pytest.mark.parametrize(
    ("model", "family", "proxy"),
    [
        ("claude-sonnet-4-5", "anthropic", "cl100k_base"),
        ("anthropic/claude-3-opus", "anthropic", "cl100k_base"),
        ("gemini-2.5-pro", "gemini", "o200k_base"),
        ("models/gemini-1.5-flash", "gemini", "o200k_base"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "bedrock", "cl100k_base"),
        ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "bedrock", "cl100k_base"),
        ("mistral.mistral-7b-instruct-v0:2", "bedrock", "llama2"),
        ("meta.llama2-13b-chat-v1", "bedrock", "llama2"),
        ("amazon.nova-pro-v1:0", "bedrock", "cl100k_base"),
        ("vllm/meta-llama/Llama-3.1-8B", "vllm", "cl100k_base"),
        ("my-private-model", "unknown", "cl100k_base"),
    ],
)
def test_approximated_families_declare_themselves(model: str, family: str, proxy: str) -> None:
    info = ModelRegistry().resolve(model)
    assert info.family == family
    assert info.strategy == "approx-script" and not info.exact
    assert info.encoding == f"approx:{proxy}"
    assert 0 < info.typical_error < info.error_bound < 1


def test_unknown_model_error_lists_families() -> None:
    with pytest.raises(UnknownModelError) as err:
        ModelRegistry().resolve("nonsense-model", allow_unknown=False)
    for family in FAMILIES[:-1]:
        assert family in str(err.value)
    with pytest.raises(ValueError, match="non-empty"):
        ModelRegistry().resolve("  ")


def test_hf_map_from_env_dict_and_file(tmp_path, monkeypatch, llama_dir) -> None:
    monkeypatch.setenv(HF_ENV, json.dumps({"meta-llama/Llama-2-7b-hf": str(llama_dir)}))
    registry = ModelRegistry({"org/other": "/nowhere"})
    assert registry.resolve("meta-llama/Llama-2-7b-hf").strategy == "hf"
    assert registry.resolve("org/other").encoding == "/nowhere"
    path = tmp_path / "map.yaml"
    path.write_text(f"org/yaml-model: {llama_dir}\n")
    assert ModelRegistry(path).resolve("org/yaml-model").exact
    monkeypatch.setenv(HF_ENV, "{not json")
    with pytest.raises(ValueError, match=HF_ENV):
        ModelRegistry()


def test_missing_hf_directory_is_named_and_nothing_downloads(tmp_path) -> None:
    missing = tmp_path / "models" / "llama"
    counter = TokenCounter(hf_tokenizers={"meta-llama/Llama-3.1-8B": str(missing)})
    with pytest.raises(FileNotFoundError, match=str(missing)):
        counter.count("meta-llama/Llama-3.1-8B", "hello")


def test_aliases_count_like_their_base() -> None:
    """gpt-oss (o200k_harmony) and the edit models (p50k_edit) only add special tokens."""
    counter = TokenCounter(cache=None)
    text = "Hello <|endoftext|> world, multiple   spaces"
    for model, base_model in (
        ("gpt-oss-20b", "gpt-4o"),
        ("text-davinci-edit-001", "text-davinci-003"),
    ):
        alias = counter.count(model, text)
        assert alias.encoding in ENCODING_ALIASES and alias.exact
        base = counter.count(base_model, text)
        assert base.encoding == ENCODING_ALIASES[alias.encoding]
        assert alias.count == base.count
