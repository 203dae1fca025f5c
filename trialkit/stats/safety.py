"""Safety: what a small trial's adverse-event data can and cannot tell.

A trial that reports "no major adverse events" has seen none in a few dozen patients.
How large could the true rate still be, and how likely was a rare harm to show up at all?

- ``clopper_pearson``: the exact confidence interval (or one-sided bound) of a
  proportion, and ``clopper_pearson_bounds``: the same for arrays of counts in one
  call (quantiles of ``scipy.stats.beta``);
- ``rule_of_three``: the one-sided upper bound after 0 events in ``n`` patients, exact
  (``1 - alpha ** (1 / n)``) and by the rule of three (``3 / n``);
- ``prob_at_least_one`` and ``n_to_see_one``: the chance of seeing at least one event
  for a true rate, and the patients needed to see one with a given probability;
- ``incidence_table``: patients with at least one adverse event per arm, by body system
  and preferred term, with the risk difference, its interval and Fisher's exact p;
- ``infusion_days``, ``add_infusion_period`` and ``infusion_table``: adverse events by
  the infusion they followed.

Proportions and rates are fractions (0.2, not 20 %); percentages in tables are
labelled "%". Arms are those of ``trialkit.schema.ARMS``: differences are UC-MSC minus
placebo, so a positive risk difference means more events under cells.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from trialkit.schema import ARMS, INFUSION_WEEKS, target_day
from trialkit.stats.binary import RD_METHODS, fisher_test, risk_difference
from trialkit.stats.results import EffectEstimate, _check_alpha, _check_choice, _check_int, _fmt

__all__ = [
    "ALTERNATIVES",
    "ConfidenceBounds",
    "ZeroEventBound",
    "add_infusion_period",
    "clopper_pearson",
    "clopper_pearson_bounds",
    "incidence_table",
    "infusion_days",
    "infusion_table",
    "n_to_see_one",
    "prob_at_least_one",
    "rule_of_three",
]

#: ``alternative`` of :func:`clopper_pearson`: "two-sided" (an interval), "less" (a
#: one-sided upper bound: the interval is [0, upper]) or "greater" (a lower bound).
ALTERNATIVES: tuple[str, ...] = ("two-sided", "less", "greater")


# --------------------------------------------------------------------------- bounds
def _check_xn(x: Any, n: Any) -> tuple[int, int]:
    x, n = _check_int("x", x), _check_int("n", n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 <= x <= n:
        raise ValueError(f"x must be between 0 and n = {n}, got {x}")
    return x, n


class ConfidenceBounds(NamedTuple):
    """Lower and upper confidence limits of proportions (fractions), as arrays (or
    floats for scalar inputs): what :func:`clopper_pearson_bounds` returns."""

    low: np.ndarray | float
    high: np.ndarray | float


def clopper_pearson_bounds(
    x: int | np.ndarray | Sequence[int],
    n: int | np.ndarray | Sequence[int],
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> ConfidenceBounds:
    """Exact (Clopper-Pearson) limits of many proportions ``x / n`` at once.

    ``x`` (events) and ``n`` (patients) are whole numbers or arrays of them that
    broadcast (``0 <= x <= n``, ``n >= 1``); ``alpha`` and ``alternative`` as in
    :func:`clopper_pearson`, which gives the same limits for one proportion. The
    limits are quantiles of beta distributions (``scipy.stats.beta.ppf``, one call for
    all proportions): lower ``Beta(x, n - x + 1)`` at ``a``, upper ``Beta(x + 1, n - x)``
    at ``1 - a``, with ``a = alpha / 2`` two-sided and ``a = alpha`` one-sided; the
    lower limit is 0 when ``x = 0`` and the upper 1 when ``x = n`` (or 0 and 1 for the
    side a one-sided bound leaves open). For ``x = 0`` the upper limit is
    ``1 - a ** (1 / n)``.

    Returns ``ConfidenceBounds(low, high)``: arrays of the broadcast shape, floats for
    scalar inputs.
    """
    for name, v in (("x", x), ("n", n)):
        if not np.issubdtype(np.asarray(v).dtype, np.integer):  # bool is not an integer
            raise ValueError(f"{name} must be integer counts, got {v!r}")
    xs, ns = np.broadcast_arrays(np.asarray(x, dtype=np.int64), np.asarray(n, dtype=np.int64))
    if np.any(ns < 1):
        raise ValueError(f"n must be at least 1, got {n!r}")
    if np.any((xs < 0) | (xs > ns)):
        raise ValueError(f"x must be between 0 and n, got x = {x!r}, n = {n!r}")
    alpha = _check_alpha(alpha)
    alternative = _check_choice("alternative", alternative, ALTERNATIVES)
    a = alpha / 2 if alternative == "two-sided" else alpha
    with np.errstate(all="ignore"):  # beta(0, .) and beta(., 0) are replaced just below
        low = np.where(xs > 0, stats.beta.ppf(a, xs, ns - xs + 1), 0.0)
        high = np.where(xs < ns, stats.beta.ppf(1 - a, xs + 1, ns - xs), 1.0)
    if alternative == "less":
        low = np.zeros_like(low)
    elif alternative == "greater":
        high = np.ones_like(high)
    if low.ndim == 0:
        return ConfidenceBounds(float(low), float(high))
    return ConfidenceBounds(low, high)


def clopper_pearson(
    x: int, n: int, alpha: float = 0.05, alternative: str = "two-sided"
) -> EffectEstimate:
    """Exact (Clopper-Pearson) confidence interval of a proportion ``x / n``.

    ``alternative="two-sided"``: the interval with at most ``alpha / 2`` in each tail;
    ``"less"``: the one-sided upper bound at level ``1 - alpha`` (interval ``[0, high]``),
    which is what the "rule of three" approximates; ``"greater"``: the one-sided lower
    bound (``[low, 1]``). Computed as quantiles of beta distributions by
    :func:`clopper_pearson_bounds` (which takes arrays: many proportions in one call);
    the same limits as ``scipy.stats.binomtest(x, n, alternative=...).proportion_ci(
    confidence_level=1 - alpha, method="exact")`` and R's ``binom.test`` (tested). For
    ``x = 0`` the upper bound is ``1 - alpha ** (1 / n)`` one-sided and
    ``1 - (alpha / 2) ** (1 / n)`` two-sided.

    Assumption: ``x`` is binomial, independent patients with a common probability.
    The interval is conservative (coverage at least ``1 - alpha`` for every true
    proportion, usually more).

    Reference: Clopper CJ, Pearson ES. Biometrika 1934;26:404-413.
    """
    x, n = _check_xn(x, n)
    alpha = _check_alpha(alpha)
    alternative = _check_choice("alternative", alternative, ALTERNATIVES)
    low, high = clopper_pearson_bounds(x, n, alpha, alternative)
    kind = {
        "two-sided": "two-sided",
        "less": "one-sided upper bound",
        "greater": "one-sided lower bound",
    }
    method = f"clopper-pearson exact, {kind[alternative]}"
    return EffectEstimate("proportion", x / n, float(low), float(high), method, alpha)


@dataclass(frozen=True)
class ZeroEventBound:
    """How large a rate can be after 0 events in ``n`` patients.

    ``exact`` is the exact one-sided upper confidence bound at level ``1 - alpha``,
    ``1 - alpha ** (1 / n)`` (Clopper-Pearson with 0 events); ``approx`` its
    approximation ``-ln(alpha) / n`` (2.996 / n at 95 %); ``rule_of_three`` the
    classical rounded rule ``3 / n`` (Hanley & Lippman-Hand 1983), meant for 95 %.
    Fractions, not percentages.
    """

    n: int
    alpha: float
    exact: float
    approx: float
    rule_of_three: float

    @property
    def relative_error(self) -> float:
        """``rule_of_three / exact - 1``: how much 3/n overstates the exact bound."""
        return self.rule_of_three / self.exact - 1

    def __str__(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        text = (
            f"0 events in {self.n}: one-sided {level} upper bound {_fmt(self.exact)} "
            f"(exact), {_fmt(self.approx)} (-ln(alpha)/n = {-math.log(self.alpha):.4g}/n)"
        )
        if self.alpha == 0.05:
            text += (
                f", rule of three 3/n = {_fmt(self.rule_of_three)} "
                f"({100 * self.relative_error:+.1f}%)"
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: n, alpha, exact, approx, rule_of_three, relative_error."""
        return {
            "n": self.n,
            "alpha": float(self.alpha),
            "exact": float(self.exact),
            "approx": float(self.approx),
            "rule_of_three": float(self.rule_of_three),
            "relative_error": float(self.relative_error),
        }


