"""The course site (Sphinx + myst-nb, ``trialkit.site``) and the course around it.

- editions: each builds a complete site; reader (solutions collapsed), instructor (open),
  student (absent, no "Solution:" prompt left, hand-out copies);
- hostile names (a ``data_dir`` and a parameter value carrying markup, an error message
  with markup): escaped everywhere, checked in Chromium;
- the whole collection's site in headless Chromium (Debian's ``chromium``; ``.ci/run``
  installs it): no request leaves the machine, no console error, the notebook's title as
  the page title, math typeset (by the site's own MathJax) where the notebooks have TeX and
  no TeX left raw, a search over a local HTTP server that finds a notebook; screenshots
  of the landing page, a math page and a search result under ``reports/screenshots/``;
- JupyterLab as ``make lab`` starts it: student copies (no solutions), news off.
Tests needing Chromium skip with the reason when it is not installed.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from trialkit import lab, params, run, site

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "reports" / "screenshots"
#: Notebooks whose Markdown has TeX: their pages must show typeset math.
WITH_MATH = ("05", "07", "08", "09", "10")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\s][^$\n]*\\[A-Za-z]+[^$\n]*\$")


# --------------------------------------------------------------------------- editions
@pytest.mark.parametrize("edition", ["reader", "instructor", "student"])
def test_each_edition_builds_a_complete_site(fixture_notebooks, tmp_path, edition):
    run.render(only=["01"], folder=fixture_notebooks, out=tmp_path, edition=edition, jobs=1)
    for page in ("index.html", "01_records.html", "course.html", "references.html"):
        assert (tmp_path / page).stat().st_size > 1000, page
    assert (tmp_path / "search.html").exists() and (tmp_path / "searchindex.js").exists()
    assert (tmp_path / "_static" / "mathjax" / "MathJax.js").exists()
    page = (tmp_path / "01_records.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    assert "<title>Records values" in page
    report = json.loads((tmp_path / "01_records.json").read_text())
    assert report["edition"] == edition
    # the parameters once: the parameters cell, not papermill's injected copy
    assert "injected-parameters" not in page and text.count("Parameters") <= 1
    assert text.count("scale") >= 1 and "# Parameters" not in text
    student_copy = tmp_path / "notebooks" / "01_records.ipynb"
    # the assignments' model answers: in the reader's and instructor's sites, never students'
    site_text = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*.html"))
    site_text += (tmp_path / "searchindex.js").read_text()
    if edition == "student":
        assert not (tmp_path / "assignments.html").exists()
        for answer in ("Model answer (glucose infusion rate)", "the number is quoted exactly"):
            assert answer not in site_text, f"a model answer in the student edition: {answer}"
    else:
        assert "Model answer (glucose infusion rate)" in (tmp_path / "assignments.html").read_text()
    if edition == "student":
        assert "SOLUTION-MARKER" not in page and "the answer is" not in page
        assert not re.search(r"\bSolution\b", text), "a dangling 'Solution' heading"
        nb = nbformat.read(student_copy, as_version=4)
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
        assert not any(c.source.startswith("**Solution") for c in nb.cells)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert "**Exercise 1.**" in "".join(c.source for c in nb.cells)
        return
    assert not student_copy.exists()
    assert "SOLUTION-MARKER" in page and "the answer is 42.0" in page
    hidden = re.findall(r'<details class="[^"]*\bhide\b[^"]*"[^>]*>', page)
    if edition == "reader":
        assert hidden, "the solution is not collapsed"
        assert "Show the solution" in page
    else:
        assert not hidden, "the instructor's solutions are collapsed"


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare to take the network away (CI runs as root)",
)
def test_site_builds_without_network(fixture_notebooks, tmp_path):
    run.render(only=["01"], folder=fixture_notebooks, out=tmp_path, jobs=1, site=False)
    assert not (tmp_path / "index.html").exists()
    code = (
        "import sys; from pathlib import Path; from trialkit import site; "
        "site.build(Path(sys.argv[1]), Path(sys.argv[2]))"
    )
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code, str(tmp_path), str(fixture_notebooks)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if done.returncode and "Operation not permitted" in done.stderr:
        pytest.skip("unshare -n is not permitted here")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "01_records.html").exists() and (tmp_path / "index.html").exists()


def test_markdown_solutions_and_prompts_per_edition():
    nb = nbformat.v4.new_notebook()
    prose = nbformat.v4.new_markdown_cell("The answer is **42**.")
    prose.metadata["tags"] = ["solution"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("**Exercise 1.** Why?"),
        nbformat.v4.new_markdown_cell("**Solution:**"),
        prose,
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["remove-cell"]}),
    ]
    reader = site.page_notebook(nb, "reader")
    assert '<details class="tk-solution"><summary>' in reader.cells[2].source
    instructor = site.page_notebook(nb, "instructor")
    assert '<details class="tk-solution" open>' in instructor.cells[2].source
    student = site.page_notebook(run.without_solutions(nb), "student")
    assert [c.source for c in student.cells] == ["**Exercise 1.** Why?", "x = 1"]
    assert "remove-cell" in student.cells[1].metadata["tags"]


def test_changed_parameters_are_shown_once_with_their_values(fixture_notebooks, tmp_path):
    run.render(only=["01"], folder=fixture_notebooks, out=tmp_path, text_parameters={"scale": "3"})
    source = (tmp_path / ".site" / "src" / "01_records.ipynb").read_text()
    nb = nbformat.reads(source, as_version=4)
    shown = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(shown) == 1 and "scale = 3.0" in shown[0].source
    assert site.CHANGED_PARAMETERS in shown[0].source
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


# --------------------------------------------------------------------------- hostile names
HOSTILE = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"


@pytest.fixture
def hostile_notebooks(tmp_path, monkeypatch) -> Path:
    """Two notebooks whose parameters carry markup: one shows them (print, Markdown), one
    fails with them in its error message."""
    folder = tmp_path / "nbs"
    folder.mkdir()
    shows = nbformat.v4.new_notebook()
    shows.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    shows.cells = [
        nbformat.v4.new_markdown_cell("# Hostile names\n\nValues with markup."),
        nbformat.v4.new_code_cell('data_dir = ""\nlabel = "x"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from IPython.display import Markdown, display\n"
            'display(Markdown(f"Data from {data_dir}, label **{label}**"))\n'
            "print(data_dir, label)"
        ),
    ]
    fails = nbformat.v4.new_notebook()
    fails.metadata["kernelspec"] = shows.metadata["kernelspec"]
    fails.cells = [
        nbformat.v4.new_markdown_cell("# Fails with markup"),
        nbformat.v4.new_code_cell('label = "x"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise RuntimeError(label)"),
    ]
    nbformat.write(shows, folder / "01_hostile.ipynb")
    nbformat.write(fails, folder / "02_fails.ipynb")
    for name in ("COURSE.md", "references.bib"):
        shutil.copy(run.NOTEBOOKS / name, folder / name)
    monkeypatch.setitem(
        params.SPECS,
        "01_hostile",
        {"data_dir": params.Param("", "a folder"), "label": params.Param("x", "a label")},
    )
    monkeypatch.setitem(params.SPECS, "02_fails", {"label": params.Param("x", "a label")})
    return folder


def test_hostile_names_are_escaped_on_every_page(hostile_notebooks, tmp_path):
    out = tmp_path / "site"
    data = tmp_path / HOSTILE  # a real data folder with a hostile name
    shutil.copytree(ROOT / "data" / "synthetic", data)
    outcomes = run.render(
        folder=hostile_notebooks, out=out, parameters={"data_dir": str(data), "label": SCRIPT}
    )
    assert [o.ok for o in outcomes] == [True, False]
    for page in ("index.html", "01_hostile.html"):
        text = (out / page).read_text()
        assert HOSTILE not in text and SCRIPT not in text, page
        assert "window.__pwned" in text, page  # shown, as text
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with _browser() as (page, problems):
        for name in ("index.html", "01_hostile.html"):
            page.goto((out / name).as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)
            assert page.evaluate("typeof window.__pwned") == "undefined", name
            injected = page.evaluate(
                "document.querySelectorAll('img[src=\"x\"], img[onerror]').length + "
                "Array.from(document.scripts).filter(s => s.text.includes('__pwned')).length"
            )
            assert injected == 0, name
            assert "window.__pwned" in page.inner_text("body"), name
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the collection
@needs_chromium
def test_collection_site_in_headless_chromium(reports):
    """Every page: offline, no console error, its notebook's title, math typeset."""
    pages = ["index.html", "course.html", "references.html"]
    pages += [f"{p.stem}.html" for p in run.notebooks()]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with _browser() as (page, problems):
        for name in pages:
            page.goto((reports / name).as_uri())
            page.wait_for_load_state("load")
            _wait_for_math(page)
            stem = name.removesuffix(".html")
            title = page.title()
            if (reports / f"{stem}.json").exists():
                want = json.loads((reports / f"{stem}.json").read_text())["title"]
                want = re.sub(r"[*_`]", "", want)
                if not title.startswith(want):
                    problems.append(f"{name}: title {title!r}, not the notebook's {want!r}")
            # Sphinx's formulas (outermost .math; MathJax's own spans are .math too)
            math, typeset = page.evaluate(
                "(() => { const m = Array.from(document.querySelectorAll('.math'))"
                ".filter(e => !e.parentElement.closest('.math'));"
                " return [m.length, m.filter(e => e.querySelector('.MathJax, .MathJax_Display'))"
                ".length]; })()"
            )
            if name[:2] in WITH_MATH and (math == 0 or typeset < math):
                problems.append(f"{name}: {typeset} of {math} formulas typeset")
            raw = RAW_TEX.findall(
                page.inner_text("article") if page.query_selector("article") else ""
            )
            if raw:
                problems.append(f"{name}: raw TeX on the page: {raw[:3]}")
            broken = page.evaluate(
                "Array.from(document.images)"
                ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            problems += [f"{name}: broken image {src}" for src in broken]
            for href in page.evaluate(
                "Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"
            ):
                if href.startswith(("#", "http:", "https:", "mailto:", "javascript:")):
                    continue
                if not (reports / href.split("#")[0].split("?")[0]).exists():
                    problems.append(f"{name}: broken link {href}")
            if name == "index.html":
                page.screenshot(path=str(SHOTS / "landing.png"), full_page=True)
            if name.startswith("08"):
                page.locator(".math").first.scroll_into_view_if_needed()
                page.screenshot(path=str(SHOTS / "math-08_safety.png"))
    assert not problems, "\n".join(problems)
    assert (SHOTS / "landing.png").stat().st_size > 10_000


@needs_chromium
def test_search_finds_a_notebook_over_http(reports):
    with _serve(reports) as base, _browser() as (page, problems):
        page.goto(f"{base}/search.html?q=fragility")
        page.wait_for_selector("#search-results ul.search li a", timeout=30_000)
        hits = page.evaluate(
            "Array.from(document.querySelectorAll('#search-results ul.search li a'))"
            ".map(a => a.getAttribute('href'))"
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "search-fragility.png"))
    assert any(h.startswith("02_what_the_paper_reports") for h in hits), hits
    assert not problems, "\n".join(problems)


