"""Stopping a run and dying kernels: nothing left running, nothing partial published.

A two-notebook run (fixture notebooks that sleep) is stopped with SIGTERM and with SIGINT
on the runner's own process id: the runner must exit promptly, every worker process and
kernel it started must be gone, its staging folder removed, and the reports of an earlier
run left byte-identical. A notebook whose kernel dies is kept under ``failed/`` with a
message that says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from trialkit import params, run

FAULTS = Path(__file__).resolve().parent / "fixtures" / "notebooks" / "faults"
ROOT = Path(__file__).resolve().parent.parent

SPECS = {
    "01_sleeps": {"seconds": params.Param(0.0, "seconds to sleep", low=0, high=600)},
    "02_dies": {
        "seconds": params.Param(0.0, "seconds to sleep", low=0, high=600),
        "how": params.Param("none", "how the kernel dies", choices=("none", "exit", "kill")),
    },
}

DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from trialkit import params, run
    params.SPECS["01_sleeps"] = {{"seconds": params.Param(0.0, "s", low=0, high=600)}}
    params.SPECS["02_dies"] = {{
        "seconds": params.Param(0.0, "s", low=0, high=600),
        "how": params.Param("none", "how", choices=("none", "exit", "kill")),
    }}
    try:
        run.render(folder=Path({folder!r}), out=Path({out!r}), parameters={{"seconds": 120.0}},
                   jobs={jobs}, site=False, progress=lambda line: print(line, flush=True))
    except KeyboardInterrupt as e:
        print("interrupted:", e, flush=True)
        sys.exit(130)
    """
)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, spec in SPECS.items():
        monkeypatch.setitem(params.SPECS, name, spec)
    return FAULTS


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _kernels_started(proc: psutil.Process, n: int, timeout: float = 120.0) -> list[psutil.Process]:
    """Wait until ``proc`` has ``n`` kernels running under it; return all its descendants."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = proc.children(recursive=True)
        kernels = [k for k in kids if "ipykernel" in " ".join(_cmdline(k))]
        if len(kernels) >= n:
            time.sleep(1.0)  # let the kernels reach the sleeping cell
            return proc.children(recursive=True)
        time.sleep(0.2)
    raise AssertionError(f"{n} kernels did not start within {timeout} s")


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _gone(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(
    "sig, jobs",
    [(signal.SIGTERM, 2), (signal.SIGINT, 2), (signal.SIGTERM, 1)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-one-at-a-time"],
)
def test_a_signal_stops_the_whole_run_and_keeps_earlier_reports(faults, tmp_path, sig, jobs):
    out = tmp_path / "reports"
    # an earlier, good run
    first = run.render(folder=faults, out=out, jobs=1, site=False, progress=lambda line: None)
    assert all(o.ok for o in first)
    before = _snapshot(out)

    script = DRIVER.format(folder=str(faults), out=str(out), jobs=jobs)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    runner = psutil.Process(proc.pid)
    try:
        children = _kernels_started(runner, jobs)
        assert len(children) >= (4 if jobs == 2 else 1)  # workers and kernels
        t0 = time.monotonic()
        os.kill(proc.pid, sig)
        output, _ = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert stopped_in < 20, stopped_in  # the notebooks would have slept 120 s
    assert "interrupted" in output and signal.Signals(sig).name in output
    time.sleep(0.5)
    alive = [c for c in children if not _gone(c)]
    assert not alive, [(c.pid, _cmdline(c)) for c in alive]
    # nothing partial: no staging folder, no kernel connection folder, earlier reports kept
    assert not list(out.glob(".staging-*"))
    assert not list(Path(tempfile.gettempdir()).glob(f"tk-{proc.pid}-*"))
    after = _snapshot(out)
    assert {k: v for k, v in after.items() if k not in ("index.html", "course.html")} == {
        k: v for k, v in before.items() if k not in ("index.html", "course.html")
    }


def test_a_stale_staging_folder_is_removed_by_the_next_run(faults, tmp_path):
    out = tmp_path / "reports"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f".staging-{dead.pid}-abcd" / "01_sleeps"
    stale.mkdir(parents=True)
    (stale / "01_sleeps.json").write_text("{}")
    old_style = out / ".staging-xyz"
    old_style.mkdir()
    run.render(only=["01"], folder=faults, out=out, jobs=1, site=False, progress=lambda line: None)
    assert not list(out.glob(".staging-*"))
    assert (out / "01_sleeps.json").exists()


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_a_dying_kernel_is_kept_under_failed_with_a_message(faults, tmp_path, how):
    out = tmp_path / "reports"
    outcomes = run.render(
        only=["02"],
        folder=faults,
        out=out,
        jobs=1,
        parameters={"how": how},
        site=False,
        progress=lambda line: None,
    )
    (outcome,) = outcomes
    assert not outcome.ok
    assert "02_dies: the kernel died in cell 4 (time.sleep(seconds))" in outcome.message
    assert len(outcome.message) < 600
    for suffix in (".ipynb", ".json"):
        assert (out / "failed" / f"02_dies{suffix}").stat().st_size > 0
    assert not (out / "02_dies.json").exists()
    report = json.loads((out / "failed" / "02_dies.json").read_text())
    assert report["status"] == "failed" and "the kernel died in cell 4" in report["message"]
    assert not list(out.glob(".staging-*"))
