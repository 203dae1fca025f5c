"""Tests of trialkit.cohort: synthetic patients that match the paper, and say so; the
ensemble built as arrays equals the one built one data set at a time, whatever the
batches, processes or dask, and its cache gives back what it stored."""

from __future__ import annotations

import filecmp
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit import cohort, compare, derive, published, schema
from trialkit import ensemble as ens
from trialkit import reconstruct as rec

ROOT = Path(__file__).resolve().parent.parent
CANONICAL = ROOT / "data" / "synthetic"
KEY = {"UC-MSC": "ucmsc", "Placebo": "placebo"}


@pytest.fixture(scope="module")
def canonical() -> dict[str, pd.DataFrame]:
    """The committed data/synthetic files, read back and validated."""
    return cohort.read_csvs(CANONICAL)


@pytest.fixture(scope="module")
def members() -> list[dict[str, pd.DataFrame]]:
    """A few reconstructions with other seeds (and one with another assumption)."""
    out = [cohort.reconstruct(seed=s) for s in (1, 2, 3)]
    out.append(cohort.reconstruct(seed=4, params={"rho_hba1c_insulin": 0.3}))
    return out


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Ensembles are cached in a folder of this test session, not in ~/.cache."""
    monkeypatch.setenv(ens.ENV_CACHE, str(tmp_path_factory.getbasetemp() / "cache"))


def _csv_bytes(data: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    return {k: v.to_csv(index=False, lineterminator="\n").encode() for k, v in data.items()}


def _printed(x: float, fid: str) -> str:
    return f"{x:.{int(published.row(fid)['decimals'])}f}"


# --------------------------------------------------------------------------- canonical files
def test_canonical_files_regenerate_byte_identical(tmp_path: Path) -> None:
    assert cohort.main(["--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ADAE.csv", "ADEX.csv", "ADLB.csv", "ADSL.csv", "README.md", "provenance.json"]
    for name in names:
        assert (CANONICAL / name).is_file(), f"{name} is not committed in data/synthetic"
        assert filecmp.cmp(tmp_path / name, CANONICAL / name, shallow=False), (
            f"{name} differs: run `python -m trialkit.cohort` and commit data/synthetic"
        )


def test_make_data_command_still_works() -> None:
    """`make data` runs `python -m trialkit.cohort` (now a facade over the split modules)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "trialkit.cohort", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "identical" in done.stdout
    assert "-m trialkit.cohort" in (ROOT / "Makefile").read_text()


def test_canonical_files_are_labelled_synthetic(canonical: dict[str, pd.DataFrame]) -> None:
    for name, df in canonical.items():
        assert (df["SYNTHETIC"] == "Y").all(), name
        assert df.attrs["synthetic"] is True
    readme = (CANONICAL / "README.md").read_text()
    assert readme.startswith("# SYNTHETIC")
    assert "python -m trialkit.cohort" in readme


