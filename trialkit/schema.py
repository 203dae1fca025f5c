"""The dataset contracts, and the checks that enforce them.

Every table that reaches an analysis, whether made by ``trialkit.cohort`` or brought by an
analyst, has the columns below and passes :func:`validate`. :func:`read` loads a folder of
CSV files and validates everything, including the links between the tables, before it
returns anything.

Visit schedule (an assumption of this project: the paper publishes none)
--------------------------------------------------------------------------
- Visits at weeks ``VISITS`` = 0, 4, 8, 12, 24, 36, 48 (``AVISITN``). ``AVISIT`` is
  ``"Baseline"`` for week 0 and ``"Week N"`` otherwise (``VISIT_LABELS``).
- Study day ``ADY``: day 1 is the day of the first infusion (week 0); the day before is
  day -1 (there is no day 0, as in CDISC). The target day of week ``w`` is ``7 * w + 1``
  (:func:`target_day`): Baseline day 1, Week 4 day 29, ..., Week 48 day 337.
- Infusions at weeks ``INFUSION_WEEKS`` = 0, 4, 8 (published: 3 infusions 4 weeks apart).

Datasets (column, type, meaning; *optional* columns may be absent, any other column is an
error)
-----------------------------------------------------------------------------------------
ADSL, one row per subject, key ``USUBJID``:
    USUBJID str (text even if it looks like a number) | ARM "UC-MSC" or "Placebo" |
    RANDFL, FASFL, PPSFL "Y"/"N" (randomized, full analysis set, per-protocol set; FAS
    implies randomized, PPS implies FAS) | AGE int, years | SEX "M"/"F" | WEIGHT float, kg at
    baseline | BMI float, kg/m2 | DIABDUR float, years since diagnosis | DCSREAS str, "" if
    the subject completed, else why they left ("Withdrew consent", "Lost to follow-up",
    "Adverse event", ...) | *SYNTHETIC* "Y" in every row of a synthetic table.

ADLB, one row per subject x parameter x record, key ``USUBJID, PARAMCD, ADY`` (one value
per parameter per study day):
    USUBJID | PARAMCD: HBA1C (% NGSP), FPG (fasting plasma glucose, mmol/L), GIR (glucose
    infusion rate in a clamp, mg/min/kg), CPEP (fasting C-peptide, ng/mL) | AVISIT str |
    AVISITN int, week | ADY int, study day | AVAL float, the value in ``UNITS[PARAMCD]``.
    Derived by ``trialkit.derive`` (optional here): *ABLFL* "Y"/"" (baseline record) |
    *BASE* float | *CHG* float, AVAL - BASE | *PCHG* float, 100 * CHG / BASE |
    *ANL01FL* "Y"/"" (the record analysed at its visit) | *SYNTHETIC*.
    AVISIT and AVISITN are optional as a pair: data with study days only get them from
    ``derive.visit_windows``.

ADEX, same shape and key as ADLB, PARAMCD INSDOSE only: total daily insulin dose, U/day,
    >= 0.

ADAE, one row per adverse event, no key (two identical events are allowed); optional in a
data folder:
    USUBJID | AEDECOD str, preferred term | AEBODSYS str, body system | AESEV "MILD",
    "MODERATE", "SEVERE" | AESER "Y"/"N" (serious) | AREL "RELATED"/"NOT RELATED" |
    ASTDY int, study day of onset | TRTEMFL "Y"/"N" (treatment-emergent) | *SYNTHETIC*.

ADRESP, built by ``derive.responders``, one row per subject x criterion, key
``USUBJID, PARAMCD``:
    USUBJID | ARM | PARAMCD: HBA1CLT7 (HbA1c below the cut-off at the visit), INSRED50
    (daily insulin dose reduced by at least the cut-off from baseline), RESP (both) |
    PARAM str, the rule in words with the thresholds and the missing-data rule used |
    AVALC "Y"/"N", or "" when the subject is left out (complete-case) | AVAL float, 1/0,
    NaN when AVALC is "" | DTYPE how the value was obtained: "" observed at the visit,
    "LOCF", "BOCF", "NRI" (missing, counted as not met), "EXCLUDED" (missing,
    complete-case); the composite joins its components' types with "+" | SRCDOM "ADLB",
    "ADEX", or "ADRESP" for the composite, "" when no record was used | SRCPARAM the source
    PARAMCD (HBA1C, INSDOSE; "HBA1CLT7+INSRED50" for RESP) | SRCVISIT the AVISIT of the
    record used ("" if none) | SRCADY Int64, its study day | SRCVAL float, its AVAL |
    BASE float, its baseline | PCHG float, its percent change (insulin) | *SYNTHETIC*.
    ``USUBJID + SRCPARAM + SRCADY`` is the key of the source record in ADLB/ADEX.

Missing values
--------------
A measurement that was not made is an *absent row* in ADLB/ADEX, never a row with an empty
AVAL: AVAL must not be missing. (``derive`` still skips missing AVALs if a frame that was not
validated has some.) BASE, CHG and PCHG may be missing (no baseline; baseline 0). Text
columns whose "no" is empty (DCSREAS, ABLFL, ANL01FL and ADRESP's AVALC, DTYPE, SRC*) hold
"", never a missing value; :func:`validate` turns missing values there into "".

Checks
------
:func:`validate` reports, in plain words, with the rows at fault (row labels, or line
numbers of the file, and USUBJIDs): missing and extra columns; values of the wrong type
(text in a number column, fractions in a whole-number column); missing values; duplicate
keys; codes outside their lists (ARM, flags, PARAMCD, ...); values outside physical ranges
(``RANGES``); HbA1c in mmol/mol, glucose in mg/dL or C-peptide in pmol/L instead of this
project's units; visits not in the schedule, and AVISIT labels that do not match AVISITN;
study day 0; negative insulin doses; more than one baseline or analysis record per visit.
:func:`validate_all` and :func:`read` add the cross-dataset rule: every subject of ADLB,
ADEX and ADAE is in ADSL.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pandera is imported the first time something validates
    import pandera.pandas as pa

__all__ = [
    "ARMS",
    "DATASETS",
    "INFUSION_WEEKS",
    "KEYS",
    "LABELS",
    "RANGES",
    "SCHEMAS",  # noqa: F822 - module __getattr__ builds it on first access
    "SNAPSHOT_ENV",
    "UNITS",
    "VISITS",
    "VISIT_LABELS",
    "DataWarning",
    "DatasetError",
    "Problem",
    "columns",
    "read",
    "target_day",
    "validate",
    "usable",
    "validate_all",
    "warnings_of",
    "window",
    "window_week",
    "write_snapshot",
]

# ---------------------------------------------------------------------------------------
# Constants others import
# ---------------------------------------------------------------------------------------

VISITS: tuple[int, ...] = (0, 4, 8, 12, 24, 36, 48)
"""Scheduled visits, in weeks since the first infusion (an assumption of the project)."""

VISIT_LABELS: dict[int, str] = {w: "Baseline" if w == 0 else f"Week {w}" for w in VISITS}
"""AVISIT label of each scheduled AVISITN."""

INFUSION_WEEKS: tuple[int, ...] = (0, 4, 8)
"""Weeks of the three infusions (published: 3 infusions, 4 weeks apart)."""

ARMS: tuple[str, ...] = ("UC-MSC", "Placebo")
"""The two arms, spelled as in ADSL.ARM."""

UNITS: dict[str, str] = {
    "HBA1C": "%",
    "FPG": "mmol/L",
    "GIR": "mg/min/kg",
    "CPEP": "ng/mL",
    "INSDOSE": "U/day",
}
"""Unit of AVAL for each PARAMCD (HbA1c in % NGSP, not mmol/mol)."""

LABELS: dict[str, str] = {
    "HBA1C": "HbA1c (%)",
    "FPG": "Fasting plasma glucose (mmol/L)",
    "GIR": "Glucose infusion rate (mg/min/kg)",
    "CPEP": "Fasting C-peptide (ng/mL)",
    "INSDOSE": "Total daily insulin dose (U/day)",
}
"""A label with unit for each PARAMCD, for tables and axes."""

RANGES: dict[str, tuple[float, float]] = {
    "HBA1C": (3.0, 20.0),
    "FPG": (1.0, 40.0),
    "GIR": (0.0, 30.0),
    "CPEP": (0.0, 20.0),
    "INSDOSE": (0.0, 500.0),
    "AGE": (18, 100),
    "WEIGHT": (30.0, 250.0),
    "BMI": (12.0, 70.0),
    "DIABDUR": (0.0, 80.0),
}
"""Physically plausible ranges (inclusive) by PARAMCD (AVAL) or ADSL column. They catch
typing and unit errors; they are wider than the trial's eligibility criteria on purpose."""

