"""Conjugate Bayesian analysis: beta-binomial per arm and the posterior risk difference;
a normal model for a difference in means.

Binary endpoint, two arms (arm 1 = UC-MSC, arm 2 = placebo). Each arm's response rate
``p`` gets a beta prior ``Beta(a, b)``; after ``x`` responders out of ``n`` its posterior
is ``Beta(a + x, b + n - x)`` (conjugacy). ``a + b`` is the prior's *strength*: the prior
weighs as much as ``a + b`` patients, ``a`` of them responders.

The risk difference ``RD = p1 - p2`` of two independent beta variables has no closed-form
distribution in general. Here it is computed by one-dimensional numerical integration
(scipy.integrate.quad, absolute error below 1e-10)::

    P(RD > d) = integral of f2(q) * P(p1 > q + d) dq,    f_RD(d) = integral f1(q + d) f2(q) dq

with ``f`` the beta densities; credible limits solve ``P(RD <= d) = alpha / 2`` and
``1 - alpha / 2`` (brentq). The density on a grid (for figures) is integrated for all
points at once by one fixed Gauss-Legendre rule per segment between the same landmarks
(within 1e-8 of ``quad`` point by point, which it falls back to when a beta parameter
is below 1). For integer parameters P(p1 > p2) also has a closed form
(Cook 2005; Evan Miller 2015), used in the tests together with R's ``integrate`` and
Monte Carlo; ``prob_greater_mc`` gives the Monte Carlo estimate with its standard error.

Priors (Spiegelhalter, Freedman & Parmar 1994, with per-arm beta priors):

- ``beta_prior(mean, strength)``: ``Beta(mean * strength, (1 - mean) * strength)``;
- ``sceptical_prior(rate, relevant, tail)``: the same prior for both arms, centred on
  ``rate``, so the prior RD is centred on no difference; its strength is chosen so that
  a benefit of at least ``relevant`` has prior probability ``tail``;
- ``enthusiastic_prior(rate, relevant, tail)``: placebo centred on ``rate``, UC-MSC on
  ``rate + relevant``, same strength, chosen so that harm (RD < 0) has prior probability
  ``tail``;
- ``power_prior(x0, n0, weight)``: outside data ``x0/n0`` counted as ``weight * n0``
  patients (Ibrahim & Chen 2000), on top of a ``Beta(1, 1)`` starting prior.

Continuous endpoint: ``mean_difference_posterior`` gives the normal posterior of a
difference in means (arm 1 minus arm 2) from summary statistics, with the SDs treated as
known (plugged in) and a normal prior (flat by default: then the posterior is centred on
the observed difference with the standard error as its SD).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, optimize, special, stats

from trialkit.stats.results import _check_alpha, _check_int, _fmt, _level

__all__ = [
    "Beta",
    "NormalPosterior",
    "RiskDifferencePosterior",
    "analysis_set_posteriors",
    "beta_prior",
    "difference_cdf",
    "difference_pdf",
    "difference_quantile",
    "effect_prior_posterior",
    "enthusiastic_prior",
    "log_odds_ratio",
    "mean_difference_posterior",
    "normal_posterior",
    "posterior_table",
    "power_prior",
    "prior_table",
    "prob_greater",
    "prob_greater_mc",
    "relevant_log_odds_ratio",
    "risk_difference_posterior",
    "sceptical_prior",
]

_EPSABS = 1e-12
_EPSREL = 1e-10


def _number(name: str, value: Any, low: float | None = None, high: float | None = None,
            open_low: bool = True, open_high: bool = True) -> float:  # fmt: skip
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (open_low and v == low)):
        raise ValueError(f"{name} must be {'>' if open_low else '>='} {low:g}, got {value!r}")
    if high is not None and (v > high or (open_high and v == high)):
        raise ValueError(f"{name} must be {'<' if open_high else '<='} {high:g}, got {value!r}")
    return v


# =========================================================================== beta
@dataclass(frozen=True)
class Beta:
    """A beta distribution ``Beta(a, b)`` for a response rate (a fraction in [0, 1]).

    ``strength`` = a + b (its weight in patients), ``mean`` = a / (a + b). ``updated(x,
    n)`` is the posterior after ``x`` responders among ``n`` patients.
    """

    a: float
    b: float
    label: str = ""

    def __post_init__(self) -> None:
        _number("a", self.a, low=0)
        _number("b", self.b, low=0)

    @property
    def strength(self) -> float:
        return float(self.a + self.b)

    @property
    def mean(self) -> float:
        return float(self.a / (self.a + self.b))

    @property
    def sd(self) -> float:
        s = self.a + self.b
        return float(math.sqrt(self.a * self.b / (s * s * (s + 1))))

    @property
    def dist(self) -> Any:
        """The frozen ``scipy.stats.beta`` distribution."""
        return stats.beta(self.a, self.b)

    def interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """Equal-tailed ``1 - alpha`` interval."""
        alpha = _check_alpha(alpha)
        lo, hi = self.dist.ppf([alpha / 2, 1 - alpha / 2])
        return float(lo), float(hi)

    def updated(self, x: int, n: int) -> Beta:
        """The posterior after ``x`` responders among ``n`` patients."""
        x, n = _check_int("x", x), _check_int("n", n)
        if not 0 <= x <= n:
            raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
        return Beta(self.a + x, self.b + n - x, self.label)

    def __str__(self) -> str:
        lo, hi = self.interval()
        name = f"{self.label}: " if self.label else ""
        return (
            f"{name}Beta({self.a:.4g}, {self.b:.4g}): mean {self.mean:.4f}, "
            f"95% interval {lo:.4f} to {hi:.4f}, strength {self.strength:.4g} patients"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: a, b, label, mean, sd, strength, interval (95%)."""
        return {
            "a": float(self.a),
            "b": float(self.b),
            "label": self.label,
            "mean": self.mean,
            "sd": self.sd,
            "strength": self.strength,
            "interval": list(self.interval()),
        }


