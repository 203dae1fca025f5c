"""Benchmark: rendering the collection, cold and warm, against the floor, and the site.

- cold: every notebook executed (``force=True``) into an empty folder, then the site built;
- floor: the same number of trivial notebooks, each with its notebook's parameters and
  import statements (as written), through the same runner, executed only (no site): what
  no notebook content can go below; the goal of issue 12 is cold execution at most 2 times
  the floor (before: 78.6 s vs 11.0 s, 7.2x). The floor of the issue imported top-level
  packages only (``import scipy`` for ``from scipy import stats``); it is measured too and
  its ratio printed beside, so the two can be told apart;
- warm: the same call again with nothing changed: the cache reuses every execution and
  the site build is skipped (its sources are unchanged);
- site: a full Sphinx build of the same site from scratch (its stamp removed), alone.

``BENCH_ONLY="02 05"`` limits the run to some notebooks (a quick check of the bench).
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
import time
from pathlib import Path


def _imports_of(notebook: Path, *, packages_only: bool = False) -> list[str]:
    """The import statements of a notebook's code cells, as written.

    ``packages_only``: the floor as measured before (and in the issue): ``import scipy`` for
    ``from scipy import stats``, ``import trialkit`` for ``from trialkit import plots``; that
    leaves out the submodules the statements load (scipy.stats, trialkit.plots ...), which no
    notebook content can avoid either.
    """
    import nbformat

    found: list[str] = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or getattr(node, "level", 0):
                continue
            if packages_only:
                imported = isinstance(node, ast.Import)
                lines = [f"import {n}" for n in ([a.name for a in node.names] if imported
                                                 else [node.module])]  # fmt: skip
            else:
                lines = [ast.unparse(node)]
            found += [line for line in lines if line not in found]
    return found


def _trivial_notebooks(folder: Path, like: list[Path], *, packages_only: bool = False) -> None:
    """One trivial notebook per collection notebook: its parameters and its imports."""
    import nbformat

    from trialkit import params

    for path in like:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell(
            "\n".join(f"{k} = {v!r}" for k, v in params.defaults(path.stem).items())
        )
        cell.metadata["tags"] = ["parameters"]
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"# floor for {path.stem}"),
            cell,
            nbformat.v4.new_code_cell("\n".join(_imports_of(path, packages_only=packages_only))),
        ]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, folder / path.name)


def run() -> dict:
    """Time a cold render, a warm re-render and a site build; print them and the ratio."""
    from trialkit import run as runner
    from trialkit import site

    only = os.environ.get("BENCH_ONLY", "").split() or None
    paths = runner.notebooks(only)
    quiet = lambda line: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reports"
        # warm-up, untimed: the runner's first render in a process pays one-time costs
        # (importing papermill, first kernel start, cold file caches) that would otherwise
        # go to whichever render is timed first
        warm_up = Path(tmp) / "warm-up"
        warm_up.mkdir()
        _trivial_notebooks(warm_up, paths[:2])
        runner.render(folder=warm_up, out=warm_up / "out", progress=quiet, force=True, site=False)
        floors = {}
        for packages_only in (False, True):
            folder = Path(tmp) / f"floor-{packages_only}"
            folder.mkdir()
            _trivial_notebooks(folder, paths, packages_only=packages_only)
            t0 = time.perf_counter()
            runner.render(folder=folder, out=folder / "out", progress=quiet, force=True,
                          site=False)  # fmt: skip
            floors[packages_only] = time.perf_counter() - t0
        floor, floor_packages = floors[False], floors[True]

        t0 = time.perf_counter()
        outcomes = runner.render(only=only, out=out, progress=quiet, force=True, site=False)
        executed_s = time.perf_counter() - t0
        assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]
        t0 = time.perf_counter()
        site.build(out, progress=quiet)
        cold = executed_s + time.perf_counter() - t0

        t0 = time.perf_counter()
        again = runner.render(only=only, out=out, progress=quiet)
        warm = time.perf_counter() - t0
        executed = sum(not o.cached for o in again)

        shutil.rmtree(out / ".site" / "html", ignore_errors=True)
        shutil.rmtree(out / ".site" / "doctrees", ignore_errors=True)
        (out / ".site" / "built").unlink(missing_ok=True)
        site_s = site.build(out, progress=quiet)

    n = len(paths)
    print(f"render: {n} notebooks, {os.cpu_count()} cores")
    print(f"  execution of the collection           {executed_s:7.2f} s")
    print(f"  {n} trivial notebooks (floor)          {floor:7.2f} s  (their import statements)")
    print(f"  the same, top-level packages only     {floor_packages:7.2f} s  (the issue's floor)")
    verdict = lambda r: "met" if r <= 2 else "NOT met"  # noqa: E731
    r, r_issue = executed_s / floor, executed_s / floor_packages
    print(f"  GOAL collection / floor <= 2: before 7.2 (78.6 s / 11.0 s), now "
          f"{r:.2f} ({executed_s:.1f} s / {floor:.1f} s): {verdict(r)}; against the "
          f"issue's floor {r_issue:.2f}: {verdict(r_issue)}")  # fmt: skip
    print(f"  cold render (execute all + site)      {cold:7.2f} s")
    print(f"  warm re-render (nothing changed)      {warm:7.2f} s  ({executed} executed)")
    print(f"  ratio cold / warm                     {cold / warm:7.1f} x")
    print(f"  site build alone (Sphinx, from zero)  {site_s:7.2f} s")
    return {
        "notebooks": n,
        "cold_s": cold,
        "executed_s": executed_s,
        "floor_s": floor,
        "ratio_floor": executed_s / floor,
        "floor_packages_s": floor_packages,
        "ratio_floor_packages": executed_s / floor_packages,
        "warm_s": warm,
        "warm_executed": executed,
        "ratio": cold / warm,
        "site_build_s": site_s,
    }
