"""Statistics for a binary endpoint: a 2x2 table given as ``x1/n1`` vs ``x2/n2``.

Events ``x`` out of ``n`` patients; effects are group 1 versus group 2; proportions,
risks and differences are fractions (0.2, not 20%); alpha=0.05 gives a 95% interval.

- ``risk_difference`` (methods "wald", "newcombe", "agresti-caffo",
  "miettinen-nurminen") and ``risk_difference_table`` (all methods side by side),
- ``relative_risk`` (Katz log interval), ``odds_ratio`` (Woolf logit interval or the
  exact conditional interval), ``number_needed_to_treat`` (Altman 1998),
- tests: ``fisher_test``, ``chi2_test`` (with or without Yates' correction), ``z_test``,
  ``barnard_test``, ``boschloo_test``, and ``binary_tests`` (all of them in one table),
- ``fragility_index`` (Walsh et al. 2014; reverse and generalised variants),
- ``analysis_set_scenarios``: every outcome the randomized-but-unanalysed patients could
  have had, with every interval and test above (best case, worst case, in between).

What scipy or statsmodels compute correctly is used; what is written by hand here
(Miettinen-Nurminen, Barnard, Boschloo: the libraries' versions are wrong, see
tests/fixtures/binary/README.md) is tested against published tables and R output.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import optimize, special, stats

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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
    "EXACT_GRID",
    "FRAGILITY_TESTS",
    "RD_METHODS",
    "EffectEstimate",
    "FragilityIndex",
    "HypothesisTest",
    "NumberNeededToTreat",
    "SCENARIO_ANALYSES",
    "analysis_set_scenarios",
    "barnard_test",
    "binary_tests",
    "boschloo_test",
    "chi2_test",
    "fisher_test",
    "fragility_index",
    "number_needed_to_treat",
    "odds_ratio",
    "relative_risk",
    "risk_difference",
    "risk_difference_table",
    "scenario_records",
    "scenario_verdicts",
    "z_test",
]

# ======================================================================================
# 1. Binary endpoint
# ======================================================================================

#: Interval methods of :func:`risk_difference`, in the order of the tables.
RD_METHODS: tuple[str, ...] = ("wald", "newcombe", "agresti-caffo", "miettinen-nurminen")

#: Tests :func:`fragility_index` can use.
FRAGILITY_TESTS: tuple[str, ...] = ("fisher", "chi2", "chi2_yates", "barnard", "boschloo")

#: Smallest number of grid points for the search over the nuisance parameter (the common
#: success probability) in Barnard's and Boschloo's tests; the default grid is
#: ``max(EXACT_GRID, n1 + n2 + 1)`` points, each local maximum then refined by bounded
#: optimisation. Checked (tests/fixtures/binary/README.md): p-values agree to 4
#: significant digits with R (a 2001-point grid, refined) on every fixture table and
#: with an 8001-point grid on 300 random tables with arms of 3-80 and 40 with arms of
#: 100-600. A fixed 64 points is not enough for arms of a few hundred (29/190 vs
#: 35/287, unpooled: 0.354 instead of 0.523), nor 16 for 40/60 vs 100/210 (0.00934
#: instead of 0.01650). Cost: about 0.001 s per test for arms of ~50, 0.03-0.15 s for
#: arms of ~500 (see ``exact_grid_convergence.txt`` there).
EXACT_GRID: int = 64


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class NumberNeededToTreat:
    """Number needed to treat with Altman's (1998) confidence interval.

    ``estimate`` is 1/|RD| (infinity when RD = 0) and ``effect`` says whether it is a
    number needed to treat for one more patient to benefit ("benefit"), to be harmed
    ("harm"), or neither ("none", RD = 0). The confidence set is the image of the risk
    difference interval under 1/RD: ``benefit`` is the range of NNT(benefit) values in
    it and ``harm`` the range of NNT(harm) values (None where there are none). When the
    RD interval contains 0 both are open to infinity, and the set reads "NNT(harm) h to
    infinity to NNT(benefit) b" (Altman, BMJ 1998;317:1309).
    """

    estimate: float
    effect: Literal["benefit", "harm", "none"]
    benefit: tuple[float, float] | None
    harm: tuple[float, float] | None
    risk_difference: EffectEstimate
    outcome: Literal["beneficial", "harmful"]

    @property
    def alpha(self) -> float:
        return self.risk_difference.alpha

    @property
    def method(self) -> str:
        return self.risk_difference.method

    @property
    def interval_text(self) -> str:
        """The confidence set in words, e.g. "NNT(benefit) 3.49 to 44.52"."""
        b, h = self.benefit, self.harm
        if b is None and h is None:
            return "infinity"
        if b is not None and h is not None:
            # RD interval contains 0: read from its lower bound to its upper bound
            sides = [("harm", h), ("benefit", b)]
            if self.outcome == "harmful":  # then benefit is the low side of the RD
                sides.reverse()
            (kind1, range1), (kind2, range2) = sides
            return (
                f"NNT({kind1}) {_fmt(range1[0], 2)} to infinity to "
                f"NNT({kind2}) {_fmt(range2[0], 2)}"
            )
        kind, bounds = ("benefit", b) if b is not None else ("harm", h)
        assert bounds is not None
        return f"NNT({kind}) {_fmt(bounds[0], 2)} to {_fmt(bounds[1], 2)}"

    def __str__(self) -> str:
        if self.effect == "none":
            head = "NNT infinity (no difference)"
        else:
            head = f"NNT({self.effect}) {_fmt(self.estimate, 2)}"
        return f"{head} ({_level(self.alpha)} CI {self.interval_text}, {self.method})"

    def as_dict(self) -> dict[str, Any]:
        """Plain Python; infinities stay floats (``record`` stores them as "inf")."""
        return {
            "estimate": float(self.estimate),
            "effect": self.effect,
            "benefit": None if self.benefit is None else [float(v) for v in self.benefit],
            "harm": None if self.harm is None else [float(v) for v in self.harm],
            "outcome": self.outcome,
            "method": self.method,
            "alpha": float(self.alpha),
            "text": str(self),
            "risk_difference": self.risk_difference.as_dict(),
        }


@dataclass(frozen=True)
class FragilityIndex:
    """A fragility index and the table that reverses the test's decision.

    ``index`` is the fewest outcome changes that move the p-value across ``alpha``
    (None if no table within the search does); ``reverse`` is True when the observed
    result was not significant (a "reverse fragility index": changes that make it
    significant). ``table_before``/``table_after`` are (x1, n1, x2, n2); ``changes``
    the change in events per group; ``p_before``/``p_after`` the test's p-values.
    """

    index: int | None
    reverse: bool
    test: str
    search: str
    alpha: float
    table_before: tuple[int, int, int, int]
    table_after: tuple[int, int, int, int] | None
    p_before: float
    p_after: float | None

    @property
    def direction(self) -> str:
        return (
            "not significant -> significant" if self.reverse else "significant -> not significant"
        )

    @property
    def signed_index(self) -> int | None:
        """``index``, negative for a reverse fragility index (as in FragilityTools)."""
        if self.index is None:
            return None
        return -self.index if self.reverse else self.index

    @property
    def changes(self) -> tuple[int, int] | None:
        """Events added (+) or removed (-) in group 1 and group 2."""
        if self.table_after is None:
            return None
        return (
            self.table_after[0] - self.table_before[0],
            self.table_after[2] - self.table_before[2],
        )

    def __str__(self) -> str:
        name = "reverse fragility index" if self.reverse else "fragility index"
        x1, n1, x2, n2 = self.table_before
        where = f"{self.test}, {self.search}, alpha {self.alpha:g}"
        if self.index is None or self.table_after is None or self.p_after is None:
            return (
                f"{name}: none within reach ({where}): no table reachable by the "
                f"search reverses the decision for {x1}/{n1} vs {x2}/{n2} "
                f"(p = {self.p_before:.4g})"
            )
        y1, _, y2, _ = self.table_after
        return (
            f"{name} {self.index} ({where}): {x1}/{n1} vs {x2}/{n2} -> "
            f"{y1}/{n1} vs {y2}/{n2}, p {self.p_before:.4g} -> {self.p_after:.4g}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python, with ``direction``, ``signed_index`` and ``changes``."""
        return {
            "index": self.index,
            "signed_index": self.signed_index,
            "reverse": self.reverse,
            "direction": self.direction,
            "test": self.test,
            "search": self.search,
            "alpha": float(self.alpha),
            "table_before": _plain(list(self.table_before)),
            "table_after": None if self.table_after is None else _plain(list(self.table_after)),
            "changes": None if self.changes is None else list(self.changes),
            "p_before": float(self.p_before),
            "p_after": None if self.p_after is None else float(self.p_after),
        }


