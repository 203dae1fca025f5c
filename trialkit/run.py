"""Render notebooks into ``reports/``, and ``record`` the results a notebook wants kept.

For each notebook the runner writes, into ``reports/``:

- ``NAME.ipynb``  the executed notebook (papermill),
- ``NAME.json``   every value the notebook recorded with ``record(key, value)``, the
  parameters used, the versions of the main packages, the run time and the cache key,
- ``thumbs/NAME.png`` its key figure, small;

then ``trialkit.site`` builds the site from them: ``NAME.html`` per notebook and
``index.html``, the landing page (Sphinx + myst-nb; nothing is executed again).

Cache: a notebook is executed only when something it uses changed since its report was
written (``trialkit.cache``: its source, parameters, edition, the trialkit modules it
imports, ``data/``, the pins); ``force=True`` (``--force``) executes it regardless.

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
#: The environment variable naming the JSON-lines file ``record`` appends to.
RECORDS_ENV = "TRIALKIT_RECORDS"


# --------------------------------------------------------------------------- record
def record(key: str, value: Any) -> None:
    """Keep ``value`` under ``key`` in this notebook's report (``reports/NAME.json``).

    Shows nothing on the page. Under the runner the value is appended, as one JSON line,
    to the file named by the environment variable ``TRIALKIT_RECORDS`` (set per notebook);
    the runner collects them into the report. Anywhere (JupyterLab, plain papermill) the
    value is also kept in ``RECORDED`` for inspection. Values must be JSON-like: numbers,
    strings, booleans, None, lists/tuples, dicts with string keys, numpy scalars and arrays,
    or objects with an ``as_dict()`` method. NaN is stored as null and infinities as the
    strings "inf" / "-inf".
    """
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"record key {key!r} must be a non-empty string of letters, digits, . _ -")
    plain = _jsonable(value, key)
    RECORDED[key] = plain
    target = os.environ.get(RECORDS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "value": plain}) + "\n")


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


def collect_records(nb: Any, lines: Path | None = None) -> dict[str, Any]:
    """Every value recorded by an executed notebook, in order: from the JSON-lines file
    ``lines`` the runner gave the kernel (``TRIALKIT_RECORDS``), and from any record
    outputs left in the notebook ``nb`` by older versions."""
    out: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME in data:
                item = data[MIME]
                out[item["key"]] = item["value"]
    if lines is not None and lines.exists():
        for line in lines.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                out[item["key"]] = item["value"]
    return out


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


def description_of(nb: Any, limit: int = 240) -> str:
    """A one-line description: the first plain paragraph of the first Markdown cell.

    Headings, lists, tables, a one-line italic subtitle and bold-led paragraphs
    ("**Learning objectives.**") are skipped.
    """
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    for para in (first.source if first else "").split("\n\n"):
        text = " ".join(para.split())
        if not text or text.startswith(("#", "|", "-", "**", "1.")):
            continue
        if text.startswith("*") and text.endswith("*"):
            continue
        text = re.sub(r"[*_`]", "", text)
        return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0] + "..."
    return ""


def _time_of(nb: Any) -> str:
    """What the notebook says it takes ("**Time:** about 60 minutes")."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.search(r"\*\*Time:\*\*\s*([^.*\n]+)", cell.source)
            if found:
                return found.group(1).strip()
    return ""


# --------------------------------------------------------------------------- render
@dataclass
class Outcome:
    """What happened to one notebook in a run."""

    name: str
    ok: bool
    seconds: float
    message: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    cached: bool = False  # not executed: the earlier rendering is up to date


