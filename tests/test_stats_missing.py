"""trialkit.stats.missing against outside references.

- Rubin's rules: R mice 3.15 (``pool.scalar`` on given numbers; ``pool`` after a real
  imputation of mice's nhanes data), ``tests/fixtures/missing`` with the script.
- Multiple imputation of HbA1c: R mice with method "norm" and a monotone visit sequence
  (the same algorithm, other random numbers), compared within Monte Carlo tolerances.
- ANCOVA of each completed data set: statsmodels OLS.
- Tipping-point p-values: Fisher's exact test written out below from hypergeometric sums.
- Responder MI: the expectation of the pooled risk difference, written out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from trialkit import cohort, derive, schema, stats
from trialkit.stats import missing

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "missing"


# --------------------------------------------------------------------------- Rubin's rules
def test_rubin_matches_mice_pool_scalar():
    inputs = pd.read_csv(FIXTURES / "r_pool_scalar_inputs.csv")
    ref = pd.read_csv(FIXTURES / "r_pool_scalar.csv").set_index("case")
    assert len(ref) == 7
    for case, g in inputs.groupby("case"):
        r = ref.loc[case]
        dfc = None if math.isinf(r["n"]) else float(r["n"] - r["k"])
        got = stats.rubin(g["Q"], g["U"], df_complete=dfc)
        assert got.m == r["m"]
        assert got.estimate == pytest.approx(r["qbar"], rel=1e-12, abs=1e-15)
        assert got.within == pytest.approx(r["ubar"], rel=1e-12)
        assert got.between == pytest.approx(r["b"], rel=1e-9, abs=1e-15)
        assert got.total == pytest.approx(r["t"], rel=1e-12)
        assert got.df == pytest.approx(r["df"], rel=1e-10)
        assert got.riv == pytest.approx(r["r"], rel=1e-9, abs=1e-15)
        assert got.fmi == pytest.approx(r["fmi"], rel=1e-10)


def test_rubin_matches_mice_pool_after_imputing_nhanes():
    inputs = pd.read_csv(FIXTURES / "r_pool_nhanes_inputs.csv")
    ref = pd.read_csv(FIXTURES / "r_pool_nhanes.csv").set_index("term")
    for term, g in inputs.groupby("term"):
        r = ref.loc[term]
        got = stats.rubin(g["estimate"], g["std.error"] ** 2, df_complete=float(g["dfcom"].iloc[0]))
        for mine, theirs in (
            (got.estimate, "estimate"),
            (got.within, "ubar"),
            (got.between, "b"),
            (got.total, "t"),
            (got.df, "df"),
            (got.riv, "riv"),
            (got.lambda_, "lambda"),
            (got.fmi, "fmi"),
            (got.statistic, "statistic"),
            (got.low, "conf.low"),
            (got.high, "conf.high"),
        ):
            assert mine == pytest.approx(r[theirs], rel=1e-10), (term, theirs)
        assert got.p == pytest.approx(r["p.value"], rel=1e-8)
        assert got.m == r["m"] == 7


def test_rubin_result_object_and_errors():
    r = stats.rubin([1.0, 1.2, 0.9], [0.04, 0.05, 0.045], df_complete=40)
    d = r.as_dict()
    assert d["ci"] == [r.low, r.high] and d["m"] == 3
    assert r.interval.estimate == r.estimate and r.test.p == r.p
    assert "fraction of missing information" in str(r)
    # without missing data the total variance is the within variance (B = 0)
    same = stats.rubin([2.0, 2.0], [0.1, 0.1], df_complete=30)
    assert same.between == 0 and same.total == pytest.approx(0.1) and same.note
    with pytest.raises(ValueError, match="m >= 2"):
        stats.rubin([1.0], [0.1])
    with pytest.raises(ValueError, match="same length"):
        stats.rubin([1.0, 2.0], [0.1])
    with pytest.raises(ValueError, match="variances must be >= 0"):
        stats.rubin([1.0, 2.0], [0.1, -0.1])
    with pytest.raises(ValueError, match="df_complete"):
        stats.rubin([1.0, 2.0], [0.1, 0.1], df_complete=0)
    with pytest.raises(ValueError, match="total variance is 0"):
        stats.rubin([1.0, 1.0], [0.0, 0.0])


# --------------------------------------------------------------------------- MI of HbA1c
@pytest.fixture(scope="module")
def dropout_wide() -> pd.DataFrame:
    d = pd.read_csv(FIXTURES / "hba1c_dropout.csv").set_index("USUBJID")
    return d[["ARM", *[c for c in d.columns if c.startswith("W")]]]


def test_ancova_of_completed_data_matches_statsmodels():
    rng = np.random.default_rng(1)
    base = rng.normal(9, 1.2, 60)
    treated = np.arange(60) < 30
    y = rng.normal(size=(3, 60)) + 0.6 * base - 0.8 * treated
    est, var, df = missing._ancova_many(y, base, treated)
    for j in range(3):
        fit = sm.OLS(y[j], sm.add_constant(np.column_stack([base, treated.astype(float)]))).fit()
        assert est[j] == pytest.approx(fit.params[2], rel=1e-10)
        assert var[j] == pytest.approx(fit.bse[2] ** 2, rel=1e-10)
    assert df == 57


def test_mi_agrees_with_r_mice_norm_within_monte_carlo_error(dropout_wide):
    ref = pd.read_csv(FIXTURES / "r_mi_hba1c.csv").set_index("analysis")
    m = 4000
    got = stats.multiple_imputation(dropout_wide, m, seed=5).pooled
    r = ref.loc["mar"]
    assert r["m"] == m
    # Monte Carlo SD of the difference of two pooled estimates: sqrt(2 B / m)
    assert abs(got.estimate - r["estimate"]) < 4 * math.sqrt(2 * r["b"] / m)
    assert got.within == pytest.approx(r["ubar"], rel=0.02)
    # B's relative Monte Carlo SD is about sqrt(2 / (m - 1)) = 2.2 % per side
    assert got.between == pytest.approx(r["b"], rel=0.10)
    assert got.df == pytest.approx(r["df"], rel=0.05)
    assert got.fmi == pytest.approx(r["fmi"], rel=0.05)
    # delta 0.5 added to the imputed week-48 values of the UC-MSC arm (mice's post)
    da = stats.delta_adjusted(dropout_wide, [0.5], m, seed=5, shift="treatment")
    row = da.table.set_index("delta").loc[0.5]
    r5 = ref.loc["delta0.5"]
    assert abs(row["estimate"] - r5["estimate"]) < 4 * math.sqrt(2 * r5["b"] / m)
    assert row["se"] ** 2 == pytest.approx(r5["t"], rel=0.03)


def test_mi_is_reproducible_and_seeded(dropout_wide):
    a = stats.multiple_imputation(dropout_wide, 20, seed=3)
    b = stats.multiple_imputation(dropout_wide, 20, seed=3)
    c = stats.multiple_imputation(dropout_wide, 20, seed=4)
    assert a.estimates == b.estimates and a.variances == b.variances
    assert a.pooled == b.pooled
    assert a.estimates != c.estimates
    assert a.missing == {"UC-MSC": 14, "Placebo": 18}
    assert a.n == {"UC-MSC": 45, "Placebo": 46}
    assert set(a.as_dict()) >= {"diff", "se", "df", "p", "ci"}


def test_mi_without_missing_data_is_the_complete_data_ancova():
    data = cohort.simulate(seed=2, dropout=0.0)
    wide = stats.visits_wide(data["ADSL"], data["ADLB"])
    assert not wide.drop(columns="ARM").isna().any().any()
    res = stats.multiple_imputation(wide, 5, seed=0)
    x = sm.add_constant(
        np.column_stack([wide[0].to_numpy(), (wide["ARM"] == "UC-MSC").to_numpy(float)])
    )
    fit = sm.OLS(wide[48].to_numpy(), x).fit()
    assert res.pooled.between == 0
    assert res.pooled.estimate == pytest.approx(fit.params[2], rel=1e-10)
    assert res.pooled.total == pytest.approx(fit.bse[2] ** 2, rel=1e-10)
    assert res.pooled.low < fit.params[2] < res.pooled.high


def test_mi_close_to_complete_data_when_little_is_missing():
    """Canonical data: 2 placebo patients without week 48; MI moves the estimate little."""
    data = cohort.load("")
    wide = stats.visits_wide(data["ADSL"], data["ADLB"])
    res = stats.multiple_imputation(wide, 200, seed=0)
    assert res.missing == {"UC-MSC": 0, "Placebo": 2}
    done = wide.dropna()
    x = sm.add_constant(
        np.column_stack([done[0].to_numpy(), (done["ARM"] == "UC-MSC").to_numpy(float)])
    )
    fit = sm.OLS(done[48].to_numpy(), x).fit()
    assert res.pooled.estimate == pytest.approx(fit.params[2], abs=0.25 * fit.bse[2])
    assert res.pooled.fmi < 0.1


def test_intermittent_gaps_are_imputed(dropout_wide):
    w = dropout_wide.copy()
    w.iloc[0, w.columns.get_loc("W12")] = np.nan  # observed before and after
    imp = stats.impute_monotone(w, 4, seed=1)
    assert not np.isnan(imp.values).any()
    assert (imp.values[:, ~np.isnan(w.drop(columns="ARM").to_numpy())] > 0).all()
    done = imp.completed(0)
    assert "W12" in done.loc[w.index[0], "IMPUTED"]
    # observed values are kept
    obs = ~np.isnan(w.drop(columns="ARM").to_numpy())
    assert np.array_equal(imp.values[2][obs], w.drop(columns="ARM").to_numpy()[obs])


def test_imputation_errors(dropout_wide):
    w = dropout_wide.copy()
    w.iloc[0, 1] = np.nan
    with pytest.raises(ValueError, match="baseline"):
        stats.multiple_imputation(w, 5)
    with pytest.raises(ValueError, match="n_imputations"):
        stats.multiple_imputation(dropout_wide, 1)
    with pytest.raises(ValueError, match="treatment"):
        stats.multiple_imputation(dropout_wide, 5, treatment="cells")
    few = dropout_wide.copy()
    few.loc[few["ARM"] == "Placebo", "W48"] = np.nan
    few.loc[few.index[few["ARM"] == "Placebo"][:3], "W48"] = 8.0
    with pytest.raises(ValueError, match="Placebo.*W48.*at least 4"):
        stats.multiple_imputation(few, 5)
    # with 6 observed, the baseline and the 2 most recent visits are the predictors
    few.loc[few.index[few["ARM"] == "Placebo"][3:6], "W48"] = 8.2
    imp = stats.impute_monotone(few, 5, seed=0)
    assert not np.isnan(imp.values).any()


# --------------------------------------------------------------------------- delta adjustment
def test_delta_adjustment_is_linear_with_the_slope_of_an_independent_regression(dropout_wide):
    deltas = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]
    da = stats.delta_adjusted(dropout_wide, deltas, 30, seed=7, shift="treatment")
    mi = stats.multiple_imputation(dropout_wide, 30, seed=7)
    assert da.at_zero == mi.pooled
    # shifting the imputed values of a set S by delta moves each completed-data OLS arm
    # coefficient by delta x (the arm coefficient of the indicator of S on 1, base, arm)
    s = (dropout_wide["ARM"] == "UC-MSC") & dropout_wide["W48"].isna()
    x = sm.add_constant(
        np.column_stack(
            [dropout_wide["W0"].to_numpy(), (dropout_wide["ARM"] == "UC-MSC").to_numpy(float)]
        )
    )
    slope = sm.OLS(s.to_numpy(float), x).fit().params[2]
    expected = mi.pooled.estimate + slope * np.asarray(deltas)
    assert da.table["estimate"].to_numpy() == pytest.approx(expected, rel=1e-10)
    # the tipping delta is where p crosses alpha, between the bracketing grid points
    assert da.significant_at_zero
    assert da.tipping_delta is not None
    assert da.tipping_grid == min(da.table.loc[~da.table["significant"], "delta"])
    assert da.tipping_grid - 0.5 <= da.tipping_delta <= da.tipping_grid
    at_tip = stats.delta_adjusted(dropout_wide, [da.tipping_delta], 30, seed=7)
    assert at_tip.table["p"].iloc[-1] == pytest.approx(0.05, abs=1e-6)
    assert set(da.as_dict()) >= {"tipping_delta", "grid", "shift"}


def test_delta_shift_control_and_both(dropout_wide):
    t = stats.delta_adjusted(dropout_wide, [1.0], 10, seed=1, shift="treatment").table
    c = stats.delta_adjusted(dropout_wide, [1.0], 10, seed=1, shift="control").table
    b = stats.delta_adjusted(dropout_wide, [1.0], 10, seed=1, shift="both").table
    move = [x["estimate"].iloc[1] - x["estimate"].iloc[0] for x in (t, c, b)]
    assert move[0] > 0 and move[1] > 0  # both work against the (negative) UC-MSC effect
    assert move[2] == pytest.approx(move[0] + move[1], rel=1e-10)
    with pytest.raises(ValueError, match="shift"):
        stats.delta_adjusted(dropout_wide, [1.0], 5, shift="placebo")
    with pytest.raises(ValueError, match="deltas must be >= 0"):
        stats.delta_adjusted(dropout_wide, [-1.0], 5)


# --------------------------------------------------------------------------- responders
def _fisher_by_hand(a: int, n1: int, b: int, n2: int) -> float:
    """Two-sided Fisher exact p: sum of the hypergeometric probabilities of every table
    with the same margins that is no more probable than the observed one."""
    total, events = n1 + n2, a + b

    def prob(x: int) -> float:
        return math.comb(n1, x) * math.comb(n2, events - x) / math.comb(total, events)

    observed = prob(a)
    lo, hi = max(0, events - n2), min(n1, events)
    return sum(prob(x) for x in range(lo, hi + 1) if prob(x) <= observed * (1 + 1e-7))


def test_tipping_grid_for_the_published_analysis_set():
    """9/45 vs 2/44 analysed, 46 placebo randomized: 2 placebo outcomes missing."""
    g = stats.responder_tipping_point(9, 45, 0, 2, 44, 2)
    assert list(g.table["k2"]) == [0, 1, 2]
    for k2, row in g.table.set_index("k2").iterrows():
        assert row["p"] == pytest.approx(_fisher_by_hand(9, 45, 2 + k2, 46), rel=1e-9)
        assert row["rd"] == pytest.approx(9 / 45 - (2 + k2) / 46, abs=1e-15)
    assert g.complete_case.p == pytest.approx(_fisher_by_hand(9, 45, 2, 44), rel=1e-9)
    # complete case p = 0.0496 < 0.05; both missing non-responders: 0.027; one responder: 0.069
    assert list(g.table["significant"]) == [True, False, False]
    assert g.tipping_cells == ((0, 1),)
    assert g.control_responders_to_tip == 1
    assert g.treated_nonresponders_to_tip is None
    d = g.as_dict()
    assert d["p"][0] == list(g.table["p"]) and d["tipping_cells"] == [[0, 1]]


def test_tipping_grid_with_missing_in_both_arms():
    g = stats.responder_tipping_point(10, 38, 7, 3, 40, 6)
    assert g.p_grid.shape == (8, 7)
    for k1, k2 in [(0, 0), (7, 0), (3, 2), (0, 6), (7, 6), (5, 4)]:
        assert g.p_grid.loc[k1, k2] == pytest.approx(
            _fisher_by_hand(10 + k1, 45, 3 + k2, 46), rel=1e-9
        )
    sig = g.significant_grid.to_numpy()
    # more treated responders help, more control responders hurt: monotone boundary
    assert (np.diff(sig.astype(int), axis=0) >= 0).all()
    assert (np.diff(sig.astype(int), axis=1) <= 0).all()
    for k1, k2 in g.tipping_cells:
        assert g.table.set_index(["k1", "k2"]).loc[(k1, k2), "changed"]
    for k1, k2 in g.boundary.items():
        if k2 is not None:
            assert not sig[k1, k2] and (k2 == 0 or sig[k1, k2 - 1])
    # the two headline numbers read off the grid
    c = g.control_responders_to_tip
    assert c is None or (not sig[7, c] and sig[7, :c].all())
    t = g.treated_nonresponders_to_tip
    assert t is None or (not sig[7 - t, 0] and sig[7 - t + 1 :, 0].all())
    chi = stats.responder_tipping_point(10, 38, 7, 3, 40, 6, test="chi2")
    assert chi.test == "chi2"
    with pytest.raises(ValueError, match="m2"):
        stats.responder_tipping_point(9, 45, 0, 2, 44, -1)
    with pytest.raises(ValueError, match="test"):
        stats.responder_tipping_point(9, 45, 0, 2, 44, 2, test="t")


def test_responder_mi_expectation_and_reproducibility():
    x1, n1, m1, x2, n2, m2 = 9, 38, 7, 2, 40, 6
    a = stats.responder_mi(x1, n1, m1, x2, n2, m2, 20_000, seed=1)
    # E[imputed responders] = m * E[rate] = m (x + 1/2) / (n + 1) under the Jeffreys prior
    e1 = (x1 + m1 * (x1 + 0.5) / (n1 + 1)) / (n1 + m1)
    e2 = (x2 + m2 * (x2 + 0.5) / (n2 + 1)) / (n2 + m2)
    assert abs(a.estimate - (e1 - e2)) < 4 * math.sqrt(a.between / a.m)
    assert a.between > 0 and 0 < a.fmi < 1
    b = stats.responder_mi(x1, n1, m1, x2, n2, m2, 50, seed=2)
    assert b == stats.responder_mi(x1, n1, m1, x2, n2, m2, 50, seed=2)
    none_missing = stats.responder_mi(9, 45, 0, 2, 44, 0, 10, seed=0)
    assert none_missing.estimate == pytest.approx(9 / 45 - 2 / 44)
    assert none_missing.between == 0


def test_responder_analyses_table():
    t = stats.responder_analyses(9, 45, 0, 2, 44, 2, n_imputations=200, seed=0).set_index(
        "analysis"
    )
    assert t.loc["complete case", "control"] == "2/44"
    assert t.loc["non-responder imputation", "control"] == "2/46"
    assert t.loc["worst case", "control"] == "4/46"
    nri = t.loc["non-responder imputation"]
    se = math.sqrt(0.2 * 0.8 / 45 + (2 / 46) * (44 / 46) / 46)
    assert nri["rd"] == pytest.approx(0.2 - 2 / 46)
    assert nri["low"] == pytest.approx(0.2 - 2 / 46 - sps.norm.isf(0.025) * se, rel=1e-9)
    assert nri["p"] == pytest.approx(_fisher_by_hand(9, 45, 2, 46), rel=1e-9)
    assert t.loc["complete case", "p"] == pytest.approx(_fisher_by_hand(9, 45, 2, 44), rel=1e-9)
    assert t.loc["multiple imputation", "test"] == "rubin_t"


# --------------------------------------------------------------------------- dropout
def test_impose_dropout_mechanisms():
    data = cohort.simulate(seed=4, dropout=0.0)
    wide = stats.visits_wide(data["ADSL"], data["ADLB"])
    for mech in stats.MECHANISMS:
        out = stats.impose_dropout(wide, mech, rate=0.3, slope=1.5, seed=9)
        vals = out.drop(columns="ARM").to_numpy()
        miss = np.isnan(vals)
        assert not miss[:, 0].any() and not miss[:, 1].any()  # leave after visit 4 at the earliest
        # monotone: once missing, missing at every later visit
        assert (np.diff(miss.astype(int), axis=1) >= 0).all()
        assert out.attrs["dropout"]["mechanism"] == mech
    # the calibration: dropout probabilities average the rate exactly
    score = wide[48].to_numpy()
    prob = missing._calibrate(score, 1.5, 0.3)
    assert prob.mean() == pytest.approx(0.3, abs=1e-10)
    assert np.corrcoef(prob, score)[0, 1] > 0.9
    # MNAR: over many seeds the dropouts have a higher week-48 value than the completers
    gap = []
    for s in range(20):
        out = stats.impose_dropout(wide, "MNAR", 0.3, 1.5, seed=s)
        gone = out[48].isna().to_numpy()
        gap.append(score[gone].mean() - score[~gone].mean())
    assert np.mean(gap) > 0.3
    with pytest.raises(ValueError, match="mechanism"):
        stats.impose_dropout(wide, "NMAR")
    with pytest.raises(ValueError, match="rate"):
        stats.impose_dropout(wide, "MCAR", rate=1.0)


def test_dropout_trial_is_a_valid_synthetic_trial():
    data = cohort.simulate(seed=5, dropout=0.0)
    trial = stats.dropout_trial(data, "MAR", rate=0.3, slope=1.5, seed=5)
    checked = schema.validate_all(trial)
    assert set(checked) == {"ADSL", "ADLB", "ADEX", "ADAE"}
    wide = stats.visits_wide(trial["ADSL"], trial["ADLB"])
    gone = wide[48].isna()
    adsl = trial["ADSL"].set_index("USUBJID")
    assert (adsl.loc[gone[gone].index, "FASFL"] == "N").all()
    assert (adsl.loc[gone[~gone].index, "FASFL"] == "Y").all()
    assert adsl["DCSREAS"].str.contains("simulated MAR dropout").sum() == gone.sum()
    assert all((df["SYNTHETIC"] == "Y").all() for df in trial.values())
    assert "dropout_trial" in trial["ADLB"].attrs["provenance"]
    # the responder endpoint sees the same patients as missing
    resp = derive.responders(
        trial["ADSL"],
        derive.derive_adlb(trial["ADLB"]),
        derive.derive_adex(trial["ADEX"]),
        missing="complete-case",
        population="randomized",
    )
    counts = derive.responder_counts(resp)
    assert counts["UC-MSC"][1] + counts["Placebo"][1] == int((~gone).sum())
    with pytest.raises(ValueError, match="every visit"):
        stats.dropout_trial(trial)


def test_dropout_simulation_structure_and_seed():
    a = stats.dropout_simulation(4, n_imputations=3, truth_trials=200, seed=1)
    b = stats.dropout_simulation(4, n_imputations=3, truth_trials=200, seed=1)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert "MMRM (MAR)" not in set(a.summary["method"])
    assert set(a.summary["mechanism"]) == set(stats.MECHANISMS)
    assert (a.summary["SYNTHETIC"] == "Y").all() and a.trials.attrs["synthetic"]
    bias = a.table("bias")
    assert list(bias.columns) == list(stats.MECHANISMS)
    assert ("responder", "non-responder imputation") in bias.index
    # the complete-data rows do not depend on the mechanism
    full = a.trials[a.trials["method"] == "complete data"]
    assert full.groupby(["trial", "endpoint"])["estimate"].nunique().max() == 1
    # every mechanism loses about the rate (a calibrated expectation, 4 trials of 91)
    assert a.summary["dropout"].between(0.15, 0.45).all()
    assert set(a.as_dict()["bias"]) == {"HbA1c", "responder"}


def test_truth_of_the_simulation_is_the_published_difference():
    """HbA1c: the cohort model's between-arm difference of mean changes is the published
    (7.52 - 9.02) - (8.19 - 8.89) = -0.80 (effect = 1)."""
    truth, mc = missing._truth((45, 46), 1.0, 0, 5000)
    assert abs(truth["HbA1c"] - (-0.80)) < 4 * mc["HbA1c"] + 0.005
    assert 0.1 < truth["responder"] < 0.25


def test_dropout_simulation_with_mmrm_agrees_with_mi_trial_by_trial():
    """MMRM and MI both assume MAR and use the visits before dropout: per simulated trial
    their estimates differ by a small fraction of the SE."""
    sim = stats.dropout_simulation(
        3, n_imputations=40, truth_trials=200, seed=3, with_mmrm=True, mechanisms=("MAR",)
    )
    t = sim.trials[sim.trials["endpoint"] == "HbA1c"].pivot(
        index="trial", columns="method", values=["estimate", "se"]
    )
    gap = (t[("estimate", "MMRM (MAR)")] - t[("estimate", "MI (MAR)")]).abs()
    assert (gap < 0.35 * t[("se", "MMRM (MAR)")]).all()
    assert (sim.summary["failed"] == 0).all()


# --------------------------------------------------------------------------- vectorized
def test_imputing_many_data_sets_at_once_is_imputing_each_alone(dropout_wide):
    """_impute_many: data set b of a batch gets exactly (bit for bit) what it gets alone
    or in any other batch; impute_monotone is a batch of one. Members with and without
    intermittent gaps (fitted per imputation or once) are mixed in the batch."""
    values = dropout_wide.drop(columns="ARM").to_numpy(float)
    treated = (dropout_wide["ARM"] == "UC-MSC").to_numpy()
    rng = np.random.default_rng(0)
    batch = []
    for b in range(7):
        v = values.copy()
        v[rng.choice(len(v), 10, replace=False), -1] = np.nan  # more dropout at week 48
        if b % 3 == 0:
            v[b, 2] = np.nan  # an intermittent gap: observed before and after
        batch.append(v)
    batch = np.stack(batch)
    tr = np.broadcast_to(treated, batch.shape[:2])
    seeds = [11 + b for b in range(len(batch))]
    together = missing._impute_many(batch, tr, 6, [np.random.default_rng(s) for s in seeds])
    assert not np.isnan(together).any()
    for b in range(len(batch)):
        alone = missing._impute_many(
            batch[b : b + 1], tr[b : b + 1], 6, [np.random.default_rng(seeds[b])]
        )
        assert np.array_equal(alone[0], together[b])
        pair = slice(b, b + 2)
        rngs = [np.random.default_rng(s) for s in seeds[pair]]
        assert np.array_equal(missing._impute_many(batch[pair], tr[pair], 6, rngs)[0], together[b])
    wide = dropout_wide.copy()
    wide[wide.columns[1:]] = batch[3]
    imp = stats.impute_monotone(wide, 6, seed=seeds[3])
    assert np.array_equal(imp.values, together[3])


def test_complete_trials_as_arrays_are_the_simulated_trials():
    """_complete_trials builds the HbA1c visits and responders of many trials from the
    model's arrays: the same numbers as cohort.simulate's datasets, trial by trial."""
    seeds = [np.random.SeedSequence(4, spawn_key=(i,)) for i in range(3)]
    hv, treated, resp = missing._complete_trials(seeds, (45, 46), 1.0)
    for i, ss in enumerate(seeds):
        h, t, r = missing._complete_trial(ss, (45, 46), 1.0)
        assert np.array_equal(hv[i], h) and np.array_equal(treated[i], t)
        assert np.array_equal(resp[i], r)


def test_dropout_simulation_does_not_depend_on_the_batch():
    """Vectorized in batches of trials: identical results (bit for bit) whatever the batch
    size, and the per-trial computation (cohort.simulate, multiple_imputation,
    responder_mi and rubin one trial at a time) gives the same numbers."""
    kw = dict(n_imputations=4, truth_trials=200, seed=6, slope=1.5)
    one = stats.dropout_simulation(5, batch=1, **kw)
    for batch in (2, 5, 50):
        other = stats.dropout_simulation(5, batch=batch, **kw)
        pd.testing.assert_frame_equal(one.trials, other.trials, check_exact=True)
        pd.testing.assert_frame_equal(one.summary, other.summary, check_exact=True)
    for i in (0, 4):
        ref = pd.DataFrame(
            missing._one_trial(i, 6, (45, 46), 1.0, list(stats.MECHANISMS), 0.3, 1.5, 4, 0.05)
        )
        got = one.trials[one.trials["trial"] == i].reset_index(drop=True)
        assert (
            (got[["mechanism", "endpoint", "method"]] == ref[["mechanism", "endpoint", "method"]])
            .all()
            .all()
        )
        for col in ("estimate", "se", "low", "high", "p", "dropout_treated", "dropout_control"):
            np.testing.assert_allclose(got[col], ref[col], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="batch"):
        stats.dropout_simulation(5, batch=0, **kw)


def _impute_one_by_one(wide: pd.DataFrame, m: int, seed: int) -> np.ndarray:
    """The imputation of impute_monotone written out one imputation, visit, arm and
    patient at a time (monotone data, every earlier visit a predictor), from the same
    random numbers in the same order: the per-item reference of the vectorized
    _impute_many (which draws only the missing values, all at once)."""
    values = wide.drop(columns="ARM").to_numpy(float)
    treated = (wide["ARM"] == "UC-MSC").to_numpy()
    n, v = values.shape
    observed = ~np.isnan(values)
    rng = np.random.default_rng(seed)
    arms = (treated, ~treated)
    nobs = [[int((arm & observed[:, k]).sum()) for k in range(v)] for arm in arms]
    need = [[bool((arm & ~observed[:, k]).any()) for k in range(v)] for arm in arms]
    # residual df of each fit (1, a placeholder, where nothing is missing: no fit)
    df = np.array(
        [[nobs[a][k] - (k + 1) if need[a][k] else 1 for k in range(1, v)] for a in (0, 1)],
        float,
    )
    chis = rng.chisquare(df[:, :, None], size=(2, v - 1, m))
    zb = rng.standard_normal((2, v - 1, m, v))
    zz = rng.standard_normal((m, n, v))
    out = np.repeat(values[None], m, axis=0)
    for i in range(m):
        for k in range(1, v):
            for a, arm in enumerate(arms):
                missing_k = np.flatnonzero(arm & ~observed[:, k])
                if len(missing_k) == 0:
                    continue
                fit = arm & observed[:, k]
                X = np.column_stack([np.ones(fit.sum()), values[fit, :k]])
                y = values[fit, k]
                beta_hat = np.linalg.lstsq(X, y, rcond=None)[0]
                rss = float(np.sum((y - X @ beta_hat) ** 2))
                sigma = math.sqrt(rss / chis[a, k - 1, i])
                L = np.linalg.cholesky(X.T @ X)
                beta = beta_hat + sigma * np.linalg.solve(L.T, zb[a, k - 1, i, : k + 1])
                for j in missing_k:
                    out[i, j, k] = beta[0] + sigma * zz[i, j, k] + beta[1:] @ out[i, j, :k]
    return out


def test_vectorized_imputation_is_the_imputation_one_value_at_a_time(dropout_wide):
    """_impute_many (batched fits, the missing values of every data set drawn at once)
    gives what the algorithm gives one imputation, visit, arm and patient at a time."""
    for seed in (0, 7):
        ref = _impute_one_by_one(dropout_wide, 5, seed)
        got = stats.impute_monotone(dropout_wide, 5, seed=seed).values
        assert np.isnan(ref).sum() == 0
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def _truth_from_simulate_endpoints(n_per_arm, effect, seed, k):
    """The truth of dropout_simulation as it was computed before (commit e4a2f4c): the
    whole cohort model, ``cohort.simulate_endpoints``, its data frame per arm."""
    truth_seed = np.random.SeedSequence(seed, spawn_key=(2**31,))
    ep = cohort.simulate_endpoints(k, n_per_arm, seed=truth_seed, effect=effect, dropout=0.0)
    uc = ep.loc[ep["arm"] == "UC-MSC"].set_index("trial")
    pl = ep.loc[ep["arm"] == "Placebo"].set_index("trial")
    dh = (uc["mean_hba1c_change"] - pl["mean_hba1c_change"]).to_numpy()
    dr = (uc["responders"] / uc["randomized"] - pl["responders"] / pl["randomized"]).to_numpy()
    truth = {"HbA1c": float(dh.mean()), "responder": float(dr.mean())}
    mc = {
        "HbA1c": float(dh.std(ddof=1) / math.sqrt(k)),
        "responder": float(dr.std(ddof=1) / math.sqrt(k)),
    }
    return truth, mc


@pytest.mark.parametrize(
    "n_per_arm, effect, seed, k",
    [((45, 46), 1.0, 2022, 3000), ((45, 46), 0.0, 5, 500), ((30, 20), 0.5, 7, 800)],
)
def test_truth_from_the_lean_core_is_the_truth_from_simulate_endpoints(n_per_arm, effect, seed, k):
    """The truth from trial_model's lean endpoint draws equals, bit for bit, the truth
    from cohort.simulate_endpoints (every covariate drawn, a data frame per arm)."""
    missing._truth_cached.cache_clear()
    assert missing._truth(n_per_arm, effect, seed, k) == _truth_from_simulate_endpoints(
        n_per_arm, effect, seed, k
    )


def test_calibration_stops_at_its_fixed_point():
    """_calibrate stops the bisection when a step changes nothing: the same
    probabilities as all 80 steps."""
    rng = np.random.default_rng(3)
    score = rng.normal(9, 1.2, (40, 91))
    for slope, rate in ((1.5, 0.3), (-2.0, 0.1), (0.3, 0.9)):
        z = slope * (score - score.mean(axis=-1, keepdims=True))
        lo, hi = np.full((40, 1), -60.0), np.full((40, 1), 60.0)
        for _ in range(80):
            mid = (lo + hi) / 2
            high = sps.logistic.cdf(mid + z).mean(axis=-1, keepdims=True) > rate
            hi, lo = np.where(high, mid, hi), np.where(high, lo, mid)
        ref = sps.logistic.cdf((lo + hi) / 2 + z)
        got = missing._calibrate(score, slope, rate)
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_allclose(got.mean(axis=-1), rate, rtol=1e-9)


@pytest.mark.parametrize("na, nb", [(45, 46), (12, 10), (3, 5), (1, 1), (20, 20), (7, 30)])
def test_vectorized_fisher_is_scipys_fisher_exact_table_by_table(na, nb):
    """_fisher_two_sided runs scipy.stats.fisher_exact's two-sided algorithm on arrays:
    every table a/na vs b/nb gets the p of fisher_exact itself, bit for bit."""
    a, b = (g.ravel() for g in np.meshgrid(np.arange(na + 1), np.arange(nb + 1), indexing="ij"))
    got = missing._fisher_two_sided(a, na, b, nb)
    ref = [sps.fisher_exact([[i, na - i], [j, nb - j]]).pvalue for i, j in zip(a, b, strict=True)]
    np.testing.assert_array_equal(got, np.array(ref, float))


@pytest.mark.parametrize(
    "counts", [(9, 45, 0, 2, 44, 2), (20, 35, 10, 10, 37, 9), (5, 40, 5, 5, 40, 6)]
)
@pytest.mark.parametrize("test", ["fisher", "z"])
def test_tipping_grid_on_arrays_is_the_grid_cell_by_cell(counts, test):
    """responder_tipping_point (every cell at once) against the grid built one cell at a
    time with the tests of stats.binary: p-values, tipping cells and boundaries."""
    x1, n1, m1, x2, n2, m2 = counts
    g = stats.responder_tipping_point(*counts, test=test)
    fn = {"fisher": stats.fisher_test, "z": stats.z_test}[test]
    cc_sig = fn(x1, n1, x2, n2).p < 0.05
    p = {
        (k1, k2): fn(x1 + k1, n1 + m1, x2 + k2, n2 + m2).p
        for k1 in range(m1 + 1)
        for k2 in range(m2 + 1)
    }
    assert list(g.table["p"]) == list(p.values())
    changed = {c: (v < 0.05) != cc_sig for c, v in p.items()}
    cells = [
        c
        for c, ch in changed.items()
        if ch
        and any(
            changed.get(n) is False
            for n in ((c[0] + 1, c[1]), (c[0] - 1, c[1]), (c[0], c[1] + 1), (c[0], c[1] - 1))
        )
    ]
    assert list(g.tipping_cells) == cells
    for k1 in range(m1 + 1):
        ks = [k2 for k2 in range(m2 + 1) if changed[(k1, k2)]]
        assert g.boundary[k1] == (min(ks) if ks else None)
