"""Power and sample size for comparing two proportions, exactly and approximately.

Two independent arms, ``x1 ~ Binomial(n1, p1)`` and ``x2 ~ Binomial(n2, p2)``, and a
two-sided test of ``p1 = p2`` that rejects when its p-value is **< alpha** (the house
convention of ``trialkit.stats``: "significant" means p < alpha). Rates are fractions
(0.2, not 20%); n are patients per arm.

- ``pvalue_table(n1, n2, test)``: the p-value of every possible outcome (x1, x2), computed
  once per (n1, n2, test) with numpy and cached. Everything exact is built on it:
- ``exact_power`` (optionally with dropout), ``exact_power_grid`` (many rates at once),
  ``power_curve`` (against the arm size: the sawtooth), ``type1_error`` and
  ``size_curve`` (the exact size of a test when both rates are equal),
- ``sample_size``: patients per arm for a target power, exact (smallest n, and the
  smallest n from which power stays above target) or by a normal approximation,
- ``assurance``: power averaged over Beta distributions of the two rates (conjugate:
  each arm's outcome is then beta-binomial, so the average is exact, not simulated).

Exact power is a finite sum, sum over (x1, x2) of P(x1) P(x2) [p(x1, x2) < alpha], so
it is computed exactly (to floating point) by enumeration; the obvious alternative, a
call of ``scipy.stats.fisher_exact`` per table, gives the same numbers about a thousand
times slower (``bench/bench_simulation.py``). Tests (``POWER_TESTS``):

- ``"fisher"``      Fisher's exact test, two-sided as R's ``fisher.test``: the
  probabilities of the tables with the same margins that are no more probable than the
  observed one (relative tolerance 1e-7), summed;
- ``"chi2"``        Pearson's chi-square test without continuity correction;
- ``"chi2_yates"``  with Yates' correction (|O - E| reduced by min(0.5, |O - E|), as R);
- ``"z"``           the pooled two-proportion z-test; two-sided it is the same test as
  ``"chi2"`` (z squared is the chi-square statistic), kept because papers name it so;
- ``"wald"``        the unpooled (Wald) z-test, (p1 - p2) / sqrt(p1 q1 / n1 + p2 q2 / n2):
  the test that rejects exactly when the Wald confidence interval excludes 0 (the
  interval Zang et al. printed). A standard error of 0 gives p = 1 if the two observed
  proportions are equal, else p = 0.

The chi-square and z tests give p = 1 when a margin is zero (no events at all, or only
events), as ``trialkit.stats.chi2_test`` does. Checked against R (enumeration with
``fisher.test`` / ``chisq.test`` / ``prop.test``, ``power.prop.test``, ``pwr``,
``statmod``): ``tests/fixtures/power/``.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import optimize, special
from scipy import stats as sps

from trialkit.stats.results import _check_alpha, _check_choice, _check_int, _fmt

__all__ = [
    "EXACT_SEARCH_MAX_N",
    "POWER_TESTS",
    "SAMPLE_SIZE_METHODS",
    "PowerCalculation",
    "SampleSize",
    "TypeIError",
    "assurance",
    "exact_power",
    "exact_power_grid",
    "power_curve",
    "pvalue_table",
    "sample_size",
    "size_curve",
    "type1_error",
]

#: Patients per arm above which a notebook leaves out the exact sample-size search of
#: ``sample_size`` (``method="fisher"``): it computes the exact power at every n of its
#: range, so its time grows about as n^2.5 (about 1.4 s at 214 per arm, 10 s at 430, half
#: an hour at 3,700 on one core here), and rates as close as 78% vs 75% need thousands.
EXACT_SEARCH_MAX_N: Final[int] = 250
#: Tests whose exact power this module computes (see the module docstring).
POWER_TESTS: Final[tuple[str, ...]] = ("fisher", "chi2", "chi2_yates", "z", "wald")
#: ``sample_size`` methods: exact power of a test, or a normal-approximation formula.
SAMPLE_SIZE_METHODS: Final[tuple[str, ...]] = (*POWER_TESTS, "normal", "normal_cc", "arcsine")
_TEST_NAMES: Final[dict[str, str]] = {
    "fisher": "Fisher exact test",
    "chi2": "Pearson chi-square",
    "chi2_yates": "chi-square with Yates' correction",
    "z": "pooled z-test",
    "wald": "unpooled (Wald) z-test",
}
_FORMULAS: Final[dict[str, str]] = {
    "normal": "normal approximation (pooled null, unpooled alternative variance; Fleiss)",
    "normal_cc": "normal approximation with continuity correction (Fleiss, Tytun & Ury 1980)",
    "arcsine": "normal approximation on the arcsine scale (Cohen's h)",
}
#: Memory for cached p-value tables (least recently used tables are dropped first); a
#: table larger than an eighth of it (arms of about 1,000) is never cached.
_CACHE_BYTES: Final[int] = 256 * 2**20
_FISHER_TOL: Final[float] = 1 + 1e-7  # R's fisher.test: relErr
#: Fisher tables with both arms above this are computed one margin at a time.
_FISHER_BY_MARGIN_FROM: Final[int] = 250


# =========================================================================== results
@dataclass(frozen=True)
class PowerCalculation:
    """Power of a two-sided test of two proportions.

    ``power`` is the probability of p < ``alpha`` when the rates are ``p1`` and ``p2``
    and the arms have ``n1`` and ``n2`` patients; ``method`` says how it was computed
    (exact enumeration, with dropout, averaged over Beta distributions ...); ``note``
    anything the reader must know (empty if nothing).
    """

    power: float
    p1: float
    n1: int
    p2: float
    n2: int
    test: str
    alpha: float
    method: str
    note: str = ""

    def __str__(self) -> str:
        text = (
            f"power {_fmt(self.power)} of the {_TEST_NAMES[self.test]} (two-sided, alpha "
            f"{self.alpha:g}) for {self.p1:.4g} (n = {self.n1}) vs {self.p2:.4g} "
            f"(n = {self.n2}); {self.method}"
        )
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: power, p1, n1, p2, n2, test, alpha, method, note."""
        return {
            "power": float(self.power),
            "p1": float(self.p1),
            "n1": int(self.n1),
            "p2": float(self.p2),
            "n2": int(self.n2),
            "test": self.test,
            "alpha": float(self.alpha),
            "method": self.method,
            "note": self.note,
        }


