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


#: Parameters for the session's run of the whole collection: none, the defaults. Since
#: issue 12 the whole collection renders at its defaults in about 20 s on two cores, so
#: the tests check the pages a reader gets (at smaller test sizes, notebook 09's progress
#: bar on the page at its default 420,000 trials went unseen). The name stays for the
#: tests that take the session's settings into their own runs.
TEST_PARAMETERS: dict[str, Any] = {}


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
