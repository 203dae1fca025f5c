"""Comparison with the paper: recompute every published quantity from patient data.

``compare_with_published(data)`` checks any data set (synthetic or real, the collection's
columns) against the paper, row by row; ``summary(data)`` computes what the published
summary leaves open (component counts, correlations, p-values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from trialkit.assumptions import assumptions
from trialkit.reconstruct import _bound_holds
from trialkit.trial_model import _KEY, ARMS, _fact, _facts

__all__ = ["compare_with_published", "summary"]


# =========================================================================== checking
def _analysis(data: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    """Per arm, over the analysed patients (ADSL.FASFL = "Y"): the values the paper summarises.

    ADLB and ADEX go through ``trialkit.derive`` (baseline, percent change, analysis
    records); baseline is the analysis record of week 0, end of study that of week 48
    (NaN when missing). The composite and its components come from
    ``derive.responders`` (FAS, missing counted as not met) with the published thresholds.
    """
    from trialkit import derive

    f = _facts()
    adsl = data["ADSL"]
    lb = derive.derive_adlb(data["ADLB"])
    ex = derive.derive_adex(data["ADEX"])
    resp = derive.responders(
        adsl,
        lb,
        ex,
        hba1c_cutoff=f["hba1c_threshold"],
        strict=True,
        insulin_reduction=f["insulin_threshold"],
        visit=48,
        missing="non-responder",
        population="FAS",
    )
    met = resp.pivot(index="USUBJID", columns="PARAMCD", values="AVALC")
    anl = pd.concat([lb, ex], ignore_index=True)
    anl = anl[(anl["ANL01FL"] == "Y") & anl["AVISITN"].isin([0, 48])]
    aval = anl.pivot(index="USUBJID", columns=["PARAMCD", "AVISITN"], values="AVAL")
    pchg = anl.pivot(index="USUBJID", columns=["PARAMCD", "AVISITN"], values="PCHG")
    out: dict[str, dict[str, Any]] = {}
    for arm in ARMS:
        sl = adsl[adsl["ARM"] == arm]
        ids = pd.Index(sl.loc[sl["FASFL"] == "Y", "USUBJID"])

        def col(table: pd.DataFrame, code: str, week: int, ids: pd.Index = ids) -> np.ndarray:
            if (code, week) not in table.columns:
                return np.full(len(ids), np.nan)
            return table[(code, week)].reindex(ids).to_numpy(dtype=float)

        def flag(code: str, ids: pd.Index = ids) -> np.ndarray:
            if code not in met.columns:
                return np.zeros(len(ids), dtype=bool)
            return (met[code].reindex(ids) == "Y").to_numpy(dtype=bool)

        out[arm] = {
            "randomized": int((sl["RANDFL"] == "Y").sum()),
            "analysed": len(ids),
            "hba1c_base": col(aval, "HBA1C", 0),
            "hba1c_w48": col(aval, "HBA1C", 48),
            "pchg": col(pchg, "INSDOSE", 48),
            "gir_base": col(aval, "GIR", 0),
            "gir_w48": col(aval, "GIR", 48),
            "cpep_base": col(aval, "CPEP", 0),
            "cpep_w48": col(aval, "CPEP", 48),
            "met_hba1c": flag("HBA1CLT7"),
            "met_insulin": flag("INSRED50"),
            "responders": int(flag("RESP").sum()),
        }
    return out


def _nz(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


def _fmt(x: float, d: int) -> str:
    return f"{x:.{d}f}"


def _pfmt(p: float) -> str:
    """A p-value with 4 decimals, or in scientific notation below 0.0001."""
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def compare_with_published(data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every published quantity that patient data determine, recomputed from ``data``.

    Works for any data set with the collection's columns (synthetic or real). Means, SDs
    (ddof 1), percentages and counts use the ordinary formulas over the analysed patients
    (ADSL.FASFL == "Y"), baseline = week 0 and end of study = week 48 (assumptions
    ``summary_set``, ``insulin_reading``, ``gir_summary``), each rounded to the printed
    decimals; p-values use the tests of the assumption ``assumed_tests``.

    Returns one row per quantity and arm: id (fact id in ``trialkit.published``; "" for
    the implied analysed numbers), quantity, arm, timepoint, statistic (as in
    ``trialkit.published``), reported (as printed), reconstructed (rounded as printed),
    matches (True / False; nullable boolean), target (``reconstruct()`` is built to match
    this row; rows with target False are reported, not forced) and note (the test used,
    or why a row cannot match).
    """
    return _compare(_analysis(data), data)


