"""Int8Linear (W8A8, per-token activation scales) against the float layer it copies."""

import pytest
import torch
from torch import nn

from polytok.nn.int8 import Int8Linear, quantize_linears


def test_close_to_float_and_exact_on_representable_values() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    q = Int8Linear(linear)
    x = torch.randn(5, 7, 64)  # (B, T, K)
    x[0, 0] = 0.0  # an all-zero token stays exactly the bias
    with torch.no_grad():
        ref = linear(x)
    out = q(x)
    assert out.shape == (5, 7, 32) and out.dtype == torch.float32
    rel = (out - ref).norm() / ref.norm()
    assert rel < 0.02, rel  # int8 with per-row scales: ~1% error
    assert torch.allclose(out[0, 0], linear.bias.detach(), atol=1e-6)
    # weights and inputs that int8 holds exactly: the product is exact up to float rounding
    exact = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        exact.weight.copy_(torch.tensor([[127.0, -64.0, 1.0, 0.0], [2.0, 3.0, -127.0, 5.0]]))
    xi = torch.tensor([[127.0, 1.0, -3.0, 0.0]])
    assert torch.allclose(Int8Linear(exact)(xi), xi @ exact.weight.detach().T)
    # no state-dict entries: the copy is rebuilt from the float layer, never saved
    assert q.state_dict() == {}


def test_quantize_linears_replaces_every_linear_in_place() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Sequential(nn.Linear(32, 8)))
    x = torch.randn(3, 16)
    with torch.no_grad():
        ref = model(x)
    assert quantize_linears(model) is model
    assert isinstance(model[0], Int8Linear) and isinstance(model[2][0], Int8Linear)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    assert torch.allclose(model(x), ref, atol=0.05 * ref.abs().max())


def test_refuses_modules_off_the_cpu() -> None:
    with pytest.raises(ValueError, match="runs on CPU modules, got a parameter on meta"):
        quantize_linears(nn.Linear(4, 4, device="meta"))
