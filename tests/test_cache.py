"""The runner's execution cache (``trialkit.cache``) and its progress lines."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import pytest

from trialkit import cache, run


def _executed_at(out: Path, name: str) -> int:
    return (out / f"{name}.ipynb").stat().st_mtime_ns


@pytest.fixture
def frozen_package(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:
    """The cache reads a snapshot of trialkit/ (a shared working tree changes under a test)."""
    copy = tmp_path_factory.mktemp("frozen") / "trialkit"
    shutil.copytree(cache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "PACKAGE", copy)
    cache._module_file.cache_clear()
    yield copy
    cache._module_file.cache_clear()


def test_second_render_with_nothing_changed_executes_nothing(
    fixture_notebooks, frozen_package, tmp_path
):
    first = run.render(folder=fixture_notebooks, out=tmp_path, jobs=1)
    assert not any(o.cached for o in first)
    stamps = {o.name: _executed_at(tmp_path, o.name) for o in first}
    lines: list[str] = []
    t0 = time.perf_counter()
    again = run.render(folder=fixture_notebooks, out=tmp_path, jobs=1, progress=lines.append)
    seconds = time.perf_counter() - t0
    assert all(o.cached and o.ok for o in again)
    assert {o.name: _executed_at(tmp_path, o.name) for o in again} == stamps
    assert any("nothing to execute" in line for line in lines), lines
    assert not any(line.startswith(("rendering", "[")) for line in lines), lines
    assert seconds < 10, f"an unchanged re-render took {seconds:.1f} s"


def test_a_change_reruns_exactly_the_notebooks_it_affects(
    fixture_notebooks, frozen_package, tmp_path
):
    run.render(folder=fixture_notebooks, out=tmp_path, jobs=1)
    # a parameter only 01 takes: 01 runs again, 02 is reused
    by_name = {
        o.name: o
        for o in run.render(
            folder=fixture_notebooks, out=tmp_path, jobs=1, text_parameters={"scale": "4"}
        )
    }
    assert not by_name["01_records"].cached and by_name["02_explodes"].cached
    # --force: both run again
    forced = run.render(
        folder=fixture_notebooks, out=tmp_path, jobs=1, text_parameters={"scale": "4"}, force=True
    )
    assert not any(o.cached for o in forced)


def test_key_follows_source_parameters_edition_modules_and_data(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from trialkit.stats import bayes\nx = 1")]
    base = cache.key(nb, {"a": 1}, "reader", tmp_path)
    assert cache.key(nb, {"a": 1}, "reader", tmp_path) == base
    assert cache.key(nb, {"a": 2}, "reader", tmp_path) != base
    assert cache.key(nb, {"a": 1}, "student", tmp_path) != base
    edited = nbformat.v4.new_notebook()
    edited.cells = [nbformat.v4.new_code_cell("from trialkit.stats import bayes\nx = 2")]
    assert cache.key(edited, {"a": 1}, "reader", tmp_path) != base
    used = cache.modules_used(nb)
    assert {"trialkit", "trialkit.stats", "trialkit.stats.bayes"} <= used
    assert not used & cache.PAGE_ONLY  # the site's code never invalidates results
    # data: a change of one byte in data/ changes the key
    data = tmp_path / "data"
    data.mkdir()
    (data / "ADSL.csv").write_text("USUBJID\n1\n")
    monkeypatch.setattr(cache, "DATA", data)
    before = cache.key(nb, {"a": 1}, "reader", tmp_path)
    (data / "ADSL.csv").write_text("USUBJID\n2\n")
    assert cache.key(nb, {"a": 1}, "reader", tmp_path) != before
    # an analyst's data folder given as a parameter is part of the key too
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "ADSL.csv").write_text("USUBJID\n1\n")
    before = cache.key(nb, {"data_dir": str(theirs)}, "reader", tmp_path)
    (theirs / "ADSL.csv").write_text("USUBJID\n3\n")
    assert cache.key(nb, {"data_dir": str(theirs)}, "reader", tmp_path) != before


def test_a_module_the_notebook_does_not_import_leaves_its_key(tmp_path, monkeypatch):
    """Modules are followed through imports: one outside that closure does not count."""
    package = tmp_path / "trialkit"
    (package / "stats").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "stats" / "__init__.py").write_text("")
    (package / "stats" / "bayes.py").write_text("from .results import R\n")
    (package / "stats" / "results.py").write_text("R = 1\n")
    (package / "plots.py").write_text("P = 1\n")
    monkeypatch.setattr(cache, "PACKAGE", package)
    cache._module_file.cache_clear()
    try:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("from trialkit.stats import bayes")]
        assert cache.modules_used(nb) == {
            "trialkit", "trialkit.stats", "trialkit.stats.bayes", "trialkit.stats.results"
        }  # fmt: skip
        monkeypatch.setattr(cache, "DATA", tmp_path / "no-data")
        before = cache.key(nb, {}, "reader", tmp_path)
        (package / "plots.py").write_text("P = 2\n")
        assert cache.key(nb, {}, "reader", tmp_path) == before
        (package / "stats" / "results.py").write_text("R = 2\n")
        assert cache.key(nb, {}, "reader", tmp_path) != before
    finally:
        cache._module_file.cache_clear()


def test_progress_says_when_a_long_notebook_is_still_running(tmp_path):
    stage = tmp_path / "staging" / "09_slow"
    stage.mkdir(parents=True)
    (stage / ".started").write_text(str(time.time() - 61))
    lines: list[str] = []
    with run._Ticker(tmp_path / "staging", lines.append, every=30, poll=0.05):
        time.sleep(0.5)
    assert lines == ["    still running 09_slow (60 s)"]


@pytest.mark.parametrize("edition", ["student"])
def test_student_edition_key_is_the_notebook_without_solutions(fixture_notebooks, edition):
    path = fixture_notebooks / "01_records.ipynb"
    nb = nbformat.read(path, as_version=4)
    full = cache.key(nb, {"scale": 2.0}, edition, path.parent)
    student = cache.key(run.without_solutions(nb), {"scale": 2.0}, edition, path.parent)
    assert full != student