def plan(
    paths: Sequence[Path],
    typed: Mapping[str, Any] | None = None,
    text: Mapping[str, str] | None = None,
    *,
    allow_long: bool = False,
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
            full[path] = params.validate(path.stem, mine, allow_long=allow_long or None)
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


@dataclass(frozen=True)
class _Job:
    """One notebook to execute into its staging folder."""

    path: Path
    parameters: dict[str, Any]
    stage: Path
    report: bool
    edition: str
    env: dict[str, str]  # added to the kernel's environment
    key: str = ""  # the execution cache's key (trialkit.cache), stored in the report


_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _execute(job: _Job) -> Outcome:
    """Execute one notebook into ``job.stage`` (ipynb, html, json, thumbnail).

    Never touches the reports folder: ``_publish`` moves the results there.
    """
    import nbformat

    pm = _import_papermill()
    name = job.path.stem
    out_nb = job.stage / f"{name}.ipynb"
    (job.stage / ".started").write_text(str(time.time()))  # for "still running" lines
    source = nbformat.read(job.path, as_version=4)
    if job.edition == "student":
        source = without_solutions(source)
        nbformat.write(source, job.stage / "student.ipynb")
    records = job.stage / f"{name}.records.jsonl"
    records.unlink(missing_ok=True)
    # records travel in a side file (nothing on the page); no progress bars in outputs
    kernel_env = {**job.env, RECORDS_ENV: str(records), "TQDM_DISABLE": "1"}
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    ok, message, executed = True, "", None
    try:
        executed = pm.execute_notebook(
            source, str(out_nb), parameters=job.parameters, kernel_name="python3",
            progress_bar=False, request_save_on_cell_execute=False, cwd=str(job.path.parent),
            kernel_manager_class=_ipc_kernel_manager(kernel_env), shutdown_kernel="immediate",
            start_timeout=300,  # a kernel starts in ~1 s, but a loaded shared machine is slow
        )  # fmt: skip
    except pm.PapermillExecutionError as e:
        ok = False
        message = _describe_failure(name, source, out_nb, e)
    except Exception as e:  # the kernel died (os._exit, a crash, out of memory) or hung up
        ok = False
        message = _describe_death(name, source, out_nb, e)
    seconds = time.perf_counter() - t0
    if not out_nb.exists():  # the kernel died and nothing was saved: keep the notebook
        nbformat.write(_with_death_note(source, message), out_nb)
    # papermill returns the notebook it wrote; read the file only when it raised
    nb = executed if executed is not None else nbformat.read(out_nb, as_version=4)
    thumbnail = _write_thumbnail(nb, job.stage / f"{name}.png")
    summary = {
        "notebook": name,
        "title": title_of(nb),
        "description": description_of(nb),
        "time": _time_of(nb),
        "status": "ok" if ok else "failed",
        "message": message,
        "parameters": job.parameters,
        "records": collect_records(nb, records),
        "versions": versions(),
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "edition": job.edition,
        "report_mode": job.report,
        "thumbnail": thumbnail,
        "cache_key": job.key,
    }
    (job.stage / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    records.unlink(missing_ok=True)
    return Outcome(name, ok, seconds, message, job.parameters)


EDITIONS = ("reader", "student", "instructor")


def without_solutions(nb: Any) -> Any:
    """A copy of a notebook without its solutions (the student edition and ``make lab``).

    Removed: every cell tagged "solution" (code or Markdown: the convention is that all
    solution content sits in such cells), and, from notebooks written before that
    convention, an untagged Markdown cell that starts with "**Solution" (a prompt whose
    solution is gone, or a solution written in prose).
    """
    import copy

    clean = copy.deepcopy(nb)
    clean.cells = [
        c
        for c in clean.cells
        if "solution" not in c.metadata.get("tags", [])
        and not (c.cell_type == "markdown" and _SOLUTION_PROMPT.match(c.source))
    ]
    return clean


_SOLUTION_PROMPT = re.compile(r"\s*(\*\*|__)?Solution\b", re.I)


#: Run at the start of every kernel the runner starts (``trialkit.kernel.setup``): garbage
#: collection frozen after each cell, warnings shown as notes for the reader, stdout and
#: stderr flushed only when written. Leaves no name in the notebook's namespace.
_KERNEL_SETUP = "--IPKernelApp.exec_lines=__import__('trialkit.kernel').kernel.setup()"

#: The rest of a runner kernel's command line:
#: - no input history: a report's kernel has no use for it, and two kernels side by side
#:   wrote every cell into the same SQLite file (the user's ``~/.ipython``);
#: - no half-millisecond pause before each cell's reply (ipykernel's ``_execute_sleep``, a
#:   mitigation for front ends that stop reading at the reply; papermill reads every output
#:   up to the kernel's "idle", which comes after them). Both measured on a trivial cell:
#:   6.4 against 7.6 ms a cell (median of 250), over the collection's ~480 code cells.
_KERNEL_OPTIONS = (
    _KERNEL_SETUP,
    "--HistoryManager.enabled=False",
    "--Kernel._execute_sleep=0",
)


def _ipc_kernel_manager(env: Mapping[str, str] | None = None) -> type:
    """A kernel manager that talks to its kernel over IPC sockets in a short temp folder,
    and starts it with ``env`` added to this process's environment (and
    ``_KERNEL_OPTIONS`` on its command line).

    IPC avoids the kernel's "running over TCP without encryption" warning at every start;
    the folder is short because a socket path must stay under ~100 bytes.
    """
    extra = dict(env or {})
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)
            self._folder = tempfile.mkdtemp(prefix=f"tk-{_RUN_PID or os.getpid()}-")
            self.connection_file = os.path.join(self._folder, "kernel.json")

        async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
            kw["env"] = {**(kw.get("env") or os.environ), **extra}
            kw["extra_arguments"] = [*kw.get("extra_arguments", []), *_KERNEL_OPTIONS]
            return await super()._async_pre_start_kernel(**kw)

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart)
            if not restart:
                shutil.rmtree(self._folder, ignore_errors=True)

    return IPCKernelManager


