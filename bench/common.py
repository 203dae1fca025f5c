"""What the benchmarks share: a module as it was at an earlier commit (the "before" of a
before/after line, timed in the same run as the "after"), and the best CPU time of a call.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def module_at(commit: str, path: str, name: str | None = None) -> ModuleType | None:
    """The module at ``path`` (e.g. "trialkit/stats/design.py") as of ``commit``, loaded
    under ``name`` (default: its stem and the commit); None without git or that commit."""
    if shutil.which("git") is None:
        return None
    done = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return None
    name = name or f"{Path(path).stem}_{commit}"
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(done.stdout)
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def cpu_best(call: Callable[[], Any], repeat: int = 3) -> float:
    """The smallest CPU time (s) of ``repeat`` calls: CPU, not wall, on a shared machine."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        call()
        best = min(best, time.process_time() - t)
    return best
