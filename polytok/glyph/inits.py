"""How the rows of new tokens (glyphs, families, markers) start when a pretrained LM is extended.

Every rule returns a `NewRows`: input rows (N, D), output rows (N, D) or None (= the input rows,
for tied embeddings), and a logit offset (N,) or None.

- ``mean``: each input row is the mean of the base input rows of the glyph's expansion (Fast
  Vocabulary Transfer, Gee et al. 2022); output rows likewise (tied models: the same rows).
- ``mean_all``: a draw around the mean of all base rows, ``N(mu, 1e-9 Sigma)`` (Hewitt 2021;
  transformers' ``resize_token_embeddings(mean_resizing=True)``).
- ``random``: ``N(0, initializer_range)``, the base model's own initialisation.
- ``expansion`` (default): input rows as ``mean``; the output side is the glyph's *first* base
  token's output row plus a logit offset ``log p(t_2..t_n | t_1)`` under the base model, so at step
  0 the glyph's logit is the base log-probability of its whole expansion (as
  ``p(g | c) = p(t_1 | c) p(t_2..t_n | c, t_1)``, with the second factor taken context-free). With
  tied embeddings ``mean`` makes a glyph's output row the mean of its expansion, which
  over-predicts glyphs at step 0; this rule separates the two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

INITS = ("expansion", "mean", "mean_all", "random")
DEFAULT_INIT = "expansion"


@dataclass
class NewRows:
    """Starting rows for ``N`` new tokens.

    Attributes:
        inp: (N, D) input embedding rows.
        out: (N, D) output (LM head) rows, or None: tied to ``inp``.
        offset: (N,) logit offsets, or None.
    """

    inp: torch.Tensor
    out: torch.Tensor | None = None
    offset: torch.Tensor | None = None


def check_init(init: str) -> str:
    """Raises ValueError naming the valid inits when ``init`` is unknown."""
    if init not in INITS:
        raise ValueError(
            f"unknown init {init!r}; valid inits: {list(INITS)} (default {DEFAULT_INIT!r})"
        )
    return init


def expansion_means(weight: torch.Tensor, expansions: Sequence[Sequence[int]]) -> torch.Tensor:
    """(V, D) rows, N non-empty id lists -> (N, D): the mean row of each list."""
    lengths = torch.tensor([len(e) for e in expansions], device=weight.device)
    flat = torch.tensor([t for e in expansions for t in e], device=weight.device)
    offsets = torch.cumsum(lengths, 0) - lengths
    return F.embedding_bag(flat, weight, offsets, mode="mean")


def mean_all_rows(weight: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """(V, D) -> (n, D) draws from ``N(mu, 1e-9 Sigma)`` of the rows (Hewitt 2021)."""
    w = weight.detach().float()
    mu = w.mean(0)
    centred = w - mu
    cov = centred.T @ centred / max(w.shape[0] - 1, 1)  # (D, D)
    eye = torch.eye(w.shape[1], device=w.device)
    chol = torch.linalg.cholesky(1e-9 * cov + 1e-12 * eye)
    z = torch.randn(n, w.shape[1], generator=generator, device="cpu").to(w.device)
    return (mu + z @ chol.T).to(weight.dtype)


def new_rows(
    init: str,
    in_weight: torch.Tensor,
    out_weight: torch.Tensor | None,
    expansions: Sequence[Sequence[int]],
    *,
    std: float = 0.02,
    seed: int = 0,
    expansion_logprob: Callable[[Sequence[Sequence[int]]], torch.Tensor] | None = None,
) -> NewRows:
    """Starting rows for the new tokens whose base expansions are ``expansions``.

    Args:
        init: one of `INITS`.
        in_weight: (V, D) base input embedding.
        out_weight: (V, D) base output rows, or None when tied to ``in_weight``.
        expansions: N non-empty lists of base ids.
        std: ``random``'s standard deviation (the base config's ``initializer_range``).
        seed: seed of ``random`` / ``mean_all``.
        expansion_logprob: ``expansion`` only: N expansions -> (N,) ``log p(t_2..t_n | t_1)``.

    Raises:
        ValueError: unknown init, or ``expansion`` without ``expansion_logprob``.
    """
    check_init(init)
    g = torch.Generator().manual_seed(seed)
    n, d = len(expansions), in_weight.shape[1]
    if init == "random":
        rows = (torch.randn(n, d, generator=g) * std).to(in_weight)
        return NewRows(rows, None if out_weight is None else rows.clone())
    if init == "mean_all":
        return NewRows(
            mean_all_rows(in_weight, n, g),
            None if out_weight is None else mean_all_rows(out_weight, n, g),
        )
    inp = expansion_means(in_weight, expansions)
    if init == "mean":
        return NewRows(inp, None if out_weight is None else expansion_means(out_weight, expansions))
    if expansion_logprob is None:
        raise ValueError("init 'expansion' needs expansion_logprob (the base model's scorer)")
    head = in_weight if out_weight is None else out_weight
    first = torch.tensor([e[0] for e in expansions], device=head.device)
    return NewRows(inp, head[first].detach().clone(), expansion_logprob(expansions).to(inp))