# --------------------------------------------------------------------------- validation
def _check_counts(x1: Any, n1: Any, x2: Any, n2: Any) -> tuple[int, int, int, int]:
    out = {}
    for x_name, x, n_name, n in (("x1", x1, "n1", n1), ("x2", x2, "n2", n2)):
        nn = _check_int(n_name, n)
        if nn < 1:
            raise ValueError(f"{n_name} must be >= 1, got {nn}")
        xx = _check_int(x_name, x)
        if not 0 <= xx <= nn:
            raise ValueError(f"{x_name} must satisfy 0 <= {x_name} <= {n_name} = {nn}, got {xx}")
        out[x_name], out[n_name] = xx, nn
    return out["x1"], out["n1"], out["x2"], out["n2"]


def _check_correction(value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise ValueError(f"zero_correction must be a number >= 0, got {value!r}")
    c = float(value)
    if not (c >= 0 and math.isfinite(c)):
        raise ValueError(f"zero_correction must be a finite number >= 0, got {value!r}")
    return c


def _check_grid(n: Any) -> int:
    nn = _check_int("n", n)
    if nn < 1:
        raise ValueError(f"n (points for the nuisance parameter) must be >= 1, got {nn}")
    return nn


def _clip(value: float) -> float:
    return min(1.0, max(-1.0, value))


# --------------------------------------------------------------------------- risk difference
def _mn_null_p2(x1: int, n1: int, x2: int, n2: int, delta: float) -> float:
    """Restricted MLE of p2 under p1 - p2 = delta (closed form of the cubic).

    Miettinen & Nurminen (1985) / Farrington & Manning (1990): the root of
    N p^3 + L2 p^2 + L1 p + L0 with L2 = (n1 + 2 n2) d - N - x1 - x2,
    L1 = (n2 d - N - 2 x2) d + x1 + x2, L0 = x2 d (1 - d). (statsmodels 0.15 has
    ``x2`` where ``n2`` belongs in L1: statsmodels issue #10269.)
    """
    big_n, c = n1 + n2, x1 + x2
    l3 = float(big_n)
    l2 = (n1 + 2 * n2) * delta - big_n - c
    l1 = (n2 * delta - big_n - 2 * x2) * delta + c
    l0 = x2 * delta * (1 - delta)
    q = l2**3 / (3 * l3) ** 3 - l1 * l2 / (6 * l3**2) + l0 / (2 * l3)
    p = math.copysign(math.sqrt(max(l2**2 / (3 * l3) ** 2 - l1 / (3 * l3), 0.0)), q)
    if p == 0.0:
        p2 = -l2 / (3 * l3)
    else:
        a = (math.pi + math.acos(min(1.0, max(-1.0, q / p**3)))) / 3
        p2 = 2 * p * math.cos(a) - l2 / (3 * l3)
    return min(min(1.0, 1.0 - delta), max(max(0.0, -delta), p2))


def _mn_score(x1: int, n1: int, x2: int, n2: int, delta: float) -> float:
    """Miettinen-Nurminen score statistic for H0: p1 - p2 = delta (N/(N-1) variance)."""
    d = x1 / n1 - x2 / n2
    if d == delta:
        return 0.0
    p2 = _mn_null_p2(x1, n1, x2, n2, delta)
    p1 = p2 + delta
    big_n = n1 + n2
    var = (p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) * big_n / (big_n - 1)
    if var <= 0:
        return math.copysign(1e12, d - delta)
    return (d - delta) / math.sqrt(var)


def _mn_interval(x1: int, n1: int, x2: int, n2: int, alpha: float) -> tuple[float, float]:
    z = stats.norm.isf(alpha / 2)
    d = x1 / n1 - x2 / n2
    eps = 1e-12
    if d <= -1:
        low = -1.0
    else:
        low = optimize.brentq(
            lambda t: _mn_score(x1, n1, x2, n2, t) - z,
            -1 + eps,
            d,
            xtol=1e-14,
            rtol=4 * np.finfo(float).eps,
        )
    if d >= 1:
        high = 1.0
    else:
        high = optimize.brentq(
            lambda t: _mn_score(x1, n1, x2, n2, t) + z,
            d,
            1 - eps,
            xtol=1e-14,
            rtol=4 * np.finfo(float).eps,
        )
    return _clip(low), _clip(high)


def _newcombe_interval(x1: int, n1: int, x2: int, n2: int, alpha: float) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = (float(v) for v in proportion_confint(x1, n1, alpha=alpha, method="wilson"))
    l2, u2 = (float(v) for v in proportion_confint(x2, n2, alpha=alpha, method="wilson"))
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return _clip(low), _clip(high)


def _statsmodels_2indep(
    x1: int, n1: int, x2: int, n2: int, alpha: float, method: str
) -> tuple[float, float]:
    from statsmodels.stats.proportion import confint_proportions_2indep

    # statsmodels also computes ratio and odds ratio on the way and warns about
    # dividing by zero for zero cells; the difference itself is unaffected.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = confint_proportions_2indep(
            x1, n1, x2, n2, method=method, compare="diff", alpha=alpha
        )
    return float(low), float(high)


