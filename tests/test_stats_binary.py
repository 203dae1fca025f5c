"""Tests of trialkit.stats, section 1 (binary endpoint), against outside references.

The reference numbers live in tests/fixtures/binary (README.md there gives the source
of every number and how the R output was made). Printed values are matched to their
printed precision: |computed - printed| <= half a unit in the last printed place.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from trialkit import stats as ts

FIXTURES = Path(__file__).parent / "fixtures" / "binary"


def read_csv(name: str) -> list[dict[str, str]]:
    with open(FIXTURES / name, newline="") as fh:
        return list(csv.DictReader(fh))


def num(text: str) -> float:
    """A fixture number; 'inf', '-inf' and 'NA' (nan) as written by the R script."""
    special = {"inf": math.inf, "-inf": -math.inf, "NA": math.nan}
    return special[text] if text in special else float(text)


def table(row: dict[str, str]) -> tuple[int, int, int, int]:
    return int(row["x1"]), int(row["n1"]), int(row["x2"]), int(row["n2"])


def printed(value: float, reference: float, decimals: int) -> bool:
    """True if ``value`` rounds to ``reference`` as printed with ``decimals`` decimals."""
    return abs(value - reference) <= 0.5 * 10.0**-decimals + 1e-12


def close(value: float, reference: float, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    if math.isinf(reference) or math.isinf(value):
        return value == reference
    return abs(value - reference) <= max(rel * abs(reference), abs_)


NEWCOMBE = read_csv("newcombe1998_table2.csv")
PUBLISHED = read_csv("published_2x2.csv")
R_INTERVALS = read_csv("r_intervals.csv")
R_TESTS = read_csv("r_tests.csv")
R_FRAGILITY = read_csv("r_fragility.csv")

ZANG = (9, 45, 2, 44)

# zero cells and other corner tables: every method must give finite bounds in [-1, 1]
CORNERS = [
    (0, 10, 0, 20), (0, 10, 0, 10), (10, 10, 0, 20), (10, 10, 0, 10), (0, 10, 10, 10),
    (0, 10, 3, 20), (5, 56, 0, 29), (10, 10, 10, 10), (10, 10, 7, 20), (0, 1, 0, 1),
    (1, 1, 0, 1), (0, 1, 1, 1), (1, 1, 1, 1), (0, 16, 15, 72), (3, 3, 0, 200),
]  # fmt: skip


# ==================================================================== input validation
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((9.0, 45, 2, 44), "x1 must be an integer count"),
        ((9, "45", 2, 44), "n1 must be an integer count"),
        ((True, 45, 2, 44), "x1 must be an integer count"),
        ((9, 45, 2, 0), "n2 must be >= 1"),
        ((46, 45, 2, 44), r"x1 must satisfy 0 <= x1 <= n1 = 45"),
        ((9, 45, -1, 44), r"x2 must satisfy 0 <= x2 <= n2 = 44"),
    ],
)
def test_counts_are_validated_with_the_argument_named(args, message):
    for func in (
        ts.risk_difference,
        ts.relative_risk,
        ts.odds_ratio,
        ts.fisher_test,
        ts.chi2_test,
        ts.z_test,
        ts.barnard_test,
        ts.boschloo_test,
        ts.fragility_index,
        ts.number_needed_to_treat,
    ):
        with pytest.raises(ValueError, match=message):
            func(*args)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, "0.05", True, None, math.nan])
def test_alpha_must_be_in_open_unit_interval(alpha):
    with pytest.raises(ValueError, match="alpha must be"):
        ts.risk_difference(*ZANG, alpha=alpha)
    with pytest.raises(ValueError, match="alpha must be"):
        ts.fragility_index(*ZANG, alpha=alpha)


def test_unknown_choices_list_the_allowed_ones():
    with pytest.raises(
        ValueError,
        match="method must be one of 'wald', 'newcombe', "
        "'agresti-caffo', 'miettinen-nurminen'; got 'score'",
    ):
        ts.risk_difference(*ZANG, method="score")
    with pytest.raises(ValueError, match="method must be one of 'woolf', 'exact'"):
        ts.odds_ratio(*ZANG, method="logit")
    with pytest.raises(ValueError, match="test must be one of 'fisher', 'chi2'"):
        ts.fragility_index(*ZANG, test="t")
    with pytest.raises(ValueError, match="search must be one of 'walsh', 'both'"):
        ts.fragility_index(*ZANG, search="generalized")
    with pytest.raises(ValueError, match="outcome must be one of 'beneficial', 'harmful'"):
        ts.number_needed_to_treat(*ZANG, outcome="good")


def test_other_arguments_are_validated():
    with pytest.raises(ValueError, match="zero_correction must be"):
        ts.relative_risk(0, 10, 3, 10, zero_correction=-0.5)
    with pytest.raises(ValueError, match="zero_correction must be"):
        ts.odds_ratio(0, 10, 3, 10, zero_correction="0.5")
    with pytest.raises(ValueError, match="pooled must be True or False"):
        ts.barnard_test(*ZANG, pooled=1)
    with pytest.raises(ValueError, match="correction must be True or False"):
        ts.chi2_test(*ZANG, correction="yes")
    with pytest.raises(ValueError, match=r"n \(points for the nuisance parameter\) must be >= 1"):
        ts.boschloo_test(*ZANG, n=0)


def test_numpy_integers_are_accepted():
    r = ts.risk_difference(np.int64(9), np.int32(45), np.int64(2), np.int64(44), method="wald")
    assert r.estimate == pytest.approx(9 / 45 - 2 / 44)


# ==================================================================== risk difference
@pytest.mark.parametrize(
    "row",
    [r for r in NEWCOMBE if r["method"] in ("wald", "miettinen-nurminen", "newcombe")],
    ids=lambda r: f"{r['example']}-{r['method']}",
)
def test_newcombe_1998_table_ii(row):
    """Methods 1 (Wald), 6 (Miettinen-Nurminen) and 10 (hybrid score), all 8 examples."""
    r = ts.risk_difference(*table(row), method=row["method"])
    assert printed(r.low, float(row["low"]), 4), (r.low, row["low"])
    assert printed(r.high, float(row["high"]), 4), (r.high, row["high"])


def test_newcombe_table_covers_every_example_and_method():
    assert len(NEWCOMBE) == 8 * 11
    tested = [r for r in NEWCOMBE if r["method"] in ("wald", "miettinen-nurminen", "newcombe")]
    assert len(tested) == 24 and all(r["low"] and r["high"] for r in tested)


def test_trial_primary_endpoint_wald_interval_matches_the_paper():
    r = ts.risk_difference(*ZANG, method="wald")
    assert printed(r.low, 0.0225, 4) and printed(r.high, 0.2866, 4)
    assert str(r) == "risk difference 0.1545 (95% CI 0.0225 to 0.2866, wald)"
    # and the other methods do not reproduce the published interval
    for method in ("newcombe", "agresti-caffo", "miettinen-nurminen"):
        other = ts.risk_difference(*ZANG, method=method)
        assert not (printed(other.low, 0.0225, 4) and printed(other.high, 0.2866, 4))


@pytest.mark.parametrize("row", R_INTERVALS, ids=lambda r: r["id"])
def test_risk_difference_matches_r(row):
    """Epi::ci.pd (Newcombe, Agresti-Caffo) and the R implementation of MN."""
    t = table(row)
    for method, prefix in (
        ("newcombe", "newcombe"),
        ("agresti-caffo", "agresti_caffo"),
        ("miettinen-nurminen", "mn"),
    ):
        r = ts.risk_difference(*t, method=method)
        low, high = num(row[f"{prefix}_low"]), num(row[f"{prefix}_high"])
        # R leaves Agresti-Caffo unclipped; trialkit clips to [-1, 1]
        assert close(r.low, max(low, -1.0), abs_=1e-7), (method, r.low, low)
        assert close(r.high, min(high, 1.0), abs_=1e-7), (method, r.high, high)


def test_miettinen_nurminen_restricted_mle_maximises_the_likelihood():
    """The closed-form cubic root against numerical maximisation of the likelihood."""
    for x1, n1, x2, n2 in [
        (56, 70, 48, 80),
        (5, 56, 0, 29),
        (0, 10, 0, 20),
        (9, 45, 2, 44),
        (10, 10, 0, 20),
        (0, 16, 15, 72),
        (3, 4, 1, 4),
    ]:
        for delta in np.linspace(-0.95, 0.95, 39):
            lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)

            def negll(p, d=delta, x1=x1, n1=n1, x2=x2, n2=n2):
                q = p + d
                return -(
                    special.xlogy(x1, q)
                    + special.xlog1py(n1 - x1, -q)
                    + special.xlogy(x2, p)
                    + special.xlog1py(n2 - x2, -p)
                )

            best = optimize.minimize_scalar(
                negll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}
            ).x
            got = ts.binary._mn_null_p2(x1, n1, x2, n2, float(delta))
            assert lo <= got <= hi
            assert negll(got) <= negll(best) + 1e-9, (x1, n1, x2, n2, delta, got, best)


@pytest.mark.parametrize("method", ts.RD_METHODS)
@pytest.mark.parametrize("t", CORNERS, ids=str)
def test_zero_cells_give_finite_intervals_inside_minus_one_one(method, t):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = ts.risk_difference(*t, method=method)
    assert all(math.isfinite(v) for v in (r.estimate, r.low, r.high))
    assert -1.0 <= r.low <= r.high <= 1.0
    assert r.low <= r.estimate <= r.high


def test_wald_degenerates_at_zero_cells_and_says_so():
    r = ts.risk_difference(0, 10, 0, 10, method="wald")
    assert (r.low, r.high) == (0.0, 0.0)
    assert "degenerates" in r.note
    r = ts.risk_difference(10, 10, 0, 20, method="wald")
    assert (r.low, r.high) == (1.0, 1.0)
    assert ts.risk_difference(*ZANG, method="wald").note == ""


def test_agresti_caffo_is_clipped_with_a_note():
    r = ts.risk_difference(10, 10, 0, 20, method="agresti-caffo")
    assert r.high == 1.0 and "clipped" in r.note
    assert printed(r.low, 0.6922, 4)  # Epi::ci.pd: 0.6922432379 (r_intervals.csv)


@pytest.mark.parametrize("method", ts.RD_METHODS)
def test_swapping_groups_mirrors_the_interval(method):
    rng = np.random.default_rng(3)
    for _ in range(25):
        n1, n2 = (int(v) for v in rng.integers(1, 60, 2))
        x1, x2 = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
        a = ts.risk_difference(x1, n1, x2, n2, method=method)
        b = ts.risk_difference(x2, n2, x1, n1, method=method)
        assert a.low == pytest.approx(-b.high, abs=1e-9)
        assert a.high == pytest.approx(-b.low, abs=1e-9)


def test_alpha_changes_the_level():
    r90 = ts.risk_difference(*ZANG, method="miettinen-nurminen", alpha=0.1)
    r95 = ts.risk_difference(*ZANG, method="miettinen-nurminen")
    assert r95.low < r90.low < r90.high < r95.high
    assert str(r90).startswith("risk difference 0.1545 (90% CI ")


def test_risk_difference_table():
    df = ts.risk_difference_table(*ZANG)
    assert list(df.columns) == ["method", "estimate", "low", "high", "width"]
    assert list(df["method"]) == list(ts.RD_METHODS)
    assert np.allclose(df["width"], df["high"] - df["low"])
    wald = df.set_index("method").loc["wald"]
    assert printed(wald["low"], 0.0225, 4) and printed(wald["high"], 0.2866, 4)


def test_effect_estimate_is_frozen_and_plain():
    r = ts.risk_difference(*ZANG, method="wald")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.low = 0.0  # type: ignore[misc]
    d = r.as_dict()
    assert d == {
        "measure": "risk difference",
        "estimate": r.estimate,
        "low": r.low,
        "high": r.high,
        "method": "wald",
        "alpha": 0.05,
        "note": "",
    }
    assert all(type(v) in (str, float) for v in d.values())
    json.dumps(d, allow_nan=False)


# ==================================================================== published numbers
def _published_value(row: dict[str, str]) -> float:
    t = table(row)
    quantity, method, field = row["quantity"], row["method"], row["field"]
    if quantity == "risk_difference":
        return getattr(ts.risk_difference(*t, method=method), field)
    if quantity == "relative_risk":
        return getattr(ts.relative_risk(*t), field)
    if quantity == "odds_ratio":
        return getattr(ts.odds_ratio(*t, method=method), field)
    if quantity == "fisher":
        return ts.fisher_test(*t).p
    if quantity == "chi2":
        return getattr(ts.chi2_test(*t, correction=method == "chi2_yates"), field)
    if quantity == "barnard":
        # Fagerland's function adds gamma = 0.0001 (Berger & Boos); see README
        return ts.barnard_test(*t).p + 0.0001
    if quantity == "fragility_index":
        test, search = method.split("/")
        fi = ts.fragility_index(*t, test=test, search=search)
        assert fi.table_after is not None
        return {
            "index": fi.index,
            "p_before": fi.p_before,
            "p_after": fi.p_after,
            "x1_after": fi.table_after[0],
            "x2_after": fi.table_after[2],
        }[field]
    raise AssertionError(f"unknown quantity {quantity}")  # pragma: no cover


@pytest.mark.parametrize(
    "row",
    PUBLISHED,
    ids=lambda r: f"{r['id']}-{r['quantity']}-{r['method']}-{r['field']}-{r['source']}",
)
def test_published_values(row):
    value = _published_value(row)
    assert printed(value, float(row["value"]), int(row["decimals"])), (value, row["value"])


def test_published_fixture_sources_are_documented():
    readme = (FIXTURES / "README.md").read_text()
    for source in {r["source"] for r in PUBLISHED}:
        assert f"`{source}`" in readme, source


# ==================================================================== ratios and NNT
@pytest.mark.parametrize("row", R_INTERVALS, ids=lambda r: r["id"])
def test_ratios_match_r(row):
    t = table(row)
    if row["katz_rr"] != "NA":  # epitools, tables without zero cells
        rr, oratio = ts.relative_risk(*t), ts.odds_ratio(*t)
        assert rr.note == "" and oratio.note == ""
        for r, key in ((rr, "katz"), (oratio, "woolf")):
            est = num(row[f"{key}_rr" if key == "katz" else f"{key}_or"])
            assert close(r.estimate, est) and close(r.low, num(row[f"{key}_low"]))
            assert close(r.high, num(row[f"{key}_high"]))
    exact = ts.odds_ratio(*t, method="exact")
    assert close(exact.low, num(row["exact_or_low"]), rel=1e-6)
    assert close(exact.high, num(row["exact_or_high"]), rel=1e-6)
    mle = num(row["cond_mle_or"])
    if math.isnan(mle):
        assert math.isnan(exact.estimate) and "not estimable" in exact.note
    else:
        assert close(exact.estimate, mle, rel=1e-5)


def test_zero_cell_correction_is_haldane_anscombe_and_only_when_needed():
    rr = ts.relative_risk(0, 10, 5, 10)
    assert rr.estimate == pytest.approx((0.5 / 11) / (5.5 / 11))
    se = math.sqrt(1 / 0.5 - 1 / 11 + 1 / 5.5 - 1 / 11)
    assert rr.high == pytest.approx(rr.estimate * math.exp(stats.norm.isf(0.025) * se))
    assert "0.5 added to every cell" in rr.note
    # all events in a group: the Katz interval is defined, no correction
    assert ts.relative_risk(10, 10, 5, 10).note == ""
    oratio = ts.odds_ratio(10, 10, 5, 10)  # a zero non-event cell: OR needs it
    assert oratio.estimate == pytest.approx((10.5 * 5.5) / (0.5 * 5.5))
    both_zero = ts.odds_ratio(0, 10, 0, 20)
    assert both_zero.estimate == pytest.approx((0.5 * 20.5) / (10.5 * 0.5))
    assert math.isfinite(both_zero.low) and math.isfinite(both_zero.high)


def test_without_correction_zero_cells_give_zero_to_infinity():
    rr = ts.relative_risk(0, 16, 15, 72, zero_correction=0)
    assert (rr.estimate, rr.low, rr.high) == (0.0, 0.0, math.inf)
    oratio = ts.odds_ratio(0, 16, 15, 72, zero_correction=0)  # ctables: 0.0000 to Inf
    assert (oratio.estimate, oratio.low, oratio.high) == (0.0, 0.0, math.inf)
    assert math.isnan(ts.relative_risk(0, 10, 0, 10, zero_correction=0).estimate)


def test_nnt_for_the_trial():
    nnt = ts.number_needed_to_treat(*ZANG, method="wald")
    assert nnt.effect == "benefit"
    assert nnt.estimate == pytest.approx(1 / (9 / 45 - 2 / 44))
    rd = ts.risk_difference(*ZANG, method="wald")
    assert nnt.benefit == pytest.approx((1 / rd.high, 1 / rd.low))
    assert nnt.harm is None
    assert str(nnt) == "NNT(benefit) 6.47 (95% CI NNT(benefit) 3.49 to 44.52, wald)"


def test_nnt_interval_through_infinity_when_rd_interval_contains_zero():
    nnt = ts.number_needed_to_treat(6, 45, 2, 44)  # newcombe: -0.0395 to 0.2205
    rd = nnt.risk_difference
    assert rd.low < 0 < rd.high
    assert nnt.benefit == pytest.approx((1 / rd.high, math.inf))
    assert nnt.harm == pytest.approx((1 / -rd.low, math.inf))
    assert str(nnt) == (
        "NNT(benefit) 11.38 (95% CI NNT(harm) 25.33 to infinity to NNT(benefit) 4.54, newcombe)"
    )
    json.dumps(nnt.as_dict())  # infinities are floats; trialkit.record stores "inf"


def test_nnt_harm_and_harmful_outcomes_mirror():
    harm = ts.number_needed_to_treat(2, 44, 9, 45, method="wald")
    assert harm.effect == "harm" and harm.benefit is None
    assert str(harm) == "NNT(harm) 6.47 (95% CI NNT(harm) 3.49 to 44.52, wald)"
    for method in ts.RD_METHODS:
        good = ts.number_needed_to_treat(9, 45, 2, 44, method=method)
        bad = ts.number_needed_to_treat(2, 44, 9, 45, method=method, outcome="harmful")
        assert bad.effect == "benefit"
        assert bad.estimate == pytest.approx(good.estimate)
        assert bad.benefit == pytest.approx(good.benefit)
    crossing = ts.number_needed_to_treat(2, 44, 6, 45, outcome="harmful")
    assert "NNT(benefit) 4.54 to infinity to NNT(harm) 25.33" in str(crossing)


def test_nnt_no_difference():
    nnt = ts.number_needed_to_treat(0, 10, 0, 10, method="wald")
    assert nnt.effect == "none" and nnt.estimate == math.inf
    assert nnt.benefit is None and nnt.harm is None
    assert str(nnt) == "NNT infinity (no difference) (95% CI infinity, wald)"


# ==================================================================== tests of the table
@pytest.mark.parametrize("row", R_TESTS, ids=lambda r: r["id"])
def test_fisher_and_chi_square_match_r(row):
    t = table(row)
    assert close(ts.fisher_test(*t).p, num(row["fisher_p"]), rel=1e-9)
    chi = ts.chi2_test(*t)
    assert close(chi.p, num(row["chi2_p"]), rel=1e-9)
    assert close(chi.statistic, num(row["chi2_stat"]), rel=1e-9)
    assert close(ts.chi2_test(*t, correction=True).p, num(row["chi2_yates_p"]), rel=1e-9)
    z = ts.z_test(*t)
    assert z.statistic**2 == pytest.approx(chi.statistic, rel=1e-9, abs=1e-12)
    assert z.p == pytest.approx(chi.p, rel=1e-9)


@pytest.mark.parametrize(
    "row", [r for r in R_TESTS if r["barnard_pooled_p"] != "NA"], ids=lambda r: r["id"]
)
def test_exact_unconditional_tests_match_r(row):
    """4 significant digits against the R grid search (2001 points, refined)."""
    t = table(row)
    for result, key in (
        (ts.barnard_test(*t), "barnard_pooled"),
        (ts.barnard_test(*t, pooled=False), "barnard_unpooled"),
    ):
        assert close(result.p, num(row[f"{key}_p"]), rel=5e-5, abs_=1e-15)
        assert close(result.statistic, num(row[f"{key}_stat"]), rel=1e-9)
    assert close(ts.boschloo_test(*t).p, num(row["boschloo_p"]), rel=5e-5, abs_=1e-15)


@pytest.mark.parametrize(
    "t",
    [
        (9, 45, 2, 44),
        (56, 70, 48, 80),
        (7, 34, 1, 34),
        (0, 16, 15, 72),
        (15, 40, 6, 40),
        (5, 56, 0, 29),
    ],
    ids=str,
)
def test_exact_unconditional_tests_agree_with_scipy_where_scipy_is_right(t):
    """scipy has no ties problem for these tables (see the README, discrepancy 2)."""
    x1, n1, x2, n2 = t
    cols = [[x1, x2], [n1 - x1, n2 - x2]]
    assert ts.barnard_test(*t).p == pytest.approx(stats.barnard_exact(cols, n=64).pvalue, rel=1e-6)
    ours = ts.boschloo_test(*t)
    theirs = stats.boschloo_exact(cols, n=64)
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-6)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-9)


def test_canary_scipy_barnard_ties_issue_18798():
    """scipy drops tied tables; if this fails scipy changed: revisit barnard_test."""
    scipy_p = stats.barnard_exact([[9, 3], [1, 7]], n=64).pvalue
    ours = ts.barnard_test(9, 10, 3, 10).p
    assert printed(ours, 0.007955551147, 9)  # r_tests.csv, newcombe_b
    assert scipy_p == pytest.approx(0.0069307, rel=1e-4), "scipy #18798 may be fixed"


def test_canary_statsmodels_mn_issue_10269():
    """statsmodels' MN interval is off (wrong cubic); if this fails, revisit."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(56, 70, 48, 80, method="score", correction=True)
    assert high == pytest.approx(0.3440, abs=1e-3), "statsmodels #10269 may be fixed"
    assert printed(ts.risk_difference(56, 70, 48, 80, method="miettinen-nurminen").high, 0.3382, 4)


