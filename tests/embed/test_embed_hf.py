"""HFMeanPoolEmbedder on a tiny randomly initialised BERT saved to a local directory."""

from __future__ import annotations

import pytest
import torch

from polytok.embed import HFMeanPoolEmbedder

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "far", ".", ","]


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory) -> str:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny_bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
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
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(str(path))
    return str(path)


def test_mean_pool_and_tokens(tiny_bert_dir: str) -> None:
    emb = HFMeanPoolEmbedder(tiny_bert_dir)
    assert emb.dim == 32
    out = emb.embed(["the cat sat", "the dog ran far ."])
    assert out.shape == (2, 32)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(2))
    toks = emb.token_embeddings(["the cat sat", "the dog ran far ."])
    assert [t.shape[0] for t in toks] == [3, 5]  # [CLS]/[SEP] dropped
    # mean pooling of the un-normalised states equals embed() after normalisation
    hidden, mask = emb._batch(["the cat sat"])
    manual = torch.nn.functional.normalize(hidden[0][mask[0]].mean(0), dim=-1)
    torch.testing.assert_close(out[0], manual)


def test_missing_dir(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json"):
        HFMeanPoolEmbedder(tmp_path)