def risk_difference(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    method: str = "newcombe",
    alpha: float = 0.05,
) -> EffectEstimate:
    """Difference of two independent proportions, ``x1/n1 - x2/n2``, with a CI.

    Parameters
    ----------
    x1, n1, x2, n2 : int
        Events and patients in group 1 and group 2 (``0 <= x <= n``, ``n >= 1``).
    method : {"newcombe", "wald", "agresti-caffo", "miettinen-nurminen"}
        - "wald": p1 - p2 +- z * sqrt(p1 q1 / n1 + p2 q2 / n2), no continuity
          correction (Newcombe 1998, method 1). With 0/n vs 0/m, or n/n vs 0/m, the
          standard error is 0 and the interval degenerates to a point (e.g. [0, 0]):
          the method's known failing, kept and flagged in ``note``.
        - "newcombe": hybrid score interval from the two Wilson intervals (Newcombe
          1998, method 10; Wilson intervals from statsmodels).
        - "agresti-caffo": add one success and one failure to each group, then Wald
          (Agresti & Caffo 2000; statsmodels). The estimate reported is still the
          observed difference; the interval is centred on the adjusted one.
        - "miettinen-nurminen": asymptotic score interval with the N/(N-1) variance
          factor, N = n1 + n2 (Miettinen & Nurminen 1985; Newcombe 1998, method 6),
          found by inverting the score test with a root finder. Hand-written:
          statsmodels' ``confint_proportions_2indep(method="score")`` uses a wrong
          restricted MLE (statsmodels issue #10269) and fails on zero cells.
    alpha : float
        1 - confidence level, in (0, 1).

    Returns
    -------
    EffectEstimate
        ``measure="risk difference"``; bounds are clipped to [-1, 1] where the method
        leaves that range (Wald, Agresti-Caffo), with a ``note`` saying so. All methods
        give finite bounds for every table, zero cells included.

    Assumptions: two independent binomial samples. All four are large-sample
    approximations; the Wald interval is the worst of them in small samples and near 0
    or 1 (coverage well below nominal), the other three are much closer to nominal
    (Newcombe 1998; Fagerland, Lydersen & Laake, Stat Methods Med Res
    2015;24:224-254).

    References: Newcombe RG. Stat Med 1998;17:873-890. Agresti A, Caffo B. Am Stat
    2000;54:280-288. Miettinen O, Nurminen M. Stat Med 1985;4:213-226.

    Example: ``risk_difference(9, 45, 2, 44, method="wald")`` prints as
    "risk difference 0.1545 (95% CI 0.0225 to 0.2866, wald)".
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    method = _check_choice("method", method, RD_METHODS)
    alpha = _check_alpha(alpha)
    d = x1 / n1 - x2 / n2
    notes = []
    if method == "wald":
        low, high = _statsmodels_2indep(x1, n1, x2, n2, alpha, "wald")
        if low == high:
            notes.append(
                "zero standard error: the Wald interval degenerates to a point "
                "(a known failing of the method)"
            )
    elif method == "agresti-caffo":
        low, high = _statsmodels_2indep(x1, n1, x2, n2, alpha, "agresti-caffo")
    elif method == "newcombe":
        low, high = _newcombe_interval(x1, n1, x2, n2, alpha)
    else:
        low, high = _mn_interval(x1, n1, x2, n2, alpha)
    if low < -1 or high > 1:
        notes.append("interval clipped to [-1, 1]")
        low, high = _clip(low), _clip(high)
    return EffectEstimate("risk difference", d, low, high, method, alpha, "; ".join(notes))


def risk_difference_table(x1: int, n1: int, x2: int, n2: int, alpha: float = 0.05) -> pd.DataFrame:
    """All :data:`RD_METHODS` for one table: columns method, estimate, low, high, width."""
    import pandas as pd

    rows = []
    for method in RD_METHODS:
        r = risk_difference(x1, n1, x2, n2, method=method, alpha=alpha)
        rows.append(
            {
                "method": method,
                "estimate": r.estimate,
                "low": r.low,
                "high": r.high,
                "width": r.width,
            }
        )
    return pd.DataFrame(rows, columns=["method", "estimate", "low", "high", "width"])


# --------------------------------------------------------------------------- ratios, NNT
def relative_risk(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    alpha: float = 0.05,
    zero_correction: float = 0.5,
) -> EffectEstimate:
    """Relative risk ``(x1/n1) / (x2/n2)`` with the Katz log interval.

    log RR +- z * sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2) (Katz et al., Biometrics
    1978;34:469-474). The log RR or its variance is undefined when a group has no
    events; then (and only then) ``zero_correction`` (default 0.5, Haldane-Anscombe)
    is added to every cell of the 2x2 table -- x + 0.5 events out of n + 1 in both
    groups -- for the estimate and the interval, as RevMan does, and ``note`` says so.
    With ``zero_correction=0`` nothing is added and the interval is (0, infinity)
    (estimate 0, infinity, or nan for 0/n vs 0/m). With no events in either group the
    data say nothing about the ratio; the corrected interval is then wide and
    centred near 1, not evidence of equality.
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    alpha = _check_alpha(alpha)
    c = _check_correction(zero_correction)
    z = stats.norm.isf(alpha / 2)
    a, m1, b, m2 = float(x1), float(n1), float(x2), float(n2)
    note = ""
    if x1 == 0 or x2 == 0:
        if c == 0:
            with np.errstate(all="ignore"):
                est = float(np.divide(a / m1, b / m2))
            return EffectEstimate(
                "relative risk",
                est,
                0.0,
                math.inf,
                "katz",
                alpha,
                "a group has no events and no zero-cell correction "
                "was asked for: the interval is (0, infinity)",
            )
        a, b, m1, m2 = a + c, b + c, m1 + 2 * c, m2 + 2 * c
        note = f"a group has no events: {c:g} added to every cell (Haldane-Anscombe)"
    est = (a / m1) / (b / m2)
    se = math.sqrt(1 / a - 1 / m1 + 1 / b - 1 / m2)
    low, high = est * math.exp(-z * se), est * math.exp(z * se)
    return EffectEstimate("relative risk", est, low, high, "katz", alpha, note)


