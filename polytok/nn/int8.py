"""Int8 inference for linear layers: `Int8Linear` (W8A8, dynamic per-token activation scales).

``y = (round(x / s_x) @ round(W / s_w)^T) * s_x * s_w + b`` with symmetric int8 weights, one scale
per output channel ``s_w = max_k |W_jk| / 127``, and activations quantized on the fly with one
scale per token (row) ``s_x = max_k |x_ik| / 127`` ("vector-wise" quantization, Dettmers et al.,
2022, "LLM.int8()", sec. 3.1; the per-token dynamic W8A8 setting of Xiao et al., 2023,
"SmoothQuant", sec. 3). The int8 product accumulates in int32 (``torch._int_mm``), which on a
CPU with VNNI runs 4-6x faster than a float32 matmul of the same shape on one thread.

Per-token scales keep the error of a token small when other tokens of the batch have large
activations; on all-MiniLM-L6-v2 sentence vectors they keep cosine 0.997 with float32, where
``torch.ao``'s per-tensor dynamic quantization keeps 0.97 (docs/compress.md).

Inference only (no gradients) and CPU only: `quantize_linears` is for a copy of a model used on
CPU.
"""

from __future__ import annotations

import torch
from torch import nn


class Int8Linear(nn.Module):
    """An inference-only int8 copy of an ``nn.Linear`` (see the module docstring).

    Args:
        linear: the float layer; its weights are quantized once, at construction.
    """

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()  # (N, K)
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0  # (N,)
        q = torch.round(weight / scale[:, None]).to(torch.int8)  # (N, K)
        # stored (N, K) and used as its (K, N) transpose: the column-major operand that the int8
        # GEMM reads fastest (about 1.6x a row-major (K, N) copy for 384 -> 1536 on one thread)
        self.register_buffer("weight", q, persistent=False)
        self.register_buffer("scale", scale, persistent=False)
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        self.register_buffer("bias", bias, persistent=False)
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., K) float -> (..., N) float32."""
        shape = x.shape
        x = x.reshape(-1, shape[-1]).float()  # (M, K)
        # per-token scale max|x| / 127; |x / s| <= 127 by construction. max(amax, -amin) avoids
        # a |x| temporary, and is ~20x faster on CPU than vector_norm(ord=inf), whose reduction
        # is not vectorised (it took more time than the int8 products themselves)
        peak = torch.maximum(x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True).neg_())
        inv = 127.0 / peak  # (M, 1)
        inv = torch.nan_to_num(inv, posinf=0.0)  # an all-zero token stays zero
        xq = (x * inv).round_().to(torch.int8)  # (M, K)
        y = torch._int_mm(xq, self.weight.t()).float()  # (M, K) @ (K, N) -> (M, N) int32
        y = y.div_(inv.clamp_min(1e-30))  # * s_x
        if self.bias is None:
            return y.mul_(self.scale).reshape(*shape[:-1], self.out_features)
        y = torch.addcmul(self.bias, y, self.scale)  # b + y * s_w
        return y.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def quantize_linears(module: nn.Module) -> nn.Module:
    """Replace every ``nn.Linear`` inside ``module`` by an `Int8Linear`, in place; returns it.

    Raises:
        ValueError: a parameter of ``module`` is not on the CPU (the int8 kernel is CPU-only here).
    """
    device = next((p.device for p in module.parameters() if p.device.type != "cpu"), None)
    if device is not None:
        raise ValueError(
            f"quantize_linears runs on CPU modules, got a parameter on {device}; quantize a CPU "
            "copy (int8 matmuls on other devices are not supported here)"
        )
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, Int8Linear(child))
    return module