# --------------------------------------------------------------------------- published numbers
def _check_published(data: dict[str, pd.DataFrame]) -> None:
    """Every published quantity, recomputed here by the ordinary formulas."""
    adsl = data["ADSL"]
    lab, ex = data["ADLB"], data["ADEX"]
    fas = adsl[adsl["FASFL"] == "Y"]
    resp = derive.responders(adsl, derive.derive_adlb(lab), derive.derive_adex(ex))
    counts = derive.responder_counts(resp)
    assert counts == {"UC-MSC": [9, 45], "Placebo": [2, 44]}
    for arm, k in KEY.items():
        assert (adsl["ARM"] == arm).sum() == published.value(f"randomized_{k}")
        ids = fas.loc[fas["ARM"] == arm, "USUBJID"]
        x, n = counts[arm]
        assert _printed(100 * x / n, f"primary_{k}") == published.printed(f"primary_{k}")

        def at(df: pd.DataFrame, code: str, week: int, ids: pd.Series = ids) -> pd.Series:
            rows = df[(df["PARAMCD"] == code) & (df["AVISITN"] == week)]
            return rows.set_index("USUBJID")["AVAL"].reindex(ids)

        for tp, week in (("baseline", 0), ("end", 48)):
            hb = at(lab, "HBA1C", week)
            assert hb.notna().all()
            for stat, value in (("mean", hb.mean()), ("sd", hb.std(ddof=1))):
                fid = f"hba1c_{tp}_{k}_{stat}"
                assert _printed(value, fid) == published.printed(fid), fid
            assert (hb.round(1) == hb).all()  # recorded to 0.1 %, as labs report
        dose0, dose48 = at(ex, "INSDOSE", 0), at(ex, "INSDOSE", 48)
        reduction = -(100 * (dose48 - dose0) / dose0).mean()
        fid = f"insulin_reduction_{k}"
        assert _printed(reduction, fid) == published.printed(fid)
        for tp, week in (("baseline", 0), ("end", 48)):
            fid = f"gir_{tp}_{k}"
            assert _printed(at(lab, "GIR", week).mean(), fid) == published.printed(fid)
    # the 95% CI of the risk difference (Wald) from the counts
    (x1, n1), (x2, n2) = counts["UC-MSC"], counts["Placebo"]
    p1, p2 = x1 / n1, x2 / n2
    half = 1.959963984540054 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert _printed(100 * (p1 - p2 - half), "primary_ci_low") == "2.25"
    assert _printed(100 * (p1 - p2 + half), "primary_ci_high") == "28.66"


def test_canonical_matches_every_published_quantity(canonical: dict[str, pd.DataFrame]) -> None:
    _check_published(canonical)


def test_other_seeds_match_too(members: list[dict[str, pd.DataFrame]]) -> None:
    for data in members:
        _check_published(data)


def test_compare_with_published(canonical: dict[str, pd.DataFrame]) -> None:
    cmp = cohort.compare_with_published(canonical)
    assert list(cmp.columns) == [
        "id", "quantity", "arm", "timepoint", "statistic", "reported", "reconstructed",
        "matches", "target", "note",
    ]  # fmt: skip
    targeted = cmp[cmp["target"]]
    assert targeted["matches"].all(), targeted[~targeted["matches"]].to_string()
    assert (targeted["reported"] != "").all()
    # the rows no data set of this kind can match are there, unmatched, with a reason
    unmatched = cmp.set_index("id").loc[
        ["hba1c_decrease_ucmsc", "hba1c_decrease_placebo", "hba1c_decrease_placebo_p"]
    ]
    assert not unmatched["matches"].any()
    assert unmatched["note"].str.contains("not matchable").all()
    row = cmp.set_index("id").loc["hba1c_decrease_ucmsc"]
    assert (row["reported"], row["reconstructed"]) == ("1.31", "1.50")
    assert cmp.set_index("id").loc["hba1c_decrease_p", "note"].startswith("Student t-test")
    # every numeric 2022 result of the abstract is in the table
    results = published.select(publication="zang2022")
    wanted = results[
        results["id"].str.match(r"(primary|insulin_reduction|hba1c|gir)_") & ~results["id"].isin(
            ["primary_ci_level"]
        )
        & ~results["statistic"].isin(["text", "max_exclusive", "min"])
    ]  # fmt: skip
    assert set(wanted["id"]) <= set(cmp["id"])


def test_compare_flags_data_that_do_not_match() -> None:
    data = cohort.simulate(seed=5)
    cmp = cohort.compare_with_published(data).set_index("id")
    assert cmp["matches"].notna().any()
    assert not cmp.loc[cmp["target"], "matches"].all()


def test_share_reading_is_refused_with_reasons() -> None:
    with pytest.raises(ValueError, match="5/18") as err:
        cohort.reconstruct(reading="share")
    assert "5/32" in str(err.value) and "45" in str(err.value)
    den = cohort.insulin_share_denominators()
    assert not ((den["n"] == 45) | (den["n"] == 44)).any()


