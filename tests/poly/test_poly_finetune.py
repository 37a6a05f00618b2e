"""fine_tune_embeddings: a real Lightning run whose held-out check improves."""

from __future__ import annotations

import random

import pytest
import torch

from polytok.poly import PolyTokenizer
from polytok.poly.finetune import held_out_mrr, skipgram_pairs
from polytok.systems.poly_finetune import EmbeddingFineTuneSystem, fine_tune_embeddings


def _topic_corpus(num_topics=6, per_topic=8, sequences=240, length=10, seed=0):
    topics = [[f"t{k}_w{i}" for i in range(per_topic)] for k in range(num_topics)]
    rng = random.Random(seed)
    data = []
    for _ in range(sequences):
        words = topics[rng.randrange(num_topics)]
        data.append([rng.choice(words) for _ in range(length)])
    return topics, data


def test_fine_tune_improves_held_out_and_writes_loss_curve(tmp_path):
    topics, data = _topic_corpus()
    p = PolyTokenizer(dim=32)
    p.add_tokens([w for t in topics for w in t])
    p.add_version("text", "v2")  # train the child: copy-on-write keeps v1 as it was
    v1 = p.get_embeddings(topics[0], version="v1").detach().clone()
    result = fine_tune_embeddings(
        p, data, version="v2", epochs=2, batch_size=128, output_dir=tmp_path, tensorboard=True
    )
    assert list(tmp_path.glob("poly_finetune/*/events.out.tfevents.*"))
    assert len(result.losses) == 2 * -(-result.num_pairs // 128)
    first, last = sum(result.losses[:5]) / 5, sum(result.losses[-5:]) / 5
    assert last < 0.8 * first
    assert result.val_mrr_after > result.val_mrr_before + 0.1
    assert result.plot_path.is_file() and result.plot_path.stat().st_size > 1000
    assert torch.equal(p.get_embeddings(topics[0], version="v1"), v1)
    assert p.lookup(topics[0][0], version="v2").level == "exact"
    assert not torch.equal(p.get_embeddings(topics[0], version="v2"), v1)
    assert torch.get_num_threads() >= 1


def test_sgns_pieces():
    pairs = skipgram_pairs([[0, 1, 2]], window=1)
    assert pairs.tolist() == [[0, 1], [1, 0], [1, 2], [2, 1]]
    table = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    assert held_out_mrr(table, torch.tensor([[0, 1]]), torch.tensor([0, 1, 2])) == 1.0
    assert held_out_mrr(table, torch.tensor([[0, 2]]), torch.tensor([0, 1, 2])) == 0.5
    param = torch.nn.Parameter(torch.randn(3, 2))
    system = EmbeddingFineTuneSystem(param, torch.ones(3))
    loss = system.sgns_loss(torch.tensor([0, 1]), torch.tensor([1, 2]))
    loss.backward()
    assert system.context.grad is not None and torch.isfinite(loss)
    assert dict(system.hparams) == {"lr": 0.05, "num_negatives": 5}  # primitives only


def test_fine_tune_errors():
    p = PolyTokenizer(dim=16)
    p.add_tokens(["a", "b"])
    with pytest.raises(ValueError, match="add it with add_tokens"):
        fine_tune_embeddings(p, [["a", "zzz"], ["a", "b"]])
    with pytest.raises(ValueError, match="at least two sequences"):
        fine_tune_embeddings(p, [["a", "b"]])
    with pytest.raises(ValueError, match="val_fraction"):
        fine_tune_embeddings(p, [["a", "b"], ["b", "a"]], val_fraction=1.5)