def test_landing_page_lists_every_notebook_in_teaching_order(reports):
    index = (reports / "index.html").read_text()
    positions = []
    for path in run.notebooks():
        report = json.loads((reports / f"{path.stem}.json").read_text())
        assert f'href="{path.stem}.html"' in index and f'href="{path.stem}.ipynb"' in index
        assert html.escape(report["description"]) in index
        if report["thumbnail"]:
            assert f'src="thumbs/{path.stem}.png"' in index
        positions.append(index.index(f'href="{path.stem}.html"'))
    assert positions == sorted(positions)
    assert 'href="course.html"' in index and "synthetic" in index
    course = html.unescape(re.sub(r"<[^>]+>", "", (reports / "course.html").read_text()))
    for path in run.notebooks():
        title = run.title_of(nbformat.read(path, as_version=4))
        assert re.sub(r"[*_`]", "", title) in course, path.stem
    assert (
        "_sources/05_primary_endpoint.ipynb" in (reports / "05_primary_endpoint.html").read_text()
    )
    assert (reports / "_sources" / "05_primary_endpoint.ipynb").exists()
    references = (reports / "references.html").read_text()
    assert "Newcombe" in references and "Clopper" in references


def test_binder_link_when_the_repository_is_known(monkeypatch):
    monkeypatch.setenv("TRIALKIT_REPOSITORY", "someone/zang2022-notebooks")
    assert site.binder_url("05_primary_endpoint") == (
        "https://mybinder.org/v2/gh/someone/zang2022-notebooks/main"
        "?urlpath=lab/tree/notebooks/05_primary_endpoint.ipynb"
    )
    assert site.site_settings("reader")["repository"] == "someone/zang2022-notebooks"