UNIFORM = Beta(1.0, 1.0, "uniform")


def beta_prior(mean: float, strength: float, label: str = "") -> Beta:
    """``Beta(mean * strength, (1 - mean) * strength)``: a prior centred on ``mean`` (a
    response rate, 0 < mean < 1) weighing as much as ``strength`` patients."""
    mean = _number("mean", mean, 0, 1)
    strength = _number("strength", strength, 0)
    return Beta(mean * strength, (1 - mean) * strength, label)


def power_prior(x0: int, n0: int, weight: float, base: Beta = UNIFORM, label: str = "") -> Beta:
    """A power prior from outside data: ``Beta(base.a + weight * x0, base.b + weight * (n0
    - x0))``, i.e. ``x0`` responders of ``n0`` counted as ``weight * n0`` patients
    (0 <= weight <= 1; 0 ignores them, 1 counts them in full; Ibrahim & Chen 2000)."""
    x0, n0 = _check_int("x0", x0), _check_int("n0", n0)
    if not 0 <= x0 <= n0:
        raise ValueError(f"need 0 <= x0 <= n0, got x0={x0}, n0={n0}")
    weight = _number("weight", weight, 0, 1, open_low=False, open_high=False)
    return Beta(base.a + weight * x0, base.b + weight * (n0 - x0), label)


# =========================================================================== RD = p1 - p2
def _check_betas(first: Any, second: Any) -> None:
    for name, v in (("first", first), ("second", second)):
        if not isinstance(v, Beta):
            raise ValueError(f"{name} must be a trialkit.stats.Beta, got {type(v).__name__}")


def _pdf(dist: Beta) -> Any:
    """The density of ``dist`` as a fast scalar function (0 outside (0, 1))."""
    a, b = float(dist.a), float(dist.b)
    log_c = float(special.betaln(a, b))

    def f(x: float) -> float:
        if not 0.0 < x < 1.0:
            return 0.0
        return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_c)

    return f


def _sf(dist: Beta) -> Any:
    """P(p > x) as a fast scalar function (1 below 0, 0 above 1)."""
    a, b = float(dist.a), float(dist.b)

    def sf(x: float) -> float:
        return float(special.betaincc(a, b, min(1.0, max(0.0, x))))

    return sf


def _quad(f: Any, lo: float, hi: float, points: list[float], eps: float = _EPSABS) -> float:
    pts = sorted({p for p in points if lo < p < hi})
    val, _ = integrate.quad(f, lo, hi, points=pts or None, epsabs=eps, epsrel=_EPSREL, limit=400)
    return float(val)


