"""trialkit.stats.safety against R (binom.test, fisher.test, Epi::ci.pd: fixtures made by
tests/fixtures/safety/make_r_fixtures.R), closed forms, and counts done by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as stats_scipy

from trialkit import stats
from trialkit.stats import safety

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "safety"
R_BINOM = pd.read_csv(FIXTURES / "r_binom.csv")
R_GRID = pd.read_csv(FIXTURES / "r_2x2_grid.csv").set_index(["x1", "n1", "x2", "n2"])


# --------------------------------------------------------------------------- bounds
@pytest.mark.parametrize("row", R_BINOM.to_dict("records"), ids=lambda r: f"{r['x']}/{r['n']}")
def test_clopper_pearson_matches_r_binom_test(row):
    x, n, alpha = int(row["x"]), int(row["n"]), float(row["alpha"])
    two = safety.clopper_pearson(x, n, alpha)
    assert (two.low, two.high) == pytest.approx(
        (row["two_sided_low"], row["two_sided_high"]), rel=1e-8, abs=1e-12
    )
    one = safety.clopper_pearson(x, n, alpha, alternative="less")
    assert one.low == 0
    assert one.high == pytest.approx(row["one_sided_upper"], rel=1e-8)
    assert one.estimate == x / n


@pytest.mark.parametrize("n", [1, 7, 45, 46, 300])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_bounds_for_zero_and_all_events_have_closed_forms(n, alpha):
    assert safety.clopper_pearson(0, n, alpha, "less").high == pytest.approx(
        1 - alpha ** (1 / n), rel=1e-10
    )
    assert safety.clopper_pearson(0, n, alpha).high == pytest.approx(
        1 - (alpha / 2) ** (1 / n), rel=1e-10
    )
    assert safety.clopper_pearson(n, n, alpha).low == pytest.approx((alpha / 2) ** (1 / n))
    assert safety.clopper_pearson(n, n, alpha, "greater").low == pytest.approx(alpha ** (1 / n))


@pytest.mark.parametrize("alternative", safety.ALTERNATIVES)
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_clopper_pearson_bounds_of_arrays_are_the_per_table_intervals(alpha, alternative):
    # the vectorized limits (beta quantiles, one call) against scipy's binomtest, one
    # proportion at a time (the per-item path the notebooks used before): equal up to
    # binomtest's root finder (brentq, absolute tolerance 2e-12)
    for n in (1, 2, 5, 7, 45, 46, 100, 300):
        x = np.arange(n + 1)
        got = safety.clopper_pearson_bounds(x, n, alpha, alternative)
        assert got.low.shape == got.high.shape == x.shape
        for k in x:
            ci = stats_scipy.binomtest(int(k), n, alternative=alternative).proportion_ci(
                confidence_level=1 - alpha, method="exact"
            )
            assert got.low[k] == pytest.approx(ci.low, rel=1e-9, abs=1e-11)
            assert got.high[k] == pytest.approx(ci.high, rel=1e-9, abs=1e-11)
            one = safety.clopper_pearson(int(k), n, alpha, alternative)
            assert (one.low, one.high) == (got.low[k], got.high[k])
    # x and n broadcast: the notebook's curve, 0 events in 5..300 patients
    ns = np.arange(5, 301)
    curve = safety.clopper_pearson_bounds(0, ns, alpha, "less").high
    assert curve == pytest.approx(-np.expm1(np.log(alpha) / ns), rel=1e-12)
    assert isinstance(safety.clopper_pearson_bounds(1, 10).low, float)


def test_clopper_pearson_bounds_are_exact_where_a_closed_form_exists():
    # one event in n: the two-sided lower limit is 1 - (1 - alpha/2)^(1/n); the beta
    # quantile hits it to round-off (binomtest's root finder only to ~1e-12 absolute)
    n = np.array([100, 300])
    low = safety.clopper_pearson_bounds(1, n, 0.01).low
    assert low == pytest.approx(-np.expm1(np.log1p(-0.005) / n), rel=1e-12)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: safety.clopper_pearson_bounds([0, 3], 2), "x"),
        (lambda: safety.clopper_pearson_bounds(0, [5, 0]), "n"),
        (lambda: safety.clopper_pearson_bounds(0.5, 5), "x"),
        (lambda: safety.clopper_pearson_bounds(True, 5), "x"),
        (lambda: safety.clopper_pearson_bounds(1, 5, alternative="upper"), "alternative"),
    ],
)
def test_clopper_pearson_bounds_name_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_rule_of_three_45():
    r = safety.rule_of_three(45)
    assert r.exact == pytest.approx(1 - 0.05 ** (1 / 45), rel=1e-12)  # 0.0644
    assert round(r.exact, 4) == 0.0644
    assert r.rule_of_three == 3 / 45
    assert r.approx == pytest.approx(-math.log(0.05) / 45)
    assert r.relative_error == pytest.approx((3 / 45) / (1 - 0.05 ** (1 / 45)) - 1)
    assert 0.03 < r.relative_error < 0.04  # the rule errs on the safe side, by ~3.5%
    assert set(r.as_dict()) == {"n", "alpha", "exact", "approx", "rule_of_three", "relative_error"}
    assert "rule of three" in str(r)


def test_prob_at_least_one_and_patients_needed():
    # 1 - 0.99^45, 1 - 0.95^45, 1 - 0.9^45
    p = safety.prob_at_least_one(np.array([0.01, 0.05, 0.10]), 45)
    assert p == pytest.approx([1 - 0.99**45, 1 - 0.95**45, 1 - 0.90**45], rel=1e-12)
    assert safety.prob_at_least_one(0.0, 45) == 0
    assert safety.prob_at_least_one(1.0, 0) == 0
    assert isinstance(safety.prob_at_least_one(0.05, 45), float)
    for rate in (0.001, 0.01, 0.05, 0.1, 0.5):
        n = 1
        while 1 - (1 - rate) ** n < 0.95:
            n += 1
        assert safety.n_to_see_one(rate) == n
    assert safety.n_to_see_one(0.01) == 299  # the rule of three read the other way: ~3/rate


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: safety.clopper_pearson(3, 2), "x"),
        (lambda: safety.clopper_pearson(0, 0), "n"),
        (lambda: safety.clopper_pearson(1, 5, alternative="upper"), "alternative"),
        (lambda: safety.clopper_pearson(1, 5, alpha=1.5), "alpha"),
        (lambda: safety.rule_of_three(0), "n"),
        (lambda: safety.prob_at_least_one(1.2, 5), "rate"),
        (lambda: safety.prob_at_least_one(0.1, 2.5), "n"),
        (lambda: safety.n_to_see_one(0.0), "rate"),
        (lambda: safety.n_to_see_one(0.1, prob=1.0), "prob"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- incidence
def _toy() -> tuple[pd.DataFrame, pd.DataFrame]:
    adsl = pd.DataFrame(
        {
            "USUBJID": ["a1", "a2", "a3", "p1", "p2", "p3", "p4", "x9"],
            "ARM": ["UC-MSC"] * 3 + ["Placebo"] * 4 + ["UC-MSC"],
            "RANDFL": ["Y"] * 7 + ["N"],
        }
    )
    rows = [
        ("a1", "Pyrexia", "Gen", "Y", 1),
        ("a1", "Pyrexia", "Gen", "Y", 30),  # same patient twice: counted once
        ("a1", "Headache", "Nerv", "Y", 100),
        ("a2", "Pyrexia", "Gen", "Y", 2),
        ("p1", "Headache", "Nerv", "Y", 50),
        ("p2", "Dizziness", "Nerv", "Y", 70),
        ("p2", "Headache", "Nerv", "N", -3),  # before treatment: not counted
        ("x9", "Pyrexia", "Gen", "Y", 5),  # not randomized: not counted
    ]
    adae = pd.DataFrame(rows, columns=["USUBJID", "AEDECOD", "AEBODSYS", "TRTEMFL", "ASTDY"])
    return adae, adsl


def test_incidence_table_counts_by_hand():
    adae, adsl = _toy()
    t = safety.incidence_table(adae, adsl).set_index("term")
    assert list(t.index) == ["Any adverse event", "Nerv", "Headache", "Dizziness", "Gen", "Pyrexia"]
    assert list(t["level"]) == [0, 1, 2, 2, 1, 2]
    got = t[["UC-MSC n", "UC-MSC N", "UC-MSC events", "Placebo n", "Placebo N", "Placebo events"]]
    assert got.loc["Any adverse event"].tolist() == [2, 3, 4, 2, 4, 2]
    assert got.loc["Nerv"].tolist() == [1, 3, 1, 2, 4, 2]
    assert got.loc["Headache"].tolist() == [1, 3, 1, 1, 4, 1]
    assert got.loc["Dizziness"].tolist() == [0, 3, 0, 1, 4, 1]
    assert got.loc["Pyrexia"].tolist() == [2, 3, 3, 0, 4, 0]
    assert t.loc["Pyrexia", "UC-MSC %"] == pytest.approx(200 / 3)
    assert t.loc["Pyrexia", "RD"] == pytest.approx(2 / 3)
    # Fisher by hand: 2/3 vs 0/4, margins 2 events in 7; P(table) = C(3,2) C(4,0) / C(7,2)
    p_obs = math.comb(3, 2) * math.comb(4, 0) / math.comb(7, 2)
    p_all = [math.comb(3, a) * math.comb(4, 2 - a) / math.comb(7, 2) for a in range(3)]
    assert t.loc["Pyrexia", "p"] == pytest.approx(sum(q for q in p_all if q <= p_obs * (1 + 1e-7)))
    assert t.loc["Headache", "AEBODSYS"] == "Nerv" and t.loc["Nerv", "AEDECOD"] == ""
    # all events, flat by preferred term, treatment-emergent or not
    flat = safety.incidence_table(adae, adsl, by="AEDECOD", treatment_emergent=False)
    flat = flat.set_index("term")
    assert flat.loc["Headache", ["UC-MSC n", "Placebo n", "Placebo events"]].tolist() == [1, 2, 2]
    assert "AEBODSYS" not in flat.columns


def test_incidence_table_interval_and_p_match_r():
    # 45 vs 46 patients at risk, small counts: R's fisher.test and Epi::ci.pd (Newcombe)
    adsl = pd.DataFrame(
        {
            "USUBJID": [f"s{i}" for i in range(91)],
            "ARM": ["UC-MSC"] * 45 + ["Placebo"] * 46,
            "RANDFL": "Y",
        }
    )
    events = {"A": (7, 2), "B": (0, 5), "C": (3, 3), "D": (10, 0)}
    rows = []
    for term, (k1, k2) in events.items():
        rows += [(f"s{i}", term, "SOC", "Y") for i in range(k1)]
        rows += [(f"s{45 + i}", term, "SOC", "Y") for i in range(k2)]
    adae = pd.DataFrame(rows, columns=["USUBJID", "AEDECOD", "AEBODSYS", "TRTEMFL"])
    t = safety.incidence_table(adae, adsl, by="AEDECOD").set_index("term")
    for term, (k1, k2) in events.items():
        ref = R_GRID.loc[(k1, 45, k2, 46)]
        assert t.loc[term, "p"] == pytest.approx(ref["fisher_p"], rel=1e-8)
        assert [t.loc[term, "RD low"], t.loc[term, "RD high"]] == pytest.approx(
            [ref["newcombe_low"], ref["newcombe_high"]], rel=1e-8
        )
    ac = safety.incidence_table(adae, adsl, by="AEDECOD", method="agresti-caffo")
    ref = R_GRID.loc[(7, 45, 2, 46)]
    row = ac.set_index("term").loc["A"]
    assert [row["RD low"], row["RD high"]] == pytest.approx(
        [ref["agresti_caffo_low"], ref["agresti_caffo_high"]], rel=1e-8
    )


def test_incidence_table_without_events_and_labels_synthetic():
    adae, adsl = _toy()
    none = safety.incidence_table(adae.iloc[:0], adsl)
    assert len(none) == 1 and none.loc[0, "UC-MSC n"] == 0 and none.loc[0, "p"] == 1
    assert none.attrs["synthetic"] is False
    adsl_syn = adsl.assign(SYNTHETIC="Y")
    assert safety.incidence_table(adae, adsl_syn).attrs["synthetic"] is True


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"by": "AETERM"}, "by"),
        ({"population": "SAFFL"}, "population"),
        ({"method": "exact"}, "method"),
        ({"alpha": 0}, "alpha"),
        ({"treatment_emergent": "yes"}, "treatment_emergent"),
    ],
)
def test_incidence_table_names_bad_arguments(kwargs, name):
    adae, adsl = _toy()
    with pytest.raises(ValueError, match=name):
        safety.incidence_table(adae, adsl, **kwargs)


# --------------------------------------------------------------------------- infusions
def _visits() -> tuple[pd.DataFrame, pd.DataFrame]:
    adsl = pd.DataFrame(
        {"USUBJID": ["a", "b", "c"], "ARM": ["UC-MSC", "Placebo", "UC-MSC"], "RANDFL": "Y"}
    )
    visits = pd.DataFrame(
        [
            ("a", 0, -2),
            ("a", 4, 27),
            ("a", 8, 59),
            ("a", 12, 85),
            ("b", 0, 1),
            ("b", 12, 84),  # missed weeks 4 and 8, came back: nominal days 29, 57
            ("c", 0, -1),
            ("c", 4, 31),  # left after week 4: infusions 1 and 2 only
        ],
        columns=["USUBJID", "AVISITN", "ADY"],
    )
    return adsl, visits


def test_infusion_days_from_visits():
    adsl, visits = _visits()
    days = safety.infusion_days(adsl, visits)
    got = {(r.USUBJID, r.INFNUM): (r.INFDY, r.INFSRC) for r in days.itertuples()}
    assert got == {
        ("a", 1): (1, "day 1"),
        ("a", 2): (27, "visit"),
        ("a", 3): (59, "visit"),
        ("b", 1): (1, "day 1"),
        ("b", 2): (29, "nominal"),
        ("b", 3): (57, "nominal"),
        ("c", 1): (1, "day 1"),
        ("c", 2): (31, "visit"),
    }


def test_events_are_attributed_to_the_infusion_before_them():
    adsl, visits = _visits()
    days = safety.infusion_days(adsl, visits)
    adae = pd.DataFrame(
        {
            "USUBJID": ["a", "a", "a", "a", "a", "b", "c", "c"],
            "ASTDY": [-3, 1, 26, 58, 87, 60, 58, 59],
            "TRTEMFL": ["N", "Y", "Y", "Y", "Y", "Y", "Y", "Y"],
        }
    )
    out = safety.add_infusion_period(adae, days)
    # a: before; infusion 1 day 0; day 26 < infusion 2 (day 27) so still infusion 1 even
    # though 25 days later; day 58 = 31 days after infusion 2 but before infusion 3;
    # day 87 = 28 days after infusion 3 (the last): later. b: day 60, 3 after nominal 57.
    # c: last infusion day 31: day 58 is 27 days later (inside), day 59 is 28 (later).
    assert out["INFNUM"].tolist() == [0, 1, 1, 2, 3, 3, 2, 2]
    assert out["AINFDY"].tolist()[1:] == [0, 25, 31, 28, 3, 27, 28]
    assert pd.isna(out["AINFDY"].iloc[0])
    assert out["APERIODN"].tolist() == [0, 1, 1, 2, 4, 3, 2, 4]
    assert out["APERIOD"].iloc[4].startswith("later")
    table = safety.infusion_table(adae, days).set_index(["INFNUM", "ARM"])
    assert table.loc[(1, "UC-MSC"), ["infused", "n", "events"]].tolist() == [2, 1, 2]
    assert table.loc[(2, "UC-MSC"), ["infused", "n", "events"]].tolist() == [2, 2, 2]
    assert table.loc[(3, "UC-MSC"), ["infused", "n", "events"]].tolist() == [1, 0, 0]
    assert table.loc[(3, "Placebo"), ["infused", "n", "events", "%"]].tolist() == [1, 1, 1, 100]


def test_stats_reexports_safety():
    assert stats.incidence_table is safety.incidence_table
    assert stats.rule_of_three is safety.rule_of_three


# --------------------------------------------------------------------------- vectorized == before
@pytest.fixture(scope="module")
def synthetic() -> dict[str, pd.DataFrame]:
    from trialkit import cohort, derive

    data = cohort.load("")
    return {
        **data,
        "ADEX": derive.derive_adex(data["ADEX"]),
        "ADLB": derive.derive_adlb(data["ADLB"]),
    }


def test_incidence_table_equals_the_line_by_line_reference(synthetic):
    # masks over one set of event arrays, each 2 x 2 table compared once, against the
    # implementation that built a frame per line (tests/safety_reference.py)
    from safety_reference import incidence_table_reference

    adsl, adae = synthetic["ADSL"], synthetic["ADAE"]
    te = adae[adae["TRTEMFL"] == "Y"]
    gaps = adae.copy()
    gaps.loc[gaps.index[:5], "AEDECOD"] = np.nan
    for events in (adae, te[te["AREL"] == "RELATED"], te.iloc[:0], gaps, adae.iloc[::-1]):
        for by in ("AEDECOD", ("AEBODSYS", "AEDECOD"), ["AESEV"]):
            for kw in (
                {"population": "RANDFL", "method": "newcombe"},
                {"population": "FASFL", "method": "miettinen-nurminen", "alpha": 0.1},
                {"treatment_emergent": False, "method": "wald"},
            ):
                got = safety.incidence_table(events, adsl, by=by, **kw)
                ref = incidence_table_reference(events, adsl, by=by, **kw)
                pd.testing.assert_frame_equal(got, ref, check_exact=True)
                assert got.attrs == ref.attrs


def test_infusion_days_and_periods_equal_the_per_patient_reference(synthetic):
    # every patient x infusion and every event at once, against the loops they replaced
    from safety_reference import add_infusion_period_reference, infusion_days_reference

    adsl, adae, adex = synthetic["ADSL"], synthetic["ADAE"], synthetic["ADEX"]
    strangers = adae.assign(USUBJID=adae["USUBJID"].where(adae.index % 7 != 0, "NOBODY"))
    for visits in (
        adex,
        synthetic["ADLB"],
        adex.iloc[::3],
        adex[adex["AVISITN"] != 4],
        adex.iloc[:0],
    ):
        for weeks, population in (
            ((0, 4, 8), "RANDFL"),
            ((0, 4), "FASFL"),
            ((0, 4, 8, 12), "PPSFL"),
        ):
            days = safety.infusion_days(adsl, visits, weeks, population)
            ref = infusion_days_reference(adsl, visits, weeks, population)
            pd.testing.assert_frame_equal(days, ref, check_exact=True)
            for events in (adae, adae.sample(frac=1, random_state=2), strangers, adae.iloc[:0]):
                for window in (1, 28, 60):
                    got = safety.add_infusion_period(events, days, window)
                    want = add_infusion_period_reference(events, ref, window)
                    pd.testing.assert_frame_equal(got, want, check_exact=True)
                    assert got.attrs == want.attrs
