"""Every notebook executed by papermill (through trialkit's runner), results checked.

The collection is rendered once per test session (the ``reports`` fixture in
conftest.py); each test reads what a notebook recorded (``reports/NAME.json``) and holds
it to an outside reference: the paper's printed numbers, R output stored in
tests/fixtures, or a computation by another route written out here. Tests of one
notebook live in ``tests/test_nbNN_*.py``; this file holds the collection-wide ones and
notebook 02's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as sps

from trialkit import run

pytestmark = pytest.mark.notebooks

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_every_notebook_rendered_with_html_and_index(reports):
    for path in run.notebooks():
        report = json.loads((reports / f"{path.stem}.json").read_text())
        assert report["status"] == "ok"
        assert (reports / f"{path.stem}.html").stat().st_size > 10_000
    index = (reports / "index.html").read_text()
    assert all(f'href="{p.stem}.html"' in index for p in run.notebooks())


# --------------------------------------------------------------------------- 02
@pytest.fixture(scope="module")
def nb02(recorded) -> dict:
    return recorded("02_what_the_paper_reports")


def test_02_counts_and_interval_method_reproduce_the_printed_ci(nb02):
    # the paper: 20% and 4.55% responders, 95% CI 2.25% to 28.66%
    assert nb02["primary.counts"] == {"UC-MSC": [9, 45], "Placebo": [2, 44]}
    assert nb02["primary.ci.matches_report"] == "wald"
    assert [round(100 * v, 2) for v in nb02["primary.ci.wald"]] == [2.25, 28.66]
    assert nb02["primary.rd"] == pytest.approx(9 / 45 - 2 / 44, abs=1e-12)


def test_02_intervals_and_tests_agree_with_r(nb02):
    r_ci = pd.read_csv(FIXTURES / "binary" / "r_intervals.csv").set_index("id").loc["zang2022"]
    for key, col in (
        ("newcombe", "newcombe"),
        ("agresti_caffo", "agresti_caffo"),
        ("miettinen_nurminen", "mn"),
    ):
        assert nb02[f"primary.ci.{key}"] == pytest.approx(
            [r_ci[f"{col}_low"], r_ci[f"{col}_high"]], rel=1e-6
        )
    r_p = pd.read_csv(FIXTURES / "binary" / "r_tests.csv").set_index("id").loc["zang2022"]
    assert nb02["primary.p.fisher"] == pytest.approx(r_p["fisher_p"], rel=1e-8)
    assert nb02["primary.p.chi2"] == pytest.approx(r_p["chi2_p"], rel=1e-8)
    assert nb02["primary.p.chi2_yates"] == pytest.approx(r_p["chi2_yates_p"], rel=1e-8)
    assert nb02["primary.p.barnard"] == pytest.approx(r_p["barnard_pooled_p"], rel=1e-4)
    assert nb02["primary.p.boschloo"] == pytest.approx(r_p["boschloo_p"], rel=1e-4)
    r_fi = pd.read_csv(FIXTURES / "binary" / "r_fragility.csv")
    walsh = r_fi[(r_fi.id == "zang2022") & (r_fi.test == "fisher") & (r_fi.search == "walsh")].iloc[
        0
    ]
    assert nb02["primary.fragility_index"] == walsh["index"] == 1


def test_02_hba1c_consistency_checks(nb02):
    # decreases printed 1.31 / 0.63 vs differences of printed means 9.02-7.52, 8.89-8.19
    assert nb02["hba1c.decrease_reported_vs_mean_difference"] == {
        "UC-MSC": [1.31, 1.5],
        "Placebo": [0.63, 0.7],
    }
    # Student t on end values, written out: pooled SD, df 87
    sp = math.sqrt((44 * 1.07**2 + 43 * 1.02**2) / 87)
    t = (8.19 - 7.52) / (sp * math.sqrt(1 / 45 + 1 / 44))
    assert nb02["hba1c.p_end_values_primary_sizes"] == pytest.approx(2 * sps.t.sf(t, 87), rel=1e-10)
    assert nb02["hba1c.n_per_arm_consistent_end_values"] == [35, 36, 37]
    # SD of changes giving p = 0.0081 with 45, 44: solve 0.68 / (s * sqrt(1/45 + 1/44)) = t_crit
    s = 0.68 / (sps.t.isf(0.0081 / 2, 87) * math.sqrt(1 / 45 + 1 / 44))
    assert nb02["hba1c.sd_change_for_p0081"] == pytest.approx(s, rel=1e-6)
    rho = (1.11**2 + 1.02**2 - s**2) / (2 * 1.11 * 1.02)
    assert nb02["hba1c.implied_correlation"]["Placebo"] == pytest.approx(rho, rel=1e-6)
    needed = nb02["hba1c.placebo_within.correlation_needed_at_n"]
    assert needed["sd_change"] == pytest.approx(
        0.63 * math.sqrt(44) / sps.t.isf(0.025, 43), rel=1e-9
    )
    assert needed["rho"] < -0.85  # implausible for HbA1c: the printed "p > 0.05" does not fit
    # with rho = 0 the SD of changes is sqrt(1.11^2 + 1.02^2); largest n with p > 0.05
    sd0 = math.hypot(1.11, 1.02)
    largest = max(
        n for n in range(5, 47) if 2 * sps.t.sf(0.63 / (sd0 / math.sqrt(n)), n - 1) > 0.05
    )
    assert nb02["hba1c.placebo_within.largest_n_p_gt_05_rho0"] == largest


def test_02_insulin_reading(nb02):
    # 5/18 = 27.777..%, 10/36 the same; 5/32 = 15.625% prints as 15.62 only rounding half-even
    assert nb02["insulin.share_denominators"] == {"UC-MSC": [18, 36], "Placebo": [32]}
    assert nb02["insulin.reading"] == "mean percent reduction from baseline"


def test_02_multiplicity_holm_on_the_printed_p_values(nb02):
    """Four between-group p-values printed: primary < 0.05, insulin < 0.05, HbA1c = 0.0081,
    GIR < 0.01. Holm by hand at 0.05 with every bound at its value: 0.0081 x 4 = 0.0324
    and 0.01 x 3 = 0.03 are rejected, 0.05 x 2 = 0.1 stops; with the bounds hiding tiny
    p-values everything is rejected, so the two "p < 0.05" results cannot be decided."""
    mult = nb02["multiplicity"]
    assert mult["m"] == 4
    assert mult["fwer"] == pytest.approx(1 - 0.95**4, rel=1e-12)
    sure, open_ = "rejected whatever the exact p", "cannot tell from the printed bounds"
    assert mult["holm"] == {
        "primary_p": open_,
        "insulin_reduction_p": open_,
        "hba1c_decrease_p": sure,
        "gir_p": sure,
    }


def test_02_parameters_reach_the_analysis(tmp_path):
    """alpha 0.01: 99% intervals are wider, Fisher's p = 0.0496 is no longer significant,
    so the fragility index turns into a reverse index (negative signed index)."""
    outcome = run.render(only=["02"], out=tmp_path, parameters={"alpha": 0.01}, jobs=1)[0]
    assert outcome.ok, outcome.message
    rec = json.loads((tmp_path / "02_what_the_paper_reports.json").read_text())["records"]
    z99 = sps.norm.isf(0.005)
    se = math.sqrt(0.2 * 0.8 / 45 + (2 / 44) * (42 / 44) / 44)
    assert rec["primary.ci.wald"] == pytest.approx(
        [0.2 - 2 / 44 - z99 * se, 0.2 - 2 / 44 + z99 * se], rel=1e-9
    )
    assert rec["primary.ci.matches_report"] == "wald"  # the printed 95% CI is matched at 95%
    assert rec["primary.fragility_index"] < 0