def _landmarks(dist: Beta) -> list[float]:
    m, s = dist.mean, dist.sd
    return [m + k * s for k in (-6, -3, 0, 3, 6)]


def prob_greater(first: Beta, second: Beta, delta: float = 0.0) -> float:
    """P(p1 - p2 > delta) for independent ``p1 ~ first`` and ``p2 ~ second``, by
    numerical integration (absolute error below about 1e-10). ``delta`` in [-1, 1]."""
    _check_betas(first, second)
    d = _number("delta", delta, -1, 1, open_low=False, open_high=False)
    if d >= 1:
        return 0.0
    f2, s1 = _pdf(second), _sf(first)
    marks = _landmarks(second) + [m - d for m in _landmarks(first)]
    lo, hi = max(0.0, -d), min(1.0, 1.0 - d)
    below = float(special.betainc(second.a, second.b, -d)) if d < 0 else 0.0  # p2 < -d
    p = below + _quad(lambda q: f2(q) * s1(q + d), lo, hi, marks)
    return float(min(1.0, max(0.0, p)))


def difference_cdf(first: Beta, second: Beta, d: float) -> float:
    """P(p1 - p2 <= d) (see ``prob_greater``)."""
    return 1.0 - prob_greater(first, second, d)


def difference_pdf(first: Beta, second: Beta, d: Any) -> np.ndarray:
    """The density of p1 - p2 at ``d`` (a number or an array in [-1, 1]; 0 outside), by
    numerical integration of ``f1(q + d) f2(q)`` over q (absolute error below about 1e-8;
    for figures).

    When every beta parameter is >= 1 (all unimodal priors and their posteriors) the
    whole grid is integrated at once by one fixed rule (``_difference_pdf_grid``);
    otherwise, with a density that is infinite at 0 or 1, each point gets its own
    adaptive ``scipy.integrate.quad`` (``_difference_pdf_quad``)."""
    _check_betas(first, second)
    grid = np.atleast_1d(np.asarray(d, dtype=float))
    if min(first.a, first.b, second.a, second.b) >= 1:
        return _difference_pdf_grid(first, second, grid)
    return _difference_pdf_quad(first, second, grid)


def _difference_pdf_quad(first: Beta, second: Beta, grid: np.ndarray) -> np.ndarray:
    """``difference_pdf`` one point at a time, by adaptive quadrature (``quad``, absolute
    error 1e-10) with the same landmarks as break points: any beta parameters > 0."""
    f1, f2 = _pdf(first), _pdf(second)
    marks2 = _landmarks(second)
    out = np.zeros(grid.shape)
    with warnings.catch_warnings():  # far tails: the integrand underflows to 0
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for i, x in enumerate(grid.flat):
            lo, hi = max(0.0, -x), min(1.0, 1.0 - x)
            if -1 < x < 1 and hi > lo:
                marks = marks2 + [m - x for m in _landmarks(first)]
                out.flat[i] = _quad(lambda q, x=x: f1(q + x) * f2(q), lo, hi, marks, eps=1e-10)
    return out


# Gauss-Legendre nodes and weights on [0, 1], mapped through the smoothstep
# q = phi(t) = t^3 (10 - 15 t + 6 t^2), phi'(t) = 30 t^2 (1 - t)^2: near either end of a
# segment the nodes crowd in like t^3, so a density behaving like a power of the distance to
# 0 or 1 (a beta edge) becomes a smooth integrand in t.
_GL_T, _GL_W = np.polynomial.legendre.leggauss(32)
_GL_T, _GL_W = (_GL_T + 1) / 2, _GL_W / 2
_PHI = _GL_T**3 * (10 - 15 * _GL_T + 6 * _GL_T**2)  # phi(t); phi(1 - t) is _PHI[::-1]
_PHI_W = 30 * _GL_T**2 * (1 - _GL_T) ** 2 * _GL_W  # phi'(t) times the weight


