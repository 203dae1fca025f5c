"""Notebook 03 (synthetic patients), held to outside references.

The references: the numbers printed in the paper's abstract, typed in below; plain
arithmetic on them; and, for the ensemble, the quantities recomputed here member by member
from the datasets with pandas, scipy and statsmodels (not with ``cohort.summary``), and a
fresh ensemble run in one process (the notebook used every core).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from conftest import TEST_PARAMETERS
from scipy import stats as sps

from trialkit import cohort, params

pytestmark = pytest.mark.notebooks

NB = "03_synthetic_patients"
ARMS = ("UC-MSC", "Placebo")
K = TEST_PARAMETERS.get("ensemble_size", params.SPECS[NB]["ensemble_size"].default)

#: Zang et al. 2022, abstract: every number a reconstruction is built to reproduce, as printed.
PRINTED = {
    "randomized_ucmsc": "45",
    "randomized_placebo": "46",
    "primary_ucmsc": "20",
    "primary_placebo": "4.55",
    "primary_ci_low": "2.25",
    "primary_ci_high": "28.66",
    "insulin_reduction_ucmsc": "27.78",
    "insulin_reduction_placebo": "15.62",
    "hba1c_baseline_ucmsc_mean": "9.02",
    "hba1c_baseline_ucmsc_sd": "1.27",
    "hba1c_end_ucmsc_mean": "7.52",
    "hba1c_end_ucmsc_sd": "1.07",
    "hba1c_baseline_placebo_mean": "8.89",
    "hba1c_baseline_placebo_sd": "1.11",
    "hba1c_end_placebo_mean": "8.19",
    "hba1c_end_placebo_sd": "1.02",
    "gir_baseline_ucmsc": "3.12",
    "gir_end_ucmsc": "4.76",
    "gir_baseline_placebo": "3.26",
    "gir_end_placebo": "3.60",
}
#: printed p-value bounds: (id, upper bound: p < x, or lower bound: p > x)
BOUNDS = {
    "primary_p": ("<", 0.05),
    "insulin_reduction_p": ("<", 0.05),
    "hba1c_decrease_ucmsc_p": ("<", 0.01),
    "gir_change_ucmsc_p": ("<", 0.01),
    "gir_change_placebo_p": (">", 0.05),
    "gir_p": ("<", 0.01),
}


@pytest.fixture(scope="module")
def nb03(recorded) -> dict:
    return recorded(NB)


@pytest.fixture(scope="module")
def ensemble() -> pd.DataFrame:
    return cohort.ensemble(K, seed=0, jobs=1, progress=False)


def test_03_responders_are_the_published_counts(nb03):
    assert nb03["responders"] == {"UC-MSC": [9, 45], "Placebo": [2, 44]}
    # 9/45 prints as 20 and 2/44 as 4.55, the abstract's percentages
    assert f"{100 * 9 / 45:.0f}" == PRINTED["primary_ucmsc"]
    assert f"{100 * 2 / 44:.2f}" == PRINTED["primary_placebo"]
    assert nb03["reconstruct.is_canonical"] is True  # seed 0 is data/synthetic


def test_03_every_forced_row_matches_the_paper(nb03):
    assert nb03["reconstruct.matches_published"] is True
    rows = {(r["id"], r["arm"]): r for r in nb03["reconstruct.compare"]}
    for fid, printed in PRINTED.items():
        row = next(r for (i, _), r in rows.items() if i == fid)
        assert row["reported"] == printed, fid
        assert row["reconstructed"] == printed, fid
        assert row["matches"] is True and row["target"] is True, fid
    for fid, (op, bound) in BOUNDS.items():
        row = next(r for (i, _), r in rows.items() if i == fid)
        p = float(row["reconstructed"])
        assert (p < bound) if op == "<" else (p > bound), fid
        assert row["matches"] is True, fid
    implied = [r for r in nb03["reconstruct.compare"] if r["id"] == ""]
    assert sorted(r["reconstructed"] for r in implied) == ["44", "45"]
    forced = [r for r in nb03["reconstruct.compare"] if r["target"]]
    assert all(r["matches"] for r in forced)
    assert nb03["reconstruct.rows"]["targeted"] == len(forced)
    assert nb03["reconstruct.rows"]["targeted_matched"] == len(forced)


def test_03_rows_that_cannot_match_are_the_impossible_ones(nb03):
    free = {r["id"]: r for r in nb03["reconstruct.compare"] if not r["target"]}
    assert set(free) == {
        "hba1c_decrease_ucmsc",
        "hba1c_decrease_placebo",
        "hba1c_decrease_placebo_p",
        "hba1c_decrease_p",
        "beta_cell_ucmsc",
        "beta_cell_placebo",
    }
    # within the same patients the mean decrease is the difference of the printed means
    assert free["hba1c_decrease_ucmsc"]["reconstructed"] == f"{9.02 - 7.52:.2f}"  # not 1.31
    assert free["hba1c_decrease_placebo"]["reconstructed"] == f"{8.89 - 8.19:.2f}"  # not 0.63
    assert free["hba1c_decrease_placebo_p"]["matches"] is False  # p > 0.05 is impossible


def test_03_ensemble_members_are_independent_of_jobs_and_all_match(nb03, ensemble):
    assert nb03["ensemble.size"] == K == len(ensemble)
    assert nb03["ensemble.all_matched"] is True and ensemble["all_matched"].all()
    assert nb03["ensemble.attempts_mean"] == pytest.approx(ensemble["attempts"].mean())
    assert (ensemble["responders_ucmsc"] == 9).all() and (ensemble["responders_placebo"] == 2).all()
    for quantity in ("hba1c_only_ucmsc", "corr_change_pchg_placebo", "p_hba1c_change_t"):
        v = ensemble[quantity].to_numpy()
        spread = nb03[f"ensemble.{quantity}"]
        assert spread["min"] == pytest.approx(v.min())
        assert spread["max"] == pytest.approx(v.max())
        assert spread["median"] == pytest.approx(np.median(v))
        assert spread["p2.5"] == pytest.approx(np.percentile(v, 2.5))
        assert spread["p97.5"] == pytest.approx(np.percentile(v, 97.5))


def _by_hand(data: dict[str, pd.DataFrame]) -> dict[str, float]:
    """What the ensemble reports for one member, recomputed with pandas/scipy/statsmodels."""
    adsl = data["ADSL"].set_index("USUBJID")
    fas = adsl[adsl["FASFL"] == "Y"]

    def at(df: pd.DataFrame, code: str, week: int) -> pd.Series:
        rows = df[(df["PARAMCD"] == code) & (df["AVISITN"] == week)]
        return rows.set_index("USUBJID")["AVAL"].reindex(fas.index)

    v = pd.DataFrame(
        {
            "arm": fas["ARM"],
            "b": at(data["ADLB"], "HBA1C", 0),
            "e": at(data["ADLB"], "HBA1C", 48),
            "d0": at(data["ADEX"], "INSDOSE", 0),
            "d48": at(data["ADEX"], "INSDOSE", 48),
        }
    )
    v["chg"] = v["e"] - v["b"]
    v["pchg"] = 100 * (v["d48"] - v["d0"]) / v["d0"]
    out: dict[str, float] = {}
    for arm, k in (("UC-MSC", "ucmsc"), ("Placebo", "placebo")):
        a = v[v["arm"] == arm]
        hb, ins = a["e"] < 7.0, a["pchg"] <= -50
        out[f"hba1c_only_{k}"] = int((hb & ~ins).sum())
        out[f"insulin_only_{k}"] = int((~hb & ins).sum())
        out[f"corr_change_pchg_{k}"] = a["chg"].corr(a["pchg"])
        out[f"corr_base_w48_{k}"] = a["b"].corr(a["e"])
    uc, pl = v[v["arm"] == "UC-MSC"], v[v["arm"] == "Placebo"]
    out["p_hba1c_w48_t"] = sps.ttest_ind(uc["e"], pl["e"]).pvalue
    out["p_hba1c_change_t"] = sps.ttest_ind(uc["chg"], pl["chg"]).pvalue
    fit = smf.ols("e ~ b + C(arm)", data=v).fit()
    out["p_hba1c_ancova"] = fit.pvalues["C(arm)[T.UC-MSC]"]
    return out


@pytest.mark.parametrize("member", [0, 1, K - 1])
def test_03_ensemble_quantities_recomputed_from_the_member_data(ensemble, member):
    data = cohort.ensemble_member(member, seed=0)
    row = ensemble.loc[ensemble["member"] == member].iloc[0]
    for quantity, value in _by_hand(data).items():
        assert row[quantity] == pytest.approx(value, rel=1e-9, abs=1e-12), quantity


def test_03_simulation_rarely_lands_on_the_published_counts(nb03):
    share = nb03["simulate.share_exactly_published"]
    assert 0 <= share < 0.05
    sim = nb03["simulate.responders"]
    assert sim["UC-MSC"][1] <= 45 and sim["Placebo"][1] <= 46


def test_03_share_reading_is_refused_before_the_notebook_runs():
    # as a share of patients, 15.62 % needs 5/32 or 10/64 (n <= 91): never 44 analysed
    assert f"{100 * 5 / 32:.3f}" == "15.625" and f"{100 * 10 / 64:.3f}" == "15.625"
    with pytest.raises(params.ParameterError, match=r"reading.*5/32, 10/64"):
        params.validate(NB, {"reading": "share"})
    assert params.validate(NB, {"reading": "mean"})["reading"] == "mean"


def test_03_placebo_p_above_005_possible_only_for_the_printed_decrease(nb03):
    """Notebook 02 and 03 agree: for the printed 0.63 decrease in 44 patients, p > 0.05 is
    possible (at a correlation of about -0.89, implausible); for the reconstruction's own
    decrease (8.89 - 8.19) it is impossible, whatever the correlation."""
    got = nb03["hba1c.placebo_p_above_0.05"]
    n, sd_b, sd_e = 44, 1.11, 1.02

    # the SD at which a paired t-test of the decrease gives p = 0.05 exactly, by root finding
    def p_at(d: float, sd: float) -> float:
        return 2 * sps.t.sf(d / (sd / np.sqrt(n)), n - 1)

    from scipy.optimize import brentq

    need_printed = brentq(lambda s: p_at(0.63, s) - 0.05, 0.1, 10)
    need_means = brentq(lambda s: p_at(8.89 - 8.19, s) - 0.05, 0.1, 10)
    assert got["sd_needed_printed"] == pytest.approx(need_printed, rel=1e-9)
    assert got["sd_needed_means"] == pytest.approx(need_means, rel=1e-9)
    assert got["sd_max"] == pytest.approx(sd_b + sd_e)
    rho = (sd_b**2 + sd_e**2 - need_printed**2) / (2 * sd_b * sd_e)
    assert got["rho_printed"] == pytest.approx(rho, rel=1e-9)
    assert f"{got['sd_needed_printed']:.2f}" == "2.07" and f"{rho:.2f}" == "-0.89"
    assert need_printed < sd_b + sd_e < need_means  # possible vs impossible


def test_03_sd_of_the_change_for_p_0081_both_readings(nb03):
    """1.18 from the printed decreases (1.31 - 0.63, notebook 02), 1.39 from the
    differences of the printed means (1.50 - 0.70): the same p with 45 and 44 patients."""
    from scipy.optimize import brentq

    def sd_for(m1: float, m2: float) -> float:
        def p(s: float) -> float:
            return sps.ttest_ind_from_stats(m1, s, 45, m2, s, 44).pvalue - 0.0081

        return brentq(p, 0.1, 10)

    got = nb03["hba1c.sd_for_p0081"]
    assert got["printed_decreases"] == pytest.approx(sd_for(1.31, 0.63), rel=1e-7)
    assert got["means"] == pytest.approx(sd_for(9.02 - 7.52, 8.89 - 8.19), rel=1e-7)
    assert f"{got['printed_decreases']:.2f}" == "1.18" and f"{got['means']:.2f}" == "1.39"
