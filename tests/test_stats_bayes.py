"""trialkit.stats.bayes against R (integrate, uniroot), the closed form for integer beta
parameters (Cook 2005; Evan Miller 2015) written out here, Monte Carlo with a fixed seed,
and the normal-normal conjugate formulas written out here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special
from scipy import stats as sps

from trialkit import stats
from trialkit.stats import bayes

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bayes"


def p_first_greater(a1: int, b1: float, a2: float, b2: float) -> float:
    """P(p1 > p2), p1 ~ Beta(a1, b1) with integer a1, p2 ~ Beta(a2, b2): the sum of
    Evan Miller (2015), eq. for P(p_B > p_A), with B = arm 1:
    sum_{i=0}^{a1-1} B(a2 + i, b1 + b2) / ((b1 + i) B(1 + i, b1) B(a2, b2))."""
    return float(
        sum(
            math.exp(
                special.betaln(a2 + i, b1 + b2)
                - math.log(b1 + i)
                - special.betaln(1 + i, b1)
                - special.betaln(a2, b2)
            )
            for i in range(a1)
        )
    )


@pytest.fixture(scope="module")
def r_diff() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "r_beta_difference.csv")


# --------------------------------------------------------------------------- closed form
@pytest.mark.parametrize(
    "a1, b1, a2, b2",
    [(10, 37, 3, 43), (10, 37, 4, 44), (10, 37, 5, 43), (1, 1, 1, 1), (3, 8, 2, 9),
     (26, 58, 13, 59), (1, 50, 1, 50), (30, 2, 1, 40), (120, 380, 100, 400)],
)  # fmt: skip
def test_prob_greater_matches_the_closed_form_for_integer_parameters(a1, b1, a2, b2):
    p = stats.prob_greater(stats.Beta(a1, b1), stats.Beta(a2, b2))
    assert p == pytest.approx(p_first_greater(a1, b1, a2, b2), abs=1e-11)


def test_zang_neutral_posterior_written_out():
    # uniform priors: Beta(1 + 9, 1 + 36) vs Beta(1 + 2, 1 + 42)
    r = stats.risk_difference_posterior(9, 45, 2, 44)
    assert (r.posterior1.a, r.posterior1.b, r.posterior2.a, r.posterior2.b) == (10, 37, 3, 43)
    assert r.p_benefit == pytest.approx(p_first_greater(10, 37, 3, 43), abs=1e-12)
    assert r.mean == pytest.approx(10 / 47 - 3 / 46, abs=1e-15)
    assert r.low < 0.02 < r.median < r.high


# --------------------------------------------------------------------------- R fixtures
def test_probabilities_quantiles_and_density_agree_with_r(r_diff):
    for row in r_diff.itertuples():
        p1, p2 = stats.Beta(row.a1, row.b1), stats.Beta(row.a2, row.b2)
        assert stats.prob_greater(p1, p2, row.delta) == pytest.approx(
            row.prob_integrate, abs=1e-10
        ), row.id
        if not np.isnan(row.prob_closed_form):
            assert row.prob_closed_form == pytest.approx(row.prob_integrate, abs=1e-12)
    for row in r_diff.drop_duplicates("id").itertuples():
        p1, p2 = stats.Beta(row.a1, row.b1), stats.Beta(row.a2, row.b2)
        got = [stats.difference_quantile(p1, p2, q) for q in (0.025, 0.5, 0.975)]
        assert got == pytest.approx([row.q025, row.q500, row.q975], abs=1e-8), row.id
        assert stats.difference_pdf(p1, p2, [0.0, 0.1]) == pytest.approx(
            [row.density_0, row.density_01], rel=1e-7
        ), row.id


def test_prior_strengths_agree_with_r():
    for row in pd.read_csv(FIXTURES / "r_priors.csv").itertuples():
        s = stats.sceptical_prior(row.rate, row.relevant, row.tail)
        assert s.strength == pytest.approx(row.sceptical_strength, rel=1e-8)
        assert s.mean == pytest.approx(row.rate)
        e1, e2 = stats.enthusiastic_prior(row.rate, row.relevant, row.tail)
        assert e1.strength == pytest.approx(row.enthusiastic_strength, rel=1e-8)
        assert e2.strength == pytest.approx(e1.strength, rel=1e-14)
        assert (e1.mean, e2.mean) == pytest.approx((row.rate + row.relevant, row.rate))


# --------------------------------------------------------------------------- Monte Carlo
def test_monte_carlo_agrees_within_its_standard_error():
    s = stats.sceptical_prior(0.1, 0.1, 0.05)
    post1, post2 = s.updated(9, 45), s.updated(2, 44)
    rng = np.random.default_rng(20220606)
    draws = rng.beta(post1.a, post1.b, 2_000_000) - rng.beta(post2.a, post2.b, 2_000_000)
    for delta in (0.0, 0.1):
        mc = float(np.mean(draws > delta))
        se = math.sqrt(mc * (1 - mc) / draws.size)
        assert abs(stats.prob_greater(post1, post2, delta) - mc) < 4 * se
    assert stats.difference_quantile(post1, post2, 0.5) == pytest.approx(
        float(np.median(draws)), abs=1e-3
    )
    # the module's own Monte Carlo helper: estimate and standard error
    p, se = stats.prob_greater_mc(post1, post2, 0.1, size=400_000, seed=1)
    assert abs(p - stats.prob_greater(post1, post2, 0.1)) < 4 * se
    assert se == pytest.approx(math.sqrt(p * (1 - p) / 400_000))


def test_density_integrates_to_one_and_is_the_derivative_of_the_cdf():
    p1, p2 = stats.Beta(10, 37), stats.Beta(3.5, 43.5)
    x = np.linspace(-1, 1, 4001)
    f = stats.difference_pdf(p1, p2, x)
    assert np.trapezoid(f, x) == pytest.approx(1, abs=1e-6)
    h = 1e-4
    for d in (-0.05, 0.05, 0.15, 0.3):
        slope = (stats.difference_cdf(p1, p2, d + h) - stats.difference_cdf(p1, p2, d - h)) / (
            2 * h
        )
        assert stats.difference_pdf(p1, p2, d)[0] == pytest.approx(slope, rel=1e-5)


# --------------------------------------------------------------------------- priors
def test_beta_and_power_prior_arithmetic():
    b = stats.beta_prior(0.2, 50, "x")
    assert (b.a, b.b, b.mean, b.strength) == pytest.approx((10, 40, 0.2, 50))
    assert b.sd == pytest.approx(math.sqrt(0.2 * 0.8 / 51))
    assert b.interval() == pytest.approx(tuple(sps.beta(10, 40).ppf([0.025, 0.975])))
    assert b.updated(9, 45) == stats.Beta(19, 76, "x")
    pp = stats.power_prior(16, 37, 0.5)
    assert (pp.a, pp.b) == (1 + 8, 1 + 10.5)
    assert stats.power_prior(16, 37, 0.0) == stats.Beta(1, 1)


def test_calibrated_priors_meet_their_tail_conditions():
    s = stats.sceptical_prior(0.1, 0.1, 0.05)
    assert stats.prob_greater(s, s, 0.1) == pytest.approx(0.05, abs=1e-9)
    assert stats.prob_greater(s, s, 0.0) == pytest.approx(0.5, abs=1e-9)  # centred on 0
    e1, e2 = stats.enthusiastic_prior(0.1, 0.1, 0.05)
    assert 1 - stats.prob_greater(e1, e2, 0.0) == pytest.approx(0.05, abs=1e-9)


def test_result_prints_and_turns_into_plain_python():
    r = stats.risk_difference_posterior(9, 45, 2, 44, relevant=0.1, label="neutral")
    d = r.as_dict()
    assert d["counts"] == [9, 45, 2, 44] and d["posterior1"] == [10.0, 37.0]
    assert set(d) >= {"mean", "median", "low", "high", "p_benefit", "p_relevant"}
    assert "P(RD > 0) = 0.9852" in str(r)
    assert "neutral prior" in str(r)


# --------------------------------------------------------------------------- normal
def test_normal_posterior_is_the_conjugate_formula():
    post = stats.normal_posterior(-0.8, 0.2, prior_mean=0.0, prior_sd=0.5)
    w1, w0 = 1 / 0.2**2, 1 / 0.5**2
    assert post.mean == pytest.approx((w1 * -0.8) / (w1 + w0))
    assert post.sd == pytest.approx(1 / math.sqrt(w1 + w0))
    flat = stats.normal_posterior(-0.8, 0.2)
    assert (flat.mean, flat.sd) == pytest.approx((-0.8, 0.2), abs=1e-15)
    assert flat.prob_below(0) == pytest.approx(sps.norm.cdf(0.8 / 0.2))
    assert flat.prob_below(-0.5) == pytest.approx(sps.norm.cdf((-0.5 + 0.8) / 0.2))
    md = stats.mean_difference_posterior(-1.5, 0.9, 45, -0.7, 0.97, 44)
    assert md.estimate == pytest.approx(-0.8)
    assert md.se == pytest.approx(math.sqrt(0.9**2 / 45 + 0.97**2 / 44))
    assert md.as_dict()["prior_sd"] == math.inf


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: stats.Beta(0, 1), "a"),
        (lambda: stats.Beta(1, -2), "b"),
        (lambda: stats.Beta(1, 1).updated(5, 4), "x <= n"),
        (lambda: stats.beta_prior(1.2, 10), "mean"),
        (lambda: stats.power_prior(16, 37, 1.5), "weight"),
        (lambda: stats.prob_greater(stats.Beta(1, 1), (1, 1)), "second"),
        (lambda: stats.prob_greater(stats.Beta(1, 1), stats.Beta(1, 1), 2), "delta"),
        (lambda: stats.risk_difference_posterior(9, 45, 50, 44), "x2"),
        (lambda: stats.risk_difference_posterior(9.5, 45, 2, 44), "x1"),
        (lambda: stats.sceptical_prior(0.1, 0.1, 0.6), "tail"),
        (lambda: stats.sceptical_prior(0.1, 0.1, 0.4), "sceptical_prior"),
        (lambda: stats.normal_posterior(0.1, 0.0), "se"),
        (lambda: stats.mean_difference_posterior(1, 1, 1, 0, 1, 10), "n1"),
    ],
)
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_module_is_exported_from_stats():
    for name in bayes.__all__:
        assert getattr(stats, name) is getattr(bayes, name)


def test_log_odds_ratio_is_statsmodels_woolf():
    import statsmodels.api as sm

    from trialkit.stats import bayes

    for x1, n1, x2, n2 in ((9, 45, 2, 44), (16, 37, 4, 36), (3, 10, 7, 12)):
        t = sm.stats.Table2x2(np.array([[x1, n1 - x1], [x2, n2 - x2]]))
        est, se = bayes.log_odds_ratio(x1, n1, x2, n2)
        assert est == pytest.approx(t.log_oddsratio, abs=1e-12)
        assert se == pytest.approx(t.log_oddsratio_se, abs=1e-12)
    # a zero cell: Haldane-Anscombe 0.5 in every cell
    est, se = bayes.log_odds_ratio(0, 10, 3, 10)
    assert est == pytest.approx(math.log(0.5 * 7.5 / (10.5 * 3.5)))


def test_effect_prior_is_the_normal_normal_update():
    from trialkit.stats import bayes

    alone = bayes.effect_prior_posterior(9, 45, 2, 44, 16, 37, 4, 36, 0)
    est, se = bayes.log_odds_ratio(9, 45, 2, 44)
    assert (alone.mean, alone.sd) == pytest.approx((est, se))
    est0, se0 = bayes.log_odds_ratio(16, 37, 4, 36)
    half = bayes.effect_prior_posterior(9, 45, 2, 44, 16, 37, 4, 36, 0.5)
    prec = 1 / se**2 + 0.5 / se0**2
    assert half.sd == pytest.approx(prec**-0.5, rel=1e-12)
    assert half.mean == pytest.approx((est / se**2 + 0.5 * est0 / se0**2) / prec, rel=1e-12)
    with pytest.raises(ValueError, match="weight"):
        bayes.effect_prior_posterior(9, 45, 2, 44, 16, 37, 4, 36, 1.5)
    assert bayes.relevant_log_odds_ratio(0.1, 0.1) == pytest.approx(
        math.log((0.2 / 0.8) / (0.1 / 0.9))
    )


def test_prior_table_says_what_each_prior_expects():
    from trialkit.stats import bayes

    sceptic = bayes.sceptical_prior(0.1, 0.1, 0.05)
    table = bayes.prior_table({"sceptical": (sceptic, sceptic)}, 0.1).iloc[0]
    assert table["prior P(RD > relevant)"] == pytest.approx(0.05, abs=1e-6)
    assert table["prior P(RD > 0)"] == pytest.approx(0.5, abs=1e-9)
    assert table["placebo rate, prior mean"] == pytest.approx(0.1)
    sets = bayes.analysis_set_posteriors(9, 45, 2, 44, 0, 2, {"s": (sceptic, sceptic)}, 0.1)
    assert list(sets["case"]) == ["9/45 vs 2/44", "9/45 vs 2/46", "9/45 vs 3/46", "9/45 vs 4/46"]
    assert sets["p_benefit"].iloc[1:].is_monotonic_decreasing


# --------------------------------------------------------------------------- vectorized
@pytest.mark.parametrize(
    "a1, b1, a2, b2",
    [(10, 37, 3, 43), (1, 1, 1, 1), (13.762, 78.857, 6.762, 84.857), (120, 380, 100, 400),
     (2.25, 7.75, 1.5, 9.5), (1, 1, 10, 37), (18, 47.5, 5, 59), (1.3, 1.1, 1.7, 1.05),
     (1, 5, 1, 5), (5, 1, 1, 5), (1000, 9000, 900, 9100), (12.3, 110.7, 12.3, 110.7)],
)  # fmt: skip
def test_density_on_a_grid_equals_the_per_point_quadrature(a1, b1, a2, b2):
    # the whole grid by one fixed rule == scipy.integrate.quad at each point (the old path)
    p1, p2 = stats.Beta(a1, b1), stats.Beta(a2, b2)
    grid = np.concatenate([np.linspace(-1.05, 1.05, 421), [-1, 1, 0, 1e-13, -1e-13, 0.1]])
    reference = bayes._difference_pdf_quad(p1, p2, grid)
    got = stats.difference_pdf(p1, p2, grid)
    assert got.shape == grid.shape
    assert np.max(np.abs(got - reference)) < 1e-8
    assert np.all(got[np.abs(grid) >= 1] == 0)


def test_density_with_a_parameter_below_one_is_integrated_point_by_point():
    p1, p2 = stats.Beta(0.5, 3), stats.Beta(2, 2)
    grid = np.linspace(-0.9, 0.9, 7)
    assert np.array_equal(
        stats.difference_pdf(p1, p2, grid), bayes._difference_pdf_quad(p1, p2, grid)
    )
    assert stats.difference_pdf(p1, p2, 0.2).shape == (1,)


def test_analysis_sets_hold_the_probabilities_of_the_full_posterior():
    sceptic = bayes.sceptical_prior(0.1, 0.1, 0.05)
    priors = {"s": (sceptic, sceptic), "n": (stats.Beta(1, 1), stats.Beta(1, 1))}
    sets = bayes.analysis_set_posteriors(9, 45, 2, 44, 1, 1, priors, 0.1)
    for row in sets.itertuples():
        a1, m1, a2, m2 = (int(v) for v in row.case.replace(" vs ", "/").split("/"))
        r = bayes.risk_difference_posterior(a1, m1, a2, m2, *priors[row.prior], relevant=0.1)
        assert (row.p_benefit, row.p_relevant) == (r.p_benefit, r.p_relevant)


def test_monte_carlo_for_several_thresholds_is_one_call_per_threshold():
    p1, p2 = stats.Beta(10, 37), stats.Beta(3, 43)
    ps, ses = stats.prob_greater_mc(p1, p2, [0.0, 0.1, 0.2], size=50_000, seed=7)
    for d, p, se in zip((0.0, 0.1, 0.2), ps, ses, strict=True):
        assert (p, se) == stats.prob_greater_mc(p1, p2, d, size=50_000, seed=7)