def _describe_failure(name: str, source: Any, out_nb: Path, e: Any) -> str:
    """'NAME: cell N (In [k]: first line) raised Error: message', N counted in the source."""
    import nbformat

    where = "a cell"
    with contextlib.suppress(Exception):
        executed = nbformat.read(out_nb, as_version=4).cells
        bad = next(
            c for c in executed if any(o.output_type == "error" for o in c.get("outputs", []))
        )
        ids = [c.get("id") for c in source.cells]
        number = ids.index(bad.get("id")) + 1 if bad.get("id") in ids else "?"
        first = next((ln.strip() for ln in bad.source.splitlines() if ln.strip()), "")
        where = f"cell {number} (In [{e.exec_count}]: {first[:60]})"
    return f"{name}: {where} raised {e.ename}: {e.evalue}"


def _dead_cell(e: BaseException) -> Any:
    """The cell papermill was executing when ``e`` was raised (from the traceback), or None."""
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "papermill_execute_cells":
            return tb.tb_frame.f_locals.get("cell")
        tb = tb.tb_next
    return None


def _describe_death(name: str, source: Any, out_nb: Path, e: BaseException) -> str:
    """'NAME: the kernel died in cell N (first line): DeadKernelError: ...'."""
    where = "outside a cell"
    with contextlib.suppress(Exception):
        cell = _dead_cell(e)
        if cell is not None:
            ids = [c.get("id") for c in source.cells]
            number = ids.index(cell.get("id")) + 1 if cell.get("id") in ids else "?"
            first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            where = f"in cell {number} ({first[:60]})"
    text = " ".join(str(e).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return (
        f"{name}: the kernel died {where}: {type(e).__name__}: {text} (the process running "
        "the notebook ended: a crash, os._exit, a kill, or too little memory)"
    )


def _with_death_note(source: Any, message: str) -> Any:
    """A copy of the notebook with ``message`` as a first Markdown cell (for failed/)."""
    import copy

    import nbformat

    nb = copy.deepcopy(source)
    note = f"**This run failed.** {html.escape(message)}"
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(note))
    return nb