def odds_ratio(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    method: str = "woolf",
    alpha: float = 0.05,
    zero_correction: float = 0.5,
) -> EffectEstimate:
    """Odds ratio ``[x1/(n1-x1)] / [x2/(n2-x2)]`` with a confidence interval.

    method "woolf" (default): the sample odds ratio with the logit interval
    log OR +- z * sqrt(1/a + 1/b + 1/c + 1/d) (Woolf 1955). When any of the four
    cells is zero, ``zero_correction`` (default 0.5, Haldane-Anscombe) is added to
    every cell for the estimate and the interval, and ``note`` says so; with
    ``zero_correction=0`` the interval is then (0, infinity).

    method "exact": the conditional maximum likelihood estimate with the exact
    conditional (Cornfield) interval, from ``scipy.stats.contingency.odds_ratio``
    (``kind="conditional"``): the interval R's ``fisher.test`` reports (R solves it
    less precisely, see tests/fixtures/binary/README.md). No correction is needed: a zero
    cell gives a bound of 0 or infinity; with no events (or only events) in both groups
    the odds ratio is not estimable (estimate nan, interval (0, infinity)).
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    method = _check_choice("method", method, ("woolf", "exact"))
    alpha = _check_alpha(alpha)
    c = _check_correction(zero_correction)
    if method == "exact":
        from scipy.stats.contingency import odds_ratio as scipy_odds_ratio

        res = scipy_odds_ratio([[x1, n1 - x1], [x2, n2 - x2]], kind="conditional")
        ci = res.confidence_interval(confidence_level=1 - alpha, alternative="two-sided")
        note = ""
        if (x1 + x2 == 0) or (x1 + x2 == n1 + n2):
            note = "no events (or only events) in both groups: not estimable"
        return EffectEstimate(
            "odds ratio",
            float(res.statistic),
            float(ci.low),
            float(ci.high),
            "exact conditional",
            alpha,
            note,
        )
    z = stats.norm.isf(alpha / 2)
    cells = [float(x1), float(n1 - x1), float(x2), float(n2 - x2)]
    note = ""
    if min(cells) == 0:
        if c == 0:
            with np.errstate(all="ignore"):
                est = float(np.divide(cells[0] * cells[3], cells[1] * cells[2]))
            return EffectEstimate(
                "odds ratio",
                est,
                0.0,
                math.inf,
                "woolf",
                alpha,
                "a cell is zero and no zero-cell correction was "
                "asked for: the interval is (0, infinity)",
            )
        cells = [v + c for v in cells]
        note = f"a cell is zero: {c:g} added to every cell (Haldane-Anscombe)"
    a, b, cc, d = cells
    est = (a * d) / (b * cc)
    se = math.sqrt(1 / a + 1 / b + 1 / cc + 1 / d)
    return EffectEstimate(
        "odds ratio", est, est * math.exp(-z * se), est * math.exp(z * se), "woolf", alpha, note
    )


def number_needed_to_treat(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    method: str = "newcombe",
    alpha: float = 0.05,
    outcome: Literal["beneficial", "harmful"] = "beneficial",
) -> NumberNeededToTreat:
    """Number needed to treat, 1/|RD|, with the interval from inverting the RD interval.

    ``outcome`` says whether the counted event is good ("beneficial", e.g. responders
    as in this trial's primary endpoint: RD > 0 means group 1 benefits) or bad
    ("harmful", e.g. deaths: RD < 0 means group 1 benefits). The RD interval comes from
    :func:`risk_difference` with ``method`` and ``alpha``. As Altman (BMJ
    1998;317:1309-1312) recommends, when the RD interval contains 0 the NNT confidence
    set runs from NNT(harm) through infinity to NNT(benefit) and is reported as such,
    not as a negative-to-positive interval.
    """
    beneficial = _check_choice("outcome", outcome, ("beneficial", "harmful")) == "beneficial"
    rd = risk_difference(x1, n1, x2, n2, method=method, alpha=alpha)
    sign = 1.0 if beneficial else -1.0
    b_est = sign * rd.estimate
    b_low, b_high = sorted((sign * rd.low, sign * rd.high))

    def inv(v: float) -> float:
        return math.inf if v == 0 else 1.0 / abs(v)

    effect: Literal["benefit", "harm", "none"]
    effect = "benefit" if b_est > 0 else "harm" if b_est < 0 else "none"
    benefit: tuple[float, float] | None = None
    harm: tuple[float, float] | None = None
    if b_low > 0:
        benefit = (inv(b_high), inv(b_low))
    elif b_high < 0:
        harm = (inv(b_low), inv(b_high))
    else:
        if b_high > 0:
            benefit = (inv(b_high), math.inf)
        if b_low < 0:
            harm = (inv(b_low), math.inf)
    return NumberNeededToTreat(
        inv(b_est), effect, benefit, harm, rd, "beneficial" if beneficial else "harmful"
    )


# --------------------------------------------------------------------------- tests
def _zero_margin(x1: int, n1: int, x2: int, n2: int) -> bool:
    return x1 + x2 == 0 or x1 + x2 == n1 + n2


_ZERO_MARGIN_NOTE = (
    "no events (or only events) in both groups: a margin of the table is "
    "zero, the statistic is 0/0; reported as 0 with p = 1"
)


_NO_INFORMATION_NOTE = (
    "no events (or only events) in both groups: the table says nothing about a difference; p = 1"
)


def fisher_test(x1: int, n1: int, x2: int, n2: int) -> HypothesisTest:
    """Fisher's exact test, two-sided (``scipy.stats.fisher_exact``).

    The two-sided p-value sums the probabilities of all tables (with the observed
    margins) no more probable than the observed one, as R's ``fisher.test``. The
    statistic is the sample odds ratio ``x1 (n2 - x2) / ((n1 - x1) x2)`` (scipy's
    choice; R reports the conditional MLE instead, see :func:`odds_ratio`); it is nan
    when neither group has events (or both have only events), with p = 1.
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    with np.errstate(all="ignore"):
        res = stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="two-sided")
    note = _NO_INFORMATION_NOTE if _zero_margin(x1, n1, x2, n2) else ""
    return HypothesisTest(
        "fisher", float(res.statistic), float(res.pvalue), "Fisher exact test (two-sided)", note
    )


