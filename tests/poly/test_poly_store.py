"""MetaEmbeddingStore: growth keeps Parameters and optimizer state valid."""

from __future__ import annotations

import pytest
import torch

from polytok.poly.store import MetaEmbeddingStore


def _step(store, opt, rows):
    opt.zero_grad()
    store.lookup("text:v1", torch.tensor(rows)).pow(2).sum().backward()
    opt.step()


@pytest.mark.parametrize("optim", ["adamw", "sgd"])
def test_adamw_step_after_growth_preserves_old_state(optim):
    torch.manual_seed(0)
    store = MetaEmbeddingStore(8)
    store.create_table("text:v1", capacity=4)
    store.append("text:v1", torch.randn(4, 8))
    param = store.table("text:v1")
    opt = (
        torch.optim.AdamW(store.parameters(), lr=0.1)
        if optim == "adamw"
        else torch.optim.SGD(store.parameters(), lr=0.1, momentum=0.9)
    )
    store.attach_optimizer(opt)
    for _ in range(3):
        _step(store, opt, [0, 1, 2, 3])
    state_before = {
        k: v.clone() for k, v in opt.state[param].items() if torch.is_tensor(v) and v.ndim == 2
    }
    rows_before = param.detach()[:4].clone()
    new_rows = store.append("text:v1", torch.randn(13, 8))  # 4 -> 17 rows: capacity 4 -> 32
    assert new_rows.tolist() == list(range(4, 17))
    assert store.table("text:v1") is param and param.shape == (32, 8)
    for name, before in state_before.items():
        after = opt.state[param][name]
        assert after.shape == (32, 8)
        assert torch.equal(after[:4], before[:4])  # old rows keep their moments
        assert (after[4:] == 0).all()  # new rows start fresh
    assert torch.equal(param.detach()[:4], rows_before)
    _step(store, opt, [0, 5, 16])  # a step touching old and new rows works
    assert not torch.equal(param.detach()[16], store.export()["text:v1"][16] * 0)
    assert store.num_rows("text:v1") == 17 and store.export()["text:v1"].shape == (17, 8)


def test_step_after_growth_equals_fresh_optimizer_on_new_rows():
    store = MetaEmbeddingStore(4)
    store.create_table("text:v1", capacity=1)
    store.append("text:v1", torch.ones(1, 4))
    opt = torch.optim.Adam(store.parameters(), lr=0.1)
    store.attach_optimizer(opt)
    _step(store, opt, [0])
    store.append("text:v1", torch.full((1, 4), 2.0))
    _step(store, opt, [1])
    # row 1 got a step with zero moments and the shared step count (2): the bias-corrected Adam
    # update of a first gradient g is lr * m_hat / sqrt(v_hat) with m_hat, v_hat from one step
    g = 4.0  # d/dx x^2 at x=2
    m, v = 0.1 * g, 0.001 * g * g
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = 2.0 - 0.1 * m_hat / (v_hat**0.5 + 1e-8)
    assert torch.allclose(store.table("text:v1").detach()[1], torch.full((4,), expected), atol=1e-5)


def test_lookup_gradients_and_errors():
    store = MetaEmbeddingStore(3)
    store.create_table("a:v1")
    store.append("a:v1", torch.randn(2, 3))
    out = store(("a:v1"), torch.tensor([1, 1, 0]))
    out.sum().backward()
    assert store.table("a:v1").grad[:2].tolist() == [[1.0] * 3, [2.0] * 3]
    with pytest.raises(ValueError, match=r"shape \(k, 3\)"):
        store.append("a:v1", torch.randn(2, 4))
    with pytest.raises(ValueError, match="exists"):
        store.create_table("a:v1")
    with pytest.raises(ValueError, match="table key"):
        store.create_table("a.b")
    with pytest.raises(IndexError):
        store.write("a:v1", torch.tensor([5]), torch.zeros(1, 3))
    assert list(store.state_dict()) == ["tables.a:v1"]
