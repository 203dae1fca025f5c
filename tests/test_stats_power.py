"""trialkit.stats.power against R (tests/fixtures/power), scipy/statsmodels one table at a
time, and enumerations written out here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special
from scipy import stats as sps

from trialkit import stats
from trialkit.stats import power as pw

R = Path(__file__).resolve().parent / "fixtures" / "power"


@pytest.fixture(scope="module")
def r_power() -> pd.DataFrame:
    return pd.read_csv(R / "r_exact_power.csv")


@pytest.fixture(scope="module")
def r_curve() -> pd.DataFrame:
    return pd.read_csv(R / "r_power_curve.csv")


# --------------------------------------------------------------------------- p-value tables
@pytest.mark.parametrize("n1, n2", [(45, 44), (7, 13), (1, 9)])
def test_fisher_table_equals_scipy_one_table_at_a_time(n1, n2):
    table = stats.pvalue_table(n1, n2, "fisher")
    expected = np.array(
        [
            [sps.fisher_exact([[a, n1 - a], [b, n2 - b]]).pvalue for b in range(n2 + 1)]
            for a in range(n1 + 1)
        ]
    )
    np.testing.assert_allclose(table, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "n1, n2", [(1, 1), (1, 9), (9, 1), (7, 13), (45, 44), (44, 45), (46, 46), (3, 150), (200, 170)]
)
def test_fisher_table_all_margins_at_once_equals_one_margin_at_a_time(n1, n2):
    """The vectorized table (all column totals at once) against the per-margin loop it
    replaced: equal to round-off, and the same rejections at every usual alpha."""
    fast, slow = pw._fisher_table(n1, n2), pw._fisher_table_by_margin(n1, n2)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0)
    for alpha in (0.01, 0.05, 0.1):
        np.testing.assert_array_equal(fast < alpha, slow < alpha)
    big = pw._FISHER_BY_MARGIN_FROM  # both arms above it: the per-margin loop is the path
    np.testing.assert_array_equal(pw._fisher_table(big, big), pw._fisher_table_by_margin(big, big))


@pytest.mark.parametrize("n1, n2", [(45, 44), (6, 11)])
def test_chi2_and_yates_tables_equal_trialkit_chi2_test(n1, n2):
    for test, correction in (("chi2", False), ("chi2_yates", True)):
        table = stats.pvalue_table(n1, n2, test)
        for a in range(n1 + 1):
            for b in range(n2 + 1):
                p = stats.chi2_test(a, n1, b, n2, correction=correction).p
                assert table[a, b] == pytest.approx(p, rel=1e-9, abs=1e-15), (test, a, b)
    assert stats.pvalue_table(n1, n2, "z") is stats.pvalue_table(n1, n2, "chi2")


@pytest.mark.parametrize("n1, n2", [(1, 1), (1, 4), (2, 1), (7, 8), (45, 44), (44, 45), (98, 98)])
def test_chi2_table_by_symmetry_equals_every_row_computed(n1, n2):
    """The chi-square tables compute the rows x1 <= n1 / 2 and mirror the rest; the
    closed form written out for every row gives the same numbers, bit for bit."""
    a = np.arange(n1 + 1, dtype=float)[:, None]
    b = np.arange(n2 + 1, dtype=float)[None, :]
    big_n, m = n1 + n2, a + b
    for yates in (False, True):
        d = np.abs(a * (n2 - b) - b * (n1 - a))
        d = d - np.minimum(big_n / 2, d) if yates else d
        with np.errstate(divide="ignore", invalid="ignore"):
            p = special.erfc(np.sqrt(big_n * d**2 / (n1 * n2 * m * (big_n - m)) / 2))
        p[(m == 0) | (m == big_n)] = 1.0
        np.testing.assert_array_equal(pw._chi2_table(n1, n2, yates), p)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_wald_table_equals_statsmodels_unpooled_wald_test():
    from statsmodels.stats.proportion import test_proportions_2indep

    n1, n2 = 20, 17
    table = stats.pvalue_table(n1, n2, "wald")
    for a in range(n1 + 1):
        for b in range(n2 + 1):
            q1, q2 = a / n1, b / n2
            if q1 * (1 - q1) + q2 * (1 - q2) == 0:  # se = 0: defined by convention
                assert table[a, b] == (1.0 if q1 == q2 else 0.0)
                continue
            res = test_proportions_2indep(a, n1, b, n2, method="wald", compare="diff")
            assert table[a, b] == pytest.approx(res.pvalue, rel=1e-9), (a, b)


@pytest.mark.parametrize("n1, n2", [(1, 2), (7, 13), (45, 46), (82, 98)])
def test_tables_of_swapped_arms_are_the_transposed_tables(n1, n2):
    """pvalue_table(n1, n2) with n1 < n2 is the transpose of pvalue_table(n2, n1): the
    same numbers as computing it in that orientation (chi-square and Wald bit for bit,
    Fisher to round-off)."""
    for test in pw.POWER_TESTS:
        got = stats.pvalue_table(n1, n2, test)
        assert got.shape == (n1 + 1, n2 + 1) and not got.flags.writeable
        np.testing.assert_array_equal(got, stats.pvalue_table(n2, n1, test).T)
        direct = pw._compute_table(n1, n2, "chi2" if test == "z" else test)
        if test == "fisher":
            np.testing.assert_allclose(got, direct, rtol=1e-13, atol=0)
        else:
            np.testing.assert_array_equal(got, direct)


def test_tables_are_read_only_and_cached():
    t = stats.pvalue_table(30, 31, "fisher")
    assert t is stats.pvalue_table(30, 31, "fisher")
    with pytest.raises(ValueError):
        t[0, 0] = 0.5


# --------------------------------------------------------------------------- exact power
def test_exact_power_matches_r_enumeration(r_power):
    # R: every table tested with fisher.test / chisq.test / prop.test / the Wald z
    for row in r_power.itertuples():
        got = stats.exact_power(row.p1, row.n1, row.p2, row.n2, test=row.test, alpha=0.05)
        assert got.power == pytest.approx(row.power, rel=1e-9, abs=1e-13), row


def test_zang_observed_power_numbers(r_power):
    r = r_power[r_power.id == "zang2022_observed"].set_index("test")["power"]
    assert round(r["fisher"], 4) == 0.5252
    assert round(r["chi2"], 4) == 0.6406
    assert stats.exact_power(0.2, 45, 2 / 44, 44).power == pytest.approx(r["fisher"], rel=1e-9)


def test_exact_power_equals_an_enumeration_written_out_here():
    """Loop over every outcome, binomial probabilities times scipy's Fisher p < alpha."""
    p1, n1, p2, n2, alpha = 0.35, 12, 0.05, 15, 0.05
    total = 0.0
    for a in range(n1 + 1):
        for b in range(n2 + 1):
            p = sps.fisher_exact([[a, n1 - a], [b, n2 - b]]).pvalue
            if p < alpha:
                total += sps.binom.pmf(a, n1, p1) * sps.binom.pmf(b, n2, p2)
    assert stats.exact_power(p1, n1, p2, n2, "fisher", alpha).power == pytest.approx(
        total, rel=1e-12
    )


