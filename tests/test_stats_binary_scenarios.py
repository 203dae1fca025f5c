"""trialkit.stats.analysis_set_scenarios: every outcome of the unanalysed patients.

References: R's fisher.test, chisq.test and Epi::ci.pd on the grid of tables in
tests/fixtures/safety/r_2x2_grid.csv (made by make_r_fixtures.R there), Fisher's p by
direct hypergeometric summation and the Wald interval by its formula, written out here.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as sps

from trialkit import stats

R_GRID = (
    pd.read_csv(Path(__file__).resolve().parent / "fixtures" / "safety" / "r_2x2_grid.csv")
    .set_index(["x1", "n1", "x2", "n2"])
    .sort_index()
)


def fisher_by_enumeration(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided Fisher p: the hypergeometric probabilities of the tables with the
    observed margins that are no more probable than the observed one, summed."""
    m = x1 + x2
    big = math.comb(n1 + n2, m)
    probs = {a: math.comb(n1, a) * math.comb(n2, m - a) / big for a in range(m + 1)}
    probs = {a: p for a, p in probs.items() if m - a <= n2}
    return sum(p for p in probs.values() if p <= probs[x1] * (1 + 1e-7))


@pytest.fixture(scope="module")
def zang() -> pd.DataFrame:
    # the paper: 9/45 vs 2/44 analysed; 2 of the 46 randomized placebo patients left out
    return stats.analysis_set_scenarios(9, 45, 2, 44, unanalysed1=0, unanalysed2=2)


def test_scenarios_are_every_outcome_of_the_unanalysed(zang):
    per = zang.drop_duplicates("scenario").set_index("scenario")
    assert per["case"].tolist() == [
        "as analysed",
        "best case, all missing = no event",
        "in between",
        "worst case",
    ]
    assert per[["x1", "n1", "x2", "n2"]].values.tolist() == [
        [9, 45, 2, 44],
        [9, 45, 2, 46],
        [9, 45, 3, 46],
        [9, 45, 4, 46],
    ]
    assert per["k2"].tolist()[1:] == [0, 1, 2] and pd.isna(per["k2"].iloc[0])
    assert set(zang["analysis"]) == set(stats.SCENARIO_ANALYSES)
    assert len(zang) == 4 * len(stats.SCENARIO_ANALYSES)


def test_scenario_p_values_and_intervals_match_r_and_enumeration(zang):
    for (a, m1, b, m2), rows in zang.groupby(["x1", "n1", "x2", "n2"]):
        ref = R_GRID.loc[(a, m1, b, m2)]
        got = rows.set_index("analysis")
        assert got.loc["fisher", "p"] == pytest.approx(ref["fisher_p"], rel=1e-8)
        assert got.loc["fisher", "p"] == pytest.approx(
            fisher_by_enumeration(a, m1, b, m2), rel=1e-10
        )
        assert got.loc["chi2", "p"] == pytest.approx(ref["chi2_p"], rel=1e-8)
        assert got.loc["chi2_yates", "p"] == pytest.approx(ref["chi2_yates_p"], rel=1e-8)
        for method, col in (("newcombe", "newcombe"), ("agresti-caffo", "agresti_caffo")):
            assert [got.loc[method, "low"], got.loc[method, "high"]] == pytest.approx(
                [ref[f"{col}_low"], ref[f"{col}_high"]], rel=1e-8
            )
        p1, p2 = a / m1, b / m2
        se = math.sqrt(p1 * (1 - p1) / m1 + p2 * (1 - p2) / m2)
        z = sps.norm.isf(0.025)
        assert [got.loc["wald", "low"], got.loc["wald", "high"]] == pytest.approx(
            [p1 - p2 - z * se, p1 - p2 + z * se], rel=1e-12
        )
        assert (got["significant"] == ((got["p"] < 0.05) | (got["low"] > 0))).all()


def test_which_conclusions_survive(zang):
    sig = zang.pivot(index="scenario", columns="analysis", values="significant")
    # as analysed (9/45 vs 2/44): everything but Yates' chi-square
    assert not sig.loc[0, "chi2_yates"] and sig.loc[0].drop("chi2_yates").all()
    # one unanalysed placebo responder (3/46) already loses Fisher: p = 0.118 (R)
    assert not sig.loc[2, "fisher"]
    assert R_GRID.loc[(9, 45, 3, 46), "fisher_p"] > 0.05
    # the worst case loses every analysis
    assert not sig.loc[3].any()


def test_both_arms_unanalysed_and_nobody_unanalysed():
    t = stats.analysis_set_scenarios(9, 43, 2, 44, unanalysed1=2, unanalysed2=1)
    per = t.drop_duplicates("scenario").set_index(["k1", "k2"])
    assert len(per) == 1 + 3 * 2
    assert per.loc[(2, 0), "case"] == "best case"
    assert per.loc[(0, 1), "case"] == "worst case"
    assert per.loc[(0, 0), "case"] == "all missing = no event"
    assert per.loc[(2, 1), ["x1", "n1", "x2", "n2"]].tolist() == [11, 45, 3, 45]
    only = stats.analysis_set_scenarios(9, 45, 2, 44)
    assert only["scenario"].unique().tolist() == [0]
    assert only["case"].unique().tolist() == ["as analysed"]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"unanalysed1": -1}, "unanalysed1"),
        ({"unanalysed2": 1.5}, "unanalysed2"),
        ({"alpha": 2}, "alpha"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        stats.analysis_set_scenarios(9, 45, 2, 44, **kwargs)