def _write_thumbnail(nb: Any, target: Path, width: int = 360) -> bool:
    """Save the notebook's key figure, small: the cell tagged "thumbnail", else the first."""
    import base64
    import io

    from PIL import Image

    images = [
        (("thumbnail" in c.metadata.get("tags", [])), o["data"]["image/png"])
        for c in nb.cells
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    if not images:
        return False
    png = next((img for tagged, img in images if tagged), images[0][1])
    with Image.open(io.BytesIO(base64.b64decode(png))) as img:
        img.thumbnail((width, width))
        img.save(target, format="PNG", optimize=True)
    return True


def versions() -> dict[str, str]:
    """Versions of Python and the main packages, for the record of a run."""
    out = {"python": sys.version.split()[0]}
    for dist in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def _worker(job: _Job) -> Outcome:
    try:
        return _execute(job)
    except Exception as e:  # kernel died, notebook unreadable ...: report, don't crash the run
        name = job.path.stem
        return Outcome(name, False, 0.0, f"{name}: {type(e).__name__}: {e}", job.parameters)


def render(
    only: Sequence[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    text_parameters: Mapping[str, str] | None = None,
    out: Path = REPORTS,
    report: bool = False,
    jobs: int | None = None,
    folder: Path = NOTEBOOKS,
    progress: Any = None,
    edition: str = "reader",
    allow_long: bool = False,
    force: bool = False,
    site: bool = True,
) -> list[Outcome]:
    """Render notebooks into ``out``; return one Outcome per notebook, in teaching order.

    ``parameters`` are typed values; ``text_parameters`` are command-line strings converted
    to each parameter's declared type (see ``plan``). ``edition``: "reader" (solutions
    present, collapsed), "instructor" (solutions open) or "student" (solutions removed
    before running; clean student copies of the notebooks are written to
    ``out/notebooks/``, ready to hand out). ``report`` hides the code in the pages.

    Raises ParameterError (before executing anything) for a bad parameter and ValueError
    for an unknown notebook name or edition. A failing notebook does not stop the others;
    its earlier good report in ``out`` is left in place and the failed execution is kept
    in ``out/failed/``. ``progress`` (default: print to stderr) receives one line per event,
    and a "still running NAME (60 s)" line while a long notebook runs.

    Cache: a notebook whose key (``trialkit.cache.key``: its source, parameters, edition,
    the trialkit modules it imports, ``data/``, the pins) equals the key of its report in
    ``out`` is not executed again; ``force`` executes every chosen notebook regardless.

    Site: then ``trialkit.site.build`` makes the pages (Sphinx, from the executed
    notebooks in ``out``); ``site=False`` skips it.

    Run time: each notebook's time is estimated from its parameters
    (``params.estimate_seconds``) and printed; a notebook estimated above
    ``params.LONG_RUN_SECONDS`` is refused (ParameterError) unless ``allow_long``.

    Stopping: SIGTERM or SIGINT (Ctrl-C) stops the whole run at once: every worker
    process and kernel is ended, the staging folder removed, nothing partial published
    (reports finished before the signal stay), and KeyboardInterrupt is raised. A
    staging folder left by a run that was killed outright (SIGKILL) is removed by the
    next run. A notebook whose kernel dies is a failure kept under ``out/failed/``.
    """
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {', '.join(EDITIONS)}, got {edition!r}")
    out, folder = Path(out).resolve(), Path(folder).resolve()
    paths = notebooks(only, folder)
    if not paths:
        raise ValueError(f"no notebooks (NN_name.ipynb) found in {folder}")
    full = plan(paths, parameters, text_parameters, allow_long=allow_long)
    out.mkdir(parents=True, exist_ok=True)
    keys, cached = _cache_keys(paths, full, edition, out, force)
    _remove_stale_staging(out)
    _import_papermill()  # once, in the parent; forked workers inherit it
    _compile_trialkit()
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    # one BLAS thread per kernel, even for one notebook: the collection's matrices are
    # small (visits x visits, 91 patients), where threads cost more than they give, and
    # kernels side by side with a thread per core each made small solves 50-100x slower
    # here (a GEE cell of notebook 06: 0.99 s against 0.19 s); the user's setting wins
    threads = {v: os.environ.get(v, "1") for v in _BLAS_THREADS}
    if allow_long:  # the notebook's own params.check honours the runner's permission
        from trialkit.params import ALLOW_LONG_ENV

        threads[ALLOW_LONG_ENV] = "1"
    global _RUN_PID
    _RUN_PID = os.getpid()
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=out))
    try:
        threads.update(_validated_once(paths, full, cached, staging))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    tasks = []
    outcomes: dict[str, Outcome] = {}
    for path in paths:
        if path in cached:
            outcomes[path.stem] = cached[path]
            continue
        (staging / path.stem).mkdir()
        tasks.append(
            _Job(path, full[path], staging / path.stem, report, edition, threads, keys[path])
        )
    total = len(tasks)
    # longest first (the estimates of params.estimate_seconds): the last notebooks to start
    # are then the short ones, and the cores finish close together instead of one of them
    # running a long notebook alone at the end; the outcomes keep the order asked for
    from trialkit.params import estimate_seconds

    tasks.sort(key=lambda t: -estimate_seconds(t.path.stem, t.parameters))
    say(_cache_line(paths, cached, edition, out))
    if tasks:
        say(f"rendering {total} notebook{'s' * (total != 1)} ({edition} edition) into {out}, "
            f"{min(jobs, total)} at a time")  # fmt: skip
        say(_estimate_line({p: full[p] for p in paths if p not in cached}, jobs))
    for line in _data_warnings(full):
        say(f"data warning: {line}")
    ticker = _Ticker(staging, say)
    try:
        with _stop_on_signals(), ticker:
            for done, outcome in enumerate(_run_all(tasks, jobs), start=1):
                _publish(staging / outcome.name, out, outcome)
                outcomes[outcome.name] = outcome
                status = "ok" if outcome.ok else "FAILED"
                say(f"[{done}/{total}] {outcome.name:<40} {status:>6} {outcome.seconds:6.1f} s")
                if not outcome.ok:
                    say(f"    {outcome.message}")
    except BaseException:
        _end_children()  # workers and kernels first, so nothing writes into staging
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_kernel_folders()
    if site:
        from trialkit import site as pages

        with _stop_on_signals():  # SIGTERM/SIGINT end Sphinx too; pages are moved in at the end
            seconds = pages.build(out, folder, edition, outcomes, report=report, progress=say)
        say(f"site: {out / 'index.html'} ({seconds:.1f} s)")
    return [outcomes[p.stem] for p in paths]


