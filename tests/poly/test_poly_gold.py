"""Gold codes: m-sequence properties, the three-valued correlation bound, GPS C/A codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytok.poly.gold import (
    GPS_G1,
    GPS_G2,
    PREFERRED_PAIRS,
    correlation_bound,
    first_chips_octal,
    gold_family,
    gps_ca_code,
    m_sequence,
    periodic_correlation,
    to_bipolar,
)

# IS-GPS-200 Table 3-Ia, "first 10 chips C/A (octal)", PRN 1..37.
PUBLISHED_OCTAL = {
    1: "1440", 2: "1620", 3: "1710", 4: "1744", 5: "1133", 6: "1455", 7: "1131", 8: "1454",
    9: "1626", 10: "1504", 11: "1642", 12: "1750", 13: "1764", 14: "1772", 15: "1775",
    16: "1776", 17: "1156", 18: "1467", 19: "1633", 20: "1715", 21: "1746", 22: "1763",
    23: "1063", 24: "1706", 25: "1743", 26: "1761", 27: "1770", 28: "1774", 29: "1127",
    30: "1453", 31: "1625", 32: "1712", 33: "1745", 34: "1713", 35: "1134", 36: "1456",
    37: "1713",
}  # fmt: skip
# IS-GPS-200 Table 3-Ia, "G2 delay (chips)" for PRN 1..10: an independent description of the code.
PUBLISHED_G2_DELAY = {1: 5, 2: 6, 3: 7, 4: 8, 5: 17, 6: 18, 7: 139, 8: 140, 9: 141, 10: 251}


def _assert_gold_bound(codes: torch.Tensor, n: int, rows: torch.Tensor, cols: torch.Tensor):
    """Every listed pair (i != j) at every lag, plus off-peak autocorrelations of `rows`."""
    t = correlation_bound(n)
    allowed = torch.tensor([-1, -t, t - 2])
    corr = periodic_correlation(codes[rows], codes[cols])  # (P, N)
    values = corr.unique()
    assert torch.isin(values, allowed).all(), f"n={n}: values {values.tolist()} not in {allowed}"
    auto = periodic_correlation(codes[rows], codes[rows])  # (P, N)
    assert (auto[:, 0] == codes.shape[1]).all()
    assert torch.isin(auto[:, 1:].unique(), allowed).all()
    return values


def _all_pairs_values(codes: torch.Tensor, chunk: int = 16) -> set[int]:
    """Correlation values of every ordered pair i != j at every lag, one FFT per code."""
    m, period = codes.shape
    spectra = torch.fft.rfft(codes, dim=-1)  # (M, N//2 + 1)
    values: set[int] = set()
    for start in range(0, m, chunk):
        rows = torch.arange(start, min(start + chunk, m))
        prod = spectra[rows].conj()[:, None, :] * spectra[None, :, :]  # (R, M, F)
        corr = torch.fft.irfft(prod, n=period, dim=-1)  # (R, M, N)
        corr[torch.arange(len(rows)), rows] = -1.0  # skip i == j (autocorrelation tested apart)
        rounded = corr.round()
        assert (corr - rounded).abs().max() < 1e-6
        values |= set(rounded.unique().to(torch.int64).tolist())
    return values


@pytest.mark.parametrize("n", sorted(PREFERRED_PAIRS))
def test_m_sequences_are_maximal(n):
    for poly in PREFERRED_PAIRS[n]:
        seq = m_sequence(poly)
        period = 2**n - 1
        assert seq.shape == (period,)
        assert int(seq.sum()) == 2 ** (n - 1)  # balance: one more 1 than 0
        auto = periodic_correlation(to_bipolar(seq), to_bipolar(seq))
        assert auto[0] == period and (auto[1:] == -1).all()  # two-valued autocorrelation


@pytest.mark.parametrize("n", [5, 6, 7])
def test_gold_bound_exhaustive_every_pair_every_lag(n):
    codes = to_bipolar(gold_family(n))  # (2^n + 1, 2^n - 1)
    m = codes.shape[0]
    assert m == 2**n + 1
    t = correlation_bound(n)
    assert _all_pairs_values(codes) == {-1, -t, t - 2}  # respected, and attained
    auto = periodic_correlation(codes, codes)  # (M, N) off-peak autocorrelation
    assert torch.isin(auto[:, 1:].unique(), torch.tensor([-1, -t, t - 2])).all()


@pytest.mark.parametrize("n", [9, 10, 11])
def test_gold_bound_sampled_pairs_all_lags(n):
    codes = to_bipolar(gold_family(n))
    gen = torch.Generator().manual_seed(n)
    i = torch.randint(0, codes.shape[0], (200,), generator=gen)
    j = (i + torch.randint(1, codes.shape[0], (200,), generator=gen)) % codes.shape[0]
    _assert_gold_bound(codes, n, i, j)


@pytest.mark.slow
def test_gold_bound_exhaustive_n9_sampled_n10_n11():
    t = correlation_bound(9)
    assert _all_pairs_values(to_bipolar(gold_family(9))) == {-1, -t, t - 2}  # 262,656 pairs
    for n in (10, 11):
        codes = to_bipolar(gold_family(n))
        gen = torch.Generator().manual_seed(100 + n)
        i = torch.randint(0, codes.shape[0], (4000,), generator=gen)
        j = (i + torch.randint(1, codes.shape[0], (4000,), generator=gen)) % codes.shape[0]
        _assert_gold_bound(codes, n, i, j)


def test_n10_values_match_design_note():
    codes = to_bipolar(gold_family(10))
    corr = periodic_correlation(codes[2:40], codes[40:78])
    assert set(corr.unique().tolist()) == {-65, -1, 63}


@pytest.mark.parametrize("n", [4, 8, 12])
def test_n_divisible_by_4_refused(n):
    with pytest.raises(ValueError, match="divisible by 4"):
        gold_family(n)


def test_untabulated_and_bad_polynomial_errors():
    with pytest.raises(ValueError, match="no preferred pair"):
        gold_family(3)
    with pytest.raises(ValueError, match="constant"):
        m_sequence((5, 2))
    with pytest.raises(ValueError, match="all zeros"):
        m_sequence((5, 2, 0), state=[0, 0, 0, 0, 0])


@pytest.mark.parametrize("prn", sorted(PUBLISHED_OCTAL))
def test_gps_ca_first_ten_chips_match_is_gps_200(prn):
    assert first_chips_octal(gps_ca_code(prn)) == PUBLISHED_OCTAL[prn]


@pytest.mark.parametrize("prn", sorted(PUBLISHED_G2_DELAY))
def test_gps_ca_equals_g1_xor_delayed_g2(prn):
    # Phase selector taps and G2 delays are two independent descriptions in the ICD.
    g1, g2 = m_sequence(GPS_G1), m_sequence(GPS_G2)
    expected = g1 ^ np.roll(g2, PUBLISHED_G2_DELAY[prn])
    assert np.array_equal(gps_ca_code(prn), expected)


def test_gps_codes_are_a_gold_set():
    codes = to_bipolar(np.stack([gps_ca_code(p) for p in range(1, 33)]))
    i, j = torch.triu_indices(32, 32, offset=1)
    assert set(periodic_correlation(codes[i], codes[j]).unique().tolist()) <= {-65, -1, 63}
    with pytest.raises(ValueError, match="1..37"):
        gps_ca_code(38)
