"""Deprecated alias of ``trialkit.studies`` (simulation studies of power).

Renamed so that it cannot be confused with ``trialkit.cohort.simulate`` (one simulated
trial). ``from trialkit import simulate`` still works and gives the ``trialkit.studies``
module itself (same functions, same monkeypatchable attributes); use
``from trialkit import studies`` in new code. This alias will be removed once the
notebooks have moved.
"""

import sys

from trialkit import studies

sys.modules[__name__] = studies
