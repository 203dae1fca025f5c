"""SYNTHETIC patients for the Zang et al. (2022) trial: one import for the notebooks.

A facade: the work is done in modules named for what they hold, and this module
re-exports their public names so that ``from trialkit import cohort`` gives them all.
Each module is imported when one of its names is first used: ``cohort.load("")`` does
not import the generative model or the reconstruction.

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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for readers and type checkers; at run time see __getattr__ below
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


def _homes() -> dict[str, str]:
    """Where each public name lives, read from the imports under ``TYPE_CHECKING`` above
    (this file's source, about 1 ms): {name: module}. The modules are imported when a name
    is first used (PEP 562 ``__getattr__`` below): ``cohort.load`` needs neither the
    generative model nor the reconstruction, and importing them costs a notebook's kernel
    time it would not use."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    return {
        alias.name: node.module.rsplit(".", 1)[-1]
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


_HOME: dict[str, str] = _homes()


def _module(home: str) -> Any:
    """The module ``trialkit.<home>``, imported by a plain import statement (so that
    ``trialkit.cache`` sees which modules this facade can reach)."""
    if home == "assumptions":
        from trialkit import assumptions as module
    elif home == "compare":
        from trialkit import compare as module
    elif home == "datafiles":
        from trialkit import datafiles as module
    elif home == "ensemble":
        from trialkit import ensemble as module
    elif home == "reconstruct":
        from trialkit import reconstruct as module
    else:
        from trialkit import trial_model as module
    return module


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module on first use (then kept here)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    from trialkit.datafiles import main

    sys.exit(main())
