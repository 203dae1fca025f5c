"""SYNTHETIC patients for the Zang et al. (2022) trial: one import for the notebooks.

A facade: the work is done in modules named for what they hold, and this module
re-exports their public names so that ``from trialkit import cohort`` gives them all.

- ``trialkit.assumptions``  every unpublished number, with its reason
  (``assumptions()``, ``assumption_table()``; ``data/assumptions.yaml``)
- ``trialkit.trial_model``  the generative model: ``simulate`` (one trial, four
  datasets), ``simulate_endpoints`` (the week-48 endpoints of many trials at once)
- ``trialkit.reconstruct``  ``reconstruct``: one data set that reproduces every
  published summary (the method is described there)
- ``trialkit.ensemble``     ``ensemble``, ``ensemble_member``: many reconstructions,
  built as arrays many members at once, cached per seed
- ``trialkit.compare``      ``compare_with_published``, ``summary``
- ``trialkit.datafiles``    ``write_csvs``, ``read_csvs``, ``load`` and the command line

``python -m trialkit.cohort [--out DIR] [--seed N] [--check]`` writes (or checks) the
canonical reconstruction in ``data/synthetic`` (``make data``).

All randomness comes from ``numpy.random.Generator`` seeded by the ``seed`` argument:
the same seed gives byte-identical data; ensemble member ``i`` uses
``SeedSequence(seed).spawn(k)[i]`` whatever the batch size or number of processes.
"""

from __future__ import annotations

import sys

from trialkit.assumptions import (
    ASSUMPTIONS_PATH,
    Assumption,
    AssumptionError,
    assumption_table,
    assumptions,
)
from trialkit.compare import compare_with_published, summary
from trialkit.datafiles import DATASETS, SYNTHETIC_DIR, load, main, read_csvs, write_csvs
from trialkit.ensemble import ensemble, ensemble_member
from trialkit.reconstruct import ReconstructionError, reconstruct
from trialkit.trial_model import (
    ARMS,
    LAB_UNITS,
    insulin_share_denominators,
    simulate,
    simulate_endpoints,
)

__all__ = [
    "ARMS",
    "ASSUMPTIONS_PATH",
    "DATASETS",
    "LAB_UNITS",
    "SYNTHETIC_DIR",
    "Assumption",
    "AssumptionError",
    "ReconstructionError",
    "assumption_table",
    "assumptions",
    "compare_with_published",
    "ensemble",
    "ensemble_member",
    "insulin_share_denominators",
    "load",
    "main",
    "read_csvs",
    "reconstruct",
    "simulate",
    "simulate_endpoints",
    "summary",
    "write_csvs",
]

if __name__ == "__main__":
    sys.exit(main())
