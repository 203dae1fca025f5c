"""Project rules: pins in step, notebooks committed clean, parameters declared once."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from trialkit import params, run

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = run.notebooks()


def _name(requirement: str) -> tuple[str, str]:
    name, _, version = re.split(r"(==|=)", requirement.split("#")[0].strip(), maxsplit=1)
    return name.strip().lower().replace("_", "-"), version.strip()


#: pip name -> conda-forge name, where they differ. conda-forge's "playwright" is the
#: Node.js tool (the Python package is playwright-python); its "matplotlib" and "dask"
#: pull in Qt and bokeh/pyarrow, the lean equivalents of the pip packages are these.
CONDA_FORGE_NAMES = {
    "playwright": "playwright-python",
    "matplotlib": "matplotlib-base",
    "dask": "dask-core",
}
#: conda-forge names that are a different package than the pip name (never to be used).
CONDA_FORGE_WRONG = {"playwright", "matplotlib", "dask"}


def test_environment_yml_pins_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(
        (CONDA_FORGE_NAMES.get(name, name), version)
        for name, version in map(
            _name, project["dependencies"] + project["optional-dependencies"]["dev"]
        )
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = dict(
        _name(d)
        for d in env["dependencies"]
        if isinstance(d, str) and d not in ("pip",) and not d.startswith("python=")
    )
    assert not CONDA_FORGE_WRONG & set(conda), "use conda-forge's names for the pip packages"
    assert conda == wanted
    assert any(isinstance(d, dict) and "-e ." in d.get("pip", []) for d in env["dependencies"])


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S)
    assert first_block, "README must open with a code block of commands"
    commands = [ln.split("#")[0].strip() for ln in first_block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_notebook_has_declared_parameters():
    assert NOTEBOOKS, "no notebooks found"
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(params.SPECS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_with_one_literal_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.outputs or c.execution_count for c in code), "strip outputs before committing"
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters' (need exactly one)"
    cell = nb.cells[tagged[0]]
    assert cell.cell_type == "code"
    values = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            "parameters cell: assignments only"
        )
        values[node.targets[0].id] = ast.literal_eval(node.value)  # literals only
    assert values == params.defaults(path.stem), (
        "parameters cell and trialkit.params.SPECS disagree"
    )
    following = next(c for c in nb.cells[tagged[0] + 1 :] if c.cell_type == "code")
    assert f'check("{path.stem}", globals())' in following.source, "validate parameters right after"
    assert run.title_of(nb), "a notebook starts with a title"
    assert nb.metadata.kernelspec.name == "python3"


# The parts a course needs (objectives, time, exercises, solutions): tests/test_course.py


@pytest.mark.notebooks
def test_figures_from_patient_data_are_captioned_synthetic(reports):
    """In notebooks that take patient data, every cell that draws passes its provenance
    (``synthetic=`` / ``provenance=``), or says in a comment that it shows no patients
    (``# no patients``: such a figure carries no synthetic label)."""
    for path in NOTEBOOKS:
        if "data_dir" not in params.SPECS[path.stem]:
            continue
        executed = nbformat.read(reports / f"{path.stem}.ipynb", as_version=4)
        for cell in executed.cells:
            draws = any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
            said = cell.source.lower()
            named = any(w in said for w in ("synthetic", "provenance", "# no patients"))
            if draws and not named:
                pytest.fail(
                    f"{path.stem}: a figure without a synthetic caption: {cell.source[:120]!r}"
                )


def test_assumptions_used_as_notebook_defaults_agree_with_the_assumptions_file():
    """An assumption a notebook exposes as a parameter has one value: the file's."""
    from trialkit import cohort

    a = cohort.assumptions()
    assert params.SPECS["10_bayesian_reanalysis"]["prior_rate"].default == a["prior_rate"].value
    assert params.SPECS["08_safety"]["population"].default == a["safety_population"].value
    assert a["cgm_denominators"].value == {"UC-MSC": 37, "Placebo": 36}
    nb07 = params.SPECS["07_missing_data_and_estimands"]
    assert {k: nb07[f"dropout_{k}"].default for k in ("mechanism", "rate", "slope")} == (
        a["teaching_dropout"].value
    )
