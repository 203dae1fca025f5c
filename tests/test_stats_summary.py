"""Tests from published summaries, checked against the same tests run on raw data.

For each case we build data whose sample mean and SD are exactly the summary (a
standardized vector rescaled), run scipy's raw-data test on it, and require the
summary-based result to agree: an independent route to the same number.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from trialkit import stats


def exact_sample(mean: float, sd: float, n: int, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


@pytest.mark.parametrize("equal_var", [True, False])
def test_two_sample_t_from_summary_equals_raw_data_test(equal_var):
    a, b = exact_sample(8.19, 1.02, 44, 1), exact_sample(7.52, 1.07, 45, 2)
    raw = sps.ttest_ind(a, b, equal_var=equal_var)
    got = stats.ttest_from_summary(8.19, 1.02, 44, 7.52, 1.07, 45, equal_var=equal_var)
    assert got.statistic == pytest.approx(raw.statistic, rel=1e-10)
    assert got.p == pytest.approx(raw.pvalue, rel=1e-10)
    assert got.note == f"df {raw.df:.4g}"


def test_two_sample_t_textbook_value():
    # Student t with pooled SD: difference 0.67, se = s_p * sqrt(1/44 + 1/45)
    sp = math.sqrt((43 * 1.02**2 + 44 * 1.07**2) / 87)
    t = 0.67 / (sp * math.sqrt(1 / 44 + 1 / 45))
    got = stats.ttest_from_summary(8.19, 1.02, 44, 7.52, 1.07, 45)
    assert got.statistic == pytest.approx(t, rel=1e-12)
    assert got.p == pytest.approx(2 * sps.t.sf(t, 87), rel=1e-12)


def test_paired_t_from_summary_equals_raw_paired_test():
    before = exact_sample(8.89, 1.11, 44, 3)
    change = exact_sample(-0.63, 1.2, 44, 4)
    raw = sps.ttest_rel(before + change, before)
    got = stats.paired_ttest_from_summary(-0.63, 1.2, 44)
    assert got.statistic == pytest.approx(raw.statistic, rel=1e-10)
    assert got.p == pytest.approx(raw.pvalue, rel=1e-10)


def test_sd_of_difference_matches_data_with_that_correlation():
    rng = np.random.default_rng(5)
    x = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=200_000)
    before, after = 1.27 * x[:, 0], 1.07 * x[:, 1]
    rho = np.corrcoef(before, after)[0, 1]
    expected = np.std(after - before, ddof=1)
    assert stats.sd_of_difference(
        np.std(before, ddof=1), np.std(after, ddof=1), rho
    ) == pytest.approx(expected, rel=1e-9)
    assert stats.sd_of_difference(1.0, 1.0, 1.0) == 0.0
    assert stats.sd_of_difference(1.0, 2.0, -1.0) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: stats.ttest_from_summary(1, -1, 10, 1, 1, 10), "sd1 must be a finite positive"),
        (lambda: stats.ttest_from_summary(1, 1, 1, 1, 1, 10), "at least 2"),
        (lambda: stats.paired_ttest_from_summary(1, 1, 1), "at least 2"),
        (lambda: stats.sd_of_difference(1, 1, 1.5), "rho must be a correlation"),
        (lambda: stats.paired_ttest_from_summary("1", 1, 5), "mean_change must be a number"),
    ],
)
def test_summary_inputs_are_checked(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_holm_is_statsmodels_multipletests():
    """stats.holm (statsmodels with the live objects frozen) against multipletests itself,
    and the four between-group p-values of the abstract worked out by hand."""
    import gc

    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(12)
    for m in (1, 2, 4, 10, 50):
        for _ in range(20):
            p = rng.uniform(0, 0.1, size=m) ** rng.uniform(0.5, 2)
            for alpha in (0.01, 0.05, 0.1):
                want = multipletests(p, alpha=alpha, method="holm")[0]
                assert np.array_equal(stats.holm(p, alpha=alpha), want)
    # 0.0081 x 4 = 0.032 and 0.01 x 3 = 0.03 rejected; 0.05 x 2 = 0.1 stops
    assert stats.holm([0.05, 0.05, 0.0081, 0.01]).tolist() == [False, False, True, True]
    assert gc.get_freeze_count() == 0  # the freeze is undone
    with pytest.raises(ValueError, match="p-values"):
        stats.holm([0.5, 1.5])


def test_ttest_from_summary_is_scipy_on_a_grid_item_by_item():
    """Notebook 02 scans arm sizes x rounding corners with scipy's ttest_ind_from_stats on
    the whole grid at once; stats.ttest_from_summary gives the same p, bit for bit."""
    import itertools

    corners = np.array(list(itertools.product((7.515, 7.525), (1.065, 1.075),
                                              (8.185, 8.195), (1.015, 1.025))))  # fmt: skip
    sizes = np.arange(10, 47)[:, None]
    m1, s1, m2, s2 = corners.T
    grid = sps.ttest_ind_from_stats(m2, s2, sizes, m1, s1, sizes).pvalue
    for i, n in enumerate(sizes[:, 0]):
        for j, (a, b, c, d) in enumerate(corners):
            assert grid[i, j] == stats.ttest_from_summary(c, d, int(n), a, b, int(n)).p
