"""`SinkhornResolver`: unique IDs by balanced reassignment of last-level codes, not suffixes.

Items that share a full code are spread over the free last-level codewords of their prefix: for
every prefix ``(c_1, ..., c_{L-1})`` with a collision, the colliding items are matched to the
codes of that prefix that are free (unused) or colliding (each keeps one item), with unit
capacity per code, minimising the squared distance of each item's last-level residual to the
codeword. This is the balanced optimal-transport step of the semantic-id library's Sinkhorn
resolver (Sinkhorn-Knopp with a small epsilon on the last level; Cuturi, 2013), solved here
exactly as a linear assignment (Hungarian method, `scipy.optimize.linear_sum_assignment`), which
is the epsilon -> 0 limit. Items left over when a prefix has more items than codewords get a
counter suffix (``fallback_suffix=True``), so N items always get N unique IDs. Works on one
batch at a time (no store): the same batch always gives the same IDs.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor

from polytok.sid.layout import check_sep


def last_level(encoder, x: Tensor, codes: Tensor) -> tuple[Tensor, Tensor]:
    """Residual before the last level (N, D') and the last codebook (K_L, D') of ``encoder``.

    Args:
        encoder: a fitted `RQKMeans` (residual in input space) or `RQVAE` (in latent space).
        x: (N, D) float32 inputs on the encoder's device.
        codes: (N, L) their codes.
    """
    if hasattr(encoder, "codebooks"):  # RQKMeans
        books = encoder.codebooks
        residual = x.float().clone()
    else:  # RQVAE: latent of the encoder MLP, codebooks of the residual VQ
        books = [layer.codebook for layer in encoder.rvq.layers]
        was_training = encoder.training
        encoder.eval()
        with torch.no_grad():
            residual = encoder.latent(x)
        encoder.train(was_training)
    for level, book in enumerate(books[:-1]):
        residual = residual - book.index_select(0, codes[:, level])
    return residual.detach(), books[-1].detach()


class SinkhornResolver:
    """Balanced reassignment of colliding items to free last-level codes.

    Args:
        fallback_suffix: give items that find no free code a counter suffix (``-1``, ``-2``);
            when False they keep their colliding code.
        sep: separator before a fallback suffix.
    """

    def __init__(self, fallback_suffix: bool = True, sep: str = "-") -> None:
        check_sep(sep)
        self.fallback_suffix, self.sep = fallback_suffix, sep

    def reassign(self, residual: Tensor, codebook: Tensor, codes: Tensor) -> Tensor:
        """New (N, L) codes: colliding items moved to free last-level codes of their prefix.

        Args:
            residual: (N, D') residual of every item before the last level.
            codebook: (K_L, D') last-level codebook.
            codes: (N, L) original codes.
        """
        from scipy.optimize import linear_sum_assignment

        out = codes.clone().cpu()
        k = codebook.shape[0]
        by_prefix: dict[tuple, list[int]] = defaultdict(list)
        for i, row in enumerate(out[:, :-1].tolist()):
            by_prefix[tuple(row)].append(i)
        res, book = residual.float().cpu(), codebook.float().cpu()
        for members in by_prefix.values():
            last = out[members, -1]
            counts = torch.bincount(last, minlength=k)
            if int(counts.max()) < 2:
                continue
            movers = [m for m, c in zip(members, last.tolist()) if counts[c] > 1]
            slots = torch.nonzero((counts == 0) | (counts > 1)).squeeze(1)  # (S,)
            cost = torch.cdist(res[movers], book[slots]).pow(2).numpy()  # (M, S)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                out[movers[r], -1] = slots[c]
        return out

    def resolve(self, encoder, x: Tensor, codes: Tensor, to_ids) -> list[str]:
        """Unique IDs for one batch.

        Args:
            encoder: the fitted model that produced ``codes``.
            x: (N, D) inputs on the encoder's device.
            codes: (N, L) their codes.
            to_ids: codes -> list of semantic-ID strings (the engine's format).
        """
        residual, codebook = last_level(encoder, x, codes.to(x.device))
        new = self.reassign(residual, codebook, codes)
        ids = to_ids(new)
        if not self.fallback_suffix:
            return ids
        seen: dict[str, int] = {}
        out = []
        for sid in ids:
            n = seen.get(sid, 0)
            seen[sid] = n + 1
            out.append(sid if n == 0 else f"{sid}{self.sep}{n}")
        return out
