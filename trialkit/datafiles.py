"""Patient-level CSV files: write, read and load them; the command line of ``make data``.

``load(data_dir)`` is the notebooks' one entry point: ``""`` gives the canonical
reconstruction in ``data/synthetic``, a folder gives the analyst's own data, validated by
``trialkit.schema.read``. ``main`` is ``python -m trialkit.cohort`` (``make data``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pandas as pd

from trialkit.assumptions import ROOT

__all__ = [
    "DATASETS",
    "PROVENANCE_FILE",
    "SYNTHETIC_DIR",
    "folder_provenance",
    "load",
    "main",
    "read_csvs",
    "write_csvs",
]

#: The canonical reconstruction (``reconstruct()`` with the default seed), as CSV files.
SYNTHETIC_DIR: Final[Path] = ROOT / "data" / "synthetic"
#: Dataset names, as keys of the returned dict.
DATASETS: Final[tuple[str, ...]] = ("ADSL", "ADLB", "ADEX", "ADAE")
#: The file beside the CSV files of SYNTHETIC patients that says how they were made:
#: ``{"kind": "reconstructed" | "simulated", ...}`` (``write_csvs`` writes it). The rows
#: alone cannot tell: both kinds carry ``SYNTHETIC = "Y"``.
PROVENANCE_FILE: Final[str] = "provenance.json"
_KINDS: Final[tuple[str, ...]] = ("reconstructed", "simulated")


# =========================================================================== files
def write_csvs(data: Mapping[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write the datasets as ``ADSL.csv``, ``ADLB.csv``, ``ADEX.csv``, ``ADAE.csv``, and
    ``provenance.json`` (``PROVENANCE_FILE``): how the patients were made, "reconstructed"
    or "simulated" (``trialkit.text.provenance_of`` of ADSL), so that whoever reads the
    folder says which.

    Rows as given (``simulate``/``reconstruct`` sort them by subject, parameter, visit),
    numbers as recorded (``%.10g``: 9.1, 46, 3.12), "\\n" line ends: the same data give
    the same bytes. Refuses tables without a SYNTHETIC column, and SYNTHETIC tables whose
    kind is not known (before writing anything).
    """
    from trialkit.text import PROVENANCE, provenance_of

    for name in DATASETS:
        if "SYNTHETIC" not in data[name].columns:
            raise ValueError(f"{name}: refusing to write data without a SYNTHETIC column")
    kind = provenance_of(data["ADSL"])
    if kind not in _KINDS:
        raise ValueError(
            f"refusing to write SYNTHETIC data whose provenance is {kind!r}: set "
            f"ADSL.attrs['provenance_kind'] to one of {', '.join(_KINDS)}"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DATASETS:
        path = folder / f"{name}.csv"
        data[name].to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
        paths.append(path)
    marker = folder / PROVENANCE_FILE
    about = {"kind": kind, "meaning": PROVENANCE[kind]}
    marker.write_text(json.dumps(about, indent=2) + "\n", encoding="utf-8", newline="\n")
    return [*paths, marker]


def folder_provenance(folder: str | Path, tables: Mapping[str, pd.DataFrame]) -> str | None:
    """How the patients of a data folder were made: "reconstructed" or "simulated" for
    SYNTHETIC patients (every row of every table has ``SYNTHETIC = "Y"``), from the
    folder's ``provenance.json``; None for real patients (no table so marked).

    ``tables`` are the folder's tables as read (``trialkit.schema.read``). Raises
    ``trialkit.schema.DatasetError``, naming the folder and the file, when the folder
    contradicts itself or does not say: some tables marked SYNTHETIC and others not;
    SYNTHETIC tables without ``provenance.json`` (a page would have to guess what they
    are); a ``provenance.json`` that is unreadable, names another kind, or sits beside
    tables not marked SYNTHETIC.
    """
    from trialkit.schema import DatasetError, Problem

    folder = Path(folder)
    marked = {
        name: bool("SYNTHETIC" in df.columns and (df["SYNTHETIC"] == "Y").all())
        for name, df in tables.items()
    }
    marker = folder / PROVENANCE_FILE

    def refuse(message: str, source: str = PROVENANCE_FILE) -> DatasetError:
        return DatasetError([Problem("data folder", f"{folder}: {message}", source=source)])

    if not any(marked.values()):
        if marker.is_file():
            raise refuse(
                f"{PROVENANCE_FILE} says the patients are synthetic, but no table has "
                'SYNTHETIC = "Y" in every row: remove the file for real patients'
            )
        return None
    if not all(marked.values()):
        yes = [f"{n}.csv" for n, m in marked.items() if m]
        no = [f"{n}.csv" for n, m in marked.items() if not m]
        raise refuse(
            f'{", ".join(yes)} mark every row SYNTHETIC = "Y" but {", ".join(no)} do not: '
            "a folder holds either synthetic or real patients",
            source=", ".join(no),
        )
    if not marker.is_file():
        raise refuse(
            f'every table is marked SYNTHETIC = "Y", but {PROVENANCE_FILE}, which says how '
            "the patients were made, is missing (trialkit.cohort.write_csvs writes it). Add "
            f'{PROVENANCE_FILE} holding {{"kind": "reconstructed"}} or {{"kind": "simulated"}}, '
            "or, for real patients, drop the SYNTHETIC column"
        )
    try:
        kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError) as e:
        raise refuse(f'{PROVENANCE_FILE} is not a JSON object with a "kind" ({e})') from None
    if kind not in _KINDS:
        expected = " or ".join(f'"{k}"' for k in _KINDS)
        raise refuse(f'"kind" is {kind!r} in {PROVENANCE_FILE}; expected {expected}')
    return str(kind)


