"""Render notebooks into ``reports/``, and ``record`` the results a notebook wants kept.

For each notebook the runner writes, into ``reports/``:

- ``NAME.ipynb``  the executed notebook (papermill),
- ``NAME.html``   an HTML page of it (nbconvert; ``report=True`` hides the code),
- ``NAME.json``   every value the notebook recorded with ``record(key, value)``, the
  parameters used, the versions of the main packages, and the run time,

and ``index.html`` lists every notebook with its title, status, run time and parameters.

Safety: parameters are validated (``trialkit.params``) before any notebook starts. Each
notebook is executed into a staging folder and only moved into ``reports/`` when it
succeeded, so a failed or interrupted run never replaces an earlier good report; a failed
notebook is kept under ``reports/failed/`` for inspection.

Speed: papermill is imported once per run, with jsonschema's optional ``rfc3987_syntax``
import (about 1-3 s, unused by notebook validation) switched off; kernels talk over IPC
rather than TCP (no plain-text warning on every start) and are shut down at once rather
than after a graceful wait; independent notebooks run in parallel worker processes
(``jobs``, default: one per core).
"""

from __future__ import annotations

import contextlib
import difflib
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "MIME",
    "NotebookFailed",
    "Outcome",
    "collect_records",
    "notebooks",
    "record",
    "render",
]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
MIME = "application/vnd.trialkit.record+json"
VERSIONED = (
    "trialkit", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "seaborn",
    "pandera", "papermill", "nbclient", "jupyter-client", "nbconvert", "ipykernel",
)  # fmt: skip
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

#: Values recorded in this process (outside a kernel, or for inspection in one).
RECORDED: dict[str, Any] = {}


# --------------------------------------------------------------------------- record
def record(key: str, value: Any) -> None:
    """Keep ``value`` under ``key`` in this notebook's report (``reports/NAME.json``).

    Inside a kernel the value travels in the notebook's output (a display of MIME type
    ``application/vnd.trialkit.record+json`` with a one-line text version), so the
    executed notebook itself carries its results; the runner collects them. Values must
    be JSON-like: numbers, strings, booleans, None, lists/tuples, dicts with string keys,
    numpy scalars and arrays, or objects with an ``as_dict()`` method. NaN is stored as
    null and infinities as the strings "inf" / "-inf".
    """
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"record key {key!r} must be a non-empty string of letters, digits, . _ -")
    plain = _jsonable(value, key)
    RECORDED[key] = plain
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    if get_ipython() is None:
        return
    from IPython.display import display

    text = json.dumps(plain)
    if len(text) > 120:
        text = text[:117] + "..."
    display(
        {MIME: {"key": key, "value": plain}, "text/plain": f"recorded {key} = {text}"}, raw=True
    )