KEYS: dict[str, tuple[str, ...]] = {
    "ADSL": ("USUBJID",),
    "ADLB": ("USUBJID", "PARAMCD", "ADY"),
    "ADEX": ("USUBJID", "PARAMCD", "ADY"),
    "ADAE": (),
    "ADRESP": ("USUBJID", "PARAMCD"),
}
"""Columns that identify a row of each dataset (ADAE has none)."""

PARAMCDS: dict[str, tuple[str, ...]] = {
    "ADLB": ("HBA1C", "FPG", "GIR", "CPEP"),
    "ADEX": ("INSDOSE",),
    "ADRESP": ("HBA1CLT7", "INSRED50", "RESP"),
}

DTYPES: tuple[str, ...] = ("", "LOCF", "BOCF", "NRI", "EXCLUDED")
"""ADRESP.DTYPE values (a composite joins its components' with "+")."""


def target_day(week: float) -> float:
    """Target study day of a visit: ``7 * week + 1`` (day 1 = first infusion)."""
    return 7 * week + 1


# ---------------------------------------------------------------------------------------
# Column lists. Kinds: "id"/"code" text, never empty; "text" text, "" allowed;
# "int" whole number; "float" number; "float?" number or missing; "Int64?" whole or missing.
# ---------------------------------------------------------------------------------------

_REQ, _OPT = True, False

_LAB_COLUMNS: dict[str, tuple[str, bool]] = {
    "USUBJID": ("id", _REQ),
    "PARAMCD": ("code", _REQ),
    "AVISIT": ("code", _OPT),
    "AVISITN": ("int", _OPT),
    "ADY": ("int", _REQ),
    "AVAL": ("float", _REQ),
    "ABLFL": ("text", _OPT),
    "BASE": ("float?", _OPT),
    "CHG": ("float?", _OPT),
    "PCHG": ("float?", _OPT),
    "ANL01FL": ("text", _OPT),
    "SYNTHETIC": ("code", _OPT),
}

_COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {
    "ADSL": {
        "USUBJID": ("id", _REQ),
        "ARM": ("code", _REQ),
        "RANDFL": ("code", _REQ),
        "FASFL": ("code", _REQ),
        "PPSFL": ("code", _REQ),
        "AGE": ("int", _REQ),
        "SEX": ("code", _REQ),
        "WEIGHT": ("float", _REQ),
        "BMI": ("float", _REQ),
        "DIABDUR": ("float", _REQ),
        "DCSREAS": ("text", _REQ),
        "SYNTHETIC": ("code", _OPT),
    },
    "ADLB": dict(_LAB_COLUMNS),
    "ADEX": dict(_LAB_COLUMNS),
    "ADAE": {
        "USUBJID": ("id", _REQ),
        "AEDECOD": ("code", _REQ),
        "AEBODSYS": ("code", _REQ),
        "AESEV": ("code", _REQ),
        "AESER": ("code", _REQ),
        "AREL": ("code", _REQ),
        "ASTDY": ("int", _REQ),
        "TRTEMFL": ("code", _REQ),
        "SYNTHETIC": ("code", _OPT),
    },
    "ADRESP": {
        "USUBJID": ("id", _REQ),
        "ARM": ("code", _REQ),
        "PARAMCD": ("code", _REQ),
        "PARAM": ("code", _REQ),
        "AVALC": ("text", _REQ),
        "AVAL": ("float?", _REQ),
        "DTYPE": ("text", _REQ),
        "SRCDOM": ("text", _REQ),
        "SRCPARAM": ("text", _REQ),
        "SRCVISIT": ("text", _REQ),
        "SRCADY": ("Int64?", _REQ),
        "SRCVAL": ("float?", _REQ),
        "BASE": ("float?", _REQ),
        "PCHG": ("float?", _REQ),
        "SYNTHETIC": ("code", _OPT),
    },
}

DATASETS: tuple[str, ...] = tuple(_COLUMNS)
"""Names of the datasets with a contract."""


def columns(name: str, *, optional: bool = True) -> list[str]:
    """The columns of dataset ``name`` in their canonical order (required ones only when
    ``optional=False``)."""
    spec = _COLUMNS[_dataset_name(name)]
    return [c for c, (_, req) in spec.items() if req or optional]


# ---------------------------------------------------------------------------------------
# Problems and the error
# ---------------------------------------------------------------------------------------

_SHOW_ROWS = 5


@dataclass
class Problem:
    """One fault: where (dataset, file, column), what (message), which rows."""

    dataset: str
    message: str
    column: str | None = None
    rows: list[str] = field(default_factory=list)  # "line 5 (USUBJID '003', AVAL 45)"
    n_rows: int = 0
    source: str | None = None

    def __str__(self) -> str:
        where = self.dataset + (f" ({self.source})" if self.source else "")
        if self.column:
            where += f", column {self.column}"
        text = f"{where}: {self.message}"
        if self.n_rows:
            shown = "; ".join(self.rows)
            more = (
                f"; and {self.n_rows - len(self.rows)} more" if self.n_rows > len(self.rows) else ""
            )
            text += f" [{self.n_rows} row{'s' if self.n_rows != 1 else ''}: {shown}{more}]"
        return text


