"""trialkit.studies: the same numbers however the work is split (in this process, local
processes, a dask cluster), the same counts as a plain loop with scipy's Fisher test, and
simulated power within Monte Carlo error of the exact power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from trialkit import cohort, stats, studies

GRID = dict(
    n_per_arm=[(45, 46), (20, 22)],
    effect=[0.5, 1.0],
    tests=("fisher", "chi2_yates"),
    n_sim=1500,
    seed=11,
    chunk_size=400,
)


@pytest.fixture(scope="module")
def in_process() -> pd.DataFrame:
    return studies.power_grid(**GRID, workers=1, scheduler="local")


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as c,
        Client(c) as client,
    ):
        yield c, client


def test_local_processes_and_other_batches_give_identical_results(in_process):
    two = studies.power_grid(**GRID, workers=2, batch=1, scheduler="local")
    pd.testing.assert_frame_equal(in_process, two)
    other = studies.power_grid(**GRID, workers=1, batch=3, scheduler="local")
    pd.testing.assert_frame_equal(in_process, other)


def test_dask_cluster_gives_identical_results(in_process, cluster, monkeypatch):
    c, client = cluster
    pd.testing.assert_frame_equal(in_process, studies.power_grid(**GRID, scheduler=client))
    by_address = studies.power_grid(**GRID, scheduler=c.scheduler_address, batch=2)
    pd.testing.assert_frame_equal(in_process, by_address)
    # the environment variable is used when no scheduler is given; "local" overrides it
    used = []
    real = studies._execute_dask

    def spy(tasks, scheduler, bar):
        used.append(scheduler)
        yield from real(tasks, scheduler, bar)

    monkeypatch.setattr(studies, "_execute_dask", spy)
    monkeypatch.setenv(studies.ENV_SCHEDULER, c.scheduler_address)
    pd.testing.assert_frame_equal(in_process, studies.power_grid(**GRID, batch=4))
    assert used == [c.scheduler_address]
    studies.power_grid(**{**GRID, "n_sim": 10}, scheduler="local")
    assert used == [c.scheduler_address]


def test_counts_equal_a_plain_loop_with_scipy_fisher_exact():
    """draws="patients": chunk i is cohort.simulate_endpoints seeded with
    SeedSequence(seed, spawn_key=(i,)); every simulated trial tested one by one with
    scipy.stats.fisher_exact."""
    seed, chunk, n_sim = 5, 300, 750
    res = studies.power_grid(
        [(12, 14)], [1.0], tests=("fisher",), n_sim=n_sim, seed=seed, chunk_size=chunk,
        dropout=0.15, workers=1, draws="patients",
    )  # fmt: skip
    rejections = responders = analysed = 0
    for i in range(3):
        df = cohort.simulate_endpoints(
            chunk, (12, 14), seed=np.random.SeedSequence(seed, spawn_key=(i,)), dropout=0.15
        )
        keep = min(chunk, n_sim - i * chunk)
        for t in range(keep):
            u, p = (
                df[(df.trial == t) & (df.arm == "UC-MSC")].iloc[0],
                df[(df.trial == t) & (df.arm == "Placebo")].iloc[0],
            )
            responders += u.responders
            analysed += u.analysed
            if u.analysed == 0 or p.analysed == 0:
                continue
            table = [
                [u.responders, u.analysed - u.responders],
                [p.responders, p.analysed - p.responders],
            ]
            rejections += sps.fisher_exact(table).pvalue < 0.05
    row = res.iloc[0]
    assert row.rejections == rejections
    assert row.rate1 == pytest.approx(responders / analysed, rel=1e-12)


def test_binomial_model_agrees_with_exact_power_within_monte_carlo_error():
    tests = ("fisher", "chi2", "chi2_yates", "wald")
    res = studies.power_grid(
        [(45, 44), (15, 20)], rates=[(0.2, 2 / 44), (0.1, 0.1)], tests=tests, n_sim=20_000,
        seed=3,
    )  # fmt: skip
    for r in res.itertuples():
        exact = stats.exact_power(r.p1, r.n1, r.p2, r.n2, r.test).power
        se = np.sqrt(exact * (1 - exact) / r.n_sim)  # binomial SE at the exact power
        assert abs(r.power - exact) < 4 * se, r
        assert r.ci_low <= r.power <= r.ci_high


def test_cohort_model_agrees_with_two_binomials_at_its_rates():
    """Patients are independent within an arm, so responders among the analysed are
    binomial at the model's responder rate: simulated power = exact power at those rates
    (estimated from all simulated patients), with the dropout mixture."""
    res = studies.simulate_power((45, 46), effect=1.0, n_sim=20_000, seed=8, workers=1)
    exact = stats.exact_power(res.rate1, 45, res.rate2, 46, "fisher", dropout=res.dropout)
    assert abs(res.power - exact.power) < 4 * res.mc_se
    no_drop = studies.simulate_power((30, 30), effect=0.0, dropout=0.0, n_sim=20_000, seed=9)
    assert no_drop.analysed1 == 30 and no_drop.analysed2 == 30
    size = stats.exact_power(no_drop.rate1, 30, no_drop.rate2, 30).power
    assert abs(no_drop.power - size) < 4 * np.sqrt(size * (1 - size) / 20_000) + 1e-3


def test_scenarios_do_not_depend_on_the_rest_of_the_grid(in_process):
    alone = studies.simulate_power(
        (20, 22), effect=1.0, test="chi2_yates", n_sim=1500, seed=11, chunk_size=400, workers=1
    )
    row = in_process.query("n1 == 20 and effect == 1.0 and test == 'chi2_yates'").iloc[0]
    assert alone.rejections == row.rejections and alone.power == row.power


def test_results_are_labelled_synthetic(in_process):
    assert (in_process["SYNTHETIC"] == "Y").all()
    assert in_process.attrs["synthetic"] and "SYNTHETIC" in in_process.attrs["provenance"]
    one = studies.simulate_power(rates=(0.3, 0.1), n_per_arm=(20, 20), n_sim=300, seed=1)
    assert str(one).startswith("SYNTHETIC") and one.as_dict()["synthetic"] is True
    assert one.model == "binomial" and one.dropout is None


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"effect": [1.0], "rates": [(0.2, 0.1)]}, "either effect"),
        ({"n_per_arm": [(45,)]}, "n_per_arm"),
        ({"n_per_arm": [(1, 45)]}, r"n_per_arm\[0\]"),
        ({"tests": ("fisher", "barnard")}, "tests"),
        ({"n_sim": 0}, "n_sim"),
        ({"seed": -1}, "seed"),
        ({"rates": [(0.2, 0.1)], "dropout": 0.1}, "dropout"),
        ({"rates": [(1.2, 0.1)]}, "rates p1"),
        ({"dropout": 1.0}, "dropout"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"effect": [float("nan")]}, "effect"),
        ({"draws": "loop"}, "draws"),
    ],
)
def test_errors_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        studies.power_grid(**{"n_sim": 10, **kwargs})


def test_endpoint_counts_equal_simulate_endpoints():
    """The lean core of the power studies draws the same trials as simulate_endpoints."""
    from trialkit import trial_model
    from trialkit.assumptions import _settings

    for seed, effect, dropout, n in ((0, 1.0, None, (45, 46)), (3, 0.4, 0.25, (12, 17))):
        df = cohort.simulate_endpoints(300, n, seed=seed, effect=effect, dropout=dropout)
        s = _settings(None)
        d = s["dropout_probability"] if dropout is None else dropout
        x, a = trial_model.endpoint_counts(np.random.default_rng(seed), n, 300, s, effect, d)
        assert (x == df["responders"].to_numpy().reshape(300, 2)).all()
        assert (a == df["analysed"].to_numpy().reshape(300, 2)).all()


def test_the_old_confusable_name_is_gone():
    """``trialkit.simulate`` (studies) was too easily confused with ``cohort.simulate``
    (one trial); only ``trialkit.studies`` remains."""
    with pytest.raises(ModuleNotFoundError):
        __import__("trialkit.simulate")


@pytest.mark.parametrize("draws", studies.DRAWS)
def test_effects_of_one_size_share_their_draws_and_equal_each_alone(draws):
    """Scenarios of the same arm sizes are simulated from one set of draws per chunk;
    each equals its scenario run alone (and the per-trial endpoints of simulate_endpoints)."""
    kw = dict(tests=("fisher",), n_sim=700, seed=21, chunk_size=300, workers=1, draws=draws)
    grid = studies.power_grid([(20, 21)], [0.0, 0.5, 1.0], **kw)
    for e in (0.0, 0.5, 1.0):
        alone = studies.power_grid([(20, 21)], [e], **kw)
        row = grid[grid["effect"] == e].reset_index(drop=True)
        pd.testing.assert_frame_equal(row.drop(columns="effect"), alone.drop(columns="effect"))


# ------------------------------------------------------------------ draws="counts"
# The default power-study path draws each arm's analysed and responder counts from their
# exact binomial distributions under the cohort model (a different random stream from
# simulate_endpoints). The tests below show it is the same model: its ingredients equal
# scipy's, its per-patient responder probability equals the patient-by-patient draws of
# simulate_endpoints within Monte Carlo error and a closed form written out from the model
# with scipy.stats.multivariate_normal, and its simulated power equals the exact power.


def test_bivariate_normal_cdf_equals_scipy_multivariate_normal():
    from trialkit import trial_model

    rng = np.random.default_rng(0)
    h = np.concatenate([rng.normal(0, 2, 60), [0.0, 0.0, 1.5, -3.0, 0.0, 9.0, -9.0]])
    k = np.concatenate([rng.normal(0, 2, 60), [0.0, 1.0, 0.0, 0.0, -2.0, 1.0, 2.0]])
    r = np.concatenate([rng.uniform(-0.99, 0.99, 60), [0.5, -0.3, 0.9, 0.2, -0.7, 0.4, 0.1]])
    got = trial_model._phi2(h, k, r)
    want = [
        sps.multivariate_normal.cdf([hi, ki], [0, 0], [[1, ri], [ri, 1]], abseps=1e-11)
        for hi, ki, ri in zip(h, k, r, strict=True)
    ]
    np.testing.assert_allclose(got, want, atol=1e-8)


def test_binomial_inverse_cdf_equals_scipy():
    from trialkit import trial_model

    rng = np.random.default_rng(1)
    u, a = rng.random(5000), rng.integers(0, 46, 5000)
    for p in (0.04, 0.2, 0.978):
        got = trial_model._binom_ppf(u, a, p)
        np.testing.assert_array_equal(got, sps.binom.ppf(u, a, p).astype(int))


def test_baseline_hba1c_and_dose_distributions_equal_the_patient_draws():
    """The exact distributions behind the responder probability (rounded baseline HbA1c,
    whole-unit baseline insulin dose) against 364,000 patients of cohort's own draws:
    chi-square goodness of fit (bins with expected counts >= 20) and the means."""
    from trialkit import trial_model
    from trialkit.assumptions import _settings

    s = _settings(None)
    c = trial_model._draw_core(np.random.default_rng(2), (45, 46), 4000, s, 1.0, 0.0)
    e = trial_model._facts()["eligibility"]
    hb = s["hba1c_baseline"]
    b, pb = trial_model._rounded_pmf(hb["mean"], hb["sd"], *e["hba1c"], 1)
    d, pd_ = trial_model._dose_pmf(trial_model._dose_key(s))
    assert pb.sum() == pytest.approx(1, abs=1e-12) and pd_.sum() == pytest.approx(1, abs=1e-12)
    for values, support, pmf in (
        (np.rint(10 * c["hba1c_base"].ravel()).astype(int), np.rint(10 * b).astype(int), pb),
        (c["ins_base"].ravel(), d, pd_),
    ):
        n = values.size
        assert np.isin(values, support).all()
        observed = np.array([(values == v).sum() for v in support])
        big = n * pmf >= 20
        obs, exp = observed[big], n * pmf[big]
        if (~big).any():
            obs, exp = np.append(obs, observed[~big].sum()), np.append(exp, n * pmf[~big].sum())
        assert sps.chisquare(obs, exp).pvalue > 1e-3
        sd = np.sqrt((pmf * (support - support @ pmf) ** 2).sum() / n)
        assert abs(values.mean() - support @ pmf) < 4 * sd


@pytest.mark.parametrize(
    "effect, params",
    [(1.0, None), (0.0, None), (0.5, None), (1.5, None), (1.0, {"rho_hba1c_insulin": 0.4}),
     (1.0, {"hba1c_change_sd": 1.1, "hba1c_change_baseline_slope": -0.2})],
)  # fmt: skip
def test_responder_probability_equals_the_patient_draws(effect, params):
    """Per-patient responder probability (computed) vs the share of responders among
    4,000 x 91 patients drawn one by one as simulate_endpoints draws them: within 4
    Monte Carlo SE, in each arm."""
    from trialkit import trial_model
    from trialkit.assumptions import _settings

    s = _settings(params)
    p = np.array(trial_model.responder_probability(effect, params=params))
    rng = np.random.default_rng(100 + int(10 * effect))
    x, a = trial_model.endpoint_counts(rng, (45, 46), 4000, s, effect, 0.0)
    share = x.sum(axis=0) / a.sum(axis=0)
    se = np.sqrt(p * (1 - p) / a.sum(axis=0))
    assert (np.abs(share - p) < 4 * se).all(), (share, p, se)


def test_responder_probability_equals_a_bivariate_normal_closed_form():
    """Written out from the model with scipy only: given the rounded baseline HbA1c b,
    week-48 HbA1c (continuous) and insulin percent change are bivariate normal; the
    composite is HbA1c < 6.95 (rounds below 7.0) and change < t, t = -50 % for an odd
    baseline dose d and -50 + 50/d for an even one (the week-48 dose in whole units).
    Summed over b (truncated normal rounded to 0.1, scipy.stats.truncnorm) and the dose
    distribution, with scipy.stats.multivariate_normal.cdf."""
    from trialkit import trial_model
    from trialkit.assumptions import _settings

    s = _settings(None)
    f = trial_model._facts()
    hb = s["hba1c_baseline"]
    lo, hi = f["eligibility"]["hba1c"]
    tn = sps.truncnorm((lo - hb["mean"]) / hb["sd"], (hi - hb["mean"]) / hb["sd"],
                       loc=hb["mean"], scale=hb["sd"])  # fmt: skip
    b = np.arange(70, 121) / 10
    pb = tn.cdf(np.minimum(b + 0.05, hi)) - tn.cdf(np.maximum(b - 0.05, lo))
    center, var_base = tn.mean(), tn.var()
    slope, sd_h, rho = (s[k] for k in ("hba1c_change_baseline_slope", "hba1c_change_sd",
                                       "rho_hba1c_insulin"))  # fmt: skip
    sd_w48 = np.sqrt((1 + slope) ** 2 * var_base + sd_h**2)
    d, pd_ = trial_model._dose_pmf(trial_model._dose_key(s))
    t_odd, t_even = -50.0, -50.0 + 50.0 / d[d % 2 == 0]
    thresholds = np.append(t_odd, t_even)
    pt = np.append(pd_[d % 2 == 1].sum(), pd_[d % 2 == 0])
    eff = trial_model._effects(1.0)
    for arm, sd_i in (("UC-MSC", s["insulin_pchg_sd"]["UC-MSC"]),
                      ("Placebo", s["insulin_pchg_sd"]["Placebo"])):  # fmt: skip
        mu_h, mu_i = eff["hba1c"][arm], eff["insulin"][arm]
        total = 0.0
        for bj, pj in zip(b, pb, strict=True):
            mean = [
                bj + mu_h + slope * (bj - center),
                mu_i + sd_i * rho * (1 + slope) * (bj - center) / sd_w48,
            ]
            cov_hp = sd_h * sd_i * rho * sd_h / sd_w48
            var_p = sd_i**2 * (rho**2 * sd_h**2 / sd_w48**2 + 1 - rho**2)
            cov = [[sd_h**2, cov_hp], [cov_hp, var_p]]
            pts = np.column_stack([np.full(len(thresholds), 6.95), thresholds])
            total += pj * (sps.multivariate_normal.cdf(pts, mean, cov, abseps=1e-10) @ pt)
        got = trial_model.responder_probability(1.0)[0 if arm == "UC-MSC" else 1]
        assert got == pytest.approx(total, abs=1e-7), arm


@pytest.mark.parametrize(
    "n, effect, dropout", [((45, 46), 1.0, None), ((12, 14), 0.5, 0.15), ((30, 30), 0.0, 0.0)]
)
def test_simulated_power_of_the_cohort_model_equals_its_exact_power(n, effect, dropout):
    """Exact power of the cohort model: two binomials at its per-patient responder
    probabilities, with the dropout mixture (stats.exact_power). Simulated with
    draws="counts": within 4 Monte Carlo SE; the responder shares within 4 SE too."""
    from trialkit import trial_model

    n_sim = 200_000
    res = studies.simulate_power(n, effect, n_sim=n_sim, seed=31, dropout=dropout, workers=1)
    p1, p2 = trial_model.responder_probability(effect)
    exact = stats.exact_power(p1, n[0], p2, n[1], "fisher", dropout=res.dropout).power
    assert abs(res.power - exact) < 4 * np.sqrt(exact * (1 - exact) / n_sim) + 1e-12
    for share, p, m in ((res.rate1, p1, res.analysed1), (res.rate2, p2, res.analysed2)):
        assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / (m * n_sim)) + 1e-12


def test_counts_and_patients_draws_give_the_same_power_within_monte_carlo_error():
    kw = dict(n_per_arm=(45, 46), effect=1.0, seed=41, workers=1)
    fast = studies.simulate_power(**kw, n_sim=40_000)
    slow = studies.simulate_power(**kw, n_sim=8_000, draws="patients")
    assert abs(fast.power - slow.power) < 4 * np.hypot(fast.mc_se, slow.mc_se)
    assert abs(fast.rate1 - slow.rate1) < 0.01 and abs(fast.rate2 - slow.rate2) < 0.005


def test_counts_draws_equal_a_plain_loop_with_scipy_fisher_exact():
    """draws="counts": chunk i is trial_model.endpoint_counts_drawn with
    default_rng(SeedSequence(seed, spawn_key=(i,))); each trial tested with fisher_exact."""
    from trialkit import trial_model
    from trialkit.assumptions import _settings

    seed, chunk, n_sim = 6, 300, 750
    res = studies.power_grid([(12, 14)], [1.0], n_sim=n_sim, seed=seed, chunk_size=chunk,
                             dropout=0.15, workers=1)  # fmt: skip
    rejections = 0
    for i in range(3):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        x, a = trial_model.endpoint_counts_drawn(rng, (12, 14), chunk, _settings(None), 1.0, 0.15)
        for (x1, x2), (a1, a2) in zip(x[: min(chunk, n_sim - i * chunk)], a, strict=False):
            if a1 and a2:
                rejections += sps.fisher_exact([[x1, a1 - x1], [x2, a2 - x2]]).pvalue < 0.05
    assert res.iloc[0].rejections == rejections


def test_rejection_lookup_shared_by_effects_equals_one_pvalue_lookup_per_effect():
    """``_Rejections`` (rejection tables kept end to end for a task, located once per
    chunk for all the effects sharing the analysed numbers) against ``_pvalues`` (the
    p-value tables concatenated afresh for every effect and test), chunk by chunk, with
    arms where nobody is analysed."""
    rng = np.random.default_rng(7)
    for test in ("fisher", "chi2", "wald"):
        counter = studies._Rejections(test, 0.05)
        for _ in range(4):
            a = np.column_stack([rng.binomial(14, 0.8, 500), rng.binomial(12, 0.7, 500)])
            a[:3] = [[0, 5], [6, 0], [0, 0]]
            where = counter.where(a)
            for p in (0.1, 0.4, 0.8):
                x = np.column_stack([rng.binomial(a[:, 0], p), rng.binomial(a[:, 1], 0.2)])
                want = int((studies._pvalues(x, a, test) < 0.05).sum())
                assert counter.count(x, where) == want


def test_patient_draws_identical_however_split():
    kw = dict(**GRID, draws="patients")
    one = studies.power_grid(**kw, workers=1, scheduler="local")
    pd.testing.assert_frame_equal(one, studies.power_grid(**kw, workers=2, batch=1))


def test_no_progress_bar_when_the_environment_disables_tqdm(monkeypatch, capsys):
    """The runner's kernels set TQDM_DISABLE: a rendered page shows no progress bar, even
    for a study large enough to show one by default (notebook 09: 420,000 trials)."""
    kwargs = {"rates": [(0.2, 0.05)], "n_sim": 120_000, "seed": 1, "workers": 1}
    monkeypatch.setenv("TQDM_DISABLE", "1")
    quiet = studies.power_grid(**kwargs)
    assert "simulated trials" not in capsys.readouterr().err
    assert not studies.progress_wanted(True)
    monkeypatch.delenv("TQDM_DISABLE")
    loud = studies.power_grid(**kwargs)
    assert "simulated trials" in capsys.readouterr().err  # the default above 100,000 trials
    pd.testing.assert_frame_equal(quiet, loud)
