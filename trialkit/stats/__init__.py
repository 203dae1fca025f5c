"""Statistics for the re-analysis of Zang et al. (2022), in the style of scipy.stats.

Every function takes plain inputs (counts, arrays, data frames) and returns a small,
frozen result object that prints as one readable line (``str(result)``) and turns into
plain, JSON-ready Python with ``result.as_dict()`` (for ``trialkit.record``).
Proportions and differences of proportions are fractions (0.2, not 20%); alpha=0.05
gives 95% intervals.

One module per topic; every public name is available as ``trialkit.stats.NAME``:

- ``binary``   a binary endpoint (2x2 table): risk difference by four interval methods,
  relative risk, odds ratio, NNT, exact and asymptotic tests, fragility index,
  analysis-set scenarios (every outcome the unanalysed patients could have had);
- ``safety``   exact bounds for rare events (Clopper-Pearson, rule of three), the chance
  of seeing a rare event, adverse-event incidence tables, events by infusion;
- ``summary``  tests redone from published means, SDs and sizes;
- ``continuous`` a continuous endpoint over time (HbA1c, insulin dose): t-test and
  ANCOVA at one visit, MMRM (unstructured covariance, REML, Satterthwaite df; checked
  against nlme + emmeans), GEE and a random-intercept mixed model, arm differences by visit;
- ``design``   randomization (simple, permuted and random blocks): exact imbalance and
  predictability, simulated sequences; the CONSORT flow counted from an ADSL;
- ``bayes``    conjugate beta-binomial posteriors per arm and the exact posterior of their
  risk difference; sceptical, enthusiastic and power priors; normal posteriors of a
  mean difference;
- ``missing``  missing data: Rubin's rules, multiple imputation of visit-wise HbA1c
  (sequential Bayesian regression within arm), delta-adjusted and responder tipping
  points, non-responder imputation vs MI, MCAR/MAR/MNAR dropout simulations;
- ``power``    exact power, size and sample size of two-proportion tests (enumeration
  over precomputed p-value tables), normal approximations, assurance;
- ``results``  the result objects (``EffectEstimate``, ``HypothesisTest``) and input
  checks every module shares.

Hand-written estimators are tested against published tables and R output kept, with
the scripts that made them, in ``tests/fixtures/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

# The modules with public names, in the order of ``__all__`` below. A module is imported
# when one of its names (or the module itself) is first used (PEP 562 ``__getattr__``
# below): a notebook that only computes a Fisher test does not pay for the MMRM or
# multiple imputation. Which names a module has is read from its ``__all__`` in its source
# (about 1 ms for all of them), so no second list of them is kept here.
_WITH_NAMES: tuple[str, ...] = (
    "binary", "summary", "power", "safety", "design", "bayes", "missing", "continuous",
)  # fmt: skip


def _public_names(module: str) -> tuple[str, ...]:
    """The ``__all__`` of ``trialkit.stats.<module>``, read from its source without
    importing it (a literal list, as every module here has); the module is imported for
    it only when its source does not say it literally."""
    try:
        source = Path(__file__).with_name(f"{module}.py").read_text(encoding="utf-8")
        found = re.search(r"^__all__\s*(?::[^=\n]*)?=\s*(\[.*?\]|\(.*?\))", source, re.S | re.M)
        if found is not None:
            return tuple(ast.literal_eval(found.group(1)))
    except (OSError, ValueError, SyntaxError):
        pass
    return tuple(_module(module).__all__)


_NAMES: dict[str, tuple[str, ...]] = {module: _public_names(module) for module in _WITH_NAMES}
_HOME: dict[str, str] = {name: module for module, names in _NAMES.items() for name in names}
_MODULES: tuple[str, ...] = (*_NAMES, "results")

# EffectEstimate and HypothesisTest come through binary
__all__ = [name for names in _NAMES.values() for name in names]


def _module(name: str) -> Any:
    """The module ``trialkit.stats.<name>``, imported by a plain import statement (so that
    ``trialkit.cache`` sees which modules this package can reach)."""
    if name == "binary":
        import trialkit.stats.binary as module
    elif name == "summary":
        import trialkit.stats.summary as module
    elif name == "power":
        import trialkit.stats.power as module
    elif name == "safety":
        import trialkit.stats.safety as module
    elif name == "design":
        import trialkit.stats.design as module
    elif name == "bayes":
        import trialkit.stats.bayes as module
    elif name == "missing":
        import trialkit.stats.missing as module
    elif name == "continuous":
        import trialkit.stats.continuous as module
    elif name == "results":
        import trialkit.stats.results as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return module


def __getattr__(name: str) -> Any:
    """A public name of a module (imported on first use, then kept here), or a module."""
    if name in _MODULES:
        return _module(name)
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_MODULES})