# --------------------------------------------------------------------------- contracts
def _eligible(data: dict[str, pd.DataFrame]) -> None:
    v = published.value
    adsl = data["ADSL"].set_index("USUBJID")
    assert adsl["AGE"].between(v("incl_age_min"), v("incl_age_max")).all()
    assert (adsl["AGE"] == adsl["AGE"].round()).all()
    assert adsl["BMI"].between(v("incl_bmi_min"), v("incl_bmi_max")).all()
    assert (adsl["DIABDUR"] > 0).all() and (
        adsl["DIABDUR"] <= v("incl_diabetes_duration_max")
    ).all()
    assert set(adsl["SEX"]) <= {"M", "F"}
    base = {
        code: df[(df["PARAMCD"] == code) & (df["AVISITN"] == 0)].set_index("USUBJID")["AVAL"]
        for code, df in (("HBA1C", data["ADLB"]), ("CPEP", data["ADLB"]), ("INSDOSE", data["ADEX"]))
    }
    for code, b in base.items():
        assert b.index.is_unique and set(b.index) == set(adsl.index), code
    assert base["HBA1C"].between(v("incl_hba1c_min"), v("incl_hba1c_max")).all()
    assert (base["CPEP"] >= v("incl_c_peptide_min")).all()
    per_kg = base["INSDOSE"] / adsl["WEIGHT"].reindex(base["INSDOSE"].index)
    assert per_kg.between(v("incl_insulin_dose_min"), v("incl_insulin_dose_max")).all()
    assert (data["ADEX"]["AVAL"] == data["ADEX"]["AVAL"].round()).all()  # whole units


def test_eligibility_ranges(
    canonical: dict[str, pd.DataFrame], members: list[dict[str, pd.DataFrame]]
) -> None:
    for data in [canonical, *members, cohort.simulate(seed=7), cohort.simulate(seed=8)]:
        _eligible(data)


def test_outputs_meet_the_schema(members: list[dict[str, pd.DataFrame]]) -> None:
    for data in [members[0], cohort.simulate(seed=9, dropout=0.3)]:
        schema.validate_all(data)
        for name in cohort.DATASETS:
            cols = set(data[name].columns)
            assert set(schema.columns(name, optional=False)) <= cols <= set(schema.columns(name))
            assert "SYNTHETIC" in cols
            assert data[name].attrs["synthetic"] is True
            assert data[name].attrs["provenance"].startswith("SYNTHETIC: trialkit.cohort.")
            assert (data[name]["SYNTHETIC"] == "Y").all()


def test_visit_days_and_dropouts(members: list[dict[str, pd.DataFrame]]) -> None:
    data = members[0]
    lab, adsl = data["ADLB"], data["ADSL"]
    base = lab[lab["AVISITN"] == 0]
    assert (base["ADY"] <= 1).all() and (base["ADY"] != 0).all()
    post = lab[lab["AVISITN"] > 0]
    assert ((post["ADY"] - (7 * post["AVISITN"] + 1)).abs() <= 3).all()
    # the 2 unanalysed placebo patients left early, with a reason, and have no week 48
    gone = adsl[adsl["FASFL"] == "N"]
    assert len(gone) == 2 and (gone["ARM"] == "Placebo").all() and (gone["DCSREAS"] != "").all()
    assert not lab[lab["USUBJID"].isin(gone["USUBJID"]) & (lab["AVISITN"] == 48)].size
    assert (adsl.loc[adsl["FASFL"] == "Y", "DCSREAS"] == "").all()
    ae = data["ADAE"]
    related = ae[ae["AREL"] == "RELATED"]
    assert not ((related["AESER"] == "Y") | (related["AESEV"] == "SEVERE")).any()
    assert (ae["TRTEMFL"] == np.where(ae["ASTDY"] >= 1, "Y", "N")).all()


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_other_data() -> None:
    a, b = cohort.reconstruct(seed=11), cohort.reconstruct(seed=11)
    assert _csv_bytes(a) == _csv_bytes(b)
    c = cohort.reconstruct(seed=12)
    assert _csv_bytes(a)["ADLB"] != _csv_bytes(c)["ADLB"]
    s1, s2, s3 = cohort.simulate(seed=3), cohort.simulate(seed=3), cohort.simulate(seed=4)
    assert _csv_bytes(s1) == _csv_bytes(s2)
    assert _csv_bytes(s1)["ADLB"] != _csv_bytes(s3)["ADLB"]