# --------------------------------------------------------------------------- JupyterLab
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None) -> dict:
    req = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def test_make_lab_serves_student_copies_with_news_off(tmp_path):
    """What `make lab` starts: the student copies (no solution to Run All), the project's
    Jupyter settings (announcements off), and a kernel that runs a copy's first cells."""
    websocket = pytest.importorskip("websocket")
    copies = tmp_path / "lab"
    lab.student_copies(copies, say=lambda line: None)
    port, token = _free_port(), uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(ROOT / ".jupyter"),  # as the Makefile sets it
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    log = tmp_path / "server.log"
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={copies}"]  # fmt: skip
    if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses without this
        args.append("--allow-root")
    with open(log, "w") as sink:
        server = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:  # until the server answers or dies (its log says why)
            try:
                listing = _api(base, token, "/api/contents/")
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"the Jupyter server exited:\n{log.read_text()[-2000:]}")
                time.sleep(0.3)
        names = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
        assert names == sorted(p.name for p in run.notebooks())
        with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=30) as resp:
            page = resp.read().decode()
        config = json.loads(
            re.search(r'id="jupyter-config-data"[^>]*>\s*(.*?)\s*</script>', page, re.S).group(1)
        )
        assert "@jupyterlab/apputils-extension:announcements" in config["disabledExtensions"]
        for name in names:
            nb = nbformat.from_dict(_api(base, token, f"/api/contents/{name}")["content"])
            assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells), name
        nb = nbformat.from_dict(_api(base, token, f"/api/contents/{names[0]}")["content"])
        kernel = _api(base, token, "/api/kernels", "POST", {"name": nb.metadata.kernelspec.name})
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels?token={token}", timeout=120
        )
        code = [c for c in nb.cells if c.cell_type == "code"][:3]  # imports, parameters, check
        for cell in code:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                           "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": cell.source, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            }))  # fmt: skip
            while True:
                reply = json.loads(ws.recv())
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if reply["msg_type"] == "execute_reply":
                    assert reply["content"]["status"] == "ok", (cell.source[:80], reply["content"])
                    break
        ws.close()
        _api(base, token, f"/api/kernels/{kernel['id']}", "DELETE")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_student_copies_keep_a_students_work(tmp_path):
    copies = tmp_path / "lab"
    said: list[str] = []
    lab.student_copies(copies, say=said.append)
    first = copies / run.notebooks()[0].name
    first.write_text(first.read_text().replace("Learning objectives", "My notes"))
    lab.student_copies(copies, say=said.append)
    assert "My notes" in first.read_text()
    assert said and "kept your copy" in said[0]


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _browser() -> Iterator[tuple[object, list[str]]]:
    """A Chromium page that records every problem: a request leaving the machine (and
    aborts it), a failed request, a console error, an uncaught page error, a dialog."""
    playwright = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))

        def route(r: object) -> None:
            url = r.request.url  # type: ignore[attr-defined]
            if url.startswith(("http://127.0.0.1:", "http://localhost:")):
                r.continue_()  # type: ignore[attr-defined]
            else:
                problems.append(f"network: {url}")
                r.abort()  # type: ignore[attr-defined]

        page.route("http*://**", route)
        try:
            yield page, problems
        finally:
            browser.close()


def _wait_for_math(page: object, timeout: float = 20_000) -> None:
    """Until the site's MathJax (if the page loads it) has typeset everything."""
    if not page.evaluate("!!document.querySelector('script[src*=\"MathJax.js\"]')"):  # type: ignore[attr-defined]
        return
    page.wait_for_function("window.MathJax && MathJax.isReady === true", timeout=timeout)  # type: ignore[attr-defined]
    page.evaluate("new Promise(done => MathJax.Hub.Queue(() => done(true)))")  # type: ignore[attr-defined]


@contextlib.contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on a free local port (search needs HTTP, not file://)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass
