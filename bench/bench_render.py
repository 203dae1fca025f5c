"""Benchmark: rendering the collection.

The collection through trialkit's runner vs the floor (the same number of trivial
notebooks importing the same libraries, same runner), and vs plain papermill + nbconvert
commands, one process per notebook and step.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
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
    """The collection vs the same number of trivial notebooks importing the same libraries,
    both through trialkit's runner; and the collection through plain papermill + nbconvert
    commands, one process per notebook (what a Makefile would do without the runner)."""
    from trialkit import run

    paths = run.notebooks()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        floor_nbs = tmp / "floor"
        floor_nbs.mkdir()
        _trivial_notebooks(floor_nbs, paths)
        quiet = lambda line: None  # noqa: E731

        t0 = time.perf_counter()
        outcomes = run.render(out=tmp / "collection", progress=quiet)
        collection = time.perf_counter() - t0
        assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]

        t0 = time.perf_counter()
        run.render(folder=floor_nbs, out=tmp / "floor-out", progress=quiet)
        floor = time.perf_counter() - t0

        t0 = time.perf_counter()
        bindir = Path(sys.executable).parent
        for path in paths:
            out = tmp / "plain" / path.name
            out.parent.mkdir(exist_ok=True)
            subprocess.run(
                [bindir / "papermill", str(path), str(out), "--cwd", str(path.parent)],
                check=True, capture_output=True,
            )  # fmt: skip
            subprocess.run(
                [bindir / "jupyter", "nbconvert", "--to", "html", str(out)],
                check=True, capture_output=True,
            )  # fmt: skip
        plain = time.perf_counter() - t0

    n = len(paths)
    print(f"render: {n} notebooks, {os.cpu_count()} cores")
    print(f"  collection with trialkit.run          {collection:7.2f} s")
    print(f"  {n} trivial notebooks (floor)          {floor:7.2f} s")
    print(f"  ratio collection / floor              {collection / floor:7.2f}")
    print(f"  collection with papermill+nbconvert   {plain:7.2f} s  (one process per step)")
    print(f"  speed-up of trialkit.run over that    {plain / collection:7.2f} x")
    return {"notebooks": n, "collection_s": collection, "floor_s": floor, "plain_cli_s": plain}