def _difference_pdf_grid(first: Beta, second: Beta, grid: np.ndarray) -> np.ndarray:
    """``difference_pdf`` for all of ``grid`` at once, for beta parameters >= 1.

    For each d, q runs over [max(0, -d), min(1, 1 - d)], cut at the same landmarks as
    ``_difference_pdf_quad`` (each density's mean +-3 and +-6 SDs) into 11 segments; each
    segment gets the 32-point Gauss-Legendre rule through the smoothstep above. The
    distances of both arguments from 0 and from 1 are computed directly (never as 1 - x),
    so the edges of the supports keep full precision. Arrays: (points, segments, nodes)."""
    x = grid.ravel()
    lo, hi = np.maximum(0.0, -x), np.minimum(1.0, 1.0 - x)
    k = np.array([-6.0, -3.0, 0.0, 3.0, 6.0])
    marks2 = np.broadcast_to(second.mean + k * second.sd, (x.size, k.size))
    marks1 = first.mean - x[:, None] + k * first.sd
    cuts = np.concatenate([lo[:, None], marks2, marks1, hi[:, None]], axis=1)
    cuts = np.sort(np.clip(cuts, lo[:, None], hi[:, None]), axis=1)
    s, e, d = cuts[:, :-1, None], cuts[:, 1:, None], x[:, None, None]
    length = e - s
    u, v = length * _PHI, length * _PHI[::-1]  # q - s and e - q at the nodes
    last = e == hi[:, None, None]  # segment ends at the end of the support: exact gaps
    q2, q2c = s + u, np.where(last, np.maximum(d, 0.0), 1.0 - e) + v  # q and 1 - q
    q1 = (s + d) + u  # q + d (s + d is exact, 0 or d, where s is the lower end)
    q1c = np.where(last, np.maximum(-d, 0.0), np.maximum((1.0 - e) - d, 0.0)) + v  # 1 - q - d
    with np.errstate(divide="ignore", invalid="ignore"):  # empty segments: masked below
        log_f = (
            special.xlogy(first.a - 1, q1) + special.xlogy(first.b - 1, q1c)
            + special.xlogy(second.a - 1, q2) + special.xlogy(second.b - 1, q2c)
            - special.betaln(first.a, first.b) - special.betaln(second.a, second.b)
        )  # fmt: skip
        terms = np.where(length > 0, np.exp(log_f) * (length * _PHI_W), 0.0)
    out = terms.sum(axis=(1, 2))
    return np.where((x > -1) & (x < 1), out, 0.0).reshape(grid.shape)


def difference_quantile(first: Beta, second: Beta, q: float) -> float:
    """The ``q``-quantile of p1 - p2 (0 < q < 1), solving ``difference_cdf = q``."""
    q = _number("q", q, 0, 1)
    return float(
        optimize.brentq(
            lambda d: difference_cdf(first, second, d) - q, -1.0, 1.0, xtol=1e-10, rtol=1e-12
        )
    )


def prob_greater_mc(
    first: Beta, second: Beta, delta: Any = 0.0, size: int = 1_000_000, seed: int = 0
) -> tuple[Any, Any]:
    """Monte Carlo estimate of P(p1 - p2 > delta) and its standard error, from ``size``
    independent draws of each beta (``numpy.random.default_rng(seed)``).

    ``delta`` a number: two floats. ``delta`` a sequence of thresholds: two arrays, one
    entry per threshold, all from the same draws (exactly what one call per threshold
    with the same seed gives, drawing once)."""
    _check_betas(first, second)
    size = _check_int("size", size)
    if size < 2:
        raise ValueError(f"size must be >= 2 draws, got {size}")
    rng = np.random.default_rng(seed)
    diff = rng.beta(first.a, first.b, size) - rng.beta(second.a, second.b, size)
    if np.ndim(delta) == 0:
        p = float(np.mean(diff > delta))
        return p, math.sqrt(p * (1 - p) / size)
    ps = np.array([float(np.mean(diff > d)) for d in np.asarray(delta, dtype=float)])
    return ps, np.sqrt(ps * (1 - ps) / size)


# =========================================================================== priors
def _solve_strength(prob: Any, target: float, low: float, what: str) -> float:
    """The strength s >= low with prob(s) = target, prob decreasing in s."""
    if prob(low) < target:
        raise ValueError(
            f"{what}: even the weakest unimodal prior (strength {low:.3g}) gives "
            f"{prob(low):.4g} < tail; choose a larger tail or another rate"
        )
    high = 2 * low
    while prob(high) > target:
        high *= 2
        if high > 1e7:
            raise ValueError(f"{what}: no prior strength up to 1e7 reaches the tail")
    return float(optimize.brentq(lambda s: prob(s) - target, low, high, xtol=1e-9, rtol=1e-12))


