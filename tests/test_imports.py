"""What importing trialkit's modules costs a notebook's kernel: nothing it does not use.

Each check runs a fresh interpreter (``python -c``) and looks at ``sys.modules``, so that
nobody undoes a lazy import by accident: pandera only when something validates; the
generative model, the reconstruction and the ensemble only when ``cohort`` names them;
each ``stats`` module only when one of its names is used.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from trialkit import cohort, stats


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


HEAVY_MODEL = {"trialkit.trial_model", "trialkit.reconstruct", "trialkit.ensemble"}


@pytest.mark.parametrize(
    "code",
    [
        "import trialkit.schema",
        "import trialkit.derive",
        "from trialkit import cohort, derive, schema, stats, tables, published, params",
        "from trialkit import schema; schema.VISITS, schema.ARMS, schema.LABELS",
    ],
)
def test_importing_does_not_import_pandera(code):
    assert "pandera" not in _modules_after(code)


def test_validating_imports_pandera_and_schemas_stay_public():
    mods = _modules_after("from trialkit import schema; schema.SCHEMAS['ADSL']")
    assert "pandera" in mods
    from trialkit import schema

    assert set(schema.SCHEMAS) == set(schema.DATASETS)
    with pytest.raises(AttributeError):
        schema.NO_SUCH_NAME  # noqa: B018


def test_cohort_load_imports_neither_the_model_nor_stats():
    mods = _modules_after("from trialkit import cohort; cohort.load(''); cohort.assumptions()")
    assert not mods & HEAVY_MODEL, mods & HEAVY_MODEL
    assert "trialkit.compare" not in mods
    assert not {m for m in mods if m.startswith("trialkit.stats.")}


def test_load_with_a_snapshot_does_not_import_pandera(tmp_path):
    import os

    from trialkit import schema

    snap = tmp_path / "validated.pickle"
    schema.write_snapshot([cohort.SYNTHETIC_DIR], snap)
    env = {**os.environ, schema.SNAPSHOT_ENV: str(snap)}
    assert "pandera" not in _modules_after("from trialkit import cohort; cohort.load('')", env)
    # without it, loading validates
    env.pop(schema.SNAPSHOT_ENV)
    assert "pandera" in _modules_after("from trialkit import cohort; cohort.load('')", env)


def test_cohort_names_are_its_modules_names():
    for name in cohort.__all__:
        module = importlib.import_module(f"trialkit.{cohort._HOME[name]}")
        assert getattr(cohort, name) is getattr(module, name), name
    assert set(cohort._HOME) == set(cohort.__all__)
    assert set(cohort.__all__) <= set(dir(cohort))
    with pytest.raises(AttributeError):
        cohort.no_such_name  # noqa: B018


def test_stats_table_matches_each_modules_all():
    """stats._NAMES, read from each module's source without importing it, is each
    module's ``__all__`` as Python sees it; every name resolves to its module's object."""
    for module, names in stats._NAMES.items():
        assert tuple(importlib.import_module(f"trialkit.stats.{module}").__all__) == names
    assert len(stats.__all__) == len(set(stats.__all__))
    for name in stats.__all__:
        module = importlib.import_module(f"trialkit.stats.{stats._HOME[name]}")
        assert getattr(stats, name) is getattr(module, name), name
    assert stats.binary is importlib.import_module("trialkit.stats.binary")
    with pytest.raises(AttributeError):
        stats.no_such_name  # noqa: B018


def test_stats_imports_only_the_modules_used():
    mods = _modules_after("from trialkit import stats; stats.fisher_test")
    used = {m for m in mods if m.startswith("trialkit.stats.")}
    assert used == {"trialkit.stats.binary", "trialkit.stats.results"}
    star = _modules_after("from trialkit.stats import *")
    assert {f"trialkit.stats.{m}" for m in stats._NAMES} <= star


def test_the_cache_key_still_follows_the_lazy_imports():
    """trialkit.cache finds the modules a notebook reaches from import statements in the
    source: the lazy facades keep one per module."""
    import nbformat

    from trialkit import cache

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("from trialkit import cohort, stats\ncohort.load('')")]
    )
    used = cache.modules_used(nb)
    assert {f"trialkit.{m}" for m in set(cohort._HOME.values())} <= used
    assert {f"trialkit.stats.{m}" for m in stats._MODULES} <= used
