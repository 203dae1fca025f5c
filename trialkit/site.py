"""The course site: Sphinx, myst-nb and the book theme, built from the executed notebooks.

``build(out)`` turns what the runner published in ``out`` (``NAME.ipynb`` executed,
``NAME.json`` its report, ``thumbs/NAME.png``) into a static site in the same folder:

- one page per notebook (``NAME.html``), titled with the notebook's title, with a sidebar
  in teaching order, previous/next, an in-page table of contents, full-text search, a
  download of the notebook, math typeset by a MathJax served from the site itself, and a
  Binder launch button when the repository is known (``TRIALKIT_REPOSITORY=owner/name`` or
  a GitHub ``origin`` remote);
- ``index.html``: the landing page (thumbnail, status and parameters of each rendering),
  ``course.html`` (``notebooks/COURSE.md`` plus a table built from the notebooks) and
  ``references.html`` (the bibliography from ``notebooks/references.bib``).

Nothing is executed here (myst-nb's ``nb_execution_mode = "off"``) and nothing is fetched
from the network, at build time or by the pages. Editions: reader (solutions collapsed),
instructor (open), student (the runner already removed them). Cells tagged
``injected-parameters`` or ``remove-cell`` do not appear; ``remove-input`` hides the code;
the parameters cell shows the values of this rendering, once.

Every value that reaches a page from outside the notebooks' own text (paths, parameters,
messages, Markdown written by a notebook from its results) is escaped.

The Sphinx sources, doctrees and HTML live in ``out/.site/`` (kept between builds: an
unchanged rebuild runs nothing); the HTML is then copied into ``out``.
"""

from __future__ import annotations

import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trialkit import run

TEMPLATE = Path(__file__).resolve().parent / "site_template"
TITLE = "UC-MSCs in type 2 diabetes: a teaching and re-analysis collection"
#: Marker of a parameters cell that shows the values of this rendering (not the defaults).
CHANGED_PARAMETERS = "# this rendering's parameters (the notebook's defaults were changed)"
SOLUTION_PROMPT = "Show the solution"


def build(
    out: Path,
    folder: Path = run.NOTEBOOKS,
    edition: str = "reader",
    this_run: Mapping[str, run.Outcome] | None = None,
    report: bool = False,
    progress: Callable[[str], None] | None = None,
) -> float:
    """Build the site into ``out`` from the reports there; return the build time in seconds.

    ``this_run``: outcomes of the run that just ended (the landing page says which failed).
    ``report``: hide every code cell's source. Raises RuntimeError (with Sphinx's last
    lines) if Sphinx fails.
    """
    t0 = time.perf_counter()
    out, folder = Path(out).resolve(), Path(folder).resolve()
    src = out / ".site" / "src"
    src.mkdir(parents=True, exist_ok=True)
    _write_if_changed(src / "conf.py", (TEMPLATE / "conf.py").read_bytes())
    _write_if_changed(out / "_static" / "trialkit.css", (TEMPLATE / "trialkit.css").read_bytes())
    _write_if_changed(src / "site.json", json.dumps(site_settings(edition), indent=1).encode())
    bib = folder / "references.bib"
    if not bib.exists():
        bib = run.NOTEBOOKS / "references.bib"
    _write_if_changed(src / "references.bib", bib.read_bytes() if bib.exists() else b"")
    pages = []
    for path in run.notebooks(folder=folder):
        executed = out / f"{path.stem}.ipynb"
        if not executed.exists():
            (src / f"{path.stem}.ipynb").unlink(missing_ok=True)
            continue
        import nbformat

        nb = nbformat.read(executed, as_version=4)
        shown = page_notebook(nb, edition, report=report)
        _write_if_changed(src / f"{path.stem}.ipynb", nbformat.writes(shown).encode())
        pages.append(path.stem)
    _write_if_changed(
        src / "index.md", landing_page(out, folder, edition, this_run, pages).encode()
    )
    _write_if_changed(src / "course.md", course_page(folder, pages).encode())
    answers = folder / "ASSIGNMENTS.md"
    if not answers.exists():
        answers = run.NOTEBOOKS / "ASSIGNMENTS.md"
    if edition != "student" and answers.exists():  # model answers: never to students
        _write_if_changed(src / "assignments.md", answers.read_bytes())
    else:
        (src / "assignments.md").unlink(missing_ok=True)
    _write_if_changed(src / "references.md", _REFERENCES.encode())
    _vendor_mathjax(out / "_static" / "mathjax")
    digest = _digest(src)
    stamp = out / ".site" / "built"
    if not (stamp.exists() and stamp.read_text() == digest and (out / "index.html").exists()):
        stamp.unlink(missing_ok=True)
        html_dir = out / ".site" / "html"  # myst-nb writes next to it (.site/jupyter_execute)
        _sphinx(src, html_dir, out / ".site" / "doctrees", progress)
        # moved, not copied: the theme makes every Sphinx build a full one anyway
        shutil.copytree(html_dir, out, dirs_exist_ok=True, copy_function=os.replace)
        shutil.rmtree(html_dir, ignore_errors=True)
        shutil.rmtree(out / ".site" / "jupyter_execute", ignore_errors=True)  # images, copied
        stamp.write_text(digest)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- notebooks