def _compile_trialkit() -> None:
    """Write trialkit's bytecode (``__pycache__``, git-ignored) for the modules whose
    source changed since, so that no kernel compiles trialkit from source.

    Python writes it at the first import anyway, unless ``PYTHONDONTWRITEBYTECODE`` is set
    (as on the machine of issue 12's measurements): then every kernel compiled trialkit
    again, about 70-100 ms each. Installed libraries got theirs from pip; an editable
    install of trialkit does not. Quick when nothing changed (file dates only)."""
    import compileall

    with contextlib.suppress(OSError):  # a read-only checkout: kernels compile, as before
        compileall.compile_dir(Path(__file__).resolve().parent, quiet=2)


def _validated_once(
    paths: Sequence[Path],
    full: Mapping[Path, Mapping[str, Any]],
    cached: Mapping[Path, Any],
    staging: Path,
) -> dict[str, str]:
    """Validate each data folder the notebooks to execute will read, once, for all of them.

    Every notebook with a ``data_dir`` reads its folder with ``trialkit.schema.read``, which
    validated it in each kernel (about 0.4 s with importing pandera, in 7 notebooks, for
    the same files). Here the runner validates each folder once and leaves the result in
    the staging folder (``schema.write_snapshot``); a kernel given its path uses it while
    the folder's files are byte for byte the ones validated, and validates as before
    otherwise. Returns the environment variable for the kernels ({} when no notebook reads
    data). The folders are resolved as the kernels will: from the notebook's folder.
    """
    from trialkit import schema
    from trialkit.datafiles import SYNTHETIC_DIR

    folders = {
        (path.parent / value).resolve() if value else SYNTHETIC_DIR
        for path in paths
        if path not in cached and "data_dir" in full[path]
        for value in [str(full[path]["data_dir"])]
    }
    if not folders:
        return {}
    snapshot = staging / "validated-data.pickle"
    schema.write_snapshot(sorted(folders), snapshot)
    return {schema.SNAPSHOT_ENV: str(snapshot)}