def _compare(a: Mapping[str, dict[str, Any]], data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    n_impl = assumptions()["reconstruct_analysed"].value
    rows: list[dict[str, Any]] = []

    def add(
        fid: str,
        arm: str,
        recon: str,
        match: bool | None,
        target: bool,
        note: str = "",
        quantity: str | None = None,
        reported: str | None = None,
    ) -> None:
        r = _fact(fid) if fid else None
        rows.append(
            {
                "id": fid,
                "quantity": quantity or (r["quantity"] if r is not None else ""),
                "arm": arm,
                "timepoint": r["timepoint"] if r is not None else "week 48",
                "statistic": r["statistic"] if r is not None else "count",
                "reported": reported or (r["printed"] if r is not None else ""),
                "reconstructed": recon,
                "matches": match,
                "target": target,
                "note": note,
            }
        )

    def value(fid: str, arm: str, x: float, target: bool = True, note: str = "") -> None:
        d = int(_fact(fid)["decimals"])
        rec = _fmt(x, d)
        add(fid, arm, rec, rec == _fact(fid)["printed"], target, note)

    def bound(fid: str, arm: str, p: float, test: str, target: bool = True, note: str = "") -> None:
        add(fid, arm, _pfmt(p), _bound_holds(fid, p), target, f"test: {test}. {note}".strip())

    for arm, k in _KEY.items():
        x = a[arm]
        value(f"randomized_{k}", arm, x["randomized"])
        add(
            "",
            arm,
            str(x["analysed"]),
            x["analysed"] == n_impl[arm],
            True,
            "not printed: implied by the primary percentages and their 95% CI "
            "(assumption reconstruct_analysed)",
            quantity="patients analysed (implied)",
            reported=str(n_impl[arm]),
        )
        value(
            f"primary_{k}",
            arm,
            100 * x["responders"] / x["analysed"],
            note=f"{x['responders']}/{x['analysed']} analysed; missing counted as not met",
        )
    uc, pl = a["UC-MSC"], a["Placebo"]
    p1, p2 = uc["responders"] / uc["analysed"], pl["responders"] / pl["analysed"]
    se = math.sqrt(p1 * (1 - p1) / uc["analysed"] + p2 * (1 - p2) / pl["analysed"])
    z = sps.norm.ppf(0.975)
    wald = "Wald interval of the risk difference (method not stated; it reproduces the bounds)"
    value("primary_ci_low", "between", 100 * (p1 - p2 - z * se), note=wald)
    value("primary_ci_high", "between", 100 * (p1 - p2 + z * se), note=wald)
    table = [
        [uc["responders"], uc["analysed"] - uc["responders"]],
        [pl["responders"], pl["analysed"] - pl["responders"]],
    ]
    bound("primary_p", "between", float(sps.fisher_exact(table).pvalue), "Fisher exact (two-sided)")

    for arm, k in _KEY.items():
        value(
            f"insulin_reduction_{k}",
            arm,
            -np.nanmean(a[arm]["pchg"]),
            note="mean percent reduction of the daily dose, baseline to week 48",
        )
    bound(
        "insulin_reduction_p",
        "between",
        float(sps.ttest_ind(_nz(uc["pchg"]), _nz(pl["pchg"]), equal_var=False).pvalue),
        "Welch t-test on the percent change",
    )

    for arm, k in _KEY.items():
        x = a[arm]
        for tp, col in (("baseline", "hba1c_base"), ("end", "hba1c_w48")):
            value(f"hba1c_{tp}_{k}_mean", arm, np.nanmean(x[col]))
            value(f"hba1c_{tp}_{k}_sd", arm, np.nanstd(x[col], ddof=1))
    changes = {arm: _nz(a[arm]["hba1c_base"] - a[arm]["hba1c_w48"]) for arm in ARMS}
    for arm, k in _KEY.items():
        mean_diff = np.nanmean(a[arm]["hba1c_base"]) - np.nanmean(a[arm]["hba1c_w48"])
        value(
            f"hba1c_decrease_{k}",
            arm,
            float(changes[arm].mean()),
            target=False,
            note=f"not matchable: the printed means differ by {mean_diff:.2f}, and in the "
            "same patients the mean within-patient decrease equals that difference; the "
            "printed decrease must come from other patients or another method (not public)",
        )
    bound(
        "hba1c_decrease_ucmsc_p",
        "UC-MSC",
        float(sps.ttest_1samp(changes["UC-MSC"], 0).pvalue),
        "paired t-test",
    )
    pb = a["Placebo"]
    n = len(changes["Placebo"])
    need = abs(changes["Placebo"].mean()) * math.sqrt(n) / sps.t.ppf(0.975, n - 1)
    most = np.nanstd(pb["hba1c_base"], ddof=1) + np.nanstd(pb["hba1c_w48"], ddof=1)
    bound(
        "hba1c_decrease_placebo_p",
        "Placebo",
        float(sps.ttest_1samp(changes["Placebo"], 0).pvalue),
        "paired t-test",
        target=False,
        note=f"not matchable: p > 0.05 needs an SD of the within-patient change >= {need:.2f}, "
        f"but it is at most SD(baseline) + SD(end) = {most:.2f} (correlation -1)",
    )
    p_between = float(sps.ttest_ind(changes["UC-MSC"], changes["Placebo"]).pvalue)
    reported_p = float(_fact("hba1c_decrease_p")["value"])
    n1, n2 = len(changes["UC-MSC"]), len(changes["Placebo"])
    diff = abs(changes["UC-MSC"].mean() - changes["Placebo"].mean())
    sd_needed = diff / (sps.t.isf(reported_p / 2, n1 + n2 - 2) * math.sqrt(1 / n1 + 1 / n2))
    sd_here = math.sqrt(
        ((n1 - 1) * changes["UC-MSC"].var(ddof=1) + (n2 - 1) * changes["Placebo"].var(ddof=1))
        / (n1 + n2 - 2)
    )
    add(
        "hba1c_decrease_p",
        "between",
        _pfmt(p_between),
        _pfmt(p_between) == _fmt(reported_p, 4),
        False,
        "Student t-test on the within-patient change; not forced: it depends on the "
        f"unpublished baseline/week-48 correlation. With these means, p = {reported_p} needs a "
        f"pooled SD of the change of {sd_needed:.2f} (here {sd_here:.2f}); see ensemble()",
    )

    for arm, k in _KEY.items():
        value(f"gir_baseline_{k}", arm, np.nanmean(a[arm]["gir_base"]), note="mean")
        value(f"gir_end_{k}", arm, np.nanmean(a[arm]["gir_w48"]), note="mean at week 48")
    dg = {arm: _nz(a[arm]["gir_w48"] - a[arm]["gir_base"]) for arm in ARMS}
    bound(
        "gir_change_ucmsc_p",
        "UC-MSC",
        float(sps.ttest_1samp(dg["UC-MSC"], 0).pvalue),
        "paired t-test",
    )
    bound(
        "gir_change_placebo_p",
        "Placebo",
        float(sps.ttest_1samp(dg["Placebo"], 0).pvalue),
        "paired t-test",
    )
    bound(
        "gir_p",
        "between",
        float(sps.ttest_ind(dg["UC-MSC"], dg["Placebo"], equal_var=False).pvalue),
        "Welch t-test on the change",
    )

    for arm, k in _KEY.items():
        dc = _nz(a[arm]["cpep_w48"] - a[arm]["cpep_base"])
        p = float(sps.ttest_1samp(dc, 0).pvalue) if len(dc) > 1 else float("nan")
        add(
            f"beta_cell_{k}",
            arm,
            f"fasting C-peptide change {dc.mean():+.2f} ng/mL, p = {p:.2f}",
            not (dc.mean() > 0 and p < 0.05),
            False,
            "qualitative; read as 'no significant rise of fasting C-peptide' (paired t-test); "
            "C-peptide values are assumed, not reconstructed",
        )
    ae = data.get("ADAE")
    if ae is not None:
        ucids = set(data["ADSL"].loc[data["ADSL"]["ARM"] == "UC-MSC", "USUBJID"])
        major = ae[
            ae["USUBJID"].isin(ucids)
            & (ae["AREL"] == "RELATED")
            & ((ae["AESER"] == "Y") | (ae["AESEV"] == "SEVERE"))
        ]
        add(
            "safety",
            "UC-MSC",
            f"{len(major)} related serious or severe events",
            len(major) == 0,
            True,
            "'major' read as serious or severe; adverse events are entirely assumed",
        )
    out = pd.DataFrame(rows)
    out["matches"] = out["matches"].astype("boolean")
    out.attrs["synthetic"] = bool(data["ADSL"].attrs.get("synthetic", False))
    out.attrs["provenance"] = data["ADSL"].attrs.get("provenance", "")
    return out


def summary(data: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """What the published summary leaves open, computed from one data set.

    Per arm (suffix ``_ucmsc`` / ``_placebo``), over the analysed patients: hba1c_met,
    insulin_met, responders, hba1c_only, insulin_only, neither (counts of the composite's
    components); corr_change_pchg (Pearson correlation of the HbA1c change with the
    insulin percent change), corr_w48_pchg (week-48 HbA1c with the insulin percent
    change), corr_base_w48 (baseline vs week-48 HbA1c), mean_hba1c_change and sd_hba1c_change
    (%), sd_insulin_pchg (percentage points), p_hba1c_paired (within-arm paired t-test).
    Between arms: p_hba1c_w48_t (Student t-test of week-48 HbA1c), p_hba1c_change_t
    (Student t-test of the change), p_hba1c_ancova (week 48 on baseline and arm),
    p_insulin_welch, p_gir_welch (change).
    """
    return _summary(_analysis(data))


def _summary(a: Mapping[str, dict[str, Any]]) -> dict[str, float]:
    """``summary`` from the per-arm arrays of ``_analysis``: one row of ``_summary_many``."""
    rows = {
        arm: {k: np.asarray(v)[None] for k, v in a[arm].items() if k in _ROW_KEYS} for arm in ARMS
    }
    out = _summary_many(rows)
    return {k: (int(v[0]) if v.dtype.kind in "iub" else float(v[0])) for k, v in out.items()}


#: The per-patient arrays ``_summary_many`` reads, per arm.
_ROW_KEYS = ("hba1c_base", "hba1c_w48", "pchg", "gir_base", "gir_w48", "met_hba1c", "met_insulin")


def _rmean(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row means over ``ok`` and the row counts."""
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, x, 0.0).sum(axis=1) / n, n


def _rdev(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deviations from the row mean (0 outside ``ok``), the means and the counts."""
    m, n = _rmean(x, ok)
    return np.where(ok, x - m[:, None], 0.0), m, n


def _rvar(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row sample variances (ddof 1), means and counts."""
    d, m, n = _rdev(x, ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (d * d).sum(axis=1) / (n - 1), m, n


def _rcorr(x: np.ndarray, y: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Row Pearson correlations over ``ok``."""
    dx, dy = _rdev(x, ok)[0], _rdev(y, ok)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (dx * dy).sum(axis=1) / np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))


def _p_t(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p of Student's t with ``df`` degrees of freedom."""
    with np.errstate(invalid="ignore"):
        return 2.0 * special.stdtr(df, -np.abs(t))


def _p_one_sample(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Row one-sample t-tests of mean 0 (= scipy.stats.ttest_1samp), two-sided p."""
    v, m, n = _rvar(x, ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _p_t(m / np.sqrt(v / n), n - 1.0)


def _p_two_sample(
    x1: np.ndarray, ok1: np.ndarray, x2: np.ndarray, ok2: np.ndarray, welch: bool
) -> np.ndarray:
    """Row two-sample t-tests (Student, or Welch), two-sided p (= scipy.stats.ttest_ind)."""
    v1, m1, n1 = _rvar(x1, ok1)
    v2, m2, n2 = _rvar(x2, ok2)
    with np.errstate(invalid="ignore", divide="ignore"):
        if welch:
            a, b = v1 / n1, v2 / n2
            t = (m1 - m2) / np.sqrt(a + b)
            df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
        else:
            df = n1 + n2 - 2.0
            sp = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
            t = (m1 - m2) / np.sqrt(sp * (1 / n1 + 1 / n2))
        return _p_t(t, df)


def _p_ancova(base: np.ndarray, end: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Row two-sided p of the arm term in end ~ 1 + base + arm (ordinary least squares,
    normal equations; rows with a missing value left out)."""
    ok = ~np.isnan(base) & ~np.isnan(end)
    x1 = np.where(ok, base, 0.0)
    x2 = np.where(ok, treated, 0.0)
    y = np.where(ok, end, 0.0)
    one = ok.astype(float)
    cols = (one, x1, x2)
    xtx = np.stack([np.stack([(u * v).sum(axis=1) for v in cols], -1) for u in cols], -2)
    xty = np.stack([(u * y).sum(axis=1) for u in cols], -1)
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    resid = np.where(ok, y - (beta[:, :1] + beta[:, 1:2] * x1 + beta[:, 2:3] * x2), 0.0)
    df = ok.sum(axis=1) - 3.0
    s2 = (resid * resid).sum(axis=1) / df
    c22 = np.linalg.inv(xtx)[:, 2, 2]
    return _p_t(beta[:, 2] / np.sqrt(s2 * c22), df)


def _summary_many(a: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``summary`` for many data sets at once: per arm, arrays of shape (data sets,
    patients) (NaN where missing; ``_ROW_KEYS``); returns one array per quantity. Every
    quantity of a row is computed from that row alone (row-wise reductions), so a data
    set gets the same numbers whatever the other rows."""
    out: dict[str, np.ndarray] = {}
    for arm, k in _KEY.items():
        x = a[arm]
        mh, mi = x["met_hba1c"], x["met_insulin"]
        ok = ~np.isnan(x["hba1c_w48"]) & ~np.isnan(x["pchg"])
        ch = x["hba1c_w48"] - x["hba1c_base"]
        out |= {
            f"responders_{k}": (mh & mi).sum(axis=1),
            f"hba1c_met_{k}": mh.sum(axis=1),
            f"insulin_met_{k}": mi.sum(axis=1),
            f"hba1c_only_{k}": (mh & ~mi).sum(axis=1),
            f"insulin_only_{k}": (~mh & mi).sum(axis=1),
            f"neither_{k}": (~mh & ~mi).sum(axis=1),
            f"corr_change_pchg_{k}": _rcorr(ch, x["pchg"], ok),
            f"corr_w48_pchg_{k}": _rcorr(x["hba1c_w48"], x["pchg"], ok),
            f"corr_base_w48_{k}": _rcorr(x["hba1c_base"], x["hba1c_w48"], ok),
            f"mean_hba1c_change_{k}": _rmean(ch, ok)[0],
            f"sd_hba1c_change_{k}": np.sqrt(_rvar(ch, ok)[0]),
            f"sd_insulin_pchg_{k}": np.sqrt(_rvar(x["pchg"], ok)[0]),
            f"p_hba1c_paired_{k}": _p_one_sample(ch, ok),
        }
    uc, pl = a["UC-MSC"], a["Placebo"]

    def present(x: np.ndarray) -> np.ndarray:
        return ~np.isnan(x)

    w1, w2 = uc["hba1c_w48"], pl["hba1c_w48"]
    c1, c2 = w1 - uc["hba1c_base"], w2 - pl["hba1c_base"]
    out["p_hba1c_w48_t"] = _p_two_sample(w1, present(w1), w2, present(w2), welch=False)
    out["p_hba1c_change_t"] = _p_two_sample(c1, present(c1), c2, present(c2), welch=False)
    n1, n2 = w1.shape[1], w2.shape[1]
    out["p_hba1c_ancova"] = _p_ancova(
        np.concatenate([uc["hba1c_base"], pl["hba1c_base"]], axis=1),
        np.concatenate([w1, w2], axis=1),
        np.broadcast_to(np.r_[np.ones(n1), np.zeros(n2)], (len(w1), n1 + n2)),
    )
    p1, p2 = uc["pchg"], pl["pchg"]
    out["p_insulin_welch"] = _p_two_sample(p1, present(p1), p2, present(p2), welch=True)
    g1, g2 = uc["gir_w48"] - uc["gir_base"], pl["gir_w48"] - pl["gir_base"]
    out["p_gir_welch"] = _p_two_sample(g1, present(g1), g2, present(g2), welch=True)
    return out
