"""Notebook 09 (power and sample size): what it records, against R fixtures
(tests/fixtures/power), R's documented numbers, and enumerations written out here."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import TEST_PARAMETERS
from scipy import stats as sps

from trialkit import params, run

pytestmark = pytest.mark.notebooks

R = Path(__file__).resolve().parent / "fixtures" / "power"
NAME = "09_power_and_sample_size"


@pytest.fixture(scope="module")
def nb09(recorded) -> dict:
    return recorded(NAME)


def _enumerate(p1: float, n1: int, p2: float, n2: int, pvalue, alpha: float = 0.05) -> float:
    """Exact power by a plain double loop over every outcome."""
    total = 0.0
    for a in range(n1 + 1):
        for b in range(n2 + 1):
            if pvalue(a, b) < alpha:
                total += sps.binom.pmf(a, n1, p1) * sps.binom.pmf(b, n2, p2)
    return total


@functools.cache
def _fisher_pvalues(n1: int, n2: int) -> dict[tuple[int, int], float]:
    """scipy's Fisher p-value of every table, one call each (computed once per module)."""
    return {
        (a, b): sps.fisher_exact([[a, n1 - a], [b, n2 - b]]).pvalue
        for a in range(n1 + 1)
        for b in range(n2 + 1)
    }


def _fisher(n1: int, n2: int):
    table = _fisher_pvalues(n1, n2)
    return lambda a, b: table[a, b]


def _chi2(n1: int, n2: int):
    def p(a: int, b: int) -> float:
        if a + b in (0, n1 + n2):
            return 1.0
        return sps.chi2_contingency([[a, n1 - a], [b, n2 - b]], correction=False).pvalue

    return p


def test_09_power_at_the_observed_rates(nb09):
    r = pd.read_csv(R / "r_exact_power.csv").query("id == 'zang2022_observed'")
    r = r.set_index("test")["power"]
    for test in ("fisher", "chi2", "chi2_yates", "z", "wald"):
        assert nb09[f"power.{test}.observed"] == pytest.approx(r[test], rel=1e-9)
    assert nb09["power.fisher.observed"] == pytest.approx(
        _enumerate(0.2, 45, 2 / 44, 44, _fisher(45, 44)), rel=1e-10
    )


def test_09_sample_sizes(nb09):
    curve = pd.read_csv(R / "r_power_curve.csv").query("id == 'zang2022_observed'")
    for test in ("fisher", "chi2"):
        g = curve[curve.test == test].sort_values("n")
        for target in (80, 90):
            above = (g["power"] >= target / 100).to_numpy()
            stable = int(g["n"].to_numpy()[max(i for i, ok in enumerate(above) if not ok) + 1])
            first = int(g["n"].to_numpy()[above.argmax()])
            assert nb09[f"power.n_per_arm.{test}.{target}"] == stable
            assert nb09[f"power.n_per_arm_first.{test}.{target}"] == first
    assert (nb09["power.n_per_arm.fisher.80"], nb09["power.n_per_arm.fisher.90"]) == (76, 98)
    ss = pd.read_csv(R / "r_sample_size.csv")
    ss = ss[ss.p1 == 0.2].set_index("power")
    for target in (80, 90):
        for method in ("normal", "normal_cc", "arcsine"):  # power.prop.test, Fleiss cc, pwr
            expected = math.ceil(ss.loc[target / 100, method])
            assert nb09[f"power.n_per_arm.{method}.{target}"] == expected
    assert (nb09["power.n_per_arm.normal.80"], nb09["power.n_per_arm.normal.90"]) == (70, 93)