def _run_all(tasks: list[_Job], jobs: int) -> Iterable[Outcome]:
    if jobs == 1:
        yield from map(_worker, tasks)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork"), initializer=_quiet_worker)
    finished = False
    try:
        futures = [pool.submit(_worker, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()
        finished = True
    finally:
        if not finished:  # stopped: end the workers and their kernels, don't wait for them
            _end_children()
        pool.shutdown(wait=finished, cancel_futures=not finished)


# --------------------------------------------------------------------------- stopping
_RUN_PID: int | None = None  # the runner's process id, inherited by forked workers


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM, SIGINT)."""


def _quiet_worker() -> None:
    """In a worker process: die at once on SIGTERM (the runner ends its workers with it),
    and leave Ctrl-C (SIGINT to the whole terminal group) to the runner."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _stop_on_signals() -> Iterable[None]:
    """While rendering: SIGTERM and SIGINT raise RunInterrupted in the runner (once; a
    second signal during the clean-up is ignored). Only in the main thread."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise RunInterrupted(f"stopped by {signal.Signals(signum).name}")

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _children() -> list[int]:
    """Process ids of every descendant of this process (workers, kernels, ...)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is installed with jupyter
        return _children_proc()
    with contextlib.suppress(psutil.Error):
        return [c.pid for c in psutil.Process().children(recursive=True)]
    return []


def _children_proc() -> list[int]:  # pragma: no cover - used without psutil
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [os.getpid()]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _end_children(grace: float = 3.0) -> None:
    """End every descendant process: SIGTERM, then SIGKILL after ``grace`` seconds.

    The whole tree is listed first, so kernels whose worker dies first (and which are
    then adopted by init) are not lost. Kernels run in sessions of their own, which is
    why a signal to the runner's process group alone would not reach them."""
    import signal

    pids = _children()
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _alive(pid)]
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child is reaped and counts as ended)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def _remove_kernel_folders() -> None:
    """The kernels' connection folders of this run (left behind by killed kernels)."""
    pattern = f"tk-{_RUN_PID or os.getpid()}-*"
    for folder in Path(tempfile.gettempdir()).glob(pattern):
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_staging(out: Path) -> None:
    """Remove ``.staging-PID-*`` folders whose runner no longer runs (killed outright)."""
    for folder in out.glob(".staging-*"):
        parts = folder.name.split("-")
        pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
        if pid is None or pid == os.getpid() or not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _data_warnings(full: Mapping[Path, Mapping[str, Any]]) -> list[str]:
    """The warnings of the data folders the notebooks read (each once)."""
    from trialkit import params

    folders = dict.fromkeys(str(v.get("data_dir") or "") for v in full.values())
    return list(dict.fromkeys(w for f in folders for w in params.data_warnings(f)))


def _estimate_line(full: Mapping[Path, Mapping[str, Any]], jobs: int) -> str:
    """'estimated run time: about 2 min (longest 09_power_and_sample_size, 33 s)'."""
    from trialkit import params

    times = {p.stem: params.estimate_seconds(p.stem, v) for p, v in full.items()}
    longest = max(times, key=times.get)  # type: ignore[arg-type]
    total = max(sum(times.values()) / jobs, times[longest])
    return (
        f"estimated run time: about {params._duration(total)} (longest: {longest}, "
        f"{params._duration(times[longest])}; rough, from the parameters)"
    )


