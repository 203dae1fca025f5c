"""Notebook 07 (missing data and estimands): its records against outside references.

References: the paper's printed percentages and 95% CI (9/45 vs 2/44, Wald 2.25-28.66%);
Fisher's exact test written out below from hypergeometric sums; R (nlme/emmeans MMRM and
lm ANCOVA of the canonical synthetic HbA1c, ``tests/fixtures/mmrm``); expectations of the
estimators written out (non-responder imputation under MCAR, responder MI); and the
published HbA1c means for the simulation's true difference. Monte Carlo results are held
to tolerances from their own Monte Carlo standard errors.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from trialkit import params

pytestmark = pytest.mark.notebooks

NAME = "07_missing_data_and_estimands"
MMRM = Path(__file__).resolve().parent / "fixtures" / "mmrm"


@pytest.fixture(scope="module")
def nb07(recorded) -> dict:
    return recorded(NAME)


def fisher(a: int, n1: int, b: int, n2: int) -> float:
    """Two-sided Fisher exact p: the hypergeometric probabilities of every table with the
    observed margins no more probable than the observed one, summed."""
    events = a + b

    def prob(x: int) -> float:
        return math.comb(n1, x) * math.comb(n2, events - x) / math.comb(n1 + n2, events)

    lo, hi = max(0, events - n2), min(n1, events)
    return sum(prob(x) for x in range(lo, hi + 1) if prob(x) <= prob(a) * (1 + 1e-7))


def wald(a: int, n1: int, b: int, n2: int) -> tuple[float, float, float]:
    p1, p2 = a / n1, b / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    z = sps.norm.isf(0.025)
    return p1 - p2, p1 - p2 - z * se, p1 - p2 + z * se


def test_07_complete_case_is_the_published_analysis(nb07):
    cc = nb07["responder.complete_case"]
    assert (cc["treated"], cc["control"]) == ("9/45", "2/44")
    # the paper: 20% vs 4.55%, 95% CI 2.25% to 28.66%
    assert [round(100 * v, 2) for v in cc["ci"]] == [2.25, 28.66]
    assert round(100 * 9 / 45) == 20 and round(100 * 2 / 44, 2) == 4.55
    assert cc["p"] == pytest.approx(fisher(9, 45, 2, 44), rel=1e-9)
    assert nb07["missing.week48"]["data"] == {"Placebo": [2, 46], "UC-MSC": [0, 45]}


def test_07_tipping_grid_of_the_two_unanalysed_placebo_patients(nb07):
    g = nb07["responder.tipping_point"]
    assert (g["x1"], g["n1"], g["m1"], g["x2"], g["n2"], g["m2"]) == (9, 45, 0, 2, 44, 2)
    assert g["k1"] == [0] and g["k2"] == [0, 1, 2]
    for k2 in range(3):
        assert g["p"][0][k2] == pytest.approx(fisher(9, 45, 2 + k2, 46), rel=1e-9)
        assert g["rd"][0][k2] == pytest.approx(9 / 45 - (2 + k2) / 46, abs=1e-15)
    assert g["significant"] == [[True, False, False]]
    assert g["tipping_cells"] == [[0, 1]]
    assert g["control_responders_to_tip"] == 1
    assert g["treated_nonresponders_to_tip"] is None


def test_07_nri_worst_case_and_mi_of_the_responder_endpoint(nb07):
    nri = nb07["responder.nri"]
    rd, low, high = wald(9, 45, 2, 46)
    assert nri["control"] == "2/46"
    assert [nri["rd"], *nri["ci"]] == pytest.approx([rd, low, high], rel=1e-10)
    assert nri["p"] == pytest.approx(fisher(9, 45, 2, 46), rel=1e-9)
    assert nb07["responder.worst_case"]["p"] == pytest.approx(fisher(9, 45, 4, 46), rel=1e-9)
    mi = nb07["responder.mi"]
    # E[imputed placebo responders] = 2 (2 + 1/2) / (44 + 1) under the Jeffreys prior
    expected = 9 / 45 - (2 + 2 * 2.5 / 45) / 46
    # SD of the completed RD over imputations <= SD of Binomial(2, ~0.1) / 46 = 0.0092
    assert abs(mi["rd"] - expected) < 4 * 0.0092 / math.sqrt(mi["m"])
    assert mi["ci"][0] < nri["rd"] < mi["ci"][1]
    assert 0 < mi["fmi"] < 0.1


def test_07_teaching_trial_grid(nb07):
    g = nb07["teaching.responder.tipping_point"]
    miss = nb07["missing.week48"]["teaching"]
    assert (g["m1"], g["m2"]) == (miss["UC-MSC"][0], miss["Placebo"][0])
    p = np.array(g["p"])
    assert p.shape == (g["m1"] + 1, g["m2"] + 1)
    for k1, k2 in [(0, 0), (g["m1"], 0), (0, g["m2"]), (g["m1"] // 2, g["m2"] // 2)]:
        a, b = g["x1"] + k1, g["x2"] + k2
        assert p[k1, k2] == pytest.approx(
            fisher(a, g["n1"] + g["m1"], b, g["n2"] + g["m2"]), rel=1e-9
        )


def test_07_hba1c_mmrm_and_complete_case_match_r(nb07):
    r = pd.read_csv(MMRM / "r_contrasts.csv")
    r48 = r[(r["dataset"] == "hba1c_canonical") & (r["visit"].astype(str) == "48")].iloc[0]
    mm = nb07["hba1c.mmrm_mar.week48"]
    assert mm["diff"] == pytest.approx(r48["estimate"], rel=1e-5)
    assert mm["se"] == pytest.approx(r48["se"], rel=1e-5)
    assert mm["df"] == pytest.approx(r48["df"], rel=0.01)
    lm = pd.read_csv(MMRM / "r_week48.csv")
    lm = lm[(lm["dataset"] == "hba1c_canonical") & (lm["method"] == "ancova")].iloc[0]
    cc = nb07["hba1c.complete_case.week48"]
    assert [cc["diff"], cc["se"], cc["df"]] == pytest.approx(
        [lm["estimate"], lm["se"], lm["df"]], rel=1e-9
    )
    assert cc["p"] == pytest.approx(lm["p"], rel=1e-7)


def test_07_mi_agrees_with_mmrm_under_mar(nb07):
    for prefix, tol in (("hba1c", 0.1), ("teaching.hba1c", 0.5)):
        mi, mm = nb07[f"{prefix}.mi.week48"], nb07[f"{prefix}.mmrm_mar.week48"]
        assert set(mi) >= {"diff", "se", "df", "p", "ci"}
        assert abs(mi["diff"] - mm["diff"]) < tol * mm["se"], prefix
        assert mi["se"] == pytest.approx(mm["se"], rel=0.25)
        assert mi["ci"][0] < mi["diff"] < mi["ci"][1]
    assert nb07["hba1c.mi.week48"]["fmi"] < 0.1  # 2 of 91 missing
    assert nb07["hba1c.mi.week48"]["missing"] == {"UC-MSC": 0, "Placebo": 2}


def test_07_delta_tipping_points(nb07):
    data = nb07["hba1c.delta_tipping_point"]
    assert data["significant_at_zero"] and data["tipping_delta"] is None
    t = nb07["teaching.hba1c.delta_tipping_point"]
    grid = pd.DataFrame(t["grid"])
    assert grid["delta"].iloc[0] == 0
    assert grid["estimate"].iloc[0] == pytest.approx(nb07["teaching.hba1c.mi.week48"]["diff"])
    # the shift enters every completed-data OLS estimate linearly: constant slope in delta
    slopes = np.diff(grid["estimate"]) / np.diff(grid["delta"])
    assert slopes == pytest.approx(np.full(len(slopes), slopes[0]), rel=1e-8)
    assert slopes[0] > 0  # against the (negative) UC-MSC difference
    tip = t["tipping_delta"]
    assert tip is not None and t["tipping_grid"] - 0.1 - 1e-9 <= tip <= t["tipping_grid"]
    assert (grid.loc[grid["delta"] < tip, "p"] < 0.05).all()
    assert (grid.loc[grid["delta"] > tip, "p"] >= 0.05).all()


def test_07_simulation_bias_and_coverage(nb07):
    bias, se = nb07["simulation.bias"], nb07["simulation.bias_mc_se"]
    cov, cov_se = nb07["simulation.coverage"], nb07["simulation.coverage_mc_se"]
    truth = nb07["simulation.truth"]
    settings = nb07["simulation.settings"]
    rate = settings["rate"]
    # the truth: the published end-minus-baseline means, (7.52 - 9.02) - (8.19 - 8.89)
    published = (7.52 - 9.02) - (8.19 - 8.89)
    assert abs(truth["HbA1c"] - published) < 4 * settings["truth_mc_se"]["HbA1c"] + 0.005

    def within(endpoint, method, mech, value=0.0, k=3.0):
        return abs(bias[endpoint][method][mech] - value) < k * se[endpoint][method][mech]

    for endpoint in ("HbA1c", "responder"):
        assert within(endpoint, "complete data", "MCAR")
        assert within(endpoint, "complete case", "MCAR")
    assert within("HbA1c", "MI (MAR)", "MCAR")
    assert within("HbA1c", "MI (MAR)", "MAR")
    # complete case under MNAR: the completers have lower HbA1c, more so on placebo
    assert bias["HbA1c"]["complete case"]["MNAR"] > 3 * se["HbA1c"]["complete case"]["MNAR"]
    assert bias["HbA1c"]["complete case"]["MAR"] > 3 * se["HbA1c"]["complete case"]["MAR"]
    # NRI under MCAR estimates (1 - rate) x the difference: bias = -rate x truth
    assert within("responder", "non-responder imputation", "MCAR", -rate * truth["responder"])
    # complete-data intervals cover at the nominal rate
    c = cov["HbA1c"]["complete data"]["MCAR"]
    assert abs(c - 0.95) < 3 * max(cov_se["HbA1c"]["complete data"]["MCAR"], 0.01)


def test_07_tables_say_their_provenance(reports):
    """With the default (reconstructed) patients every table says where its rows come from."""
    nb = nbformat.read(reports / f"{NAME}.ipynb", as_version=4)
    captions = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            if "<caption>" in html:
                captions += 1
                assert "RECONSTRUCTED" in html or "SIMULATED" in html, cell.source[:80]
    assert captions >= 2


def test_07_responder_mi_is_not_called_mar_and_its_p_is_not_shown(reports):
    """MI from the arm's rate makes the complete-case assumption (MCAR within arm): the
    page labels it so and does not set its Rubin-t p beside the exact test's."""
    nb = nbformat.read(reports / f"{NAME}.ipynb", as_version=4)
    tables = [
        out["data"]["text/html"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "Responder endpoint" in out.get("data", {}).get("text/html", "")
    ]
    assert len(tables) == 1
    assert "MI within arm (= MCAR within arm)" in tables[0]
    assert "(MAR)" not in tables[0]


def test_07_parameters_are_checked():
    with pytest.raises(params.ParameterError, match="dropout_mechanism"):
        params.validate(NAME, {"dropout_mechanism": "NMAR"})
    with pytest.raises(params.ParameterError, match="n_imputations"):
        params.validate(NAME, {"n_imputations": 1})
