"""Student copies of the notebooks for JupyterLab (``make lab``): solutions absent.

``make lab`` opens ``lab/``, not ``notebooks/``: Run All there shows no solution, because
the copies have none (``run.without_solutions``). A copy the student has changed is never
overwritten; delete it to get the current version. Instructors open the full notebooks
with ``make lab EDITION=instructor``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from trialkit import run

LAB = run.ROOT / "lab"
_STATE = ".trialkit-copies.json"  # what was last written: name -> sha256


def student_copies(
    target: Path = LAB,
    folder: Path = run.NOTEBOOKS,
    say: Callable[[str], None] = print,
) -> list[Path]:
    """Write a copy of every notebook without its solutions into ``target``; return them.

    A copy whose bytes differ from what this function last wrote there (the student's
    work) is kept as it is, and ``say`` reports it. ``COURSE.md`` and
    ``references.bib`` are copied along.
    """
    import nbformat

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    state_file = target / _STATE
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        state = {}
    written = []
    for path in run.notebooks(folder=folder):
        copy = target / path.name
        fresh = nbformat.writes(run.without_solutions(nbformat.read(path, as_version=4))) + "\n"
        fresh_sha = _sha(fresh.encode())
        if copy.exists():
            now = _sha(copy.read_bytes())
            if now == fresh_sha:
                state[path.name] = fresh_sha
                written.append(copy)
                continue
            if state.get(path.name) != now:
                say(f"kept your copy {copy} (it has changes; delete it for the current version)")
                written.append(copy)
                continue
        copy.write_text(fresh, encoding="utf-8")
        state[path.name] = fresh_sha
        written.append(copy)
    for extra in ("COURSE.md", "references.bib"):
        if (folder / extra).exists():
            shutil.copy2(folder / extra, target / extra)
    state_file.write_text(json.dumps(state, indent=1))
    return written


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