def test_statmod_simulation_agrees_within_monte_carlo_error():
    sm = pd.read_csv(R / "r_statmod.csv").iloc[0]
    exact = stats.exact_power(sm.p1, int(sm.n1), sm.p2, int(sm.n2)).power
    assert abs(sm.power - exact) < 4 * sm.mc_se


def test_statmod_documented_example_is_close():
    # statmod's help page: power.fisher.test(0.5, 0.9, 20, 20) "# 70% chance of detecting
    # difference" (100 simulated tables, Monte Carlo SE ~ 4.6 points)
    exact = stats.exact_power(0.5, 20, 0.9, 20).power
    assert abs(exact - 0.70) < 2 * math.sqrt(0.7 * 0.3 / 100)


def test_power_grid_agrees_with_single_calls():
    grid = stats.exact_power_grid([0.1, 0.2, 0.3], [0.02, 0.05], 45, 44, "chi2_yates", 0.05)
    assert list(grid.columns) == ["p1", "p2", "power"] and len(grid) == 6
    for r in grid.itertuples():
        assert r.power == pytest.approx(
            stats.exact_power(r.p1, 45, r.p2, 44, "chi2_yates").power, rel=1e-12
        )


def test_power_with_dropout_equals_the_mixture_written_out():
    p1, n1, p2, n2, d = 0.3, 14, 0.1, 12, 0.15
    total = 0.0
    for a1 in range(1, n1 + 1):
        for a2 in range(1, n2 + 1):
            w = sps.binom.pmf(a1, n1, 1 - d) * sps.binom.pmf(a2, n2, 1 - d)
            total += w * stats.exact_power(p1, a1, p2, a2, "fisher").power
    got = stats.exact_power(p1, n1, p2, n2, "fisher", dropout=d)
    assert got.power == pytest.approx(total, abs=2e-10)
    assert "dropout" in got.method
    assert stats.exact_power(p1, n1, p2, n2, dropout=0.0).power == pytest.approx(
        stats.exact_power(p1, n1, p2, n2).power, rel=0
    )