@dataclass(frozen=True)
class TypeIError:
    """The exact size (type I error) of a two-sided test when both arms share one rate.

    ``size`` is P(p < alpha) at the common rate ``p``; ``max_size`` its maximum over
    every common rate in (0, 1), reached at ``p_at_max``. The test is ``conservative``
    when ``max_size <= alpha`` (it never rejects a true null more often than promised).
    """

    test: str
    alpha: float
    n1: int
    n2: int
    p: float
    size: float
    max_size: float
    p_at_max: float

    @property
    def conservative(self) -> bool:
        return self.max_size <= self.alpha

    def __str__(self) -> str:
        kind = "conservative" if self.conservative else "NOT conservative"
        return (
            f"{_TEST_NAMES[self.test]} (n = {self.n1}, {self.n2}; alpha {self.alpha:g}): size "
            f"{_fmt(self.size)} at p = {self.p:.4g}; at most {_fmt(self.max_size)} (p = "
            f"{self.p_at_max:.3f}): {kind}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: test, alpha, n1, n2, p, size, max_size, p_at_max, conservative."""
        return {
            "test": self.test,
            "alpha": float(self.alpha),
            "n1": int(self.n1),
            "n2": int(self.n2),
            "p": float(self.p),
            "size": float(self.size),
            "max_size": float(self.max_size),
            "p_at_max": float(self.p_at_max),
            "conservative": bool(self.conservative),
        }


@dataclass(frozen=True)
class SampleSize:
    """Patients per arm for a target power.

    ``n1``/``n2`` is the answer and ``power`` the power it achieves. For an exact test
    (``method`` in ``POWER_TESTS``) power is not monotone in n (the sawtooth), so two
    numbers exist: ``n1_first``, the smallest n1 whose power reaches ``target``, and
    ``n1_stable``, the smallest n1 from which power stays >= ``target`` for every larger
    n1 searched (up to ``n1_max``). **``n1`` is ``n1_stable``**: a trial planned with
    ``n1_first`` may fall below target if it recruits one patient more or one fewer.
    For a normal-approximation formula, ``n1`` is the formula's value rounded up,
    ``n1_exact`` the unrounded value, and ``n1_first = n1_stable = n1``.
    """

    method: str
    p1: float
    p2: float
    alpha: float
    target: float
    ratio: float
    n1: int
    n2: int
    power: float
    n1_first: int
    n1_stable: int
    n1_max: int | None = None
    n1_exact: float | None = None
    note: str = ""

    @property
    def total(self) -> int:
        return self.n1 + self.n2

    def __str__(self) -> str:
        name = _TEST_NAMES.get(self.method) or _FORMULAS[self.method]
        text = (
            f"n = {self.n1} + {self.n2} for {100 * self.target:g}% power to tell {self.p1:.4g} "
            f"from {self.p2:.4g} (two-sided alpha {self.alpha:g}; {name}): power "
            f"{_fmt(self.power)}"
        )
        if self.method in POWER_TESTS:
            text += (
                f"; first reached at n1 = {self.n1_first}, stays above from n1 = "
                f"{self.n1_stable} (searched to {self.n1_max})"
            )
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        """Plain Python of every field (and ``total``)."""
        return {
            "method": self.method,
            "p1": float(self.p1),
            "p2": float(self.p2),
            "alpha": float(self.alpha),
            "target": float(self.target),
            "ratio": float(self.ratio),
            "n1": int(self.n1),
            "n2": int(self.n2),
            "total": int(self.total),
            "power": float(self.power),
            "n1_first": int(self.n1_first),
            "n1_stable": int(self.n1_stable),
            "n1_max": None if self.n1_max is None else int(self.n1_max),
            "n1_exact": None if self.n1_exact is None else float(self.n1_exact),
            "note": self.note,
        }


# =========================================================================== checks
def _check_rate(name: str, value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    v = float(value)
    if not 0 <= v <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return v


def _check_n(name: str, value: Any, low: int = 1) -> int:
    n = _check_int(name, value)
    if n < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return n


def _check_test(test: Any) -> str:
    return _check_choice("test", test, POWER_TESTS)


# =========================================================================== p-value tables
def _log_choose(n: int) -> np.ndarray:
    k = np.arange(n + 1)
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def _fisher_table_by_margin(n1: int, n2: int) -> np.ndarray:
    """Two-sided Fisher p-values of every table, one margin at a time (sort + cumsum).

    The reference for ``_fisher_table`` (tests) and its path for large arms, where numpy's
    sort of one long row beats sorting the whole table at once.
    """
    lc1, lc2 = _log_choose(n1), _log_choose(n2)
    out = np.empty((n1 + 1, n2 + 1))
    for m in range(n1 + n2 + 1):
        x = np.arange(max(0, m - n2), min(n1, m) + 1)
        logd = lc1[x] + lc2[m - x]
        d = np.exp(logd - logd.max())
        d /= d.sum()
        order = np.sort(d)
        cum = np.cumsum(order)
        idx = np.searchsorted(order, d * _FISHER_TOL, side="right")
        out[x, m - x] = np.minimum(cum[idx - 1], 1.0)
    return out


def _fisher_table(n1: int, n2: int) -> np.ndarray:
    """Two-sided Fisher p-values of every table, all margins at once.

    The same computation as ``_fisher_table_by_margin`` (equal to round-off), as arrays:
    row m of ``d`` holds the conditional (hypergeometric) probabilities of the tables
    with m events in all, padded with zeros; each row is sorted and summed cumulatively,
    and each table's p-value is the cumulative sum up to the last sorted probability
    <= its own times ``_FISHER_TOL`` (found by stepping over the few near-ties). Only
    the rows m <= (n1 + n2) / 2 are computed: swapping events and non-events maps table
    (x1, x2) to (n1 - x1, n2 - x2), with the same p-value.
    """
    k = min(n1, n2) + 1
    if k > _FISHER_BY_MARGIN_FROM:
        return _fisher_table_by_margin(n1, n2)
    a = np.arange(n1 + 1)[:, None]
    b = np.arange(n2 + 1)[None, :]
    m = a + b  # events in all: the row of d holding table (a, b)
    j = a - np.maximum(0, m - n2)  # its place in that row
    low = m <= (n1 + n2) // 2
    logd = np.full(((n1 + n2) // 2 + 1, k), -np.inf)
    logd[m[low], j[low]] = (_log_choose(n1)[:, None] + _log_choose(n2)[None, :])[low]
    d = np.exp(logd - logd.max(axis=1, keepdims=True))
    d /= d.sum(axis=1, keepdims=True)
    perm = np.argsort(d, axis=1)
    order = np.take_along_axis(d, perm, axis=1)
    cum = np.cumsum(order, axis=1)
    limit = order * _FISHER_TOL
    last = np.broadcast_to(np.arange(k), d.shape).copy()  # last sorted index <= limit
    for step in range(1, k):
        tie = (order[:, step:] <= limit[:, :-step]) & (limit[:, :-step] > 0)
        if not tie.any():
            break
        last[:, :-step] += tie
    p = np.empty_like(d)
    np.put_along_axis(p, perm, np.take_along_axis(cum, last, axis=1), axis=1)
    out = np.empty((n1 + 1, n2 + 1))
    out[low] = np.minimum(p[m[low], j[low]], 1.0)
    out[~low] = out[::-1, ::-1][~low]  # (x1, x2) -> (n1 - x1, n2 - x2)
    return out


def _chi2_table(n1: int, n2: int, yates: bool) -> np.ndarray:
    """Pearson chi-square p-values (1 df) of every table, closed form.

    Computed for x1 <= n1 / 2; the other rows by the symmetry (x1, x2) -> (n1 - x1,
    n2 - x2), which gives the same statistic (the same numbers, in whole-number
    arithmetic).
    """
    half = n1 // 2
    a = np.arange(half + 1, dtype=float)[:, None]
    b = np.arange(n2 + 1, dtype=float)[None, :]
    big_n = n1 + n2
    m = a + b
    d = np.abs(a * (n2 - b) - b * (n1 - a))  # N |O - E| of every cell
    if yates:
        d = d - np.minimum(big_n / 2, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = big_n * d**2 / (n1 * n2 * m * (big_n - m))
    p = special.erfc(np.sqrt(stat / 2))  # chi-square (1 df) upper tail
    p[(m == 0) | (m == big_n)] = 1.0
    return np.concatenate([p, p[: n1 - half][::-1, ::-1]])


def _wald_table(n1: int, n2: int) -> np.ndarray:
    """Unpooled z-test p-values of every table (se = 0: p = 1 if equal, else 0)."""
    q1 = np.arange(n1 + 1)[:, None] / n1
    q2 = np.arange(n2 + 1)[None, :] / n2
    diff = q1 - q2
    se = np.sqrt(q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = special.erfc(np.abs(diff) / se / math.sqrt(2))  # two-sided normal tail
    return np.where(se > 0, p, np.where(diff == 0, 1.0, 0.0))


def _compute_table(n1: int, n2: int, test: str) -> np.ndarray:
    if test == "fisher":
        t = _fisher_table(n1, n2)
    elif test in ("chi2", "z"):
        t = _chi2_table(n1, n2, yates=False)
    elif test == "chi2_yates":
        t = _chi2_table(n1, n2, yates=True)
    else:
        t = _wald_table(n1, n2)
    t.flags.writeable = False
    return t


_cache: OrderedDict[tuple[int, int, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()
_cache_used = [0]  # bytes


def _clear_cache() -> None:
    """Forget every cached p-value table (for benchmarks of the cold start)."""
    with _cache_lock:
        _cache.clear()
        _cache_used[0] = 0


def pvalue_table(n1: int, n2: int, test: str = "fisher") -> np.ndarray:
    """Two-sided p-values of every outcome: ``table[x1, x2]`` for x1/n1 vs x2/n2.

    Shape (n1 + 1, n2 + 1), read-only, computed once per (n1, n2, test) and cached
    (least recently used first out, 256 MB in all; "z" shares the "chi2" table). Every
    test is symmetric in the arms, so the table of (n1, n2) with n1 < n2 is the
    transpose of that of (n2, n1) (a view; computed once for both). Cost: Fisher's
    table about 0.15 ms for arms of 45 (all column totals at once), 20 ms for arms of
    500 (one pass per column total); the chi-square and z tables are closed forms.
    """
    n1, n2 = _check_n("n1", n1), _check_n("n2", n2)
    test = _check_test(test)
    key = (n1, n2, "chi2" if test == "z" else test)
    with _cache_lock:
        table = _cache.get(key)
        if table is not None:
            _cache.move_to_end(key)
            return table
    table = pvalue_table(n2, n1, test).T if n1 < n2 else _compute_table(n1, n2, key[2])
    if table.nbytes <= _CACHE_BYTES // 8:
        with _cache_lock:
            if key not in _cache:
                _cache[key] = table
                _cache_used[0] += _charge(table)
            while _cache_used[0] > _CACHE_BYTES:
                _, old = _cache.popitem(last=False)
                _cache_used[0] -= _charge(old)
    return table


def _charge(table: np.ndarray) -> int:
    """Bytes a cached table holds: none for a transposed view of another table."""
    return 0 if table.base is not None else table.nbytes


def _reject(n1: int, n2: int, test: str, alpha: float) -> np.ndarray:
    return (pvalue_table(n1, n2, test) < alpha).astype(float)


def _binom_matrix(p: np.ndarray, n: int) -> np.ndarray:
    """P(X = x) for X ~ Binomial(n, p): rows are the rates, columns x = 0..n."""
    return sps.binom.pmf(np.arange(n + 1)[None, :], n, np.asarray(p, float)[:, None])


# =========================================================================== exact power
def _power_at(p1: float, n1: int, p2: float, n2: int, test: str, alpha: float) -> float:
    """Exact power, inputs already checked: sum of Bin x Bin over the rejection region."""
    b1 = sps.binom.pmf(np.arange(n1 + 1), n1, p1)
    b2 = sps.binom.pmf(np.arange(n2 + 1), n2, p2)
    return float(b1 @ (pvalue_table(n1, n2, test) < alpha) @ b2)


def _powers_at(
    p1: float, p2: float, sizes: Sequence[tuple[int, int]], test: str, alpha: float
) -> list[float]:
    """``_power_at`` at each (n1, n2) of ``sizes``, with one binomial pmf call per arm
    for all sizes (rows padded with zeros beyond n); the same numbers."""
    if not sizes:
        return []
    n1s = np.array([a for a, _ in sizes])[:, None]
    n2s = np.array([b for _, b in sizes])[:, None]
    b1 = sps.binom.pmf(np.arange(n1s.max() + 1)[None, :], n1s, p1)
    b2 = sps.binom.pmf(np.arange(n2s.max() + 1)[None, :], n2s, p2)
    return [
        float(b1[i, : n1 + 1] @ (pvalue_table(n1, n2, test) < alpha) @ b2[i, : n2 + 1])
        for i, (n1, n2) in enumerate(sizes)
    ]


def exact_power(
    p1: float,
    n1: int,
    p2: float,
    n2: int,
    test: str = "fisher",
    alpha: float = 0.05,
    *,
    dropout: float = 0.0,
) -> PowerCalculation:
    """Exact power of a two-sided test of x1/n1 vs x2/n2, by enumerating every outcome.

    ``power = sum over x1 = 0..n1, x2 = 0..n2 of Bin(x1; n1, p1) Bin(x2; n2, p2)
    [p(x1, x2) < alpha]``, with the p-values from ``pvalue_table`` (computed once).
    With ``p1 == p2`` this is the test's exact size (see ``type1_error``).

    ``dropout``: the probability that a randomized patient has no week-48 outcome and
    is left out of the analysis (completers analysis), independently of everything
    else. Then ``n1``, ``n2`` are the randomized numbers and the analysed numbers are
    Binomial(n, 1 - dropout); the power is averaged over them (the least likely analysed
    numbers, 1e-10 of probability in all per arm, are left out; an arm with nobody
    analysed cannot reject).
    """
    p1, p2 = _check_rate("p1", p1), _check_rate("p2", p2)
    n1, n2 = _check_n("n1", n1), _check_n("n2", n2)
    test, alpha = _check_test(test), _check_alpha(alpha)
    d = _check_rate("dropout", dropout)
    if d >= 1:
        raise ValueError(f"dropout must be < 1, got {dropout!r}")
    if d == 0:
        power = _power_at(p1, n1, p2, n2, test, alpha)
        return PowerCalculation(power, p1, n1, p2, n2, test, alpha, "exact enumeration")
    support1, support2 = _analysed_support(n1, 1 - d), _analysed_support(n2, 1 - d)
    # Bin(x; a, p) of every analysed number a at once (one row per a, zeros beyond a)
    b1 = sps.binom.pmf(np.arange(n1 + 1)[None, :], np.array(list(support1))[:, None], p1)
    b2 = sps.binom.pmf(np.arange(n2 + 1)[None, :], np.array(list(support2))[:, None], p2)
    power = 0.0
    for i, (a1, w1) in enumerate(support1.items()):
        for j, (a2, w2) in enumerate(support2.items()):
            reject = pvalue_table(a1, a2, test) < alpha
            power += w1 * w2 * float(b1[i, : a1 + 1] @ reject @ b2[j, : a2 + 1])
    return PowerCalculation(
        float(power),
        p1,
        n1,
        p2,
        n2,
        test,
        alpha,
        f"exact enumeration, analysed n ~ Binomial(n, {1 - d:g}) (dropout {d:g})",
        "n1, n2 are randomized; completers analysed",
    )


@functools.lru_cache(maxsize=64)
def _analysed_support(n: int, keep: float) -> Mapping[int, float]:
    """Analysed counts a >= 1 and their Binomial(n, keep) probabilities, leaving out the
    least likely counts whose probabilities add up to at most 1e-10 (cached, read-only)."""
    w = sps.binom.pmf(np.arange(n + 1), n, keep)
    order = np.argsort(w)
    dropped = order[np.cumsum(w[order]) <= 1e-10]
    keepers = np.setdiff1d(np.arange(1, n + 1), dropped)
    return MappingProxyType({int(a): float(w[a]) for a in keepers})


def exact_power_grid(
    p1: Sequence[float] | np.ndarray,
    p2: Sequence[float] | np.ndarray,
    n1: int,
    n2: int,
    test: str = "fisher",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Exact power for every pair of rates in ``p1`` x ``p2`` (one matrix product).

    Returns a tidy frame with columns p1, p2, power (``len(p1) * len(p2)`` rows, p1
    varying slowest), e.g. for a heatmap (``pivot(index="p2", columns="p1")``).
    """
    q1 = np.array([_check_rate("p1", v) for v in np.atleast_1d(p1)])
    q2 = np.array([_check_rate("p2", v) for v in np.atleast_1d(p2)])
    n1, n2 = _check_n("n1", n1), _check_n("n2", n2)
    test, alpha = _check_test(test), _check_alpha(alpha)
    power = _binom_matrix(q1, n1) @ _reject(n1, n2, test, alpha) @ _binom_matrix(q2, n2).T
    return pd.DataFrame(
        {"p1": np.repeat(q1, len(q2)), "p2": np.tile(q2, len(q1)), "power": power.ravel()}
    )


def power_curve(
    p1: float,
    p2: float,
    n1: Sequence[int] | np.ndarray,
    tests: Sequence[str] = ("fisher",),
    alpha: float = 0.05,
    ratio: float = 1.0,
) -> pd.DataFrame:
    """Exact power against the arm size: one row per n1 in ``n1`` and test.

    ``n2 = round(ratio * n1)`` (half up, at least 1). Columns: test, n1, n2, power.
    The curve of an exact test is a sawtooth: it does not rise with every patient.
    """
    p1, p2 = _check_rate("p1", p1), _check_rate("p2", p2)
    alpha = _check_alpha(alpha)
    tests = [_check_test(t) for t in ([tests] if isinstance(tests, str) else tests)]
    sizes = [_check_n("n1", n) for n in n1]
    r = _check_ratio(ratio)
    pairs = [(n, _n2_of(n, r)) for n in sizes]
    powers = {t: _powers_at(p1, p2, pairs, t, alpha) for t in tests}
    rows = [
        {"test": t, "n1": n, "n2": m, "power": powers[t][i]}
        for i, (n, m) in enumerate(pairs)
        for t in tests
    ]
    return pd.DataFrame(rows, columns=["test", "n1", "n2", "power"])


# =========================================================================== type I error
def _size(n1: int, n2: int, reject: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _size_of(_binom_matrix(p, n1), reject, _binom_matrix(p, n2))


def _size_of(b1: np.ndarray, reject: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Size at each common rate, from the binomial matrices of both arms at those rates."""
    return np.einsum("ij,jk,ik->i", b1, reject, b2)


@functools.lru_cache(maxsize=8)
def _size_grid(n1: int, n2: int, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``type1_error``'s grid of common rates and both arms' binomial matrices there,
    computed once for every test (read-only)."""
    pis = np.arange(1, grid + 1) / (grid + 1)
    out = (pis, _binom_matrix(pis, n1), _binom_matrix(pis, n2))
    for a in out:
        a.flags.writeable = False
    return out


def type1_error(
    p: float,
    n1: int,
    n2: int,
    test: str = "fisher",
    alpha: float = 0.05,
    grid: int = 1999,
) -> TypeIError:
    """Exact size of the two-sided test at the common rate ``p``, and its maximum over p.

    The maximum is taken over ``grid`` equally spaced rates i / (grid + 1) (0.0005 to
    0.9995 in steps of 0.0005 for the default), then refined by bounded scalar
    optimisation between the neighbours of the best grid point.
    """
    p = _check_rate("p", p)
    n1, n2 = _check_n("n1", n1), _check_n("n2", n2)
    test, alpha = _check_test(test), _check_alpha(alpha)
    grid = _check_n("grid", grid, low=3)
    reject = _reject(n1, n2, test, alpha)
    size_at = float(_size(n1, n2, reject, np.array([p]))[0])
    pis, b1, b2 = _size_grid(n1, n2, grid)
    values = _size_of(b1, reject, b2)
    k = int(np.argmax(values))
    best_p, best = float(pis[k]), float(values[k])
    lo, hi = pis[max(k - 1, 0)], pis[min(k + 1, grid - 1)]
    res = optimize.minimize_scalar(
        lambda x: -_size(n1, n2, reject, np.array([x]))[0],
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-10},
    )
    if -res.fun > best:
        best_p, best = float(res.x), float(-res.fun)
    return TypeIError(test, alpha, n1, n2, p, size_at, best, best_p)


def size_curve(
    n1: int,
    n2: int,
    tests: Sequence[str] = POWER_TESTS,
    alpha: float = 0.05,
    p: Sequence[float] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Exact size of each test against the common rate: columns test, p, size.

    ``p`` defaults to 999 rates from 0.001 to 0.999.
    """
    n1, n2 = _check_n("n1", n1), _check_n("n2", n2)
    alpha = _check_alpha(alpha)
    tests = [_check_test(t) for t in ([tests] if isinstance(tests, str) else tests)]
    pis = np.linspace(0.001, 0.999, 999) if p is None else np.asarray(p, float)
    for v in pis:
        _check_rate("p", float(v))
    b1, b2 = _binom_matrix(pis, n1), _binom_matrix(pis, n2)  # shared by the tests
    frames = [
        pd.DataFrame({"test": t, "p": pis, "size": _size_of(b1, _reject(n1, n2, t, alpha), b2)})
        for t in tests
    ]
    return pd.concat(frames, ignore_index=True)


# =========================================================================== sample size
def _check_ratio(ratio: Any) -> float:
    if isinstance(ratio, bool | np.bool_) or not isinstance(ratio, int | float | np.number):
        raise ValueError(f"ratio (n2 / n1) must be a positive number, got {ratio!r}")
    r = float(ratio)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"ratio (n2 / n1) must be a positive number, got {ratio!r}")
    return r


def _n2_of(n1: int, ratio: float) -> int:
    return max(1, math.floor(ratio * n1 + 0.5))


def _formula_n(method: str, p1: float, p2: float, power: float, alpha: float, r: float) -> float:
    """Unrounded n1 of a normal-approximation formula (two-sided alpha, n2 = r n1)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import (
        proportion_effectsize,
        samplesize_proportions_2indep_onetail,
    )

    if method == "arcsine":
        es = proportion_effectsize(p1, p2)
        return float(
            NormalIndPower().solve_power(
                effect_size=es, power=power, alpha=alpha, ratio=r, alternative="two-sided"
            )
        )
    n = float(samplesize_proportions_2indep_onetail(p1 - p2, p2, power, ratio=r, alpha=alpha))
    if method == "normal":
        return n
    # Fleiss, Tytun & Ury (1980): n' = n/4 (1 + sqrt(1 + 2 (r + 1) / (n r |p1 - p2|)))^2
    delta = abs(p1 - p2)
    return n / 4 * (1 + math.sqrt(1 + 2 * (r + 1) / (n * r * delta))) ** 2


def sample_size(
    p1: float,
    p2: float,
    power: float = 0.8,
    alpha: float = 0.05,
    method: str = "fisher",
    ratio: float = 1.0,
    n_max: int | None = None,
) -> SampleSize:
    """Patients per arm for a two-sided test of p1 vs p2 to reach ``power``.

    ``method``: a test of ``POWER_TESTS`` (exact power, searched over n1 with
    ``n2 = round(ratio * n1)``), or a normal-approximation formula:

    - ``"normal"``: pooled variance under the null, unpooled under the alternative
      (Fleiss 1981; statsmodels ``samplesize_proportions_2indep_onetail``; the same as
      R's ``power.prop.test``);
    - ``"normal_cc"``: that n with the continuity correction of Fleiss, Tytun & Ury
      (Biometrics 1980;36:343-346), an approximation to the n of Fisher's exact test;
    - ``"arcsine"``: the arcsine transformation (Cohen's h; statsmodels
      ``NormalIndPower`` with ``proportion_effectsize``; R's ``pwr.2p.test``).

    ``ratio`` is n2 / n1. For an exact test the search runs from well below the
    normal-approximation n (where power is below target) to ``n_max`` (default 1.5
    times the continuity-corrected n plus 20, extended while power dips below target
    near the end); see ``SampleSize`` for which n is returned (the stable one).
    """
    p1, p2 = _check_rate("p1", p1), _check_rate("p2", p2)
    if p1 == p2:
        raise ValueError(f"p1 and p2 must differ (both {p1!r}): no n gives power above alpha")
    target = _check_alpha(power, "power")
    alpha = _check_alpha(alpha)
    method = _check_choice("method", method, SAMPLE_SIZE_METHODS)
    r = _check_ratio(ratio)
    if target <= alpha:
        raise ValueError(f"power must exceed alpha ({alpha:g}), got {power!r}")
    if method in _FORMULAS:
        n = _formula_n(method, p1, p2, target, alpha, r)
        n1 = max(1, math.ceil(n - 1e-9))
        n2 = max(1, math.ceil(r * n - 1e-9))
        achieved = _formula_power(method, p1, p2, n1, n2, alpha)
        return SampleSize(method, p1, p2, alpha, target, r, n1, n2, achieved, n1, n1, None, n)
    return _exact_sample_size(p1, p2, target, alpha, method, r, n_max)


def _formula_power(method: str, p1: float, p2: float, n1: int, n2: int, alpha: float) -> float:
    """Power by the method's own approximation at the rounded sizes (for display)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import power_proportions_2indep, proportion_effectsize

    if method == "arcsine":
        return float(
            NormalIndPower().power(
                proportion_effectsize(p1, p2), n1, alpha, ratio=n2 / n1, alternative="two-sided"
            )
        )
    ratio = n2 / n1
    nobs1: float = n1
    if method == "normal_cc":  # invert the correction: the uncorrected n it stands for
        c = 2 * (ratio + 1) / (ratio * abs(p1 - p2))
        nobs1 = (math.sqrt(n1) - c / (4 * math.sqrt(n1))) ** 2
        if math.sqrt(n1) <= c / (4 * math.sqrt(n1)):
            return float("nan")
    res = power_proportions_2indep(p1 - p2, p2, nobs1, ratio=ratio, alpha=alpha)
    return float(res.power)


def _exact_sample_size(
    p1: float, p2: float, target: float, alpha: float, test: str, r: float, n_max: int | None
) -> SampleSize:
    approx = _formula_n("normal_cc", p1, p2, target, alpha, r)
    lo = max(2, math.floor(0.5 * _formula_n("normal", p1, p2, target, alpha, r)))
    hi = (
        _check_n("n_max", n_max, low=2)
        if n_max is not None
        else max(lo + 10, math.ceil(1.5 * approx) + 20)
    )

    def powers_at(ns: Sequence[int]) -> list[float]:
        return _powers_at(p1, p2, [(n, _n2_of(n, r)) for n in ns], test, alpha)

    while lo > 2 and powers_at([lo])[0] >= target:  # start where power is surely below target
        lo = max(2, lo // 2)
    ns = list(range(lo, hi + 1))
    powers = powers_at(ns)
    if n_max is None:  # extend while the last tenth of the range still dips below target
        while not all(p >= target for p in powers[-max(5, len(ns) // 10) :]):
            more = list(range(ns[-1] + 1, ns[-1] + 1 + max(20, len(ns) // 2)))
            ns += more
            powers += powers_at(more)
    above = np.array(powers) >= target
    if not above.any():
        raise ValueError(
            f"no n1 up to n_max = {ns[-1]} reaches power {target:g} with the {test} test; "
            "raise n_max"
        )
    first = ns[int(np.argmax(above))]
    below = np.flatnonzero(~above)
    stable = ns[int(below[-1]) + 1] if below.size else ns[0]
    if stable > ns[-1]:
        raise ValueError(
            f"power of the {test} test is below {target:g} at n_max = {ns[-1]}; raise n_max"
        )
    n2 = _n2_of(stable, r)
    note = "" if first == stable else f"power dips below target between n1 = {first} and {stable}"
    return SampleSize(
        test,
        p1,
        p2,
        alpha,
        target,
        r,
        stable,
        n2,
        powers[ns.index(stable)],
        first,
        stable,
        ns[-1],
        None,
        note,
    )


# =========================================================================== assurance
def _check_beta(name: str, prior: Any) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in prior)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (a, b) of Beta parameters: {prior!r}") from None
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name} must have a > 0 and b > 0, got {prior!r}")
    return a, b


def assurance(
    prior1: tuple[float, float],
    prior2: tuple[float, float],
    n1: int,
    n2: int,
    test: str = "fisher",
    alpha: float = 0.05,
) -> PowerCalculation:
    """Power averaged over Beta distributions of the two rates ("assurance").

    With ``p1 ~ Beta(a1, b1)`` and ``p2 ~ Beta(a2, b2)`` independent, each arm's count
    is beta-binomial (the conjugate predictive distribution), so the average of the
    exact power over the rates is the sum over the rejection region of the two
    beta-binomial probabilities: exact, no simulation. With the posterior of a trial
    (e.g. Beta(1 + 9, 1 + 36) and Beta(1 + 2, 1 + 42) after 9/45 and 2/44 with uniform
    priors) it is the probability that a new trial of n1 + n2 patients is significant,
    allowing for what the first trial left uncertain (O'Hagan, Stevens & Campbell,
    Pharm Stat 2005;4:187-201). ``p1``/``p2`` of the result are the Beta means.
    """
    a1, b1 = _check_beta("prior1", prior1)
    a2, b2 = _check_beta("prior2", prior2)
    n1, n2 = _check_n("n1", n1), _check_n("n2", n2)
    test, alpha = _check_test(test), _check_alpha(alpha)
    q1 = sps.betabinom.pmf(np.arange(n1 + 1), n1, a1, b1)
    q2 = sps.betabinom.pmf(np.arange(n2 + 1), n2, a2, b2)
    value = float(q1 @ _reject(n1, n2, test, alpha) @ q2)
    return PowerCalculation(
        value,
        a1 / (a1 + b1),
        n1,
        a2 / (a2 + b2),
        n2,
        test,
        alpha,
        f"assurance: power averaged over Beta({a1:g}, {b1:g}) and Beta({a2:g}, {b2:g}) rates",
        "p1, p2 are the Beta means",
    )
