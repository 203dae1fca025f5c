"""What the runner sets up in every kernel it starts (``setup``), before the first cell.

The runner (``trialkit.run``) starts one kernel per notebook and passes it one line of
code, ``__import__('trialkit.kernel').kernel.setup()``, which:

- ``freeze_after_each_cell``: after each cell, moves what the cell left alive to Python's
  permanent generation, so later cells' full garbage collections skip it;
- ``warnings_as_notes``: shows a warning a cell raises as a note for the
  reader, under the cell, not as Python's stderr text with a library's file path;
- ``flush_only_when_written``: the kernel's flushes of stdout and stderr, four after every
  cell, wait for the output thread only when something was written.

None of them changes what a page shows; none leaves a name in the notebook's namespace.
A notebook opened in JupyterLab runs without them, and shows the same.
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["flush_only_when_written", "freeze_after_each_cell", "setup", "warnings_as_notes"]


def setup() -> None:
    """All of this module's set-up, in the IPython kernel this runs in (nothing outside
    IPython). Calling it again changes nothing."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    freeze_after_each_cell(shell)
    warnings_as_notes()
    flush_only_when_written()


def _freeze(result: Any) -> None:
    gc.freeze()


def freeze_after_each_cell(shell: Any) -> None:
    """After each cell of ``shell``, what the cell left alive (the imported libraries first
    of all, then the notebook's data) moves to Python's permanent generation
    (``gc.freeze``), so the full garbage collections of later cells walk only what those
    cells create.

    Measured: 0.15-0.45 s of full collections per notebook, gone; peak memory +8 MB. A
    runner kernel lives for one notebook, so the cyclic garbage frozen with the rest (a
    figure closed just before a cell ends) is bounded by what one notebook makes.
    """
    if _freeze not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", _freeze)


def warnings_as_notes() -> None:
    """In a notebook, show each warning a cell raises as a note on the page, under the
    cell: "**Warning** (statsmodels): Failed to converge on a solution. ...
    *(ConvergenceWarning)*", instead of Python's text on stderr with a library's file path
    and source line. Which warnings are shown, and how often, stay Python's (its filters:
    by default once per place in the code). Outside IPython nothing changes; a warning
    written to a file on purpose is written as Python writes it. The runner installs this
    in every kernel it starts; calling it again changes nothing."""
    import warnings

    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    if get_ipython() is None or getattr(warnings.showwarning, "trialkit_notes", False):
        return
    python_s = warnings.showwarning

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:  # fmt: skip
        if file is not None:
            python_s(message, category, filename, lineno, file, line)
            return
        from IPython.display import Markdown, display

        from trialkit.text import warning_note

        display(Markdown(warning_note(message, category, filename)))

    show.trialkit_notes = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def flush_only_when_written() -> None:
    """Make ipykernel's ``OutStream.flush`` return at once when nothing was written to the
    stream since its last flush (and no flush is pending).

    ipykernel flushes stdout and stderr twice after every cell (before its reply, and
    before its "idle" status), and each flush from the main thread hands a flush to the
    kernel's output thread and waits for it to run: a thread switch each way, with nothing
    to send after most cells (the collection's 472 code cells write to stdout 16 times).
    On this 2-core machine, with two kernels and their clients sharing the cores, those
    waits took 0.7-0.9 s of the collection's 16 s (two renders each way, same outputs).

    Nothing else changes: output that was written is flushed, and waited for, as before;
    messages to the front end (displays, the "idle" status) keep their order, as all go
    through the same output thread. An ipykernel whose streams are built differently (the
    attributes read here are not public) keeps its own flush.
    """
    try:
        from ipykernel.iostream import OutStream
    except ImportError:  # pragma: no cover - not in an ipykernel
        return
    flush = OutStream.flush
    if getattr(flush, "trialkit_only_when_written", False):
        return

    def flush_when_written(self: Any) -> None:
        try:
            with self._buffer_lock:  # the output thread swaps the buffers under it
                written = self._flush_pending or any(b.tell() for b in self._buffers.values())
        except AttributeError:  # another ipykernel
            written = True
        if written:
            flush(self)

    flush_when_written.trialkit_only_when_written = True  # type: ignore[attr-defined]
    flush_when_written.__doc__ = flush.__doc__
    OutStream.flush = flush_when_written  # type: ignore[method-assign]