def _jsonable(value: Any, key: str) -> Any:
    """A JSON-ready copy of ``value``; TypeError naming ``key`` if impossible."""
    if hasattr(value, "as_dict") and callable(value.as_dict):
        value = value.as_dict()
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(value)
    type_name = type(value).__module__ + "." + type(value).__name__
    if type_name.startswith("numpy."):
        return _jsonable(value.tolist(), key)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"record {key!r}: dict keys must be strings, got {k!r}")
            out[k] = _jsonable(v, f"{key}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(v, key) for v in value]
    raise TypeError(
        f"record {key!r}: cannot store a {type_name}; record numbers, strings, lists or dicts"
    )


def collect_records(nb: Any) -> dict[str, Any]:
    """Every value recorded in an executed notebook (a nbformat NotebookNode), in order."""
    out: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME in data:
                item = data[MIME]
                out[item["key"]] = item["value"]
    return out


# --------------------------------------------------------------------------- discovery
def notebooks(only: Sequence[str] | None = None, folder: Path = NOTEBOOKS) -> list[Path]:
    """The collection's notebooks in teaching order, or those named in ``only``.

    A name matches a notebook's file name, its stem, or its number prefix ("02").
    """
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    chosen = []
    for name in only:
        stem = Path(name).name.removesuffix(".ipynb")
        hits = [p for p in found if p.stem == stem or p.stem.split("_", 1)[0] == stem]
        if not hits:
            raise ValueError(
                f"no notebook named {name!r} in {folder}; available: "
                + ", ".join(p.stem for p in found)
            )
        chosen += [p for p in hits if p not in chosen]
    return chosen


def title_of(nb: Any) -> str:
    """The first Markdown heading of a notebook, or an empty string."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


# --------------------------------------------------------------------------- render
class NotebookFailed(RuntimeError):
    """A notebook raised while executing; the message names the notebook, cell and error."""


@dataclass
class Outcome:
    """What happened to one notebook in a run."""

    name: str
    ok: bool
    seconds: float
    message: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


def plan(
    paths: Sequence[Path],
    typed: Mapping[str, Any] | None = None,
    text: Mapping[str, str] | None = None,
) -> dict[Path, dict[str, Any]]:
    """Validate parameters for each notebook before anything executes.

    ``typed`` values (Python or YAML) are used as they are; ``text`` values (from the
    command line) are converted to each parameter's declared type and win over ``typed``.
    A parameter applies to every chosen notebook that declares it; one that none of them
    declares is an error. Returns, per notebook, the full parameter set. Raises one
    ParameterError listing every problem.
    """
    from trialkit import params

    typed, text = dict(typed or {}), dict(text or {})
    full: dict[Path, dict[str, Any]] = {}
    problems = []
    used: set[str] = set()
    for path in paths:
        spec = params.SPECS.get(path.stem, {})
        mine = {}
        for name in {**typed, **text}:
            if name not in spec:
                continue
            used.add(name)
            try:
                mine[name] = (
                    params.coerce(path.stem, name, text[name]) if name in text else typed[name]
                )
            except params.ParameterError as e:
                problems.append(str(e))
        try:
            full[path] = params.validate(path.stem, mine)
        except params.ParameterError as e:
            problems.append(str(e))
    known = sorted({n for p in paths for n in params.SPECS.get(p.stem, {})})
    for name in {**typed, **text}:
        if name not in used:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            takes = "; ".join(
                f"{p.stem}: {', '.join(params.SPECS.get(p.stem, {})) or 'none'}" for p in paths
            )
            problems.append(
                f"unknown parameter {name!r}{hint}: no chosen notebook takes it ({takes})"
            )
    if problems:
        raise params.ParameterError("\n".join(problems))
    return full


def _import_papermill() -> Any:
    """Import papermill once, skipping jsonschema's slow optional IRI-syntax checker.

    jsonschema imports ``rfc3987_syntax`` (a lark grammar, ~1-3 s) if it is installed, to
    check the "iri" string format, which no notebook schema uses. Marking the module as
    absent makes jsonschema fall back to its default, so nothing is lost.
    """
    if "papermill" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugger warning in kernels
    import papermill

    return papermill


def _execute(path: Path, parameters: dict[str, Any], stage: Path, report: bool) -> Outcome:
    """Execute one notebook into ``stage`` (ipynb, html, json). Never touches reports/."""
    import nbformat

    pm = _import_papermill()
    name = path.stem
    out_nb = stage / f"{name}.ipynb"
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    ok, message = True, ""
    try:
        pm.execute_notebook(
            str(path), str(out_nb), parameters=parameters, kernel_name="python3",
            progress_bar=False, request_save_on_cell_execute=False, cwd=str(path.parent),
            kernel_manager_class=_ipc_kernel_manager(), shutdown_kernel="immediate",
        )  # fmt: skip
    except pm.PapermillExecutionError as e:
        ok = False
        message = _describe_failure(name, path, out_nb, e)
    seconds = time.perf_counter() - t0
    nb = nbformat.read(out_nb, as_version=4)
    _write_html(nb, stage / f"{name}.html", report=report)
    summary = {
        "notebook": name,
        "title": title_of(nb),
        "status": "ok" if ok else "failed",
        "message": message,
        "parameters": parameters,
        "records": collect_records(nb),
        "versions": versions(),
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "report_mode": report,
    }
    (stage / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return Outcome(name, ok, seconds, message, parameters)


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to its kernel over IPC sockets in a short temp folder.

    IPC avoids the kernel's "running over TCP without encryption" warning at every start;
    the folder is short because a socket path must stay under ~100 bytes.
    """
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)
            self._folder = tempfile.mkdtemp(prefix="tk-")
            self.connection_file = os.path.join(self._folder, "kernel.json")

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart)
            if not restart:
                shutil.rmtree(self._folder, ignore_errors=True)

    return IPCKernelManager


def _describe_failure(name: str, source: Path, out_nb: Path, e: Any) -> str:
    """'NAME: cell N (In [k]: first line) raised Error: message', N counted in the source."""
    import nbformat

    where = "a cell"
    with contextlib.suppress(Exception):
        executed = nbformat.read(out_nb, as_version=4).cells
        bad = next(
            c for c in executed if any(o.output_type == "error" for o in c.get("outputs", []))
        )
        ids = [c.get("id") for c in nbformat.read(source, as_version=4).cells]
        number = ids.index(bad.get("id")) + 1 if bad.get("id") in ids else "?"
        first = next((ln.strip() for ln in bad.source.splitlines() if ln.strip()), "")
        where = f"cell {number} (In [{e.exec_count}]: {first[:60]})"
    return f"{name}: {where} raised {e.ename}: {e.evalue}"


def _write_html(nb: Any, target: Path, report: bool) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", exclude_input=report, exclude_input_prompt=report)
    body, _ = exporter.from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


def versions() -> dict[str, str]:
    """Versions of Python and the main packages, for the record of a run."""
    out = {"python": sys.version.split()[0]}
    for dist in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def _worker(args: tuple[Path, dict[str, Any], Path, bool]) -> Outcome:
    path, parameters, stage, report = args
    try:
        return _execute(path, parameters, stage, report)
    except Exception as e:  # kernel died, notebook unreadable ...: report, don't crash the run
        return Outcome(path.stem, False, 0.0, f"{path.stem}: {type(e).__name__}: {e}", parameters)


