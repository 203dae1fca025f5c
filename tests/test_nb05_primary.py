"""Notebook 05 (the primary endpoint, analysed on patients), results checked.

References: the paper's counts (9/45 vs 2/44); R (fisher.test, chisq.test, Epi::ci.pd in
tests/fixtures/safety/r_2x2_grid.csv; Barnard, Boschloo and Miettinen-Nurminen in
tests/fixtures/binary/); and, written out here from the CSV files with pandas and numpy
only, the responder counts, Fisher's p by hypergeometric summation, the ANCOVA by least
squares, and the sample sizes by their closed forms or the noncentral t distribution.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as sps

from trialkit import run

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SYNTHETIC = ROOT / "data" / "synthetic"
R_GRID = pd.read_csv(FIXTURES / "safety" / "r_2x2_grid.csv").set_index(["x1", "n1", "x2", "n2"])
R_TESTS = pd.read_csv(FIXTURES / "binary" / "r_tests.csv").set_index("id").loc["zang2022"]
R_INTERVALS = pd.read_csv(FIXTURES / "binary" / "r_intervals.csv").set_index("id").loc["zang2022"]


@pytest.fixture(scope="module")
def nb05(recorded) -> dict:
    return recorded("05_primary_endpoint")


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(SYNTHETIC / f"{name}.csv", keep_default_na=False, dtype={"USUBJID": str})


@pytest.fixture(scope="module")
def week48() -> pd.DataFrame:
    """Per analysed subject: arm, HbA1c and insulin dose at baseline and week 48, from the
    CSV files directly (one record per subject, parameter and visit in these files)."""
    adsl = _csv("ADSL")
    fas = adsl[adsl["FASFL"] == "Y"].set_index("USUBJID")
    out = pd.DataFrame({"ARM": fas["ARM"]})
    for name, param in (("ADLB", "HBA1C"), ("ADEX", "INSDOSE")):
        df = _csv(name)
        df = df[df["PARAMCD"] == param]
        assert not df.duplicated(["USUBJID", "AVISITN"]).any()
        wide = df.pivot(index="USUBJID", columns="AVISITN", values="AVAL")
        out[f"{param}_0"] = wide[0].reindex(out.index)
        out[f"{param}_48"] = wide[48].reindex(out.index)
    return out


def fisher_by_enumeration(x1: int, n1: int, x2: int, n2: int) -> float:
    m = x1 + x2
    probs = {
        a: math.comb(n1, a) * math.comb(n2, m - a) / math.comb(n1 + n2, m)
        for a in range(max(0, m - n2), min(n1, m) + 1)
    }
    return sum(p for p in probs.values() if p <= probs[x1] * (1 + 1e-7))


# --------------------------------------------------------------------------- counts
def test_05_counts_are_the_papers_and_match_the_csv(nb05, week48):
    assert nb05["primary.counts"] == {"UC-MSC": [9, 45], "Placebo": [2, 44]}
    hb = week48["HBA1C_48"] < 7.0
    ins = 100 * (week48["INSDOSE_48"] - week48["INSDOSE_0"]) / week48["INSDOSE_0"] <= -50
    by_arm = {
        arm: {
            "HBA1CLT7": [int(hb[week48.ARM == arm].sum()), int((week48.ARM == arm).sum())],
            "INSRED50": [int(ins[week48.ARM == arm].sum()), int((week48.ARM == arm).sum())],
            "RESP": [int((hb & ins)[week48.ARM == arm].sum()), int((week48.ARM == arm).sum())],
        }
        for arm in ("UC-MSC", "Placebo")
    }
    assert nb05["primary.counts"] == {arm: v["RESP"] for arm, v in by_arm.items()}
    for code in ("HBA1CLT7", "INSRED50"):
        assert nb05["primary.components"][code] == {arm: v[code] for arm, v in by_arm.items()}


def test_05_effects_and_tests_agree_with_r(nb05):
    assert nb05["primary.rd"] == pytest.approx(9 / 45 - 2 / 44, abs=1e-12)
    ref = R_GRID.loc[(9, 45, 2, 44)]
    assert nb05["primary.ci.newcombe"] == pytest.approx(
        [ref["newcombe_low"], ref["newcombe_high"]], rel=1e-8
    )
    assert nb05["primary.ci.agresti_caffo"] == pytest.approx(
        [ref["agresti_caffo_low"], ref["agresti_caffo_high"]], rel=1e-8
    )
    assert nb05["primary.ci.miettinen_nurminen"] == pytest.approx(
        [R_INTERVALS["mn_low"], R_INTERVALS["mn_high"]], rel=1e-6
    )
    assert [round(100 * v, 2) for v in nb05["primary.ci.wald"]] == [2.25, 28.66]  # the paper
    assert nb05["primary.rr"]["estimate"] == pytest.approx((9 / 45) / (2 / 44))
    assert [nb05["primary.rr"]["low"], nb05["primary.rr"]["high"]] == pytest.approx(
        [R_INTERVALS["katz_low"], R_INTERVALS["katz_high"]], rel=1e-8
    )
    assert [nb05["primary.or"]["low"], nb05["primary.or"]["high"]] == pytest.approx(
        [R_INTERVALS["woolf_low"], R_INTERVALS["woolf_high"]], rel=1e-8
    )
    assert nb05["primary.nnt"]["estimate"] == pytest.approx(1 / (9 / 45 - 2 / 44))
    assert nb05["primary.nnt"]["benefit"] == pytest.approx(
        [1 / ref["newcombe_high"], 1 / ref["newcombe_low"]], rel=1e-8
    )
    assert nb05["primary.p.fisher"] == pytest.approx(ref["fisher_p"], rel=1e-8)
    assert nb05["primary.p.fisher"] == pytest.approx(fisher_by_enumeration(9, 45, 2, 44))
    assert nb05["primary.p.chi2"] == pytest.approx(ref["chi2_p"], rel=1e-8)
    assert nb05["primary.p.chi2_yates"] == pytest.approx(ref["chi2_yates_p"], rel=1e-8)
    assert nb05["primary.p.barnard"] == pytest.approx(R_TESTS["barnard_pooled_p"], rel=1e-4)
    assert nb05["primary.p.boschloo"] == pytest.approx(R_TESTS["boschloo_p"], rel=1e-4)


# --------------------------------------------------------------------------- analysis set
def test_05_every_outcome_of_the_two_unanalysed_placebo_patients(nb05):
    assert nb05["analysis_set.unanalysed"] == {"UC-MSC": 0, "Placebo": 2}
    scenarios = nb05["analysis_set.scenarios"]
    assert [s["placebo_missing_responders"] for s in scenarios] == [None, 0, 1, 2]
    assert [s["ucmsc_missing_responders"] for s in scenarios] == [None, 0, 0, 0]
    assert [s["case"] for s in scenarios] == [
        "as analysed",
        "best case, all missing = no event",
        "in between",
        "worst case",
    ]
    expected_p = {}
    for s, k in zip(scenarios, [None, 0, 1, 2], strict=True):
        x2, n2 = (2, 44) if k is None else (2 + k, 46)
        assert s["counts"] == {"UC-MSC": [9, 45], "Placebo": [x2, n2]}
        ref = R_GRID.loc[(9, 45, x2, n2)]
        p = fisher_by_enumeration(9, 45, x2, n2)
        expected_p[k] = p
        assert s["p_fisher"] == pytest.approx(p, rel=1e-10)
        assert s["p_fisher"] == pytest.approx(ref["fisher_p"], rel=1e-8)
        assert s["p_chi2"] == pytest.approx(ref["chi2_p"], rel=1e-8)
        assert s["p_chi2_yates"] == pytest.approx(ref["chi2_yates_p"], rel=1e-8)
        assert s["ci_newcombe"] == pytest.approx([ref["newcombe_low"], ref["newcombe_high"]])
        p1, p2 = 9 / 45, x2 / n2
        se = math.sqrt(p1 * (1 - p1) / 45 + p2 * (1 - p2) / n2)
        z = sps.norm.isf(0.025)
        assert s["ci_wald"] == pytest.approx([p1 - p2 - z * se, p1 - p2 + z * se], rel=1e-10)
        assert s["significant"]["fisher"] == (p < 0.05)
        assert s["significant"]["wald"] == (p1 - p2 - z * se > 0)
    # Fisher: significant as analysed (0.0496) and in the best case; lost with 1 responder
    assert expected_p[None] < 0.05 and expected_p[0] < 0.05 and expected_p[1] > 0.05
    assert nb05["analysis_set.survives_every_scenario"] == []
    assert "fisher" in nb05["analysis_set.lost_in_some_scenario"]
    assert "chi2_yates" not in nb05["analysis_set.lost_in_some_scenario"]  # never held


# --------------------------------------------------------------------------- dichotomizing
def _ancova(y: np.ndarray, base: np.ndarray, treated: np.ndarray) -> tuple[float, float, int]:
    """Arm coefficient, its SE and residual df of y ~ 1 + treated + base (least squares)."""
    X = np.column_stack([np.ones_like(y), treated, base])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    df = len(y) - X.shape[1]
    cov = (resid @ resid / df) * np.linalg.inv(X.T @ X)
    return float(beta[1]), float(np.sqrt(cov[1, 1])), df


def _n_ttest(d: float, power: float = 0.8, alpha: float = 0.05) -> float:
    """n per arm at which the two-sided two-sample t-test has ``power`` (noncentral t)."""

    def achieved(n: float) -> float:
        df, nc = 2 * n - 2, d * math.sqrt(n / 2)
        crit = sps.t.isf(alpha / 2, df)
        lower = sps.nct.cdf(-crit, df, nc)  # the wrong tail: negligible, NaN when tiny
        return sps.nct.sf(crit, df, nc) + (0.0 if math.isnan(lower) else lower)

    return optimize.brentq(lambda n: achieved(n) - power, 2.0, 400.0, xtol=1e-10)


def test_05_continuous_analyses_and_the_price_of_dichotomizing(nb05, week48):
    treated = (week48["ARM"] == "UC-MSC").to_numpy(float)
    n1, n0 = int(treated.sum()), int(len(treated) - treated.sum())
    hb0, hb48 = week48["HBA1C_0"].to_numpy(float), week48["HBA1C_48"].to_numpy(float)
    ins0, ins48 = week48["INSDOSE_0"].to_numpy(float), week48["INSDOSE_48"].to_numpy(float)
    results = {
        "hba1c": _ancova(hb48 - hb0, hb0, treated),
        "insulin": _ancova(100 * (ins48 - ins0) / ins0, ins0, treated),
    }
    n_cont = {}
    for name, (diff, se, df) in results.items():
        rec = nb05[f"dichotomize.{name}"]
        assert rec["diff"] == pytest.approx(diff, rel=1e-9)
        assert rec["se"] == pytest.approx(se, rel=1e-9)
        assert rec["df"] == df == n1 + n0 - 3
        assert rec["p"] == pytest.approx(2 * sps.t.sf(abs(diff / se), df), rel=1e-8)
        d = -diff / (se / math.sqrt(1 / n1 + 1 / n0))
        assert rec["d"] == pytest.approx(d, rel=1e-9)
        n_cont[name] = _n_ttest(d)
        assert nb05["dichotomize.n_per_arm"][name] == pytest.approx(n_cont[name], rel=1e-5)
    # Welch t-test on the insulin percent change, and Student on the HbA1c change
    pct = 100 * (ins48 - ins0) / ins0
    welch = sps.ttest_ind(pct[treated == 1], pct[treated == 0], equal_var=False)
    assert nb05["dichotomize.insulin_ttest"]["p"] == pytest.approx(welch.pvalue, rel=1e-9)
    # responder analysis: Cohen's h and n = 2 ((z_a/2 + z_power) / h)^2 (arcsine formula:
    # 2 asin(sqrt(p)) has variance 1/n, so the difference of two arms has 2/n)
    h = 2 * math.asin(math.sqrt(9 / 45)) - 2 * math.asin(math.sqrt(2 / 44))
    assert nb05["dichotomize.cohens_h"] == pytest.approx(h, rel=1e-12)
    n_resp = 2 * ((sps.norm.isf(0.025) + sps.norm.ppf(0.8)) / h) ** 2
    assert nb05["dichotomize.n_per_arm"]["responder"] == pytest.approx(n_resp, rel=1e-4)
    ratio = nb05["dichotomize.sample_size_ratio"]
    assert ratio["hba1c"] == pytest.approx(n_resp / n_cont["hba1c"], rel=1e-4)
    assert ratio["insulin"] == pytest.approx(n_resp / n_cont["insulin"], rel=1e-4)
    assert ratio["hba1c"] > 3  # the yes/no analysis needs over three times the patients
    # Fisher-exact sample size: by enumeration, power reaches 80% at n and not at n - 1
    n = nb05["dichotomize.n_per_arm"]["responder_fisher_exact"]
    assert n > nb05["dichotomize.n_per_arm"]["responder"]
    assert _fisher_power(9 / 45, 2 / 44, n) >= 0.8 > _fisher_power(9 / 45, 2 / 44, n - 1)


def _fisher_power(p1: float, p2: float, n: int) -> float:
    """Exact power of Fisher's test with n per arm: the probability of the outcomes with
    p < 0.05 (outcomes of probability below 1e-12 left out)."""
    f1, f2 = sps.binom.pmf(np.arange(n + 1), n, p1), sps.binom.pmf(np.arange(n + 1), n, p2)
    return sum(
        f1[a] * f2[b]
        for a in range(n + 1)
        for b in range(n + 1)
        if f1[a] * f2[b] > 1e-12 and fisher_by_enumeration(a, n, b, n) < 0.05
    )


def test_05_runs_on_an_analysts_own_data(tmp_path):
    """The hand-made bring-your-own-data folder (six subjects, one missing week 48, one
    dropout) runs end to end; counts computed by hand from its README: 0101 responds."""
    byod = FIXTURES / "byod"
    outcome = run.render(only=["05"], out=tmp_path, parameters={"data_dir": str(byod)}, jobs=1)[0]
    assert outcome.ok, outcome.message
    rec = json.loads((tmp_path / "05_primary_endpoint.json").read_text())["records"]
    adsl = pd.read_csv(byod / "ADSL.csv", dtype={"USUBJID": str}, keep_default_na=False)
    n = adsl[adsl["FASFL"] == "Y"].groupby("ARM").size()
    assert rec["primary.counts"] == {
        "UC-MSC": [1, int(n["UC-MSC"])],
        "Placebo": [0, int(n["Placebo"])],
    }
    assert rec["primary.p.fisher"] == pytest.approx(1.0)


def test_05_leaves_out_the_exact_search_where_it_would_take_minutes(tmp_path):
    """HbA1c below 9% with any insulin change: 35/45 vs 33/44 responders, for which Fisher's
    exact sample size is in the thousands per arm (half an hour of search). Notebook 05 gives
    the continuity-corrected approximation instead, and says so; the approximation is
    statsmodels' normal n (R's power.prop.test) with the Fleiss-Tytun-Ury correction
    (Biometrics 1980;36:343-346) written out here."""
    outcome = run.render(
        only=["05"],
        out=tmp_path,
        parameters={"hba1c_cutoff": 9.0, "insulin_reduction": 0.0},
        jobs=1,
        site=False,
    )[0]
    assert outcome.ok, outcome.message
    rec = json.loads((tmp_path / "05_primary_endpoint.json").read_text())["records"]
    assert rec["primary.counts"] == {"UC-MSC": [35, 45], "Placebo": [33, 44]}
    assert rec["dichotomize.n_per_arm"]["responder_fisher_exact"] is None
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    p1, p2 = 35 / 45, 33 / 44
    n = samplesize_proportions_2indep_onetail(p1 - p2, p2, 0.8, alpha=0.05)  # two-sided
    n_cc = n / 4 * (1 + np.sqrt(1 + 4 / (n * abs(p1 - p2)))) ** 2
    said = " ".join(
        o["data"]["text/markdown"]
        for c in nbformat.read(tmp_path / "05_primary_endpoint.ipynb", as_version=4).cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    )
    assert f"to about {int(np.ceil(n_cc))} (Fisher's exact test, by the continuity" in said
    assert "the exact search stops at 250 per arm" in said


def test_05_published_summary_and_fisher_conventions(nb05):
    """What the published summary alone implies (p = 0.0081 read as a t-test on the change
    with 45 and 44 patients; 20% vs 4.55%), and Fisher's two-sided p by doubling, written
    out here with scipy's t and the hypergeometric sum."""
    pub = nb05["dichotomize.published_implied"]
    t = sps.t.isf(0.0081 / 2, 87)
    d = t * math.sqrt(1 / 45 + 1 / 44)
    assert pub["t"] == pytest.approx(t, rel=1e-10)
    assert pub["d"] == pytest.approx(d, rel=1e-10) and round(d, 2) == 0.57
    assert pub["n_ttest"] == pytest.approx(_n_ttest(d), rel=1e-5)
    assert round(pub["n_ttest"]) == 49
    h = 2 * math.asin(math.sqrt(0.20)) - 2 * math.asin(math.sqrt(0.0455))
    n_resp = 2 * ((sps.norm.isf(0.025) + sps.norm.ppf(0.8)) / h) ** 2
    assert pub["n_responder"] == pytest.approx(n_resp, rel=1e-4)
    assert pub["ratio"] == pytest.approx(n_resp / _n_ttest(d), rel=1e-4)
    assert 1.2 < pub["ratio"] < 1.4  # not "three times": that rests on the synthetic effect
    upper = sum(math.comb(45, a) * math.comb(44, 11 - a) / math.comb(89, 11) for a in range(9, 12))
    assert nb05["primary.p.fisher_doubled"] == pytest.approx(2 * upper, rel=1e-10)
    assert nb05["primary.p.fisher"] < 0.05 < nb05["primary.p.fisher_doubled"]
    assert nb05["primary.or_exact"]["low"] < 1 < nb05["primary.or_exact"]["high"]
