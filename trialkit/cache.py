"""The runner's execution cache: re-execute a notebook only when something it uses changed.

A notebook's rendering is reused when its key equals the key stored in its report
(``reports/NAME.json``, field ``cache_key``). The key is a SHA-256 over:

- the notebook as it will be executed: every cell's type, source and tags (Markdown too,
  since the executed notebook is the page), after the edition's changes (the student
  edition runs without its solutions);
- the parameters it will be given (the injected-parameters cell, as JSON) and the edition;
- the ``trialkit`` modules the notebook imports, followed through their own imports
  (``import trialkit`` reaches ``trialkit/__init__.py`` and the runner's ``record``):
  a change in ``trialkit/stats/bayes.py`` re-runs the notebooks that import it, not
  the others; page-only modules (``trialkit.site``) are left out;
- every file under ``data/``, every file of a ``data_dir`` (or other path) parameter that
  points outside it, the pinned dependencies (``pyproject.toml``) and Python's version.

So a change anywhere that can affect a result re-runs exactly the notebooks it can
affect; ``--force`` re-runs everything regardless.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
DATA = ROOT / "data"
PINS = ROOT / "pyproject.toml"
#: trialkit modules that only write pages; they never change a notebook's results.
PAGE_ONLY = frozenset({"trialkit.site", "trialkit.cache", "trialkit.__main__"})


def key(notebook: Any, parameters: Mapping[str, Any], edition: str, cwd: Path) -> str:
    """The cache key of one execution (hex SHA-256).

    ``notebook``: the nbformat notebook exactly as it will be executed; ``parameters``:
    every parameter it will be given; ``cwd``: the folder it runs in (relative path
    parameters are resolved from there).
    """
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(label.encode() + b"\0" + hashlib.sha256(data).digest())

    cells = [[c.cell_type, c.source, sorted(c.metadata.get("tags", []))] for c in notebook.cells]
    add("cells", json.dumps(cells).encode())
    add("kernel", str(notebook.metadata.get("kernelspec", {}).get("name", "")).encode())
    add("parameters", json.dumps(dict(parameters), sort_keys=True, default=repr).encode())
    add("edition", edition.encode())
    add("python", sys.version.encode())
    add("pins", PINS.read_bytes() if PINS.exists() else b"")
    for module in sorted(modules_used(notebook)):
        add(f"module {module}", _module_file(module).read_bytes())
    for path in _files(DATA):
        add(f"data {path.relative_to(DATA)}", path.read_bytes())
    for value in parameters.values():
        if isinstance(value, str) and value and len(value) < 4096:
            target = (cwd / value).resolve()
            if target.exists() and not target.is_relative_to(DATA):
                for path in _files(target):
                    add(f"param {path}", path.read_bytes())
    return h.hexdigest()


def modules_used(notebook: Any) -> set[str]:
    """The ``trialkit`` modules a notebook's code reaches, through their own imports."""
    start: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            start |= _imports(_source_without_magics(cell.source), "")
    seen: set[str] = set()
    todo = [m for m in start if m not in PAGE_ONLY]
    while todo:
        module = todo.pop()
        if module in seen or module in PAGE_ONLY:
            continue
        seen.add(module)
        todo += [m for m in _module_imports(module) if m not in seen]
    return seen


def _source_without_magics(source: str) -> str:
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.split("\n"))


def _imports(source: str, package: str) -> set[str]:
    """trialkit modules imported by ``source`` (a module of ``package``), with parents."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {"trialkit"}  # cannot tell: at least the package
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            if name == "trialkit" or name.startswith("trialkit."):
                found |= _existing_with_parents(name)
    return found


def _existing_with_parents(name: str) -> set[str]:
    """``trialkit.stats.binary`` -> {trialkit, trialkit.stats, trialkit.stats.binary};
    a name that is not a module (an attribute: ``trialkit.record``) is dropped."""
    parts = name.split(".")
    out = set()
    for i in range(1, len(parts) + 1):
        candidate = ".".join(parts[:i])
        try:
            _module_file(candidate)
        except FileNotFoundError:
            break
        out.add(candidate)
    return out


@cache
def _module_file(module: str) -> Path:
    rel = Path(*module.split(".")[1:])
    for path in (PACKAGE / rel / "__init__.py", (PACKAGE / rel).with_suffix(".py")):
        if path.is_file():
            return path
    raise FileNotFoundError(module)


def _module_imports(module: str) -> set[str]:
    path = _module_file(module)
    return _imports_of_file(module, path, path.stat().st_mtime_ns)


@cache
def _imports_of_file(module: str, path: Path, mtime_ns: int) -> frozenset[str]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    return frozenset(_imports(path.read_text(encoding="utf-8"), package))


def _files(folder: Path) -> Iterable[Path]:
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def stored_key(report: Path) -> str | None:
    """The key stored in a report json, if the report is a good one."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return None
    return data.get("cache_key") if data.get("status") == "ok" else None
