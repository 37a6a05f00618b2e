"""SentenceEmbedder: the real all-MiniLM-L6-v2 against sentence-transformers itself."""

from __future__ import annotations

import pytest
import torch

from polytok.assets import MINILM_ZIP_SHA256, minilm_dir
from polytok.embed import SentenceEmbedder

TEXTS = [
    "The cat sat on the mat.",
    "",  # only [CLS] [SEP]
    "Stock prices fell sharply on Tuesday after the quarterly report.",
    "Ünïcödé, accents and 中文 characters.",
    "a long text " * 200,  # truncated at 256 tokens
    "def f(x):\n    return x ** 2",
    "We propose a residual quantiser for semantic identifiers.",
]


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


@pytest.fixture(scope="module")
def reference() -> torch.Tensor:
    """Embeddings computed by sentence-transformers from the same extracted directory."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_dir()), device="cpu", local_files_only=True)
    assert model.max_seq_length == 256
    return model.encode(TEXTS, convert_to_tensor=True, batch_size=3)


def test_minilm_dir_holds_the_model():
    path = minilm_dir()
    assert MINILM_ZIP_SHA256[:12] in path.name
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json"):
        assert (path / name).is_file()
    assert minilm_dir() == path  # extracted once, then found


def test_matches_sentence_transformers(embedder, reference):
    ours = embedder.encode(TEXTS, batch_size=3)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == torch.float32
    assert torch.allclose(ours, reference, atol=1e-5), (ours - reference).abs().max()
    assert torch.allclose(ours.norm(dim=1), torch.ones(len(TEXTS)), atol=1e-5)
    one_by_one = embedder.encode(TEXTS, batch_size=1)  # padding must not change a text's vector
    assert torch.allclose(one_by_one, ours, atol=1e-5)
    sims = ours @ ours.T  # a real model: the two finance/science sentences differ from the cat
    assert sims[0, 2] < 0.5 and embedder.dim == 384


def test_int8_precision_close_to_float32(embedder) -> None:
    fast = SentenceEmbedder(precision="int8")
    ours = fast.encode(TEXTS, batch_size=3)
    ref = embedder.encode(TEXTS)
    cos = (ours * ref).sum(1)
    assert ours.shape == ref.shape and ours.dtype == torch.float32
    assert cos.min() > 0.98 and cos.mean() > 0.99, cos  # measured: min 0.99 on these texts
    assert not torch.allclose(ours, ref, atol=1e-4)  # it really ran the int8 copy
    assert fast.fingerprint == embedder.fingerprint + "|precision=int8"
    assert fast.state_dict().keys() == embedder.state_dict().keys()  # the copy is not saved
    with torch.no_grad():  # a weight change rebuilds the int8 copy
        fast.model.encoder.layer[0].output.dense.weight.mul_(0.5)
    assert not torch.allclose(fast.encode(TEXTS[:2]), ours[:2], atol=1e-3)
    with pytest.raises(ValueError, match="precision must be one of"):
        SentenceEmbedder(precision="fp8")


@pytest.mark.slow
def test_forward_unnormalised_and_gradients(embedder):
    raw = SentenceEmbedder(embedder.path, normalize=False, max_length=16)
    enc = raw.tokenizer(TEXTS[:3], padding=True, return_tensors="pt")
    out = raw(enc["input_ids"], enc["attention_mask"])  # (B, D)
    assert out.shape == (3, 384)
    assert not torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-2)
    normed = embedder.encode(TEXTS[:3])
    assert torch.allclose(torch.nn.functional.normalize(out.detach(), dim=1), normed, atol=1e-5)
    out.sum().backward()
    assert raw.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    assert raw.encode(["x"]).shape == (1, 384) and not raw.training


def test_bad_inputs(embedder, tmp_path):
    with pytest.raises(TypeError, match="pass \\[text\\]"):
        embedder.encode("one string")
    with pytest.raises(TypeError, match="texts\\[1\\] is int"):
        embedder.encode(["ok", 3])
    with pytest.raises(ValueError, match="batch_size"):
        embedder.encode(["ok"], batch_size=0)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        SentenceEmbedder(tmp_path)
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.gpu
def test_on_gpu_matches_cpu(embedder):
    device = "cuda" if torch.cuda.is_available() else "mps"
    if device == "mps" and not torch.backends.mps.is_available():
        pytest.skip("no GPU")
    gpu = SentenceEmbedder().to(device)
    out = gpu.encode(TEXTS, batch_size=4)
    assert out.device.type == device
    assert torch.allclose(out.cpu(), embedder.encode(TEXTS), atol=1e-4)
    int8 = SentenceEmbedder(precision="int8").to(device)  # int8 is CPU-only: float32 here
    assert torch.allclose(int8.encode(TEXTS).cpu(), embedder.encode(TEXTS), atol=1e-4)


@pytest.mark.slow
def test_docs_blocks_run(tmp_path):
    import os
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "embed.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    mine = [b for b in blocks if "SentenceEmbedder()" in b]
    assert len(mine) == 2
    for block in mine:
        exec(compile(block.replace("/tmp/", f"{tmp_path}{os.sep}"), str(doc), "exec"), {})


def test_num_layers_keeps_the_first_layers(embedder) -> None:
    """An early-exit encoder: its vectors are the mean-pooled states of layer k of the full one."""
    short = SentenceEmbedder(num_layers=2)
    assert short.num_layers == 2 and len(short.model.encoder.layer) == 2
    assert "layers=2" in short.fingerprint and "layers" not in embedder.fingerprint
    batch = embedder.tokenizer(TEXTS[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        states = embedder.model(**batch, output_hidden_states=True).hidden_states[2]
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)
    assert torch.allclose(short.encode(TEXTS[:3]), expected, atol=1e-5)
    assert not torch.allclose(embedder.encode(TEXTS[:3]), expected, atol=1e-2)
    for bad in (0, 7, "3", 2.0):
        with pytest.raises(ValueError, match="num_layers"):
            SentenceEmbedder(num_layers=bad)