def chi2_test(x1: int, n1: int, x2: int, n2: int, correction: bool = False) -> HypothesisTest:
    """Pearson's chi-square test of the 2x2 table (1 df), via ``scipy.stats.chi2_contingency``.

    ``correction=True`` applies Yates' continuity correction (each |O - E| reduced by
    min(0.5, |O - E|), as R's ``chisq.test``). The statistic is chi-square; it equals
    the square of the pooled two-proportion z statistic (:func:`z_test`) without the
    correction. With no events (or only events) in both groups a margin is zero and
    the statistic is 0/0: returned as 0 with p = 1 and a ``note`` (scipy would raise).
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    if not isinstance(correction, bool | np.bool_):
        raise ValueError(f"correction must be True or False, got {correction!r}")
    key = "chi2_yates" if correction else "chi2"
    name = (
        "Pearson chi-square with Yates' correction"
        if correction
        else "Pearson chi-square (no continuity correction)"
    )
    if _zero_margin(x1, n1, x2, n2):
        return HypothesisTest(key, 0.0, 1.0, name, _ZERO_MARGIN_NOTE)
    res = stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=bool(correction))
    return HypothesisTest(key, float(res.statistic), float(res.pvalue), name)


def z_test(x1: int, n1: int, x2: int, n2: int) -> HypothesisTest:
    """Two-proportion z-test with the pooled variance, two-sided.

    z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)), p = (x1 + x2) / (n1 + n2), via
    statsmodels ``proportions_ztest``; z**2 equals the uncorrected Pearson chi-square
    and the p-values are the same. Zero margin: z = 0, p = 1, with a ``note``.
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    name = "two-proportion z-test (pooled variance)"
    if _zero_margin(x1, n1, x2, n2):
        return HypothesisTest("z", 0.0, 1.0, name, _ZERO_MARGIN_NOTE)
    from statsmodels.stats.proportion import proportions_ztest

    zstat, p = proportions_ztest(
        np.array([x1, x2]), np.array([n1, n2]), value=0, alternative="two-sided"
    )
    return HypothesisTest("z", float(zstat), float(p), name)


def _log_binom_coef(n: int) -> np.ndarray:
    k = np.arange(n + 1)
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def _sup_null_probability(extreme: np.ndarray, n1: int, n2: int, grid: int) -> float:
    """max over pi in [0, 1] of P(table in ``extreme``) for Bin(n1, pi) x Bin(n2, pi).

    ``extreme[a, b]`` marks the tables a/n1 vs b/n2 counted in the p-value. The
    probability is evaluated on ``grid`` equally spaced values of pi and refined by
    bounded scalar optimisation between the neighbours of every local maximum.
    """
    if extreme.all():
        return 1.0
    if not extreme.any():  # pragma: no cover - the observed table is always extreme
        return 0.0
    lc1, lc2 = _log_binom_coef(n1), _log_binom_coef(n2)
    a, b = np.arange(n1 + 1), np.arange(n2 + 1)
    weights = extreme.astype(float)

    def prob(pis: np.ndarray) -> np.ndarray:
        pis = np.atleast_1d(np.asarray(pis, dtype=float))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            p1 = np.exp(lc1 + special.xlogy(a, pis) + special.xlog1py(n1 - a, -pis))
            p2 = np.exp(lc2 + special.xlogy(b, pis) + special.xlog1py(n2 - b, -pis))
        return ((p1 @ weights) * p2).sum(axis=1)

    pis = np.linspace(0.0, 1.0, grid)
    values = prob(pis)
    best = float(values.max())
    for i in range(1, grid - 1):
        if values[i] >= values[i - 1] and values[i] >= values[i + 1]:
            res = optimize.minimize_scalar(
                lambda t: -prob(t)[0],
                bounds=(pis[i - 1], pis[i + 1]),
                method="bounded",
                options={"xatol": 1e-10},
            )
            best = max(best, -float(res.fun))
    return min(best, 1.0)


def _exact_grid(n: int | None, n1: int, n2: int) -> int:
    if n is None:
        return max(EXACT_GRID, n1 + n2 + 1)
    return _check_grid(n)


#: Relative tolerance for ties between test statistics in the exact unconditional
#: tests (tables whose statistic equals the observed one mathematically can differ in
#: the last bits; both belong to the p-value).
_TIE_RTOL = 1e-9