def rule_of_three(n: int, alpha: float = 0.05) -> ZeroEventBound:
    """The upper bound of an event rate never seen in ``n`` patients, three ways.

    Exact: the one-sided Clopper-Pearson bound :func:`clopper_pearson` ``(0, n, alpha,
    "less")``, which is ``1 - alpha ** (1 / n)``; its first-order approximation
    ``-ln(alpha) / n``; and the rule of three ``3 / n`` (at 95 %, -ln 0.05 = 2.996).
    Both approximations overstate the exact bound, by about ``-ln(alpha) / (2 n)`` in
    relative terms (at 95 %: 16 % at n = 10, 3.5 % at n = 45, 1.6 % at n = 100), so the
    rule of three errs on the safe side.

    Reference: Hanley JA, Lippman-Hand A. If nothing goes wrong, is everything all
    right? Interpreting zero numerators. JAMA 1983;249:1743-1745.
    """
    n = _check_int("n", n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    alpha = _check_alpha(alpha)
    exact = clopper_pearson(0, n, alpha, alternative="less").high
    return ZeroEventBound(n, alpha, exact, -math.log(alpha) / n, 3 / n)


def prob_at_least_one(rate: float | np.ndarray, n: int | np.ndarray) -> float | np.ndarray:
    """Probability of seeing at least one event in ``n`` patients when each has the
    event with probability ``rate``: ``1 - (1 - rate) ** n`` (independent patients).

    ``rate`` (a fraction in [0, 1]) and ``n`` (patients, >= 0) may be arrays; they
    broadcast. Returns a float for scalar inputs.
    """
    r = np.asarray(rate, dtype=float)
    m = np.asarray(n)
    if np.any(~np.isfinite(r)) or np.any((r < 0) | (r > 1)):
        raise ValueError(f"rate must be a probability in [0, 1], got {rate!r}")
    if not np.issubdtype(m.dtype, np.integer) or np.any(m < 0):
        raise ValueError(f"n must be a whole number of patients >= 0, got {n!r}")
    with np.errstate(divide="ignore", invalid="ignore"):  # rate 1: fixed just below
        out = -np.expm1(m * np.log1p(-r))
    out = np.where(r == 1, np.where(m > 0, 1.0, 0.0), out)
    return float(out) if out.ndim == 0 else out


def n_to_see_one(rate: float, prob: float = 0.95) -> int:
    """Fewest patients for at least one event with probability ``prob``, when each has
    the event with probability ``rate`` (a fraction in (0, 1]): the smallest ``n`` with
    ``1 - (1 - rate) ** n >= prob``, i.e. ``ceil(ln(1 - prob) / ln(1 - rate))``; about
    ``3 / rate`` for ``prob = 0.95`` (the rule of three read the other way)."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise ValueError(f"rate must be a probability in (0, 1], got {rate!r}")
    if isinstance(prob, bool) or not isinstance(prob, int | float) or not 0 < prob < 1:
        raise ValueError(f"prob must be in (0, 1), got {prob!r}")
    if rate == 1:
        return 1
    n = max(1, math.ceil(math.log1p(-prob) / math.log1p(-rate)))
    while n > 1 and prob_at_least_one(rate, n - 1) >= prob:  # guard against rounding
        n -= 1
    while prob_at_least_one(rate, n) < prob:
        n += 1
    return n


# --------------------------------------------------------------------------- incidence
def _need(df: pd.DataFrame, cols: Sequence[str], name: str, arg: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{arg}: {name} lacks column(s) {', '.join(missing)}")


def _population(adsl: pd.DataFrame, population: str) -> pd.DataFrame:
    if not isinstance(adsl, pd.DataFrame):
        raise ValueError(f"adsl must be a DataFrame (ADSL), got {type(adsl).__name__}")
    _need(adsl, ["USUBJID", "ARM"], "ADSL", "adsl")
    if not isinstance(population, str) or population not in adsl.columns:
        flags = [c for c in adsl.columns if str(c).endswith("FL")]
        raise ValueError(
            f"population must name an ADSL flag column ({', '.join(flags)}), got {population!r}"
        )
    return adsl.loc[adsl[population] == "Y", ["USUBJID", "ARM"]]


def _is_synthetic(*frames: pd.DataFrame) -> bool:
    for df in frames:
        if df.attrs.get("synthetic"):
            return True
        if "SYNTHETIC" in df.columns and len(df) and (df["SYNTHETIC"] == "Y").all():
            return True
    return False


def _row(
    label: str,
    level: int,
    keys: dict[str, str],
    counts: dict[str, tuple[int, int, int]],
    compare: Callable[[int, int, int, int], tuple[float, float, float, float]],
) -> dict[str, Any]:
    """One line of the incidence table from ``counts[arm] = (patients, at risk, events)``."""
    out: dict[str, Any] = {"term": label, "level": level, **keys}
    for arm in ARMS:
        x, n, events = counts[arm]
        out[f"{arm} n"] = x
        out[f"{arm} N"] = n
        out[f"{arm} %"] = 100 * x / n if n else math.nan
        out[f"{arm} events"] = events
    (x1, n1, _), (x2, n2, _) = counts[ARMS[0]], counts[ARMS[1]]
    rd, low, high, p = compare(x1, n1, x2, n2) if n1 and n2 else (math.nan,) * 4
    out.update(RD=rd, **{"RD low": low, "RD high": high}, p=p)
    return out


def incidence_table(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    by: str | Sequence[str] = ("AEBODSYS", "AEDECOD"),
    population: str = "RANDFL",
    treatment_emergent: bool = True,
    method: str = "newcombe",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Patients with at least one adverse event, per arm, overall and by ``by``.

    ``adae``: ADAE rows to count (filter it first for serious, related, severe ...
    events); ``adsl``: ADSL; the patients at risk are those with ``population`` = "Y"
    (an ADSL flag; default "RANDFL", all randomized: see the safety-set note in
    notebook 08) and only their events count. ``treatment_emergent``: count only rows
    with TRTEMFL "Y". ``by``: one ADAE column (a flat table) or a hierarchy, e.g.
    ``("AEBODSYS", "AEDECOD")``: a row per body system, each followed by its preferred
    terms. A patient counts once per row however many events they had ("n"); "events"
    counts every event.

    One row per line of the table, in display order: first "Any adverse event" (level
    0), then by descending number of patients (both arms), ties by name. Columns:
    ``term`` (the label), ``level`` (0 overall, 1 first ``by`` column, 2 second ...),
    the ``by`` columns ("" where not applicable), then per arm of ``schema.ARMS``
    "<arm> n", "<arm> N" (at risk), "<arm> %" (100 n / N), "<arm> events"; then the risk
    difference UC-MSC minus placebo "RD" with its ``1 - alpha`` interval "RD low",
    "RD high" (``method``, one of ``RD_METHODS``; default Newcombe's hybrid score,
    chosen for small counts: near-nominal coverage and sensible bounds even with zero
    cells, where the Wald interval collapses), and Fisher's exact two-sided "p".

    p-values are unadjusted: with many terms some fall below 0.05 by chance, so they
    screen, they do not prove. ``attrs``: synthetic (True when ``adae`` or ``adsl`` is
    synthetic), population, treatment_emergent, method, alpha, by.
    """
    if not isinstance(adae, pd.DataFrame):
        raise ValueError(f"adae must be a DataFrame (ADAE), got {type(adae).__name__}")
    levels = [by] if isinstance(by, str) else list(by)
    if not levels or not all(isinstance(b, str) for b in levels):
        raise ValueError(f"by must be an ADAE column name or a sequence of them, got {by!r}")
    _need(adae, ["USUBJID", *levels], "ADAE", "by" if levels else "adae")
    if not isinstance(treatment_emergent, bool):
        raise ValueError(f"treatment_emergent must be True or False, got {treatment_emergent!r}")
    method = _check_choice("method", method, RD_METHODS)
    alpha = _check_alpha(alpha)
    pop = _population(adsl, population)
    at_risk = {arm: int((pop["ARM"] == arm).sum()) for arm in ARMS}

    ev = adae
    if treatment_emergent:
        _need(adae, ["TRTEMFL"], "ADAE", "treatment_emergent")
        ev = ev.loc[ev["TRTEMFL"] == "Y"]
    ev = ev.merge(pop, on="USUBJID", how="inner")
    # arrays: a line of the table is a mask over the events (no frame per line)
    patient = pd.factorize(ev["USUBJID"])[0]
    arm = ev["ARM"].to_numpy()
    level_values = {col: ev[col].astype("str").to_numpy() for col in levels}
    in_arm = {a: arm == a for a in ARMS}

    def patients(mask: np.ndarray) -> int:
        return len(np.unique(patient[mask]))

    def counts(mask: np.ndarray) -> dict[str, tuple[int, int, int]]:
        return {
            a: (patients(mask & in_arm[a]), at_risk[a], int((mask & in_arm[a]).sum())) for a in ARMS
        }

    @functools.cache  # many lines share a 2 x 2 table (1/45 vs 0/46 ...): compare each once
    def compare(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float, float]:
        rd = risk_difference(x1, n1, x2, n2, method=method, alpha=alpha)
        return rd.estimate, rd.low, rd.high, fisher_test(x1, n1, x2, n2).p

    blank = dict.fromkeys(levels, "")
    everything = np.ones(len(ev), dtype=bool)
    rows = [_row("Any adverse event", 0, blank, counts(everything), compare)]

    def nest(within: np.ndarray, depth: int, keys: dict[str, str]) -> None:
        col = levels[depth]
        values = level_values[col]
        here_values = [v for v in pd.unique(values[within]) if not pd.isna(v)]
        masks = {v: within & (values == v) for v in here_values}
        sizes = {v: patients(m) for v, m in masks.items()}
        for value in sorted(here_values, key=lambda v: (-sizes[v], v)):
            here = {**keys, col: value}
            rows.append(_row(value, depth + 1, here, counts(masks[value]), compare))
            if depth + 1 < len(levels):
                nest(masks[value], depth + 1, here)

    if len(ev):
        nest(everything, 0, blank)
    table = pd.DataFrame(rows)
    table.attrs.update(
        synthetic=_is_synthetic(adae, adsl),
        population=population,
        treatment_emergent=treatment_emergent,
        method=method,
        alpha=alpha,
        by=levels,
    )
    return table


# --------------------------------------------------------------------------- infusions
def infusion_days(
    adsl: pd.DataFrame,
    visits: pd.DataFrame,
    weeks: Sequence[int] = INFUSION_WEEKS,
    population: str = "RANDFL",
) -> pd.DataFrame:
    """The study day of every infusion each patient received.

    Infusions are given at the visits of ``weeks`` (default ``schema.INFUSION_WEEKS``:
    0, 4, 8). The first is study day 1 by definition (``schema``: day 1 is the day of
    the first infusion). A later one is on the day of the patient's record at that visit
    in ``visits`` (ADEX or ADLB with AVISITN and ADY; the earliest record of the visit);
    if the patient has no record at that visit but has one at a later visit, the target
    day ``7 * week + 1`` is used (INFSRC "nominal"); if the patient has nothing at or
    after that visit, the infusion is taken as not given (no row). These are rules of
    this project (the paper publishes no exposure data); the synthetic patients are
    generated the same way.

    Returns one row per infusion given: USUBJID, ARM, INFNUM (1, 2, ...), INFWEEK,
    INFDY (study day), INFSRC ("day 1", "visit" or "nominal"), for the ADSL patients
    with ``population`` = "Y".
    """
    pop = _population(adsl, population)
    _need(visits, ["USUBJID", "AVISITN", "ADY"], "visits", "visits")
    weeks = [_check_int("weeks", w) for w in weeks]
    if not weeks or weeks != sorted(set(weeks)):
        raise ValueError(f"weeks must be increasing infusion weeks, got {weeks!r}")
    v = visits.loc[visits["USUBJID"].isin(pop["USUBJID"]), ["USUBJID", "AVISITN", "ADY"]]
    at_visit = v.groupby(["USUBJID", "AVISITN"])["ADY"].min()
    last_week = v.groupby("USUBJID")["AVISITN"].max()
    # every patient x infusion at once (rows in patient order, then infusion order)
    k = len(weeks)
    subj = np.repeat(pop["USUBJID"].to_numpy(), k)
    week = np.tile(np.asarray(weeks, dtype=np.int64), len(pop))
    num = np.tile(np.arange(1, k + 1, dtype=np.int64), len(pop))
    seen = at_visit.reindex(pd.MultiIndex.from_arrays([subj, week])).to_numpy(dtype=float)
    later = last_week.reindex(subj).to_numpy(dtype=float) > week  # nan > w is False
    first, at = num == 1, ~np.isnan(seen)
    # an infusion is given if the patient has a record at its visit or after it; after
    # the first one not given, none is
    given = (first | at | later).reshape(-1, k).cumprod(axis=1).ravel().astype(bool)
    day = np.where(first, 1, np.where(at, seen, target_day(week)))
    src = np.where(first, "day 1", np.where(at, "visit", "nominal"))
    out = pd.DataFrame(
        {
            "USUBJID": pd.array(subj[given], dtype="str"),
            "ARM": pd.array(np.repeat(pop["ARM"].to_numpy(), k)[given], dtype="str"),
            "INFNUM": num[given],
            "INFWEEK": week[given],
            "INFDY": day[given].astype("int64"),
            "INFSRC": pd.array(src[given], dtype="str"),
        }
    )
    out.attrs["synthetic"] = _is_synthetic(adsl, visits)
    return out


def _period_label(k: int, last: int, window: int) -> str:
    if k == 0:
        return "before infusion 1"
    if k > last:
        return f"later (>= {window} days after the last infusion)"
    return f"after infusion {k}"


def add_infusion_period(adae: pd.DataFrame, days: pd.DataFrame, window: int = 28) -> pd.DataFrame:
    """Add to ADAE the infusion each event followed: INFNUM, AINFDY, APERIODN, APERIOD.

    ``days``: :func:`infusion_days`. For an event on study day ASTDY, INFNUM is the
    last infusion given on or before that day (0 if none) and AINFDY the days since it
    (0 = the infusion day). The event belongs to period INFNUM ("after infusion k") if
    the patient had another infusion after it (the period runs to the day before the
    next infusion) or, after the patient's last infusion, if it started within
    ``window`` days (AINFDY < ``window``; default 28, the published 4 weeks between
    infusions). Events ``window`` or more days after a patient's last infusion form the
    last period, ``APERIODN = number of infusions + 1`` ("later"); events before the
    first infusion (and of patients without infusions) are period 0. Returns a copy.
    """
    _need(adae, ["USUBJID", "ASTDY"], "ADAE", "adae")
    _need(days, ["USUBJID", "INFNUM", "INFDY"], "infusion days", "days")
    window = _check_int("window", window)
    if window < 1:
        raise ValueError(f"window must be at least 1 day, got {window}")
    last = int(days["INFNUM"].max()) if len(days) else 0
    inf = days.sort_values(["USUBJID", "INFNUM"])
    code, subjects = pd.factorize(inf["USUBJID"])  # sorted: each patient's rows together
    # first row and number of infusions per patient; a last 0 for "no infusions" (-1)
    start = np.append(np.searchsorted(code, np.arange(len(subjects))), 0)
    given = np.append(np.bincount(code, minlength=len(subjects)), 0)
    inf_day, inf_num = inf["INFDY"].to_numpy(dtype=float), inf["INFNUM"].to_numpy()
    who = pd.Index(subjects).get_indexer(adae["USUBJID"])  # -1: a patient without infusions
    day = adae["ASTDY"].to_numpy(dtype=float)
    # infusions on or before each event's day: one search in the (patient, day) order,
    # both keyed as patient * span + day (exact in float64 for study days)
    low = min(inf_day.min(initial=0), day.min(initial=0))
    span = max(inf_day.max(initial=0), day.max(initial=0)) - low + 1
    found = np.searchsorted(code * span + (inf_day - low), who * span + (day - low), "right")
    i = np.where(who >= 0, found - start[who], 0)  # 0: before the patient's first infusion
    prev = np.where(i > 0, start[who] + i - 1, 0)
    num = np.where(i > 0, inf_num[prev] if len(inf) else 0, 0)
    since = np.where(i > 0, day - (inf_day[prev] if len(inf) else 0), np.nan)
    before_next = i < given[who]  # another infusion followed: the period runs to it
    period = np.where(i == 0, 0, np.where(before_next | (since < window), num, last + 1))
    labels = {k: _period_label(k, last, window) for k in np.unique(period).tolist()}
    out = adae.copy()
    out["INFNUM"] = pd.array(num, dtype="int64")
    out["AINFDY"] = pd.array(since, dtype="Int64")
    out["APERIODN"] = pd.array(period, dtype="int64")
    out["APERIOD"] = pd.array([labels[k] for k in period.tolist()], dtype="str")
    out.attrs = dict(adae.attrs)
    out.attrs["infusion_window"] = window
    return out


def infusion_table(adae: pd.DataFrame, days: pd.DataFrame, window: int = 28) -> pd.DataFrame:
    """Adverse events by the infusion they followed, per arm.

    ``adae``: ADAE rows to count (filter first, e.g. treatment-emergent or related);
    ``days``: :func:`infusion_days`. Periods as in :func:`add_infusion_period`. One row
    per period k = 1 ... (number of infusions) and arm: "infused" (patients given
    infusion k, the denominator), "n" (of them, patients with at least one event in the
    period), "%" (100 n / infused), "events", and "events per 100 infusions". Only
    events of patients in ``days`` count. ``attrs["synthetic"]`` as for the inputs.
    """
    ev = add_infusion_period(adae, days, window)
    ev = ev.merge(days[["USUBJID", "ARM"]].drop_duplicates(), on="USUBJID", how="inner")
    rows = []
    for k in sorted(days["INFNUM"].unique()):
        got = days.loc[days["INFNUM"] == k]
        for arm in ARMS:
            infused = got.loc[got["ARM"] == arm, "USUBJID"]
            mine = ev.loc[(ev["APERIODN"] == k) & ev["USUBJID"].isin(infused)]
            n_inf, x = len(infused), int(mine["USUBJID"].nunique())
            rows.append(
                {
                    "period": f"after infusion {int(k)}",
                    "INFNUM": int(k),
                    "ARM": arm,
                    "infused": n_inf,
                    "n": x,
                    "%": 100 * x / n_inf if n_inf else math.nan,
                    "events": len(mine),
                    "events per 100 infusions": 100 * len(mine) / n_inf if n_inf else math.nan,
                }
            )
    out = pd.DataFrame(rows)
    out.attrs.update(synthetic=_is_synthetic(adae, days), infusion_window=window)
    return out
