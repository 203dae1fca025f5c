"""Benchmark: rendering the collection, cold and warm, against the floor, and the site.

- cold: every notebook executed (``force=True``) into an empty folder, then the site built;
- floor: the same number of trivial notebooks importing the same libraries, through the
  same runner, executed only (no site): what no notebook content can go below; the goal
  of issue 12 is cold execution at most 2 times the floor (before: 78.6 s vs 11.0 s, 7.2x);
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


def _imports_of(notebook: Path) -> list[str]:
    """Top-level modules imported by a notebook's code cells."""
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
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found += [n for n in names if n not in found]
    return found


def _trivial_notebooks(folder: Path, like: list[Path]) -> None:
    """One trivial notebook per collection notebook, importing the same libraries."""
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
            nbformat.v4.new_code_cell("\n".join(f"import {m}" for m in _imports_of(path))),
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
        floor_nbs = Path(tmp) / "floor"
        floor_nbs.mkdir()
        _trivial_notebooks(floor_nbs, paths)
        t0 = time.perf_counter()
        runner.render(folder=floor_nbs, out=Path(tmp) / "floor-out", progress=quiet,
                      force=True, site=False)  # fmt: skip
        floor = time.perf_counter() - t0

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
    print(f"  {n} trivial notebooks (floor)          {floor:7.2f} s")
    print(f"  GOAL collection / floor <= 2: before 7.2 (78.6 s / 11.0 s), now "
          f"{executed_s / floor:.2f} ({executed_s:.1f} s / {floor:.1f} s)")  # fmt: skip
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
        "warm_s": warm,
        "warm_executed": executed,
        "ratio": cold / warm,
        "site_build_s": site_s,
    }
