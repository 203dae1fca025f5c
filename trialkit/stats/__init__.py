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

from trialkit.stats.bayes import *  # noqa: F403
from trialkit.stats.bayes import __all__ as _bayes
from trialkit.stats.binary import *  # noqa: F403
from trialkit.stats.binary import __all__ as _binary
from trialkit.stats.continuous import *  # noqa: F403
from trialkit.stats.continuous import __all__ as _continuous
from trialkit.stats.design import *  # noqa: F403
from trialkit.stats.design import __all__ as _design
from trialkit.stats.missing import *  # noqa: F403
from trialkit.stats.missing import __all__ as _missing
from trialkit.stats.power import *  # noqa: F403
from trialkit.stats.power import __all__ as _power
from trialkit.stats.safety import *  # noqa: F403
from trialkit.stats.safety import __all__ as _safety
from trialkit.stats.summary import *  # noqa: F403
from trialkit.stats.summary import __all__ as _summary

# EffectEstimate and HypothesisTest come through binary
__all__ = [*_binary, *_summary, *_power, *_safety, *_design, *_bayes, *_missing, *_continuous]
