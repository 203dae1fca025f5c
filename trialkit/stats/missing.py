"""Missing data: Rubin's rules, multiple imputation, tipping points, dropout simulations.

What is here (group 1 is the treatment, UC-MSC; group 2 the control, placebo):

- ``rubin``: Rubin's rules for pooling ``m`` completed-data estimates (Rubin 1987): the
  pooled estimate, within-, between- and total variance, the Barnard-Rubin (1999)
  small-sample degrees of freedom, the fraction of missing information, a t interval and
  p-value, exactly as R's ``mice::pool`` / ``mice::pool.scalar`` (mice 3.15).
- ``visits_wide``, ``impute_monotone``, ``multiple_imputation``: a continuous endpoint
  measured at visits (HbA1c, %) imputed by *sequential Bayesian linear regression within
  arm* (the monotone regression method: Rubin 1987, sec. 5.4; SAS PROC MI ``MONOTONE
  REG``; van Buuren 2018, Algorithm 3.1, as ``mice.impute.norm``): visit by visit, the
  value is regressed on the baseline and every earlier visit among the patients observed
  at that visit, regression coefficients and residual variance are drawn from their
  posterior (non-informative prior), and the missing values are drawn from the drawn
  model. Each completed data set is analysed by ANCOVA at the last visit (value ~ 1 +
  baseline + arm, ordinary least squares), and the ``m`` results are pooled with
  ``rubin`` (complete-data df ``n - 3``). The imputation model assumes the data are
  missing at random (MAR) within arm, given the earlier visits.
- ``delta_adjusted``: the same imputations with the imputed last-visit values shifted by
  ``delta`` (delta-adjustment, a tipping-point analysis for a continuous endpoint; Ratitch,
  O'Kelly & Tosiello 2013): the conclusion over a grid of deltas, and the delta at which
  it changes.
- ``responder_tipping_point``: a binary endpoint with ``m1``, ``m2`` patients missing:
  every split of the missing into responders and non-responders, the test and the risk
  difference in each cell, and where the conclusion changes.
- ``responder_mi`` and ``responder_analyses``: complete case, non-responder imputation
  (NRI) and multiple imputation of the responder outcome (Bernoulli rate per arm, drawn
  from its Beta posterior, so the imputations carry parameter uncertainty; the Wald
  risk difference pooled with ``rubin``).
- ``impose_dropout`` and ``dropout_simulation``: monotone dropout that is missing
  completely at random (MCAR), at random (MAR: it depends on the HbA1c observed at the
  last visit attended) or not at random (MNAR: it depends on the unobserved week-48
  value), imposed on complete SYNTHETIC trials from ``trialkit.cohort.simulate``; the
  bias and coverage of complete case, MI (and NRI for the responder endpoint) under each.

Units: HbA1c in % (NGSP); risk differences as fractions (0.155, not 15.5 %). Every
random step is seeded (``numpy.random.default_rng(seed)``): the same seed gives the same
numbers.

References: Rubin DB. Multiple Imputation for Nonresponse in Surveys. Wiley 1987.
Barnard J, Rubin DB. Small-sample degrees of freedom with multiple imputation.
Biometrika 1999;86:948-955. van Buuren S. Flexible Imputation of Missing Data, 2nd ed.
CRC 2018. Ratitch B, O'Kelly M, Tosiello R. Missing data in clinical trials: from
clinical assumptions to statistical analysis using pattern mixture models. Pharm Stat
2013;12:337-347. ICH E9(R1) addendum on estimands and sensitivity analysis, 2019.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import optimize, special
from scipy import stats as sps

from trialkit.stats.binary import (
    barnard_test,
    boschloo_test,
    chi2_test,
    fisher_test,
    z_test,
)
from trialkit.stats.results import (
    EffectEstimate,
    HypothesisTest,
    _check_alpha,
    _check_choice,
    _check_int,
    _fmt,
    _level,
    _plain,
)

__all__ = [
    "MECHANISMS",
    "SHIFTS",
    "TIPPING_TESTS",
    "DeltaAdjusted",
    "DropoutSimulation",
    "Imputations",
    "MultipleImputation",
    "PooledEstimate",
    "TippingGrid",
    "delta_adjusted",
    "dropout_simulation",
    "dropout_trial",
    "impose_dropout",
    "impute_monotone",
    "multiple_imputation",
    "responder_analyses",
    "responder_mi",
    "responder_tipping_point",
    "rubin",
    "visits_wide",
]

#: Dropout mechanisms of :func:`impose_dropout` and :func:`dropout_simulation`.
MECHANISMS: Final[tuple[str, ...]] = ("MCAR", "MAR", "MNAR")
#: Which imputations :func:`delta_adjusted` shifts.
SHIFTS: Final[tuple[str, ...]] = ("treatment", "control", "both")
#: Tests :func:`responder_tipping_point` can use (the functions of ``stats.binary``).
TIPPING_TESTS: Final[dict[str, Any]] = {
    "fisher": fisher_test,
    "chi2": chi2_test,
    "chi2_yates": lambda x1, n1, x2, n2: chi2_test(x1, n1, x2, n2, correction=True),
    "z": z_test,
    "barnard": barnard_test,
    "boschloo": boschloo_test,
}
#: mice's floor on lambda in the Barnard-Rubin df (``mice:::barnard.rubin``).
_LAMBDA_FLOOR: Final[float] = 1e-4


# =========================================================================== Rubin's rules
@dataclass(frozen=True)
class PooledEstimate:
    """``m`` completed-data estimates pooled by Rubin's rules.

    ``estimate`` (the mean of the ``m`` estimates), ``se`` = sqrt(``total``), ``df``
    (Barnard-Rubin), the ``1 - alpha`` t interval ``low``-``high``, ``statistic`` =
    estimate / se and its two-sided ``p`` against 0; the pieces: ``within`` (mean of the
    completed-data variances, U-bar), ``between`` (variance of the estimates, B),
    ``total`` (T = U-bar + (1 + 1/m) B), ``riv`` (relative increase in variance due to
    nonresponse, (1 + 1/m) B / U-bar), ``lambda_`` ((1 + 1/m) B / T, the share of the total
    variance due to missing data), ``fmi`` (fraction of missing information, (riv + 2 /
    (df + 3)) / (riv + 1), as mice), ``df_complete`` (inf if not given). ``measure`` names
    what was pooled, ``method`` how, ``note`` anything the reader must know.
    """

    measure: str
    estimate: float
    se: float
    df: float
    low: float
    high: float
    statistic: float
    p: float
    m: int
    within: float
    between: float
    total: float
    riv: float
    lambda_: float
    fmi: float
    df_complete: float
    alpha: float
    method: str = "Rubin's rules, Barnard-Rubin df"
    note: str = ""

    @property
    def interval(self) -> EffectEstimate:
        """The estimate and its interval as an ``EffectEstimate``."""
        return EffectEstimate(
            self.measure, self.estimate, self.low, self.high, self.method, self.alpha, self.note
        )

    @property
    def test(self) -> HypothesisTest:
        """The t-test of estimate = 0 (``df`` degrees of freedom) as a ``HypothesisTest``."""
        return HypothesisTest("rubin_t", self.statistic, self.p, self.method, self.note)

    def __str__(self) -> str:
        text = (
            f"{self.measure} {_fmt(self.estimate)} (SE {_fmt(self.se)}, {_level(self.alpha)} CI "
            f"{_fmt(self.low)} to {_fmt(self.high)}, df {self.df:.1f}, p = {self.p:.4g}; "
            f"m = {self.m}, fraction of missing information {self.fmi:.3f}; {self.method})"
        )
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        """Plain Python of every field, plus ``ci`` = [low, high]."""
        out = {k: _plain(getattr(self, k)) for k in self.__dataclass_fields__}
        out["ci"] = [float(self.low), float(self.high)]
        return out


def _as_vector(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers, got {values!r}")
    return arr


def _barnard_rubin(m: int, b: float, t: float, df_complete: float) -> float:
    """Barnard & Rubin (1999) df, as ``mice:::barnard.rubin`` (lambda floored at 1e-4)."""
    lam = max((1 + 1 / m) * b / t, _LAMBDA_FLOOR)
    df_old = (m - 1) / lam**2
    if math.isinf(df_complete):
        return df_old
    df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
    return df_old * df_obs / (df_old + df_obs)


def rubin(
    estimates: Sequence[float] | np.ndarray,
    variances: Sequence[float] | np.ndarray,
    df_complete: float | None = None,
    alpha: float = 0.05,
    measure: str = "estimate",
) -> PooledEstimate:
    """Pool ``m`` completed-data estimates and their variances by Rubin's rules.

    ``estimates``: the ``m`` >= 2 point estimates (one per imputed data set);
    ``variances``: their squared standard errors (>= 0), in the same order;
    ``df_complete``: the degrees of freedom the analysis would have without missing data
    (e.g. ``n - 3`` for an ANCOVA with intercept, baseline and arm; None: a large-sample
    analysis, as ``dfcom = Inf`` in mice). Returns a :class:`PooledEstimate` with the t
    interval at ``1 - alpha`` and the two-sided p of estimate = 0.

    Formulas (Rubin 1987; mice 3.15 ``pool``/``pool.scalar``, rule "rubin1987"):
    Q-bar = mean(Q), U-bar = mean(U), B = var(Q) (n - 1 divisor), T = U-bar + (1 + 1/m) B;
    df = Barnard-Rubin: with lambda = (1 + 1/m) B / T (floored at 1e-4, as mice),
    df_old = (m - 1) / lambda^2, df_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda),
    df = df_old df_obs / (df_old + df_obs) (df_old when dfcom is infinite). Tested against
    R's mice (``tests/fixtures/missing``).
    """
    q = _as_vector("estimates", estimates)
    u = _as_vector("variances", variances)
    if len(q) != len(u):
        raise ValueError(
            f"estimates and variances must have the same length, got {len(q)} and {len(u)}"
        )
    if len(q) < 2:
        raise ValueError(f"estimates: Rubin's rules need m >= 2 imputations, got {len(q)}")
    if np.any(u < 0):
        raise ValueError(f"variances must be >= 0, got {variances!r}")
    if df_complete is None:
        dfc = math.inf
    else:
        if isinstance(df_complete, bool) or not isinstance(df_complete, int | float | np.number):
            raise ValueError(f"df_complete must be a positive number or None, got {df_complete!r}")
        dfc = float(df_complete)
        if not dfc > 0:
            raise ValueError(f"df_complete must be > 0, got {df_complete!r}")
    alpha = _check_alpha(alpha)
    m = len(q)
    qbar, ubar, b = float(q.mean()), float(u.mean()), float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    if not t > 0:
        raise ValueError(
            "variances: the total variance is 0 (every completed-data variance is 0 and the "
            "estimates agree); nothing to pool"
        )
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else math.inf
    lam = (1 + 1 / m) * b / t
    df = _barnard_rubin(m, b, t, dfc)
    fmi = (riv + 2 / (df + 3)) / (riv + 1) if math.isfinite(riv) else 1.0
    se = math.sqrt(t)
    stat = qbar / se
    p = float(2 * sps.t.sf(abs(stat), df))
    half = float(sps.t.isf(alpha / 2, df)) * se
    note = ""
    if b == 0:
        note = "the m estimates are identical (no missing information); df as mice"
    return PooledEstimate(
        measure=measure,
        estimate=qbar,
        se=se,
        df=float(df),
        low=qbar - half,
        high=qbar + half,
        statistic=float(stat),
        p=p,
        m=m,
        within=ubar,
        between=b,
        total=t,
        riv=float(riv),
        lambda_=float(lam),
        fmi=float(fmi),
        df_complete=dfc,
        alpha=alpha,
        note=note,
    )


# =========================================================================== data layout
def visits_wide(
    adsl: pd.DataFrame,
    adlb: pd.DataFrame,
    paramcd: str = "HBA1C",
    population: str = "randomized",
) -> pd.DataFrame:
    """One row per patient of ``population``, one column per visit (AVISITN, weeks).

    ``adlb``: ADLB or ADEX records (raw or derived; the analysis record of each visit,
    ANL01FL "Y", is used, derived with ``trialkit.derive.derive_adlb`` if the flag is
    absent) of parameter ``paramcd`` (values in its unit, e.g. HbA1c %). ``population``:
    "randomized" (RANDFL, the default: everybody randomized, so that missing values are
    visible), "FAS" or "PPS". Columns: ``ARM`` then the visits in increasing order (the
    baseline first); a missing value is NaN. Patients without any record get a row of
    NaN. ``attrs["synthetic"]`` is carried over from ADSL.
    """
    from trialkit import derive

    if population not in derive.POPULATIONS:
        raise ValueError(
            f"population must be one of {', '.join(derive.POPULATIONS)}; got {population!r}"
        )
    flag = derive.POPULATIONS[population]
    for name, df, cols in (
        ("adsl", adsl, ["USUBJID", "ARM", flag]),
        ("adlb", adlb, ["USUBJID", "PARAMCD", "AVISITN", "AVAL"]),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"{name}: missing column(s) {', '.join(missing)}")
    recs = adlb.loc[adlb["PARAMCD"] == paramcd]
    if recs.empty:
        raise ValueError(f"paramcd: no {paramcd!r} records in adlb")
    if "ANL01FL" not in recs.columns:
        recs = derive.derive_adlb(recs)
    recs = recs.loc[(recs["ANL01FL"] == "Y") & recs["AVAL"].notna()]
    pop = adsl.loc[adsl[flag] == "Y", ["USUBJID", "ARM"]]
    wide = recs.pivot(index="USUBJID", columns="AVISITN", values="AVAL").astype(float)
    wide = wide.reindex(columns=sorted(wide.columns))
    wide.columns = [int(c) if float(c).is_integer() else c for c in wide.columns]
    out = pop.set_index("USUBJID").join(wide, how="left")
    out.columns.name = None
    out.attrs["synthetic"] = bool(adsl.attrs.get("synthetic", False)) or bool(
        "SYNTHETIC" in adsl.columns and (adsl["SYNTHETIC"] == "Y").any()
    )
    out.attrs["paramcd"] = paramcd
    return out


def _split_wide(
    wide: pd.DataFrame, arm_col: str, treatment: str
) -> tuple[np.ndarray, np.ndarray, list[Any], np.ndarray]:
    """(values n x v, treated n bool, visits, arm labels) from a ``visits_wide`` frame."""
    if not isinstance(wide, pd.DataFrame):
        raise ValueError(f"wide must be a pandas DataFrame (see visits_wide), got {type(wide)}")
    if arm_col not in wide.columns:
        raise ValueError(f"wide: no arm column {arm_col!r}")
    visits = [c for c in wide.columns if c != arm_col]
    if len(visits) < 2:
        raise ValueError(f"wide: need a baseline and at least one later visit, got {visits}")
    arms = wide[arm_col].astype(str).to_numpy()
    levels = sorted(set(arms))
    if treatment not in levels or len(levels) != 2:
        raise ValueError(
            f"treatment: expected {treatment!r} to be one of exactly two arms in "
            f"wide[{arm_col!r}], got {levels}"
        )
    try:
        values = wide[visits].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ValueError("wide: the visit columns must be numbers") from None
    if np.isnan(values[:, 0]).any():
        who = list(wide.index[np.isnan(values[:, 0])])
        raise ValueError(
            f"wide: the baseline (first visit column, {visits[0]!r}) must be observed for "
            f"every patient; missing for {who[:10]}"
        )
    return values, arms == treatment, visits, arms


# =========================================================================== imputation
@dataclass(frozen=True)
class Imputations:
    """``m`` completed copies of a visits-wide data set.

    ``values``: array (m, n, v), observed values repeated and missing ones drawn;
    ``observed``: (n, v) bool; ``treated``: (n,) bool; ``visits``: the v visit labels
    (the baseline first); ``subjects``: the n row labels; ``seed``; ``method``.
    """

    values: np.ndarray = field(repr=False)
    observed: np.ndarray = field(repr=False)
    treated: np.ndarray = field(repr=False)
    visits: tuple[Any, ...]
    subjects: tuple[Any, ...] = field(repr=False)
    seed: int
    method: str

    @property
    def m(self) -> int:
        """Number of imputations."""
        return int(self.values.shape[0])

    def completed(self, i: int) -> pd.DataFrame:
        """Completed data set ``i`` (0-based) as a visits-wide frame with an ``IMPUTED``
        column listing the visits that were drawn."""
        i = _check_int("i", i)
        if not 0 <= i < self.m:
            raise ValueError(f"i must be in 0..{self.m - 1}, got {i}")
        out = pd.DataFrame(self.values[i], index=list(self.subjects), columns=list(self.visits))
        out.insert(0, "TREATED", self.treated)
        out["IMPUTED"] = [
            ",".join(str(v) for v, o in zip(self.visits, row, strict=True) if not o)
            for row in self.observed
        ]
        return out


def _impute_many(
    values: np.ndarray,
    treated: np.ndarray,
    m: int,
    rngs: Sequence[np.random.Generator],
    names: tuple[str, str] = ("treatment", "control"),
    visits: Sequence[Any] | None = None,
) -> np.ndarray:
    """Impute ``B`` visits-wide data sets at once: ``values`` (B, n, v) with NaN where
    missing (the baseline, column 0, observed), ``treated`` (B, n) bool, ``m``
    imputations each, data set ``b`` with generator ``rngs[b]``. Returns (B, m, n, v).

    The algorithm of :func:`impute_monotone`. Every data set takes its random numbers
    from its own generator, three calls in a fixed order before any arithmetic:
    ``chisquare`` (2 arms, v - 1 visits, m) for the residual variances,
    ``standard_normal`` (2, v - 1, m, v) for the coefficients and (m, n, v) for the
    missing values (draws for an arm and visit without missing values are made and not
    used). The arithmetic is elementwise in the data sets (batched least squares per
    data set, arm, visit and imputation), so data set ``b`` gets the same numbers
    whatever the other data sets of the batch: a batch of one is :func:`impute_monotone`.
    """
    # one memory layout whatever the caller's (a pandas frame gives column-major arrays):
    # the arithmetic, and so the last bits, must not depend on it
    values = np.ascontiguousarray(values, dtype=float)
    treated = np.ascontiguousarray(treated, dtype=bool)
    B, n, v = values.shape
    observed = ~np.isnan(values)
    inarm = np.stack([treated, ~treated], axis=1)  # (B, 2, n): treatment, control
    nobs = np.einsum("ban,bnk->bak", inarm.astype(np.int64), observed.astype(np.int64))
    nmis = np.einsum("ban,bnk->bak", inarm.astype(np.int64), (~observed).astype(np.int64))
    # predictors at visit k: intercept, baseline and the n_prev most recent earlier
    # visits, as many as keep two residual df (n_prev = k - 1 with enough patients)
    n_prev = np.minimum(np.arange(v)[None, None, :] - 1, nobs - 4)
    need = nmis > 0
    need[:, :, 0] = False
    bad = np.argwhere(need & (n_prev < 0))
    if len(bad):
        b, a, k = bad[0]
        label = visits[k] if visits is not None else k
        raise ValueError(
            f"wide: arm {names[a]!r}, visit {label!r}: {nobs[b, a, k]} patients observed, "
            "need at least 4 to impute from the baseline"
        )
    df = np.where(need, nobs - 2 - n_prev, 1)
    chis = np.empty((B, 2, v - 1, m))
    zb = np.empty((B, 2, v - 1, m, v))
    zz = np.empty((B, m, n, v))
    for b, rng in enumerate(rngs):  # each data set's own stream, in a fixed order
        chis[b] = rng.chisquare(df[b, :, 1:, None], size=(2, v - 1, m))
        zb[b] = rng.standard_normal((2, v - 1, m, v))
        rng.standard_normal(out=zz[b])  # (m, n, v), written in place
    out = np.broadcast_to(values[:, None], (B, m, n, v)).copy()
    y_all = np.where(observed, values, 0.0)
    x_obs = np.concatenate([np.ones((B, n, 1)), y_all[..., :-1]], axis=-1)  # (B, n, v)
    for k in range(1, v):
        p = k + 1  # intercept, visits 0 .. k-1 (the ones not used are zeroed)
        for a in (0, 1):
            act = need[:, a, k]
            if not act.any():
                continue
            incl = np.ones((B, p), bool)
            incl[:, 2:] = np.arange(1, k)[None, :] >= (k - n_prev[:, a, k])[:, None]
            w = inarm[:, a] & observed[:, :, k]  # (B, n): the patients of the fit
            # a fit on imputed predictors (an intermittent gap) differs by imputation;
            # otherwise it is fitted once for all m
            gap = (w[..., None] & ~observed[:, :, :k] & incl[:, None, 1:]).any(axis=(1, 2))
            mis = inarm[:, a] & ~observed[:, :, k]
            for per_imputation in (False, True):
                idx = np.flatnonzero(act & (gap == per_imputation))
                if len(idx) == 0:
                    continue
                inc = incl[idx]
                wi = w[idx].astype(float)
                if per_imputation:
                    X = np.concatenate([np.ones((len(idx), m, n, 1)), out[idx, ..., :k]], -1)
                    X = X * inc[:, None, None, :]
                    Xw = X * wi[:, None, :, None]
                else:
                    X = x_obs[idx, :, :p] * inc[:, None, :]  # (b, n, p)
                    Xw = X * wi[..., None]
                pad = np.eye(p) * ~inc[:, None, :]  # 1 on the diagonal of unused columns
                XtX = np.swapaxes(Xw, -1, -2) @ X + (pad[:, None] if per_imputation else pad)
                y = y_all[idx, :, k]
                Xty = np.swapaxes(Xw, -1, -2) @ (
                    y[:, None, :, None] if per_imputation else y[..., None]
                )
                L = np.linalg.cholesky(XtX)
                Lt = np.swapaxes(L, -1, -2)
                beta_hat = np.linalg.solve(Lt, np.linalg.solve(L, Xty))[..., 0]
                fitted = (X @ beta_hat[..., None])[..., 0]
                resid = ((y[:, None] if per_imputation else y) - fitted) * (
                    wi[:, None] if per_imputation else wi
                )
                rss = np.sum(resid * resid, axis=-1)  # (b, m) or (b,)
                z = zb[idx, a, k - 1, :, :p]  # (b, m, p)
                if per_imputation:
                    shift = np.linalg.solve(Lt, z[..., None])[..., 0]
                else:  # one factor for the m draws: m right-hand sides at once
                    shift = np.swapaxes(np.linalg.solve(Lt, np.swapaxes(z, -1, -2)), -1, -2)
                    rss, beta_hat = rss[:, None], beta_hat[:, None]
                sigma = np.sqrt(rss / chis[idx, a, k - 1])  # (b, m)
                beta = beta_hat + sigma[..., None] * shift  # ~ N(beta_hat, sigma^2 (X'X)^-1)
                beta = beta * inc[:, None, :]  # the coefficients of unused visits: 0
                # the missing values only: (data set, patient) pairs, each with its m draws
                bb, ii = np.nonzero(mis[idx])
                ds = idx[bb]
                coef, prev = beta[bb], out[ds, :, ii, :k]  # (pairs, m, p), (pairs, m, k)
                drawn = coef[..., 0] + sigma[bb] * zz[ds, :, ii, k]  # (pairs, m)
                for j in range(k):
                    drawn += coef[..., j + 1] * prev[..., j]
                out[ds, :, ii, k] = drawn
    return out


def impute_monotone(
    wide: pd.DataFrame,
    n_imputations: int = 50,
    seed: int = 0,
    *,
    treatment: str = "UC-MSC",
    arm_col: str = "ARM",
) -> Imputations:
    """Impute missing visit values by sequential Bayesian linear regression within arm.

    ``wide``: one row per patient, the arm in ``arm_col``, then one numeric column per
    visit in time order, the baseline first and fully observed (``visits_wide``).
    For each arm and each post-baseline visit k, in order: among the patients of the arm
    observed at k, regress the visit-k value on an intercept, the baseline and every
    earlier visit; draw the residual SD and the coefficients from their posterior
    (sigma^2 = RSS / chi2(n_k - p), beta ~ N(beta_hat, sigma^2 (X'X)^-1)); draw each
    missing visit-k value from the drawn model given the patient's earlier values
    (observed or already imputed). This is proper multiple imputation under MAR for
    monotone missingness (dropout), as ``mice.impute.norm`` with a monotone visit
    sequence and only earlier visits as predictors. An intermittent gap (missing at k,
    observed later) is imputed from the earlier visits only, and later visits are then
    regressed on the imputed value, so the fit is repeated per imputation.

    Predictors: the intercept, the baseline and the earlier visits, as many of the most
    recent ones as keep two residual degrees of freedom (every earlier visit when at
    least k + 3 patients of the arm are observed at visit k, as in this trial); fewer than
    4 observed patients in an arm at a visit with missing values raise a ValueError naming
    the arm and visit. ``n_imputations`` (m >= 2);
    ``seed`` of ``numpy.random.default_rng``: the same seed gives the same imputations.
    """
    m = _check_int("n_imputations", n_imputations)
    if m < 2:
        raise ValueError(f"n_imputations must be >= 2, got {n_imputations!r}")
    seed = _check_int("seed", seed)
    values, treated, visits, arms = _split_wide(wide, arm_col, treatment)
    observed = ~np.isnan(values)
    control = next(a for a in arms if a != treatment)
    out = _impute_many(
        values[None], treated[None], m, [np.random.default_rng(seed)],
        names=(treatment, str(control)), visits=visits,
    )[0]  # fmt: skip
    return Imputations(
        values=out,
        observed=observed,
        treated=treated,
        visits=tuple(visits),
        subjects=tuple(wide.index),
        seed=seed,
        method="sequential Bayesian linear regression within arm (monotone MAR)",
    )


def _ancova_many(
    y: np.ndarray, base: np.ndarray, treated: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """OLS of each row of ``y`` (m, n) on 1 + base + treated: the arm coefficient, its
    variance (residual variance x (X'X)^-1 entry) and the residual df ``n - 3``."""
    x = np.column_stack([np.ones(len(base)), base, treated.astype(float)])
    df = x.shape[0] - x.shape[1]
    if df < 1:
        raise ValueError(f"too few patients for an ANCOVA: {x.shape[0]}")
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = y @ (x @ xtx_inv)  # (m, 3)
    resid = y - beta @ x.T
    s2 = np.sum(resid**2, axis=1) / df
    return beta[:, 2], s2 * xtx_inv[2, 2], df


@dataclass(frozen=True)
class MultipleImputation:
    """Multiple imputation of a visit-wise endpoint, ANCOVA at one visit, Rubin's rules.

    ``pooled``: the treatment-minus-control difference at ``visit`` adjusted for baseline
    (a :class:`PooledEstimate`); ``estimates`` and ``variances``: the ``m``
    completed-data ANCOVA results; ``missing`` and ``n``: patients without a value at
    ``visit`` and patients, per arm; ``method``; ``seed``.
    """

    pooled: PooledEstimate
    estimates: tuple[float, ...] = field(repr=False)
    variances: tuple[float, ...] = field(repr=False)
    visit: Any
    missing: dict[str, int]
    n: dict[str, int]
    method: str
    seed: int

    def __str__(self) -> str:
        miss = ", ".join(f"{a} {self.missing[a]}/{self.n[a]}" for a in self.n)
        return f"MI at visit {self.visit} (missing: {miss}): {self.pooled}"

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: diff, se, df, p, ci (the pooled difference), then the rest."""
        p = self.pooled
        return {
            "diff": p.estimate,
            "se": p.se,
            "df": p.df,
            "p": p.p,
            "ci": [p.low, p.high],
            "fmi": p.fmi,
            "m": p.m,
            "visit": _plain(self.visit),
            "missing": dict(self.missing),
            "n": dict(self.n),
            "method": self.method,
            "seed": self.seed,
        }


def _arm_counts(
    imp: Imputations, col: int, treatment: str, control: str
) -> tuple[dict[str, int], dict[str, int]]:
    miss = ~imp.observed[:, col]
    t = imp.treated
    missing = {treatment: int((miss & t).sum()), control: int((miss & ~t).sum())}
    n = {treatment: int(t.sum()), control: int((~t).sum())}
    return missing, n


def _control_label(wide: pd.DataFrame, arm_col: str, treatment: str) -> str:
    return next(str(a) for a in sorted(set(wide[arm_col].astype(str))) if a != treatment)


def _visit_index(imp: Imputations, visit: Any) -> int:
    if visit is None:
        return len(imp.visits) - 1
    if visit not in imp.visits[1:]:
        raise ValueError(
            f"visit must be a post-baseline visit {list(imp.visits[1:])}, got {visit!r}"
        )
    return imp.visits.index(visit)


def multiple_imputation(
    wide: pd.DataFrame,
    n_imputations: int = 50,
    seed: int = 0,
    *,
    visit: Any = None,
    treatment: str = "UC-MSC",
    arm_col: str = "ARM",
    alpha: float = 0.05,
) -> MultipleImputation:
    """Multiple imputation under MAR, ANCOVA at ``visit``, pooled by Rubin's rules.

    Imputes with :func:`impute_monotone` (``n_imputations``, ``seed``); analyses each
    completed data set by ordinary least squares of the ``visit`` value (default the last
    visit) on an intercept, the baseline (first visit column) and the arm (1 for
    ``treatment``); pools the arm coefficient (treatment minus control, in the unit of
    the data, e.g. HbA1c %) with :func:`rubin`, complete-data df ``n - 3``. With nothing
    missing every completed data set is the data, and the result is the complete-data
    ANCOVA (between-imputation variance 0).
    """
    alpha = _check_alpha(alpha)
    imp = impute_monotone(wide, n_imputations, seed, treatment=treatment, arm_col=arm_col)
    return _analyse(imp, visit, treatment, _control_label(wide, arm_col, treatment), alpha)


def _analyse(
    imp: Imputations,
    visit: Any,
    treatment: str,
    control: str,
    alpha: float,
    shift: np.ndarray | None = None,
) -> MultipleImputation:
    col = _visit_index(imp, visit)
    y = imp.values[:, :, col]
    if shift is not None:
        y = y + shift[None, :]
    est, var, df = _ancova_many(y, imp.values[0, :, 0], imp.treated)
    pooled = rubin(est, var, df_complete=df, alpha=alpha, measure=f"{treatment} minus {control}")
    missing, n = _arm_counts(imp, col, treatment, control)
    return MultipleImputation(
        pooled=pooled,
        estimates=tuple(float(e) for e in est),
        variances=tuple(float(v) for v in var),
        visit=imp.visits[col],
        missing=missing,
        n=n,
        method=f"MI ({imp.method}), ANCOVA on baseline, Rubin's rules",
        seed=imp.seed,
    )


# =========================================================================== delta adjustment
@dataclass(frozen=True)
class DeltaAdjusted:
    """Delta-adjusted multiple imputation over a grid of deltas (a tipping-point analysis).

    ``table``: one row per delta (delta, estimate, se, df, low, high, p, significant);
    ``tipping_delta``: the smallest delta > 0 at which the conclusion under MAR (delta
    0) changes, found by root-finding of p(delta) = alpha between the grid points that
    bracket the first change (None if it does not change within the grid);
    ``tipping_grid``: the first grid delta with the changed conclusion; ``at_zero``: the
    MAR result; ``shift``: which imputations were shifted; ``alpha``; ``missing``, ``n``
    per arm; ``method``.
    """

    table: pd.DataFrame = field(repr=False)
    tipping_delta: float | None
    tipping_grid: float | None
    at_zero: PooledEstimate
    shift: str
    alpha: float
    missing: dict[str, int]
    n: dict[str, int]
    method: str

    @property
    def significant_at_zero(self) -> bool:
        """Whether the MAR analysis (delta 0) rejects at ``alpha``."""
        return bool(self.at_zero.p < self.alpha)

    def __str__(self) -> str:
        where = (
            f"changes at delta = {self.tipping_delta:.3f}"
            if self.tipping_delta is not None
            else f"does not change for delta up to {self.table['delta'].max():g}"
        )
        state = "significant" if self.significant_at_zero else "not significant"
        return (
            f"delta-adjusted MI ({self.shift} imputations shifted): under MAR the difference "
            f"{_fmt(self.at_zero.estimate)} is {state} (p = {self.at_zero.p:.4g}); the "
            f"conclusion {where}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: tipping_delta, tipping_grid, shift, alpha, the grid as lists."""
        return {
            "tipping_delta": self.tipping_delta,
            "tipping_grid": self.tipping_grid,
            "shift": self.shift,
            "alpha": self.alpha,
            "significant_at_zero": self.significant_at_zero,
            "missing": dict(self.missing),
            "n": dict(self.n),
            "grid": {c: [_plain(v) for v in self.table[c]] for c in self.table.columns},
        }


def delta_adjusted(
    wide: pd.DataFrame,
    deltas: Iterable[float],
    n_imputations: int = 50,
    seed: int = 0,
    *,
    shift: str = "treatment",
    lower_is_better: bool = True,
    visit: Any = None,
    treatment: str = "UC-MSC",
    arm_col: str = "ARM",
    alpha: float = 0.05,
) -> DeltaAdjusted:
    """Delta-adjusted MI: how far from MAR must the missing values be to change the result?

    The imputations of :func:`impute_monotone` (same ``n_imputations`` and ``seed`` for
    every delta, so the grid differs only by the shift) are analysed as in
    :func:`multiple_imputation`, after the *imputed* values at ``visit`` (default the last)
    are shifted by ``delta`` against the treatment's benefit:

    - ``shift="treatment"`` (default): treated patients without a value did worse than MAR
      predicts by ``delta`` (imputed values + delta when ``lower_is_better``, as HbA1c);
      the control imputations stay MAR (a common, conservative choice: the treated
      dropouts lose the benefit, the control dropouts are like control completers);
    - ``"control"``: control patients without a value did *better* by ``delta``;
    - ``"both"``: both at once.

    ``deltas``: the grid, in the unit of the data (HbA1c %), each >= 0 (0 = MAR is added
    if absent). Earlier imputed visits are not shifted (only ``visit`` is analysed).
    Returns a :class:`DeltaAdjusted` with the conclusion per delta and the tipping delta.
    An arm without missing values at ``visit`` contributes no shift (say so: with the
    canonical data only placebo patients are missing).
    """
    shift = _check_choice("shift", shift, SHIFTS)
    alpha = _check_alpha(alpha)
    grid = sorted({0.0, *(float(d) for d in _as_vector("deltas", list(deltas)))})
    if grid[0] < 0:
        raise ValueError(f"deltas must be >= 0 (the direction is set by shift), got {grid[0]}")
    imp = impute_monotone(wide, n_imputations, seed, treatment=treatment, arm_col=arm_col)
    control = _control_label(wide, arm_col, treatment)
    col = _visit_index(imp, visit)
    worse = 1.0 if lower_is_better else -1.0
    imputed = ~imp.observed[:, col]
    direction = np.zeros(len(imp.treated))
    if shift in ("treatment", "both"):
        direction[imputed & imp.treated] = worse
    if shift in ("control", "both"):
        direction[imputed & ~imp.treated] = -worse

    def pooled(d: float) -> PooledEstimate:
        return _analyse(imp, visit, treatment, control, alpha, shift=d * direction).pooled

    results = [pooled(d) for d in grid]
    table = pd.DataFrame(
        {
            "delta": grid,
            "estimate": [r.estimate for r in results],
            "se": [r.se for r in results],
            "df": [r.df for r in results],
            "low": [r.low for r in results],
            "high": [r.high for r in results],
            "p": [r.p for r in results],
            "significant": [bool(r.p < alpha) for r in results],
        }
    )
    at_zero = results[0]
    base_sig = at_zero.p < alpha
    tip_grid: float | None = None
    tip: float | None = None
    for i in range(1, len(grid)):
        if (results[i].p < alpha) != base_sig:
            tip_grid = grid[i]
            lo, hi = grid[i - 1], grid[i]
            tip = float(optimize.brentq(lambda d: pooled(d).p - alpha, lo, hi, xtol=1e-8))
            break
    missing, n = _arm_counts(imp, col, treatment, control)
    return DeltaAdjusted(
        table=table,
        tipping_delta=tip,
        tipping_grid=tip_grid,
        at_zero=at_zero,
        shift=shift,
        alpha=alpha,
        missing=missing,
        n=n,
        method=(
            f"delta-adjusted MI ({imp.method}; m = {imp.m}, seed {imp.seed}), imputed "
            f"values at visit {imp.visits[col]} shifted ({shift}), ANCOVA, Rubin's rules"
        ),
    )


# =========================================================================== responders
@dataclass(frozen=True)
class TippingGrid:
    """Every way the missing patients' responder outcomes could have turned out.

    ``table``: one row per cell (k1, k2): k1 of the ``m1`` missing treated patients and k2
    of the ``m2`` missing controls were responders; x1, n1, x2, n2 of the completed
    table, rd (risk difference, fraction), p (``test``), significant (p < ``alpha``),
    changed (the conclusion differs from the complete-case analysis). ``complete_case``:
    the test on the observed patients only. ``tipping_cells``: the changed cells next to
    an unchanged one (the boundary). ``boundary``: for each k1, the fewest control
    responders k2 that change the conclusion (None: none does).
    ``control_responders_to_tip``: with every missing treated patient a responder (k1 =
    m1, the best case for the treatment), how many missing controls must be responders
    to change the conclusion; ``treated_nonresponders_to_tip``: with no missing control a
    responder (k2 = 0), how many missing treated patients must be non-responders (None:
    no number does).
    """

    table: pd.DataFrame = field(repr=False)
    x1: int
    n1: int
    m1: int
    x2: int
    n2: int
    m2: int
    test: str
    alpha: float
    complete_case: HypothesisTest
    tipping_cells: tuple[tuple[int, int], ...]
    boundary: dict[int, int | None]
    control_responders_to_tip: int | None
    treated_nonresponders_to_tip: int | None

    @property
    def p_grid(self) -> pd.DataFrame:
        """p-values as a k1 (rows) x k2 (columns) table."""
        return self.table.pivot(index="k1", columns="k2", values="p")

    @property
    def significant_grid(self) -> pd.DataFrame:
        """Significance (p < alpha) as a k1 x k2 table of booleans."""
        return self.table.pivot(index="k1", columns="k2", values="significant")

    def __str__(self) -> str:
        cc = "significant" if self.complete_case.p < self.alpha else "not significant"
        parts = [
            f"complete case {self.x1}/{self.n1} vs {self.x2}/{self.n2}: {cc} "
            f"({self.test} p = {self.complete_case.p:.4g}); {self.m1} and {self.m2} missing",
            f"{len(self.tipping_cells)} tipping cell(s) {list(self.tipping_cells)}",
        ]
        if self.control_responders_to_tip is not None:
            parts.append(
                f"{self.control_responders_to_tip} of the {self.m2} missing controls as "
                "responders change it even if every missing treated patient responded"
            )
        if self.treated_nonresponders_to_tip is not None:
            parts.append(
                f"{self.treated_nonresponders_to_tip} of the {self.m1} missing treated as "
                "non-responders change it even if no missing control responded"
            )
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: the counts, the p-value and significance grids (lists of rows,
        k1 = 0.. by k2 = 0..), rd grid, tipping cells, boundary and the two headline numbers."""
        return {
            "x1": self.x1,
            "n1": self.n1,
            "m1": self.m1,
            "x2": self.x2,
            "n2": self.n2,
            "m2": self.m2,
            "test": self.test,
            "alpha": self.alpha,
            "complete_case_p": self.complete_case.p,
            "k1": list(range(self.m1 + 1)),
            "k2": list(range(self.m2 + 1)),
            "p": self.p_grid.to_numpy().tolist(),
            "rd": self.table.pivot(index="k1", columns="k2", values="rd").to_numpy().tolist(),
            "significant": self.significant_grid.to_numpy().tolist(),
            "tipping_cells": [list(c) for c in self.tipping_cells],
            "boundary": {str(k): v for k, v in self.boundary.items()},
            "control_responders_to_tip": self.control_responders_to_tip,
            "treated_nonresponders_to_tip": self.treated_nonresponders_to_tip,
        }


def _check_missing_counts(
    x1: Any, n1: Any, m1: Any, x2: Any, n2: Any, m2: Any
) -> tuple[int, int, int, int, int, int]:
    out = []
    for (xn, x), (nn, n), (mn, mm) in (
        (("x1", x1), ("n1", n1), ("m1", m1)),
        (("x2", x2), ("n2", n2), ("m2", m2)),
    ):
        n_ = _check_int(nn, n)
        x_ = _check_int(xn, x)
        m_ = _check_int(mn, mm)
        if n_ < 1:
            raise ValueError(f"{nn} (observed patients) must be >= 1, got {n_}")
        if not 0 <= x_ <= n_:
            raise ValueError(f"{xn} must satisfy 0 <= {xn} <= {nn} = {n_}, got {x_}")
        if m_ < 0:
            raise ValueError(f"{mn} (missing patients) must be >= 0, got {m_}")
        out += [x_, n_, m_]
    return tuple(out)  # type: ignore[return-value]


def responder_tipping_point(
    x1: int,
    n1: int,
    m1: int,
    x2: int,
    n2: int,
    m2: int,
    test: str = "fisher",
    alpha: float = 0.05,
) -> TippingGrid:
    """Tipping-point grid for a binary endpoint with missing outcomes.

    ``x1`` responders of ``n1`` observed treated patients and ``m1`` treated patients
    without an outcome; ``x2``, ``n2``, ``m2`` the same for the control. Cell (k1, k2):
    k1 of the m1 and k2 of the m2 were responders, giving (x1 + k1)/(n1 + m1) vs (x2 +
    k2)/(n2 + m2); every k1 in 0..m1 and k2 in 0..m2. Each cell gets the risk difference
    (fraction) and the two-sided p of ``test`` (one of ``TIPPING_TESTS``: "fisher",
    "chi2", "chi2_yates", "z", "barnard", "boschloo", the functions of
    ``trialkit.stats.binary``). Cell (0, 0) is non-responder imputation. The reference
    conclusion is the complete-case analysis x1/n1 vs x2/n2 at ``alpha``; see
    :class:`TippingGrid` for where it changes.
    """
    x1, n1, m1, x2, n2, m2 = _check_missing_counts(x1, n1, m1, x2, n2, m2)
    test = _check_choice("test", test, tuple(TIPPING_TESTS))
    alpha = _check_alpha(alpha)
    fn = TIPPING_TESTS[test]
    cc = fn(x1, n1, x2, n2)
    cc_sig = cc.p < alpha
    # every cell at once: k1 (rows) x k2 (columns), flattened row by row
    k1, k2 = (g.ravel() for g in np.meshgrid(np.arange(m1 + 1), np.arange(m2 + 1), indexing="ij"))
    a, b = x1 + k1, x2 + k2
    na, nb = n1 + m1, n2 + m2
    if test == "fisher":  # scipy's algorithm on arrays (the other tests: cell by cell)
        p = _fisher_two_sided(a, na, b, nb)
    else:
        p = np.array([float(fn(int(i), na, int(j), nb).p) for i, j in zip(a, b, strict=True)])
    sig = p < alpha
    table = pd.DataFrame(
        {
            "k1": k1,
            "k2": k2,
            "x1": a,
            "n1": np.full(len(a), na),
            "x2": b,
            "n2": np.full(len(a), nb),
            "rd": a / na - b / nb,
            "p": p,
            "significant": sig,
            "changed": sig != cc_sig,
        }
    )
    changed = table["changed"].to_numpy().reshape(m1 + 1, m2 + 1)
    # a tipping cell: changed, next to an unchanged cell (up, down, left or right)
    unchanged = np.pad(~changed, 1, constant_values=False)
    near = unchanged[2:, 1:-1] | unchanged[:-2, 1:-1] | unchanged[1:-1, 2:] | unchanged[1:-1, :-2]
    cells = [(int(i), int(j)) for i, j in np.argwhere(changed & near)]
    boundary: dict[int, int | None] = {
        i: (int(np.argmax(row)) if row.any() else None) for i, row in enumerate(changed)
    }
    ctrl = boundary[m1]
    treated = next((m1 - i for i in range(m1, -1, -1) if changed[i, 0]), None)
    return TippingGrid(
        table=table,
        x1=x1,
        n1=n1,
        m1=m1,
        x2=x2,
        n2=n2,
        m2=m2,
        test=test,
        alpha=alpha,
        complete_case=cc,
        tipping_cells=tuple(cells),
        boundary=boundary,
        control_responders_to_tip=ctrl,
        treated_nonresponders_to_tip=treated,
    )


def _fisher_two_sided(a: np.ndarray, na: int, b: np.ndarray, nb: int) -> np.ndarray:
    """Two-sided p of Fisher's exact test of a/na vs b/nb for arrays of counts ``a``,
    ``b``: the algorithm of ``scipy.stats.fisher_exact`` (scipy 1.15: the tables no more
    probable than the observed, with its relative tolerance 1e-14 and its binary search
    for the other tail) run on arrays with scipy's vectorized ``hypergeom``, so each p
    is the one ``fisher_exact`` returns for that table (a test checks every cell of
    grids against ``stats.fisher_test``, bit for bit)."""
    hg = sps.hypergeom
    c00 = np.asarray(a, np.int64)
    c10 = np.asarray(b, np.int64)
    c01, c11 = na - c00, nb - c10
    r1, r2, col = c00 + c01, c10 + c11, c00 + c10  # scipy's n1, n2 and n
    total = r1 + r2
    empty = (r1 == 0) | (r2 == 0) | (col == 0) | (c01 + c11 == 0)  # p = 1 (scipy)
    mode = ((col + 1) * (r1 + 1) / (r1 + r2 + 2)).astype(np.int64)
    pexact = hg.pmf(c00, total, r1, col)
    pmode = hg.pmf(mode, total, r1, col)
    gamma = 1 + 1e-14
    with np.errstate(invalid="ignore", divide="ignore"):
        at_mode = np.abs(pexact - pmode) / np.maximum(pexact, pmode) <= 1e-14
    lower = c00 < mode
    # the observed tail, and whether the other tail has no table as improbable
    tail = np.where(lower, hg.cdf(c00, total, r1, col), hg.sf(c00 - 1, total, r1, col))
    far = hg.pmf(np.where(lower, col, 0), total, r1, col) > pexact * gamma
    # scipy's binary search (_binomtest._binary_search_for_binom_tst) on the other side
    # of the mode: f(x) = -pmf(x) on [mode, n] (lower) or pmf(x) on [0, mode]
    sign = np.where(lower, -1.0, 1.0)
    d = sign * pexact * gamma
    lo, hi = np.where(lower, mode, 0), np.where(lower, col, mode)
    guess = np.full(len(c00), -1, np.int64)
    search = ~(empty | at_mode | far)
    while True:
        go = search & (guess < 0) & (lo < hi)
        if not go.any():
            break
        mid = lo + (hi - lo) // 2
        val = sign * hg.pmf(mid, total, r1, col)
        guess = np.where(go & (val == d), mid, guess)
        lo = np.where(go & (val < d), mid + 1, lo)
        hi = np.where(go & (val > d), mid - 1, hi)
    left = search & (guess < 0)
    at_lo = sign * hg.pmf(lo, total, r1, col) <= d
    guess = np.where(left, np.where(at_lo, lo, lo - 1), guess)
    other = np.where(lower, hg.sf(guess, total, r1, col), hg.cdf(guess, total, r1, col))
    p = np.where(far, tail, tail + other)
    p = np.where(empty | at_mode, 1.0, p)
    return np.minimum(p, 1.0)


def _wald_rd(a: np.ndarray, na: int, b: np.ndarray, nb: int) -> tuple[np.ndarray, np.ndarray]:
    p1, p2 = a / na, b / nb
    return p1 - p2, p1 * (1 - p1) / na + p2 * (1 - p2) / nb


def responder_mi(
    x1: int,
    n1: int,
    m1: int,
    x2: int,
    n2: int,
    m2: int,
    n_imputations: int = 100,
    seed: int = 0,
    *,
    prior: tuple[float, float] = (0.5, 0.5),
    alpha: float = 0.05,
) -> PooledEstimate:
    """Multiple imputation of a missing binary outcome from the responder rate of its arm.

    For each of ``n_imputations`` imputations and each arm: draw the responder rate from
    its posterior Beta(x + a, n - x + b) given the observed x/n (``prior`` = (a, b),
    default Jeffreys (0.5, 0.5)), then the number of responders among the m missing
    from Binomial(m, rate). The completed risk difference (x1 + k1)/(n1 + m1) - (x2 +
    k2)/(n2 + m2) and its Wald variance are pooled with :func:`rubin` (large-sample, df
    infinite before the Barnard-Rubin correction). The imputation model assumes the
    outcome is missing at random within arm (no covariates): it keeps each arm's observed
    rate, unlike non-responder imputation, and widens the interval for the missing.
    """
    x1, n1, m1, x2, n2, m2 = _check_missing_counts(x1, n1, m1, x2, n2, m2)
    m = _check_int("n_imputations", n_imputations)
    if m < 2:
        raise ValueError(f"n_imputations must be >= 2, got {n_imputations!r}")
    a0, b0 = (float(v) for v in prior)
    if not (a0 > 0 and b0 > 0):
        raise ValueError(f"prior must be two positive Beta parameters, got {prior!r}")
    alpha = _check_alpha(alpha)
    rng = np.random.default_rng(_check_int("seed", seed))
    counts = np.array([[x1, n1, m1, x2, n2, m2]])
    est, var = _responder_mi_batch(counts, m, [rng], (a0, b0))
    res = rubin(est[0], var[0], None, alpha, "risk difference")
    return replace(
        res,
        method=(
            f"MI of the responder outcome from the arm's rate (Beta({a0:g}, {b0:g}) prior), "
            f"m = {m}, Wald variance, Rubin's rules"
        ),
    )


def responder_analyses(
    x1: int,
    n1: int,
    m1: int,
    x2: int,
    n2: int,
    m2: int,
    *,
    test: str = "fisher",
    n_imputations: int = 100,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Complete case, non-responder imputation and multiple imputation side by side.

    One row per analysis: "complete case" (x1/n1 vs x2/n2), "non-responder imputation"
    (x1/(n1 + m1) vs x2/(n2 + m2)), "best case" and "worst case" for the treatment (every
    missing treated patient a responder and no missing control, and the reverse), and
    "multiple imputation" (:func:`responder_mi`). Columns: analysis, treated, control (the
    tables as "x/n"; for MI "x/n + m imputed"), rd (fraction), low, high (Wald
    interval; for MI Rubin's t interval), p (``test`` for the first four, Rubin's t-test
    for MI), test, significant, assumption (what the analysis assumes about the missing).
    ``attrs["mi"]`` holds the MI's :class:`PooledEstimate`.
    """
    x1, n1, m1, x2, n2, m2 = _check_missing_counts(x1, n1, m1, x2, n2, m2)
    test = _check_choice("test", test, tuple(TIPPING_TESTS))
    alpha = _check_alpha(alpha)
    from trialkit.stats.binary import risk_difference

    fn = TIPPING_TESTS[test]
    rows = []
    tables = (
        ("complete case", x1, n1, x2, n2, "missing outcomes are like the observed (MCAR)"),
        (
            "non-responder imputation",
            x1,
            n1 + m1,
            x2,
            n2 + m2,
            "every missing patient is a non-responder (composite: dropout = failure)",
        ),
        ("best case", x1 + m1, n1 + m1, x2, n2 + m2, "missing treated respond, controls do not"),
        ("worst case", x1, n1 + m1, x2 + m2, n2 + m2, "missing controls respond, treated do not"),
    )
    for name, a, na, b, nb, assumption in tables:
        rd = risk_difference(a, na, b, nb, method="wald", alpha=alpha)
        p = float(fn(a, na, b, nb).p)
        rows.append(
            {
                "analysis": name,
                "treated": f"{a}/{na}",
                "control": f"{b}/{nb}",
                "rd": rd.estimate,
                "low": rd.low,
                "high": rd.high,
                "p": p,
                "test": test,
                "significant": bool(p < alpha),
                "assumption": assumption,
            }
        )
    mi = responder_mi(x1, n1, m1, x2, n2, m2, n_imputations, seed, alpha=alpha)
    rows.append(
        {
            "analysis": "multiple imputation",
            "treated": f"{x1}/{n1} + {m1} imputed",
            "control": f"{x2}/{n2} + {m2} imputed",
            "rd": mi.estimate,
            "low": mi.low,
            "high": mi.high,
            "p": mi.p,
            "test": "rubin_t",
            "significant": bool(mi.p < alpha),
            # conditions on arm only: the assumption of complete case, not MAR given visits
            "assumption": "missing outcomes are like the observed of the same arm "
            "(MCAR within arm)",
        }
    )
    out = pd.DataFrame(rows)
    out.attrs["mi"] = mi
    return out


# =========================================================================== dropout
def _calibrate(score: np.ndarray, slope: float, rate: float) -> np.ndarray:
    """Dropout probabilities expit(a + slope * score) with ``a`` chosen so that their mean
    over the last axis (the patients) is ``rate`` (the expected share dropping out).
    ``score``: (..., n), one ``a`` per row, found by bisection on [-60, 60] to the last
    bit (row by row: a row's result does not depend on the other rows)."""
    if slope == 0:
        return np.full(score.shape, rate)
    z = slope * (score - score.mean(axis=-1, keepdims=True))
    lo = np.full(score.shape[:-1] + (1,), -60.0)
    hi = np.full(score.shape[:-1] + (1,), 60.0)
    for _ in range(80):  # 120 / 2^80 is below the spacing of doubles near any root
        mid = (lo + hi) / 2
        high = special.expit(mid + z).mean(axis=-1, keepdims=True) > rate
        new_hi, new_lo = np.where(high, mid, hi), np.where(high, lo, mid)
        if np.array_equal(new_hi, hi) and np.array_equal(new_lo, lo):
            break  # a fixed point (about 60 steps): the steps left change nothing
        hi, lo = new_hi, new_lo
    return special.expit((lo + hi) / 2 + z)


def _dropout_mask(
    values: np.ndarray,
    mechanism: str,
    rate: float,
    slope: float,
    uniform: np.ndarray,
    decision: np.ndarray,
) -> np.ndarray:
    """Observed mask (..., n, v) for monotone dropout after visit ``decision`` (..., n;
    column index 1..v-2), for the patients with ``uniform`` (..., n) below their dropout
    probability; ``values`` (..., n, v), any number of leading (trial) dimensions."""
    v = values.shape[-1]
    if mechanism == "MCAR":
        prob = np.full(uniform.shape, rate)
    elif mechanism == "MAR":
        at = np.take_along_axis(values, decision[..., None], axis=-1)[..., 0]
        prob = _calibrate(at, slope, rate)
    else:
        prob = _calibrate(values[..., -1], slope, rate)
    drop = uniform < prob
    last = np.where(drop, decision, v - 1)
    return np.arange(v) <= last[..., None]


def _check_rate_slope(rate: Any, slope: Any) -> tuple[float, float]:
    if isinstance(rate, bool) or not isinstance(rate, int | float | np.number):
        raise ValueError(f"rate must be a probability in (0, 1), got {rate!r}")
    if not 0 < float(rate) < 1:
        raise ValueError(f"rate must be a probability in (0, 1), got {rate!r}")
    if isinstance(slope, bool) or not isinstance(slope, int | float | np.number):
        raise ValueError(f"slope must be a number (log-odds per unit), got {slope!r}")
    if not math.isfinite(float(slope)):
        raise ValueError(f"slope must be finite, got {slope!r}")
    return float(rate), float(slope)


def impose_dropout(
    wide: pd.DataFrame,
    mechanism: str = "MAR",
    rate: float = 0.3,
    slope: float = 1.0,
    seed: int = 0,
    *,
    arm_col: str = "ARM",
) -> pd.DataFrame:
    """Monotone dropout imposed on complete visit-wise data (for teaching and simulation).

    ``wide``: complete data, one row per patient, ``arm_col`` then the visits in time
    order (baseline first, the endpoint visit last; ``visits_wide``). Each patient gets a
    decision visit, uniformly one of the visits strictly between the baseline and the last,
    after which they may leave (their later values become NaN). Whether they leave:

    - ``"MCAR"``: with probability ``rate`` for everybody;
    - ``"MAR"``: with probability expit(a + ``slope`` x value at the decision visit), a
      value that is *observed* (e.g. a patient with a high HbA1c leaves for lack of
      efficacy);
    - ``"MNAR"``: expit(a + ``slope`` x value at the *last* visit), which is missing
      exactly when the patient leaves.

    ``a`` is chosen so the probabilities average ``rate`` over the patients: every
    mechanism loses the same expected share. ``slope`` in log-odds per unit of the data
    (per 1 % HbA1c); positive: higher values leave more often. Same ``seed``, same
    decision visits and uniforms for every mechanism (common random numbers). The result
    keeps the input's attrs and adds ``attrs["dropout"]``.
    """
    mechanism = _check_choice("mechanism", mechanism, MECHANISMS)
    rate, slope = _check_rate_slope(rate, slope)
    if arm_col not in wide.columns:
        raise ValueError(f"wide: no arm column {arm_col!r}")
    visits = [c for c in wide.columns if c != arm_col]
    values = wide[visits].to_numpy(dtype=float)
    if np.isnan(values).any():
        raise ValueError("wide: impose_dropout needs complete data (no NaN)")
    if len(visits) < 3:
        raise ValueError(f"wide: need a baseline, a visit to leave after and the last; {visits}")
    rng = np.random.default_rng(_check_int("seed", seed))
    n = len(values)
    decision = rng.integers(1, len(visits) - 1, size=n)
    uniform = rng.random(n)
    mask = _dropout_mask(values, mechanism, rate, slope, uniform, decision)
    out = wide.copy()
    out[visits] = np.where(mask, values, np.nan)
    out.attrs = dict(wide.attrs)
    out.attrs["dropout"] = {"mechanism": mechanism, "rate": rate, "slope": slope, "seed": seed}
    return out


def dropout_trial(
    data: Mapping[str, pd.DataFrame],
    mechanism: str = "MAR",
    rate: float = 0.3,
    slope: float = 1.0,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """A copy of a complete trial in which patients leave by ``mechanism`` (for teaching).

    ``data``: datasets as from ``trialkit.cohort.simulate(..., dropout=0.0)`` (ADSL,
    ADLB, ADEX, optional ADAE), with HbA1c observed at every visit for every randomized
    patient. Dropout is drawn on the HbA1c visits by :func:`impose_dropout`
    (``mechanism``, ``rate``, ``slope`` in log-odds per 1 % HbA1c, ``seed``). A patient
    who leaves after week w loses every ADLB and ADEX record after week w and every
    adverse event after the study day of that visit; in ADSL they get FASFL = PPSFL =
    "N" (no week-48 data; the assumption ``analysis_set``: completers) and DCSREAS
    "Left the study (simulated <mechanism> dropout)". Every table keeps SYNTHETIC = "Y",
    and its provenance names this call.
    """
    for name in ("ADSL", "ADLB", "ADEX"):
        if name not in data:
            raise ValueError(f"data: missing dataset {name}")
    adsl = data["ADSL"]
    wide = visits_wide(adsl, data["ADLB"], "HBA1C", "randomized")
    if wide.drop(columns="ARM").isna().any().any():
        raise ValueError(
            "data: HbA1c must be observed at every visit for every randomized patient "
            "(simulate with dropout=0.0 first)"
        )
    masked = impose_dropout(wide, mechanism, rate, slope, seed)
    visits = [c for c in masked.columns if c != "ARM"]
    observed = masked[visits].notna().to_numpy()
    last = pd.Series(np.asarray(visits)[observed.sum(axis=1) - 1], index=masked.index)
    left = last < visits[-1]
    call = (
        f"trialkit.stats.dropout_trial(mechanism={mechanism!r}, rate={rate!r}, "
        f"slope={slope!r}, seed={seed!r})"
    )
    out: dict[str, pd.DataFrame] = {}
    for name, df in data.items():
        df = df.copy()
        if name in ("ADLB", "ADEX"):
            keep = df["AVISITN"] <= df["USUBJID"].map(last).fillna(np.inf)
            df = df.loc[keep].reset_index(drop=True)
        elif name == "ADAE":
            lb = data["ADLB"]
            at_last = lb.loc[
                (lb["PARAMCD"] == "HBA1C") & (lb["AVISITN"] == lb["USUBJID"].map(last))
            ]
            last_day = at_last.groupby("USUBJID")["ADY"].max()
            keep = df["ASTDY"] <= df["USUBJID"].map(last_day).fillna(np.inf)
            df = df.loc[keep].reset_index(drop=True)
        elif name == "ADSL":
            gone = df["USUBJID"].map(left).fillna(False).astype(bool)
            df.loc[gone, ["FASFL", "PPSFL"]] = "N"
            df.loc[gone, "DCSREAS"] = f"Left the study (simulated {mechanism} dropout)"
        df.attrs = dict(data[name].attrs)
        df.attrs["synthetic"] = True
        df.attrs["provenance"] = f"{data[name].attrs.get('provenance', '')}; then {call}"
        out[name] = df
    return out


# =========================================================================== simulation
@dataclass(frozen=True)
class DropoutSimulation:
    """Result of :func:`dropout_simulation`.

    ``trials``: one row per trial x mechanism x endpoint x method (estimate, se, low,
    high, covered, rejected, dropout shares per arm); ``summary``: one row per endpoint x
    method x mechanism with bias (mean estimate minus ``truth``), bias_mc_se (Monte Carlo
    SE of the bias), empirical_se (SD of the estimates), model_se (mean SE),
    coverage (share of intervals containing the truth) and coverage_mc_se, rejection
    (share with p < alpha), failed (MMRM fits that did not converge, left out), dropout
    (mean share missing at the last visit); ``truth``: the true value per endpoint;
    ``settings``. Every row is SYNTHETIC.
    """

    trials: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    truth: dict[str, float]
    settings: dict[str, Any]

    def table(self, value: str = "bias") -> pd.DataFrame:
        """``value`` (a column of ``summary``) as endpoint/method rows x mechanism columns."""
        if value not in self.summary.columns:
            raise ValueError(f"value must be a column of summary, got {value!r}")
        t = self.summary.pivot_table(
            index=["endpoint", "method"], columns="mechanism", values=value, sort=False
        )
        return t[[c for c in MECHANISMS if c in t.columns]]

    def __str__(self) -> str:
        s = self.settings
        return (
            f"SYNTHETIC dropout simulation: {s['n_sim']} trials x {len(s['mechanisms'])} "
            f"mechanisms, dropout rate {s['rate']:g}, slope {s['slope']:g}, "
            f"m = {s['n_imputations']}; truth {self.truth}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: truth, settings, and bias / coverage / MC SE as nested dicts
        ``{endpoint: {method: {mechanism: value}}}``."""
        out: dict[str, Any] = {"truth": dict(self.truth), "settings": _plain_dict(self.settings)}
        for col in ("bias", "bias_mc_se", "coverage", "coverage_mc_se", "empirical_se"):
            nested: dict[str, dict[str, dict[str, float]]] = {}
            for r in self.summary.itertuples(index=False):
                nested.setdefault(r.endpoint, {}).setdefault(r.method, {})[r.mechanism] = float(
                    getattr(r, col)
                )
            out[col] = nested
        return out


def _plain_dict(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


#: Method names of the simulation, per endpoint.
_HBA1C_METHODS: Final[tuple[str, ...]] = (
    "complete data",
    "complete case",
    "MI (MAR)",
    "MMRM (MAR)",
)
_RESP_METHODS: Final[tuple[str, ...]] = (
    "complete data",
    "complete case",
    "non-responder imputation",
    "MI within arm (MCAR)",
)


def _complete_trial(
    seed: np.random.SeedSequence, n_per_arm: tuple[int, int], effect: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HbA1c (n x visits), treated (n,), responder (n,) of one complete SYNTHETIC trial."""
    from trialkit import cohort, published

    data = cohort.simulate(n_per_arm, seed=seed, effect=effect, dropout=0.0)
    lb, ex, sl = data["ADLB"], data["ADEX"], data["ADSL"]
    h = lb.loc[lb["PARAMCD"] == "HBA1C"].pivot(index="USUBJID", columns="AVISITN", values="AVAL")
    d = ex.loc[ex["PARAMCD"] == "INSDOSE"].pivot(index="USUBJID", columns="AVISITN", values="AVAL")
    arm = sl.set_index("USUBJID")["ARM"].reindex(h.index)
    d = d.reindex(h.index)
    hv = h.to_numpy(dtype=float)
    pchg = 100 * (d.iloc[:, -1].to_numpy(float) - d.iloc[:, 0].to_numpy(float))
    pchg = pchg / d.iloc[:, 0].to_numpy(float)
    cut = float(published.value("primary_endpoint_hba1c_threshold"))
    red = float(published.value("primary_endpoint_insulin_threshold"))
    resp = (hv[:, -1] < cut - 1e-9) & (pchg <= -red + 1e-9)
    return hv, (arm == "UC-MSC").to_numpy(), resp


def _model_constants() -> tuple[dict[str, Any], float, float]:
    """The cohort model's settings (``assumptions._settings``) and the composite's HbA1c
    threshold (%) and insulin reduction (%), read once per simulation, not per batch."""
    from trialkit import published
    from trialkit.assumptions import _settings

    return (
        _settings(None),
        float(published.value("primary_endpoint_hba1c_threshold")),
        float(published.value("primary_endpoint_insulin_threshold")),
    )


def _complete_trials(
    seeds: Sequence[np.random.SeedSequence],
    n_per_arm: tuple[int, int],
    effect: float,
    model: tuple[dict[str, Any], float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HbA1c (k x n x visits), treated (k, n), responder (k, n) of ``k`` complete
    SYNTHETIC trials at once: trial ``i`` is ``trialkit.cohort.simulate(n_per_arm,
    seed=seeds[i], effect=effect, dropout=0.0)`` (patients in the order of USUBJID), its
    datasets never built. Uses the generative model's own pieces (``trial_model``): the
    core values of all trials as arrays, each trial from its own generator, then that
    generator's randomization list and visit deviations, as ``simulate`` draws them
    (``tests/test_stats_missing.py`` checks the identity with ``_complete_trial``).
    ``model``: :func:`_model_constants` (None: read them)."""
    from trialkit import trial_model

    s, cut, red = _model_constants() if model is None else model
    n = int(n_per_arm[0]) + int(n_per_arm[1])
    k = len(seeds)
    rngs = [np.random.default_rng(x) for x in seeds]
    c = trial_model._draw_core(trial_model._Rows(rngs, n), n_per_arm, k, s, float(effect), 0.0)
    weeks = np.asarray(s["visit_weeks"])
    mid = weeks[1:-1]
    chol = trial_model._ar1_chol(mid, s["visit_noise_corr_12w"])
    order = np.empty((k, n), np.int64)
    z_h = np.empty((k, n, len(mid)))
    for i, rng in enumerate(rngs):  # what simulate draws next: _allocate, then z_h
        order[i] = rng.permutation(n)
        z_h[i] = rng.standard_normal((n, len(mid))) @ chol.T
    base, w48 = c["hba1c_base"], c["hba1c_w48"]
    hv = np.empty((k, n, len(weeks)))
    hv[..., 0], hv[..., -1] = base, w48
    f = np.asarray(s["hba1c_shape"], float)[1:-1]
    path = base[..., None] + (w48 - base)[..., None] * f
    noisy = trial_model._round(path + s["hba1c_visit_sd"] * z_h, s["lab_decimals"]["HBA1C"])
    hv[..., 1:-1] = np.clip(noisy, *s["hba1c_range"]["visits"])
    hv = hv[..., np.isin(weeks, s["lab_visits"]["HBA1C"])]
    pchg = 100 * (c["ins_w48"] - c["ins_base"]) / c["ins_base"]
    resp = (hv[..., -1] < cut - 1e-9) & (pchg <= -red + 1e-9)
    # rows in the order of the subject ids SYN-001, SYN-002, ... (patient j is order[j] + 1)
    labels = np.char.add("SYN-", np.char.zfill((order + 1).astype(str), 3))
    idx = np.argsort(labels, axis=1, kind="stable")
    take = np.take_along_axis
    return (
        take(hv, idx[..., None], axis=1),
        take(np.asarray(c["ucmsc"], bool), idx, axis=1),
        take(resp, idx, axis=1),
    )


def _ancova_batch(
    y: np.ndarray, base: np.ndarray, treated: np.ndarray, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OLS of ``y`` (B, m, n) on 1 + base + treated (each (B, n)) with 0/1 weights ``w``
    (B, n; None: everybody), for B data sets and m outcomes each: the arm coefficient
    (B, m), its variance (B, m) and the residual df (B,) = sum(w) - 3."""
    w = np.ones(base.shape) if w is None else w.astype(float)
    X = np.stack([np.ones(base.shape), base, treated.astype(float)], axis=-1)  # (B, n, 3)
    Xw = X * w[..., None]
    inv = np.linalg.inv(np.einsum("bnp,bnq->bpq", Xw, X))
    beta = np.einsum("bmn,bnp->bmp", np.where(w[:, None] > 0, y, 0.0), Xw) @ inv
    resid = (y - np.einsum("bmp,bnp->bmn", beta, X)) * w[:, None]
    df = w.sum(axis=-1) - 3
    s2 = np.einsum("bmn,bmn->bm", resid, resid) / df[:, None]
    return beta[..., 2], s2 * inv[:, None, 2, 2], df


def _rubin_batch(
    q: np.ndarray, u: np.ndarray, df_complete: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rubin's rules (the formulas of :func:`rubin`) for B sets of m estimates ``q`` and
    variances ``u`` (B, m), complete-data df (B,; inf: large sample): pooled estimate, SE
    and Barnard-Rubin df, each (B,)."""
    m = q.shape[1]
    qbar, ubar, b = q.mean(axis=1), u.mean(axis=1), q.var(axis=1, ddof=1)
    t = ubar + (1 + 1 / m) * b
    lam = np.maximum((1 + 1 / m) * b / t, _LAMBDA_FLOOR)
    df_old = (m - 1) / lam**2
    with np.errstate(invalid="ignore"):
        dfc = np.asarray(df_complete, float)
        df_obs = (dfc + 1) / (dfc + 3) * dfc * (1 - lam)
        df = np.where(np.isinf(dfc), df_old, df_old * df_obs / (df_old + df_obs))
    return qbar, np.sqrt(t), df


def _responder_mi_batch(
    counts: np.ndarray, m: int, rngs: Sequence[np.random.Generator], prior: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The imputations of :func:`responder_mi` for B tables at once: ``counts`` (B, 6) of
    x1, n1, m1, x2, n2, m2; data set ``b`` draws from ``rngs[b]`` exactly as
    ``responder_mi`` does (Beta rate, then Binomial count, treatment arm first). Returns
    the completed risk differences and their Wald variances, each (B, m)."""
    a0, b0 = prior
    k = np.empty((len(counts), 2, m), np.int64)
    for i, rng in enumerate(rngs):
        for j, (x, n, mm) in enumerate((counts[i, :3], counts[i, 3:])):
            rate = rng.beta(x + a0, n - x + b0, size=m)
            k[i, j] = rng.binomial(mm, rate)
    c = counts[:, :, None]
    return _wald_rd(c[:, 0] + k[:, 0], c[:, 1] + c[:, 2], c[:, 3] + k[:, 1], c[:, 4] + c[:, 5])


def _t_ci(est: float, se: float, df: float, alpha: float) -> tuple[float, float, float]:
    q = float(sps.t.isf(alpha / 2, df)) if math.isfinite(df) else float(sps.norm.isf(alpha / 2))
    p = float(
        2 * (sps.t.sf(abs(est / se), df) if math.isfinite(df) else sps.norm.sf(abs(est / se)))
    )
    return est - q * se, est + q * se, p


def _one_trial(
    i: int,
    seed: int,
    n_per_arm: tuple[int, int],
    effect: float,
    mechanisms: Sequence[str],
    rate: float,
    slope: float,
    m: int,
    alpha: float,
    with_mmrm: bool = False,
) -> list[dict[str, Any]]:
    """Trial ``i`` of the simulation computed on its own, one step at a time
    (``cohort.simulate``, :func:`multiple_imputation`, :func:`responder_mi`,
    :func:`rubin`): the reference that the vectorized :func:`_trials_batch`, which
    :func:`dropout_simulation` uses, is tested against."""
    ss = np.random.SeedSequence(seed, spawn_key=(i,))
    data_seed, drop_seed, imp_seed = ss.spawn(3)
    hv, treated, resp = _complete_trial(data_seed, n_per_arm, effect)
    n, v = hv.shape
    rng = np.random.default_rng(drop_seed)
    decision = rng.integers(1, v - 1, size=n)
    uniform = rng.random(n)
    imp_entropy = int(imp_seed.generate_state(1)[0])
    rows: list[dict[str, Any]] = []
    n1, n2 = int(treated.sum()), int((~treated).sum())

    def add(mech: str, endpoint: str, method: str, fit: tuple[float, float, float]) -> None:
        est, se, df = fit
        low, high, p = _t_ci(est, se, df, alpha)
        rows.append(
            {
                "trial": i,
                "mechanism": mech,
                "endpoint": endpoint,
                "method": method,
                "estimate": est,
                "se": se,
                "low": low,
                "high": high,
                "p": p,
                "dropout_treated": d1,
                "dropout_control": d2,
            }
        )

    # complete data (the same for every mechanism)
    est, var, df = _ancova_many(hv[None, :, -1], hv[:, 0], treated)
    full_h = (float(est[0]), math.sqrt(var[0]), float(df))
    rd, rv = _wald_rd(np.array(resp[treated].sum()), n1, np.array(resp[~treated].sum()), n2)
    full_r = (float(rd), math.sqrt(float(rv)), math.inf)
    for mech in mechanisms:
        obs = _dropout_mask(hv, mech, rate, slope, uniform, decision)
        done = obs[:, -1]
        d1, d2 = 1 - done[treated].mean(), 1 - done[~treated].mean()
        add(mech, "HbA1c", "complete data", full_h)
        add(mech, "responder", "complete data", full_r)
        # HbA1c: complete case
        est, var, df = _ancova_many(hv[None, done, -1], hv[done, 0], treated[done])
        add(mech, "HbA1c", "complete case", (float(est[0]), math.sqrt(var[0]), float(df)))
        # HbA1c: MI under MAR
        wide = pd.DataFrame(np.where(obs, hv, np.nan))
        wide.insert(0, "ARM", np.where(treated, "UC-MSC", "Placebo"))
        mi = multiple_imputation(wide, m, imp_entropy, alpha=alpha).pooled
        add(mech, "HbA1c", "MI (MAR)", (mi.estimate, mi.se, mi.df))
        if with_mmrm:
            add(mech, "HbA1c", "MMRM (MAR)", _mmrm_week(hv, obs, treated, alpha))
        # responder endpoint
        x1, o1 = int(resp[treated & done].sum()), int((treated & done).sum())
        x2, o2 = int(resp[~treated & done].sum()), int((~treated & done).sum())
        rd, rv = _wald_rd(np.array(x1), o1, np.array(x2), o2)
        add(mech, "responder", "complete case", (float(rd), math.sqrt(float(rv)), math.inf))
        rd, rv = _wald_rd(np.array(x1), n1, np.array(x2), n2)
        nri = (float(rd), math.sqrt(float(rv)), math.inf)
        add(mech, "responder", "non-responder imputation", nri)
        rmi = responder_mi(x1, o1, n1 - o1, x2, o2, n2 - o2, m, imp_entropy, alpha=alpha)
        add(mech, "responder", "MI within arm (MCAR)", (rmi.estimate, rmi.se, rmi.df))
    return rows


def _trials_batch(
    trials: Sequence[int],
    seed: int,
    n_per_arm: tuple[int, int],
    effect: float,
    mechanisms: Sequence[str],
    rate: float,
    slope: float,
    m: int,
    alpha: float,
    with_mmrm: bool = False,
    model: tuple[dict[str, Any], float, float] | None = None,
) -> pd.DataFrame:
    """The rows of :func:`_one_trial` for several trials at once, as arrays: every trial
    and mechanism is a slice of the same arrays (complete trials, dropout masks, the
    imputations of all of them in one :func:`_impute_many` call, batched ANCOVA and
    Rubin's rules). Trial ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))`` alone,
    so its rows do not depend on which other trials share the batch."""
    ss = [np.random.SeedSequence(seed, spawn_key=(i,)).spawn(3) for i in trials]
    hv, treated, resp = _complete_trials([x[0] for x in ss], n_per_arm, effect, model)
    k, n, v = hv.shape
    M = len(mechanisms)
    decision = np.empty((k, n), np.int64)
    uniform = np.empty((k, n))
    for j, x in enumerate(ss):
        rng = np.random.default_rng(x[1])
        decision[j] = rng.integers(1, v - 1, size=n)
        uniform[j] = rng.random(n)
    entropy = [int(x[2].generate_state(1)[0]) for x in ss]
    obs = np.stack(
        [_dropout_mask(hv, mech, rate, slope, uniform, decision) for mech in mechanisms], axis=1
    )  # (k, M, n, v)
    done = obs[..., -1]
    trt = np.broadcast_to(treated[:, None], done.shape)
    n1 = treated.sum(axis=1)[:, None]
    n2 = n - n1
    d1 = 1 - (done & trt).sum(axis=-1) / n1
    d2 = 1 - (done & ~trt).sum(axis=-1) / n2
    flat = (k * M, n)
    # HbA1c: complete data (per trial), complete case and MI (per trial and mechanism)
    e, u, df = _ancova_batch(hv[:, None, :, -1], hv[..., 0], treated)
    full_h = (
        np.repeat(e, M, axis=1),
        np.sqrt(np.repeat(u, M, axis=1)),
        np.repeat(df[:, None], M, axis=1),
    )
    base = np.broadcast_to(hv[:, None, :, 0], done.shape).reshape(flat)
    last = np.broadcast_to(hv[:, None, :, -1], done.shape).reshape(flat)
    e, u, df = _ancova_batch(last[:, None], base, trt.reshape(flat), done.reshape(flat))
    cc_h = (e[:, 0].reshape(k, M), np.sqrt(u[:, 0]).reshape(k, M), df.reshape(k, M))
    values = np.where(obs, hv[:, None], np.nan).reshape(k * M, n, v)
    rngs = [np.random.default_rng(entropy[j]) for j in range(k) for _ in mechanisms]
    out = _impute_many(values, trt.reshape(flat), m, rngs)
    e, u, df = _ancova_batch(out[..., -1], base, trt.reshape(flat))
    q, se, dfr = _rubin_batch(e, u, df)
    mi_h = (q.reshape(k, M), se.reshape(k, M), dfr.reshape(k, M))
    # responder endpoint
    x1 = (resp & treated).sum(axis=1)[:, None]
    x2 = (resp & ~treated).sum(axis=1)[:, None]
    rd, rv = _wald_rd(x1, n1, x2, n2)
    inf = np.full((k, M), np.inf)
    full_r = (np.repeat(rd, M, axis=1), np.sqrt(np.repeat(rv, M, axis=1)), inf)
    rsp = np.broadcast_to(resp[:, None], done.shape)
    cx1, co1 = (rsp & trt & done).sum(-1), (trt & done).sum(-1)
    cx2, co2 = (rsp & ~trt & done).sum(-1), (~trt & done).sum(-1)
    rd, rv = _wald_rd(cx1, co1, cx2, co2)
    cc_r = (rd, np.sqrt(rv), inf)
    rd, rv = _wald_rd(cx1, n1, cx2, n2)
    nri = (rd, np.sqrt(rv), inf)
    counts = np.stack([cx1, co1, n1 - co1, cx2, co2, n2 - co2], axis=-1).reshape(k * M, 6)
    rngs = [np.random.default_rng(entropy[j]) for j in range(k) for _ in mechanisms]
    e, u = _responder_mi_batch(counts, m, rngs, (0.5, 0.5))
    q, se, dfr = _rubin_batch(e, u, np.full(k * M, np.inf))
    mi_r = (q.reshape(k, M), se.reshape(k, M), dfr.reshape(k, M))
    parts = [
        ("HbA1c", "complete data", full_h),
        ("responder", "complete data", full_r),
        ("HbA1c", "complete case", cc_h),
        ("HbA1c", "MI (MAR)", mi_h),
    ]
    if with_mmrm:
        fits = [_mmrm_week(hv[j], obs[j, i], treated[j], alpha) for j in range(k) for i in range(M)]
        cols = tuple(np.array(f).reshape(k, M) for f in zip(*fits, strict=True))
        parts.append(("HbA1c", "MMRM (MAR)", cols))
    parts += [
        ("responder", "complete case", cc_r),
        ("responder", "non-responder imputation", nri),
        ("responder", "MI within arm (MCAR)", mi_r),
    ]
    R = len(parts)
    est = np.stack([p[2][0] for p in parts], axis=-1).ravel()  # (k, M, R)
    se = np.stack([p[2][1] for p in parts], axis=-1).ravel()
    dfs = np.stack([p[2][2] for p in parts], axis=-1).ravel()
    finite = np.isfinite(dfs)
    with np.errstate(invalid="ignore", divide="ignore"):
        dft = np.where(finite, dfs, 1)
        q = np.where(finite, sps.t.isf(alpha / 2, dft), sps.norm.isf(alpha / 2))
        z = np.abs(est / se)
        p = np.where(finite, 2 * sps.t.sf(z, dft), 2 * sps.norm.sf(z))
    return pd.DataFrame(
        {
            "trial": np.repeat(np.asarray(trials), M * R),
            "mechanism": np.tile(np.repeat(np.asarray(mechanisms, dtype=object), R), k),
            "endpoint": np.tile(np.array([x[0] for x in parts], dtype=object), k * M),
            "method": np.tile(np.array([x[1] for x in parts], dtype=object), k * M),
            "estimate": est,
            "se": se,
            "low": est - q * se,
            "high": est + q * se,
            "p": p,
            "dropout_treated": np.repeat(d1.ravel(), R),
            "dropout_control": np.repeat(d2.ravel(), R),
        }
    )


def _mmrm_week(
    hv: np.ndarray, obs: np.ndarray, treated: np.ndarray, alpha: float
) -> tuple[float, float, float]:
    """MMRM (``stats.continuous.mmrm``) of the change from baseline at the post-baseline
    visits of one simulated trial: the last visit's difference, SE and df."""
    import warnings

    from trialkit.stats.continuous import ConvergenceWarning, mmrm

    n, v = hv.shape
    subj, visit = np.meshgrid(np.arange(n), np.arange(1, v), indexing="ij")
    keep = obs[:, 1:].ravel()
    long = pd.DataFrame(
        {
            "USUBJID": subj.ravel()[keep],
            "AVISITN": visit.ravel()[keep],
            "ARM": np.where(treated, "UC-MSC", "Placebo")[subj.ravel()[keep]],
            "BASE": hv[subj.ravel()[keep], 0],
            "CHG": (hv[:, 1:] - hv[:, :1]).ravel()[keep],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = mmrm(long, "CHG", visits=list(range(1, v)), alpha=alpha)
    if not fit.converged:
        return (math.nan, math.nan, math.nan)
    d = fit.at(v - 1)
    return (float(d.estimate), float(d.se), float(d.df))


def _truth(
    n_per_arm: tuple[int, int], effect: float, seed: int, k: int
) -> tuple[dict[str, float], dict[str, float]]:
    """True values of the two estimands under the cohort model (no dropout), from ``k``
    vectorized trials of ``cohort.simulate_endpoints`` (its numbers, from the model's lean
    endpoint draws: :func:`_truth_arms`): the mean difference of mean
    HbA1c changes (= the ANCOVA coefficient's expectation under randomization) and the
    difference of responder rates; with their Monte Carlo SEs. Kept for the process
    (the same arguments give the same numbers: notebook 07 asks twice)."""
    truth, mc = _truth_cached(tuple(int(x) for x in n_per_arm), float(effect), int(seed), int(k))
    return dict(truth), dict(mc)


@functools.lru_cache(maxsize=8)
def _truth_cached(
    n_per_arm: tuple[int, int], effect: float, seed: int, k: int
) -> tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]:
    change, resp = _truth_arms(n_per_arm, effect, seed, k)
    n_uc, n_pl = n_per_arm
    # the arms' means as cohort.simulate_endpoints takes them (no dropout: every patient)
    dh = change[:, :n_uc].sum(axis=1) / n_uc - change[:, n_uc:].sum(axis=1) / n_pl
    dr = resp[:, 0] / n_uc - resp[:, 1] / n_pl
    truth = {"HbA1c": float(dh.mean()), "responder": float(dr.mean())}
    mc = {
        "HbA1c": float(dh.std(ddof=1) / math.sqrt(k)),
        "responder": float(dr.std(ddof=1) / math.sqrt(k)),
    }
    return tuple(truth.items()), tuple(mc.items())


def _truth_arms(
    n_per_arm: tuple[int, int], effect: float, seed: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Week-48 HbA1c changes (k, n; UC-MSC patients first) and responders per arm (k, 2)
    of the ``k`` trials of ``cohort.simulate_endpoints(k, n_per_arm, seed=SeedSequence(seed,
    spawn_key=(2**31,)), effect=effect, dropout=0.0)``, the same numbers (a test checks
    them bit for bit) from the model's lean core ``trial_model._endpoint_draws`` (the
    draws of the power studies: the covariates no endpoint uses are skipped, not drawn),
    about three times faster than the whole core for 20,000 trials."""
    from trialkit import trial_model as tm
    from trialkit.assumptions import _settings

    s = _settings(None)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31,)))
    d = tm._endpoint_draws(rng, n_per_arm, k, s, 0.0)
    w48, met = tm._endpoint_patients(d, effect, s)
    return w48 - d["hba1c_base"], tm._per_arm(met, n_per_arm[0])


def dropout_simulation(
    n_sim: int = 200,
    *,
    rate: float = 0.3,
    slope: float = 1.0,
    mechanisms: Sequence[str] = MECHANISMS,
    n_imputations: int = 10,
    n_per_arm: tuple[int, int] = (45, 46),
    effect: float = 1.0,
    seed: int = 0,
    alpha: float = 0.05,
    truth_trials: int = 20_000,
    with_mmrm: bool = False,
    progress: bool = False,
    batch: int = 50,
) -> DropoutSimulation:
    """How do complete case, MI and non-responder imputation fare under MCAR, MAR, MNAR?

    ``n_sim`` complete SYNTHETIC trials are drawn from ``trialkit.cohort.simulate``
    (``n_per_arm``, ``effect``; no dropout of its own); trial ``i`` uses
    ``SeedSequence(seed, spawn_key=(i,))``. On each, dropout is imposed by every
    mechanism (:func:`impose_dropout`'s rules, with ``rate`` and ``slope`` in log-odds
    per 1 % HbA1c; the same decision visits and uniforms for every mechanism), and two
    estimands are estimated, each by several methods:

    - HbA1c: the week-48 difference UC-MSC minus placebo had every patient stayed
      (hypothetical strategy), by ANCOVA on the complete data (no dropout: the
      benchmark), on the completers ("complete case"), and by MI under MAR
      (:func:`multiple_imputation`, ``n_imputations``);
    - responder: the difference in composite responder rates had every patient stayed,
      by the complete data, complete case, non-responder imputation (which estimates a
      different, composite estimand: dropout = failure) and MI (:func:`responder_mi`).

    ``with_mmrm``: also the MMRM of ``trialkit.stats.continuous`` for HbA1c (change from
    baseline at every post-baseline visit, unstructured covariance; about 20-40 ms per
    fit, so about 0.1 s per trial for three mechanisms; a fit that does not converge is
    counted as missing and reported in ``summary["failed"]``).

    The truth of each estimand comes from ``truth_trials`` vectorized trials of the same
    model (``cohort.simulate_endpoints``, no dropout). Returns a
    :class:`DropoutSimulation`.

    Computed ``batch`` trials at a time as arrays (the complete trials from the model's
    arrays without building their datasets, the dropout of every mechanism, the
    imputations of every trial and mechanism in one call, batched ANCOVA and Rubin's
    rules); each trial draws only from its own seed sequence, so the results are
    identical whatever ``batch`` (memory grows with ``batch`` x ``n_imputations``).
    Time: about 1.5 ms per trial for three mechanisms and m = 10 on one core (a quarter
    of it drawing the random numbers of every trial's own stream), plus the truth (about
    0.3-0.5 s for 20,000 trials, once per process; the MMRM, when asked, is fitted trial
    by trial, about 0.1 s per trial).
    """
    n_sim = _check_int("n_sim", n_sim)
    if n_sim < 2:
        raise ValueError(f"n_sim must be >= 2, got {n_sim}")
    rate, slope = _check_rate_slope(rate, slope)
    mechs = [_check_choice("mechanisms", mm, MECHANISMS) for mm in mechanisms]
    if not mechs:
        raise ValueError("mechanisms must name at least one of MCAR, MAR, MNAR")
    m = _check_int("n_imputations", n_imputations)
    if m < 2:
        raise ValueError(f"n_imputations must be >= 2, got {n_imputations!r}")
    alpha = _check_alpha(alpha)
    seed = _check_int("seed", seed)
    truth_trials = _check_int("truth_trials", truth_trials)
    if truth_trials < 100:
        raise ValueError(f"truth_trials must be >= 100, got {truth_trials}")
    batch = _check_int("batch", batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    n_arms = (int(n_per_arm[0]), int(n_per_arm[1]))
    model = _model_constants()
    starts: Iterable[int] = range(0, n_sim, batch)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"batches of {batch} trials", unit="batch")
    trials = pd.concat(
        [
            _trials_batch(
                range(i, min(i + batch, n_sim)),
                seed,
                n_arms,
                float(effect),
                mechs,
                rate,
                slope,
                m,
                alpha,
                bool(with_mmrm),
                model,
            )  # fmt: skip
            for i in starts
        ],
        ignore_index=True,
    )
    truth, truth_mc = _truth(n_arms, float(effect), seed, truth_trials)
    trials["covered"] = (trials["low"] <= trials["endpoint"].map(truth)) & (
        trials["endpoint"].map(truth) <= trials["high"]
    )
    trials["rejected"] = trials["p"] < alpha
    trials["SYNTHETIC"] = "Y"
    methods = [("HbA1c", x) for x in _HBA1C_METHODS] + [("responder", x) for x in _RESP_METHODS]
    order = {key: j for j, key in enumerate(methods)}
    summ = []
    for (endpoint, method, mech), g in trials.groupby(
        ["endpoint", "method", "mechanism"], sort=False
    ):
        ok = g["estimate"].notna()
        est = g.loc[ok, "estimate"].to_numpy()
        cov = float(g.loc[ok, "covered"].mean())
        summ.append(
            {
                "endpoint": endpoint,
                "method": method,
                "mechanism": mech,
                "bias": float(est.mean() - truth[endpoint]),
                "bias_mc_se": float(est.std(ddof=1) / math.sqrt(len(est))),
                "empirical_se": float(est.std(ddof=1)),
                "model_se": float(g.loc[ok, "se"].mean()),
                "coverage": cov,
                "coverage_mc_se": math.sqrt(cov * (1 - cov) / len(est)),
                "rejection": float(g.loc[ok, "rejected"].mean()),
                "failed": int((~ok).sum()),
                "dropout": float(
                    (g["dropout_treated"] * n_arms[0] + g["dropout_control"] * n_arms[1]).mean()
                    / sum(n_arms)
                ),
                "_o": order[(endpoint, method)] * 10 + MECHANISMS.index(mech),
            }
        )
    summary = pd.DataFrame(summ).sort_values("_o").drop(columns="_o").reset_index(drop=True)
    summary["SYNTHETIC"] = "Y"
    settings = {
        "n_sim": n_sim,
        "rate": rate,
        "slope": slope,
        "mechanisms": tuple(mechs),
        "n_imputations": m,
        "n_per_arm": n_arms,
        "effect": float(effect),
        "seed": seed,
        "alpha": alpha,
        "truth_trials": truth_trials,
        "truth_mc_se": truth_mc,
        "with_mmrm": bool(with_mmrm),
    }
    for df in (trials, summary):
        df.attrs["synthetic"] = True
        df.attrs["provenance"] = f"SYNTHETIC: trialkit.stats.dropout_simulation({settings})"
    return DropoutSimulation(trials=trials, summary=summary, truth=truth, settings=settings)