def render(
    only: Sequence[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    text_parameters: Mapping[str, str] | None = None,
    out: Path = REPORTS,
    report: bool = False,
    jobs: int | None = None,
    folder: Path = NOTEBOOKS,
    progress: Any = None,
) -> list[Outcome]:
    """Render notebooks into ``out``; return one Outcome per notebook, in teaching order.

    ``parameters`` are typed values; ``text_parameters`` are command-line strings converted
    to each parameter's declared type (see ``plan``). Raises ParameterError (before
    executing anything) for a bad parameter and ValueError
    for an unknown notebook name. A failing notebook does not stop the others; its
    earlier good report in ``out`` is left in place and the failed execution is kept in
    ``out/failed/``. ``progress`` (default: print to stderr) receives one line per event.
    """
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    out, folder = Path(out).resolve(), Path(folder).resolve()
    paths = notebooks(only, folder)
    if not paths:
        raise ValueError(f"no notebooks (NN_name.ipynb) found in {folder}")
    full = plan(paths, parameters, text_parameters)
    out.mkdir(parents=True, exist_ok=True)
    _import_papermill()  # once, in the parent; forked workers inherit it
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    tasks = []
    for path in paths:
        stage = staging / path.stem
        stage.mkdir()
        tasks.append((path, full[path], stage, report))
    outcomes: dict[str, Outcome] = {}
    total = len(tasks)
    say(f"rendering {total} notebook{'s' * (total != 1)} into {out} ({jobs} at a time)")
    try:
        for done, outcome in enumerate(_run_all(tasks, jobs), start=1):
            _publish(staging / outcome.name, out, outcome)
            outcomes[outcome.name] = outcome
            status = "ok" if outcome.ok else "FAILED"
            say(f"[{done}/{total}] {outcome.name:<40} {status:>6} {outcome.seconds:6.1f} s")
            if not outcome.ok:
                say(f"    {outcome.message}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        write_index(out, folder, {n: o for n, o in outcomes.items()})
    return [outcomes[p.stem] for p in paths]


def _run_all(tasks: list, jobs: int) -> Iterable[Outcome]:
    if jobs == 1:
        yield from map(_worker, tasks)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
        futures = [pool.submit(_worker, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()


def _publish(stage: Path, out: Path, outcome: Outcome) -> None:
    """Move a staged result into place: success into ``out``, failure into ``out/failed``."""
    target = out if outcome.ok else out / "failed"
    target.mkdir(exist_ok=True)
    # json last: a report counts as present once its json is there
    for suffix in (".ipynb", ".html", ".json"):
        src = stage / f"{outcome.name}{suffix}"
        if src.exists():
            os.replace(src, target / src.name)
    if outcome.ok:
        for stale in (out / "failed").glob(f"{outcome.name}.*"):
            stale.unlink()


# --------------------------------------------------------------------------- index
def write_index(
    out: Path, folder: Path = NOTEBOOKS, this_run: Mapping[str, Outcome] | None = None
) -> Path:
    """Write ``out/index.html``: every notebook, its title, status, run time, parameters."""
    this_run = this_run or {}
    rows = []
    for path in notebooks(folder=folder):
        name = path.stem
        good = _read_json(out / f"{name}.json")
        failed = this_run.get(name) if name in this_run and not this_run[name].ok else None
        title = (good or {}).get("title") or name
        if failed:
            status = "failed in this run" + (" (showing the last good report)" if good else "")
            cls = "failed"
        elif good:
            status, cls = "ok", "ok"
        else:
            status, cls = "not rendered", "missing"
        link = f'<a href="{name}.html">{html.escape(title)}</a>' if good else html.escape(title)
        if failed:
            link += f' &middot; <a href="failed/{name}.html">failed run</a>'
        params = ", ".join(f"{k}={v!r}" for k, v in (good or {}).get("parameters", {}).items())
        when = (good or {}).get("started", "")
        secs = f"{good['seconds']:.1f} s" if good else ""
        rows.append(
            f'<tr class="{cls}"><td>{html.escape(name)}</td><td>{link}</td>'
            f"<td>{html.escape(status)}</td><td>{secs}</td><td>{html.escape(when)}</td>"
            f"<td><code>{html.escape(params)}</code></td></tr>"
        )
    page = _INDEX.format(
        rows="\n".join(rows), generated=datetime.now(UTC).isoformat(timespec="seconds")
    )
    target = out / "index.html"
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Zang et al. 2022 re-analysis: notebooks</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd;
          vertical-align: top; }}
tr.failed td {{ background: #fde8e8; }} tr.missing td {{ color: #888; }}
code {{ font-size: .85em; }}
</style></head><body>
<h1>UC-MSCs in type 2 diabetes (Zang et al. 2022): the notebooks</h1>
<p>A teaching and re-analysis collection. Patient-level data are not public: analyses of
patients use clearly labelled <strong>synthetic</strong> data.</p>
<table><thead><tr><th>notebook</th><th>title</th><th>status</th><th>run time</th>
<th>rendered (UTC)</th><th>parameters</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p><small>Index written {generated} UTC by <code>python -m trialkit run</code>.</small></p>
</body></html>
"""
