"""Notebook 10 (Bayesian re-analysis), results checked.

References: the paper's counts (9/45 vs 2/44); the closed form of P(p1 > p2) for integer
beta parameters (Cook 2005; Evan Miller 2015) written out here; R's integrate() and
uniroot() in tests/fixtures/bayes (made by make_r_fixtures.R); Monte Carlo with 2 million
fixed-seed draws here, within 4 standard errors; and, for the HbA1c ensemble, the
posterior of one reconstruction recomputed from its data with pandas and scipy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special
from scipy import stats as sps

from trialkit import cohort

pytestmark = pytest.mark.notebooks

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bayes"
NAME = "10_bayesian_reanalysis"
PRIORS = ("sceptical", "neutral", "enthusiastic")


def p_first_greater(a1: int, b1: float, a2: float, b2: float) -> float:
    """P(p1 > p2) for p1 ~ Beta(a1, b1) with integer a1 and p2 ~ Beta(a2, b2) (Miller 2015)."""
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


def monte_carlo(a1, b1, a2, b2, delta, draws=2_000_000, seed=97) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    diff = rng.beta(a1, b1, draws) - rng.beta(a2, b2, draws)
    p = float(np.mean(diff > delta))
    return p, math.sqrt(p * (1 - p) / draws)


@pytest.fixture(scope="module")
def report(reports) -> dict:
    rep = json.loads((reports / f"{NAME}.json").read_text())
    p = rep["parameters"]
    assert (p["clinically_relevant"], p["prior_rate"], p["prior_tail"]) == (0.1, 0.1, 0.05)
    assert p["data_dir"] == "" and p["cgm_weight"] == 0.5
    return rep


@pytest.fixture(scope="module")
def nb10(report) -> dict:
    return report["records"]


@pytest.fixture(scope="module")
def r_fixture() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "r_beta_difference.csv").set_index(["id", "delta"])


def test_counts_are_the_published_ones(nb10):
    assert nb10["bayes.counts"] == {"UC-MSC": [9, 45], "Placebo": [2, 44]}


def test_neutral_posterior(nb10, r_fixture):
    # uniform priors: Beta(10, 37) vs Beta(3, 43)
    assert nb10["bayes.priors"]["neutral"] == {"UC-MSC": [1, 1], "Placebo": [1, 1]}
    assert nb10["bayes.p_benefit"]["neutral"] == pytest.approx(
        p_first_greater(10, 37, 3, 43), abs=1e-11
    )
    r = r_fixture.loc[("zang_neutral", 0.1)]
    assert nb10["bayes.p_relevant"]["neutral"] == pytest.approx(r["prob_integrate"], abs=1e-10)
    assert nb10["bayes.credible_interval"]["neutral"] == pytest.approx(
        [r["q025"], r["q975"]], abs=1e-8
    )
    assert nb10["bayes.posterior_mean"]["neutral"] == pytest.approx(10 / 47 - 3 / 46)


def test_sceptical_and_enthusiastic_priors_agree_with_r(nb10):
    r = pd.read_csv(FIXTURES / "r_priors.csv")
    r = r[(r["rate"] == 0.1) & (r["relevant"] == 0.1) & (r["tail"] == 0.05)].iloc[0]
    (a, b), (a2, b2) = nb10["bayes.priors"]["sceptical"].values()
    assert (a, b) == (a2, b2)  # the same prior in both arms: no difference expected
    assert a + b == pytest.approx(r["sceptical_strength"], rel=1e-8)
    assert a / (a + b) == pytest.approx(0.1)
    enthusiastic = nb10["bayes.priors"]["enthusiastic"]
    uc, pl = enthusiastic["UC-MSC"], enthusiastic["Placebo"]
    assert sum(uc) == pytest.approx(r["enthusiastic_strength"], rel=1e-8)
    assert (uc[0] / sum(uc), pl[0] / sum(pl)) == pytest.approx((0.2, 0.1))


@pytest.mark.parametrize("prior", ["sceptical", "enthusiastic"])
def test_informative_posteriors_agree_with_monte_carlo(nb10, prior):
    uc, pl = nb10["bayes.priors"][prior]["UC-MSC"], nb10["bayes.priors"][prior]["Placebo"]
    post = (uc[0] + 9, uc[1] + 36, pl[0] + 2, pl[1] + 42)
    for delta, key in ((0.0, "bayes.p_benefit"), (0.1, "bayes.p_relevant")):
        p, se = monte_carlo(*post, delta)
        assert abs(nb10[key][prior] - p) < 4 * se, (prior, delta)


def test_priors_order_the_answers(nb10):
    pb, pr = nb10["bayes.p_benefit"], nb10["bayes.p_relevant"]
    assert pb["sceptical"] < pb["neutral"] < pb["enthusiastic"]
    assert pr["sceptical"] < 0.5 < pr["neutral"]
    assert all(abs(row["z"]) < 4 for row in nb10["bayes.mc_check"])


def test_analysis_set_cases(nb10, r_fixture):
    cases = nb10["bayes.analysis_set"]
    assert list(cases) == ["9/45 vs 2/44", "9/45 vs 2/46", "9/45 vs 3/46", "9/45 vs 4/46"]
    # neutral: Beta(10, 37) against Beta(1 + x, 1 + 46 - x)
    for x in (2, 3, 4):
        got = cases[f"9/45 vs {x}/46"]["neutral"]["p_benefit"]
        assert got == pytest.approx(p_first_greater(10, 37, 1 + x, 47 - x), abs=1e-11)
    for x, rid in ((3, "placebo_3_46"), (4, "placebo_4_46")):
        r = r_fixture.loc[(rid, 0.1)]
        assert cases[f"9/45 vs {x}/46"]["neutral"]["p_relevant"] == pytest.approx(
            r["prob_integrate"], abs=1e-10
        )
    assert cases["9/45 vs 2/44"]["sceptical"]["p_benefit"] == nb10["bayes.p_benefit"]["sceptical"]


def test_cgm_prior_on_the_treatment_effect(nb10):
    """The CGM paper enters as a discounted normal prior on the log odds ratio; checked
    against statsmodels' log odds ratio and Woolf SE and the normal-normal update by hand."""
    import statsmodels.api as sm

    cgm = nb10["bayes.cgm"]
    # 43.2% of 37 and 11.1% of 36 (randomized numbers as denominators)
    assert cgm["counts"] == {"UC-MSC": [16, 37], "Placebo": [4, 36]}
    ours = sm.stats.Table2x2(np.array([[9, 36], [2, 42]]))
    theirs = sm.stats.Table2x2(np.array([[16, 21], [4, 32]]))
    est, se = ours.log_oddsratio, ours.log_oddsratio_se
    est0, se0 = theirs.log_oddsratio, theirs.log_oddsratio_se
    rel = cgm["relevant_log_or"]
    assert rel == pytest.approx(special.logit(0.2) - special.logit(0.1), abs=1e-12)
    w = cgm["by_weight"]
    for weight in (0, 0.5, 1):
        prec = 1 / se**2 + weight / se0**2
        mean = (est / se**2 + weight * est0 / se0**2) / prec
        sd = prec**-0.5
        got = w[f"{weight:g}"]
        assert got["p_benefit"] == pytest.approx(sps.norm.sf(0, mean, sd), abs=1e-12)
        assert got["p_relevant"] == pytest.approx(sps.norm.sf(rel, mean, sd), abs=1e-12)
    assert cgm["p_relevant"] == w["0.5"]["p_relevant"]
    relevant = [w[k]["p_relevant"] for k in sorted(w, key=float)]
    assert relevant == sorted(relevant)  # more weight on a larger outside effect: higher