def test_ensemble_matches_and_is_deterministic_across_jobs() -> None:
    one = cohort.ensemble(6, seed=3, jobs=1, progress=False)
    two = cohort.ensemble(6, seed=3, jobs=2, progress=False)
    pd.testing.assert_frame_equal(one, two)
    assert one["all_matched"].all()
    assert list(one["member"]) == list(range(6))
    assert (one["responders_ucmsc"] == 9).all() and (one["responders_placebo"] == 2).all()
    assert one["hba1c_met_ucmsc"].nunique() > 1 or one["corr_change_pchg_ucmsc"].nunique() > 1
    # member i's datasets are those of SeedSequence(seed).spawn(k)[i]
    child = np.random.SeedSequence(3).spawn(6)[4]
    m4 = cohort.ensemble_member(4, seed=3)
    assert _csv_bytes(m4) == _csv_bytes(cohort.reconstruct(child))
    assert cohort.summary(m4) == one.iloc[4].drop(["member", "attempts", "all_matched"]).to_dict()


# --------------------------------------------------------------------------- ensemble as arrays
@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """25 members built one at a time through their datasets (the per-member path)."""
    return cohort.ensemble(25, seed=7, jobs=1, progress=False, vectorized=False, cache=False)


def test_vectorized_ensemble_equals_the_per_member_path(reference: pd.DataFrame) -> None:
    fast = cohort.ensemble(25, seed=7, jobs=1, progress=False, cache=False)
    pd.testing.assert_frame_equal(fast, reference, check_exact=True)
    assert (reference["attempts"] > 1).any()  # rejected draws are covered too
    assert reference["all_matched"].all()


@pytest.mark.parametrize("batch_size", [1, 4, 25, 500])
def test_ensemble_does_not_depend_on_the_batch_size(reference, batch_size) -> None:
    got = cohort.ensemble(25, seed=7, jobs=1, progress=False, cache=False, batch_size=batch_size)
    pd.testing.assert_frame_equal(got, reference, check_exact=True)


def test_ensemble_does_not_depend_on_processes_or_dask(reference) -> None:
    two = cohort.ensemble(25, seed=7, jobs=2, progress=False, cache=False, batch_size=6)
    pd.testing.assert_frame_equal(two, reference, check_exact=True)
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as c,
        Client(c) as client,
    ):
        on_dask = cohort.ensemble(
            25, seed=7, progress=False, cache=False, batch_size=5, scheduler=client
        )
    pd.testing.assert_frame_equal(on_dask, reference, check_exact=True)


