"""Words follow numbers, and pages hold only what a reader needs.

Every notebook is rendered with its defaults (the session's run), with the non-default set
of ``tests/prose_cases.py`` (chosen to move its conclusions), and, when it takes
``data_dir``, on the bring-your-own-data fixture and on a simulated trial written to a
folder (``cohort.simulate`` + ``write_csvs``: SYNTHETIC rows, like the reconstruction's, but
not built to match the paper). For every rendering:

- every number in literal prose (Markdown cells, and the literal words of ``say``
  templates) is a fixed fact (``tests/prose_numbers.py``): stale text fails the build;
- the generated prose differs between the default and non-default renderings (the words
  really follow the numbers);
- nothing on the page is for the developer: no printed streams outside exercise
  solutions, no stderr, no raw reprs, no record lines;
- code cells a student reads are short;
- on the simulated folder, the pages call the patients simulated, never reconstructed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import TEST_PARAMETERS
from tests.prose_cases import NON_DEFAULT
from tests.prose_numbers import declared, generated_markdown, offences
from trialkit import cohort, params, run

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BYOD = ROOT / "tests" / "fixtures" / "byod"


def _refuses_byod(stem: str) -> str:
    """Why notebook ``stem`` refuses the bring-your-own-data fixture before running ("" if
    it takes it): a refusal is the designed outcome for data it cannot use."""
    try:
        params.validate(stem, {"data_dir": str(BYOD)})
    except params.ParameterError as e:
        return str(e)
    return ""


TAKES_DATA = [n for n in NOTEBOOKS if "data_dir" in params.SPECS[n] and not _refuses_byod(n)]
#: notebooks that take a simulated trial's folder (91 patients: every method can use it)
TAKES_SIMULATED = [n for n in NOTEBOOKS if "data_dir" in params.SPECS[n]]
MAX_CODE_LINES = 15

pytestmark = pytest.mark.notebooks


def _effective(stem: str, case: dict[str, Any]) -> dict[str, Any]:
    """What a notebook runs with: fast test settings, then the case."""
    spec = params.SPECS[stem]
    fast = {k: v for k, v in TEST_PARAMETERS.items() if k in spec}
    return {**fast, **case}


def _groups(cases: dict[str, dict[str, Any]]) -> list[tuple[list[str], dict[str, Any]]]:
    """Notebooks packed into runs whose shared parameter names take the same values (a
    parameter given to a run reaches every notebook that declares it)."""
    groups: list[tuple[list[str], dict[str, Any]]] = []
    for stem, case in cases.items():
        mine = {**params.defaults(stem), **_effective(stem, case)}
        for stems, given in groups:
            if all(given.get(k, v) == v for k, v in mine.items()):
                stems.append(stem)
                given.update(mine)
                break
        else:
            groups.append(([stem], dict(mine)))
    return groups


def _render(out: Path, cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    outcomes = {}
    for stems, given in _groups(cases):
        for o in run.render(
            only=stems, parameters=given, out=out, progress=lambda _: None, site=False
        ):
            outcomes[o.name] = o
    return outcomes


def _selected(request: pytest.FixtureRequest) -> list[str]:
    """The notebooks whose prose tests were selected in this session."""
    chosen = {
        stem
        for item in request.session.items
        if item.fspath and Path(str(item.fspath)).name == "test_prose.py"
        for stem in NOTEBOOKS
        if f"[{stem}" in item.name
    }
    return [n for n in NOTEBOOKS if n in chosen] or NOTEBOOKS


@pytest.fixture(scope="session")
def renderings(request: pytest.FixtureRequest, tmp_path_factory) -> dict[str, Path]:
    """Folders of executed notebooks: "default", "non-default", "byod", "simulated"."""
    stems = _selected(request)
    if set(stems) == set(NOTEBOOKS):
        default = request.getfixturevalue("reports")
    else:
        default = tmp_path_factory.mktemp("prose_default")
        _render(default, {s: {} for s in stems})
    other = tmp_path_factory.mktemp("prose_nondefault")
    _render(other, {s: NON_DEFAULT[s] for s in stems})
    byod = tmp_path_factory.mktemp("prose_byod")
    _render(byod, {s: {"data_dir": str(BYOD)} for s in stems if s in TAKES_DATA})
    drawn = tmp_path_factory.mktemp("simulated_data")
    cohort.write_csvs(cohort.simulate(seed=5), drawn)
    simulated = tmp_path_factory.mktemp("prose_simulated")
    _render(simulated, {s: {"data_dir": str(drawn)} for s in stems if s in TAKES_SIMULATED})
    return {"default": default, "non-default": other, "byod": byod, "simulated": simulated}


def _executed(folder: Path, stem: str) -> Any:
    path = folder / f"{stem}.ipynb"
    if not path.exists():
        failed = folder / "failed" / f"{stem}.json"
        message = failed.read_text()[:2000] if failed.exists() else "no report"
        pytest.fail(f"{stem} did not render in {folder.name}: {message}")
    return nbformat.read(path, as_version=4)


_RENDERED = {"byod": TAKES_DATA, "simulated": TAKES_SIMULATED}
CASES = [
    (s, r)
    for s in NOTEBOOKS
    for r in ("default", "non-default", "byod", "simulated")
    if s in _RENDERED.get(r, NOTEBOOKS)
]


@pytest.mark.parametrize(("stem", "rendering"), CASES, ids=[f"{s}-{r}" for s, r in CASES])
def test_every_prose_number_is_computed_or_a_fixed_fact(renderings, stem, rendering):
    nb = _executed(renderings[rendering], stem)
    found = offences(nb, stem)
    assert not found, f"{len(found)} number(s) in literal prose:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize("stem", NOTEBOOKS, ids=[f"{s}" for s in NOTEBOOKS])
def test_generated_prose_follows_the_parameters(renderings, stem):
    said = generated_markdown(_executed(renderings["default"], stem))
    assert said, f"{stem}: no prose is generated from the run's results (trialkit.text.say)"
    other = generated_markdown(_executed(renderings["non-default"], stem))
    assert said != other, f"{stem}: prose identical under {NON_DEFAULT[stem]}"


def _is_solution(cell: Any) -> bool:
    return "solution" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("stem", NOTEBOOKS, ids=[f"{s}" for s in NOTEBOOKS])
def test_pages_show_nothing_for_the_developer(renderings, stem):
    nb = _executed(renderings["default"], stem)
    problems = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and (o.name == "stderr" or not _is_solution(cell)):
                problems.append(f"cell {i}: printed {o.name}: {o.text[:80]!r}")
            data = o.get("data", {})
            if o.output_type in ("execute_result", "display_data") and set(data) == {"text/plain"}:
                if not _is_solution(cell):
                    problems.append(f"cell {i}: a bare repr: {data['text/plain'][:80]!r}")
            if run.MIME in data:
                problems.append(f"cell {i}: a record output on the page")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("stem", "rendering"), CASES, ids=[f"{s}-{r}" for s, r in CASES])
def test_warnings_reach_the_page_as_notes_not_stderr(renderings, stem, rendering):
    """Whatever the parameters or the data (the hand-made folder makes statsmodels and the
    MMRM warn), a warning is a note for the reader (``kernel.warnings_as_notes``), never
    Python's stderr text with a library's file path."""
    nb = _executed(renderings[rendering], stem)
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            assert not (o.output_type == "stream" and o.name == "stderr"), (
                f"cell {i}: stderr {o.text[:120]!r}"
            )
            note = o.get("data", {}).get("text/markdown", "")
            if note.startswith("**Warning**"):
                assert "site-packages" not in note and "ipykernel_" not in note, note


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_code_cells_are_short_and_fixed_numbers_have_reasons(stem):
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    declared(nb)  # raises for an entry without a reason
    long = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if "remove-input" in tags and cell.source.lstrip().startswith(("say(", "text.say(")):
            continue  # prose written from results, not code a student reads
        lines = [
            ln for ln in cell.source.splitlines() if ln.strip() and not ln.strip().startswith("#")
        ]
        if len(lines) > MAX_CODE_LINES:
            long.append(f"cell {i}: {len(lines)} lines: {lines[0][:60]!r}")
    assert not long, f"code cells over {MAX_CODE_LINES} lines:\n" + "\n".join(long)


#: words that say the patients were built to match the paper (the plural "reconstructions"
#: is the ensemble of notebook 10, built from the paper whatever the data)
_CALLED_RECONSTRUCTED = re.compile(
    r"\breconstructed (patients|data)\b|\bthe reconstruction(?!s)\b", re.IGNORECASE
)


@pytest.mark.parametrize("stem", TAKES_SIMULATED)
def test_simulated_patients_are_called_simulated_never_reconstructed(renderings, stem):
    """A simulated trial in a folder has SYNTHETIC rows, as the reconstruction has; the
    folder's provenance.json tells them apart, and every sentence written from the run
    must say which (a page once called any synthetic folder "the reconstructed patients
    of data/synthetic")."""
    nb = _executed(renderings["simulated"], stem)
    said = generated_markdown(nb)
    wrong = [
        sentence
        for md in said
        for sentence in re.split(r"(?<=[.;:])\s+", md)
        if _CALLED_RECONSTRUCTED.search(sentence) and "checked against R" not in sentence
    ]
    assert not wrong, "simulated patients called reconstructed:\n" + "\n".join(wrong)
    html = "".join(
        o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", [])
    )
    assert "simulated" in " ".join(said).lower() or "SIMULATED" in html, f"{stem}: kind never said"
    assert "data/synthetic" not in " ".join(said), f"{stem}: names the default folder"
