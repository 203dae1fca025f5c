"""Statistics for the re-analysis of Zang et al. (2022), in the style of scipy.stats.

Every function takes plain inputs (counts, arrays, data frames) and returns a small,
frozen result object that prints as one readable line (``str(result)``) and turns into
plain, JSON-ready Python with ``result.as_dict()`` (for ``trialkit.record``).
Proportions and differences of proportions are fractions (0.2, not 20%); alpha=0.05
gives 95% intervals.

One module per topic; every public name is available as ``trialkit.stats.NAME``:

- ``binary``   a binary endpoint (2x2 table): risk difference by four interval methods,
  relative risk, odds ratio, NNT, exact and asymptotic tests, fragility index;
- ``summary``  tests redone from published means, SDs and sizes;
- ``results``  the result objects (``EffectEstimate``, ``HypothesisTest``) and input
  checks every module shares.

Hand-written estimators are tested against published tables and R output kept, with
the scripts that made them, in ``tests/fixtures/``.
"""

from trialkit.stats.binary import *  # noqa: F403
from trialkit.stats.binary import __all__ as _binary
from trialkit.stats.summary import *  # noqa: F403
from trialkit.stats.summary import __all__ as _summary

__all__ = [*_binary, *_summary]  # EffectEstimate and HypothesisTest come through binary