def barnard_test(
    x1: int, n1: int, x2: int, n2: int, pooled: bool = True, n: int | None = None
) -> HypothesisTest:
    """Barnard's exact unconditional test, two-sided.

    Tables at least as extreme as the observed one are those with |Z| >= |Z_obs|,
    where Z is the Wald statistic of p1 - p2 with the pooled (``pooled=True``, the
    Suissa-Shuster test) or unpooled variance (Z = 0 when p1 = p2); the p-value is the
    largest probability of that set over the common success probability pi. The
    maximum is found on ``n`` equally spaced values of pi (default: ``max(64, n1 + n2
    + 1)``, see :data:`EXACT_GRID`) refined around every local maximum. The statistic
    reported is Z (positive when p1 > p2). No events (or only events) in both groups:
    Z = 0, p = 1.

    Written here rather than taken from ``scipy.stats.barnard_exact`` (same definition
    and statistic): scipy compares |Z| >= |Z_obs| without a tolerance, so tables tied
    with the observed one but 1 ulp smaller are dropped (scipy issue #18798; 9/10 vs
    3/10: scipy 0.00693, correct 0.00796), and its default search (n=32) misses the
    maximum for arms of a few hundred (34/492 vs 16/168: 0.2790 instead of 0.3020).

    Reference: Barnard GA. Nature 1945;156:177; Suissa S, Shuster JJ. J R Stat Soc A
    1985;148:317-327.
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    if not isinstance(pooled, bool | np.bool_):
        raise ValueError(f"pooled must be True or False, got {pooled!r}")
    grid = _exact_grid(n, n1, n2)
    a = np.arange(n1 + 1)[:, None]
    b = np.arange(n2 + 1)[None, :]
    p1, p2 = a / n1, b / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if pooled:
            pbar = (a + b) / (n1 + n2)
            var = pbar * (1 - pbar) * (1 / n1 + 1 / n2)
        else:
            var = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        z = (p1 - p2) / np.sqrt(var)
    z = np.where(p1 == p2, 0.0, z)
    z_obs = float(z[x1, x2])
    extreme = np.abs(z) >= abs(z_obs) * (1 - _TIE_RTOL)
    p = _sup_null_probability(extreme, n1, n2, grid)
    key = "barnard" if pooled else "barnard_unpooled"
    name = f"Barnard exact test ({'pooled' if pooled else 'unpooled'} Z, two-sided)"
    note = _NO_INFORMATION_NOTE if _zero_margin(x1, n1, x2, n2) else ""
    return HypothesisTest(key, z_obs, p, name, note)


def _one_sided_fisher(n1: int, n2: int) -> tuple[np.ndarray, np.ndarray]:
    """P(X1 <= a | a + b) and P(X1 >= a | a + b) for every table a/n1 vs b/n2."""
    big_n = n1 + n2
    lc1, lc2, lcn = _log_binom_coef(n1), _log_binom_coef(n2), _log_binom_coef(big_n)
    a = np.arange(n1 + 1)[:, None]
    t = np.arange(big_n + 1)[None, :]
    b = t - a
    valid = (b >= 0) & (b <= n2)
    logp = np.where(valid, lc1[a] + lc2[np.clip(b, 0, n2)] - lcn[t], -np.inf)
    pmf = np.exp(logp)  # (n1 + 1) x (N + 1): X1 = a given total t
    cdf = np.cumsum(pmf, axis=0)
    sf = np.cumsum(pmf[::-1], axis=0)[::-1]
    cols = np.arange(n1 + 1)[:, None] + np.arange(n2 + 1)[None, :]
    rows = np.arange(n1 + 1)[:, None]
    return np.minimum(cdf[rows, cols], 1.0), np.minimum(sf[rows, cols], 1.0)


def boschloo_test(x1: int, n1: int, x2: int, n2: int, n: int | None = None) -> HypothesisTest:
    """Boschloo's exact unconditional test, two-sided.

    Fisher's one-sided p-value is the test statistic; the p-value of each one-sided
    test is the largest probability, over the common success probability, of the
    tables whose statistic is at most the observed one (``n`` as in
    :func:`barnard_test`). Two-sided convention of ``scipy.stats.boschloo_exact``:
    twice the smaller one-sided p-value, clipped to 1. (Other software, e.g. the
    "Fisher-Boschloo" test of Fagerland et al., uses the two-sided Fisher p-value as
    the statistic; the two can differ.) The statistic reported is the one-sided Fisher
    p-value of the side that gave the smaller p.

    Written here with the same search as :func:`barnard_test`; it agrees with
    ``scipy.stats.boschloo_exact`` given enough points, which needs scipy's ``n`` to
    grow with the arms (34/492 vs 16/168 ...) and then takes seconds per test where
    this takes a few hundredths -- it matters inside :func:`fragility_index`.

    Reference: Boschloo RD. Statistica Neerlandica 1970;24:1-9.
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    grid = _exact_grid(n, n1, n2)
    less, greater = _one_sided_fisher(n1, n2)
    s_less, s_greater = float(less[x1, x2]), float(greater[x1, x2])
    p_less = _sup_null_probability(less <= s_less * (1 + _TIE_RTOL), n1, n2, grid)
    p_greater = _sup_null_probability(greater <= s_greater * (1 + _TIE_RTOL), n1, n2, grid)
    statistic = s_less if p_less < p_greater else s_greater
    p = min(1.0, 2 * min(p_less, p_greater))
    note = _NO_INFORMATION_NOTE if _zero_margin(x1, n1, x2, n2) else ""
    return HypothesisTest(
        "boschloo",
        statistic,
        p,
        "Boschloo exact test (two-sided: twice the smaller one-sided p)",
        note,
    )


def binary_tests(x1: int, n1: int, x2: int, n2: int, n: int | None = None) -> pd.DataFrame:
    """Every test of this section on one table: columns test, statistic, p, method, note.

    Rows: fisher, chi2, chi2_yates, z, barnard (pooled), barnard_unpooled, boschloo.
    ``n`` (grid points) is passed to the two exact unconditional tests.
    """
    import pandas as pd

    results = [
        fisher_test(x1, n1, x2, n2),
        chi2_test(x1, n1, x2, n2, correction=False),
        chi2_test(x1, n1, x2, n2, correction=True),
        z_test(x1, n1, x2, n2),
        barnard_test(x1, n1, x2, n2, pooled=True, n=n),
        barnard_test(x1, n1, x2, n2, pooled=False, n=n),
        boschloo_test(x1, n1, x2, n2, n=n),
    ]
    return pd.DataFrame(
        [r.as_dict() for r in results], columns=["test", "statistic", "p", "method", "note"]
    )