def test_vectorized_equals_per_member_with_other_assumptions() -> None:
    params = {"rho_hba1c_insulin": 0.0, "hba1c_change_sd": 0.9}
    kw = dict(seed=2, jobs=1, progress=False, params=params, cache=False)
    fast = cohort.ensemble(8, batch_size=3, **kw)
    slow = cohort.ensemble(8, vectorized=False, **kw)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def test_batched_repair_steps_equal_the_one_member_steps() -> None:
    """Each batched repair returns, row by row, what the one-member function returns
    (including giving up), with the same draws from each row's generator."""
    rng = np.random.default_rng(0)
    m, n = 40, 45
    x = rng.integers(70, 110, (m, n)).astype(float)
    lo, hi = np.full((m, n), 60), np.full((m, n), 120)
    hi[:3] = x[:3].astype(int)  # rows that can only go down: some cannot reach the mean
    for sd in (11.0, None):
        gens = [np.random.default_rng(i) for i in range(m)]
        got, ok = ens._repair_moments_many(x, lo, hi, 90.2, sd, 0.04, 0.04, gens)
        for r in range(m):
            g = np.random.default_rng(r)
            one = rec._repair_moments(x[r], lo[r], hi[r], 90.2, sd, 0.04, 0.04, g)
            assert (one is None) == (not ok[r])
            assert one is None or (one == got[r]).all()
            assert gens[r].random() == g.random()  # the same number of draws
    base = rng.integers(20, 60, (m, n))
    w = np.round(base * rng.uniform(0.5, 0.9, (m, n)))
    lo_w, hi_w = np.zeros((m, n)), base.astype(float)
    gens = [np.random.default_rng(i) for i in range(m)]
    got, ok = ens._repair_ratio_mean_many(w, base, lo_w, hi_w, -27.78, 0.004, gens)
    for r in range(m):
        g = np.random.default_rng(r)
        one = rec._repair_ratio_mean(w[r], base[r], lo_w[r], hi_w[r], -27.78, 0.004, g)
        assert (one is None) == (not ok[r]) and (one is None or (one == got[r]).all())
        assert gens[r].random() == g.random()


def test_summary_matches_scipy_and_statsmodels(canonical) -> None:
    """The row-wise t-tests, correlations and ANCOVA of summary() against scipy and
    statsmodels on the canonical data and on a simulated trial with dropouts."""
    import statsmodels.formula.api as smf
    from scipy import stats as sps

    for data in (canonical, cohort.simulate(seed=5, dropout=0.2)):
        got = cohort.summary(data)
        a = compare._analysis(data)
        for arm, k in KEY.items():
            x = a[arm]
            ok = ~np.isnan(x["hba1c_w48"]) & ~np.isnan(x["pchg"])
            ch = x["hba1c_w48"][ok] - x["hba1c_base"][ok]
            assert got[f"p_hba1c_paired_{k}"] == pytest.approx(
                sps.ttest_1samp(ch, 0).pvalue, rel=1e-9
            )
            assert got[f"corr_change_pchg_{k}"] == pytest.approx(
                np.corrcoef(ch, x["pchg"][ok])[0, 1], rel=1e-12
            )
            assert got[f"mean_hba1c_change_{k}"] == pytest.approx(ch.mean(), rel=1e-12)
            assert got[f"sd_hba1c_change_{k}"] == pytest.approx(ch.std(ddof=1), rel=1e-12)
        uc, pl = a["UC-MSC"], a["Placebo"]

        def nz(v):
            return v[~np.isnan(v)]

        assert got["p_insulin_welch"] == pytest.approx(
            sps.ttest_ind(nz(uc["pchg"]), nz(pl["pchg"]), equal_var=False).pvalue, rel=1e-9
        )
        assert got["p_hba1c_w48_t"] == pytest.approx(
            sps.ttest_ind(nz(uc["hba1c_w48"]), nz(pl["hba1c_w48"])).pvalue, rel=1e-9
        )
        df = pd.DataFrame(
            {
                "base": np.r_[uc["hba1c_base"], pl["hba1c_base"]],
                "end": np.r_[uc["hba1c_w48"], pl["hba1c_w48"]],
                "arm": np.r_[np.ones(len(uc["hba1c_base"])), np.zeros(len(pl["hba1c_base"]))],
            }
        ).dropna()
        fit = smf.ols("end ~ base + arm", df).fit()
        assert got["p_hba1c_ancova"] == pytest.approx(fit.pvalues["arm"], rel=1e-8)


