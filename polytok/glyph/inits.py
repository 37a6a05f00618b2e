"""How the rows of new tokens (glyphs, families, markers) start when a pretrained LM is extended.

Every rule returns a `NewRows`: input rows (N, D), output rows (N, D) or None (= the input rows,
for tied embeddings), a logit offset (N,) or None, and an offset on the base vocabulary's logits
(B,) or None.

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
- ``split`` (default): as ``expansion``, and the base token ``t`` that starts glyphs gives them
  their share of its probability: its own logit is lowered by ``log(1 - m_t)``, where
  ``m_t = sum over glyphs g starting with t of share(g)`` (capped at ``1 - floor``). In the
  hybrid text ``t`` stands alone only where no glyph matched, so at step 0 the extended
  vocabulary is normalised as the base one was, instead of counting ``t``'s mass twice. The share
  is the base model's ``p(rest | t)``; given the token counts of the training text (the training
  task and the study pass them) it is the weighted geometric mean of that and the count ratio
  ``(c_g + a) / (n_t + a)``, ``n_t`` the positions of the text whose token is ``t`` or a glyph
  starting with ``t`` (`count_logprob`; weight `SPLIT_COUNT_WEIGHT`, chosen on validation text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

INITS = ("split", "expansion", "mean", "mean_all", "random")
DEFAULT_INIT = "split"
OFFSET_INITS = ("split", "expansion")  # inits with their own output rows and logit offsets
SPLIT_FLOOR = 0.05  # ``split``: a base token keeps at least this share of its probability
# ``split`` with counts: weight of the count estimate in log space, and the counts' smoothing. Chosen
# on the validation pieces of the plays and dialog (docs/glyph.md, "Adapting a pretrained GPT-2").
SPLIT_COUNT_WEIGHT = 0.75
COUNT_SMOOTHING = 0.5


@dataclass
class NewRows:
    """Starting rows for ``N`` new tokens.

    Attributes:
        inp: (N, D) input embedding rows.
        out: (N, D) output (LM head) rows, or None: tied to ``inp``.
        offset: (N,) logit offsets, or None.
        base_offset: (B,) offsets on the base vocabulary's logits, or None.
    """

    inp: torch.Tensor
    out: torch.Tensor | None = None
    offset: torch.Tensor | None = None
    base_offset: torch.Tensor | None = None


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
    counts: torch.Tensor | None = None,
) -> NewRows:
    """Starting rows for the new tokens whose base expansions are ``expansions``.

    Args:
        init: one of `INITS`.
        in_weight: (V, D) base input embedding.
        out_weight: (V, D) base output rows, or None when tied to ``in_weight``.
        expansions: N non-empty lists of base ids.
        std: ``random``'s standard deviation (the base config's ``initializer_range``).
        seed: seed of ``random`` / ``mean_all``.
        expansion_logprob: ``expansion``/``split``: N expansions -> (N,) ``log p(t_2..t_n | t_1)``.
        counts: ``split`` only, optional: (B + N,) counts of every id in the training text.

    Raises:
        ValueError: unknown init, or ``expansion``/``split`` without ``expansion_logprob``.
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
        raise ValueError(f"init {init!r} needs expansion_logprob (the base model's scorer)")
    head = in_weight if out_weight is None else out_weight
    first = torch.tensor([e[0] for e in expansions], device=head.device)
    offset = expansion_logprob(expansions).to(inp)
    if init == "split" and counts is not None:
        from_counts = count_logprob(counts, first, head.shape[0]).to(offset)
        offset = (1 - SPLIT_COUNT_WEIGHT) * offset + SPLIT_COUNT_WEIGHT * from_counts
    rows = NewRows(inp, head[first].detach().clone(), offset)
    if init == "split":
        rows.base_offset = split_offsets(first, offset, head.shape[0])
    return rows


def count_logprob(
    counts: torch.Tensor, first: torch.Tensor, base_vocab: int, alpha: float = COUNT_SMOOTHING
) -> torch.Tensor:
    """(B + N,) id counts of a text and (N,) first base ids -> (N,) ``log((c_g + a) / (n_t + a))``.

    ``n_t`` counts the positions whose token is ``t`` itself or a new token starting with ``t``:
    the ratio is the share of ``t``'s positions that the tokenizer turned into ``g``.

    Raises:
        ValueError: ``counts`` does not cover the base vocabulary and the new tokens.
    """
    if counts.ndim != 1 or counts.shape[0] != base_vocab + first.shape[0]:
        raise ValueError(
            f"counts must have one entry per id ({base_vocab} base + {first.shape[0]} new), "
            f"got shape {tuple(counts.shape)}"
        )
    counts = counts.double().cpu()
    first = first.cpu()
    positions = counts[:base_vocab].clone()
    positions.index_add_(0, first, counts[base_vocab:])  # (B,): t alone or a glyph from t
    return ((counts[base_vocab:] + alpha) / (positions[first] + alpha)).log().float()


def split_offsets(
    first: torch.Tensor, logprob: torch.Tensor, base_vocab: int, floor: float = SPLIT_FLOOR
) -> torch.Tensor:
    """(N,) first base ids and (N,) ``log p(rest | first)`` -> (B,) ``log(1 - m_t)`` offsets.

    ``m_t`` sums ``p(rest | t)`` over the new tokens that start with ``t``, capped at
    ``1 - floor``; base tokens that start no new token get 0.
    """
    mass = torch.zeros(base_vocab, dtype=torch.float32, device=logprob.device)
    mass.index_add_(0, first.to(logprob.device), logprob.float().exp())  # (B,)
    return torch.log1p(-mass.clamp(max=1.0 - floor)).to(logprob.dtype)