def test_power_curve_matches_r(r_curve):
    for (_, test), g in r_curve.groupby(["id", "test"]):
        g = g.sort_values("n")
        ours = stats.power_curve(g.p1.iloc[0], g.p2.iloc[0], g.n.tolist(), tests=[test])
        np.testing.assert_allclose(ours["power"], g["power"], rtol=1e-9, atol=1e-13)
        assert (ours["n1"] == ours["n2"]).all()


# --------------------------------------------------------------------------- type I error
def test_type1_error_matches_r():
    r = pd.read_csv(R / "r_type1.csv")
    for row in r.itertuples():
        got = stats.type1_error(row.p, row.n1, row.n2, test=row.test, alpha=0.05)
        assert got.size == pytest.approx(row.size, rel=1e-9), row
        assert got.max_size == pytest.approx(row.max_size, rel=1e-6), row
        assert got.conservative == (row.max_size <= 0.05)
    fisher = stats.type1_error(11 / 89, 45, 44, "fisher")
    assert fisher.p_at_max == pytest.approx(0.3475, abs=5e-4)  # R: 0.347490
    assert stats.type1_error(11 / 89, 45, 44, "chi2").p_at_max == pytest.approx(0.5, abs=1e-4)


def test_size_on_the_shared_grid_equals_the_size_computed_per_test():
    """type1_error's binomial matrices on its grid of rates are computed once for all
    tests (cached, read-only); the sizes equal those computed afresh for each test."""
    pis, b1, b2 = pw._size_grid(45, 44, 1999)
    assert not (pis.flags.writeable or b1.flags.writeable or b2.flags.writeable)
    np.testing.assert_array_equal(pis, np.arange(1, 2000) / 2000)
    for test in pw.POWER_TESTS:
        reject = pw._reject(45, 44, test, 0.05)
        np.testing.assert_array_equal(
            pw._size_of(b1, reject, b2), pw._size(45, 44, reject, np.arange(1, 2000) / 2000)
        )


def test_size_curve_is_the_power_at_equal_rates():
    curve = stats.size_curve(20, 25, tests=("fisher", "wald"), p=[0.1, 0.5])
    for r in curve.itertuples():
        assert r.size == pytest.approx(stats.exact_power(r.p, 20, r.p, 25, r.test).power, rel=1e-12)


# --------------------------------------------------------------------------- sample size
def _first_and_stable(g: pd.DataFrame, target: float) -> tuple[int, int]:
    above = g.sort_values("n")["power"].to_numpy() >= target
    n = g.sort_values("n")["n"].to_numpy()
    below = np.flatnonzero(~above)
    return int(n[np.argmax(above)]), int(n[below[-1] + 1])