# --------------------------------------------------------------------------- fragility
def _p_function(test: str, n: int | None) -> Callable[[int, int, int, int], float]:
    if test == "fisher":

        def p(x1: int, n1: int, x2: int, n2: int) -> float:
            return float(stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue)
    elif test in ("chi2", "chi2_yates"):
        corr = test == "chi2_yates"

        def p(x1: int, n1: int, x2: int, n2: int) -> float:
            if _zero_margin(x1, n1, x2, n2):
                return 1.0
            return float(
                stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=corr).pvalue
            )
    elif test == "barnard":

        def p(x1: int, n1: int, x2: int, n2: int) -> float:
            return barnard_test(x1, n1, x2, n2, n=n).p
    else:

        def p(x1: int, n1: int, x2: int, n2: int) -> float:
            return boschloo_test(x1, n1, x2, n2, n=n).p

    return p


def fragility_index(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    test: str = "fisher",
    alpha: float = 0.05,
    search: Literal["walsh", "both"] = "walsh",
    n: int | None = None,
) -> FragilityIndex:
    """Fewest changes of patient outcomes that move the test's p-value across ``alpha``.

    Significant result (p < alpha), ``search="walsh"`` (Walsh et al., J Clin Epidemiol
    2014;67:622-628): in the group with the lower event proportion (for equal arms, the
    group with fewer events, as Walsh et al. put it; ties: fewer events, then group 2)
    change non-events into events one at a time until p >= alpha. The index is the
    number of changes.

    Non-significant result (p >= alpha): a *reverse* fragility index (``reverse=True``,
    ``signed_index`` negative): the fewest changes that make p < alpha. With
    ``search="walsh"`` the changes are made within one group in one direction (the best
    of the four: either group, events added or removed).

    ``search="both"`` (the generalised index of Baer et al. 2021 and Lin 2020, as in the
    R package FragilityTools): the fewest changes in total over both groups and both
    directions (events added or removed, |d1| + |d2|), whatever the direction of the
    result; by exhaustive search in order of increasing total, so the index is the true
    minimum. It is never larger than the Walsh index.

    ``test`` is one of :data:`FRAGILITY_TESTS`: "fisher" (Walsh's choice), "chi2",
    "chi2_yates" (zero margin: p = 1), "barnard" (pooled), "boschloo" (``n`` as in
    :func:`barnard_test`; each p-value costs about 0.001 s for arms of ~50, up to
    0.15 s for arms of ~500, so "both" with these tests can take a while).

    ``index`` is None when no reachable table reverses the decision (e.g. a reverse
    index for 3/4 vs 1/4 with Fisher's test and one group only).

    References: Walsh M et al. J Clin Epidemiol 2014;67:622-628. Khan MS et al. JAMA
    Netw Open 2020;3:e2012469 (reverse index). Lin L. J Eval Clin Pract
    2021;27:356-364. Baer BR, Gaudino M, Charlson M, Fremes SE, Wells MT. "A
    generalized development of the fragility index" (FragilityTools, 2021).
    """
    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    test = _check_choice("test", test, FRAGILITY_TESTS)
    alpha = _check_alpha(alpha)
    how = _check_choice("search", search, ("walsh", "both"))
    if n is not None:
        n = _check_grid(n)
    pf = _p_function(test, n)
    p0 = pf(x1, n1, x2, n2)
    significant = p0 < alpha
    before = (x1, n1, x2, n2)

    def result(found: tuple[int, int, int, float] | None) -> FragilityIndex:
        if found is None:
            return FragilityIndex(None, not significant, test, how, alpha, before, None, p0, None)
        k, y1, y2, p = found
        return FragilityIndex(k, not significant, test, how, alpha, before, (y1, n1, y2, n2), p0, p)

    if how == "both":
        for k in range(1, n1 + n2 + 1):
            for d1 in range(-k, k + 1):
                r = k - abs(d1)
                for d2 in dict.fromkeys((-r, r)):
                    y1, y2 = x1 + d1, x2 + d2
                    if not (0 <= y1 <= n1 and 0 <= y2 <= n2):
                        continue
                    p = pf(y1, n1, y2, n2)
                    if (p < alpha) != significant:
                        return result((k, y1, y2, p))
        return result(None)

    if significant:
        r1, r2 = x1 / n1, x2 / n2
        group = 1 if r1 < r2 else 2 if r2 < r1 else 1 if x1 < x2 else 2
        y = [x1, x2]
        cap = n1 if group == 1 else n2
        k = 0
        while y[group - 1] < cap:
            y[group - 1] += 1
            k += 1
            p = pf(y[0], n1, y[1], n2)
            if p >= alpha:
                return result((k, y[0], y[1], p))
        return result(None)

    best: tuple[int, int, int, float] | None = None
    for group in (1, 2):
        for step in (-1, 1):
            y = [x1, x2]
            cap = (n1, n2)[group - 1]
            k = 0
            while True:
                y[group - 1] += step
                k += 1
                if not 0 <= y[group - 1] <= cap or (best is not None and k >= best[0]):
                    break
                p = pf(y[0], n1, y[1], n2)
                if p < alpha:
                    best = (k, y[0], y[1], p)
                    break
    return result(best)


# --------------------------------------------------------------------------- analysis sets
#: The analyses :func:`analysis_set_scenarios` repeats per scenario: the interval
#: methods of :func:`risk_difference`, then the tests of :func:`binary_tests`.
SCENARIO_ANALYSES: tuple[str, ...] = (
    *RD_METHODS,
    "fisher",
    "chi2",
    "chi2_yates",
    "z",
    "barnard",
    "barnard_unpooled",
    "boschloo",
)


def _scenario_case(k1: int, u1: int, k2: int, u2: int) -> str:
    cases = []
    if k1 == u1 and k2 == 0:
        cases.append("best case")
    if k1 == 0 and k2 == u2:
        cases.append("worst case")
    if k1 == 0 and k2 == 0:
        cases.append("all missing = no event")
    return ", ".join(cases) or "in between"