def test_ensemble_change_columns_equal_the_derived_week48_change() -> None:
    """mean/sd_hba1c_change_* are what notebook 10 derives from each member's datasets
    (derive.derive_adlb, week-48 CHG of the analysed patients), so it can read them from
    the cached ensemble of notebook 03 instead of rebuilding every member."""
    rows = cohort.ensemble(3, seed=0, progress=False)
    for i in range(3):
        member = cohort.ensemble_member(i, 0)
        lab = derive.derive_adlb(member["ADLB"])
        fas = member["ADSL"].loc[member["ADSL"]["FASFL"] == "Y", ["USUBJID", "ARM"]]
        w48 = lab.query("PARAMCD == 'HBA1C' and AVISITN == 48 and ANL01FL == 'Y'")
        s = w48.merge(fas, on="USUBJID").groupby("ARM")["CHG"].agg(["mean", "std"])
        for arm, k in KEY.items():
            assert rows.loc[i, f"mean_hba1c_change_{k}"] == pytest.approx(
                s.loc[arm, "mean"], rel=1e-12
            )
            assert rows.loc[i, f"sd_hba1c_change_{k}"] == pytest.approx(
                s.loc[arm, "std"], rel=1e-12
            )


def test_ensemble_cache_gives_back_what_it_stored(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ens.ENV_CACHE, str(tmp_path))
    first = cohort.ensemble(12, seed=4, progress=False)
    assert len(list(tmp_path.glob("ensemble-seed4-*.csv"))) == 1
    asked: list[range] = []
    real = ens._compute

    def spy(seed, members, *args, **kwargs):
        asked.append(members)
        return real(seed, members, *args, **kwargs)

    monkeypatch.setattr(ens, "_compute", spy)
    again = cohort.ensemble(12, seed=4, progress=False)
    fewer = cohort.ensemble(5, seed=4, progress=False)
    assert asked == []  # read, not recomputed
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    pd.testing.assert_frame_equal(fewer, first.iloc[:5], check_exact=True)
    more = cohort.ensemble(15, seed=4, progress=False)
    assert asked == [range(12, 15)]  # only the missing members
    fresh = cohort.ensemble(15, seed=4, progress=False, cache=False)
    pd.testing.assert_frame_equal(more, fresh, check_exact=True)
    cohort.ensemble(3, seed=4, progress=False, params={"rho_hba1c_insulin": 0.1})
    assert len(asked) == 3  # other assumptions, another key
    monkeypatch.setenv(ens.ENV_CACHE, "off")
    assert ens.cache_dir() is None


# --------------------------------------------------------------------------- simulate
def test_simulate_arguments() -> None:
    data = cohort.simulate(n_per_arm=(10, 12), seed=1, dropout=0.0)
    assert data["ADSL"]["ARM"].value_counts().to_dict() == {"Placebo": 12, "UC-MSC": 10}
    assert (data["ADSL"]["FASFL"] == "Y").all() and (data["ADSL"]["DCSREAS"] == "").all()
    leaky = cohort.simulate(seed=1, dropout=0.5)
    out = leaky["ADSL"][leaky["ADSL"]["FASFL"] == "N"]
    assert len(out) > 20 and (out["DCSREAS"] != "").all()
    w48 = leaky["ADLB"][leaky["ADLB"]["AVISITN"] == 48]["USUBJID"]
    assert not w48.isin(out["USUBJID"]).any()
    with pytest.raises(ValueError, match="n_per_arm"):
        cohort.simulate(n_per_arm=(10,))
    with pytest.raises(ValueError, match="dropout"):
        cohort.simulate(dropout=1.5)
    with pytest.raises(cohort.AssumptionError, match="unknown assumption 'nope'"):
        cohort.simulate(params={"nope": 1})
    with pytest.raises(cohort.AssumptionError, match="rho_hba1c_insulin"):
        cohort.simulate(params={"rho_hba1c_insulin": 2.0})


def test_simulate_endpoints_is_simulate_vectorized() -> None:
    for seed in (0, 5):
        ends = cohort.simulate_endpoints(1, seed=seed).set_index("arm")
        data = cohort.simulate(seed=seed)
        adsl = data["ADSL"]
        resp = derive.responders(
            adsl, derive.derive_adlb(data["ADLB"]), derive.derive_adex(data["ADEX"])
        )
        for arm, (x, n) in derive.responder_counts(resp).items():
            assert (ends.loc[arm, "responders"], ends.loc[arm, "analysed"]) == (x, n)


