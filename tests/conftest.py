"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from trialkit import params

ROOT = Path(__file__).resolve().parent.parent
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