@pytest.mark.parametrize("t", [(0, 10, 0, 20), (10, 10, 20, 20), (0, 1, 0, 1)], ids=str)
def test_zero_margin_does_not_crash(t):
    df = ts.binary_tests(*t)
    assert (df["p"] == 1.0).all()
    assert df["note"].str.contains("no events").all()
    assert ts.chi2_test(*t).statistic == 0.0 and ts.z_test(*t).statistic == 0.0


def test_binary_tests_table_for_the_trial():
    df = ts.binary_tests(*ZANG)
    assert list(df.columns) == ["test", "statistic", "p", "method", "note"]
    assert list(df["test"]) == [
        "fisher",
        "chi2",
        "chi2_yates",
        "z",
        "barnard",
        "barnard_unpooled",
        "boschloo",
    ]
    p = df.set_index("test")["p"]
    r = next(r for r in R_TESTS if r["id"] == "zang2022")
    assert p["fisher"] == pytest.approx(num(r["fisher_p"]), rel=1e-9)
    assert p["boschloo"] == pytest.approx(num(r["boschloo_p"]), rel=5e-5)
    assert p["chi2"] == pytest.approx(p["z"])
    assert isinstance(df, pd.DataFrame)


def test_hypothesis_test_prints_and_is_plain():
    res = ts.fisher_test(*ZANG)
    assert str(res) == "Fisher exact test (two-sided): statistic 5.25, p = 0.04956"
    d = res.as_dict()
    assert set(d) == {"test", "statistic", "p", "method", "note"}
    json.dumps(d, allow_nan=False)


