"""A continuous endpoint over time (HbA1c, daily insulin dose): arm differences by visit.

Five analyses of the same question, "how much lower is the outcome with UC-MSC than with
placebo at week w?", each returning the difference *treatment minus reference* with its
standard error, degrees of freedom, p-value and confidence interval:

- :func:`ttest_week`: a two-sample t-test at one visit (scipy), on the values or on the
  changes from baseline: what a paper that states no method "probably did".
- :func:`ancova`: change at one visit ~ baseline + arm (statsmodels OLS), the standard
  analysis of a randomized comparison with a baseline measurement.
- :func:`mmrm`: the mixed model for repeated measures: change ~ baseline + arm + visit +
  arm:visit + baseline:visit with an **unstructured** covariance over visits, REML, and
  Satterthwaite degrees of freedom; LS-means per arm and visit. No well-kept Python
  library fits it (statsmodels' MixedLM has random effects, not an unstructured residual
  covariance), so it is written here with numpy/scipy and tested against R
  (nlme::gls + emmeans; ``tests/fixtures/mmrm``).
- :func:`gee`: the same mean model by generalized estimating equations (statsmodels GEE;
  unstructured, exchangeable or independence working correlation; robust "sandwich" SEs).
- :func:`mixed_random_intercept`: the same mean model with a random intercept per subject
  (REML, by the same engine as :func:`mmrm`; tested against R's nlme::lme,
  ``tests/fixtures/mixed``): compound symmetry, equal variances at every visit.

The repeated-measures functions take long data, one row per subject and visit, with the
column names as arguments (defaults: this project's ADLB/ADEX names after
``trialkit.derive`` and with ARM merged from ADSL). They use every available row (a
subject with a missed visit keeps the others: valid under missing at random), drop rows
with a missing outcome or covariate, and report subjects that have no row at the modelled
visits (for example a subject with only a baseline value): those do not contribute, and
the result says so (``dropped``). Covariates are numeric; LS-means are computed with each
covariate at its mean over the rows of the fit, as R's emmeans does by default.

Convergence of :func:`mmrm` and :func:`mixed_random_intercept`: the REML criterion is
minimised by Newton's method with its exact (analytic) gradient and Hessian from a moment
estimate (BFGS takes over if Newton stalls, then Newton again); the fit counts as
converged when the largest gradient component is below ``tol`` and the Hessian is
positive definite. If not, the result is returned with ``converged=False`` and a
message, and a :class:`ConvergenceWarning` is issued (the numbers are then the
optimiser's last point and must not be reported). The same flag and warning are used
for the statsmodels fit (GEE).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize
from scipy import stats as sps

from trialkit.stats.results import (
    EffectEstimate,
    _check_alpha,
    _check_choice,
    _fmt,
    _level,
    _plain,
)

__all__ = [
    "ArmDifference",
    "ConvergenceWarning",
    "RepeatedMeasuresFit",
    "ancova",
    "gee",
    "mixed_random_intercept",
    "mmrm",
    "ttest_week",
]


class ConvergenceWarning(UserWarning):
    """A model fit did not converge: its numbers are not to be reported."""


# =========================================================================== results
@dataclass(frozen=True)
class ArmDifference(EffectEstimate):
    """A difference between arms (treatment minus reference) with its inference.

    Extends :class:`EffectEstimate` (``estimate``, ``low``, ``high``, ``method``,
    ``alpha``, ``note``) with ``se`` (standard error), ``df`` (degrees of freedom of the
    t reference distribution; ``inf`` for a normal approximation), ``statistic`` (t or z),
    ``p`` (two-sided), ``visit`` (the visit, e.g. week 48; None if not by visit) and ``n``
    (subjects contributing, treatment and reference; empty if not meaningful). Units
    are those of the outcome (HbA1c in %-points, insulin in U/day).
    """

    se: float = math.nan
    df: float = math.inf
    statistic: float = math.nan
    p: float = math.nan
    visit: Any = None
    n: tuple[int, ...] = ()

    @property
    def diff(self) -> float:
        """The difference, treatment minus reference (= ``estimate``)."""
        return self.estimate

    @property
    def ci(self) -> tuple[float, float]:
        """The confidence interval ``(low, high)``."""
        return (self.low, self.high)

    def __str__(self) -> str:
        df = "normal approx." if math.isinf(self.df) else f"df {self.df:.1f}"
        at = f" at visit {self.visit}" if self.visit is not None else ""
        text = (
            f"{self.measure}{at}: {_fmt(self.estimate)} (SE {_fmt(self.se)}, {df}, "
            f"p = {self.p:.3g}; {_level(self.alpha)} CI {_fmt(self.low)} to "
            f"{_fmt(self.high)}), {self.method}"
        )
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: diff, se, df, t, p, ci [low, high], visit, n, measure, method,
        alpha, note (``df`` is ``inf`` for a normal approximation)."""
        return {
            "diff": float(self.estimate),
            "se": float(self.se),
            "df": float(self.df),
            "t": float(self.statistic),
            "p": float(self.p),
            "ci": [float(self.low), float(self.high)],
            "visit": _plain(self.visit),
            "n": [int(k) for k in self.n],
            "measure": self.measure,
            "method": self.method,
            "alpha": float(self.alpha),
            "note": self.note,
        }


