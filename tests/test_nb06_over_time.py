"""Notebook 06 (HbA1c and insulin dose over time): its records against R.

The session's run uses the canonical SYNTHETIC patients; their analysis rows are
tests/fixtures/mmrm/hba1c_canonical.csv and insdose_canonical.csv (test_stats_continuous.py
checks that they are still what data/synthetic gives), on which make_r_fixtures.R ran
nlme::gls + emmeans (MMRM, compound symmetry), lm (ANCOVA) and t.test. A second run points
``data_dir`` at the hand-written bring-your-own-data folder tests/fixtures/byod.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from trialkit import run

pytestmark = pytest.mark.notebooks

NB = "06_hba1c_and_insulin_over_time"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MMRM = FIXTURES / "mmrm"
DATASET = {"hba1c": "hba1c_canonical", "insulin": "insdose_canonical"}
SHAPE = {"diff", "se", "df", "p", "ci"}


@pytest.fixture(scope="module")
def nb06(recorded) -> dict:
    return recorded(NB)


def _r(name: str) -> pd.DataFrame:
    return pd.read_csv(MMRM / f"r_{name}.csv")


def _check(rec: dict, estimate, se, df, p, low, high, rel: float, rel_df: float) -> None:
    assert SHAPE <= set(rec)
    assert rec["diff"] == pytest.approx(estimate, rel=rel)
    assert rec["se"] == pytest.approx(se, rel=rel)
    assert rec["df"] == pytest.approx(df, rel=rel_df)
    assert rec["p"] == pytest.approx(p, rel=max(rel, 10 * rel_df))
    assert rec["ci"] == pytest.approx([low, high], rel=rel)


@pytest.mark.parametrize("outcome", ["hba1c", "insulin"])
def test_06_mmrm_matches_nlme_emmeans(nb06, outcome):
    """MMRM at week 48 vs nlme::gls + emmeans: estimate and SE to 1e-4; Satterthwaite df
    to 1e-4 against nlme's REML likelihood differentiated by numDeriv (df_hessian; see
    fixtures/mmrm/README.md); p and CI from R's estimate, SE and that df, to 1e-2 and 1e-4."""
    r = _r("contrasts")
    row = r[(r["dataset"] == DATASET[outcome]) & (r["visit"].astype(str) == "48")].iloc[0]
    rec = nb06[f"mmrm.{outcome}.week48"]
    q = sps.t.isf(0.025, row.df_hessian)
    p = 2 * sps.t.sf(abs(row.t), row.df_hessian)
    low, high = row.estimate - q * row.se, row.estimate + q * row.se
    _check(rec, row.estimate, row.se, row.df_hessian, p, low, high, 1e-4, 1e-4)
    assert rec["n"] == [45, 44]
    whole = nb06[f"mmrm.{outcome}"]
    assert whole["converged"] is True and whole["n_subjects"] == 91 and whole["n_obs"] == 541
    rows = r[r["dataset"] == DATASET[outcome]]
    got = [whole["differences"][str(v)]["diff"] for v in rows["visit"]]
    np.testing.assert_allclose(got, rows["estimate"], rtol=1e-4)
    fit = _r("fit").set_index("dataset").loc[DATASET[outcome]]
    assert whole["loglik"] == pytest.approx(fit["loglik_nlme"], abs=1e-6)


def test_06_mmrm_covariance_matches_nlme(nb06):
    cov = _r("covariance")
    cov = cov[cov["dataset"] == "hba1c_canonical"].pivot(
        index="row", columns="col", values="covariance"
    )
    visits = [str(v) for v in nb06["data.post_visits"]]
    np.testing.assert_allclose(nb06["mmrm.hba1c.covariance"], cov.loc[visits, visits], rtol=1e-4)


@pytest.mark.parametrize("outcome", ["hba1c", "insulin"])
def test_06_ttest_and_ancova_match_r(nb06, outcome):
    """The default t-test is Student's on the change (ttest_on = "CHG"); ANCOVA of the
    change on baseline + arm: R's t.test and lm, to 1e-9."""
    r = _r("week48").set_index(["dataset", "method", "on"])
    for key, method in (("ttest", "student"), ("ancova", "ancova")):
        row = r.loc[(DATASET[outcome], method, "CHG")]
        rec = nb06[f"{key}.{outcome}.week48"]
        _check(rec, row.estimate, row.se, row.df, row.p, row.lower, row.upper, 1e-9, 1e-9)
        assert rec["n"] == [row.n_trt, row.n_ref]


@pytest.mark.parametrize("outcome", ["hba1c", "insulin"])
def test_06_random_intercept_matches_nlme_compound_symmetry(nb06, outcome):
    r = _r("compound_symmetry")
    row = r[(r["dataset"] == DATASET[outcome]) & (r["visit"].astype(str) == "48")].iloc[0]
    rec = nb06[f"mixed.{outcome}.week48"]
    assert rec["diff"] == pytest.approx(row.estimate, rel=1e-4)
    assert rec["se"] == pytest.approx(row.se, rel=1e-3)
    assert rec["df"] == "inf"  # normal approximation (statsmodels), stored as "inf"


def test_06_gee_has_the_recorded_shape(nb06):
    for outcome in ("hba1c", "insulin"):
        rec = nb06[f"gee.{outcome}.week48"]
        assert SHAPE <= set(rec) and rec["df"] == "inf" and rec["se"] > 0
        assert rec["ci"][0] < rec["diff"] < rec["ci"][1]


