"""Notebook 08 (safety), results checked.

References: closed forms (1 - alpha^(1/n), 1 - (1 - r)^n); R's binom.test, fisher.test
and Epi::ci.pd (tests/fixtures/safety/, made by make_r_fixtures.R there); and, written out
here with pandas from data/synthetic/*.csv, the incidence counts, the "major related"
counts and the events after each infusion.
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

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
R_BINOM = pd.read_csv(FIXTURES / "safety" / "r_binom.csv").set_index(["x", "n", "alpha"])
R_GRID = pd.read_csv(FIXTURES / "safety" / "r_2x2_grid.csv").set_index(["x1", "n1", "x2", "n2"])
ARMS = ("UC-MSC", "Placebo")


@pytest.fixture(scope="module")
def nb08(recorded) -> dict:
    return recorded("08_safety")


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", keep_default_na=False, dtype={"USUBJID": str})


def _teae(folder: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    """Treatment-emergent events of randomized patients, with ARM; patients at risk."""
    adsl = _read(folder, "ADSL")
    adsl = adsl[adsl["RANDFL"] == "Y"]
    adae = _read(folder, "ADAE")
    te = adae[adae["TRTEMFL"] == "Y"].merge(adsl[["USUBJID", "ARM"]], on="USUBJID")
    return te, adsl.groupby("ARM").size().to_dict()


# --------------------------------------------------------------------------- bounds
def test_08_zero_of_45_bounds(nb08):
    one = nb08["safety.upper95.zero_of_45"]
    assert one == pytest.approx(1 - 0.05 ** (1 / 45), rel=1e-12)  # one-sided, 0.0644
    assert one == pytest.approx(R_BINOM.loc[(0, 45, 0.05), "one_sided_upper"], rel=1e-8)
    two = nb08["safety.upper95.zero_of_45.two_sided"]
    assert two == pytest.approx(1 - 0.025 ** (1 / 45), rel=1e-12)  # 0.0787
    assert two == pytest.approx(R_BINOM.loc[(0, 45, 0.05), "two_sided_high"], rel=1e-8)
    assert nb08["safety.rule_of_three.45"] == 3 / 45
    assert "one-sided" in nb08["safety.upper_bound_definition"]


def test_08_chance_of_seeing_a_rare_harm(nb08):
    for rate, p in nb08["safety.prob_at_least_one"].items():
        assert p == pytest.approx(1 - (1 - float(rate)) ** 45, rel=1e-12)
    for rate, n in nb08["safety.n_for_95pct_chance"].items():
        r = float(rate)
        assert 1 - (1 - r) ** n >= 0.95 > 1 - (1 - r) ** (n - 1)
    # exact power of Fisher's test, 45 vs 46, by enumeration with scipy's fisher_exact
    n1, n2 = 45, 46
    a, b = np.arange(n1 + 1), np.arange(n2 + 1)
    reject = np.array(
        [[sps.fisher_exact([[x, n1 - x], [y, n2 - y]]).pvalue < 0.05 for y in b] for x in a]
    )
    for key, power in nb08["safety.power_fisher"].items():
        p1, p2 = (float(v) for v in key.split(" vs "))
        prob = np.outer(sps.binom.pmf(a, n1, p1), sps.binom.pmf(b, n2, p2))
        assert power == pytest.approx(float((prob * reject).sum()), rel=1e-6)


# --------------------------------------------------------------------------- incidence
def test_08_incidence_counts_match_pandas_on_the_csv(nb08):
    te, at_risk = _teae(ROOT / "data" / "synthetic")
    assert at_risk == {"UC-MSC": 45, "Placebo": 46}
    anyrow = nb08["safety.incidence.any"]
    for arm in ARMS:
        assert anyrow[arm] == [te.loc[te.ARM == arm, "USUBJID"].nunique(), at_risk[arm]]
    for col, key in (
        ("AEDECOD", "safety.incidence.terms"),
        ("AEBODSYS", "safety.incidence.body_systems"),
    ):
        counts = te.groupby([col, "ARM"])["USUBJID"].nunique().unstack(fill_value=0)
        assert set(nb08[key]) == set(counts.index)
        for term, rec in nb08[key].items():
            x1, x2 = int(counts.loc[term].get("UC-MSC", 0)), int(counts.loc[term].get("Placebo", 0))
            assert rec["UC-MSC"] == [x1, 45] and rec["Placebo"] == [x2, 46]
            assert rec["rd"] == pytest.approx(x1 / 45 - x2 / 46)
            ref = R_GRID.loc[(x1, 45, x2, 46)]
            assert rec["p"] == pytest.approx(ref["fisher_p"], rel=1e-8)
            assert rec["ci"] == pytest.approx([ref["newcombe_low"], ref["newcombe_high"]], rel=1e-8)


def test_08_major_related_events(nb08):
    te, at_risk = _teae(ROOT / "data" / "synthetic")
    major = te[(te["AREL"] == "RELATED") & ((te["AESER"] == "Y") | (te["AESEV"] == "SEVERE"))]
    x = {arm: major.loc[major.ARM == arm, "USUBJID"].nunique() for arm in ARMS}
    rec = nb08["safety.major_related"]
    assert rec["UC-MSC"] == [x["UC-MSC"], 45] and rec["Placebo"] == [x["Placebo"], 46]
    # exact one-sided upper bound: the beta quantile (Clopper-Pearson), 1 - 0.05^(1/45) at 0
    k = x["UC-MSC"]
    expected = 1 - 0.05 ** (1 / 45) if k == 0 else sps.beta.ppf(0.95, k + 1, 45 - k)
    assert rec["upper_bound_ucmsc"] == pytest.approx(expected, rel=1e-10)


def test_08_events_after_each_infusion(nb08):
    """Infusions on day 1 and on each patient's week-4 and week-8 visit days (ADEX); an
    event belongs to the last infusion before it, until the next infusion, or for 28 days
    after the third."""
    folder = ROOT / "data" / "synthetic"
    te, at_risk = _teae(folder)
    adex = _read(folder, "ADEX")
    visit_day = adex.pivot(index="USUBJID", columns="AVISITN", values="ADY")
    counts: dict[tuple[int, str], list[int]] = {}
    for (subj, arm), events in te.groupby(["USUBJID", "ARM"]):
        days = [1, visit_day.loc[subj, 4], visit_day.loc[subj, 8]]
        for day in events["ASTDY"]:
            k = sum(d <= day for d in days)
            if k == 3 and day - days[2] >= 28:
                continue
            counts.setdefault((k, arm), []).append(subj)
    assert not visit_day[[4, 8]].isna().any().any()  # every randomized patient had 3 infusions
    rows = {(r["INFNUM"], r["ARM"]): r for r in nb08["safety.by_infusion"]}
    assert set(rows) == {(k, arm) for k in (1, 2, 3) for arm in ARMS}
    for (k, arm), r in rows.items():
        subjects = counts.get((k, arm), [])
        assert r["infused"] == at_risk[arm]
        assert r["events"] == len(subjects)
        assert r["n"] == len(set(subjects))
        assert r["%"] == pytest.approx(100 * len(set(subjects)) / at_risk[arm])


# --------------------------------------------------------------------------- own data
def test_08_runs_on_an_analysts_own_data(tmp_path):
    byod = FIXTURES / "byod"
    outcome = run.render(only=["08"], out=tmp_path, parameters={"data_dir": str(byod)}, jobs=1)[0]
    assert outcome.ok, outcome.message
    rec = json.loads((tmp_path / "08_safety.json").read_text())["records"]
    te, at_risk = _teae(byod)
    for arm in ARMS:
        x = te.loc[te.ARM == arm, "USUBJID"].nunique()
        assert rec["safety.incidence.any"][arm] == [x, at_risk[arm]]
    assert set(rec["safety.incidence.terms"]) == set(te["AEDECOD"])
    assert not math.isnan(rec["safety.incidence.any"]["p"])