def sceptical_prior(rate: float, relevant: float, tail: float = 0.05) -> Beta:
    """The sceptic's prior for each arm: ``Beta(rate * s, (1 - rate) * s)`` for both arms,
    with the strength ``s`` such that P(p1 - p2 > relevant) = ``tail`` a priori.

    ``rate``: the response rate the sceptic expects in either arm (no difference);
    ``relevant``: the smallest clinically relevant risk difference (> 0). Only unimodal
    priors (both parameters >= 1) are searched. Spiegelhalter, Freedman & Parmar (1994).
    """
    rate = _number("rate", rate, 0, 1)
    relevant = _number("relevant", relevant, 0, 1)
    tail = _number("tail", tail, 0, 0.5)
    low = max(1 / rate, 1 / (1 - rate))
    s = _solve_strength(
        lambda s: prob_greater(beta_prior(rate, s), beta_prior(rate, s), relevant),
        tail, low, "sceptical_prior",
    )  # fmt: skip
    return beta_prior(rate, s, "sceptical")


def enthusiastic_prior(rate: float, relevant: float, tail: float = 0.05) -> tuple[Beta, Beta]:
    """The enthusiast's priors (UC-MSC, placebo): ``Beta`` centred on ``rate + relevant``
    and on ``rate``, of the same strength ``s``, such that P(p1 - p2 < 0) = ``tail``
    a priori (harm is unlikely, a benefit of ``relevant`` expected)."""
    rate = _number("rate", rate, 0, 1)
    relevant = _number("relevant", relevant, 0, 1 - rate)
    tail = _number("tail", tail, 0, 0.5)
    hi = rate + relevant
    low = max(1 / rate, 1 / (1 - rate), 1 / hi, 1 / (1 - hi))
    s = _solve_strength(
        lambda s: 1 - prob_greater(beta_prior(hi, s), beta_prior(rate, s), 0.0),
        tail, low, "enthusiastic_prior",
    )  # fmt: skip
    return beta_prior(hi, s, "enthusiastic"), beta_prior(rate, s, "enthusiastic")