def read_csvs(folder: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read and validate a data folder (default: the canonical ``data/synthetic``) with
    ``trialkit.schema.read``. SYNTHETIC patients (written by ``write_csvs``) get
    ``attrs["synthetic"] = True`` and ``attrs["provenance_kind"]`` from the folder's
    ``provenance.json`` (``folder_provenance``, which refuses a folder that does not say);
    every table gets a provenance naming its file."""
    from trialkit import schema

    folder = Path(folder) if folder is not None else SYNTHETIC_DIR
    out = schema.read(folder)
    kind = folder_provenance(folder, out)
    for name, df in out.items():
        df.attrs["synthetic"] = kind is not None
        if kind is not None:
            df.attrs["provenance_kind"] = kind
        df.attrs["provenance"] = f"read from {folder / (name + '.csv')}"
    return out


def load(data_dir: str = "") -> dict[str, pd.DataFrame]:
    """The patient-level datasets a notebook analyses: the one entry point for notebooks.

    ``data_dir = ""`` (the default of every notebook's ``data_dir`` parameter) gives the
    canonical SYNTHETIC reconstruction read from ``data/synthetic`` (``SYNTHETIC_DIR``):
    every table has the column ``SYNTHETIC = "Y"``, ``attrs["synthetic"] = True`` and a
    provenance naming the file. A folder gives the analyst's own data, read and validated
    by ``trialkit.schema.read(folder)`` (ADSL, ADLB, ADEX required; ADAE if present), with
    ``attrs["synthetic"] = False`` unless a table carries ``SYNTHETIC = "Y"`` in every row.

    Returns ``{"ADSL": ..., "ADLB": ..., "ADEX": ..., ["ADAE": ...]}``. Raises
    ``trialkit.schema.DatasetError`` (a ValueError) listing every problem, naming the file,
    column and rows, when the folder does not meet the dataset contracts; the files are only
    read, never changed.
    """
    if not isinstance(data_dir, str | os.PathLike):
        raise ValueError(f'data_dir must be a folder path or "", got {data_dir!r}')
    if str(data_dir) == "":
        return read_csvs(SYNTHETIC_DIR)
    return read_csvs(Path(data_dir))


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    cells = [
        [("" if pd.isna(v) else str(v)).replace("|", "\\|") for v in row]
        for row in df.itertuples(index=False)
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines)


_DICTIONARY: Final[str] = """\
## Files and columns

Every file has the column `SYNTHETIC` = `Y`; `provenance.json` says how the patients were
made (`"kind": "reconstructed"`), which the rows alone cannot tell (a trial drawn by
`trialkit.cohort.simulate` and written with `write_csvs` says `"simulated"`). Missing
visits are absent rows (there are no empty values except `DCSREAS` of patients who
completed). Read them with `trialkit.cohort.read_csvs()` or
`trialkit.schema.read("data/synthetic")` (or `pandas.read_csv(path, keep_default_na=False)`).

**ADSL.csv**: one row per patient.

| column | meaning |
|---|---|
| USUBJID | synthetic patient id (`SYN-001` ...), in random order of the arms |
| ARM | `UC-MSC` or `Placebo` |
| RANDFL | randomized (`Y` for all) |
| FASFL | analysed: week-48 HbA1c and insulin dose present (assumption `analysis_set`) |
| PPSFL | per protocol: here equal to FASFL (no deviations are generated) |
| AGE | age, whole years (eligibility 20-65) |
| SEX | `M` / `F` |
| WEIGHT | body weight, kg (0.1) |
| BMI | body-mass index, kg/m2 (0.1; eligibility 24.0-40.0) |
| DIABDUR | diabetes duration, years (0.1; eligibility <= 20) |
| DCSREAS | why the patient left the study; empty if completed |

**ADLB.csv**: one row per patient, parameter and visit.

| column | meaning |
|---|---|
| PARAMCD | `HBA1C` HbA1c, % (NGSP; 0.1) |
| | `FPG` fasting plasma glucose, mmol/L (0.1) |
| | `GIR` glucose infusion rate of the clamp, mg/min/kg (0.01) |
| | `CPEP` fasting C-peptide, ng/mL (0.01) |
| AVISIT | `Baseline` or `Week N` |
| AVISITN | week: 0, 4, 8, 12, 24, 36, 48 (GIR: 0, 48; CPEP: 0, 12, 24, 48) |
| ADY | study day: day 1 = first infusion; baseline days -7..1 (no day 0); then 7 x week + 1 +- 3 |
| AVAL | the value, in the unit of PARAMCD |

**ADEX.csv**: as ADLB.csv, with PARAMCD `INSDOSE` = total daily insulin dose, U/day
(whole units), at every visit.

**ADAE.csv**: one row per adverse event (entirely assumed; see below).

| column | meaning |
|---|---|
| AEDECOD | preferred term |
| AEBODSYS | system organ class |
| AESEV | `MILD`, `MODERATE`, `SEVERE` |
| AESER | serious (`Y`/`N`) |
| AREL | `RELATED` / `NOT RELATED` to study treatment |
| ASTDY | study day of onset |
| TRTEMFL | treatment-emergent (`Y` from day 1 on; `N` for events during screening) |
"""


def _readme(data: Mapping[str, pd.DataFrame], seed: int) -> str:
    from trialkit.compare import compare_with_published  # only here: load stays light

    cmp = compare_with_published(data)
    cols = ["quantity", "arm", "timepoint", "statistic", "reported", "reconstructed", "matches"]
    shown = cmp[[*cols, "note"]].copy()
    shown["matches"] = shown["matches"].map({True: "yes", False: "**no**"}).fillna("n/a")
    counts = ", ".join(f"{n}.csv {len(data[n])} rows" for n in DATASETS)
    attempts = data["ADSL"].attrs.get("attempts", "")
    return f"""\
# SYNTHETIC patients: NOT the trial's data

**Every row in this folder is SYNTHETIC.** The individual patient data of Zang et al.
(2022, Stem Cell Res Ther 13:180; NCT02302599) are not public. These files were made by
a computer so that they reproduce the summaries the paper publishes, at their printed
precision, and nothing more: any per-patient value, any visit between baseline and week
48, any correlation, every adverse event and every dropout reason is an assumption
(`data/assumptions.yaml`) or chance. Do not cite them as trial results.

Made by:

    python -m trialkit.cohort       # trialkit.cohort.reconstruct(seed={seed}), then write_csvs

(`python -m trialkit.cohort --check` regenerates into a temporary folder and compares the
bytes.) The method (moment matching, forcing the composite counts, SPRITE-like discrete
repair, rejection on the printed p-value bounds) is described in `trialkit/cohort.py`;
this data set needed {attempts} draw(s). Other seeds give other, equally matching data sets
(`trialkit.cohort.ensemble`), which shows what the paper leaves open.

Files: {counts}.

{_DICTIONARY}
## What matches the paper

Recomputed from these files by `trialkit.cohort.compare_with_published` (ordinary
formulas over the analysed patients, rounded as printed; p-values with the tests named
in the notes, which the paper does not state). Rows marked **no** are not matched: for
the HbA1c decreases and the placebo within-group p no data set can match them with the
printed means and SDs; the between-group p = 0.0081 is not forced. The notes say why.

{_md_table(shown)}
"""


def main(argv: list[str] | None = None) -> int:
    """``python -m trialkit.cohort [--out DIR] [--seed N] [--check]``: write the canonical
    reconstruction (default ``data/synthetic``); ``--check`` compares instead of writing."""
    import filecmp
    import tempfile

    from trialkit.reconstruct import reconstruct  # only here: load stays light

    ap = argparse.ArgumentParser(
        prog="python -m trialkit.cohort",
        description="Write the SYNTHETIC reconstruction of Zang et al. 2022 as CSV files.",
    )
    ap.add_argument(
        "--out", type=Path, default=SYNTHETIC_DIR, help="folder (default data/synthetic)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of reconstruct() (default 0)")
    ap.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = ap.parse_args(argv)

    def build(folder: Path) -> list[Path]:
        t0 = time.perf_counter()
        data = reconstruct(seed=args.seed)
        paths = write_csvs(data, folder)
        readme = folder / "README.md"
        readme.write_text(_readme(data, args.seed), encoding="utf-8", newline="\n")
        print(f"reconstruct(seed={args.seed}) in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
        return [*paths, readme]

    if not args.check:
        for p in build(args.out):
            print(f"wrote {p}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build(Path(tmp))
        bad = [
            p.name
            for p in fresh
            if not (args.out / p.name).is_file()
            or not filecmp.cmp(p, args.out / p.name, shallow=False)
        ]
    if bad:
        print(f"differs from {args.out}: {', '.join(bad)}", file=sys.stderr)
        return 1
    print(f"{args.out}: identical")
    return 0