def _publish(stage: Path, out: Path, outcome: Outcome) -> None:
    """Move a staged result into place: success into ``out``, failure into ``out/failed``.

    The json goes last: a report counts as present once its json is there.
    """
    name = outcome.name
    (stage / ".started").unlink(missing_ok=True)  # no longer running (see _Ticker)
    target = out if outcome.ok else out / "failed"
    target.mkdir(exist_ok=True)
    moves = [(f"{name}.ipynb", target)]
    if outcome.ok:
        moves += [(f"{name}.png", out / "thumbs"), ("student.ipynb", out / "notebooks")]
    for filename, folder in [*moves, (f"{name}.json", target)]:
        src = stage / filename
        if src.exists():
            folder.mkdir(exist_ok=True)
            os.replace(src, folder / (f"{name}.ipynb" if filename == "student.ipynb" else filename))
    if outcome.ok:
        for stale in (out / "failed").glob(f"{name}.*"):
            stale.unlink()


# --------------------------------------------------------------------------- cache
def _cache_keys(
    paths: Sequence[Path],
    full: Mapping[Path, Mapping[str, Any]],
    edition: str,
    out: Path,
    force: bool,
) -> tuple[dict[Path, str], dict[Path, Outcome]]:
    """Each notebook's cache key, and an Outcome for those whose report is up to date."""
    import nbformat

    from trialkit import cache

    keys: dict[Path, str] = {}
    cached: dict[Path, Outcome] = {}
    for path in paths:
        source = nbformat.read(path, as_version=4)
        if edition == "student":
            source = without_solutions(source)
        keys[path] = cache.key(source, full[path], edition, path.parent)
        if force or not (out / f"{path.stem}.ipynb").exists():
            continue
        if cache.stored_key(out / f"{path.stem}.json") == keys[path]:
            cached[path] = Outcome(path.stem, True, 0.0, "", dict(full[path]), cached=True)
            for stale in (out / "failed").glob(f"{path.stem}.*"):
                stale.unlink()  # a failure of other inputs is no longer the news
    return keys, cached


def _cache_line(
    paths: Sequence[Path], cached: Mapping[Path, Outcome], edition: str, out: Path
) -> str:
    if not cached:
        return f"cache: nothing reusable in {out} ({edition} edition)"
    if len(cached) == len(paths):
        return (
            f"cache: all {len(paths)} notebook{'s' * (len(paths) != 1)} unchanged since their "
            "last rendering, nothing to execute (--force re-runs them)"
        )
    return f"cache: {len(cached)} unchanged, reused: " + ", ".join(p.stem for p in cached)


class _Ticker:
    """Prints "still running NAME (60 s)" every ``every`` seconds while a notebook runs.

    A worker marks a notebook as started with ``STAGE/NAME/.started``; a notebook counts
    as running until its staging folder is emptied by ``_publish``.
    """

    def __init__(self, staging: Path, say: Any, every: float = 30.0, poll: float = 1.0):
        import threading

        self.staging, self.say, self.every, self.poll = staging, say, every, poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="still-running", daemon=True)
        self._told: dict[str, int] = {}

    def __enter__(self) -> _Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            now = time.time()
            for marker in sorted(self.staging.glob("*/.started")):
                name = marker.parent.name
                if (marker.parent / f"{name}.json").exists():
                    continue  # finished, about to be published
                try:
                    elapsed = now - float(marker.read_text() or now)
                except (OSError, ValueError):
                    continue
                step = int(elapsed // self.every)
                if step >= 1 and self._told.get(name, 0) < step:
                    self._told[name] = step
                    self.say(f"    still running {name} ({step * self.every:.0f} s)")