class DatasetError(ValueError):
    """A dataset (or a data folder) breaks its contract. ``problems`` lists every fault
    found; the message names the dataset or file, the column and the rows of each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        names = sorted({p.source or p.dataset for p in self.problems})
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in {', '.join(names)}:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


# ---------------------------------------------------------------------------------------
# Row rules (the value checks), written once and used as pandera checks
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    column: str  # the column the message is about
    message: str  # plain words; unique within a dataset
    ok: Callable[[pd.DataFrame], pd.Series]  # True where the row is fine
    hint: Callable[[pd.Series], str] | None = None  # extra words from the failing values


def _has(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df.columns for c in cols)


def _true(df: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=df.index)


def _isin(col: str, allowed: tuple[str, ...], what: str | None = None, hint: bool = False):
    words = ", ".join(repr(a) for a in allowed)
    message = f"{what or col} must be one of {words} (exact spelling and case)"

    def ok(df: pd.DataFrame) -> pd.Series:
        if col not in df.columns:
            return _true(df)
        return df[col].isin(allowed) | df[col].isna()

    def did_you_mean(bad: pd.Series) -> str:
        tips = []
        for v in pd.unique(bad.dropna().astype(str)):
            near = [a for a in allowed if a.lower() == v.strip().lower()]
            near = near or difflib.get_close_matches(v, allowed, n=1)
            if near:
                tips.append(f"{v!r} -> {near[0]!r}?")
        return ("did you mean " + ", ".join(tips)) if tips else ""

    return _Rule(col, message, ok, did_you_mean if hint else None)


def _nonempty(col: str) -> _Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        if col not in df.columns:
            return _true(df)
        return df[col].isna() | (df[col].astype(str).str.strip() != "")

    return _Rule(col, f"{col} is empty", ok)


def _between(col: str, low: float, high: float, unit: str, what: str | None = None) -> _Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        if col not in df.columns:
            return _true(df)
        x = df[col]
        return x.isna() | x.between(low, high)

    return _Rule(
        col, f"{what or col} outside the plausible range {low:g}-{high:g} {unit}".rstrip(), ok
    )


def _paramcd_median(df: pd.DataFrame, paramcd: str) -> float:
    x = df.loc[df["PARAMCD"] == paramcd, "AVAL"]
    return float(x.median()) if x.notna().any() else float("nan")


# Wrong units, recognized from the median of a parameter: (paramcd, median above, message)
_UNIT_SLIPS: tuple[tuple[str, float, str], ...] = (
    (
        "HBA1C",
        20.0,
        "HBA1C values look like mmol/mol (IFCC); this project expects % (NGSP): "
        "% = mmol/mol / 10.929 + 2.15",
    ),
    (
        "FPG",
        40.0,
        "FPG values look like mg/dL; this project expects mmol/L: mmol/L = mg/dL / 18.016",
    ),
    (
        "CPEP",
        20.0,
        "CPEP values look like pmol/L; this project expects ng/mL: ng/mL = pmol/L / 331",
    ),
)


def _unit_slip(paramcd: str, above: float) -> Callable[[pd.DataFrame], pd.Series]:
    """Rows of a parameter recorded in the wrong unit: the parameter's median is above
    ``above``; the rows reported are those above the physical range."""

    def bad(df: pd.DataFrame) -> pd.Series:
        if not _has(df, "PARAMCD", "AVAL") or not _paramcd_median(df, paramcd) > above:
            return ~_true(df)
        return (df["PARAMCD"] == paramcd) & (df["AVAL"] > RANGES[paramcd][1])

    return bad


def _lab_range(paramcd: str, slip: Callable[[pd.DataFrame], pd.Series] | None) -> _Rule:
    low, high = RANGES[paramcd]

    def ok(df: pd.DataFrame) -> pd.Series:
        if not _has(df, "PARAMCD", "AVAL"):
            return _true(df)
        fine = (df["PARAMCD"] != paramcd) | df["AVAL"].isna() | df["AVAL"].between(low, high)
        return fine | (slip(df) if slip else False)

    unit = UNITS[paramcd]
    return _Rule("AVAL", f"{paramcd} outside the physical range {low:g}-{high:g} {unit}", ok)


def _visit_rules() -> list[_Rule]:
    sched = ", ".join(str(w) for w in VISITS)

    def in_schedule(df: pd.DataFrame) -> pd.Series:
        if "AVISITN" not in df.columns:
            return _true(df)
        return df["AVISITN"].isna() | df["AVISITN"].isin(VISITS)

    def label(df: pd.DataFrame) -> pd.Series:
        if not _has(df, "AVISIT", "AVISITN"):
            return _true(df)
        expected = df["AVISITN"].map(VISIT_LABELS)
        return expected.isna() | df["AVISIT"].isna() | (df["AVISIT"] == expected)

    return [
        _Rule("AVISITN", f"AVISITN (week) is not a scheduled visit (weeks {sched})", in_schedule),
        _Rule(
            "AVISIT",
            "AVISIT does not match AVISITN (expected 'Baseline' for week 0, 'Week N' for N)",
            label,
        ),
    ]


def _no_day_zero(col: str) -> _Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        if col not in df.columns:
            return _true(df)
        return df[col] != 0

    return _Rule(
        col,
        f"{col} is 0; study days have no day 0 (day 1 = first infusion, the day before is -1)",
        ok,
    )


def _one_per(flag: str, by: tuple[str, ...], what: str) -> _Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        if not _has(df, flag, *by):
            return _true(df)
        flagged = df[flag] == "Y"
        dup = df[list(by)].where(flagged).duplicated(keep=False) & flagged
        return ~dup

    return _Rule(flag, f"more than one {flag} 'Y' record per {what}", ok)


def _implies(a: str, b: str, message: str) -> _Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        if not _has(df, a, b):
            return _true(df)
        return ~((df[a] == "Y") & (df[b] != "Y"))

    return _Rule(a, message, ok)


def _synthetic() -> _Rule:
    def ok(df: pd.DataFrame) -> pd.Series:
        if "SYNTHETIC" not in df.columns:
            return _true(df)
        return df["SYNTHETIC"] == "Y"

    return _Rule("SYNTHETIC", "SYNTHETIC must be 'Y' in every row when present", ok)


def _lab_rules(name: str) -> list[_Rule]:
    rules = [
        _nonempty("USUBJID"),
        _isin("PARAMCD", PARAMCDS[name], hint=True),
        *_visit_rules(),
        _no_day_zero("ADY"),
        _isin("ABLFL", ("Y", "")),
        _isin("ANL01FL", ("Y", "")),
        _one_per("ABLFL", ("USUBJID", "PARAMCD"), "subject and parameter"),
        _one_per("ANL01FL", ("USUBJID", "PARAMCD", "AVISITN"), "subject, parameter and visit"),
        _synthetic(),
    ]
    if name == "ADLB":
        slips = {p: _unit_slip(p, above) for p, above, _ in _UNIT_SLIPS}
        for p, _, message in _UNIT_SLIPS:
            rules.append(_Rule("AVAL", message, lambda df, bad=slips[p]: ~bad(df)))
        rules += [_lab_range(p, slips.get(p)) for p in PARAMCDS["ADLB"]]
    else:

        def not_negative(df: pd.DataFrame) -> pd.Series:
            if not _has(df, "AVAL"):
                return _true(df)
            return ~(df["AVAL"] < 0)

        high = RANGES["INSDOSE"][1]
        rules += [
            _Rule(
                "AVAL", "negative insulin dose (INSDOSE is in U/day and must be >= 0)", not_negative
            ),
            _Rule(
                "AVAL",
                f"INSDOSE above the plausible maximum of {high:g} U/day",
                lambda df: df["AVAL"].isna() | ~(df["AVAL"] > high),
            ),
        ]
    return rules


def _responder_rules() -> list[_Rule]:
    def aval_matches(df: pd.DataFrame) -> pd.Series:
        expected = df["AVALC"].map({"Y": 1.0, "N": 0.0})
        same = (df["AVAL"] == expected) | (expected.isna() & df["AVAL"].isna())
        return same | ~df["AVALC"].isin(("Y", "N", ""))

    def dtype_known(df: pd.DataFrame) -> pd.Series:
        parts = df["DTYPE"].fillna("").str.split("+")
        return parts.map(lambda p: all(x in DTYPES for x in p))

    return [
        _nonempty("USUBJID"),
        _isin("ARM", ARMS, hint=True),
        _isin("PARAMCD", PARAMCDS["ADRESP"]),
        _isin("AVALC", ("Y", "N", "")),
        _Rule(
            "AVAL", "AVAL must be 1 where AVALC is 'Y', 0 where 'N', missing where ''", aval_matches
        ),
        _Rule("DTYPE", f"DTYPE must be made of {', '.join(repr(d) for d in DTYPES)}", dtype_known),
        _isin("SRCDOM", ("ADLB", "ADEX", "ADRESP", "")),
        _synthetic(),
    ]


_RULES: dict[str, list[_Rule]] = {
    "ADSL": [
        _nonempty("USUBJID"),
        _isin("ARM", ARMS, hint=True),
        _isin("RANDFL", ("Y", "N")),
        _isin("FASFL", ("Y", "N")),
        _isin("PPSFL", ("Y", "N")),
        _implies(
            "FASFL",
            "RANDFL",
            "a subject in the full analysis set (FASFL 'Y') must be randomized (RANDFL 'Y')",
        ),
        _implies(
            "PPSFL",
            "FASFL",
            "a subject in the per-protocol set (PPSFL 'Y') must be in the full analysis set "
            "(FASFL 'Y')",
        ),
        _isin("SEX", ("M", "F")),
        _between("AGE", *RANGES["AGE"], "years"),
        _between("WEIGHT", *RANGES["WEIGHT"], "kg"),
        _between("BMI", *RANGES["BMI"], "kg/m2"),
        _between("DIABDUR", *RANGES["DIABDUR"], "years"),
        _synthetic(),
    ],
    "ADLB": _lab_rules("ADLB"),
    "ADEX": _lab_rules("ADEX"),
    "ADAE": [
        _nonempty("USUBJID"),
        _nonempty("AEDECOD"),
        _nonempty("AEBODSYS"),
        _isin("AESEV", ("MILD", "MODERATE", "SEVERE"), hint=True),
        _isin("AESER", ("Y", "N")),
        _isin("AREL", ("RELATED", "NOT RELATED"), hint=True),
        _no_day_zero("ASTDY"),
        _isin("TRTEMFL", ("Y", "N")),
        _synthetic(),
    ],
    "ADRESP": _responder_rules(),
}


# ---------------------------------------------------------------------------------------
# pandera schemas
# ---------------------------------------------------------------------------------------

_PANDERA_DTYPE: dict[str, object] = {
    "id": str,
    "code": str,
    "text": str,
    "int": "int64",
    "float": "float64",
    "float?": "float64",
    "Int64?": pd.Int64Dtype(),
}


def _schema(name: str) -> pa.DataFrameSchema:
    import pandera.pandas as pa

    cols = {
        col: pa.Column(
            _PANDERA_DTYPE[kind],
            nullable=kind.endswith("?"),
            required=req,
            title=col,
        )
        for col, (kind, req) in _COLUMNS[name].items()
    }
    checks = [pa.Check(r.ok, name=r.message, error=r.message) for r in _RULES[name]]
    return pa.DataFrameSchema(
        cols,
        checks=checks,
        strict=True,
        unique=list(KEYS[name]) or None,
        report_duplicates="all",
        name=name,
    )


_SCHEMAS: dict[str, pa.DataFrameSchema] = {}


def _schemas() -> dict[str, pa.DataFrameSchema]:
    """``SCHEMAS``, built (and pandera imported) on first use: importing this module, and
    hence ``derive``, ``cohort``, ``stats``, costs no pandera."""
    if not _SCHEMAS:
        _SCHEMAS.update({name: _schema(name) for name in _COLUMNS})
    return _SCHEMAS


def __getattr__(name: str) -> Any:
    """``SCHEMAS``: the contracts as pandera schemas (strict column sets; optional columns
    not required). They expect canonical dtypes; :func:`validate` gets a frame there first,
    with plain-word errors, then runs these. Built on first access (PEP 562)."""
    if name == "SCHEMAS":
        return _schemas()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------

_MISSING_WORDS = {"", "NA", "NaN", "nan", "N/A", "."}


def _dataset_name(name: str) -> str:
    key = str(name).upper()
    if key not in _COLUMNS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(_COLUMNS)}")
    return key


class _Where:
    """Turns row positions of the working frame into words: 'row 7' or 'line 9'."""

    def __init__(self, df: pd.DataFrame, index: pd.Index, source: str | None) -> None:
        self.df, self.index, self.source = df, index, source

    def row(self, pos: int, cols: list[str]) -> str:
        label = f"line {pos + 2}" if self.source else f"row {self.index[pos]!r}"
        show = [c for c in ("USUBJID", "PARAMCD", "AVISITN", "ADY") if c in self.df.columns]
        show += [c for c in cols if c in self.df.columns and c not in show]
        parts = [f"{c} {_fmt(self.df.iloc[pos][c])}" for c in show]
        return f"{label} ({', '.join(parts)})" if parts else label

    def problem(self, dataset: str, column: str | None, message: str, positions) -> Problem:
        positions = sorted({int(p) for p in positions})
        cols = [column] if column else []
        rows = [self.row(p, cols) for p in positions[:_SHOW_ROWS]]
        return Problem(dataset, message, column, rows, len(positions), self.source)


def _fmt(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "(missing)"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def _structure(df: pd.DataFrame, name: str, where: _Where) -> list[Problem]:
    """Missing and extra columns."""
    spec = _COLUMNS[name]
    required = [c for c, (_, req) in spec.items() if req]
    problems = []
    missing = [c for c in required if c not in df.columns]
    if missing:
        problems.append(
            Problem(
                name,
                f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}",
                ", ".join(missing),
                source=where.source,
            )
        )
    extra = [str(c) for c in df.columns if c not in spec]
    if extra:
        allowed = ", ".join(spec)
        problems.append(
            Problem(
                name,
                f"unexpected column{'s' if len(extra) > 1 else ''}: {', '.join(extra)} "
                f"(the {name} columns are: {allowed})",
                ", ".join(extra),
                source=where.source,
            )
        )
    if name in ("ADLB", "ADEX") and ("AVISIT" in df.columns) != ("AVISITN" in df.columns):
        have = "AVISIT" if "AVISIT" in df.columns else "AVISITN"
        lack = "AVISITN" if have == "AVISIT" else "AVISIT"
        problems.append(
            Problem(
                name,
                f"{have} without {lack}: give both, or neither (derive.visit_windows then "
                "assigns them from ADY)",
                lack,
                source=where.source,
            )
        )
    dup = df.columns[df.columns.duplicated()].unique().tolist()
    if dup:
        problems.append(
            Problem(
                name, "column appears more than once", ", ".join(map(str, dup)), source=where.source
            )
        )
    return problems


def _coerce_column(
    s: pd.Series, kind: str, name: str, col: str, where: _Where
) -> tuple[pd.Series, list[Problem]]:
    """Bring one column to its canonical dtype, or say what stops it."""
    problems: list[Problem] = []
    if kind in ("id", "code", "text"):
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_float_dtype(s.dtype):
            if kind == "text" and s.isna().all():
                return pd.Series("", index=s.index, dtype="str"), problems
            bad = np.flatnonzero(s.notna().to_numpy())
            if len(bad) == 0:  # all missing: let the nullability check speak
                return s.astype("str"), problems
            problems.append(where.problem(name, col, "numbers where text is expected", bad))
            return s, problems
        if pd.api.types.is_integer_dtype(s.dtype):
            return s.astype("str"), problems  # e.g. USUBJID 101 read as a number
        if not pd.api.types.is_string_dtype(s.dtype):
            problems.append(
                where.problem(
                    name, col, f"text expected, found values of type {s.dtype}", range(len(s))
                )
            )
            return s, problems
        if s.dtype == object:
            kinds = s.map(
                lambda v: (
                    isinstance(v, str)
                    or v is None
                    or v is pd.NA
                    or (isinstance(v, float) and np.isnan(v))
                    or (isinstance(v, int | np.integer) and not isinstance(v, bool))
                )
            )
            bad = np.flatnonzero(~kinds.to_numpy(dtype=bool))
            if len(bad):
                problems.append(where.problem(name, col, "values that are not text", bad))
                return s, problems
            s = s.map(lambda v: str(v) if isinstance(v, int | np.integer) else v)
        out = s.astype("str")
        if kind == "text":
            out = out.fillna("")
        return out, problems

    # numbers
    if pd.api.types.is_bool_dtype(s.dtype):
        problems.append(
            where.problem(name, col, "true/false where a number is expected", range(len(s)))
        )
        return s, problems
    if pd.api.types.is_numeric_dtype(s.dtype):
        x = s.astype("float64")
    else:
        text = s.astype("str")
        stripped = text.str.strip()
        x = pd.to_numeric(stripped.where(~stripped.isin(_MISSING_WORDS)), errors="coerce")
        x = x.astype("float64")
        bad = x.isna() & text.notna() & ~stripped.isin(_MISSING_WORDS)
        if bad.any():
            problems.append(
                where.problem(
                    name, col, "text where a number is expected", np.flatnonzero(bad.to_numpy())
                )
            )
            return s, problems
    inf = np.isinf(x.to_numpy())
    if inf.any():
        problems.append(where.problem(name, col, "infinite value", np.flatnonzero(inf)))
    if not kind.endswith("?"):
        empty = x.isna().to_numpy()
        if empty.any():
            words = "missing value"
            if col == "AVAL":
                words += (
                    " (a measurement that was not made is left out as a row, not an empty AVAL)"
                )
            problems.append(where.problem(name, col, words, np.flatnonzero(empty)))
    if kind in ("int", "Int64?"):
        frac = (x.notna() & np.isfinite(x) & (x != np.round(x))).to_numpy()
        if frac.any():
            problems.append(where.problem(name, col, "whole number expected", np.flatnonzero(frac)))
    if problems:
        return s, problems
    if kind == "int":
        return x.astype("int64"), problems
    if kind == "Int64?":
        return x.astype("Int64"), problems
    return x, problems


def _translate(err: pa.errors.SchemaErrors, name: str, where: _Where) -> list[Problem]:
    """pandera's failure cases -> plain-word problems, one per (check, column)."""
    fc = err.failure_cases
    rules = {r.message: r for r in _RULES[name]}
    problems: list[Problem] = []
    for check, group in fc.groupby("check", sort=False, dropna=False):
        check = str(check)
        positions = group["index"].dropna().astype(int).unique()
        if check in rules:
            rule = rules[check]
            message = rule.message
            if rule.hint is not None and len(positions):
                tip = rule.hint(where.df[rule.column].iloc[positions])
                message += f"; {tip}" if tip else ""
            problems.append(where.problem(name, rule.column, message, positions))
        elif check in ("multiple_fields_uniqueness", "field_uniqueness"):
            key = ", ".join(KEYS[name])
            what = (
                "USUBJID appears more than once"
                if KEYS[name] == ("USUBJID",)
                else f"duplicate key ({key}): more than one row for the same {key}"
            )
            problems.append(where.problem(name, key, what, positions))
        elif check == "not_nullable":
            for col, g in group.groupby("column", sort=False):
                pos = g["index"].dropna().astype(int).unique()
                problems.append(where.problem(name, str(col), "missing value", pos))
        else:  # anything else pandera finds (should not happen after _coerce)
            for col, g in group.groupby("column", sort=False, dropna=False):
                pos = g["index"].dropna().astype(int).unique()
                cases = ", ".join(map(str, g["failure_case"].head(3)))
                problems.append(
                    where.problem(
                        name, None if pd.isna(col) else str(col), f"{check} ({cases})", pos
                    )
                )
    return problems