def test_06_baseline_adjustment_and_likelihood_ratio(nb06):
    r = _r("week48").set_index(["dataset", "method", "on"])
    se = nb06["hba1c.se_by_adjustment"]
    assert se["value"] == pytest.approx(
        r.loc[("hba1c_canonical", "student", "AVAL"), "se"], rel=1e-9
    )
    assert se["change"] == pytest.approx(
        r.loc[("hba1c_canonical", "student", "CHG"), "se"], rel=1e-9
    )
    assert se["ancova"] == pytest.approx(
        r.loc[("hba1c_canonical", "ancova", "CHG"), "se"], rel=1e-9
    )
    data = pd.read_csv(MMRM / "hba1c_canonical.csv")
    w48 = data[data["AVISITN"] == 48]
    assert nb06["hba1c.baseline_correlation"] == pytest.approx(
        np.corrcoef(w48["BASE"], w48["AVAL"])[0, 1], rel=1e-12
    )
    lr = nb06["hba1c.un_vs_cs"]
    fit = _r("fit").set_index("dataset").loc["hba1c_canonical"]
    cs = _r("compound_symmetry").set_index("dataset").loc["hba1c_canonical"].iloc[0]
    assert lr["loglik_un"] == pytest.approx(fit["loglik_nlme"], abs=1e-6)
    assert lr["loglik_cs"] == pytest.approx(cs["loglik_nlme"], abs=1e-4)
    assert lr["df"] == 21 - 2


def test_06_dropout_demonstration(nb06):
    """The complete-case ANCOVA after the planted MAR dropout, written out with numpy."""
    demo = nb06["mar_demo.hba1c"]
    data = pd.read_csv(MMRM / "hba1c_canonical.csv")
    pl24 = data[(data["ARM"] == "Placebo") & (data["AVISITN"] == 24)]
    leavers = pl24.nlargest(len(pl24) // 4, "CHG")["USUBJID"]
    assert demo["n_removed"] == len(leavers) == 11
    w = data[(data["AVISITN"] == 48) & ~data["USUBJID"].isin(leavers)]
    X = np.column_stack([np.ones(len(w)), w["ARM"] == "UC-MSC", w["BASE"]]).astype(float)
    beta = np.linalg.lstsq(X, w["CHG"].to_numpy(), rcond=None)[0]
    assert demo["complete_case_ancova"] == pytest.approx(beta[1], rel=1e-9)
    assert demo["full"] == nb06["mmrm.hba1c.week48"]["diff"]
    # the point of the demonstration: under MAR the MMRM stays near the full-data answer
    assert abs(demo["mmrm"] - demo["full"]) < abs(demo["complete_case_ancova"] - demo["full"]) / 5


def test_06_runs_on_bring_your_own_data(tmp_path):
    """tests/fixtures/byod: 6 hand-written subjects, visits 12, 24, 48. The records keep
    their shape; the t-test is checked by hand; the MMRM cannot converge on so little data
    and says so."""
    outcome = run.render(
        only=["06"], out=tmp_path, parameters={"data_dir": str(FIXTURES / "byod")}, jobs=1
    )[0]
    assert outcome.ok, outcome.message
    rec = json.loads((tmp_path / f"{NB}.json").read_text())["records"]
    assert rec["data.synthetic"] is False and rec["data.post_visits"] == [12, 24, 48]
    for method in ("ttest", "ancova", "mmrm", "gee", "mixed"):
        for outcome_name in ("hba1c", "insulin"):
            assert SHAPE <= set(rec[f"{method}.{outcome_name}.week48"])
    # week-48 HbA1c changes: UC-MSC 0101 -2.2, 0105 -2.7; placebo 0102 -0.7, 0104 -0.7
    t = rec["ttest.hba1c.week48"]
    assert t["diff"] == pytest.approx(-1.75) and t["df"] == 2 and t["n"] == [2, 2]
    assert t["se"] == pytest.approx(math.sqrt(0.125 / 2) * math.sqrt(1 / 2 + 1 / 2))
    assert rec["mmrm.hba1c"]["converged"] is False and rec["mmrm.hba1c.week48"]["df"] is None
    assert rec["hba1c.un_vs_cs"] is None


def test_06_subgroups_by_interaction_written_out(nb06):
    """Section 6: the treatment effect within each sex and the treatment-by-sex
    interaction, by least squares with numpy on the canonical rows (CHG ~ 1 + BASE + male +
    treated x female + treated x male at week 48), its p from the t distribution."""
    data = pd.read_csv(MMRM / "hba1c_canonical.csv")
    adsl = pd.read_csv(
        Path(__file__).resolve().parent.parent / "data" / "synthetic" / "ADSL.csv",
        dtype={"USUBJID": str},
        keep_default_na=False,
    )
    w = data[data["AVISITN"] == 48].merge(adsl[["USUBJID", "SEX"]], on="USUBJID")
    t = (w["ARM"] == "UC-MSC").to_numpy(float)
    male = (w["SEX"] == "M").to_numpy(float)
    X = np.column_stack([np.ones(len(w)), w["BASE"], male, t * (1 - male), t * male])
    y = w["CHG"].to_numpy(float)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    df = len(y) - X.shape[1]
    cov = ((y - X @ beta) @ (y - X @ beta) / df) * np.linalg.inv(X.T @ X)
    c = np.array([0, 0, 0, -1, 1.0])
    p_int = 2 * sps.t.sf(abs(c @ beta) / math.sqrt(c @ cov @ c), df)
    rows = {r["level"]: r for r in nb06["subgroups.hba1c"] if r["subgroup"] == "sex"}
    assert rows["female"]["difference"] == pytest.approx(beta[3], rel=1e-9)
    assert rows["male"]["difference"] == pytest.approx(beta[4], rel=1e-9)
    assert rows["male"]["interaction p"] == pytest.approx(p_int, rel=1e-8)
    assert rows["male"]["patients"] + rows["female"]["patients"] == len(w) == 89
