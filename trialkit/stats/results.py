"""Result objects and input checks shared by the ``trialkit.stats`` modules.

``EffectEstimate`` (an estimate with its interval) and ``HypothesisTest`` (a statistic
with its p-value) print as one readable line and turn into plain Python with
``as_dict()``; the ``_check_*`` helpers raise ValueErrors that name the argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EffectEstimate", "HypothesisTest"]


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "NA"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "infinity" if x > 0 else "-infinity"
    return f"{x:.{digits}f}"


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _plain(x: Any) -> Any:
    """Plain Python (float/int/str/None, lists) from numpy scalars and tuples."""
    if isinstance(x, tuple | list):
        return [_plain(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass(frozen=True)
class EffectEstimate:
    """An effect estimate with its confidence interval.

    Attributes: ``measure`` ("risk difference", "relative risk", "odds ratio"),
    ``estimate``, ``low``, ``high`` (the interval), ``method`` (how the interval was
    made), ``alpha`` (1 - confidence level), ``note`` (anything the reader must know,
    e.g. a zero-cell correction or clipping; empty if nothing).
    """

    measure: str
    estimate: float
    low: float
    high: float
    method: str
    alpha: float
    note: str = ""

    @property
    def width(self) -> float:
        """``high - low``."""
        return self.high - self.low

    def __str__(self) -> str:
        text = (
            f"{self.measure} {_fmt(self.estimate)} ({_level(self.alpha)} CI "
            f"{_fmt(self.low)} to {_fmt(self.high)}, {self.method})"
        )
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: measure, estimate, low, high, method, alpha, note."""
        return {
            "measure": self.measure,
            "estimate": float(self.estimate),
            "low": float(self.low),
            "high": float(self.high),
            "method": self.method,
            "alpha": float(self.alpha),
            "note": self.note,
        }


@dataclass(frozen=True)
class HypothesisTest:
    """The result of a test (on a 2x2 table, or from summary statistics).

    Attributes: ``test`` (short key, e.g. "fisher"), ``statistic`` (see each test's
    docstring for what it is), ``p`` (two-sided p-value), ``method`` (a readable name),
    ``note`` (degenerate cases and conventions; empty if nothing).
    """

    test: str
    statistic: float
    p: float
    method: str
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.method}: statistic {self.statistic:.4g}, p = {self.p:.4g}"
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: test, statistic, p, method, note."""
        return {
            "test": self.test,
            "statistic": float(self.statistic),
            "p": float(self.p),
            "method": self.method,
            "note": self.note,
        }


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer count, got {value!r}")
    return int(value)


def _check_alpha(alpha: Any, name: str = "alpha") -> float:
    if isinstance(alpha, bool | np.bool_) or not isinstance(alpha, int | float | np.number):
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}")
    a = float(alpha)
    if not 0 < a < 1:
        raise ValueError(f"{name} must be in (0, 1), got {alpha!r}")
    return a


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return str(value)