def _check(df: pd.DataFrame, name: str, source: str | None) -> tuple[pd.DataFrame, list[Problem]]:
    """Validate; return the canonical copy and the problems found (empty when fine)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
    work = df.reset_index(drop=True)
    where = _Where(work, df.index, source)
    problems = _structure(work, name, where)
    if any(p.message.startswith("column appears more than once") for p in problems):
        return df, problems
    spec = _COLUMNS[name]
    for col in [c for c in spec if c in work.columns]:
        out, probs = _coerce_column(work[col], spec[col][0], name, col, where)
        work[col] = out
        problems += probs
    if problems:
        return df, problems
    order = [c for c in spec if c in work.columns]
    work = work[order]
    where.df = work
    import pandera.errors

    try:
        _schemas()[name].validate(work, lazy=True)
    except pandera.errors.SchemaErrors as err:
        return df, _translate(err, name, where)
    work.index = df.index
    return work, []


def validate(df: pd.DataFrame, name: str, *, source: str | None = None) -> pd.DataFrame:
    """Check ``df`` against the contract of dataset ``name`` ("ADSL", "ADLB", "ADEX",
    "ADAE", "ADRESP"; any case) and return a validated copy with canonical dtypes and
    column order (text as ``str``, whole numbers as ``int64``, numbers as ``float64``;
    missing values in DCSREAS/ABLFL/ANL01FL... as ""). The input is never modified.

    ``source`` (e.g. a file name) is named in messages, and rows are then given as line
    numbers of that file (line 1 = header); otherwise as row labels of ``df``.

    Raises :class:`DatasetError` listing every problem, each with the dataset, the column
    and the first rows at fault (with their USUBJID).
    """
    key = _dataset_name(name)
    out, problems = _check(df, key, source)
    if problems:
        raise DatasetError(problems)
    return out


def _cross(data: Mapping[str, pd.DataFrame], sources: Mapping[str, str]) -> list[Problem]:
    """Every subject of ADLB, ADEX and ADAE is in ADSL."""
    if "ADSL" not in data:
        return []
    known = set(data["ADSL"]["USUBJID"].astype(str))
    problems = []
    for name in ("ADLB", "ADEX", "ADAE", "ADRESP"):
        if name not in data:
            continue
        df = data[name].reset_index(drop=True)
        where = _Where(df, data[name].index, sources.get(name))
        stray = ~df["USUBJID"].astype(str).isin(known)
        if stray.any():
            ids = ", ".join(repr(u) for u in pd.unique(df.loc[stray, "USUBJID"])[:_SHOW_ROWS])
            problems.append(
                where.problem(
                    name,
                    "USUBJID",
                    f"subject(s) not in ADSL: {ids}",
                    np.flatnonzero(stray.to_numpy()),
                )
            )
    return problems


def validate_all(
    data: Mapping[str, pd.DataFrame], *, sources: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame]:
    """Validate several datasets (keys are dataset names) and the links between them:
    every USUBJID in ADLB, ADEX, ADAE (and ADRESP) must be in ADSL, which is then
    required. Returns validated copies; raises one :class:`DatasetError` listing all
    problems of all datasets."""
    sources = dict(sources or {})
    out: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for raw_name, df in data.items():
        name = _dataset_name(raw_name)
        checked, probs = _check(df, name, sources.get(name))
        problems += probs
        out[name] = checked
    if len(out) > 1 and "ADSL" not in out:
        problems.append(Problem("ADSL", "ADSL is required to check the other datasets' subjects"))
    # cross-dataset links, as soon as the subject columns are there to compare
    if "USUBJID" in out.get("ADSL", pd.DataFrame()).columns:
        linked = {k: v for k, v in out.items() if "USUBJID" in v.columns}
        problems += _cross(linked, sources)
    if problems:
        raise DatasetError(problems)
    return out


# ---------------------------------------------------------------------------------------
# usable: can the derivations use the data as intended?
# ---------------------------------------------------------------------------------------


class DataWarning(UserWarning):
    """Data the derivations can use, but only with a reading the analyst should know
    about (shown on the page by :func:`read` through :mod:`warnings`)."""


def window_week(ady: np.ndarray | pd.Series) -> np.ndarray:
    """The scheduled visit (week) whose window holds each study day, as
    ``derive.visit_windows`` assigns it: week 0 on or before day 1; after day 1 the visit
    with the nearest target day (a midpoint goes to the later visit); days after the last
    window are given the last visit here (``visit_windows`` drops them)."""
    ady = np.asarray(ady, dtype=float)
    post = np.asarray(VISITS[1:])
    targets = target_day(post.astype(float))
    mids = (targets[:-1] + targets[1:]) / 2
    week = post[np.searchsorted(mids, ady, side="right")]
    return np.where(ady <= 1, VISITS[0], week).astype("int64")


def window(week: int) -> tuple[float, float]:
    """First and last study day of the window of scheduled visit ``week`` (inclusive;
    the last visit's window ends at ``derive.visit_windows``' default last day)."""
    if week == VISITS[0]:
        return -np.inf, 1.0
    i = VISITS.index(week)
    t = [target_day(w) for w in VISITS]
    low = 2.0 if i == 1 else np.ceil((t[i - 1] + t[i]) / 2)
    last = t[-1] + (t[-1] - t[-2]) / 2
    high = last if i == len(VISITS) - 1 else np.ceil((t[i] + t[i + 1]) / 2) - 1
    return float(low), float(high)


def _days(week: int) -> str:
    low, high = window(week)
    return "on or before day 1" if week == VISITS[0] else f"days {low:g}-{high:g}"


PRIMARY_VISIT = 48
"""Week of the primary endpoint (HbA1c < 7 % and insulin dose halved at week 48)."""


def _weeks(df: pd.DataFrame) -> pd.Series:
    """The visit of each record: AVISITN when given, else the window of ADY (NaN after
    the last window, as ``derive.visit_windows`` drops those)."""
    if "AVISITN" in df.columns:
        return df["AVISITN"].astype(float)
    week = pd.Series(window_week(df["ADY"]), index=df.index, dtype=float)
    return week.where(df["ADY"] <= window(VISITS[-1])[1])


def usable(
    data: Mapping[str, pd.DataFrame], sources: Mapping[str, str] | None = None
) -> tuple[list[Problem], list[str]]:
    """Rules about meaning that the row and type checks cannot see: would the derivations
    of ``trialkit.derive`` and the notebooks give a confidently wrong number on these
    (already validated) tables?

    Refused (returned as problems): an empty ADSL, ADLB or ADEX; no randomized subject;
    an arm with no randomized subject or no subject in the full analysis set (FAS);
    a visit label that contradicts its study day (a "Baseline" record after the first
    infusion, a post-baseline visit on or before day 1, a "Week N" record in the window
    of another visit); a FAS subject without a baseline (a record on or before day 1) of
    HbA1c or of the insulin dose; no HbA1c or no insulin-dose value at week 48 in the FAS;
    an adverse event whose TRTEMFL contradicts its onset day (treatment-emergent means
    onset on or after day 1).

    Warned (returned as sentences; the data are used as described): a randomized subject
    outside the FAS without a baseline; a baseline insulin dose of 0 (no percent change:
    the subject counts as missing at week 48); a per-protocol arm without subjects;
    records after the last visit window (not used); an ADAE with no rows (read as: no
    adverse events).
    """
    sources = dict(sources or {})
    problems: list[Problem] = []
    notes: list[str] = []

    def src(name: str) -> str:
        return sources.get(name) or name

    def where(name: str) -> _Where:
        df = data[name].reset_index(drop=True)
        return _Where(df, data[name].index, sources.get(name))

    for name in ("ADSL", "ADLB", "ADEX"):
        if name in data and len(data[name]) == 0:
            problems.append(
                Problem(name, "no rows (the table is empty): nothing to analyse", source=src(name))
            )
    if "ADAE" in data and len(data["ADAE"]) == 0:
        notes.append(f"{src('ADAE')} has no rows: read as no adverse event in any subject.")
    if problems or "ADSL" not in data:
        return problems, notes

    adsl = data["ADSL"]
    rand = adsl.loc[adsl["RANDFL"] == "Y"]
    fas = adsl.loc[adsl["FASFL"] == "Y"]
    if rand.empty:
        problems.append(
            Problem(
                "ADSL",
                "no randomized subject (RANDFL is 'N' in every row): there is no trial to analyse",
                "RANDFL",
                source=src("ADSL"),
            )
        )
    else:
        for flag, words, fatal in (
            ("RANDFL", "randomized subject", True),
            ("FASFL", "subject in the full analysis set", True),
            ("PPSFL", "subject in the per-protocol set", False),
        ):
            members = adsl.loc[adsl[flag] == "Y", "ARM"]
            for arm in ARMS:
                if (members == arm).any():
                    continue
                text = (
                    f"arm {arm!r} has no {words} ({flag} 'Y'); every comparison needs both "
                    f"arms ({', '.join(repr(a) for a in ARMS)})"
                )
                if fatal:
                    problems.append(Problem("ADSL", text, "ARM", source=src("ADSL")))
                else:
                    notes.append(f"{src('ADSL')}: {text}; analyses of the PPS are not possible.")
                break
            if fatal and any(p.column == "ARM" for p in problems):
                break

    for name in ("ADLB", "ADEX"):
        if name not in data:
            continue
        df = data[name].reset_index(drop=True)
        w = where(name)
        if "AVISITN" in df.columns:
            given = df["AVISITN"].to_numpy()
            ady = df["ADY"].to_numpy(dtype=float)
            expected = window_week(ady)
            base_late = (given == VISITS[0]) & (ady > 1)
            post_early = (given != VISITS[0]) & (ady <= 1)
            last = VISITS[-1]
            other = (given != expected) & ~base_late & ~post_early
            other &= ~((given == last) & (ady > window(last)[1]))  # late last visit: kept
            if base_late.any():
                problems.append(
                    w.problem(
                        name,
                        "AVISIT",
                        "a 'Baseline' record (AVISITN 0) after the first infusion (ADY > 1): a "
                        "baseline is measured on or before day 1, so these records cannot be "
                        "the baseline and the change from baseline would be lost; correct ADY "
                        "or the visit",
                        np.flatnonzero(base_late),
                    )
                )
            if post_early.any():
                problems.append(
                    w.problem(
                        name,
                        "AVISIT",
                        "a post-baseline visit on or before day 1 (before the first infusion): "
                        "it would be taken as the baseline; correct ADY or the visit",
                        np.flatnonzero(post_early),
                    )
                )
            if other.any():
                pos = np.flatnonzero(other)
                first = pos[0]
                problems.append(
                    w.problem(
                        name,
                        "AVISIT",
                        f"visit label contradicts the study day: e.g. {VISIT_LABELS[given[first]]}"
                        f" on day {ady[first]:g}, which is in the window of "
                        f"{VISIT_LABELS[expected[first]]} ({_days(expected[first])}); the "
                        "windows are those of derive.visit_windows",
                        pos,
                    )
                )
        else:
            after = df["ADY"] > window(VISITS[-1])[1]
            if after.any():
                notes.append(
                    f"{src(name)}: {int(after.sum())} record(s) after day "
                    f"{window(VISITS[-1])[1]:g} (the end of the Week {VISITS[-1]} window) "
                    "belong to no scheduled visit and are not used."
                )

    if problems:
        return problems, notes

    for name, paramcd in (("ADLB", "HBA1C"), ("ADEX", "INSDOSE")):
        if name not in data:
            continue
        df = data[name]
        recs = df.loc[df["PARAMCD"] == paramcd]
        have_base = set(recs.loc[recs["ADY"] <= 1, "USUBJID"])
        lacking = fas.loc[~fas["USUBJID"].isin(have_base), "USUBJID"].tolist()
        if lacking:
            ids = ", ".join(repr(u) for u in lacking[:_SHOW_ROWS])
            more = f" and {len(lacking) - _SHOW_ROWS} more" if len(lacking) > _SHOW_ROWS else ""
            problems.append(
                Problem(
                    name,
                    f"{len(lacking)} subject(s) of the full analysis set (FASFL 'Y') without a "
                    f"baseline {paramcd} (a record on or before day 1): {ids}{more}; their "
                    "change from baseline cannot be computed",
                    "ADY",
                    source=src(name),
                )
            )
        others = rand.loc[
            (rand["FASFL"] != "Y") & ~rand["USUBJID"].isin(have_base), "USUBJID"
        ].tolist()
        if others:
            notes.append(
                f"{src(name)}: {len(others)} randomized subject(s) outside the full analysis "
                f"set without a baseline {paramcd}: "
                + ", ".join(repr(u) for u in others[:_SHOW_ROWS])
                + "; they count as missing in analyses of all randomized subjects."
            )
        at_primary = _weeks(recs) == PRIMARY_VISIT
        seen = set(recs.loc[at_primary, "USUBJID"])
        lacking_arms = [
            arm for arm in ARMS if not fas.loc[fas["ARM"] == arm, "USUBJID"].isin(seen).any()
        ]
        if not fas.empty and lacking_arms:
            whom = (
                "any subject of the full analysis set"
                if len(lacking_arms) == len(ARMS)
                else f"any subject of the full analysis set in arm {lacking_arms[0]!r}"
            )
            problems.append(
                Problem(
                    name,
                    f"no {paramcd} value at Week {PRIMARY_VISIT} (the primary endpoint's visit, "
                    f"{_days(PRIMARY_VISIT)}) for {whom}: every such subject would count as a "
                    "non-responder (or leave a 0 of 0 under complete case)",
                    "AVISITN" if "AVISITN" in df.columns else "ADY",
                    source=src(name),
                )
            )
        if paramcd == "INSDOSE":
            base = recs.loc[recs["ADY"] <= 1].sort_values("ADY").groupby("USUBJID").tail(1)
            zero = base.loc[base["AVAL"] == 0, "USUBJID"].tolist()
            if zero:
                notes.append(
                    f"{src(name)}: baseline daily insulin dose 0 U/day for "
                    + ", ".join(repr(u) for u in zero[:_SHOW_ROWS])
                    + ": a percent change from 0 is undefined, so the insulin criterion is "
                    "missing for them (counted by the missing-data rule)."
                )

    if "ADAE" in data and len(data["ADAE"]):
        df = data["ADAE"].reset_index(drop=True)
        w = where("ADAE")
        bad = ((df["TRTEMFL"] == "Y") & (df["ASTDY"] < 1)) | (
            (df["TRTEMFL"] == "N") & (df["ASTDY"] >= 1)
        )
        if bad.any():
            problems.append(
                w.problem(
                    "ADAE",
                    "TRTEMFL",
                    "TRTEMFL contradicts the onset day: an event is treatment-emergent ('Y') "
                    "exactly when it starts on or after day 1 (ASTDY >= 1, the first infusion)",
                    np.flatnonzero(bad.to_numpy()),
                )
            )
    return problems, notes


def warnings_of(data: Mapping[str, pd.DataFrame]) -> list[str]:
    """The warnings :func:`read` found for a data folder (``attrs["warnings"]`` of its
    tables, each once, in order): data used with a reading the reader should know."""
    seen: dict[str, None] = {}
    for df in data.values():
        for text in df.attrs.get("warnings", []):
            seen[text] = None
    return list(seen)


# ---------------------------------------------------------------------------------------
# read
# ---------------------------------------------------------------------------------------

REQUIRED_FILES: tuple[str, ...] = ("ADSL", "ADLB", "ADEX")
OPTIONAL_FILES: tuple[str, ...] = ("ADAE",)


def _read_csv(path: Path) -> pd.DataFrame:
    """Every cell as text, empty cells as "" (no guessing of types or missing values)."""
    try:
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(
            [Problem(path.stem.upper(), f"file is empty ({exc})", source=path.name)]
        ) from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DatasetError(
            [
                Problem(
                    path.stem.upper(),
                    f"cannot read {path}: {type(exc).__name__}: {exc}",
                    source=path.name,
                )
            ]
        ) from exc


def read(folder: str | Path, *, announce: bool = True) -> dict[str, pd.DataFrame]:
    """Read and validate a data folder: ADSL.csv, ADLB.csv, ADEX.csv (required) and
    ADAE.csv (optional; its key is absent from the result when the file is).

    Files are read as text with explicit conversions (USUBJID stays text, so "001" keeps
    its zeros; empty cells are "" in text columns and missing in number columns), then
    each is validated and so are the links between them (every subject in ADSL). The
    files are only read, never changed. Other files in the folder are ignored.

    Then the rules of :func:`usable` (data the derivations cannot use as intended:
    empty tables, an arm without patients, a visit label contradicting its day, a
    subject without a baseline, ...) refuse the folder, or add warnings: data used with a
    reading the analyst should know. The warnings are in ``attrs["warnings"]`` of every
    returned table (:func:`warnings_of` gathers them) and, when ``announce``, shown: in a
    notebook as a Markdown block in the cell's output, elsewhere as :class:`DataWarning`.

    Returns ``{"ADSL": ..., "ADLB": ..., "ADEX": ..., ["ADAE": ...]}`` of validated
    frames; raises :class:`DatasetError` naming the file when one is missing or
    unreadable, and listing every problem of every file otherwise.

    Validated once per process for the same files (:func:`_validated`: the runner's
    parameter checks and its snapshot validate an analyst's folder once), and once per
    run across processes: when the environment variable ``SNAPSHOT_ENV``
    (``TRIALKIT_VALIDATED``) names a file written by :func:`write_snapshot` that holds
    this folder with the same file contents (digest of the names and bytes of its
    ADSL/ADLB/ADEX/ADAE.csv), the result is that snapshot's (a fresh copy per call, equal
    to what validating gives) and the files are not validated again. A missing,
    unreadable or outdated snapshot is ignored: the folder is validated as usual.
    """
    folder = Path(folder)
    out = _from_snapshot(folder)
    if out is None:
        out = _validated(folder)
    notes = list(next(iter(out.values())).attrs.get("warnings", []))
    for df in out.values():
        df.attrs["warnings"] = list(notes)
    if notes and announce:
        _announce(notes)
    return out


_VALIDATED: dict[tuple[str, str], dict[str, pd.DataFrame]] = {}  # (folder, digest) -> result
_VALIDATED_KEPT = 4  # folders kept at most


def _validated(folder: Path, digest: str = "") -> dict[str, pd.DataFrame]:
    """:func:`_read_validated`, once per process for the same files (the folder's
    :func:`_digest`, computed here unless the caller has it), a fresh copy per call: what
    the runner's checks of a parameter, its snapshot and any other reader in the same
    process get, validated once. A folder that does not meet the contracts is validated
    (and refused) every time."""
    if not folder.is_dir():
        return _read_validated(folder)  # refused, naming the folder
    key = (str(folder.resolve()), digest or _digest(folder))
    if key not in _VALIDATED:
        result = _read_validated(folder)
        if len(_VALIDATED) >= _VALIDATED_KEPT:
            _VALIDATED.clear()
        _VALIDATED[key] = result
    return {name: df.copy() for name, df in _VALIDATED[key].items()}


def _read_validated(folder: Path) -> dict[str, pd.DataFrame]:
    """The work of :func:`read` without its snapshot and announcement: read, validate,
    check :func:`usable`; every table's ``attrs["warnings"]`` holds the warnings."""
    if not folder.is_dir():
        raise DatasetError(
            [
                Problem(
                    "data folder",
                    f"{folder} is not a folder (or does not exist)",
                    source=str(folder),
                )
            ]
        )
    present = {p.name: p for p in folder.iterdir() if p.is_file()}
    raw: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        fname = f"{name}.csv"
        if fname not in present:
            if name in OPTIONAL_FILES:
                continue
            near = [n for n in present if n.lower() == fname.lower()]
            tip = f" (found {near[0]}: rename it to {fname})" if near else ""
            problems.append(
                Problem(
                    name,
                    f"required file {fname} is missing from {folder}{tip}; a data folder holds "
                    "ADSL.csv, ADLB.csv, ADEX.csv and optionally ADAE.csv",
                    source=fname,
                )
            )
            continue
        try:
            raw[name] = _read_csv(present[fname])
        except DatasetError as exc:
            problems += exc.problems
            continue
        sources[name] = fname
    for name in REQUIRED_FILES:  # an empty table first: other checks would only confuse
        if name in raw and len(raw[name]) == 0:
            problems.append(
                Problem(
                    name, "no rows (the table is empty): nothing to analyse", source=f"{name}.csv"
                )
            )
    if problems:
        raise DatasetError(problems)
    out = validate_all(raw, sources=sources)
    problems, notes = usable(out, sources)
    if problems:
        raise DatasetError(problems)
    for df in out.values():
        df.attrs["warnings"] = list(notes)
    return out


