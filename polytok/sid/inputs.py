"""Input validation shared by the semantic-ID models: arrays or tensors in, same kind out."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from polytok.sid.errors import ShapeMismatchError
from polytok.sid.formats import Formatter, codes_to_ids

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def as_matrix(x, name: str = "X", dim: int | None = None) -> Tensor:
    """Validate ``x`` (numpy array or tensor, (N, D)) into a float32 tensor.

    Floating-point input is computed in float32; integer and boolean input is cast to float32.

    Raises:
        TypeError: not an array/tensor, or of a non-numeric or complex dtype.
        ShapeMismatchError: not 2-D, no columns, or the wrong width (a ``ValueError``).
        ValueError: no rows, or NaN/inf rows (their indices are named).
    """
    if isinstance(x, np.ndarray):
        if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
            x = x.astype(np.float32)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"{name} must be a numeric (float or int) array, got dtype {x.dtype}; convert it "
                "with X.astype('float32')"
            )
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, Tensor):
        if not x.dtype.is_floating_point and not x.dtype.is_complex:
            x = x.float()
        if x.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name} must be a real-valued tensor, got dtype {x.dtype}")
        t = x.detach()
    else:
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if t.ndim != 2:
        raise ShapeMismatchError(f"{name} must be 2-D (N, D), got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} has no rows; pass at least one vector")
    if t.shape[1] == 0:
        raise ShapeMismatchError(
            f"{name} has shape {tuple(t.shape)}: vectors with no dimensions; pass (N, D), D >= 1"
        )
    if dim is not None and t.shape[1] != dim:
        raise ShapeMismatchError(
            f"{name} has {t.shape[1]} dimensions but the model was fitted on {dim}; "
            "encode vectors of the same width"
        )
    # One float32 sum (no float64: MPS has none) is finite when every value is; the row scan
    # that names the bad rows runs only when it is not (an overflowing sum of finite values
    # then finds no bad row and passes).
    bad = None
    if not torch.isfinite(t.sum(dtype=torch.float32)):
        bad = (~torch.isfinite(t).all(1)).nonzero().squeeze(1)
    if bad is not None and bad.numel():
        shown = bad[:10].tolist()
        more = f" and {bad.numel() - 10} more" if bad.numel() > 10 else ""
        raise ValueError(
            f"{name} has NaN or inf values in {bad.numel()} row(s): {shown}{more}; "
            "drop or impute these rows"
        )
    return t.float()


def as_codes(codes, n_levels: int) -> Tensor:
    """Validate (N, L) integer codes (array or tensor) into an int64 tensor."""
    t = torch.from_numpy(np.asarray(codes)) if not isinstance(codes, Tensor) else codes
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"codes must be integers, got dtype {t.dtype}")
    if t.ndim != 2 or t.shape[1] != n_levels:
        raise ShapeMismatchError(f"codes must have shape (N, {n_levels}), got {tuple(t.shape)}")
    return t.long()


def like_input(result: Tensor, original) -> Tensor | np.ndarray:
    """Return ``result`` as numpy when ``original`` was numpy, else as a tensor on its device."""
    if isinstance(original, np.ndarray):
        return result.detach().cpu().numpy()
    if isinstance(original, Tensor):
        return result.to(original.device)
    return result


def semantic_ids(
    codes, sep: str = "-", fmt: str = "plain", formatter: Formatter | None = None
) -> list[str]:
    """(N, L) codes -> ``["3-9-1", ...]`` (see `polytok.sid.formats.codes_to_ids`)."""
    return codes_to_ids(codes, sep=sep, fmt=fmt, formatter=formatter)


def gaussian_mixture(
    n: int, dim: int, components: int, seed: int = 0, scale: float = 1.0, spread: float = 0.3
) -> np.ndarray:
    """A deterministic (n, dim) float32 Gaussian mixture: demo, test and benchmark data.

    Means are ``scale * N(0, I)``, each row picks a mean uniformly, plus ``spread * N(0, I)`` noise.
    """
    rng = np.random.default_rng(seed)
    means = (rng.normal(size=(components, dim)) * scale).astype(np.float32)
    labels = rng.integers(components, size=n)
    return means[labels] + spread * rng.normal(size=(n, dim)).astype(np.float32)
