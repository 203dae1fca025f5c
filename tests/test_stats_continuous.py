"""trialkit.stats.continuous against outside references.

- MMRM (unstructured, REML, Satterthwaite) and the compound-symmetry model: R's
  nlme::gls + emmeans on four data sets (fev_data from the mmrm R package; three SYNTHETIC
  data sets from data/synthetic, one with visits removed on purpose and a subject with only
  a baseline value), stored in tests/fixtures/mmrm with the script that made them
  (make_r_fixtures.R; see README.md there for the tolerances and why).
- the random-intercept model: R's nlme::lme (tests/fixtures/mixed, make_r_fixtures.R).
- the exact gradient and Hessian of the REML criterion: central differences.
- t-tests and ANCOVA at week 48: R's t.test and lm (same fixtures).
- GEE with an independence working correlation: OLS and the cluster-robust sandwich
  written out below with numpy.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from trialkit import derive, schema
from trialkit.stats import continuous as C

HERE = Path(__file__).resolve().parent
MMRM = HERE / "fixtures" / "mmrm"
MIXED = HERE / "fixtures" / "mixed"
POST = [4, 8, 12, 24, 36, 48]


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(MMRM / name, keep_default_na=name == "fev_data.csv")


#: dataset -> (input file, keyword arguments of the trialkit call)
DATASETS = {
    "fev": (
        "fev_data.csv",
        dict(
            outcome="FEV1", covariates=("FEV1_BL",), visit="AVISIT", arm="ARMCD",
            treatment="TRT", reference="PBO",
        ),
    ),
    "hba1c_canonical": ("hba1c_canonical.csv", dict(visits=POST)),
    "hba1c_gaps": ("hba1c_gaps.csv", dict(visits=POST)),
    "insdose_canonical": ("insdose_canonical.csv", dict(visits=POST)),
}  # fmt: skip


@pytest.fixture(scope="module")
def r() -> dict[str, pd.DataFrame]:
    names = ["fit", "covariance", "lsmeans", "contrasts", "week48", "compound_symmetry"]
    return {n: pd.read_csv(MMRM / f"r_{n}.csv") for n in names}


@pytest.fixture(scope="module")
def fits() -> dict[str, C.RepeatedMeasuresFit]:
    out = {}
    for name, (file, kw) in DATASETS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", C.ConvergenceWarning)
            out[name] = C.mmrm(_read(file), **kw)
    return out


def _rows(r: pd.DataFrame, name: str) -> pd.DataFrame:
    return r[r["dataset"] == name].reset_index(drop=True)


# --------------------------------------------------------------------------- inputs
def test_fixture_inputs_are_what_data_synthetic_gives():
    """The SYNTHETIC inputs of the R fixtures are still those of data/synthetic (else
    re-run make_inputs.py and make_r_fixtures.R)."""
    spec = importlib.util.spec_from_file_location("make_inputs", MMRM / "make_inputs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    hba1c = mod.long_table("ADLB", "HBA1C")
    for made, file in (
        (hba1c, "hba1c_canonical.csv"),
        (mod.long_table("ADEX", "INSDOSE"), "insdose_canonical.csv"),
        (mod.with_gaps(hba1c), "hba1c_gaps.csv"),
    ):
        stored = _read(file)
        pd.testing.assert_frame_equal(
            made.reset_index(drop=True), stored, check_dtype=False, check_exact=False, rtol=1e-12
        )


# --------------------------------------------------------------------------- MMRM vs R
@pytest.mark.parametrize("name", list(DATASETS))
def test_mmrm_differences_match_nlme_emmeans(fits, r, name):
    fit = fits[name]
    got = fit.differences
    ref = _rows(r["contrasts"], name)
    assert [str(v) for v in got["visit"]] == list(ref["visit"].astype(str))
    # estimates and SEs: 1e-4 relative (measured: <= 1e-6 and <= 8e-6)
    np.testing.assert_allclose(got["diff"], ref["estimate"], rtol=1e-4)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-4)
    np.testing.assert_allclose(got["t"], ref["t"], rtol=1e-4)
    # Satterthwaite df: against nlme's REML likelihood differentiated by numDeriv
    # (df_hessian), 1e-4 relative (measured <= 1.6e-5); against emmeans' own df, whose
    # apVar comes from nlme's fdHess, 1e-2 (measured <= 7.4e-3); against the simulation
    # based appx-satterthwaite, 3e-2 (measured <= 1.9e-2). See fixtures/mmrm/README.md.
    np.testing.assert_allclose(got["df"], ref["df_hessian"], rtol=1e-4)
    np.testing.assert_allclose(got["df"], ref["df"], rtol=1e-2)
    np.testing.assert_allclose(got["df"], ref["df_appx"], rtol=3e-2)
    np.testing.assert_allclose(got["p"], ref["p"], rtol=2e-2)
    # p and CI with R's estimate, SE and the accurate df (emmeans' own move with its df)
    q = sps.t.isf(0.025, ref["df_hessian"])
    np.testing.assert_allclose(got["p"], 2 * sps.t.sf(abs(ref["t"]), ref["df_hessian"]), rtol=1e-3)
    np.testing.assert_allclose(got["low"], ref["estimate"] - q * ref["se"], rtol=1e-4)
    np.testing.assert_allclose(got["high"], ref["estimate"] + q * ref["se"], rtol=1e-4)
    np.testing.assert_allclose(got["low"], ref["lower"], rtol=1e-3)


@pytest.mark.parametrize("name", list(DATASETS))
def test_mmrm_lsmeans_covariance_and_loglik_match_nlme(fits, r, name):
    fit = fits[name]
    ref = _rows(r["lsmeans"], name)
    got = fit.lsmeans.assign(visit=fit.lsmeans["visit"].astype(str))
    merged = got.merge(ref.assign(visit=ref["visit"].astype(str)), on=["arm", "visit"])
    assert len(merged) == len(got) == len(ref)
    np.testing.assert_allclose(merged["estimate_x"], merged["estimate_y"], rtol=1e-4)
    np.testing.assert_allclose(merged["se_x"], merged["se_y"], rtol=1e-4)
    np.testing.assert_allclose(merged["df_x"], merged["df_y"], rtol=1e-2)

    cov = _rows(r["covariance"], name).pivot(index="row", columns="col", values="covariance")
    labels = [str(v) for v in fit.visits]
    cov = cov.loc[labels, labels].to_numpy()
    np.testing.assert_allclose(fit.covariance.to_numpy(), cov, rtol=1e-4)  # measured 2e-5

    f = _rows(r["fit"], name).iloc[0]
    assert fit.loglik == pytest.approx(f["loglik_nlme"], abs=1e-6)  # measured 1e-8
    assert fit.loglik == pytest.approx(f["loglik_reml"], abs=1e-6)
    assert (fit.n_subjects, fit.n_obs) == (f["n_subjects"], f["n_obs"])
    assert fit.extra["covariate_means"] == pytest.approx(
        {DATASETS[name][1].get("covariates", ("BASE",))[0]: f["covariate_mean"]}, rel=1e-12
    )
    assert fit.converged and fit.message == "converged"


def test_mmrm_reports_subjects_without_data(fits):
    # fev_data: three subjects have FEV1 missing at every visit
    fev = _read("fev_data.csv")
    none = fev.groupby("USUBJID")["FEV1"].apply(lambda s: s.isna().all())
    assert set(fits["fev"].dropped) == set(none[none].index) and len(none[none]) == 3
    # hba1c_gaps: SYN-003 has only its baseline row
    assert fits["hba1c_gaps"].dropped == ("SYN-003",)
    assert "1 subject(s) without data" in fits["hba1c_gaps"].note
    assert fits["hba1c_canonical"].dropped == ()


def test_mmrm_does_not_depend_on_row_order_or_scale(fits):
    """Shuffled rows give the same fit (nlme sorts by subject; emmeans 1.8.4's analytic
    Satterthwaite does not, see the README); outcome x 10 scales estimates and SEs by 10,
    leaves df alone, and shifts the REML log-likelihood by -(N - p) log 10."""
    file, kw = DATASETS["fev"]
    data = _read(file).sample(frac=1, random_state=1)
    shuffled = C.mmrm(data, **kw)
    base = fits["fev"]
    pd.testing.assert_frame_equal(shuffled.differences, base.differences, rtol=1e-6)
    scaled = C.mmrm(data.assign(FEV1=10 * data["FEV1"]), **kw)
    np.testing.assert_allclose(scaled.differences["diff"], 10 * base.differences["diff"], rtol=1e-6)
    np.testing.assert_allclose(scaled.differences["se"], 10 * base.differences["se"], rtol=1e-6)
    np.testing.assert_allclose(scaled.differences["df"], base.differences["df"], rtol=1e-5)
    n, p = base.n_obs, base.extra["n_parameters"][0]
    assert scaled.loglik == pytest.approx(base.loglik - (n - p) * math.log(10), abs=1e-6)


# --------------------------------------------------------------------------- one visit vs R
@pytest.mark.parametrize(
    "name,param", [("hba1c_canonical", "HBA1C"), ("insdose_canonical", "INSDOSE")]
)
def test_ttest_and_ancova_match_r(r, name, param):
    data = _read(f"{name}.csv")
    ref = _rows(r["week48"], name).set_index(["method", "on"])
    got = {
        ("ancova", "CHG"): C.ancova(data, param=param, on="CHG"),
        ("ancova", "AVAL"): C.ancova(data, param=param, on="AVAL"),
        ("student", "CHG"): C.ttest_week(data, param=param, on="CHG"),
        ("student", "AVAL"): C.ttest_week(data, param=param, on="AVAL"),
        ("welch", "CHG"): C.ttest_week(data, param=param, on="CHG", equal_var=False),
        ("welch", "AVAL"): C.ttest_week(data, param=param, on="AVAL", equal_var=False),
    }
    for key, res in got.items():
        row = ref.loc[key]
        d = res.as_dict()
        assert [d["diff"], d["se"], d["df"], d["t"], d["p"], *d["ci"]] == pytest.approx(
            [row.estimate, row.se, row.df, row.statistic, row.p, row.lower, row.upper],
            rel=1e-9,
        ), key
        assert d["n"] == [row.n_trt, row.n_ref]
    # with the baseline as covariate, CHG and AVAL give the same arm difference
    assert got[("ancova", "CHG")].estimate == pytest.approx(got[("ancova", "AVAL")].estimate)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # placebo: -0.7, -0.7
def test_one_visit_functions_use_analysis_records_of_one_parameter():
    data = schema.read(HERE / "fixtures" / "byod")
    adlb = derive.derive_adlb(data["ADLB"]).merge(data["ADSL"][["USUBJID", "ARM"]])
    res = C.ttest_week(adlb, param="HBA1C", visit=48)
    # byod: HbA1c changes at week 48, UC-MSC 0101 -2.2, 0105 -2.7; placebo 0102 -0.7,
    # 0104 -0.7 (0103 and 0106 missed week 48); pooled SD sqrt(0.125 / 2) = 0.25
    assert res.estimate == pytest.approx(-2.45 + 0.7)
    assert res.se == pytest.approx(0.25 * math.sqrt(1 / 2 + 1 / 2))
    assert res.n == (2, 2) and res.df == 2
    with pytest.raises(ValueError, match="param 'HBA1' is not in PARAMCD"):
        C.ttest_week(adlb, param="HBA1")
    with pytest.raises(ValueError, match="visit 47 is not in AVISITN"):
        C.ancova(adlb, visit=47)
    with pytest.raises(ValueError, match="merge the arm from ADSL"):
        C.ttest_week(derive.derive_adlb(data["ADLB"]))
    with pytest.raises(ValueError, match="on must be one of"):
        C.ttest_week(adlb, on="BASE")
    # percent change: the same two-sample t-test as scipy's on the PCHG values
    wk = adlb[(adlb.PARAMCD == "HBA1C") & (adlb.AVISITN == 48) & (adlb.ANL01FL == "Y")]
    ref = sps.ttest_ind(wk.loc[wk.ARM == "UC-MSC", "PCHG"], wk.loc[wk.ARM == "Placebo", "PCHG"])
    pct = C.ttest_week(adlb, on="PCHG")
    assert pct.statistic == pytest.approx(ref.statistic) and pct.p == pytest.approx(ref.pvalue)
    assert "percent change" in pct.measure


# --------------------------------------------------------------------------- other models
@pytest.mark.parametrize("name", ["fev", "hba1c_gaps"])
def test_random_intercept_matches_nlme_compound_symmetry(r, name):
    """A random intercept is compound symmetry (with a positive correlation): nlme's
    gls(correlation = corCompSymm) gives the same REML fit."""
    file, kw = DATASETS[name]
    fit = C.mixed_random_intercept(_read(file), **kw)
    ref = _rows(r["compound_symmetry"], name)
    np.testing.assert_allclose(fit.differences["diff"], ref["estimate"], rtol=1e-4)
    np.testing.assert_allclose(fit.differences["se"], ref["se"], rtol=1e-3)
    S = fit.covariance.to_numpy()
    assert S[0, 0] == pytest.approx(ref["total_variance"].iloc[0], rel=1e-3)
    assert S[0, 1] == pytest.approx(ref["between_subject_variance"].iloc[0], rel=1e-3)
    assert fit.loglik == pytest.approx(ref["loglik_nlme"].iloc[0], abs=1e-5)  # same convention
    assert np.isinf(fit.differences["df"]).all()


@pytest.mark.parametrize("name", ["fev", "hba1c_canonical", "hba1c_gaps"])
def test_random_intercept_matches_nlme_lme(name):
    """The random-intercept model at the REML optimum, against R's nlme::lme with tight
    tolerances (tests/fixtures/mixed/make_r_fixtures.R): differences, LS-means, their SEs,
    tau^2, sigma^2 and the REML log-likelihood. Measured: estimates and SEs <= 1.2e-7
    relative, variances <= 4.9e-6 (fev_data: the likelihood is flat in tau^2 there, and
    trialkit's log-likelihood is 1.8e-10 *above* R's), log-likelihood <= 1.8e-10."""
    file, kw = DATASETS[name]
    fit = C.mixed_random_intercept(_read(file), **kw)
    ref_fit = pd.read_csv(MIXED / "r_lme_fit.csv").set_index("dataset").loc[name]
    ref = pd.read_csv(MIXED / "r_lme_contrasts.csv").query("dataset == @name")
    assert fit.converged and fit.message == "converged"
    assert [str(v) for v in fit.visits] == [str(v) for v in ref["visit"]]
    np.testing.assert_allclose(fit.differences["diff"], ref["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fit.differences["se"], ref["se"], rtol=1e-6)
    ls = fit.lsmeans
    for arm, col in (
        (kw.get("reference", "Placebo"), "reference"),
        (kw.get("treatment", "UC-MSC"), "treatment"),
    ):
        rows = ls[ls["arm"] == arm]
        np.testing.assert_allclose(rows["estimate"], ref[f"lsmean_{col}"], rtol=1e-6)
        np.testing.assert_allclose(rows["se"], ref[f"lsmean_{col}_se"], rtol=1e-6)
    assert fit.extra["tau2"] == pytest.approx(ref_fit["tau2"], rel=2e-5)
    assert fit.extra["sigma2"] == pytest.approx(ref_fit["sigma2"], rel=2e-5)
    S = fit.covariance.to_numpy()
    assert S[0, 1] == pytest.approx(ref_fit["tau2"], rel=2e-5)
    assert fit.loglik == pytest.approx(ref_fit["loglik"], abs=1e-8)
    assert fit.loglik >= ref_fit["loglik"] - 1e-9  # at the optimum, not short of it
    assert (fit.n_subjects, fit.n_obs) == (ref_fit["n_subjects"], ref_fit["n_obs"])


@pytest.mark.parametrize("structure", ["unstructured", "compound symmetry"])
@pytest.mark.parametrize("name", ["fev", "hba1c_gaps"])
def test_reml_gradient_and_hessian_are_exact(name, structure):
    """The analytic gradient and Hessian of -2 log L_R agree with central differences
    (of the criterion, and of the analytic gradient) away from the optimum and at it."""
    file, kw = DATASETS[name]
    kw = {"outcome": "CHG", "visit": "AVISITN", "arm": "ARM", "covariates": ("BASE",),
          "visits": None, "treatment": "UC-MSC", "reference": "Placebo", **kw}  # fmt: skip
    d = C._design(
        _read(file), kw["outcome"], "USUBJID", kw["visit"], kw["arm"], kw["covariates"],
        kw["visits"], kw["treatment"], kw["reference"], True,
    )  # fmt: skip
    eng = C._Reml(d, structure)
    start = C._start(d, eng)
    optimum, *_ = eng.fit(start, 1e-6, 1000)
    for theta in (start + 0.05, optimum):
        r = eng.evaluate(theta, order=2)
        h = 1e-5
        num = np.array(
            [
                (eng.evaluate(theta + e, 0)["value"] - eng.evaluate(theta - e, 0)["value"])
                / (2 * h)
                for e in np.eye(len(theta)) * h
            ]
        )
        scale = max(1.0, np.max(np.abs(num)))
        assert np.max(np.abs(r["grad"] - num)) < 1e-6 * scale
        H = eng.hessian_numeric(theta, 1e-5)
        assert np.max(np.abs(r["hess"] - H)) < 1e-6 * np.max(np.abs(H))


def test_gee_independence_is_ols_with_a_cluster_sandwich():
    data = _read("hba1c_gaps.csv")
    fit = C.gee(data, visits=POST, working="independence")
    rows = data[data["AVISITN"] > 0].sort_values(["USUBJID", "AVISITN"])
    # OLS on the cell-means design, written out
    v = rows["AVISITN"].to_numpy()
    trt = (rows["ARM"] == "UC-MSC").to_numpy()
    base = rows["BASE"].to_numpy() - rows["BASE"].mean()
    X = np.column_stack(
        [(~trt) & (v == w) for w in POST] + [trt & (v == w) for w in POST]
        + [base * (v == w) for w in POST]
    ).astype(float)  # fmt: skip
    y = rows["CHG"].to_numpy()
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    res = y - X @ beta
    meat = np.zeros_like(bread)
    for s in rows["USUBJID"].unique():
        m = (rows["USUBJID"] == s).to_numpy()
        g = X[m].T @ res[m]
        meat += np.outer(g, g)
    V = bread @ meat @ bread
    k = len(POST)
    diff = beta[k : 2 * k] - beta[:k]
    se = np.sqrt([V[k + j, k + j] + V[j, j] - 2 * V[j, k + j] for j in range(k)])
    np.testing.assert_allclose(fit.differences["diff"], diff, rtol=1e-8)
    np.testing.assert_allclose(fit.differences["se"], se, rtol=1e-6)
    np.testing.assert_allclose(fit.lsmeans["estimate"], beta[: 2 * k], rtol=1e-8)


# --------------------------------------------------------------------------- behaviour
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_non_convergence_is_flagged_with_a_warning():
    """The hand-written byod folder: 6 subjects, 15 post-baseline HbA1c values, 9 mean
    and 6 covariance parameters; REML runs to the boundary."""
    data = schema.read(HERE / "fixtures" / "byod")
    adlb = derive.derive_adlb(data["ADLB"]).merge(data["ADSL"][["USUBJID", "ARM"]])
    hba1c = adlb[(adlb["PARAMCD"] == "HBA1C") & (adlb["ANL01FL"] == "Y")]
    with pytest.warns(C.ConvergenceWarning, match="must not be reported"):
        fit = C.mmrm(hba1c, visits=[12, 24, 48])
    assert not fit.converged and "Hessian" in fit.message
    assert fit.differences["df"].isna().all()
    assert "NOT CONVERGED" in str(fit) and "NOT CONVERGED" in fit.at(48).note
    assert fit.as_dict()["converged"] is False
    with pytest.warns(C.ConvergenceWarning):
        g = C.gee(hba1c, visits=[12, 24, 48])
    assert not g.converged and g.differences["diff"].isna().all()


def test_clear_errors_name_the_argument():
    data = _read("hba1c_canonical.csv")
    with pytest.raises(ValueError, match="constant at visit 0"):
        C.mmrm(data)  # baseline rows: CHG is 0 there
    with pytest.raises(ValueError, match="no column"):
        C.mmrm(data, visits=POST, covariates=("WEIGHT",))
    with pytest.raises(ValueError, match="treatment 'UC-MSCs' is not a value"):
        C.mmrm(data, visits=POST, treatment="UC-MSCs")
    with pytest.raises(ValueError, match="values other than"):
        C.mmrm(data.assign(ARM=data["ARM"].where(data["USUBJID"] != "SYN-001", "X")), visits=POST)
    with pytest.raises(ValueError, match="more than one row per subject and visit"):
        C.mmrm(pd.concat([data, data.head(3)]), visits=POST)
    with pytest.raises(ValueError, match=r"visits \[5\] are not values"):
        C.mmrm(data, visits=[5])
    with pytest.raises(ValueError, match="no data for arm x visit"):
        C.mmrm(data[~((data["ARM"] == "UC-MSC") & (data["AVISITN"] == 48))], visits=POST)
    with pytest.raises(ValueError, match="alpha must be in"):
        C.mmrm(data, visits=POST, alpha=1.5)
    with pytest.raises(ValueError, match="tol must be a positive number"):
        C.mmrm(data, visits=POST, tol=0)
    with pytest.raises(ValueError, match="working must be one of"):
        C.gee(data, visits=POST, working="ar1")


def test_results_print_and_turn_into_plain_python(fits):
    fit = fits["hba1c_canonical"]
    d48 = fit.at(48)
    assert isinstance(d48, C.ArmDifference) and d48.diff == d48.estimate
    rec = d48.as_dict()
    assert {"diff", "se", "df", "p", "ci"} <= set(rec) and rec["visit"] == 48
    assert rec["n"] == [45, 44] and len(rec["ci"]) == 2
    assert "visit 48" in str(d48) and "df 88" in str(d48)
    whole = fit.as_dict()
    assert list(whole["differences"]) == [str(v) for v in POST]
    assert whole["differences"]["48"] == rec
    # synthetic input -> synthetic tables
    assert fit.synthetic and fit.lsmeans.attrs["synthetic"] and fit.differences.attrs["synthetic"]
    assert not fits["fev"].synthetic
    np.testing.assert_allclose(np.diag(fit.correlation), 1)
    with pytest.raises(ValueError, match="visit must be one of"):
        fit.at(50)


def test_models_do_not_load_the_statsmodels_api_namespace():
    """GEE and ANCOVA use statsmodels' classes from their modules: ``statsmodels.api``
    (time series, graphics, datasets: ~0.5 s on first use) stays unloaded."""
    import subprocess
    import sys

    code = (
        "import sys; import pandas as pd; from trialkit.stats import continuous as C; "
        f"d = pd.read_csv({str(MMRM / 'hba1c_canonical.csv')!r}, keep_default_na=False); "
        f"C.gee(d, visits={POST}); C.ancova(d, 'HBA1C', 48); "
        "print('statsmodels.api' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