# ---------------------------------------------------------------------------------------
# Validated once per run: a snapshot of validated folders, written by the runner
# ---------------------------------------------------------------------------------------

SNAPSHOT_ENV: str = "TRIALKIT_VALIDATED"
"""Environment variable naming a snapshot file written by :func:`write_snapshot`; the
runner sets it for its kernels so that :func:`read` validates each folder once per run."""

_SNAPSHOT_FORMAT = ("trialkit.schema snapshot", 1)


def _digest(folder: Path) -> str:
    """sha256 over the names and bytes of the folder's ADSL/ADLB/ADEX/ADAE.csv files that
    are present (only those: the files :func:`read` reads), as hex."""
    h = hashlib.sha256()
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        path = folder / f"{name}.csv"
        if not path.is_file():
            continue
        data = path.read_bytes()
        h.update(f"{name}.csv\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def write_snapshot(folders: Iterable[str | Path], path: str | Path) -> None:
    """Validate each data folder once (:func:`read` without announcing) and pickle the
    results to ``path`` for kernels that get ``SNAPSHOT_ENV=path`` in their environment.

    The file holds ``{resolved folder path: (digest, result)}`` (digest: :func:`_digest`
    of the folder's files, so a folder changed since is validated afresh), with the
    format version and the pandas version. A folder that does not meet the contracts
    (:class:`DatasetError`) is left out: kernels reading it raise the same error as
    without a snapshot. The file is a pickle: write it only where nothing untrusted can.
    """
    entries: dict[str, tuple[str, dict[str, pd.DataFrame]]] = {}
    for folder in folders:
        folder = Path(folder).resolve()
        digest = _digest(folder) if folder.is_dir() else ""
        try:
            result = _validated(folder, digest)
        except DatasetError:
            continue
        entries[str(folder)] = (digest, result)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(
            {"format": _SNAPSHOT_FORMAT, "pandas": pd.__version__, "folders": entries},
            f,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    os.replace(tmp, path)


def _from_snapshot(folder: Path) -> dict[str, pd.DataFrame] | None:
    """The validated result of ``folder`` from the snapshot named by ``SNAPSHOT_ENV``,
    freshly unpickled; None when there is none, it does not hold this folder with the
    same files, or anything goes wrong reading it (then :func:`read` validates)."""
    where = os.environ.get(SNAPSHOT_ENV)
    if not where:
        return None
    try:
        key = str(folder.resolve())
        with open(where, "rb") as f:
            snap = pickle.load(f)
        if snap.get("format") != _SNAPSHOT_FORMAT or snap.get("pandas") != pd.__version__:
            return None
        digest, result = snap["folders"][key]
        if not folder.is_dir() or digest != _digest(folder):
            return None
        if not (
            isinstance(result, dict)
            and result
            and all(isinstance(df, pd.DataFrame) for df in result.values())
        ):
            return None
        return result
    except Exception:  # any problem with the snapshot: validate instead
        return None


_ANNOUNCED: set[str] = set()


def _announce(notes: list[str]) -> None:
    """Show data warnings where the reader sees them: in a notebook, as a Markdown block
    in the cell's output (once per kernel); elsewhere as :class:`DataWarning` warnings."""
    try:
        from IPython import get_ipython

        kernel = get_ipython() is not None and hasattr(get_ipython(), "kernel")
    except ImportError:  # pragma: no cover - IPython is a dependency
        kernel = False
    if not kernel:
        import warnings

        for text in notes:
            warnings.warn(text, DataWarning, stacklevel=3)
        return
    new = [t for t in notes if t not in _ANNOUNCED]
    if not new:
        return
    _ANNOUNCED.update(new)
    from IPython.display import Markdown, display

    from trialkit.text import md_escape

    items = "\n".join(f"- {md_escape(t)}" for t in new)
    display(
        Markdown(
            f"**Data warning{'s' if len(new) > 1 else ''}** (the data are used as "
            f"described):\n\n{items}"
        )
    )
