"""trialkit.kernel: what the runner sets up in each kernel, in an IPython shell of the test
process (the runner's own kernels: tests/test_runner.py)."""

from __future__ import annotations

from trialkit import kernel


def test_warnings_as_notes_shows_a_warning_as_markdown_under_the_cell():
    import warnings

    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    start_ipython()  # the test session's shell (None if another test started it first)
    shell = get_ipython()
    types = shell.display_formatter.active_types
    shell.display_formatter.active_types = [*types, "text/markdown"]  # as a notebook shows
    before = warnings.showwarning
    try:
        kernel.warnings_as_notes()
        installed = warnings.showwarning
        kernel.warnings_as_notes()  # again: nothing changes
        assert warnings.showwarning is installed is not before
        with capture_output() as shown, warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = installed  # catch_warnings restores Python's on exit
            warnings.warn("the model did not converge", RuntimeWarning, stacklevel=1)
        assert not shown.stderr
        assert [o.data["text/markdown"] for o in shown.outputs] == [
            "**Warning**: the model did not converge *(RuntimeWarning)*"
        ]
    finally:
        warnings.showwarning = before
        shell.display_formatter.active_types = types


def test_kernel_setup_outside_ipython_changes_nothing(monkeypatch):
    import warnings

    import IPython
    from ipykernel.iostream import OutStream

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    flush, show = OutStream.flush, warnings.showwarning
    kernel.setup()
    assert OutStream.flush is flush and warnings.showwarning is show