def test_exact_sample_size_agrees_with_the_r_power_curves(r_curve):
    for (_, test), g in r_curve.groupby(["id", "test"]):
        p1, p2 = g.p1.iloc[0], g.p2.iloc[0]
        for target in (0.8, 0.9):
            first, stable = _first_and_stable(g, target)
            got = stats.sample_size(p1, p2, power=target, method=test)
            assert (got.n1_first, got.n1_stable, got.n1) == (first, stable, stable)
            assert got.n2 == got.n1 and got.power >= target


def test_powers_over_many_sizes_at_once_equal_one_size_at_a_time():
    """``_powers_at`` (one binomial pmf call per arm for all sizes; what ``power_curve``
    and the sample-size search use) against ``_power_at`` size by size."""
    sizes = [(n, pw._n2_of(n, 1.3)) for n in range(2, 90, 7)] + [(45, 44), (1, 1), (3, 200)]
    for test in pw.POWER_TESTS:
        for p1, p2 in ((0.2, 2 / 44), (0.0, 1.0), (0.31, 0.31)):
            got = pw._powers_at(p1, p2, sizes, test, 0.05)
            want = [pw._power_at(p1, a, p2, b, test, 0.05) for a, b in sizes]
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)
    assert pw._powers_at(0.2, 0.1, [], "fisher", 0.05) == []


def test_sample_size_search_equals_a_search_one_size_at_a_time():
    """The exact search (powers of a whole range of n at once) against the plain search
    written out here: smallest n reaching the target, and the n from which it stays."""
    for test, target in (("fisher", 0.8), ("chi2_yates", 0.8), ("chi2", 0.9)):
        got = stats.sample_size(0.2, 2 / 44, power=target, method=test)
        ns = range(2, got.n1_max + 1)
        above = [pw._power_at(0.2, n, 2 / 44, n, test, 0.05) >= target for n in ns]
        first = ns[above.index(True)]
        stable = ns[max(i for i, ok in enumerate(above) if not ok) + 1]
        assert (got.n1_first, got.n1) == (first, stable)
        assert got.power == pw._power_at(0.2, stable, 2 / 44, stable, test, 0.05)


def test_sawtooth_first_and_stable_differ_for_yates():
    got = stats.sample_size(0.2, 2 / 44, power=0.8, method="chi2_yates")
    assert (got.n1_first, got.n1) == (76, 80)
    assert "dips" in got.note and "stays above from n1 = 80" in str(got)


def test_normal_approximations_match_r():
    r = pd.read_csv(R / "r_sample_size.csv")
    for row in r.itertuples():
        for method in ("normal", "arcsine", "normal_cc"):
            got = stats.sample_size(row.p1, row.p2, power=row.power, method=method)
            expected = getattr(row, method)
            assert got.n1_exact == pytest.approx(expected, rel=1e-6), (row, method)
            assert got.n1 == math.ceil(expected) == got.n2


def test_r_documented_power_prop_test_example():
    # R's ?power.prop.test: power.prop.test(p1 = .50, p2 = .75, power = .90)  # => n = 76.7
    got = stats.sample_size(0.5, 0.75, power=0.9, method="normal")
    assert round(got.n1_exact, 1) == 76.7 and got.n1 == 77


def test_continuity_correction_formula_written_out():
    # Fleiss, Tytun & Ury (1980), unequal arms n2 = r n1: n' = n/4 (1 + sqrt(1 + 2(r+1)/(n r d)))^2
    p1, p2, r = 0.3, 0.1, 2.0
    za, zb = sps.norm.isf(0.025), sps.norm.isf(0.2)
    pbar = (p1 + r * p2) / (1 + r)
    n = (
        za * math.sqrt((1 + 1 / r) * pbar * (1 - pbar))
        + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / r)
    ) ** 2 / (p1 - p2) ** 2
    n_cc = n / 4 * (1 + math.sqrt(1 + 2 * (r + 1) / (n * r * (p1 - p2)))) ** 2
    got = stats.sample_size(p1, p2, power=0.8, method="normal_cc", ratio=r)
    assert got.n1_exact == pytest.approx(n_cc, rel=1e-9)
    assert got.n2 == math.ceil(r * n_cc)