@dataclass(frozen=True, eq=False)
class RepeatedMeasuresFit:
    """A model fitted to all visits, with the arm difference at each visit.

    Attributes
    ----------
    method : what was fitted, in words.
    outcome : the outcome column; ``treatment`` and ``reference``: the arms compared.
    visits : the modelled visits, in order.
    lsmeans : one row per arm and visit: ``arm, visit, estimate, se, df, low, high, n``
        (least-squares means, covariates at their mean over the rows of the fit).
    differences : one row per visit: ``visit, diff, se, df, t, p, low, high,
        n_treatment, n_reference`` (treatment minus reference).
    covariance : the estimated (or working) covariance matrix of the outcome over the
        visits, a visits x visits frame; ``correlation`` turns it into correlations.
    n_subjects, n_obs : subjects and rows in the fit.
    dropped : subjects in the data without any usable row at the modelled visits (e.g.
        only a baseline value): not in the fit.
    loglik : the REML log-likelihood (MMRM, random intercept), None for GEE.
    converged : False if the optimiser did not converge (then do not report the numbers);
        ``message`` says why.
    alpha : 1 - confidence level. ``synthetic`` : True if the data were synthetic (the
        tables then carry ``attrs["synthetic"] = True``). ``note`` : assumptions in words.
    """

    method: str
    outcome: str
    treatment: str
    reference: str
    visits: tuple[Any, ...]
    lsmeans: pd.DataFrame
    differences: pd.DataFrame
    covariance: pd.DataFrame
    n_subjects: int
    n_obs: int
    dropped: tuple[str, ...]
    loglik: float | None
    converged: bool
    message: str
    alpha: float
    synthetic: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def correlation(self) -> pd.DataFrame:
        """The covariance matrix scaled to correlations."""
        sd = np.sqrt(np.diag(self.covariance.to_numpy()))
        return self.covariance / np.outer(sd, sd)

    def at(self, visit: Any) -> ArmDifference:
        """The arm difference at ``visit`` as an :class:`ArmDifference`."""
        rows = self.differences[self.differences["visit"] == visit]
        if rows.empty:
            raise ValueError(f"visit must be one of {list(self.visits)}, got {visit!r}")
        r = rows.iloc[0]
        note = self.note if self.converged else f"NOT CONVERGED: {self.message}"
        return ArmDifference(
            measure=f"{self.outcome}: {self.treatment} minus {self.reference}",
            estimate=float(r["diff"]),
            low=float(r["low"]),
            high=float(r["high"]),
            method=self.method,
            alpha=self.alpha,
            note=note,
            se=float(r["se"]),
            df=float(r["df"]),
            statistic=float(r["t"]),
            p=float(r["p"]),
            visit=_plain(visit),
            n=(int(r["n_treatment"]), int(r["n_reference"])),
        )

    def __str__(self) -> str:
        head = (
            f"{self.method}: {self.outcome}, {self.treatment} minus {self.reference}; "
            f"{self.n_subjects} subjects, {self.n_obs} observations"
        )
        if self.dropped:
            head += f"; {len(self.dropped)} subject(s) without data at the modelled visits left out"
        if not self.converged:
            head += f"\nNOT CONVERGED: {self.message}"
        lines = [head]
        for v in self.visits:
            d = self.at(v)
            df = "inf" if math.isinf(d.df) else f"{d.df:.1f}"
            lines.append(
                f"  visit {v}: {d.estimate:.4f} (SE {d.se:.4f}, df {df}, p = {d.p:.3g}, "
                f"{_level(self.alpha)} CI {d.low:.4f} to {d.high:.4f})"
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: method, outcome, arms, n_subjects, n_obs, dropped, converged,
        message, loglik, and ``differences``: {visit as text: ArmDifference.as_dict()}."""
        return {
            "method": self.method,
            "outcome": self.outcome,
            "treatment": self.treatment,
            "reference": self.reference,
            "n_subjects": int(self.n_subjects),
            "n_obs": int(self.n_obs),
            "dropped": list(self.dropped),
            "converged": bool(self.converged),
            "message": self.message,
            "loglik": None if self.loglik is None else float(self.loglik),
            "differences": {str(v): self.at(v).as_dict() for v in self.visits},
        }


# =========================================================================== helpers
def _need_columns(data: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        hint = ""
        if "ARM" in missing:
            hint = (
                "; merge the arm from ADSL first, e.g. "
                "adlb.merge(adsl[['USUBJID', 'ARM']], on='USUBJID')"
            )
        raise ValueError(f"{what} has no column(s) {', '.join(map(repr, missing))}{hint}")


def _is_synthetic(data: pd.DataFrame) -> bool:
    if data.attrs.get("synthetic"):
        return True
    return "SYNTHETIC" in data.columns and bool((data["SYNTHETIC"].astype(str) == "Y").all())


def _label(df: pd.DataFrame, synthetic: bool) -> pd.DataFrame:
    df.attrs["synthetic"] = synthetic
    if synthetic:
        df.attrs["caption"] = "SYNTHETIC DATA: simulated patients, not the trial's"
    return df


def _check_arms(arm_values: pd.Series, arm: str, treatment: str, reference: str) -> None:
    if treatment == reference:
        raise ValueError(f"treatment and reference must differ, both are {treatment!r}")
    present = set(arm_values.dropna().astype(str))
    for name, level in (("treatment", treatment), ("reference", reference)):
        if level not in present:
            raise ValueError(
                f"{name} {level!r} is not a value of column {arm!r} (values: {sorted(present)})"
            )
    other = present - {treatment, reference}
    if other:
        raise ValueError(
            f"column {arm!r} has values other than {treatment!r} and {reference!r}: "
            f"{sorted(other)}; filter the data to two arms"
        )


def _one_visit(
    data: pd.DataFrame, param: str | None, visit: Any, cols: Sequence[str], what: str
) -> pd.DataFrame:
    """Rows of one parameter at one visit (analysis records when ANL01FL is there)."""
    _need_columns(data, ["AVISITN", *cols], what)
    rows = data
    if param is not None and "PARAMCD" in rows.columns:
        known = sorted(set(rows["PARAMCD"].astype(str)))
        if param not in known:
            raise ValueError(f"param {param!r} is not in PARAMCD (values: {known})")
        rows = rows[rows["PARAMCD"] == param]
    if "ANL01FL" in rows.columns:
        rows = rows[rows["ANL01FL"] == "Y"]
    if visit not in set(rows["AVISITN"]):
        raise ValueError(
            f"visit {visit!r} is not in AVISITN (values: {sorted(set(rows['AVISITN']))})"
        )
    return rows[rows["AVISITN"] == visit]


# =========================================================================== one visit
#: What ``ttest_week`` and ``ancova`` can analyse, and how results name it.
_ON = {"CHG": "change from baseline", "PCHG": "percent change from baseline", "AVAL": "value"}


def ttest_week(
    adlb: pd.DataFrame,
    param: str = "HBA1C",
    visit: int = 48,
    on: str = "CHG",
    equal_var: bool = True,
    *,
    arm: str = "ARM",
    treatment: str = "UC-MSC",
    reference: str = "Placebo",
    alpha: float = 0.05,
) -> ArmDifference:
    """Two-sample t-test at one visit, treatment minus reference (scipy.stats.ttest_ind).

    ``adlb``: long data (ADLB or ADEX with an ``arm`` column); rows of ``param`` (when
    there is a PARAMCD column) at ``AVISITN == visit``, analysis records only when
    ANL01FL is there, and with a non-missing ``on``: the subjects observed at that visit
    (complete cases: whoever has no value there is left out, an assumption of missing
    completely at random). ``on``: "CHG" (change from baseline; the paper's "decrease"),
    "PCHG" (percent change from baseline, e.g. of the insulin dose) or "AVAL" (the value
    at the visit, ignoring baseline). ``equal_var``: Student's
    t-test (pooled variance) if True, Welch's if False. The interval is scipy's
    (t quantile x SE).
    """
    _check_choice("on", on, tuple(_ON))
    a = _check_alpha(alpha)
    if not isinstance(equal_var, bool):
        raise ValueError(f"equal_var must be True or False, got {equal_var!r}")
    rows = _one_visit(adlb, param, visit, [arm, on], "adlb")
    rows = rows[rows[on].notna()]
    _check_arms(rows[arm], arm, treatment, reference)
    x = rows.loc[rows[arm] == treatment, on].to_numpy(float)
    y = rows.loc[rows[arm] == reference, on].to_numpy(float)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(
            f"need at least 2 subjects per arm at visit {visit}, got {len(x)}, {len(y)}"
        )
    res = sps.ttest_ind(x, y, equal_var=equal_var)
    ci = res.confidence_interval(1 - a)
    diff = float(np.mean(x) - np.mean(y))
    n1, n2 = len(x), len(y)
    v1, v2 = np.var(x, ddof=1), np.var(y, ddof=1)
    if equal_var:
        pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2)
        se = math.sqrt(pooled * (1 / n1 + 1 / n2))
    else:
        se = math.sqrt(v1 / n1 + v2 / n2)
    kind = "Student" if equal_var else "Welch"
    what = _ON[on]
    return ArmDifference(
        measure=f"{param} {what}: {treatment} minus {reference}",
        estimate=diff,
        low=float(ci.low),
        high=float(ci.high),
        method=f"{kind} two-sample t-test on the {what} at visit {visit} (complete cases)",
        alpha=a,
        se=se,
        df=float(res.df),
        statistic=float(res.statistic),
        p=float(res.pvalue),
        visit=_plain(visit),
        n=(len(x), len(y)),
    )


def ancova(
    adlb: pd.DataFrame,
    param: str = "HBA1C",
    visit: int = 48,
    on: str = "CHG",
    covariates: Sequence[str] = ("BASE",),
    *,
    arm: str = "ARM",
    treatment: str = "UC-MSC",
    reference: str = "Placebo",
    alpha: float = 0.05,
) -> ArmDifference:
    """ANCOVA at one visit: ``on ~ covariates + arm`` by ordinary least squares
    (statsmodels OLS), the arm coefficient = treatment minus reference.

    Same rows as :func:`ttest_week` (complete cases at ``visit``; rows with a missing
    covariate are left out too). With the baseline as covariate, ``on="CHG"`` and
    ``on="AVAL"`` give the *same* arm difference and SE (CHG = AVAL - BASE only shifts
    the baseline's coefficient by 1). Assumes a common residual variance and a common
    slope of the baseline in both arms. t reference distribution with n - k residual df.
    """
    _check_choice("on", on, tuple(_ON))
    a = _check_alpha(alpha)
    covariates = list(covariates)
    rows = _one_visit(adlb, param, visit, [arm, on, *covariates], "adlb")
    rows = rows.dropna(subset=[on, *covariates])
    _check_arms(rows[arm], arm, treatment, reference)
    # the class of statsmodels.api.OLS; importing statsmodels.api would load its whole
    # API (time series, graphics, formulas: about 0.5 s) for one regression
    from statsmodels.regression.linear_model import OLS

    treated = (rows[arm] == treatment).to_numpy(float)
    exog = np.column_stack([np.ones(len(rows)), treated, rows[covariates].to_numpy(float)])
    fit = OLS(rows[on].to_numpy(float), exog).fit()
    if fit.df_resid < 1:
        raise ValueError(f"too few subjects at visit {visit} for the ANCOVA ({len(rows)})")
    low, high = fit.conf_int(alpha=a)[1]
    what = _ON[on]
    return ArmDifference(
        measure=f"{param} {what}: {treatment} minus {reference}",
        estimate=float(fit.params[1]),
        low=float(low),
        high=float(high),
        method=(
            f"ANCOVA of the {what} at visit {visit} adjusted for "
            f"{', '.join(covariates) or 'nothing'} (OLS, complete cases)"
        ),
        alpha=a,
        se=float(fit.bse[1]),
        df=float(fit.df_resid),
        statistic=float(fit.tvalues[1]),
        p=float(fit.pvalues[1]),
        visit=_plain(visit),
        n=(int(treated.sum()), int(len(treated) - treated.sum())),
    )


# =========================================================================== design
@dataclass
class _Design:
    """Long data turned into arrays, rows sorted by subject and visit."""

    y: np.ndarray  # (N,)
    X: np.ndarray  # (N, p): cell means (arm x visit), then centred covariates (x visit)
    names: list[str]
    subject: np.ndarray  # (N,) subject codes 0..n-1
    vidx: np.ndarray  # (N,) visit index 0..T-1
    visits: tuple[Any, ...]
    subjects: np.ndarray  # ids, by code
    cells: dict[tuple[str, Any], int]  # (arm, visit) -> column
    counts: pd.DataFrame  # subjects per arm and visit
    dropped: tuple[str, ...]
    synthetic: bool
    covariate_means: dict[str, float]


def _design(
    data: pd.DataFrame,
    outcome: str,
    subject: str,
    visit: str,
    arm: str,
    covariates: Sequence[str],
    visits: Sequence[Any] | None,
    treatment: str,
    reference: str,
    covariate_by_visit: bool,
) -> _Design:
    covariates = list(covariates)
    _need_columns(data, [outcome, subject, visit, arm, *covariates], "data")
    if "PARAMCD" in data.columns and data["PARAMCD"].nunique() > 1:
        raise ValueError(
            "data holds several parameters (PARAMCD "
            f"{sorted(set(data['PARAMCD'].astype(str)))}); pass the rows of one"
        )
    for c in [outcome, *covariates]:
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise ValueError(f"column {c!r} must be numeric (covariates are numeric only)")
    if visits is None:
        chosen = sorted(data.loc[data[outcome].notna(), visit].unique())
    else:
        chosen = list(visits)
        if not chosen:
            raise ValueError("visits must name at least one visit")
        present = set(pd.unique(data[visit]))
        absent = [v for v in chosen if v not in present]
        if absent:
            raise ValueError(f"visits {absent} are not values of column {visit!r}")
    everyone = pd.unique(data[subject])
    rows = data[data[visit].isin(chosen)].dropna(subset=[outcome, *covariates])
    rows = rows[[subject, visit, arm, outcome, *covariates]].copy()
    dup = rows.duplicated([subject, visit], keep=False)
    if dup.any():
        who = rows.loc[dup, [subject, visit]].drop_duplicates().head(5)
        raise ValueError(
            f"more than one row per subject and visit (e.g. {who.to_dict('records')}); "
            "keep one, e.g. the analysis records ANL01FL == 'Y'"
        )
    _check_arms(rows[arm], arm, treatment, reference)
    arms_per_subject = rows.groupby(subject)[arm].nunique()
    if (arms_per_subject > 1).any():
        raise ValueError(
            "subjects with more than one arm: "
            f"{list(arms_per_subject[arms_per_subject > 1].index[:5])}"
        )
    order = {v: i for i, v in enumerate(chosen)}
    rows["_v"] = rows[visit].map(order).astype(int)
    rows = rows.sort_values([subject, "_v"], kind="stable").reset_index(drop=True)
    counts = rows.groupby([arm, visit])[subject].nunique().unstack(fill_value=0)
    counts = counts.reindex(index=[treatment, reference], columns=chosen, fill_value=0)
    empty = [(a, v) for a in counts.index for v in chosen if counts.loc[a, v] == 0]
    if empty:
        raise ValueError(f"no data for arm x visit {empty}: drop that visit (visits=...)")
    for v in chosen:
        at = rows.loc[rows[visit] == v, outcome]
        if len(at) > 1 and np.ptp(at.to_numpy(float)) == 0:
            raise ValueError(
                f"{outcome} is constant at visit {_plain(v)} (a change from baseline at the "
                "baseline visit?); pass the post-baseline visits as visits=..."
            )
    used = pd.unique(rows[subject])
    dropped = tuple(str(s) for s in everyone[~pd.Index(everyone).isin(used)])
    codes, subjects = pd.factorize(rows[subject], sort=False)
    vidx = rows["_v"].to_numpy()
    cols, names, cells = [], [], {}
    for a_name in (reference, treatment):
        is_arm = (rows[arm] == a_name).to_numpy(float)
        for j, v in enumerate(chosen):
            cells[(a_name, v)] = len(cols)
            cols.append(is_arm * (vidx == j))
            names.append(f"{a_name}:{v}")
    means = {}
    for c in covariates:
        x = rows[c].to_numpy(float)
        means[c] = float(x.mean())
        xc = x - means[c]
        if covariate_by_visit:
            for j, v in enumerate(chosen):
                cols.append(xc * (vidx == j))
                names.append(f"{c}:{v}")
        else:
            cols.append(xc)
            names.append(c)
    X = np.column_stack(cols)
    # rank of X from the eigenvalues of the column-equilibrated X'X (p x p: cheaper than
    # an SVD of the N x p matrix)
    norms = np.sqrt(np.einsum("np,np->p", X, X))
    XtX = (X.T @ X) / np.outer(norms, norms) if np.all(norms > 0) else np.zeros((1, 1))
    if np.linalg.eigvalsh(XtX)[0] < 1e-10 * X.shape[1]:
        raise ValueError(
            "the model's design matrix is rank deficient (a covariate constant within a "
            "visit?); drop that covariate or set covariate_by_visit=False"
        )
    return _Design(
        y=rows[outcome].to_numpy(float),
        X=X,
        names=names,
        subject=codes,
        vidx=vidx,
        visits=tuple(_plain(v) for v in chosen),
        subjects=np.asarray(subjects),
        cells=cells,
        counts=counts,
        dropped=dropped,
        synthetic=_is_synthetic(data),
        covariate_means=means,
    )


def _cell_contrasts(d: _Design, treatment: str, reference: str) -> np.ndarray:
    """Rows: LS-means (reference visits, then treatment visits), then differences."""
    p = d.X.shape[1]
    rows = []
    for a_name in (reference, treatment):
        for v in d.visits:
            c = np.zeros(p)
            c[d.cells[(a_name, v)]] = 1
            rows.append(c)
    for v in d.visits:
        c = np.zeros(p)
        c[d.cells[(treatment, v)]] = 1
        c[d.cells[(reference, v)]] = -1
        rows.append(c)
    return np.array(rows)


def _tables(
    d: _Design,
    est: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    treatment: str,
    reference: str,
    alpha: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """LS-means and differences tables from estimates of the contrasts of
    :func:`_cell_contrasts` (normal quantiles where df is infinite)."""
    T = len(d.visits)
    q = np.where(
        np.isinf(df), sps.norm.isf(alpha / 2), sps.t.isf(alpha / 2, np.where(np.isinf(df), 1, df))
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        t = est / se
    p = np.where(
        np.isinf(df),
        2 * sps.norm.sf(np.abs(t)),
        2 * sps.t.sf(np.abs(t), np.where(np.isinf(df), 1, df)),
    )
    ls = []
    for k, a_name in enumerate((reference, treatment)):
        for j, v in enumerate(d.visits):
            i = k * T + j
            ls.append(
                {
                    "arm": a_name,
                    "visit": v,
                    "estimate": est[i],
                    "se": se[i],
                    "df": df[i],
                    "low": est[i] - q[i] * se[i],
                    "high": est[i] + q[i] * se[i],
                    "n": int(d.counts.loc[a_name, d.counts.columns[j]]),
                }
            )
    diffs = []
    for j, v in enumerate(d.visits):
        i = 2 * T + j
        diffs.append(
            {
                "visit": v,
                "diff": est[i],
                "se": se[i],
                "df": df[i],
                "t": t[i],
                "p": p[i],
                "low": est[i] - q[i] * se[i],
                "high": est[i] + q[i] * se[i],
                "n_treatment": int(d.counts.loc[treatment, d.counts.columns[j]]),
                "n_reference": int(d.counts.loc[reference, d.counts.columns[j]]),
            }
        )
    return _label(pd.DataFrame(ls), d.synthetic), _label(pd.DataFrame(diffs), d.synthetic)


def _cov_frame(S: np.ndarray, d: _Design) -> pd.DataFrame:
    labels = pd.Index(d.visits, name="visit")
    return _label(pd.DataFrame(S, index=labels, columns=labels), d.synthetic)


# =========================================================================== MMRM (REML)
class _Reml:
    """-2 x REML log-likelihood of a linear model with a structured covariance over
    visits, with its exact gradient and Hessian.

    Subjects are grouped by their pattern of observed visits; per pattern g the data
    enter only through moment arrays padded to the T visits (zeros at unobserved
    visits): ``XX[g, a, b] = sum_i x_ia x_ib'`` (p x p), ``Xy[g, a, b] = sum_i x_ia
    y_ib``, ``yy[g, a, b] = sum_i y_ia y_ib`` and the subject count ``m[g]``. Each
    evaluation is then a handful of array operations whose size does not grow with the
    number of subjects, and no Python loop over subjects or patterns.

    ``structure``: "unstructured" (parameters ``theta``: the lower triangle of the
    Cholesky factor L of Sigma = L L', row by row, diagonal on the log scale) or
    "compound symmetry" (``theta`` = (log tau^2, log sigma^2), Sigma = tau^2 J + sigma^2
    I, the covariance of a random intercept). The outcome is scaled by ``scale`` (its
    SD) inside, so that every parameter is of order 1; callers scale results back.

    Derivatives (for symmetric perturbations dSigma; V = blockdiag(Sigma_i), P = V^-1 -
    V^-1 X Phi X' V^-1, Phi = (X'V^-1 X)^-1, u = P y):
    d f = tr(P dV) - u' dV u and d2 f = -tr(P dV1 P dV2) + 2 u' dV1 P dV2 u (V is linear
    in Sigma); both are written out below in the pattern moments, then carried to
    ``theta`` by the chain rule (the second derivatives of Sigma(theta) included).
    """

    def __init__(self, d: _Design, structure: str = "unstructured") -> None:
        self.T = T = len(d.visits)
        self.structure = structure
        self.scale = float(np.std(d.y)) or 1.0
        y = d.y / self.scale
        X = d.X
        self.N, self.p = X.shape
        p = self.p
        self.tril = np.tril_indices(T)
        self.diag = np.flatnonzero(self.tril[0] == self.tril[1])
        n = len(d.subjects)
        # wide arrays, zeros at unobserved visits
        Xw = np.zeros((n, T, p))
        yw = np.zeros((n, T))
        mask = np.zeros((n, T), bool)
        Xw[d.subject, d.vidx] = X
        yw[d.subject, d.vidx] = y
        mask[d.subject, d.vidx] = True
        self.Xw, self.yw, self.maskw = Xw, yw, mask
        codes = mask @ (1 << np.arange(T))
        pats, inv = np.unique(codes, return_inverse=True)
        G = len(pats)
        self.n_patterns = G
        self.mask = (pats[:, None] >> np.arange(T)[None, :]) & 1 == 1  # (G, T)
        self.m = np.bincount(inv, minlength=G).astype(float)
        self.XX = np.zeros((G, T, T, p, p))
        self.Xy = np.zeros((G, T, T, p))
        self.yy = np.zeros((G, T, T))
        for g in range(G):  # once per fit
            Xg, yg = Xw[inv == g], yw[inv == g]
            self.XX[g] = np.einsum("nap,nbq->abpq", Xg, Xg, optimize=True)
            self.Xy[g] = np.einsum("nap,nb->abp", Xg, yg, optimize=True)
            self.yy[g] = yg.T @ yg
        self.outer_mask = self.mask[:, :, None] & self.mask[:, None, :]
        self.n_theta = len(self.tril[0]) if structure == "unstructured" else 2

    # ---- parameters
    def L(self, theta: np.ndarray) -> np.ndarray:
        L = np.zeros((self.T, self.T))
        L[self.tril] = theta
        L[np.diag_indices(self.T)] = np.exp(np.diag(L))
        return L

    def sigma(self, theta: np.ndarray) -> np.ndarray:
        """Sigma(theta), T x T."""
        if self.structure == "unstructured":
            L = self.L(theta)
            return L @ L.T
        tau2, s2 = np.exp(theta)
        return np.full((self.T, self.T), tau2) + s2 * np.eye(self.T)

    def derivatives(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dSigma/dtheta_j (k, T, T) and d2Sigma/dtheta_j dtheta_l (k, k, T, T)."""
        T, k = self.T, self.n_theta
        D1 = np.zeros((k, T, T))
        D2 = np.zeros((k, k, T, T))
        if self.structure != "unstructured":
            tau2, s2 = np.exp(theta)
            D1[0], D1[1] = tau2, s2 * np.eye(T)
            D2[0, 0], D2[1, 1] = D1[0], D1[1]
            return D1, D2
        L = self.L(theta)
        E = np.zeros((k, T, T))  # dL/dtheta_j
        rows, cols = self.tril
        E[np.arange(k), rows, cols] = np.where(rows == cols, L[rows, cols], 1.0)
        EL = E @ L.T  # (k, T, T): dL_j L'
        D1 = EL + EL.transpose(0, 2, 1)
        # d2Sigma = dL_j dL_l' + dL_l dL_j' (+ the second derivative of L on the diagonal)
        EE = E[:, None] @ E.transpose(0, 2, 1)[None, :]  # dL_j dL_l'

        D2 = EE + EE.transpose(1, 0, 2, 3)
        for j in self.diag:
            D2[j, j] += D1[j]
        return D1, D2

    def theta_of(self, S: np.ndarray) -> np.ndarray:
        if self.structure != "unstructured":
            T = self.T
            tau2 = (S.sum() - np.trace(S)) / (T * (T - 1)) if T > 1 else 0.0
            s2 = np.trace(S) / T - tau2
            var = np.trace(S) / T
            return np.log([max(tau2, 0.05 * var), max(s2, 0.05 * var)])
        L = np.linalg.cholesky(S)
        th = L[self.tril].copy()
        th[self.diag] = np.log(th[self.diag])
        return th

    # ---- criterion
    def evaluate(self, theta: np.ndarray, order: int = 1) -> dict[str, Any]:
        """-2 REML log-likelihood (scaled outcome), beta, Phi = (X'V^-1X)^-1; with
        ``order`` >= 1 the gradient in theta, with 2 also the Hessian; ``{"value": inf}``
        if Sigma is not positive definite."""
        T, p = self.T, self.p
        with np.errstate(over="ignore", invalid="ignore"):
            S = self.sigma(theta)
        if not np.all(np.isfinite(S)):
            return {"value": math.inf}
        M = np.where(self.outer_mask, S, 0.0) + np.eye(T) * ~self.mask[:, None, :]
        try:
            C = np.linalg.cholesky(M)
            Si = np.where(self.outer_mask, np.linalg.inv(M), 0.0)  # padded Sigma_g^-1
        except np.linalg.LinAlgError:
            return {"value": math.inf}
        with np.errstate(divide="ignore"):
            logdet = 2 * np.log(np.diagonal(C, axis1=1, axis2=2)).sum(axis=1)  # (G,)
        if not (np.all(np.isfinite(logdet)) and np.all(np.isfinite(Si))):
            return {"value": math.inf}
        G = len(Si)
        XtVX = np.tensordot(Si, self.XX, axes=3)
        XtVy = np.tensordot(Si, self.Xy, axes=3)
        yVy = float(np.tensordot(Si, self.yy, axes=3))
        try:
            cf = linalg.cho_factor(XtVX, lower=True)
        except linalg.LinAlgError:
            return {"value": math.inf}
        beta = linalg.cho_solve(cf, XtVy)
        Phi = linalg.cho_solve(cf, np.eye(p))
        logdet_xvx = 2 * float(np.sum(np.log(np.diag(cf[0]))))
        quad = yVy - float(XtVy @ beta)
        value = (self.N - p) * math.log(2 * math.pi) + float(self.m @ logdet) + logdet_xvx + quad
        out: dict[str, Any] = {"value": value, "beta": beta, "Phi": Phi, "S": S, "Si": Si}
        if order < 1 or not math.isfinite(value):
            return out
        TT = T * T
        # residual moments: XR[g, a, b] = sum_i x_ia r_ib, RR[g, a, b] = sum_i r_ia r_ib
        XXb = self.XX @ beta  # (G, T, T, p): sum_i x_ia (x_ib' beta)
        XR = self.Xy - XXb
        Xyb = self.Xy @ beta  # (G, T, T): sum_i (x_ia' beta) y_ib
        RR = self.yy - Xyb - Xyb.transpose(0, 2, 1) + XXb @ beta
        Q = np.tensordot(self.XX, Phi, axes=([3, 4], [0, 1]))  # sum_i X_i Phi X_i'
        K = Si @ Q @ Si  # sum_i A_i Phi A_i', A_i = Si X_i
        UU = Si @ RR @ Si  # sum_i u_i u_i'
        Gm = np.tensordot(self.m, Si, axes=1) - K.sum(0) - UU.sum(0)  # df = tr(Gm dSigma)
        D1, D2 = self.derivatives(theta)
        k = len(D1)
        D1f = D1.reshape(k, TT)
        out["grad"] = D1f @ Gm.ravel()
        # Mt[e, f] = sum_i X_i' Si E_ef Si X_i (p x p), so that d(X'V^-1 X) = -sum_ef
        # dSigma_ef Mt[e, f] (Si symmetric)
        tmp = (Si @ self.XX.reshape(G, T, -1)).reshape(G, T, T, p, p)  # [g, e, b, p, q]
        tmp = tmp.transpose(0, 2, 1, 3, 4).reshape(G * T, T * p * p)  # [(g, b), (e, p, q)]
        Mt = (Si.transpose(1, 0, 2).reshape(T, G * T) @ tmp).reshape(T, T, p, p)  # [f, e]
        Mt = Mt.transpose(1, 0, 2, 3)
        out["Mt"] = Mt
        if order < 2:
            return out

        def pair(A: np.ndarray, B: np.ndarray) -> np.ndarray:
            """sum_g A[g, d, a] B[g, b, c] as [a, b, c, d] (flattened (a, b) x (c, d))."""
            prod = (A.reshape(G, TT).T @ B.reshape(G, TT)).reshape(T, T, T, T)  # d a b c
            return prod.transpose(1, 2, 3, 0).reshape(TT, TT)

        # -tr(P dV1 P dV2): the V^-1 V^-1, the two mixed, and the A Phi A' A Phi A' terms
        W = pair(self.m[:, None, None] * Si, Si) - pair(K, Si) - pair(Si, K)
        PM = (Phi @ Mt.reshape(TT, p, p)).reshape(TT, p * p)  # Phi Mt[e, f]
        PMt = PM.reshape(TT, p, p).transpose(0, 2, 1).reshape(TT, p * p)
        W += PM @ PMt.T
        # 2 u' dV1 P dV2 u = 2 (u' dV1 V^-1 dV2 u - (A' dV1 u)' Phi (A' dV2 u))
        Y = (Si @ XR.reshape(G, T, T * p)).reshape(G, T, T, p)  # [g, a, d, p]
        Y = Y.transpose(0, 2, 1, 3).reshape(G, T, T * p)  # [g, d, (a, p)]
        Z = (Si @ Y).sum(0).reshape(T, T, p).transpose(1, 0, 2).reshape(TT, p)  # [(a, b), p]
        quad2 = pair(UU, Si) - Z @ Phi @ Z.T
        Hs = -W + 2 * quad2
        H = D1f @ Hs @ D1f.T + np.tensordot(D2, Gm, axes=2)
        out["hess"] = (H + H.T) / 2
        return out

    def fun(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r = self.evaluate(theta)
        if not math.isfinite(r["value"]):
            return math.inf, np.zeros_like(theta)
        return r["value"], r["grad"]

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """Hessian of -2 REML log-likelihood in theta (analytic)."""
        r = self.evaluate(theta, order=2)
        if "hess" not in r:
            return np.full((self.n_theta, self.n_theta), np.nan)
        return r["hess"]

    def hessian_numeric(self, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
        """Central differences of the analytic gradient (a check on :meth:`hessian`)."""
        k = len(theta)
        H = np.empty((k, k))
        for i in range(k):
            h = step * max(1.0, abs(theta[i]))
            e = np.zeros(k)
            e[i] = h
            up, down = self.evaluate(theta + e)["grad"], self.evaluate(theta - e)["grad"]
            H[:, i] = (up - down) / (2 * h)
        return (H + H.T) / 2

    def variance_gradients(self, r: dict[str, Any], C: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """For each contrast c (rows of C): d(c' Phi c)/dtheta, analytic:
        d Phi = Phi (sum_i X_i' Si dSigma Si X_i) Phi, so d(c'Phi c) = a' Mt(dSigma) a
        with a = Phi c."""
        a = r["Phi"] @ C.T  # (p, c)
        T, p = self.T, self.p
        Ma = r["Mt"].reshape(T * T, p, p) @ a  # (TT, p, c)
        gS = np.einsum("epc,pc->ce", Ma, a)  # (c, TT)
        D1, _ = self.derivatives(theta)
        return gS @ D1.reshape(len(D1), T * T).T

    def _newton(
        self, theta: np.ndarray, r: dict[str, Any], tol: float, limit: int
    ) -> tuple[np.ndarray, dict[str, Any], int]:
        """Newton steps with the exact Hessian, damped (H + lambda I) where it is not
        positive definite, each step halved until the criterion does not increase; stops
        at max |gradient| < tol, after ``limit`` steps, or when no step helps."""
        its = 0
        while its < limit and np.max(np.abs(r["grad"])) >= tol:
            g, H = r["grad"], r["hess"]
            size = float(np.max(np.abs(np.diag(H)))) or 1.0
            lam, found = 0.0, None
            for _ in range(20):
                try:
                    cf = linalg.cho_factor(H + lam * np.eye(len(g)), lower=True)
                except linalg.LinAlgError:
                    lam = max(10 * lam, 1e-6 * size)
                    continue
                step = linalg.cho_solve(cf, g)
                t = 1.0
                while t > 1e-10 and found is None:
                    rc = self.evaluate(theta - t * step, order=2)
                    if rc["value"] <= r["value"] + 1e-13 * abs(r["value"]):
                        found = (theta - t * step, rc)
                    t /= 2
                if found is not None:
                    break
                lam = max(10 * lam, 1e-6 * size)
            if found is None:
                break
            theta, r = found
            its += 1
        return theta, r, its

    def fit(
        self, theta0: np.ndarray, tol: float, max_iter: int
    ) -> tuple[np.ndarray, dict[str, Any], int]:
        """Minimise from ``theta0``: Newton's method with the exact Hessian (quadratic
        convergence near the optimum), to max |gradient| < ``tol`` / 1000; if it stalls,
        BFGS (``max_iter`` iterations) and Newton again. Returns theta, the evaluation
        there (``order=2``) and the number of iterations."""
        theta = np.asarray(theta0, float)
        r = self.evaluate(theta, order=2)
        if not math.isfinite(r["value"]):
            raise ValueError("the starting covariance matrix is not positive definite")
        theta, r, its = self._newton(theta, r, tol / 1000, 100)
        if np.max(np.abs(r["grad"])) >= tol / 1000:
            res = optimize.minimize(
                self.fun, theta, jac=True, method="BFGS",
                options={"gtol": tol / 10, "maxiter": max_iter},
            )  # fmt: skip
            its += int(res.nit)
            rb = self.evaluate(res.x, order=2)
            if math.isfinite(rb["value"]) and rb["value"] <= r["value"]:
                theta, r = res.x, rb
            theta, r, more = self._newton(theta, r, tol / 1000, 50)
            its += more
        return theta, r, its


def _start(d: _Design, eng: _Reml) -> np.ndarray:
    """Starting covariance: pairwise covariances of OLS residuals by visit, made
    positive definite."""
    y = d.y / eng.scale
    beta, *_ = np.linalg.lstsq(d.X, y, rcond=None)
    T = eng.T
    res = np.full((len(d.subjects), T), np.nan)
    res[d.subject, d.vidx] = y - d.X @ beta
    S = pd.DataFrame(res).cov(min_periods=2).to_numpy().copy()
    var = np.nanmean(np.diag(S)) if np.isfinite(np.diag(S)).any() else 1.0
    if not np.isfinite(var) or var <= 0:
        var = 1.0
    dg = np.diag(S).copy()
    dg[~np.isfinite(dg) | (dg <= 0)] = var
    S[~np.isfinite(S)] = 0.0
    S[np.diag_indices(T)] = dg
    w, V = np.linalg.eigh((S + S.T) / 2)
    S = (V * np.maximum(w, 0.05 * var)) @ V.T
    return eng.theta_of(S)


def _reml_fit(
    eng: _Reml, theta0: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, dict[str, Any], int, bool, str]:
    """Fit by :meth:`_Reml.fit` and judge convergence: the largest gradient component
    of -2 log L_R below ``tol`` and a positive definite Hessian. Returns theta, the
    evaluation there (with ``grad`` and ``hess``), iterations, converged, message."""
    theta, r, iterations = eng.fit(theta0, tol, max_iter)
    # every accepted step has a finite, smaller criterion, so the end point has a
    # positive definite covariance matrix
    g, H = r["grad"], r["hess"]
    eig = np.linalg.eigvalsh(H) if np.all(np.isfinite(H)) else np.array([np.nan])
    problems = []
    if np.max(np.abs(g)) > tol:
        problems.append(f"largest gradient component {np.max(np.abs(g)):.2g} > tol {tol:g}")
    if not np.all(eig > 0):
        problems.append(
            "the Hessian of the REML criterion is not positive definite (a variance or "
            "correlation at its boundary, or too few subjects per visit)"
        )
    converged = not problems
    return theta, r, iterations, converged, "converged" if converged else "; ".join(problems)


def mmrm(
    data: pd.DataFrame,
    outcome: str = "CHG",
    *,
    subject: str = "USUBJID",
    visit: str = "AVISITN",
    arm: str = "ARM",
    covariates: Sequence[str] = ("BASE",),
    visits: Sequence[Hashable] | None = None,
    treatment: str = "UC-MSC",
    reference: str = "Placebo",
    covariate_by_visit: bool = True,
    alpha: float = 0.05,
    tol: float = 1e-6,
    max_iter: int = 1000,
) -> RepeatedMeasuresFit:
    """Mixed model for repeated measures: unstructured covariance, REML, Satterthwaite df.

    Model: ``outcome ~ arm + visit + arm:visit + covariates + covariates:visit`` (the
    covariate-by-visit terms only with ``covariate_by_visit``), errors of one subject
    multivariate normal with a T x T **unstructured** covariance over the T modelled
    visits (T (T + 1) / 2 parameters), subjects independent. Fitted by restricted maximum
    likelihood (REML; the criterion -2 log L_R = (N - p) log 2 pi + log|V| +
    log|X'V^-1 X| + r'V^-1 r, the convention of nlme and SAS), the covariance
    parametrised by the log-Cholesky factor of Sigma.

    Parameters: column names ``outcome`` (numeric; e.g. CHG, the change from baseline in
    the unit of the parameter), ``subject``, ``visit``, ``arm`` (exactly the two values
    ``treatment`` and ``reference``), ``covariates`` (numeric, e.g. the baseline value
    BASE). ``visits``: the visits to model, in order (default: every visit with an
    outcome; pass the post-baseline visits when the data hold baseline rows, where a
    change from baseline is 0). Rows at other visits are ignored; rows with a missing
    outcome or covariate are dropped; a subject without any row left is reported in
    ``dropped`` and does not contribute. Every other subject contributes all its
    observed visits (valid if data are missing at random given the observed ones).

    Inference: LS-means per arm and visit (covariates at their mean over the rows of
    the fit, as emmeans) and the difference treatment minus reference at each visit,
    with SE from (X'V^-1 X)^-1 (model-based, no small-sample bias correction of the SE,
    as nlme/emmeans and the mmrm package's "Satterthwaite" adjustment), t statistic,
    Satterthwaite degrees of freedom df = 2 v^2 / (g' A g) (v the contrast's variance,
    g its gradient in the covariance parameters, A = 2 H^-1 their asymptotic covariance,
    H the Hessian of -2 log L_R; Christensen 2018, as lmerTest and the mmrm package), p
    and the 1 - alpha confidence interval. g and H are exact (analytic derivatives of
    the REML criterion, written out in ``_Reml``; checked against central differences
    in the tests), not numerical.

    Convergence: see the module docstring (``converged``, ``message``, and a
    :class:`ConvergenceWarning`; no exception). ``tol``: largest gradient component of
    -2 log L_R (scaled outcome) accepted at the end (Newton's method runs to tol / 1000);
    ``max_iter``: iterations of the BFGS fallback when Newton's method stalls (at most 100
    Newton steps before it, 50 after). Raises ValueError for unusable data
    (missing columns, one arm, an arm x visit cell without data, duplicate rows, ...).
    """
    a = _check_alpha(alpha)
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol > 0:
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    d = _design(
        data, outcome, subject, visit, arm, covariates, visits, treatment, reference,
        covariate_by_visit,
    )  # fmt: skip
    eng = _Reml(d)
    if eng.N - eng.p < 1:
        raise ValueError(f"too few observations ({eng.N}) for {eng.p} mean parameters")
    theta, r, iterations, converged, message = _reml_fit(eng, _start(d, eng), tol, max_iter)
    H, g, n_theta = r["hess"], r["grad"], eng.n_theta
    if not converged:
        warnings.warn(
            f"mmrm did not converge ({message}); its estimates must not be reported",
            ConvergenceWarning,
            stacklevel=2,
        )
    s = eng.scale
    C = _cell_contrasts(d, treatment, reference)
    est = C @ r["beta"] * s
    var = np.einsum("cp,pq,cq->c", C, r["Phi"], C)
    se = np.sqrt(var) * s
    if converged:
        A = 2 * np.linalg.inv(H)
        grads = eng.variance_gradients(r, C, theta)
        df = 2 * var**2 / np.einsum("ck,kl,cl->c", grads, A, grads)
    else:
        df = np.full(len(var), np.nan)
    lsmeans, differences = _tables(d, est, se, df, treatment, reference, a)
    loglik = -0.5 * (r["value"] + 2 * (eng.N - eng.p) * math.log(s))
    note = (
        "unstructured covariance over visits, REML, Satterthwaite df; all observed "
        "visits used (missing at random)"
    )
    if d.dropped:
        note += f"; {len(d.dropped)} subject(s) without data at the modelled visits left out"
    return RepeatedMeasuresFit(
        method="MMRM (unstructured, REML, Satterthwaite)",
        outcome=outcome,
        treatment=treatment,
        reference=reference,
        visits=d.visits,
        lsmeans=lsmeans,
        differences=differences,
        covariance=_cov_frame(r["S"] * s**2, d),
        n_subjects=len(d.subjects),
        n_obs=eng.N,
        dropped=d.dropped,
        loglik=loglik,
        converged=converged,
        message=message,
        alpha=a,
        synthetic=d.synthetic,
        note=note,
        extra={
            "iterations": iterations,
            "n_parameters": (eng.p, n_theta),
            "patterns": eng.n_patterns,
            "covariate_means": d.covariate_means,
            "coef": pd.Series(r["beta"] * s, index=d.names),
            "max_gradient": float(np.max(np.abs(g))),
        },
    )


# =========================================================================== statsmodels
def _fit_statsmodels(fit_fn: Any, name: str) -> tuple[Any, bool, str]:
    """Run a statsmodels fit, turning its convergence warnings, and numerical failures
    (then the fit is None), into a flag and a :class:`ConvergenceWarning`."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SMConvergenceWarning)
        try:
            fitted = fit_fn()
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            fitted = None
            caught.append(
                warnings.WarningMessage(
                    f"statsmodels failed: {type(exc).__name__}: {exc}",
                    SMConvergenceWarning, __file__, 0,
                )
            )  # fmt: skip
    bad = [str(w.message) for w in caught if issubclass(w.category, SMConvergenceWarning)]
    for w in caught:
        if not issubclass(w.category, SMConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    converged = bool(getattr(fitted, "converged", True)) and not bad
    message = "converged" if converged else "; ".join(bad) or "the optimiser did not converge"
    if not converged:
        warnings.warn(
            f"{name} did not converge ({message}); its estimates must not be reported",
            ConvergenceWarning,
            stacklevel=3,
        )
    return fitted, converged, message


def gee(
    data: pd.DataFrame,
    outcome: str = "CHG",
    *,
    subject: str = "USUBJID",
    visit: str = "AVISITN",
    arm: str = "ARM",
    covariates: Sequence[str] = ("BASE",),
    visits: Sequence[Hashable] | None = None,
    treatment: str = "UC-MSC",
    reference: str = "Placebo",
    covariate_by_visit: bool = True,
    working: str = "unstructured",
    alpha: float = 0.05,
) -> RepeatedMeasuresFit:
    """The MMRM's mean model fitted by generalized estimating equations (statsmodels GEE,
    Gaussian family, identity link), same data handling as :func:`mmrm`.

    ``working``: the working correlation, "unstructured" (a free correlation between any
    two visits, statsmodels' ``Unstructured``, with one common variance),
    "exchangeable" or "independence". Standard errors are robust (sandwich): valid
    whatever the true correlation if there are enough subjects, but GEE is valid only if
    missing data are missing completely at random (no likelihood behind it). Inference
    with the normal distribution (``df`` = inf), as statsmodels reports it.
    ``covariance``: the working correlation times the scale.
    """
    a = _check_alpha(alpha)
    _check_choice("working", working, ("unstructured", "exchangeable", "independence"))
    d = _design(
        data, outcome, subject, visit, arm, covariates, visits, treatment, reference,
        covariate_by_visit,
    )  # fmt: skip
    # the classes of statsmodels.api.GEE and .families.Gaussian; importing statsmodels.api
    # would load its whole namespace (time series, graphics: ~0.5 s on first use)
    from statsmodels.genmod import cov_struct as cs
    from statsmodels.genmod.families import Gaussian
    from statsmodels.genmod.generalized_estimating_equations import GEE

    struct = {
        "unstructured": cs.Unstructured,
        "exchangeable": cs.Exchangeable,
        "independence": cs.Independence,
    }[working]()
    model = GEE(
        d.y, d.X, groups=d.subject, time=d.vidx.astype(np.int64), cov_struct=struct,
        family=Gaussian(),
    )  # fmt: skip
    fitted, converged, message = _fit_statsmodels(lambda: model.fit(maxiter=200), "gee")
    C = _cell_contrasts(d, treatment, reference)
    if fitted is None:
        est = se = np.full(len(C), np.nan)
    else:
        V = np.asarray(fitted.cov_params())
        est = C @ np.asarray(fitted.params)
        se = np.sqrt(np.einsum("cp,pq,cq->c", C, V, C))
    lsmeans, differences = _tables(d, est, se, np.full(len(est), np.inf), treatment, reference, a)
    T = len(d.visits)
    if fitted is None:
        R = np.full((T, T), np.nan)
    elif working == "unstructured":
        R = np.asarray(struct.dep_params)
    elif working == "exchangeable":
        R = np.full((T, T), float(struct.dep_params))
        np.fill_diagonal(R, 1.0)
    else:
        R = np.eye(T)
    return RepeatedMeasuresFit(
        method=f"GEE ({working} working correlation, robust SE)",
        outcome=outcome,
        treatment=treatment,
        reference=reference,
        visits=d.visits,
        lsmeans=lsmeans,
        differences=differences,
        covariance=_cov_frame(R * (np.nan if fitted is None else float(fitted.scale)), d),
        n_subjects=len(d.subjects),
        n_obs=len(d.y),
        dropped=d.dropped,
        loglik=None,
        converged=converged,
        message=message,
        alpha=a,
        synthetic=d.synthetic,
        note=(
            "robust (sandwich) SE, normal approximation; valid if missing data are "
            "missing completely at random"
        ),
    )


def mixed_random_intercept(
    data: pd.DataFrame,
    outcome: str = "CHG",
    *,
    subject: str = "USUBJID",
    visit: str = "AVISITN",
    arm: str = "ARM",
    covariates: Sequence[str] = ("BASE",),
    visits: Sequence[Hashable] | None = None,
    treatment: str = "UC-MSC",
    reference: str = "Placebo",
    covariate_by_visit: bool = True,
    alpha: float = 0.05,
) -> RepeatedMeasuresFit:
    """The MMRM's mean model with a random intercept per subject, REML, same data
    handling as :func:`mmrm`.

    A random intercept b_i ~ N(0, tau^2) plus independent errors N(0, sigma^2) is
    compound symmetry: the same variance tau^2 + sigma^2 at every visit and the same
    correlation tau^2 / (tau^2 + sigma^2) between any two visits. If the true covariance
    is not like that (variances that grow over time, correlations that fade), its SEs are
    off. Fitted by the REML engine of :func:`mmrm` (exact gradient and Hessian, Newton's
    method to max |gradient| < 1e-9 of -2 log L_R on the scaled outcome, in (log tau^2,
    log sigma^2)) and tested against R's ``nlme::lme(random = ~ 1 | subject, method =
    "REML")`` (``tests/fixtures/mixed``). When the data want a negative correlation, the
    between-subject variance ends near its boundary 0 (tau^2 / sigma^2 ~ 1e-11; nlme::lme,
    with the same log scale, does the same): the fit is then the constrained REML optimum,
    independent errors. Model-based SEs from (X'V^-1 X)^-1, inference with the
    normal distribution (``df`` = inf). ``covariance``: the implied compound-symmetry
    matrix; ``extra``: ``tau2``, ``sigma2`` (in the outcome's unit squared).
    """
    a = _check_alpha(alpha)
    d = _design(
        data, outcome, subject, visit, arm, covariates, visits, treatment, reference,
        covariate_by_visit,
    )  # fmt: skip
    eng = _Reml(d, "compound symmetry")
    if eng.N - eng.p < 1:
        raise ValueError(f"too few observations ({eng.N}) for {eng.p} mean parameters")
    theta, r, iterations, converged, message = _reml_fit(eng, _start(d, eng), 1e-6, 1000)
    if not converged:
        warnings.warn(
            f"mixed_random_intercept did not converge ({message}); its estimates must not be "
            "reported",
            ConvergenceWarning,
            stacklevel=2,
        )
    s = eng.scale
    C = _cell_contrasts(d, treatment, reference)
    est = C @ r["beta"] * s
    se = np.sqrt(np.einsum("cp,pq,cq->c", C, r["Phi"], C)) * s
    S = r["S"] * s**2
    tau2, sigma2 = np.exp(theta) * s**2
    loglik = -0.5 * (r["value"] + 2 * (eng.N - eng.p) * math.log(s))
    lsmeans, differences = _tables(d, est, se, np.full(len(est), np.inf), treatment, reference, a)
    return RepeatedMeasuresFit(
        method="Mixed model, random intercept (compound symmetry, REML)",
        outcome=outcome,
        treatment=treatment,
        reference=reference,
        visits=d.visits,
        lsmeans=lsmeans,
        differences=differences,
        covariance=_cov_frame(S, d),
        n_subjects=len(d.subjects),
        n_obs=len(d.y),
        dropped=d.dropped,
        loglik=loglik,
        converged=converged,
        message=message,
        alpha=a,
        synthetic=d.synthetic,
        note="compound symmetry (equal variances and correlations), normal approximation",
        extra={
            "iterations": iterations,
            "tau2": float(tau2),
            "sigma2": float(sigma2),
            "coef": pd.Series(r["beta"] * s, index=d.names),
            "covariate_means": d.covariate_means,
            "max_gradient": float(np.max(np.abs(r["grad"]))),
        },
    )