def test_effect_zero_gives_alike_arms_and_effect_one_the_published_rates() -> None:
    null = cohort.simulate_endpoints(3000, seed=1, effect=0.0)
    rates = null.groupby("arm")[["responders", "analysed"]].sum()
    r = rates["responders"] / rates["analysed"]
    assert abs(r["UC-MSC"] - r["Placebo"]) < 0.01
    means = null.groupby("arm")[["mean_hba1c_change", "mean_insulin_pchg"]].mean()
    assert (
        abs(means.loc["UC-MSC", "mean_hba1c_change"] - means.loc["Placebo", "mean_hba1c_change"])
        < 0.03
    )
    assert (
        abs(means.loc["UC-MSC", "mean_insulin_pchg"] - means.loc["Placebo", "mean_insulin_pchg"])
        < 1.0
    )
    alt = cohort.simulate_endpoints(3000, seed=2, effect=1.0)
    rates = alt.groupby("arm")[["responders", "analysed"]].sum()
    r = rates["responders"] / rates["analysed"]
    assert 0.17 < r["UC-MSC"] < 0.23 and 0.03 < r["Placebo"] < 0.06
    assert (alt["SYNTHETIC"] == "Y").all() and alt.attrs["synthetic"] is True


# --------------------------------------------------------------------------- assumptions
def test_assumptions_file_is_complete_and_checked(tmp_path: Path) -> None:
    a = cohort.assumptions()
    assert {"visit_weeks", "rho_hba1c_insulin", "insulin_reading", "adverse_events"} <= set(a)
    for item in a.values():
        assert item.reason and item.unit and isinstance(item.parameter, bool)
    assert a["visit_weeks"].value == list(schema.VISITS)
    assert a["infusion_weeks"].value == list(schema.INFUSION_WEEKS)
    table = cohort.assumption_table()
    assert table.index.is_unique and len(table) == len(a)
    a["visit_weeks"].value.append(60)  # a copy: the next call is unchanged
    assert cohort.assumptions()["visit_weeks"].value[-1] == 48

    text = cohort.ASSUMPTIONS_PATH.read_text()
    broken = tmp_path / "assumptions.yaml"
    broken.write_text(text.replace("value: 0.85", "value: 1.85"))
    with pytest.raises(cohort.AssumptionError, match="rho_hba1c_insulin"):
        cohort.assumptions(broken)
    broken.write_text(text.replace("  sex_male_fraction:", "  sex_male_fractio:"))
    with pytest.raises(cohort.AssumptionError, match="sex_male_fraction"):
        cohort.assumptions(broken)


# --------------------------------------------------------------------------- load
BYOD = ROOT / "tests" / "fixtures" / "byod"


def test_load_default_is_the_canonical_synthetic_data(canonical) -> None:
    data = cohort.load()
    assert list(data) == ["ADSL", "ADLB", "ADEX", "ADAE"]
    for name, df in data.items():
        assert df.attrs["synthetic"] is True, name
        assert (df["SYNTHETIC"] == "Y").all(), name
        assert "data/synthetic" in df.attrs["provenance"].replace("\\", "/"), name
        pd.testing.assert_frame_equal(df, canonical[name])
    assert len(data["ADSL"]) == 91  # 45 + 46 randomized, the paper


def test_load_folder_is_the_analysts_data_validated() -> None:
    data = cohort.load(str(BYOD))
    raw = pd.read_csv(BYOD / "ADSL.csv", dtype=str, keep_default_na=False)
    assert list(data["ADSL"]["USUBJID"]) == list(raw["USUBJID"])  # "0101" stays text
    assert data["ADSL"]["USUBJID"].iloc[0] == "0101"
    for name, df in data.items():
        assert df.attrs["synthetic"] is False, name
        assert "SYNTHETIC" not in df.columns
    assert len(data["ADLB"]) == len(pd.read_csv(BYOD / "ADLB.csv"))
    assert cohort.load(BYOD)["ADEX"].equals(data["ADEX"])  # a Path works too