def test_09_type1_error_at_the_pooled_rate(nb09):
    r = pd.read_csv(R / "r_type1.csv").query("n1 == 45").set_index("test")
    for test in ("fisher", "chi2", "chi2_yates", "wald"):
        assert nb09[f"type1.{test}"] == pytest.approx(r.loc[test, "size"], rel=1e-9)
        assert nb09[f"type1.{test}.max"] == pytest.approx(r.loc[test, "max_size"], rel=1e-6)
    pooled = 11 / 89
    assert nb09["type1.fisher"] == pytest.approx(
        _enumerate(pooled, 45, pooled, 44, _fisher(45, 44)), rel=1e-10
    )
    assert nb09["type1.chi2"] == pytest.approx(
        _enumerate(pooled, 45, pooled, 44, _chi2(45, 44)), rel=1e-10
    )
    assert nb09["type1.fisher"] < 0.05 < nb09["type1.chi2"]


def test_09_assurance(nb09):
    r = pd.read_csv(R / "r_assurance.csv").query("id == 'uniform_plus_zang' and test == 'fisher'")
    assert nb09["assurance.fisher.same_size"] == pytest.approx(r["assurance"].iloc[0], rel=1e-8)


def test_09_simulation_agrees_with_exact(nb09):
    sim = nb09["sim.power.cohort"]
    n_sim = TEST_PARAMETERS.get("n_sim", params.SPECS["09_power_and_sample_size"]["n_sim"].default)
    assert sim["synthetic"] is True and sim["n_sim"] == n_sim
    assert abs(nb09["sim.z"]) < 4
    assert abs(sim["power"] - nb09["sim.power.binomial_equivalent"]) < 4 * sim["mc_se"]
    assert nb09["sim.grid.max_abs_z"] < 4.5  # 42 comparisons


def test_simulation_studies_give_identical_numbers_on_a_dask_cluster():
    """The cluster material moved from notebook 09 to the README; its promise is tested
    here: the same grid locally and on a dask LocalCluster, number for number."""
    from distributed import Client, LocalCluster

    from trialkit import studies

    demo = {"n_per_arm": [(45, 46), (60, 60)], "effect": [0.5, 1.0], "n_sim": 3000,
            "tests": ("fisher", "chi2_yates"), "alpha": 0.05, "seed": 2022}  # fmt: skip
    local = studies.power_grid(**demo, scheduler="local")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        on_cluster = studies.power_grid(**demo, scheduler=client, batch=1)
    assert local.equals(on_cluster)


def test_09_parameters_reach_the_analysis(tmp_path):
    out = run.render(only=["09"], out=tmp_path, parameters={"alpha": 0.1, "n_sim": 300}, jobs=1)[0]
    assert out.ok, out.message
    rec = json.loads((tmp_path / f"{NAME}.json").read_text())["records"]
    assert rec["power.fisher.observed"] == pytest.approx(
        _enumerate(0.2, 45, 2 / 44, 44, _fisher(45, 44), alpha=0.1), rel=1e-10
    )
    assert rec["sim.power.cohort"]["n_sim"] == 300


def test_09_rejects_a_bad_scheduler_before_running():
    with pytest.raises(params.ParameterError, match="scheduler"):
        params.validate(NAME, {"scheduler": "not an address"})


def test_09_sizes_compared_in_words_that_fit_them(tmp_path):
    """At 99 % power the normal formula and Fisher's test agree (161 per arm: no "but"), and
    the arcsine formula needs more than the chi-square test (it "overshoots", not "even")."""
    chosen = {"target_power": 0.99, "target_power_high": 0.5, "n_sim": 300}
    out = run.render(only=["09"], out=tmp_path, parameters=chosen, jobs=1, site=False)[0]
    assert out.ok, out.message
    rec = json.loads((tmp_path / f"{NAME}.json").read_text())["records"]
    assert rec["power.n_per_arm.normal.99"] == rec["power.n_per_arm.fisher.99"] == 161
    assert rec["power.n_per_arm.arcsine.99"] > rec["power.n_per_arm.chi2.99"]
    nb = nbformat.read(tmp_path / f"{NAME}.ipynb", as_version=4)
    said = " ".join(
        o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", [])
    )
    said = " ".join(said.split())
    assert "**161 per arm** and Fisher's exact test needs **161**" in said
    assert ") overshoots the chi-square test" in said