def test_grid_argument_is_used():
    coarse = ts.barnard_test(40, 60, 100, 210, n=2)  # grid 0, 1 only: p 0 -> refined
    assert coarse.p <= ts.barnard_test(40, 60, 100, 210).p


# ==================================================================== fragility index
@pytest.mark.parametrize("row", R_FRAGILITY, ids=lambda r: f"{r['id']}-{r['test']}-{r['search']}")
def test_fragility_index_matches_r(row):
    t = table(row)
    fi = ts.fragility_index(*t, test=row["test"], search=row["search"])
    assert fi.reverse == (row["reverse"] == "TRUE")
    assert close(fi.p_before, num(row["p_before"]), rel=1e-9)
    if row["index"] == "NA":
        assert fi.index is None and fi.table_after is None and fi.p_after is None
        assert "none within reach" in str(fi)
        return
    assert fi.index == int(row["index"])
    assert fi.table_after == (int(row["x1_after"]), t[1], int(row["x2_after"]), t[3])
    assert close(fi.p_after, num(row["p_after"]), rel=1e-9)
    assert (fi.p_after < 0.05) == fi.reverse


def test_generalised_index_is_never_larger_than_walsh():
    rng = np.random.default_rng(11)
    for _ in range(40):
        n1, n2 = (int(v) for v in rng.integers(5, 60, 2))
        t = (int(rng.integers(0, n1 + 1)), n1, int(rng.integers(0, n2 + 1)), n2)
        walsh = ts.fragility_index(*t)
        both = ts.fragility_index(*t, search="both")
        assert both.reverse == walsh.reverse
        if walsh.index is not None:
            assert both.index is not None and both.index <= walsh.index
        if both.index is not None:  # the reported table really flips the decision
            y1, _, y2, _ = both.table_after
            assert abs(y1 - t[0]) + abs(y2 - t[2]) == both.index
            assert (ts.fisher_test(y1, n1, y2, n2).p < 0.05) == both.reverse


