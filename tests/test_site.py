"""The rendered site and the course around it: editions, a real browser, a real Jupyter.

- editions: student (no solutions, hand-out copies), instructor (solutions open),
  reader (solutions collapsed);
- the pages in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it): no
  console errors, no request leaves the machine, no broken image or link; screenshots
  are saved under ``reports/screenshots/`` of the project;
- JupyterLab's server: notebooks listed through its REST API, and one notebook executed
  through a kernel that server started.
Tests needing Chromium skip with the reason when it is not installed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from trialkit import run

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# --------------------------------------------------------------------------- editions
@pytest.mark.parametrize(
    ("edition", "solution_shown", "details_open"),
    [("reader", True, False), ("instructor", True, True), ("student", False, None)],
)
def test_editions_show_hide_or_remove_solutions(
    fixture_notebooks, tmp_path, edition, solution_shown, details_open
):
    run.render(only=["01"], folder=fixture_notebooks, out=tmp_path, edition=edition, jobs=1)
    page = (tmp_path / "01_records.html").read_text()
    assert ("SOLUTION-MARKER" in page) is solution_shown
    assert "the answer is 42.0" in page if solution_shown else "the answer is" not in page
    if details_open is not None:
        tags = re.findall(r'<details class="tk-solution"[^>]*>', page)
        assert tags and all(("open" in t) is details_open for t in tags)
    report = json.loads((tmp_path / "01_records.json").read_text())
    assert report["edition"] == edition
    student_copy = tmp_path / "notebooks" / "01_records.ipynb"
    if edition == "student":
        nb = nbformat.read(student_copy, as_version=4)
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert "**Exercise 1.**" in "".join(c.source for c in nb.cells)
    else:
        assert not student_copy.exists()


def test_pages_fetch_nothing_from_the_network(reports):
    for page in reports.glob("*.html"):
        text = page.read_text()
        for tag in ("<script src=", '<link rel="stylesheet" href=', "<img src="):
            for chunk in text.split(tag)[1:]:
                assert not chunk.lstrip("\"'").startswith(("http:", "https:", "//")), (
                    page,
                    chunk[:80],
                )


def test_index_is_a_landing_page_with_every_notebook(reports):
    index = (reports / "index.html").read_text()
    assert 'href="course.html"' in index and "synthetic" in index
    for path in run.notebooks():
        report = json.loads((reports / f"{path.stem}.json").read_text())
        assert f'href="{path.stem}.html"' in index and f'href="{path.stem}.ipynb"' in index
        assert report["description"] and html.escape(report["description"]) in index
        if report["thumbnail"]:
            assert f'src="thumbs/{path.stem}.png"' in index
    course = (reports / "course.html").read_text()
    for path in run.notebooks():
        assert html.escape(run.title_of(nbformat.read(path, as_version=4))) in course, path.stem


# --------------------------------------------------------------------------- browser
@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_site_in_headless_chromium(reports):
    playwright = pytest.importorskip("playwright.sync_api")
    shots = ROOT / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    pages = ["index.html", "course.html", *[f"{p.stem}.html" for p in run.notebooks()[:2]]]
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
        page.route(
            "http*://**",
            lambda route: (problems.append(f"network: {route.request.url}"), route.abort()),
        )
        for name in pages:
            page.goto((reports / name).as_uri())
            page.wait_for_load_state("load")
            broken = page.evaluate(
                "Array.from(document.images)"
                ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            problems += [f"{name}: broken image {src}" for src in broken]
            links = page.evaluate(
                "Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"
            )
            for href in links:
                if href.startswith(("#", "http:", "https:", "mailto:")):
                    continue
                if not (reports / href.split("#")[0]).exists():
                    problems.append(f"{name}: broken link {href}")
            page.screenshot(
                path=str(shots / f"{Path(name).stem}.png"), full_page=name == "index.html"
            )
        browser.close()
    assert not problems, "\n".join(problems)
    assert (shots / "index.png").stat().st_size > 10_000


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


def test_jupyter_server_lists_and_executes_a_notebook(tmp_path):
    """What `make lab` starts: list notebooks over REST, run one in a server kernel."""
    websocket = pytest.importorskip("websocket")
    port, token = _free_port(), uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    log = tmp_path / "server.log"
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={ROOT / 'notebooks'}"]  # fmt: skip
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
        target = names[0]
        nb = nbformat.from_dict(_api(base, token, f"/api/contents/{target}")["content"])
        kernel = _api(base, token, "/api/kernels", "POST", {"name": nb.metadata.kernelspec.name})
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels?token={token}", timeout=120
        )
        recorded = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
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
                if reply["msg_type"] == "display_data" and run.MIME in reply["content"]["data"]:
                    recorded.append(reply["content"]["data"][run.MIME]["key"])
                if reply["msg_type"] == "execute_reply":
                    assert reply["content"]["status"] == "ok", (
                        target,
                        cell.source[:80],
                        reply["content"],
                    )
                    break
        ws.close()
        assert recorded, f"{target} recorded nothing when run through the server's kernel"
        _api(base, token, f"/api/kernels/{kernel['id']}", "DELETE")
    finally:
        server.terminate()
        server.wait(timeout=30)