def page_notebook(nb: Any, edition: str = "reader", report: bool = False) -> Any:
    """A copy of an executed notebook prepared for its page.

    - ``injected-parameters`` cell: dropped; the ``parameters`` cell shows its values
      (unchanged when they are the notebook's defaults);
    - ``solution`` cells: collapsed (reader), open (instructor), absent (student); a
      Markdown solution sits in a ``<details>`` block, a code solution gets myst-nb's
      ``hide-cell``; in the student edition a "**Solution:**" prompt cell goes too;
    - a code cell whose source is hidden in Jupyter (``source_hidden``) and every code cell
      in ``report`` mode: ``remove-input``;
    - outputs: trialkit's record displays dropped; Markdown written by the notebook is
      escaped (it may carry paths and data values).
    """
    page = copy.deepcopy(nb)
    injected = next(
        (c for c in page.cells if "injected-parameters" in c.metadata.get("tags", [])), None
    )
    cells = []
    for cell in page.cells:
        tags = list(cell.metadata.get("tags", []))
        if "injected-parameters" in tags:
            continue
        if "parameters" in tags and injected is not None:
            cell.source = _parameters_source(cell.source, injected.source)
        solution = "solution" in tags
        if solution and edition == "student":
            continue
        if edition == "student" and _is_solution_prompt(cell):
            continue
        if cell.cell_type == "markdown" and solution:
            state = " open" if edition == "instructor" else ""
            cell.source = (
                f'<details class="tk-solution"{state}><summary>Solution</summary>\n\n'
                f"{cell.source}\n\n</details>"
            )
        if cell.cell_type == "code":
            hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
            if solution and edition == "reader":
                tags.append("hide-cell")
                cell.metadata.setdefault("mystnb", {})["code_prompt_show"] = SOLUTION_PROMPT
                cell.metadata["mystnb"]["code_prompt_hide"] = "Hide the solution"
            elif ((hidden and not solution) or report) and "remove-input" not in tags:
                tags.append("remove-input")
            cell.outputs = [
                _safe_output(o) for o in cell.outputs if run.MIME not in o.get("data", {})
            ]
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)
    page.cells = cells
    return page


def _parameters_source(default: str, injected: str) -> str:
    """What the parameters cell shows: its own source if the values are the defaults."""
    import ast

    def values(source: str) -> dict[str, Any] | None:
        try:
            tree = ast.parse(source)
            return {
                n.targets[0].id: ast.literal_eval(n.value)
                for n in tree.body
                if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
            }
        except (SyntaxError, ValueError):
            return None

    lines = [ln for ln in injected.splitlines() if ln.strip() and not ln.startswith("#")]
    given = values("\n".join(lines))
    if given is not None and given == values(default):
        return default
    return "\n".join([CHANGED_PARAMETERS, *lines])


def _is_solution_prompt(cell: Any) -> bool:
    """A Markdown cell that only announces a solution ("**Solution:**" ...)."""
    return cell.cell_type == "markdown" and bool(
        re.match(r"\s*(\*\*|__)?Solution\b", cell.source, re.I)
    )


def _safe_output(output: Any) -> Any:
    """Markdown that a notebook wrote cannot carry HTML: every ``<`` becomes ``&lt;``, so a
    value (a path, a subject's id) is shown as text, never as markup or script.

    Entities (``&lt;`` from writers that escape already) only ever make text, so ``&`` is
    left alone and nothing is escaped twice; a Markdown-escaped ``\\<`` is handled too.
    """
    data = output.get("data")
    if data and "text/markdown" in data:
        text = data["text/markdown"]
        text = "".join(text) if isinstance(text, list) else text
        data["text/markdown"] = text.replace("\\<", "&lt;").replace("<", "&lt;")
    return output


# --------------------------------------------------------------------------- pages
def landing_page(
    out: Path,
    folder: Path = run.NOTEBOOKS,
    edition: str = "reader",
    this_run: Mapping[str, run.Outcome] | None = None,
    pages: list[str] | None = None,
) -> str:
    """The landing page (MyST Markdown): one card per notebook in teaching order with the
    thumbnail of its key figure, title, one line, time, the status of this rendering (run
    time, parameters) and links; a hidden table of contents that orders the sidebar."""
    this_run = this_run or {}
    paths = run.notebooks(folder=folder)
    pages = (
        [p.stem for p in paths if (out / f"{p.stem}.ipynb").exists()] if pages is None else pages
    )
    cards = [_card(out, path, this_run.get(path.stem)) for path in paths]
    extra = [] if edition == "student" else ["assignments"]
    toc = "\n".join(["course", *extra, *pages, "references"])
    e = html.escape
    return f"""# {TITLE}

Notebooks about one published trial: Zang L, Li Y, Hao H, et al. Stem Cell Res Ther
2022;13:180 (NCT02302599), umbilical-cord mesenchymal stem cells vs placebo in 91 adults
with insulin-treated type 2 diabetes. They teach the trial's design, how its endpoints
are derived and how it can be analysed, re-check every number the paper reports, and say
which cannot be checked.

<p class="tk-warn">Individual patient data are not public. Analyses of patients use
<strong>synthetic</strong> patients built to match the published summaries, and say so in
every table and figure.</p>

This is the **{e(edition)}** edition. Start with the [course guide](course.md), or open
the notebooks in order. The references of all notebooks are in one
[bibliography](references.md).

<div class="tk-cards">
{chr(10).join(cards)}
</div>

```{{toctree}}
:hidden:
:maxdepth: 1

{toc}
```
"""


def _card(out: Path, path: Path, outcome: run.Outcome | None) -> str:
    """One notebook's card: a single block of escaped HTML without blank lines."""

    name = path.stem
    good = _read_json(out / f"{name}.json") if (out / f"{name}.ipynb").exists() else None
    source = _read_notebook(path) if not good else None
    title = (good or {}).get("title") or (source and run.title_of(source)) or name
    line = (good or {}).get("description") or (source and run.description_of(source)) or ""
    duration = (good or {}).get("time") or (source and run._time_of(source)) or ""
    failed = outcome is not None and not outcome.ok
    if failed:
        status = "failed in this run" + (", showing the last good report" if good else "")
        cls = "tk-failed"
    elif good:
        when = str(good.get("started", ""))[:16].replace("T", " ")
        status, cls = f"rendered {when} UTC in {float(good.get('seconds', 0)):.0f} s", "tk-ok"
    else:
        status, cls = "not rendered yet", "tk-missing"

    def e(value: Any) -> str:
        return html.escape(" ".join(str(value).split()), quote=True)

    thumb = (
        f'<img src="thumbs/{e(name)}.png" alt="key figure of {e(title)}">'
        if good and (out / "thumbs" / f"{name}.png").exists()
        else '<div class="tk-nothumb"></div>'
    )
    head = f'<a href="{e(name)}.html">{e(title)}</a>' if good else e(title)
    links = []
    if good:
        links += [
            f'<a href="{e(name)}.html">page</a>',
            f'<a href="{e(name)}.ipynb">executed notebook</a>',
        ]
    if (out / "notebooks" / f"{name}.ipynb").exists():
        links.append(f'<a href="notebooks/{e(name)}.ipynb">student notebook</a>')
    if failed and (out / "failed" / f"{name}.ipynb").exists():
        links.append(f'<a href="failed/{e(name)}.ipynb">the failed run</a>')
    params = ", ".join(f"{k} = {v!r}" for k, v in (good or {}).get("parameters", {}).items())
    problem = f'<p class="tk-meta">{e(outcome.message)}</p>' if failed and outcome else ""
    return (
        f'<article class="tk-card {cls}">{thumb}<div class="tk-body">'
        f'<h2><span class="tk-num">{e(name[:2])}</span> {head}</h2>'
        f"<p>{e(line)}</p>"
        f'<p class="tk-meta">{e(duration) + " &middot; " if duration else ""}{e(status)}</p>'
        f'<p class="tk-meta">parameters: <code>{e(params) or "defaults"}</code></p>{problem}'
        f'<p class="tk-links">{" &middot; ".join(links)}</p></div></article>'
    )


def course_page(folder: Path = run.NOTEBOOKS, pages: list[str] | None = None) -> str:
    """The course guide (MyST Markdown): ``COURSE.md`` and a table built from the notebooks
    (order, time, prerequisites, the parameters worth changing in class)."""
    import nbformat

    from trialkit import params

    def cell(text: str) -> str:  # one table cell of plain text
        text = " ".join(str(text).split())
        return html.escape(text, quote=False).replace("|", "\\|")

    rows = []
    for path in run.notebooks(folder=folder):
        nb = _read_notebook(path) or nbformat.v4.new_notebook()
        text = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        assumes = re.search(r"\*\*Assumes:\*\*\s*([^\n]+(?:\n(?!\n)[^\n]+)*)", text)
        spec = params.SPECS.get(path.stem, {})
        knobs = "; ".join(f"`{n}`: {cell(p.help)}" for n, p in spec.items())
        title = cell(run.title_of(nb))
        if pages is None or path.stem in pages:  # a link only to a page that exists
            title = f"[{title}]({path.stem}.ipynb)"
        rows.append(
            f"| {path.stem[:2]} | {title} "
            f"| {cell(run._time_of(nb))} | {cell(assumes.group(1)) if assumes else ''} "
            f"| {knobs} |"
        )
    guide = folder / "COURSE.md"
    if not guide.exists():
        guide = run.NOTEBOOKS / "COURSE.md"
    prose = guide.read_text(encoding="utf-8") if guide.exists() else "# Course guide\n"
    return (
        prose.rstrip()
        + "\n\n## The notebooks at a glance\n\n"
        + "| # | notebook | time | assumes | parameters to change in class |\n"
        + "|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


_REFERENCES = """# References

Every work the notebooks cite, from one file (`notebooks/references.bib`).

```{bibliography}
:all:
```
"""


# --------------------------------------------------------------------------- helpers
def site_settings(edition: str) -> dict[str, Any]:
    """The per-build values ``conf.py`` reads (``site.json``)."""
    return {
        "project": "Zang 2022 trial notebooks",
        "title": "UC-MSCs in type 2 diabetes" + ("" if edition == "reader" else f" ({edition})"),
        "author": "the collection's authors",
        "copyright": "the collection's authors (MIT licence)",
        "edition": edition,
        "repository": repository(),
        "branch": os.environ.get("TRIALKIT_BRANCH", "main"),
    }


def repository() -> str | None:
    """``owner/name`` of the GitHub repository, for the Binder button: the environment
    variable ``TRIALKIT_REPOSITORY``, else the git ``origin`` remote if it is on GitHub."""
    given = os.environ.get("TRIALKIT_REPOSITORY", "").strip()
    if re.fullmatch(r"[\w.-]+/[\w.-]+", given):
        return given
    try:
        url = subprocess.run(
            ["git", "-C", str(run.ROOT), "remote", "get-url", "origin"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?$", url)
    return found.group(1) if found else None


def binder_url(name: str | None = None) -> str | None:
    """The Binder launch link of the collection (or of notebook ``name``), if known."""
    repo = repository()
    if not repo:
        return None
    branch = os.environ.get("TRIALKIT_BRANCH", "main")
    path = f"lab/tree/notebooks/{name}.ipynb" if name else "lab/tree/notebooks"
    return f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath={path}"


def _write_if_changed(target: Path, data: bytes) -> None:
    """Write only when the bytes differ, so Sphinx rebuilds only what changed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.read_bytes() == data:
        return
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _digest(folder: Path) -> str:
    """One hash of every file under ``folder`` (names and bytes)."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _read_notebook(path: Path) -> Any:
    """A notebook, or None if it cannot be read (being saved, broken): a page of the site
    is then less informative, never missing."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except Exception:
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


#: What the site needs from the MathJax 2.7 of ``jupyter-server-mathjax`` (about 2 MB of
#: its 12): the combined TeX + HTML-CSS configuration, TeX input and STIX web fonts.
_MATHJAX_PARTS = (
    "MathJax.js", "LICENSE", "config/TeX-AMS-MML_HTMLorMML-full.js", "extensions/tex2jax.js",
    "extensions/MathEvents.js", "extensions/MathZoom.js", "extensions/MathMenu.js",
    "extensions/TeX", "extensions/HTML-CSS", "jax/input/TeX", "jax/element",
    "jax/output/HTML-CSS", "fonts/HTML-CSS/STIX-Web/woff",
)  # fmt: skip


def _vendor_mathjax(target: Path) -> None:
    """Copy MathJax into the site once (a stamp file names the version copied)."""
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    stamp = target / ".version"
    version = getattr(jupyter_server_mathjax, "__version__", "?")
    if stamp.exists() and stamp.read_text() == version:
        return
    for part in _MATHJAX_PARTS:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, target / part, dirs_exist_ok=True)
        elif src.exists():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / part)
    stamp.write_text(version)


def _sphinx(src: Path, out: Path, doctrees: Path, progress: Callable[[str], None] | None) -> None:
    """Run Sphinx's HTML builder in its own process; raise RuntimeError if it fails."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(doctrees),
               str(src), str(out)]  # fmt: skip
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    warnings = [ln for ln in done.stderr.splitlines() if "WARNING" in ln or "ERROR" in ln]
    if done.returncode != 0:
        raise RuntimeError("the site build failed:\n" + "\n".join(done.stderr.splitlines()[-20:]))
    if warnings and progress:
        progress(f"site: {len(warnings)} Sphinx warning(s); the first: {warnings[0][:300]}")
