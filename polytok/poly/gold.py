"""Maximal-length sequences, Gold code families and the GPS L1 C/A codes.

An m-sequence of degree ``n`` is the output of a linear-feedback shift register whose feedback
polynomial is primitive; its period is ``N = 2**n - 1``. A *preferred pair* of m-sequences
``(u, v)`` has a three-valued periodic cross-correlation, and the Gold family
``{u, v} ∪ {u ⊕ T^k v : k = 0..N-1}`` (``2**n + 1`` codes) inherits that bound for every pair
and every lag:

    θ(τ) ∈ {-1, -t(n), t(n) - 2},   t(n) = 2**((n+1)//2) + 1   (n odd)
                                      t(n) = 2**((n+2)//2) + 1   (n even, n ≢ 0 mod 4)

Reference: R. Gold, "Optimal binary sequences for spread spectrum multiplexing", IEEE Trans.
Inf. Theory 13(4), 1967; D. V. Sarwate and M. B. Pursley, "Crosscorrelation properties of
pseudorandom and related sequences", Proc. IEEE 68(5), 1980. Preferred pairs do not exist for
``n ≡ 0 (mod 4)``. GPS codes: IS-GPS-200, section 3.3.2.3 and Table 3-Ia.

Bits are ``0/1`` ``np.uint8`` arrays; `to_bipolar` maps bit ``b`` to chip ``1 - 2b`` (``±1``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

# Preferred pairs as polynomial exponents (x^n + ... + 1), see ../shared/DESIGN.md.
PREFERRED_PAIRS: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {
    5: ((5, 2, 0), (5, 4, 3, 2, 0)),
    6: ((6, 1, 0), (6, 5, 2, 1, 0)),
    7: ((7, 3, 0), (7, 3, 2, 1, 0)),
    9: ((9, 4, 0), (9, 6, 4, 3, 0)),
    10: ((10, 3, 0), (10, 8, 3, 2, 0)),
    11: ((11, 2, 0), (11, 8, 5, 2, 0)),
}

# GPS L1 C/A: G2 phase selector taps (1-based register cells) for PRN 1..37, IS-GPS-200 Table 3-Ia.
# PRN 34 and PRN 37 share taps (and therefore codes) in the ICD.
GPS_G2_TAPS: dict[int, tuple[int, int]] = {
    1: (2, 6), 2: (3, 7), 3: (4, 8), 4: (5, 9), 5: (1, 9), 6: (2, 10), 7: (1, 8), 8: (2, 9),
    9: (3, 10), 10: (2, 3), 11: (3, 4), 12: (5, 6), 13: (6, 7), 14: (7, 8), 15: (8, 9),
    16: (9, 10), 17: (1, 4), 18: (2, 5), 19: (3, 6), 20: (4, 7), 21: (5, 8), 22: (6, 9),
    23: (1, 3), 24: (4, 6), 25: (5, 7), 26: (6, 8), 27: (7, 9), 28: (8, 10), 29: (1, 6),
    30: (2, 7), 31: (3, 8), 32: (4, 9), 33: (5, 10), 34: (4, 10), 35: (1, 7), 36: (2, 8),
    37: (4, 10),
}  # fmt: skip
# G1 = 1 + x^3 + x^10 and G2 = 1 + x^2 + x^3 + x^6 + x^8 + x^9 + x^10 in the ICD's register
# notation; as recurrences for `m_sequence` (reciprocal polynomials) they read:
GPS_G1 = (10, 7, 0)  # a[k+10] = a[k+7] + a[k]
GPS_G2 = (10, 8, 7, 4, 2, 1, 0)  # a[k+10] = a[k+8] + a[k+7] + a[k+4] + a[k+2] + a[k+1] + a[k]


def _check_exponents(exponents: Sequence[int]) -> int:
    exps = sorted(set(int(e) for e in exponents), reverse=True)
    if len(exps) < 2 or exps[-1] != 0 or exps[0] < 2:
        raise ValueError(
            f"feedback polynomial exponents must include the degree n >= 2 and 0 (the constant "
            f"term), got {list(exponents)}; e.g. (5, 2, 0) for x^5 + x^2 + 1"
        )
    return exps[0]


def m_sequence(exponents: Sequence[int], state: Sequence[int] | None = None) -> np.ndarray:
    """One period of the LFSR sequence of a feedback polynomial (Fibonacci form).

    The sequence obeys ``a[k+n] = Σ_{i in exponents, i<n} a[k+i] (mod 2)``, i.e. the polynomial
    ``x^n + Σ x^i`` is the characteristic polynomial (Golomb, "Shift Register Sequences", 1967).

    Args:
        exponents: polynomial exponents, e.g. ``(5, 2, 0)`` for ``x^5 + x^2 + 1``.
        state: the first ``n`` bits ``a[0..n-1]``; all ones by default.

    Returns:
        ``(2**n - 1,)`` uint8 bits. A primitive polynomial gives an m-sequence (balanced: one
        more 1 than 0).
    """
    n = _check_exponents(exponents)
    taps = [e for e in set(int(e) for e in exponents) if e < n]
    period = (1 << n) - 1
    a = np.zeros(period + n, dtype=np.uint8)
    a[:n] = 1 if state is None else np.asarray(state, dtype=np.uint8)[:n]
    if not a[:n].any():
        raise ValueError("the LFSR state must not be all zeros (it would stay zero forever)")
    for k in range(period):
        acc = 0
        for i in taps:
            acc ^= int(a[k + i])
        a[k + n] = acc
    return a[:period].copy()


def correlation_bound(n: int) -> int:
    """``t(n)`` of the Gold bound: ``2**((n+1)//2) + 1`` for odd n, ``2**((n+2)//2) + 1`` for even n."""
    return (1 << ((n + 1) // 2)) + 1 if n % 2 else (1 << ((n + 2) // 2)) + 1


def gold_family(n: int) -> np.ndarray:
    """All ``2**n + 1`` Gold codes of degree ``n`` from the preferred pair in `PREFERRED_PAIRS`.

    Returns:
        ``(2**n + 1, 2**n - 1)`` uint8 bits: rows ``u``, ``v``, then ``u ⊕ roll(v, -k)`` for
        ``k = 0..N-1``.

    Raises:
        ValueError: ``n`` divisible by 4 (no preferred pairs exist) or not tabulated.
    """
    if n % 4 == 0:
        raise ValueError(
            f"no Gold family for n={n}: preferred pairs of m-sequences do not exist when n is "
            f"divisible by 4; use one of {sorted(PREFERRED_PAIRS)}"
        )
    if n not in PREFERRED_PAIRS:
        raise ValueError(
            f"no preferred pair tabulated for n={n}; use one of {sorted(PREFERRED_PAIRS)}"
        )
    pu, pv = PREFERRED_PAIRS[n]
    u, v = m_sequence(pu), m_sequence(pv)
    period = u.shape[0]
    shifts = (np.arange(period)[:, None] + np.arange(period)[None, :]) % period  # (N, N)
    shifted = v[shifts]  # (N, N): row k is v rolled left by k
    return np.concatenate([u[None], v[None], u[None] ^ shifted], axis=0)


def to_bipolar(bits: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Map bits ``{0, 1}`` to chips ``{+1, -1}`` (``1 - 2b``) as float64."""
    b = torch.as_tensor(np.asarray(bits), dtype=torch.float64, device="cpu")  # host-side
    return 1.0 - 2.0 * b


def periodic_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Periodic cross-correlation of bipolar codes at every lag, by FFT.

    ``θ_ab(τ) = Σ_k a[k] b[(k + τ) mod N]`` computed as ``irfft(conj(rfft(a)) · rfft(b))``
    (correlation theorem), rounded to the nearest integer.

    Args:
        a: ``(..., N)`` ±1 chips.
        b: ``(..., N)`` ±1 chips, broadcastable against ``a``.

    Returns:
        ``(..., N)`` int64 correlations, lag on the last axis.
    """
    n = a.shape[-1]
    fa = torch.fft.rfft(a.to(torch.float64), dim=-1)
    fb = torch.fft.rfft(b.to(torch.float64), dim=-1)
    corr = torch.fft.irfft(fa.conj() * fb, n=n, dim=-1)
    rounded = corr.round()
    if (corr - rounded).abs().max() > 1e-6:  # integer sums: float64 FFT error is ~1e-12
        raise ArithmeticError("FFT correlation is not integral; inputs must be ±1 chips")
    return rounded.to(torch.int64)


def gps_ca_code(prn: int, length: int = 1023) -> np.ndarray:
    """The GPS L1 C/A code (Gold code, n = 10) of satellite ``prn`` (1..37).

    G1 and G2 are 10-cell registers initialised to all ones; the chip is ``G1[10] ⊕ G2[s1] ⊕
    G2[s2]`` where ``(s1, s2)`` is the PRN's phase selector (IS-GPS-200, Fig. 3-1, Table 3-Ia).

    Returns:
        ``(length,)`` uint8 bits (period 1023).
    """
    if prn not in GPS_G2_TAPS:
        raise ValueError(f"GPS PRN must be in 1..37, got {prn!r}")
    s1, s2 = GPS_G2_TAPS[prn]
    g1 = [1] * 10  # g1[i] is register cell i+1
    g2 = [1] * 10
    out = np.empty(length, dtype=np.uint8)
    for k in range(length):
        out[k] = g1[9] ^ g2[s1 - 1] ^ g2[s2 - 1]
        fb1 = g1[2] ^ g1[9]  # cells 3, 10
        fb2 = g2[1] ^ g2[2] ^ g2[5] ^ g2[7] ^ g2[8] ^ g2[9]  # cells 2, 3, 6, 8, 9, 10
        g1 = [fb1] + g1[:9]
        g2 = [fb2] + g2[:9]
    return out


def first_chips_octal(bits: np.ndarray, count: int = 10) -> str:
    """The first ``count`` chips as an octal string, first chip most significant (IS-GPS-200)."""
    value = 0
    for bit in bits[:count]:
        value = (value << 1) | int(bit)
    return format(value, "o")
