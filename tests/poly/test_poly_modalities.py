"""Semantic IDs of images as PolyTokenizer tokens (sklearn digits)."""

from __future__ import annotations

import pytest
import torch

from polytok.poly import PolyTokenizer, add_semantic_ids, semantic_id_token
from polytok.sid import RQKMeans


def _residual_codes(x: torch.Tensor, levels: int = 2, k: int = 16) -> torch.Tensor:
    """Codes from polytok.sid.RQKMeans (the semantic-ID subsystem)."""
    model = RQKMeans(n_levels=levels, n_clusters=k, random_state=0)
    return torch.as_tensor(model.fit(x).encode(x)).long()  # (N, levels)


@pytest.mark.slow
def test_digits_semantic_ids_become_image_tokens():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0  # (1797, 64)
    labels = torch.tensor(digits.target)
    codes = _residual_codes(x)
    p = PolyTokenizer(dim=32)
    tokens = add_semantic_ids(p, codes, x, modality="image")
    assert len(tokens) == len(x) and tokens[0] == semantic_id_token(codes[0])
    ids = RQKMeans(n_levels=2, n_clusters=16).semantic_id(codes)
    assert [t.removeprefix("sid:") for t in tokens] == ids  # same naming as polytok.sid
    assert set(p.tokens("image")) == set(tokens)
    assert p.lookup(tokens[0], "image").level == "exact"
    # first-level codes group digits: label purity well above chance (0.1)
    purity = sum(
        torch.bincount(labels[codes[:, 0] == c]).max().item() for c in codes[:, 0].unique()
    ) / len(labels)
    assert purity > 0.6
    # informative init: nearest token (by embedding) of a digit's token mostly has the same label
    uniq = list(dict.fromkeys(tokens))
    label_of = {
        t: torch.bincount(labels[[i for i, s in enumerate(tokens) if s == t]]).argmax()
        for t in uniq
    }
    emb = torch.nn.functional.normalize(p.get_embeddings(uniq, "image").detach(), dim=-1)
    sim = emb @ emb.T
    sim.fill_diagonal_(-2)
    nn_label = torch.stack([label_of[uniq[j]] for j in sim.argmax(1).tolist()])
    agree = (nn_label == torch.stack([label_of[t] for t in uniq])).float().mean()
    assert agree > 0.5
    again = add_semantic_ids(p, codes[:10], x[:10], modality="image")  # idempotent
    assert again == tokens[:10] and len(p.tokens("image")) == len(uniq)


def test_semantic_id_tokens_small():
    p = PolyTokenizer(dim=16)
    codes = torch.tensor([[3, 9, 1], [3, 9, 1], [0, 2, 5]])
    vectors = torch.tensor([[1.0] * 8, [3.0] * 8, [0.0] * 8])
    tokens = add_semantic_ids(p, codes, vectors, modality="vectors")
    assert tokens == ["sid:3-9-1", "sid:3-9-1", "sid:0-2-5"]
    assert "vectors" in p.modalities and len(p.tokens("vectors")) == 2
    # the mean vector (2.0 * ones(8)) projected to 16 dims is the meta-embedding
    from polytok.poly.modalities import random_projection

    expected = torch.full((1, 8), 2.0) @ random_projection(8, 16)
    assert torch.allclose(p.get_meta_embedding("sid:3-9-1", "vectors"), expected[0], atol=1e-5)
    with pytest.raises(ValueError, match="integer"):
        add_semantic_ids(p, torch.rand(3, 2), modality="vectors")