def test_load_refuses_broken_folders_and_bad_arguments(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(BYOD, tmp_path / "d")
    (tmp_path / "d" / "ADEX.csv").unlink()
    with pytest.raises(schema.DatasetError, match="ADEX.csv is missing"):
        cohort.load(str(tmp_path / "d"))
    with pytest.raises(ValueError, match="not a folder"):
        cohort.load(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="data_dir"):
        cohort.load(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- provenance
def test_a_written_folder_says_how_its_patients_were_made(tmp_path: Path) -> None:
    """Both kinds carry SYNTHETIC = "Y"; provenance.json tells them apart on reading."""
    from trialkit import text

    sim, rec_ = tmp_path / "sim", tmp_path / "rec"
    cohort.write_csvs(cohort.simulate(seed=5), sim)
    cohort.write_csvs(cohort.reconstruct(seed=3), rec_)
    for folder, kind in ((sim, "simulated"), (rec_, "reconstructed"), (CANONICAL, "reconstructed")):
        data = cohort.load(str(folder))
        assert json.loads((folder / "provenance.json").read_text())["kind"] == kind
        for name, df in data.items():
            assert text.provenance_of(df) == kind, (folder.name, name)
            assert df.attrs["synthetic"] is True
    assert text.provenance_of(cohort.load(str(BYOD))["ADSL"]) is None  # real patients


def _marked_copy(tmp_path: Path, change: str) -> Path:
    """A data folder with one fault of its provenance: a simulated trial's folder changed,
    or the analyst's real patients with a provenance.json beside them."""
    folder = tmp_path / change
    if change == "marker on real data":
        shutil.copytree(BYOD, folder)
        (folder / "provenance.json").write_text('{"kind": "simulated"}')
        return folder
    cohort.write_csvs(cohort.simulate(seed=5), folder)
    if change == "no marker":
        (folder / "provenance.json").unlink()
    elif change == "bad kind":
        (folder / "provenance.json").write_text('{"kind": "published"}')
    elif change == "not json":
        (folder / "provenance.json").write_text("simulated")
    elif change == "mixed marks":
        lb = pd.read_csv(folder / "ADLB.csv", dtype=str, keep_default_na=False)
        lb.drop(columns="SYNTHETIC").to_csv(folder / "ADLB.csv", index=False)
    return folder


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no marker", 'marked SYNTHETIC = "Y", but provenance.json, which says how'),
        ("bad kind", '"kind" is \'published\' in provenance.json; expected "reconstructed"'),
        ("not json", 'provenance.json is not a JSON object with a "kind"'),
        ("mixed marks", 'ADSL.csv, ADEX.csv, ADAE.csv mark every row SYNTHETIC = "Y" but ADLB.csv'),
        ("marker on real data", "says the patients are synthetic, but no table has"),
    ],
)
def test_a_folder_that_does_not_say_what_its_patients_are_is_refused_before_any_work(
    tmp_path: Path, change: str, message: str
) -> None:
    from trialkit import params

    folder = _marked_copy(tmp_path, change)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(schema.DatasetError) as err:
        cohort.load(str(folder))
    assert message in str(err.value) and str(folder) in str(err.value)
    with pytest.raises(params.ParameterError, match="data_dir") as err:  # the runner's pre-flight
        params.validate("05_primary_endpoint", {"data_dir": str(folder)})
    assert message in str(err.value)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # only read


def test_write_csvs_refuses_synthetic_data_of_unknown_kind(tmp_path: Path) -> None:
    data = cohort.simulate(seed=5)
    for df in data.values():
        df.attrs.clear()
    with pytest.raises(ValueError, match="provenance is None"):
        cohort.write_csvs(data, tmp_path / "x")
    assert not (tmp_path / "x").exists()  # refused before writing anything
