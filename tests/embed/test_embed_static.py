"""StaticEmbedder: equal to wordllama's own inference path, shapes, errors, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open
from tokenizers import Tokenizer

from polytok.embed import StaticEmbedder, StaticEmbedderConfig
from polytok.embed.static import wordllama_files
from polytok.tokenizers.base import TextTokenizer

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Token budgets matter for long contexts, 你好世界, naïve café.",
    "",
    "def f(x):\n    return x * 2",
]


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder()


def _wordllama_reference(texts: list[str], norm: bool) -> np.ndarray:
    """wordllama's own WordLlamaInference, built from the local files (no network)."""
    from wordllama.inference import WordLlamaInference

    weights, tokenizer = wordllama_files()
    with safe_open(str(weights), framework="np") as f:
        matrix = f.get_tensor("embedding.weight")
    return WordLlamaInference(matrix, Tokenizer.from_file(str(tokenizer))).embed(texts, norm=norm)


def test_matches_wordllama_inference(embedder: StaticEmbedder) -> None:
    ref = _wordllama_reference(SENTENCES, norm=False)
    ours = embedder.embed(SENTENCES, normalize=False).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-4)
    non_empty = [s for s in SENTENCES if s]
    ref_n = _wordllama_reference(non_empty, norm=True)
    np.testing.assert_allclose(embedder.embed(non_empty).numpy(), ref_n, rtol=1e-3, atol=1e-4)


def test_shapes_norms_and_defaults(embedder: StaticEmbedder) -> None:
    assert embedder.dim == 256
    assert tuple(embedder.weight.shape) == (32000, 256)
    assert embedder.weight.dtype == torch.float32
    out = embedder.embed(SENTENCES, batch_size=3)
    assert out.shape == (4, 256)
    norms = out.norm(dim=-1)
    torch.testing.assert_close(norms[[0, 1, 3]], torch.ones(3))
    assert norms[2] == 0  # empty text: zero vector, not NaN
    assert embedder.embed([]).shape == (0, 256)
    sim = embedder.similarity(["a cat sat on a mat"], ["a cat sat on the mat", "stock prices"])
    assert sim[0, 0] > sim[0, 1]


def test_tokenizer_conforms(embedder: StaticEmbedder) -> None:
    tok = embedder.tokenizer
    assert isinstance(tok, TextTokenizer)
    ids = tok.encode("Hello, world!")
    assert ids == [15043, 29892, 3186, 29991]  # no <s>: wordllama encodes without specials
    assert tok.decode(ids) == "Hello, world!"
    assert tok.encode_batch(["Hello, world!", ""]) == [ids, []]
    spec = tok.to_spec()
    assert spec["type"] == "hf"
    from polytok.tokenizers import tokenizer_from_spec

    assert tokenizer_from_spec(spec).encode("Hello, world!") == ids


def test_forward_offsets_and_weighted_pooling(embedder: StaticEmbedder) -> None:
    ids, offsets = embedder.encode(["a b", "c d e"])
    pooled = embedder(ids, offsets)  # (2, D)
    manual = embedder.weight[ids[offsets[1] :]].mean(0)
    torch.testing.assert_close(pooled[1], manual)
    weighted = StaticEmbedder(StaticEmbedderConfig(pooling="weighted"))
    w = torch.ones(ids.numel())
    torch.testing.assert_close(weighted(ids, offsets, w), pooled)
    w = torch.zeros(ids.numel())
    w[0] = 1.0
    torch.testing.assert_close(weighted(ids, offsets, w)[0], embedder.weight[ids[0]])
    with pytest.raises(ValueError, match="per_token_weights"):
        embedder(ids, offsets, w)
    with pytest.raises(ValueError, match="1-D"):
        embedder(ids.view(1, -1), offsets)


def test_token_sums_give_exact_centroids(embedder: StaticEmbedder) -> None:
    texts = ["first part of a text", "", "second part"]
    sums, counts = embedder.token_sums(texts)
    assert counts.tolist() == [len(embedder.tokenizer.encode(t)) for t in texts]
    raw = embedder.embed(texts, normalize=False)
    torch.testing.assert_close(sums[0] / counts[0], raw[0])
    assert sums[1].abs().sum() == 0
    ids = embedder.tokenizer.encode(texts[0]) + embedder.tokenizer.encode(texts[2])
    centroid = embedder.weight[torch.tensor(ids)].mean(0)
    torch.testing.assert_close(sums.sum(0) / counts.sum(), centroid)


def test_gradient_flows_when_unfrozen() -> None:
    emb = StaticEmbedder(StaticEmbedderConfig(freeze=False, trunc_dim=64))
    assert emb.dim == 64
    ids, offsets = emb.encode(["gradient check"])
    emb(ids, offsets).sum().backward()
    grad = emb.weight.grad
    assert grad is not None
    assert grad[ids].abs().sum() > 0 and grad.abs().sum() == grad[ids.unique()].abs().sum()


def test_state_dict_round_trip(tmp_path) -> None:
    from safetensors.torch import load_file, save_file

    emb = StaticEmbedder(StaticEmbedderConfig(trunc_dim=128))
    assert list(emb.state_dict()) == ["bag.weight"]
    save_file(emb.state_dict(), str(tmp_path / "m.safetensors"))
    path = tmp_path / "m.safetensors"
    again = StaticEmbedder(
        StaticEmbedderConfig(
            weights=str(path), tokenizer=str(wordllama_files()[1]), tensor_key="bag.weight"
        )
    )
    again.load_state_dict(load_file(str(path)), strict=True)
    torch.testing.assert_close(again.embed(SENTENCES), emb.embed(SENTENCES))


def test_bad_inputs(tmp_path) -> None:
    with pytest.raises(ValueError, match="pooling"):
        StaticEmbedderConfig(pooling="max")
    with pytest.raises(ValueError, match="trunc_dim"):
        StaticEmbedderConfig(trunc_dim=0)
    with pytest.raises(ValueError, match="max_tokens"):
        StaticEmbedderConfig(max_tokens=-1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        StaticEmbedder(StaticEmbedderConfig(weights=str(tmp_path / "nope.safetensors")))
    emb = StaticEmbedder()
    with pytest.raises(TypeError, match="list of strings"):
        emb.embed("one string")
    with pytest.raises(TypeError, match="strings only"):
        emb.embed(["ok", 3])


def test_follows_input_device_dtype() -> None:
    emb = StaticEmbedder(StaticEmbedderConfig(trunc_dim=64)).to(torch.float64)
    ids, offsets = emb.encode(["dtype follows the module"])
    assert emb(ids, offsets).dtype == torch.float64


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    emb = StaticEmbedder()
    cpu = emb.embed(SENTENCES)
    torch.testing.assert_close(emb.cuda().embed(SENTENCES).cpu(), cpu, rtol=1e-4, atol=1e-5)
