"""Tests a reader can redo from published means, SDs and group sizes.

- ``ttest_from_summary``: two-sample t-test (Student or Welch) from each group's mean,
  SD and size;
- ``paired_ttest_from_summary``: one group's mean change against 0;
- ``sd_of_difference``: the SD of a within-patient change from the SDs before and after
  and their correlation (papers rarely print it; scan it to see what a test implies);
- ``holm``: which of several printed p-values Holm's step-down procedure rejects.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from trialkit.stats.results import HypothesisTest, _check_int

__all__ = ["holm", "paired_ttest_from_summary", "sd_of_difference", "ttest_from_summary"]


def _check_summary(name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(
            f"{name} must be a finite{' positive' if positive else ''} number, got {value}"
        )
    return value


def ttest_from_summary(
    mean1: float,
    sd1: float,
    n1: int,
    mean2: float,
    sd2: float,
    n2: int,
    equal_var: bool = True,
) -> HypothesisTest:
    """Two-sample t-test of mean1 - mean2 from each group's mean, SD and size.

    ``equal_var=True``: Student's test with the pooled SD (df = n1 + n2 - 2); False:
    Welch's test (Welch-Satterthwaite df). Two-sided. The statistic is t; the note gives
    df. Wraps ``scipy.stats.ttest_ind_from_stats``; SDs are sample SDs (n - 1).
    """
    for name, value in (("mean1", mean1), ("mean2", mean2)):
        _check_summary(name, value)
    for name, value in (("sd1", sd1), ("sd2", sd2)):
        _check_summary(name, value, positive=True)
    n1, n2 = _check_int("n1", n1), _check_int("n2", n2)
    if n1 < 2 or n2 < 2:
        raise ValueError(f"n1 and n2 must be at least 2, got {n1} and {n2}")
    res = stats.ttest_ind_from_stats(mean1, sd1, n1, mean2, sd2, n2, equal_var=equal_var)
    if equal_var:
        df = n1 + n2 - 2
    else:
        v1, v2 = sd1**2 / n1, sd2**2 / n2
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    name = "Student" if equal_var else "Welch"
    return HypothesisTest(
        "t_student" if equal_var else "t_welch",
        float(res.statistic),
        float(res.pvalue),
        f"{name} two-sample t-test from summaries",
        f"df {df:.4g}",
    )


def paired_ttest_from_summary(mean_change: float, sd_change: float, n: int) -> HypothesisTest:
    """One-sample (paired) t-test that a mean within-patient change is 0.

    ``mean_change`` and ``sd_change`` are the mean and SD of the n patients' changes;
    t = mean / (sd / sqrt(n)), df = n - 1, two-sided.
    """
    mean_change = _check_summary("mean_change", mean_change)
    sd_change = _check_summary("sd_change", sd_change, positive=True)
    n = _check_int("n", n)
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    t = mean_change / (sd_change / math.sqrt(n))
    p = float(2 * stats.t.sf(abs(t), n - 1))
    return HypothesisTest("t_paired", t, p, "paired t-test from summaries", f"df {n - 1}")


def sd_of_difference(sd_before: float, sd_after: float, rho: float) -> float:
    """SD of a within-patient change (after - before) from the two SDs and their correlation.

    sqrt(sd_before^2 + sd_after^2 - 2 rho sd_before sd_after). Papers rarely print the
    correlation; scanning ``rho`` over [-1, 1] shows what a reported test implies.
    """
    sd_before = _check_summary("sd_before", sd_before, positive=True)
    sd_after = _check_summary("sd_after", sd_after, positive=True)
    rho = _check_summary("rho", rho)
    if not -1 <= rho <= 1:
        raise ValueError(f"rho must be a correlation in [-1, 1], got {rho}")
    return math.sqrt(max(sd_before**2 + sd_after**2 - 2 * rho * sd_before * sd_after, 0.0))


def holm(p: Sequence[float] | np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Holm's (1979) step-down procedure: which of the p-values ``p`` are rejected at
    family-wise error rate ``alpha`` (a boolean array, in the order of ``p``).

    The smallest p is tested at alpha / m, the next at alpha / (m - 1), ..., stopping at
    the first that fails. Computed by statsmodels' ``multipletests(p, alpha,
    method="holm")``. That function ends its Holm branch with a full garbage collection
    (``gc.collect()``), which frees nothing of its own but walks every object alive: in a
    notebook full of tables and figures, 0.2 to 0.4 s per call. It runs here with the
    objects already alive frozen (``gc.freeze``), so that collection only visits new ones;
    the result is the same.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or p.size == 0 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p must be a non-empty list of p-values in [0, 1], got {p!r}")
    alpha = _check_summary("alpha", alpha, positive=True)
    if gc.get_freeze_count():  # someone else froze objects: leave their state alone
        return np.asarray(multipletests(p, alpha=alpha, method="holm")[0])
    gc.freeze()
    try:
        return np.asarray(multipletests(p, alpha=alpha, method="holm")[0])
    finally:
        gc.unfreeze()