def analysis_set_scenarios(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    unanalysed1: int = 0,
    unanalysed2: int = 0,
    alpha: float = 0.05,
    n: int | None = None,
) -> pd.DataFrame:
    """Every way the outcomes of randomized but unanalysed patients could have turned out.

    ``x1/n1`` vs ``x2/n2`` is the analysed table (group 1 the treatment; an event is a
    good outcome, e.g. a responder); ``unanalysed1`` and ``unanalysed2`` are the
    randomized patients of each group left out of the denominators. Scenario ``(k1,
    k2)``: all of them are analysed, and ``k1`` of group 1's and ``k2`` of group 2's have
    the event, giving ``(x1 + k1)/(n1 + unanalysed1)`` vs ``(x2 + k2)/(n2 +
    unanalysed2)``; every ``k1`` in ``0..unanalysed1`` and ``k2`` in ``0..unanalysed2``
    (a tipping-point grid for a binary endpoint). The as-analysed table comes first
    (``k1``, ``k2`` missing) unless nobody was left out.

    ``case`` names the scenario: "as analysed"; "best case" for group 1 (``k1 =
    unanalysed1``, ``k2 = 0``); "worst case" (``k1 = 0``, ``k2 = unanalysed2``); "all
    missing = no event" (``k1 = k2 = 0``, non-responder imputation over the randomized);
    "in between" otherwise (labels are joined when they coincide).

    Every scenario is analysed by every entry of :data:`SCENARIO_ANALYSES`: the four
    interval methods of :func:`risk_difference` at ``1 - alpha`` and the seven tests of
    :func:`binary_tests` (``n``: grid points of the exact unconditional tests).

    Returns a long table, one row per scenario x analysis: scenario (0, 1, ... in the
    order above), case, k1, k2 (Int64), x1, n1, x2, n2, analysis, kind ("interval" or
    "test"), estimate (the risk difference for intervals, the test statistic for
    tests), low, high (intervals; NaN for tests), p (tests; NaN for intervals), and
    ``significant``: the interval excludes 0, or p < ``alpha``. ``attrs``: alpha,
    unanalysed (the two counts).
    """
    import pandas as pd

    x1, n1, x2, n2 = _check_counts(x1, n1, x2, n2)
    u1, u2 = _check_int("unanalysed1", unanalysed1), _check_int("unanalysed2", unanalysed2)
    if u1 < 0 or u2 < 0:
        raise ValueError(
            f"unanalysed1 and unanalysed2 must be >= 0, got {unanalysed1!r}, {unanalysed2!r}"
        )
    alpha = _check_alpha(alpha)
    if n is not None:
        n = _check_grid(n)

    tables: list[tuple[str, int | None, int | None, int, int, int, int]] = []
    if u1 or u2:
        tables.append(("as analysed", None, None, x1, n1, x2, n2))
        for k1 in range(u1 + 1):
            for k2 in range(u2 + 1):
                case = _scenario_case(k1, u1, k2, u2)
                tables.append((case, k1, k2, x1 + k1, n1 + u1, x2 + k2, n2 + u2))
    else:
        tables.append(("as analysed", None, None, x1, n1, x2, n2))

    rows = []
    for i, (case, k1, k2, a, m1, b, m2) in enumerate(tables):
        head = {"scenario": i, "case": case, "k1": k1, "k2": k2}
        head.update(x1=a, n1=m1, x2=b, n2=m2)
        for method in RD_METHODS:
            r = risk_difference(a, m1, b, m2, method=method, alpha=alpha)
            rows.append(
                {
                    **head,
                    "analysis": method,
                    "kind": "interval",
                    "estimate": r.estimate,
                    "low": r.low,
                    "high": r.high,
                    "p": math.nan,
                    "significant": bool(r.low > 0 or r.high < 0),
                }
            )
        for t in binary_tests(a, m1, b, m2, n=n).itertuples(index=False):
            rows.append(
                {
                    **head,
                    "analysis": t.test,
                    "kind": "test",
                    "estimate": float(t.statistic),
                    "low": math.nan,
                    "high": math.nan,
                    "p": float(t.p),
                    "significant": bool(t.p < alpha),
                }
            )
    out = pd.DataFrame(rows)
    for col in ("k1", "k2"):
        out[col] = out[col].astype("Int64")
    out.attrs.update(alpha=alpha, unanalysed=[u1, u2])
    return out


def scenario_records(scenarios: pd.DataFrame, arms: Sequence[str]) -> list[dict[str, Any]]:
    """One plain dict per scenario of :func:`analysis_set_scenarios` (for a report):
    case, the missing responders per arm (None as analysed), the counts per arm (``arms``:
    group 1, group 2), the risk difference, ``ci_<method>`` [low, high] for every
    interval, ``p_<test>`` for every test (``-`` in names becomes ``_``), and
    ``significant`` {analysis: bool}."""
    import pandas as pd

    out = []
    for _, rows in scenarios.groupby("scenario", sort=True):
        first = rows.iloc[0]
        k1, k2 = first["k1"], first["k2"]
        entry: dict[str, Any] = {
            "case": first["case"],
            "ucmsc_missing_responders": None if pd.isna(k1) else int(k1),
            "placebo_missing_responders": None if pd.isna(k2) else int(k2),
            "counts": {
                arms[0]: [int(first["x1"]), int(first["n1"])],
                arms[1]: [int(first["x2"]), int(first["n2"])],
            },
            "rd": float(first["estimate"]),
        }
        for r in rows.itertuples(index=False):
            name = r.analysis.replace("-", "_")
            if r.kind == "interval":
                entry[f"ci_{name}"] = [float(r.low), float(r.high)]
            else:
                entry[f"p_{name}"] = float(r.p)
        entry["significant"] = {r.analysis: bool(r.significant) for r in rows.itertuples()}
        out.append(entry)
    return out


def scenario_verdicts(scenarios: pd.DataFrame) -> tuple[list[str], list[str]]:
    """``(survives, lost)`` over the scenarios of :func:`analysis_set_scenarios`: the
    analyses significant in every scenario, and those significant as analysed (the
    first scenario) but not in every scenario; in :data:`SCENARIO_ANALYSES` order."""
    holds = scenarios.groupby("analysis", sort=False)["significant"].agg(["first", "all"])
    survives = [a for a in holds.index if holds.loc[a, "all"]]
    lost = [a for a in holds.index if holds.loc[a, "first"] and not holds.loc[a, "all"]]
    return survives, lost