def test_fragility_of_the_trial_with_every_test():
    for test in ts.FRAGILITY_TESTS:
        for search in ("walsh", "both"):
            fi = ts.fragility_index(*ZANG, test=test, search=search)
            assert fi.index == 1
            # Yates' correction: p = 0.0584, so the trial result is not significant
            assert fi.reverse == (test == "chi2_yates")
    fi = ts.fragility_index(*ZANG)
    assert str(fi) == (
        "fragility index 1 (fisher, walsh, alpha 0.05): 9/45 vs 2/44 -> "
        "9/45 vs 3/44, p 0.04956 -> 0.1184"
    )
    d = fi.as_dict()
    assert d["changes"] == [0, 1] and d["signed_index"] == 1
    assert d["direction"] == "significant -> not significant"
    json.dumps(d, allow_nan=False)


def test_reverse_fragility_index_is_signed():
    fi = ts.fragility_index(6, 45, 2, 44)
    assert fi.reverse and fi.index == 2 and fi.signed_index == -2
    assert fi.changes == (0, -2)
    assert fi.direction == "not significant -> significant"
    assert str(fi).startswith("reverse fragility index 2 (fisher, walsh")


def test_fragility_alpha_is_used():
    fi = ts.fragility_index(*ZANG, alpha=0.01)  # p = 0.0496: not significant at 0.01
    assert fi.reverse and fi.p_after is not None and fi.p_after < 0.01
