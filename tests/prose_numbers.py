"""Stale-prose detector: every number a reader reads was computed by the run, or is a
fixed fact.

A notebook's prose is of two kinds:

- **generated**: Markdown displayed by ``trialkit.text.say`` from the run's values. Its
  fields (``{expr}``) are computed by construction; its *literal* words (the template,
  kept in the output's metadata) are checked like static prose.
- **static**: Markdown cells. Every number in them must be a fixed fact:
  a number the paper/registry printed (``data/published/facts.csv`` and the reference
  ``data/published/zang2022-published.md``), or a number the notebook declares fixed in
  its metadata, ``metadata["trialkit"]["fixed_numbers"] = {"3": "three infusions", ...}``
  (the reason is required and reviewed).

Not counted as prose numbers: numbers glued to letters (HbA1c, E9(R1), 2x2), years
(1900-2099), list enumerators, numbered headings, cross-references ("notebook 05",
"Exercise 2", "section 3", "item 13b"), code spans, fenced code, TeX ($...$), URLs and
DOIs, and the References section.

Command line: ``python tests/prose_numbers.py EXECUTED.ipynb ...`` prints offences.
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "data" / "published"

_NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:[.,]\d+)*(?![A-Za-z_\d])")
_STRIP = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"`[^`\n]*`"),  # code spans
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]", re.S),
    re.compile(r"https?://\S+|doi:\S+|10\.\d{4,}/\S+"),
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # html tags and their attributes
    re.compile(r"\{[^{}]*\}"),  # say() fields (in templates) and roles
    re.compile(r"(?m)^\s*(?:[-*]\s+)?\d+[.)]\s"),  # list enumerators
    re.compile(r"(?m)^#+\s*\d+(?:\.\d+)*\.?"),  # numbered headings
    re.compile(r"\b(?:19|20)\d\d[a-z]?\b"),  # years
    re.compile(
        r"(?i)\b(?:notebooks?|exercises?|sections?|§|items?|objectives?|parts?|chapter|"
        r"step|table|figure|cell|ich e9|consort):?\s*\d+[a-z]?"
        r"(?:\s*(?:,|and|or|to|-|–)\s*\d+[a-z]?)*"
    ),
    re.compile(r"\b\d{2}_[a-z_]+"),  # notebook file names
    re.compile(r"\*\*Time:\*\*[^.\n]*"),  # a notebook's teaching time
]


@dataclass(frozen=True)
class Offence:
    """A number in literal prose that is neither computed nor a declared fixed fact."""

    notebook: str
    cell: int
    number: str
    context: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell}: {self.number!r} in …{self.context}…"


def numbers(markdown: str) -> list[tuple[str, str]]:
    """(number, context) for every prose number in ``markdown`` (see module docstring)."""
    text = re.split(r"(?m)^#+\s*References\s*$", markdown)[0]
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    found = []
    for m in _NUMBER.finditer(text):
        context = text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
        found.append((m.group(0), context))
    return found


def _value(token: str) -> float | None:
    try:
        return round(float(token.replace(",", "")), 9)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def published_numbers() -> frozenset[float]:
    """Every number the paper and the registry printed, as values."""
    texts = [(PUBLISHED / "zang2022-published.md").read_text(encoding="utf-8")]
    with (PUBLISHED / "facts.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            texts += [row["value"] or "", row["text"] or ""]
    values = set()
    for t in texts:
        for m in re.finditer(r"\d+(?:\.\d+)?", t):
            v = _value(m.group(0))
            if v is not None:
                values.add(v)
    return frozenset(values)


def declared(nb: Any) -> dict[float, str]:
    """The notebook's declared fixed numbers (value -> reason); reasons must be given."""
    raw = nb.metadata.get("trialkit", {}).get("fixed_numbers", {})
    out = {}
    for token, reason in raw.items():
        value = _value(str(token))
        if value is None or not str(reason).strip():
            raise ValueError(f"fixed_numbers entry {token!r}: a number with a reason is required")
        out[value] = str(reason)
    return out


def literal_prose(nb: Any) -> list[tuple[int, str]]:
    """(cell index, literal Markdown) of every static Markdown cell and every ``say``
    template in an executed notebook."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            out.append((i, cell.source))
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("trialkit", {})
            if "template" in meta:
                out.append((i, meta["template"]))
    return out


def offences(nb: Any, name: str) -> list[Offence]:
    """Every number in ``nb``'s literal prose that is not a fixed fact."""
    fixed = published_numbers() | set(declared(nb))
    found = []
    for i, source in literal_prose(nb):
        for token, context in numbers(source):
            if _value(token) not in fixed:
                found.append(Offence(name, i, token, context))
    return found


def generated_markdown(nb: Any) -> list[str]:
    """The Markdown ``say`` displayed in an executed notebook."""
    return [
        output["data"]["text/markdown"]
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "template" in output.get("metadata", {}).get("trialkit", {})
    ]


def main(paths: list[str]) -> int:
    import nbformat

    bad = 0
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        for o in offences(nb, Path(p).stem):
            print(o)
            bad += 1
    print(f"{bad} stale-prose number(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
