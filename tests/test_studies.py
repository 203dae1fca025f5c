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
    """Chunk i is cohort.simulate_endpoints seeded with SeedSequence(seed, spawn_key=(i,));
    every simulated trial tested one by one with scipy.stats.fisher_exact."""
    seed, chunk, n_sim = 5, 300, 750
    res = studies.power_grid(
        [(12, 14)], [1.0], tests=("fisher",), n_sim=n_sim, seed=seed, chunk_size=chunk,
        dropout=0.15, workers=1,
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


def test_simulate_is_a_deprecated_alias_of_studies():
    from trialkit import simulate

    assert simulate is studies and simulate.power_grid is studies.power_grid


def test_effects_of_one_size_share_their_draws_and_equal_each_alone():
    """Scenarios of the same arm sizes are simulated from one set of draws per chunk;
    each equals its scenario run alone (and the per-trial endpoints of simulate_endpoints)."""
    kw = dict(tests=("fisher",), n_sim=700, seed=21, chunk_size=300, workers=1)
    grid = studies.power_grid([(20, 21)], [0.0, 0.5, 1.0], **kw)
    for e in (0.0, 0.5, 1.0):
        alone = studies.power_grid([(20, 21)], [e], **kw)
        row = grid[grid["effect"] == e].reset_index(drop=True)
        pd.testing.assert_frame_equal(row.drop(columns="effect"), alone.drop(columns="effect"))
