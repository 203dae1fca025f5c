"""A course worth adopting: every notebook has the parts a course needs, exercises that
teach, true prerequisites, and a guide whose times add up.

The conventions (``/notebooks`` cells) these tests hold every notebook to:

- header: ``**Learning objectives.**`` (a numbered list), ``**Time:** about N minutes``,
  ``**Assumes:**`` naming every earlier notebook whose methods it uses (``USES`` below);
- one ``> **Common misconception.**`` box;
- ``## Exercises``: ``**Exercise N (easy|medium|hard[, writing]).**`` each ending with
  ``*Objectives: 1, 3.*``; every objective practised; at least one writing task; 3-6
  exercises; solutions in cells tagged ``solution`` (code hidden), the last of which gives
  the answer in words (``**Answer.**``, static or written by ``text.answer``); no
  "**Solution:**" prompt cells (the student edition would leave them dangling);
- ``## Summary`` and ``## References``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))

#: Which earlier notebooks' methods each notebook uses (its "Assumes" must name them).
USES: dict[str, set[str]] = {
    "01": set(),
    "02": set(),
    "03": {"02"},
    "04": set(),
    "05": {"02", "04"},
    "06": {"04"},
    "07": {"02", "05", "06"},
    "08": {"02"},
    "09": {"02"},
    "10": {"02", "05"},
}

_EXERCISE = re.compile(r"(?m)^\*\*Exercise (\d+) \((easy|medium|hard)(, writing)?\)\.\*\*")
_OBJECTIVES = re.compile(r"\*Objectives?: ([\d ,and]+)\.?\*")


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def _header(cells: list) -> str:
    return cells[0].source


def _objectives(header: str) -> list[int]:
    part = header.split("**Learning objectives.**", 1)[1]
    block = re.split(r"\n\s*\n|\*\*Time", part, maxsplit=1)[0]
    return [int(m) for m in re.findall(r"(?m)^\s*(\d+)\.\s", block)]


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _exercises(cells: list) -> list[tuple[int, re.Match, list]]:
    """(cell index, header match, solution cells) for every exercise."""
    starts = [(i, _EXERCISE.search(c.source)) for i, c in enumerate(cells)]
    starts = [(i, m) for i, m in starts if m and cells[i].cell_type == "markdown"]
    ends = [i for i, _ in starts[1:]] + [
        next(
            (
                j
                for j, c in enumerate(cells)
                if c.cell_type == "markdown" and "## Summary" in c.source
            ),
            len(cells),
        )
    ]
    return [
        (i, m, [c for c in cells[i + 1 : end] if "solution" in _tags(c)])
        for (i, m), end in zip(starts, ends, strict=True)
    ]


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request) -> Path:
    return request.param


def test_header_has_objectives_time_and_true_prerequisites(notebook):
    header = _header(_cells(notebook))
    for part in ("**Learning objectives.**", "**Time:**", "**Assumes:**"):
        assert part in header, f"{notebook.stem}: the first cell lacks {part}"
    assert len(_objectives(header)) >= 2, "at least two numbered objectives"
    assert re.search(r"\*\*Time:\*\* about \d+ minutes", header)
    assumes = header.split("**Assumes:**", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"\b(\d\d)\b", assumes))
    missing = USES[notebook.stem[:2]] - named
    assert not missing, f"{notebook.stem}: Assumes does not name notebook(s) {sorted(missing)}"


def test_one_common_misconception_box(notebook):
    boxes = [
        c
        for c in _cells(notebook)
        if c.cell_type == "markdown" and c.source.lstrip().startswith("> **Common misconception.**")
    ]
    assert len(boxes) >= 1, f"{notebook.stem}: no '> **Common misconception.**' box"


def test_exercises_are_graded_cover_every_objective_and_include_writing(notebook):
    cells = _cells(notebook)
    exercises = _exercises(cells)
    assert 3 <= len(exercises) <= 6, f"{notebook.stem}: {len(exercises)} exercises (want 3-6)"
    numbers = [int(m.group(1)) for _, m, _ in exercises]
    assert numbers == list(range(1, len(numbers) + 1)), f"exercises numbered {numbers}"
    covered: set[int] = set()
    for i, m, _ in exercises:
        found = _OBJECTIVES.search(cells[i].source)
        assert found, f"{notebook.stem} exercise {m.group(1)}: no '*Objectives: ...*' line"
        covered |= {int(n) for n in re.findall(r"\d+", found.group(1))}
    objectives = set(_objectives(_header(cells)))
    assert objectives <= covered, (
        f"{notebook.stem}: objectives {sorted(objectives - covered)} unpractised"
    )
    assert covered <= objectives, (
        f"{notebook.stem}: exercises cite objectives {sorted(covered - objectives)}"
    )
    assert any(m.group(3) for _, m, _ in exercises), f"{notebook.stem}: no writing task"


def test_every_solution_is_hidden_and_ends_with_its_answer_in_words(notebook):
    cells = _cells(notebook)
    for _i, m, solutions in _exercises(cells):
        label = f"{notebook.stem} exercise {m.group(1)}"
        assert solutions, f"{label}: no cell tagged 'solution'"
        for cell in solutions:
            if cell.cell_type == "code":
                assert cell.metadata.get("jupyter", {}).get("source_hidden"), f"{label}: code shown"
        last = solutions[-1]
        if last.cell_type == "markdown":
            assert last.source.lstrip().startswith("**Answer.**"), f"{label}: no **Answer.**"
        else:
            assert "answer(" in last.source, f"{label}: the last solution cell gives no answer"
        if m.group(3):  # a writing task: the model answer is words
            assert any(c.cell_type == "markdown" or "answer(" in c.source for c in solutions), (
                f"{label}: a writing task without a model answer in words"
            )


def test_no_solution_prompt_cells_left_to_dangle(notebook):
    for i, cell in enumerate(_cells(notebook)):
        if cell.cell_type == "markdown" and "solution" not in _tags(cell):
            assert not re.match(r"\s*\*\*Solution", cell.source), (
                f"{notebook.stem} cell {i}: a 'Solution' prompt the student edition leaves empty"
            )


def test_summary_and_references_close_the_notebook(notebook):
    text = "\n".join(c.source for c in _cells(notebook) if c.cell_type == "markdown")
    assert "## Summary" in text and "## References" in text


def test_course_guide_times_add_up_and_name_every_notebook():
    guide = (NOTEBOOK_DIR / "COURSE.md").read_text(encoding="utf-8")
    minutes = {}
    for path in NOTEBOOKS:
        header = _header(_cells(path))
        minutes[path.stem] = int(re.search(r"\*\*Time:\*\* about (\d+) minutes", header).group(1))
        assert path.stem[:2] in guide, f"COURSE.md does not mention notebook {path.stem[:2]}"
    total = re.search(r"about (\d+(?:\.\d+)?) hours? in all|(\d+) minutes in all", guide)
    assert total, "COURSE.md states no total time ('about N hours in all')"
    stated = float(total.group(1)) * 60 if total.group(1) else float(total.group(2))
    assert abs(stated - sum(minutes.values())) <= 30, (
        f"COURSE.md says {stated:.0f} min in all; the notebooks add up to {sum(minutes.values())}"
    )
    for part in ("Learning outcomes", "Assignment", "Marking", "Windows", "macOS", "Run time"):
        assert part.lower() in guide.lower(), f"COURSE.md lacks a section on {part}"