def test_hba1c_ensemble(report, nb10):
    ens = nb10["bayes.ensemble"]
    assert ens["size"] == report["parameters"]["ensemble_size"]
    p = ens["p_relevant"]
    assert p["min"] <= p["median"] <= p["max"]
    assert p["min"] < p["max"]  # the summary leaves it open
    # member 0 recomputed from its data: week-48 HbA1c minus the baseline record (last on or
    # before day 1), full analysis set; reading A takes the difference of the printed means
    data = cohort.ensemble_member(0, report["parameters"]["seed"])
    lb = data["ADLB"][data["ADLB"]["PARAMCD"] == "HBA1C"]
    base = lb[lb["ADY"] <= 1].sort_values("ADY").groupby("USUBJID")["AVAL"].last()
    w48 = lb[lb["AVISITN"] == 48].set_index("USUBJID")["AVAL"]
    fas = data["ADSL"][data["ADSL"]["FASFL"] == "Y"].set_index("USUBJID")["ARM"]
    change = (w48 - base).reindex(fas.index)
    uc, pl = change[fas == "UC-MSC"], change[fas == "Placebo"]
    se = math.sqrt(uc.var() / len(uc) + pl.var() / len(pl))
    m0 = ens["members"][0]
    assert m0["member"] == 0
    printed = (7.52 - 9.02) - (8.19 - 8.89)
    assert m0["mean"] == pytest.approx(printed, abs=1e-12)
    assert uc.mean() - pl.mean() == pytest.approx(printed, abs=0.01)  # matches the printed means
    assert m0["sd"] == pytest.approx(se, rel=1e-9)
    rel = ens["hba1c_relevant"]
    assert m0["p_relevant"] == pytest.approx(sps.norm.cdf(-rel, printed, se), rel=1e-9)
    # reading B: the printed decreases and p = 0.0081 (pooled t-test, 45 + 44 - 2 df)
    b = ens["reading_b"]
    assert b["mean"] == pytest.approx(-(1.31 - 0.63), abs=1e-12)
    assert b["se"] == pytest.approx(0.68 / sps.t.isf(0.0081 / 2, 87), rel=1e-12)
    assert b["p_relevant"] == pytest.approx(sps.norm.cdf(-rel, -0.68, b["se"]), rel=1e-12)
