"""Shared test fixtures."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trialkit import params, run

ROOT = Path(__file__).resolve().parent.parent

# Ensembles cached by notebooks 03 and 10 go to a folder of this test session, not the
# user's ~/.cache (kernels inherit the environment).
os.environ.setdefault("TRIALKIT_CACHE_DIR", tempfile.mkdtemp(prefix="trialkit-test-cache-"))
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def fixture_notebooks(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The runner's fixture notebooks, with their parameters declared for the test."""
    monkeypatch.setitem(
        params.SPECS,
        "01_records",
        {"scale": params.Param(2.0, "a multiplier", low=0, high=10, open_low=True)},
    )
    monkeypatch.setitem(
        params.SPECS, "02_explodes", {"explode": params.Param(False, "raise on purpose")}
    )
    return FIXTURES / "notebooks"


#: Parameters for the session's run of the whole collection, where a notebook's defaults
#: are slow (a parameter applies to every notebook that declares it).
TEST_PARAMETERS: dict[str, Any] = {
    "n_sim": 2000,  # 09: simulated trials per scenario (default 20,000)
    "ensemble_size": 30,  # 03 (and 10, which shares the name): reconstructions (default 300)
    "n_imputations": 30,  # 07: imputations per multiple imputation (default 100)
    "sim_trials": 120,  # 07: simulated trials of the dropout study (default 300)
    "sim_imputations": 5,  # 07: imputations per simulated trial (default 10)
}


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole collection rendered once by papermill, through trialkit's runner."""
    out = tmp_path_factory.mktemp("reports")
    outcomes = run.render(out=out, parameters=TEST_PARAMETERS)
    failed = [o.message for o in outcomes if not o.ok]
    assert not failed, "\n".join(failed)
    return out


def read_records(folder: Path, name: str) -> dict[str, Any]:
    """What notebook ``name`` recorded in a run into ``folder``."""
    return json.loads((folder / f"{name}.json").read_text())["records"]


@pytest.fixture(scope="session")
def recorded(reports: Path) -> Callable[[str], dict[str, Any]]:
    """``recorded(name)``: what notebook ``name`` recorded in the session's run."""
    return lambda name: read_records(reports, name)