# =========================================================================== result
@dataclass(frozen=True)
class RiskDifferencePosterior:
    """The posterior of RD = p1 - p2 (UC-MSC minus placebo) for ``x1/n1`` vs ``x2/n2``.

    ``prior1/prior2`` and ``posterior1/posterior2`` per arm; ``mean``, ``median`` and the
    equal-tailed ``1 - alpha`` credible interval ``low``-``high`` of RD; ``p_benefit`` =
    P(RD > 0 | data), ``p_relevant`` = P(RD > relevant | data). All fractions.
    """

    label: str
    x1: int
    n1: int
    x2: int
    n2: int
    prior1: Beta
    prior2: Beta
    posterior1: Beta
    posterior2: Beta
    mean: float
    median: float
    low: float
    high: float
    alpha: float
    p_benefit: float
    relevant: float
    p_relevant: float
    method: str = "exact (numerical integration)"

    def __str__(self) -> str:
        name = f"{self.label} prior, " if self.label else ""
        return (
            f"{name}{self.x1}/{self.n1} vs {self.x2}/{self.n2}: posterior RD mean "
            f"{_fmt(self.mean)} ({_level(self.alpha)} credible interval {_fmt(self.low)} to "
            f"{_fmt(self.high)}); P(RD > 0) = {self.p_benefit:.4f}, "
            f"P(RD > {self.relevant:g}) = {self.p_relevant:.4f} ({self.method})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: counts, priors and posteriors as [a, b], summaries, probabilities."""
        return {
            "label": self.label,
            "counts": [self.x1, self.n1, self.x2, self.n2],
            "prior1": [float(self.prior1.a), float(self.prior1.b)],
            "prior2": [float(self.prior2.a), float(self.prior2.b)],
            "posterior1": [float(self.posterior1.a), float(self.posterior1.b)],
            "posterior2": [float(self.posterior2.a), float(self.posterior2.b)],
            "mean": float(self.mean),
            "median": float(self.median),
            "low": float(self.low),
            "high": float(self.high),
            "alpha": float(self.alpha),
            "p_benefit": float(self.p_benefit),
            "relevant": float(self.relevant),
            "p_relevant": float(self.p_relevant),
            "method": self.method,
        }


def risk_difference_posterior(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    prior1: Beta = UNIFORM,
    prior2: Beta | None = None,
    relevant: float = 0.1,
    alpha: float = 0.05,
    label: str = "",
) -> RiskDifferencePosterior:
    """The posterior of the risk difference after ``x1/n1`` vs ``x2/n2`` responders, with
    beta priors per arm (``prior2`` defaults to ``prior1``; both default to Beta(1, 1)).

    Returns the posterior mean, median and equal-tailed ``1 - alpha`` credible interval
    of RD = p1 - p2, P(RD > 0) and P(RD > ``relevant``), computed by numerical
    integration (see the module docstring).
    """
    for name, x, n in (("1", x1, n1), ("2", x2, n2)):
        _check_int(f"x{name}", x)
        _check_int(f"n{name}", n)
        if not 0 <= x <= n:
            raise ValueError(f"need 0 <= x{name} <= n{name}, got {x}/{n}")
    prior2 = prior1 if prior2 is None else prior2
    _check_betas(prior1, prior2)
    alpha = _check_alpha(alpha)
    relevant = _number("relevant", relevant, -1, 1)
    post1, post2 = prior1.updated(x1, n1), prior2.updated(x2, n2)
    return RiskDifferencePosterior(
        label=label,
        x1=int(x1), n1=int(n1), x2=int(x2), n2=int(n2),
        prior1=prior1, prior2=prior2, posterior1=post1, posterior2=post2,
        mean=post1.mean - post2.mean,
        median=difference_quantile(post1, post2, 0.5),
        low=difference_quantile(post1, post2, alpha / 2),
        high=difference_quantile(post1, post2, 1 - alpha / 2),
        alpha=alpha,
        p_benefit=prob_greater(post1, post2, 0.0),
        relevant=relevant,
        p_relevant=prob_greater(post1, post2, relevant),
    )  # fmt: skip


# =========================================================================== normal
@dataclass(frozen=True)
class NormalPosterior:
    """A normal posterior ``N(mean, sd)`` of a difference (arm 1 minus arm 2), with the
    prior and the data summary (``estimate``, ``se``) it came from."""

    mean: float
    sd: float
    estimate: float
    se: float
    prior_mean: float
    prior_sd: float
    label: str = ""

    def prob_below(self, threshold: float) -> float:
        """P(difference < threshold)."""
        return float(stats.norm.cdf(threshold, self.mean, self.sd))

    def prob_above(self, threshold: float) -> float:
        """P(difference > threshold)."""
        return float(stats.norm.sf(threshold, self.mean, self.sd))

    def interval(self, alpha: float = 0.05) -> tuple[float, float]:
        """Equal-tailed ``1 - alpha`` credible interval."""
        alpha = _check_alpha(alpha)
        z = stats.norm.isf(alpha / 2)
        return self.mean - z * self.sd, self.mean + z * self.sd

    def __str__(self) -> str:
        lo, hi = self.interval()
        prior = "flat prior" if math.isinf(self.prior_sd) else (
            f"prior N({self.prior_mean:.4g}, {self.prior_sd:.4g})"
        )  # fmt: skip
        name = f"{self.label}: " if self.label else ""
        return (
            f"{name}posterior N({self.mean:.4f}, {self.sd:.4f}) ({prior}; data "
            f"{self.estimate:.4f} +- {self.se:.4f}); 95% credible interval {lo:.4f} to {hi:.4f}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: mean, sd, estimate, se, prior_mean, prior_sd (inf if flat), label."""
        return {
            "mean": float(self.mean),
            "sd": float(self.sd),
            "estimate": float(self.estimate),
            "se": float(self.se),
            "prior_mean": float(self.prior_mean),
            "prior_sd": float(self.prior_sd),
            "label": self.label,
        }


def normal_posterior(
    estimate: float,
    se: float,
    prior_mean: float = 0.0,
    prior_sd: float = math.inf,
    label: str = "",
) -> NormalPosterior:
    """The normal-normal conjugate posterior of a parameter estimated by ``estimate`` with
    standard error ``se`` (treated as known), under the prior ``N(prior_mean, prior_sd)``
    (``prior_sd = inf``, the default, is a flat prior: the posterior is N(estimate, se)).
    Precisions add: ``1/sd^2 = 1/se^2 + 1/prior_sd^2``."""
    estimate = _number("estimate", estimate)
    se = _number("se", se, low=0)
    prior_mean = _number("prior_mean", prior_mean)
    if isinstance(prior_sd, bool) or not isinstance(prior_sd, int | float | np.number):
        raise ValueError(f"prior_sd must be a positive number or inf, got {prior_sd!r}")
    prior_sd = float(prior_sd)
    if not prior_sd > 0:
        raise ValueError(f"prior_sd must be > 0 (inf for a flat prior), got {prior_sd!r}")
    w_data = 1 / se**2
    w_prior = 0.0 if math.isinf(prior_sd) else 1 / prior_sd**2
    mean = (w_data * estimate + w_prior * prior_mean) / (w_data + w_prior)
    return NormalPosterior(
        mean=float(mean),
        sd=float(1 / math.sqrt(w_data + w_prior)),
        estimate=estimate,
        se=se,
        prior_mean=prior_mean,
        prior_sd=prior_sd,
        label=label,
    )


def mean_difference_posterior(
    mean1: float,
    sd1: float,
    n1: int,
    mean2: float,
    sd2: float,
    n2: int,
    prior_mean: float = 0.0,
    prior_sd: float = math.inf,
    label: str = "",
) -> NormalPosterior:
    """The posterior of ``mu1 - mu2`` from each arm's mean, SD and size: the estimate
    ``mean1 - mean2`` with standard error ``sqrt(sd1^2/n1 + sd2^2/n2)`` (SDs plugged in as
    known; a large-sample approximation), combined with a normal prior (flat by
    default) by ``normal_posterior``."""
    for name, v in (("n1", n1), ("n2", n2)):
        if _check_int(name, v) < 2:
            raise ValueError(f"{name} must be >= 2 patients, got {v}")
    sd1 = _number("sd1", sd1, low=0)
    sd2 = _number("sd2", sd2, low=0)
    se = math.sqrt(sd1**2 / n1 + sd2**2 / n2)
    return normal_posterior(
        _number("mean1", mean1) - _number("mean2", mean2), se, prior_mean, prior_sd, label
    )


# =========================================================================== summaries
def prior_table(priors: dict[str, tuple[Beta, Beta]], relevant: float, level: float = 0.9) -> Any:
    """One row per reader: each arm's prior (mean response rate and its central ``level``
    interval, a *prior predictive* view of what the reader expects in each arm), the
    prior's weight in patients per arm, and the prior probabilities P(RD > 0) and
    P(RD > ``relevant``). ``priors`` maps a reader to (UC-MSC prior, placebo prior)."""
    import pandas as pd

    rows = []
    for name, (p1, p2) in priors.items():
        lo1, hi1 = p1.interval(1 - level)
        lo2, hi2 = p2.interval(1 - level)
        rows.append(
            {
                "reader": name,
                "UC-MSC prior": f"Beta({p1.a:.3g}, {p1.b:.3g})",
                "placebo prior": f"Beta({p2.a:.3g}, {p2.b:.3g})",
                "weight per arm (patients)": p1.strength,
                "UC-MSC rate, prior mean": p1.mean,
                "UC-MSC rate, prior interval": f"{100 * lo1:.1f}% to {100 * hi1:.1f}%",
                "placebo rate, prior mean": p2.mean,
                "placebo rate, prior interval": f"{100 * lo2:.1f}% to {100 * hi2:.1f}%",
                "prior P(RD > 0)": prob_greater(p1, p2, 0.0),
                "prior P(RD > relevant)": prob_greater(p1, p2, relevant),
            }
        )
    return pd.DataFrame(rows)


def posterior_table(results: dict[str, RiskDifferencePosterior]) -> Any:
    """One row per reader: posterior mean RD, its credible interval, P(RD > 0),
    P(RD > relevant), and each arm's posterior mean response rate."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "reader": name,
                "posterior mean RD (points)": r.mean,
                "credible interval": f"{100 * r.low:.1f} to {100 * r.high:.1f} points",
                "P(RD > 0)": r.p_benefit,
                "P(RD > relevant)": r.p_relevant,
                "UC-MSC rate, posterior mean": r.posterior1.mean,
                "placebo rate, posterior mean": r.posterior2.mean,
            }
            for name, r in results.items()
        ]
    )


def analysis_set_posteriors(
    x1: int,
    n1: int,
    x2: int,
    n2: int,
    missing1: int,
    missing2: int,
    priors: dict[str, tuple[Beta, Beta]],
    relevant: float,
) -> Any:
    """Every possible outcome of randomized patients who were not analysed (``missing1``,
    ``missing2`` per arm, all put in the denominators with ``j`` of them responders),
    and the analysis as published, under each prior: one row per case and prior with
    ``case`` ("x1/m1 vs x2/m2"), ``extra1``/``extra2`` (responders among the unanalysed;
    None for the published analysis), ``prior``, ``p_benefit``, ``p_relevant``."""
    import pandas as pd

    cases = [(x1, n1, x2, n2, None, None)]
    if missing1 or missing2:
        cases += [
            (x1 + j1, n1 + missing1, x2 + j2, n2 + missing2, j1, j2)
            for j1 in range(missing1 + 1)
            for j2 in range(missing2 + 1)
        ]
    relevant = _number("relevant", relevant, -1, 1)
    rows = []
    for a1, m1, a2, m2, j1, j2 in cases:
        for name, (p1, p2) in priors.items():
            _check_betas(p1, p2)
            # the two probabilities of risk_difference_posterior, without its quantiles
            post1, post2 = p1.updated(a1, m1), p2.updated(a2, m2)
            rows.append(
                {
                    "case": f"{a1}/{m1} vs {a2}/{m2}",
                    "extra1": j1,
                    "extra2": j2,
                    "prior": name,
                    "p_benefit": prob_greater(post1, post2, 0.0),
                    "p_relevant": prob_greater(post1, post2, relevant),
                }
            )
    return pd.DataFrame(rows)


def log_odds_ratio(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """The log odds ratio of ``x1/n1`` vs ``x2/n2`` and its large-sample (Woolf) standard
    error ``sqrt(1/a + 1/b + 1/c + 1/d)``; 0.5 is added to every cell when one is zero
    (Haldane-Anscombe). Used as an approximately normal likelihood for the effect."""
    cells = [x1, n1 - x1, x2, n2 - x2]
    for name, v in zip(("x1", "n1 - x1", "x2", "n2 - x2"), cells, strict=True):
        if _check_int(name, v) < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    if min(cells) == 0:
        cells = [c + 0.5 for c in cells]
    a, b, c, d = (float(v) for v in cells)
    return math.log(a * d / (b * c)), math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)


def relevant_log_odds_ratio(rate: float, relevant: float) -> float:
    """The log odds ratio that a risk difference of ``relevant`` means at a control
    response rate ``rate``: logit(rate + relevant) - logit(rate)."""
    rate = _number("rate", rate, 0, 1)
    if not 0 < rate < rate + relevant < 1:
        raise ValueError(f"need 0 < rate < rate + relevant < 1, got {rate} and {relevant}")
    return float(special.logit(rate + relevant) - special.logit(rate))


def effect_prior_posterior(
    x1: int, n1: int, x2: int, n2: int, x01: int, n01: int, x02: int, n02: int, weight: float
) -> NormalPosterior:
    """The posterior of the log odds ratio of ``x1/n1`` vs ``x2/n2`` with outside evidence
    ``x01/n01`` vs ``x02/n02`` as a prior *on the treatment effect*, discounted by
    ``weight`` (0 to 1): prior N(log OR0, SE0^2 / weight), a power prior on the effect
    (weight 0: flat prior, the trial alone; 1: the outside trial counted in full).
    Normal approximations on the log-odds scale (Spiegelhalter et al. 2004, ch. 5)."""
    weight = _number("weight", weight)
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be in [0, 1], got {weight!r}")
    est, se = log_odds_ratio(x1, n1, x2, n2)
    est0, se0 = log_odds_ratio(x01, n01, x02, n02)
    prior_sd = math.inf if weight == 0 else se0 / math.sqrt(weight)
    return normal_posterior(est, se, est0, prior_sd, label=f"effect prior, weight {weight:g}")