def test_unequal_allocation_exact():
    got = stats.sample_size(0.3, 0.1, power=0.8, method="fisher", ratio=0.5)
    assert got.n2 == math.floor(0.5 * got.n1 + 0.5)
    assert stats.exact_power(0.3, got.n1, 0.1, got.n2).power == pytest.approx(got.power)
    assert got.power >= 0.8 and got.n1_first <= got.n1
    below = got.n1 - 1  # the stable n is one past the last n below target
    assert stats.exact_power(0.3, below, 0.1, math.floor(0.5 * below + 0.5)).power < 0.8


# --------------------------------------------------------------------------- assurance
def test_assurance_matches_r_numerical_integration():
    r = pd.read_csv(R / "r_assurance.csv")
    for row in r.itertuples():
        got = stats.assurance((row.a1, row.b1), (row.a2, row.b2), row.n1, row.n2, row.test)
        assert got.power == pytest.approx(row.assurance, rel=1e-8), row


def test_assurance_is_the_average_of_exact_power():
    # integrate exact power over the Beta densities (scipy quadrature): an independent route
    a1, b1, a2, b2, n = 3.0, 5.0, 1.5, 6.0, 12

    def f(q2: float, q1: float) -> float:
        dens = sps.beta.pdf(q1, a1, b1) * sps.beta.pdf(q2, a2, b2)
        return stats.exact_power(q1, n, q2, n).power * dens

    value, _ = integrate.dblquad(f, 0, 1, 0, 1, epsabs=1e-10, epsrel=1e-8)
    assert stats.assurance((a1, b1), (a2, b2), n, n).power == pytest.approx(value, rel=1e-6)


# --------------------------------------------------------------------------- results, errors
def test_results_print_and_serialise():
    for res in (
        stats.exact_power(0.2, 45, 2 / 44, 44),
        stats.type1_error(11 / 89, 45, 44, "wald"),
        stats.sample_size(0.2, 2 / 44, method="fisher"),
        stats.sample_size(0.2, 2 / 44, method="normal"),
        stats.assurance((10, 37), (3, 43), 45, 44),
    ):
        assert str(res) and json.dumps(res.as_dict())
    assert "NOT conservative" in str(stats.type1_error(11 / 89, 45, 44, "wald"))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: stats.exact_power(1.2, 45, 0.1, 44), "p1"),
        (lambda: stats.exact_power(0.2, 0, 0.1, 44), "n1"),
        (lambda: stats.exact_power(0.2, 45, 0.1, 44.0), "n2"),
        (lambda: stats.exact_power(0.2, 45, 0.1, 44, test="barnard"), "test"),
        (lambda: stats.exact_power(0.2, 45, 0.1, 44, alpha=1.5), "alpha"),
        (lambda: stats.exact_power(0.2, 45, 0.1, 44, dropout=1.0), "dropout"),
        (lambda: stats.sample_size(0.2, 0.2), "p1 and p2"),
        (lambda: stats.sample_size(0.2, 0.1, method="magic"), "method"),
        (lambda: stats.sample_size(0.2, 0.1, ratio=0), "ratio"),
        (lambda: stats.sample_size(0.2, 0.1, power=0.01), "power"),
        (lambda: stats.assurance((1, 0), (1, 1), 10, 10), "prior1"),
        (lambda: stats.type1_error(0.1, 10, 10, grid=1), "grid"),
    ],
)
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_public_names_reexported():
    for name in pw.__all__:
        assert getattr(stats, name) is getattr(pw, name)
