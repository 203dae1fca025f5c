"""The runner: reports, records, failures that keep earlier reports, parameter checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trialkit import __main__ as cli
from trialkit import params, run
from trialkit.run import record

ROOT = Path(__file__).resolve().parent.parent


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_render_writes_notebook_html_json_and_index(fixture_notebooks, tmp_path):
    lines: list[str] = []
    outcomes = run.render(
        folder=fixture_notebooks,
        out=tmp_path,
        text_parameters={"scale": "3"},
        progress=lines.append,
    )
    assert [o.name for o in outcomes] == ["01_records", "02_explodes"]
    assert all(o.ok for o in outcomes)
    for name in ("01_records", "02_explodes"):
        for suffix in (".ipynb", ".html", ".json"):
            assert (tmp_path / f"{name}{suffix}").stat().st_size > 0
    report = json.loads((tmp_path / "01_records.json").read_text())
    assert report["status"] == "ok"
    assert report["title"] == "Records values"
    assert report["parameters"] == {"scale": 3.0}  # "3" became the declared float
    assert report["records"] == {
        "scaled": 63.0,
        "vector": [0.0, 3.0, 6.0],
        "nested": {"a": [1, 2], "b": None},
    }
    assert report["versions"]["papermill"] and report["versions"]["python"]
    assert report["seconds"] > 0
    index = (tmp_path / "index.html").read_text()
    assert 'href="01_records.html"' in index and "Records values" in index
    assert "scale = 3.0" in index
    # a progress line per notebook
    assert (
        sum("ok" in line and ("01_records" in line or "02_explodes" in line) for line in lines) == 2
    )
    assert not list(tmp_path.glob(".staging-*"))


def test_report_mode_hides_code(fixture_notebooks, tmp_path):
    run.render(only=["01"], folder=fixture_notebooks, out=tmp_path, report=True, jobs=1)
    page = (tmp_path / "01_records.html").read_text()
    assert "trialkit.record(" not in page.replace("&#39;", "'")
    full = tmp_path / "full"
    run.render(only=["01"], folder=fixture_notebooks, out=full, jobs=1)
    assert "trialkit" in (full / "01_records.html").read_text()


def test_failure_keeps_earlier_good_report_and_others_still_render(fixture_notebooks, tmp_path):
    run.render(folder=fixture_notebooks, out=tmp_path)
    before = snapshot(tmp_path)
    lines: list[str] = []
    outcomes = run.render(
        folder=fixture_notebooks, out=tmp_path, parameters={"explode": True}, progress=lines.append
    )
    by_name = {o.name: o for o in outcomes}
    assert by_name["01_records"].ok
    failed = by_name["02_explodes"]
    assert not failed.ok
    # the message names the notebook, the cell and the error
    assert failed.message.startswith("02_explodes: cell 4 ")
    assert "raise RuntimeError" not in failed.message or "boom" in failed.message
    assert "RuntimeError: boom, as asked" in failed.message
    assert any("FAILED" in line for line in lines)
    # the earlier good report is untouched, byte for byte
    for suffix in (".ipynb", ".html", ".json"):
        name = f"02_explodes{suffix}"
        assert (tmp_path / name).read_bytes() == before[name]
    # the failed execution is kept aside for inspection, and the index says what happened
    assert (tmp_path / "failed" / "02_explodes.ipynb").exists()
    index = (tmp_path / "index.html").read_text()
    assert "failed in this run, showing the last good report" in index
    # a later good run clears the failure
    run.render(only=["02"], folder=fixture_notebooks, out=tmp_path, jobs=1)
    assert not list((tmp_path / "failed").glob("02_explodes.*"))


def test_interrupted_run_leaves_reports_as_they_were(fixture_notebooks, tmp_path, monkeypatch):
    run.render(folder=fixture_notebooks, out=tmp_path, jobs=1)
    before = snapshot(tmp_path)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "_publish", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run.render(folder=fixture_notebooks, out=tmp_path, parameters={"scale": 5.0}, jobs=1)
    after = snapshot(tmp_path)
    after.pop("index.html")
    before.pop("index.html")
    assert after == before
    assert not list(tmp_path.glob(".staging-*"))


@pytest.mark.parametrize(
    ("given", "text", "fragments"),
    [
        ({"scal": 1.0}, {}, ["unknown parameter 'scal'", "did you mean 'scale'"]),
        ({"scale": "big"}, {}, ["'scale' = 'big' has type str", "a number"]),
        ({"scale": 0.0}, {}, ["'scale' = 0.0 is out of range", "0 < value"]),
        ({}, {"scale": "eleven"}, ["'scale' = 'eleven' does not parse"]),
        ({"explode": 1}, {}, ["'explode' = 1 has type int", "true or false"]),
    ],
)
def test_bad_parameter_names_it_and_executes_nothing(
    fixture_notebooks, tmp_path, given, text, fragments
):
    out = tmp_path / "reports"
    with pytest.raises(params.ParameterError) as err:
        run.render(folder=fixture_notebooks, out=out, parameters=given, text_parameters=text)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert not out.exists()  # nothing executed, nothing written


def test_cli_bad_parameter_exits_2_and_keeps_reports(fixture_notebooks, tmp_path, capsys):
    assert cli.main(["run", "--notebooks", str(fixture_notebooks), "--out", str(tmp_path)]) == 0
    before = snapshot(tmp_path)
    code = cli.main(
        ["run", "--notebooks", str(fixture_notebooks), "--out", str(tmp_path), "-p", "scale", "-4"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "01_records: parameter 'scale' = -4.0 is out of range" in err
    assert "nothing was executed" in err
    assert snapshot(tmp_path) == before


def test_cli_failing_notebook_exits_1_naming_it(fixture_notebooks, tmp_path, capsys):
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text("explode: true\n")
    out = tmp_path / "r"
    code = cli.main(
        ["run", "--notebooks", str(fixture_notebooks), "--out", str(out), "-f", str(yaml_file)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "1 of 2 notebooks failed" in err and "02_explodes: cell 4" in err
    assert (out / "01_records.json").exists() and not (out / "02_explodes.json").exists()


def test_cli_rejects_malformed_yaml_and_unknown_notebook(fixture_notebooks, tmp_path, capsys):
    bad = tmp_path / "p.yaml"
    bad.write_text("- just\n- a list\n")
    assert cli.main(["run", "--notebooks", str(fixture_notebooks), "-f", str(bad)]) == 2
    assert "expected a mapping" in capsys.readouterr().err
    assert cli.main(["run", "--notebooks", str(fixture_notebooks), "--only", "07"]) == 2
    assert "no notebook named '07'" in capsys.readouterr().err


def test_cli_on_the_collection_rejects_bad_parameter_before_running(tmp_path):
    """The real entry point, as a user types it: wrong value, clear message, exit 2."""
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trialkit",
            "run",
            "--only",
            "02",
            "--out",
            str(out),
            "-p",
            "alpha",
            "0.7",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert "parameter 'alpha' = 0.7 is out of range" in done.stderr
    assert not out.exists()


def test_params_check_inside_a_notebook_namespace():
    spec = params.SPECS["02_what_the_paper_reports"]
    namespace = {name: p.default for name, p in spec.items()}
    assert params.check("02_what_the_paper_reports", namespace) == namespace
    namespace["fragility_test"] = "t-test"
    with pytest.raises(
        params.ParameterError, match="'fragility_test' = 't-test' is not allowed: expected one of"
    ):
        params.check("02_what_the_paper_reports", namespace)
    del namespace["alpha"]
    with pytest.raises(params.ParameterError, match="does not define alpha"):
        params.check("02_what_the_paper_reports", namespace)


def test_record_converts_to_json_and_refuses_what_it_cannot_store():
    np = pytest.importorskip("numpy")
    record("t.value", np.float64(0.25))
    record("t.special", [float("nan"), float("inf"), -float("inf")])
    assert run.RECORDED["t.value"] == 0.25 and type(run.RECORDED["t.value"]) is float
    assert run.RECORDED["t.special"] == [None, "inf", "-inf"]
    with pytest.raises(TypeError, match="record 't.bad'"):
        record("t.bad", object())
    with pytest.raises(ValueError, match="record key"):
        record("has space", 1)


def test_runner_kernels_freeze_what_each_cell_leaves_and_add_no_names(tmp_path):
    """A runner kernel moves what a cell leaves alive to the permanent generation after the
    cell (full collections then skip it), without a trace in the notebook's namespace."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import gc\nbefore = gc.get_freeze_count()"),
        nbformat.v4.new_code_cell(
            "print(before > 0, gc.get_freeze_count() >= before, "
            "sorted(k for k in globals() if not k.startswith('_')))"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    pm = run._import_papermill()
    done = pm.execute_notebook(
        str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
        kernel_manager_class=run._ipc_kernel_manager({}), shutdown_kernel="immediate",
    )  # fmt: skip
    assert [c.execution_count for c in done.cells] == [1, 2]
    names = ["In", "Out", "before", "exit", "gc", "get_ipython", "open", "quit"]
    assert done.cells[1].outputs[0]["text"] == f"True True {names}\n"


_STREAMS_AND_DISPLAYS = [
    "import sys\nfrom IPython.display import Markdown, display",
    "print('one')\ndisplay(Markdown('two'))\nprint('three')",
    "x = 1",  # writes nothing: its flushes return at once
    "print('to stderr', file=sys.stderr)",
    "for i in range(3):\n    print(i, end=' ')\n    display(Markdown(f'**{i}**'))",
    "print('the last words, no newline', end='')",
]


def _outputs(done) -> list:
    return [
        (o["output_type"], o.get("name"), o.get("text") or o.get("data", {}).get("text/markdown"))
        for cell in done.cells
        for o in cell.outputs
    ]


def test_runner_kernels_flush_only_what_was_written_and_show_the_same(tmp_path, monkeypatch):
    """The runner's kernels (``trialkit.kernel.setup``) skip the flushes of stdout and
    stderr when nothing was written: every stream output and display still arrives, in the
    same order as from a kernel without the set-up."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in _STREAMS_AND_DISPLAYS]
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "print(getattr(type(sys.stdout).flush, 'trialkit_only_when_written', False))"
        )  # fmt: skip
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    pm = run._import_papermill()

    def execute(options: tuple) -> list:
        monkeypatch.setattr(run, "_KERNEL_OPTIONS", options)
        done = pm.execute_notebook(
            str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
            kernel_manager_class=run._ipc_kernel_manager({}), shutdown_kernel="immediate",
        )  # fmt: skip
        return _outputs(done)

    with_setup = execute(run._KERNEL_OPTIONS)
    without = execute(tuple(o for o in run._KERNEL_OPTIONS if o != run._KERNEL_SETUP))
    assert with_setup[-1] == ("stream", "stdout", "True\n")
    assert without[-1] == ("stream", "stdout", "False\n")
    assert (
        with_setup[:-1]
        == without[:-1]
        == [
            ("stream", "stdout", "one\n"),
            ("display_data", None, "two"),
            ("stream", "stdout", "three\n"),
            ("stream", "stderr", "to stderr\n"),
            ("stream", "stdout", "0 "),
            ("display_data", None, "**0**"),
            ("stream", "stdout", "1 "),
            ("display_data", None, "**1**"),
            ("stream", "stdout", "2 "),
            ("display_data", None, "**2**"),
            ("stream", "stdout", "the last words, no newline"),
        ]
    )


def _capture_tasks(monkeypatch) -> list:
    """Replace the execution by a record of the jobs render hands to it (in its order)."""
    seen: list = []

    def fake_run_all(tasks, jobs):
        seen.extend(tasks)
        for t in tasks:
            yield run.Outcome(t.path.stem, True, 0.0, "", t.parameters)

    monkeypatch.setattr(run, "_run_all", fake_run_all)
    return seen


def test_the_longest_notebooks_start_first(monkeypatch, tmp_path):
    """Longest first (params.estimate_seconds), so the cores finish close together; the
    outcomes keep the order of the notebooks asked for."""
    seen = _capture_tasks(monkeypatch)
    outcomes = run.render(
        only=["02", "07", "05", "06"], out=tmp_path, progress=lambda line: None, force=True,
        site=False,
    )  # fmt: skip
    estimate = {t.path.stem: params.estimate_seconds(t.path.stem, t.parameters) for t in seen}
    assert [t.path.stem[:2] for t in seen] == ["07", "06", "02", "05"]
    assert list(estimate.values()) == sorted(estimate.values(), reverse=True)
    assert [o.name for o in outcomes] == [p.stem for p in run.notebooks(["02", "07", "05", "06"])]


def test_kernels_get_the_data_folders_validated_once(monkeypatch, tmp_path):
    """The runner validates each data folder once and hands the result to every kernel
    (schema.write_snapshot); a notebook without data gets nothing of it."""
    from trialkit import schema
    from trialkit.datafiles import SYNTHETIC_DIR

    seen = _capture_tasks(monkeypatch)
    run.render(only=["04", "05"], out=tmp_path, progress=lambda line: None, force=True,
               site=False)  # fmt: skip
    envs = {t.path.stem[:2]: t.env for t in seen}
    assert envs["04"][schema.SNAPSHOT_ENV] == envs["05"][schema.SNAPSHOT_ENV]
    seen.clear()
    run.render(only=["02"], out=tmp_path, progress=lambda line: None, force=True, site=False)
    assert schema.SNAPSHOT_ENV not in seen[0].env  # 02 reads no patient data

    # the snapshot as a kernel sees it: data/synthetic, validated
    snap = tmp_path / "snapshot.pickle"
    schema.write_snapshot([SYNTHETIC_DIR], snap)
    monkeypatch.setenv(schema.SNAPSHOT_ENV, str(snap))
    assert schema._from_snapshot(SYNTHETIC_DIR) is not None


def test_the_runner_leaves_trialkits_bytecode_up_to_date():
    """Kernels import trialkit from bytecode, even where Python writes none itself
    (PYTHONDONTWRITEBYTECODE): the runner writes what is missing or out of date."""
    import importlib.util

    run._compile_trialkit()
    package = Path(run.__file__).resolve().parent
    for source in [*package.glob("*.py"), *package.glob("stats/*.py")]:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        assert compiled.exists(), source
        assert compiled.stat().st_mtime >= source.stat().st_mtime, source
