"""A corpus of bad data folders, each ``data/synthetic`` with ONE edit.

Every case is refused before any work, by ``schema.read`` (so by ``cohort.load``) and by the
runner's pre-flight check of ``data_dir`` (``params.validate``), with a message naming the
file and the fault; or, where the data have a sensible reading, accepted with a warning
(``schema.warnings_of``, shown on the page as a ``DataWarning``); or accepted and giving the
same results as the unedited data. The folders are built in ``tmp_path``; the canonical
data are never modified.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from trialkit import derive, params, schema

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC = ROOT / "data" / "synthetic"

Tables = dict[str, pd.DataFrame]


def _load(folder: Path) -> Tables:
    return {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in folder.glob("*.csv")}


def _build(tmp_path: Path, edit: Callable[[Tables], None]) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SYNTHETIC, folder)
    tables = _load(folder)
    edit(tables)
    for p in folder.glob("*.csv"):
        p.unlink()
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder


# ---------------------------------------------------------------------------- the edits
def _rows(df: pd.DataFrame, **match: str) -> pd.Series:
    ok = pd.Series(True, index=df.index)
    for col, value in match.items():
        ok &= df[col] == value
    return ok


def _fas_subject(t: Tables, arm: str = "UC-MSC") -> str:
    adsl = t["ADSL"]
    return adsl.loc[(adsl["ARM"] == arm) & (adsl["FASFL"] == "Y"), "USUBJID"].iloc[0]


def insulin_baseline_on_day_2(t: Tables) -> None:
    t["ADEX"].loc[_rows(t["ADEX"], AVISITN="0"), "ADY"] = "2"


def one_arm_only(t: Tables) -> None:
    t["ADSL"]["ARM"] = "UC-MSC"


def nobody_randomized(t: Tables) -> None:
    for flag in ("RANDFL", "FASFL", "PPSFL"):
        t["ADSL"][flag] = "N"


def empty_adsl(t: Tables) -> None:
    t["ADSL"] = t["ADSL"].iloc[:0]


def empty_adlb(t: Tables) -> None:
    t["ADLB"] = t["ADLB"].iloc[:0]


def empty_adex(t: Tables) -> None:
    t["ADEX"] = t["ADEX"].iloc[:0]


def week48_hba1c_on_day_33(t: Tables) -> None:
    rows = _rows(t["ADLB"], PARAMCD="HBA1C", AVISITN="48")
    t["ADLB"].loc[rows[rows].index[0], "ADY"] = "33"


def week4_insulin_before_infusion(t: Tables) -> None:
    rows = _rows(t["ADEX"], AVISITN="4")
    t["ADEX"].loc[rows[rows].index[0], "ADY"] = "-1"


def fas_subject_without_baseline_hba1c(t: Tables) -> None:
    who = _fas_subject(t)
    t["ADLB"] = t["ADLB"].loc[~_rows(t["ADLB"], USUBJID=who, PARAMCD="HBA1C", AVISITN="0")]


def fas_subject_without_baseline_insulin(t: Tables) -> None:
    who = _fas_subject(t, "Placebo")
    t["ADEX"] = t["ADEX"].loc[~_rows(t["ADEX"], USUBJID=who, AVISITN="0")]


def no_week48_hba1c(t: Tables) -> None:
    t["ADLB"] = t["ADLB"].loc[~_rows(t["ADLB"], PARAMCD="HBA1C", AVISITN="48")]


def no_week48_insulin(t: Tables) -> None:
    t["ADEX"] = t["ADEX"].loc[~_rows(t["ADEX"], AVISITN="48")]


def no_week48_insulin_in_placebo(t: Tables) -> None:
    placebo = t["ADSL"].loc[t["ADSL"]["ARM"] == "Placebo", "USUBJID"]
    drop = _rows(t["ADEX"], AVISITN="48") & t["ADEX"]["USUBJID"].isin(placebo)
    t["ADEX"] = t["ADEX"].loc[~drop]


def no_hba1c_at_all(t: Tables) -> None:
    t["ADLB"] = t["ADLB"].loc[t["ADLB"]["PARAMCD"] != "HBA1C"]


def teae_before_first_infusion(t: Tables) -> None:
    rows = _rows(t["ADAE"], TRTEMFL="Y")
    t["ADAE"].loc[rows[rows].index[0], "ASTDY"] = "-3"


def not_teae_after_first_infusion(t: Tables) -> None:
    t["ADAE"].loc[t["ADAE"].index[0], "TRTEMFL"] = "N"


def no_placebo_in_fas(t: Tables) -> None:
    placebo = t["ADSL"]["ARM"] == "Placebo"
    t["ADSL"].loc[placebo, ["FASFL", "PPSFL"]] = "N"


def hba1c_in_mmol_per_mol(t: Tables) -> None:
    hb = t["ADLB"]["PARAMCD"] == "HBA1C"
    values = (t["ADLB"].loc[hb, "AVAL"].astype(float) - 2.15) * 10.929
    t["ADLB"].loc[hb, "AVAL"] = values.round(0).astype(int).astype(str)


def glucose_in_mg_per_dl(t: Tables) -> None:
    fpg = t["ADLB"]["PARAMCD"] == "FPG"
    t["ADLB"].loc[fpg, "AVAL"] = (
        (t["ADLB"].loc[fpg, "AVAL"].astype(float) * 18.016).round(0).astype(int).astype(str)
    )


def arm_in_lower_case(t: Tables) -> None:
    t["ADSL"].loc[t["ADSL"].index[0], "ARM"] = t["ADSL"]["ARM"].iloc[0].lower()


def lab_subject_not_in_adsl(t: Tables) -> None:
    t["ADLB"].loc[t["ADLB"].index[0], "USUBJID"] = "SYN-999"


def duplicate_lab_record(t: Tables) -> None:
    t["ADLB"] = pd.concat([t["ADLB"], t["ADLB"].iloc[[5]]], ignore_index=True)


def study_day_zero(t: Tables) -> None:
    rows = _rows(t["ADLB"], AVISITN="0")
    t["ADLB"].loc[rows[rows].index[0], "ADY"] = "0"


def empty_aval(t: Tables) -> None:
    t["ADEX"].loc[t["ADEX"].index[3], "AVAL"] = ""


def label_contradicts_avisitn(t: Tables) -> None:
    rows = _rows(t["ADLB"], AVISITN="12")
    t["ADLB"].loc[rows[rows].index[0], "AVISIT"] = "Week 24"


def unscheduled_week(t: Tables) -> None:
    rows = _rows(t["ADLB"], AVISITN="12")
    t["ADLB"].loc[rows[rows].index[0], ["AVISITN", "AVISIT"]] = ["10", "Week 10"]


def negative_insulin(t: Tables) -> None:
    t["ADEX"].loc[t["ADEX"].index[2], "AVAL"] = "-5"


def missing_adex_file(t: Tables) -> None:
    del t["ADEX"]


def unknown_column(t: Tables) -> None:
    t["ADSL"]["HEIGHT"] = "170"


def fas_not_randomized(t: Tables) -> None:
    t["ADSL"].loc[t["ADSL"].index[0], "RANDFL"] = "N"


def decimal_comma(t: Tables) -> None:
    t["ADLB"].loc[t["ADLB"].index[1], "AVAL"] = "7,1"


def fractional_age(t: Tables) -> None:
    t["ADSL"].loc[t["ADSL"].index[0], "AGE"] = "54.5"


def pre_existing_zero_baseline_insulin(t: Tables) -> None:
    who = _fas_subject(t)
    t["ADEX"].loc[_rows(t["ADEX"], USUBJID=who, AVISITN="0"), "AVAL"] = "0"


def non_fas_subject_without_baseline(t: Tables) -> None:
    adsl = t["ADSL"]
    who = adsl.loc[(adsl["RANDFL"] == "Y") & (adsl["FASFL"] == "N"), "USUBJID"].iloc[0]
    t["ADLB"] = t["ADLB"].loc[~_rows(t["ADLB"], USUBJID=who, PARAMCD="HBA1C", AVISITN="0")]


def adae_without_events(t: Tables) -> None:
    t["ADAE"] = t["ADAE"].iloc[:0]


def no_treatment_emergent_event(t: Tables) -> None:
    t["ADAE"] = t["ADAE"].loc[t["ADAE"]["TRTEMFL"] == "N"]


def no_pps_in_uc_msc(t: Tables) -> None:
    t["ADSL"].loc[t["ADSL"]["ARM"] == "UC-MSC", "PPSFL"] = "N"


def late_insulin_without_visits(t: Tables) -> None:
    adex = t["ADEX"].drop(columns=["AVISIT", "AVISITN"])
    adex.loc[adex.index[adex["ADY"].astype(int) > 330][0], "ADY"] = "400"
    t["ADEX"] = adex


def no_visit_columns(t: Tables) -> None:
    t["ADLB"] = t["ADLB"].drop(columns=["AVISIT", "AVISITN"])
    t["ADEX"] = t["ADEX"].drop(columns=["AVISIT", "AVISITN"])


def adae_file_missing(t: Tables) -> None:
    del t["ADAE"]


def no_week36_hba1c(t: Tables) -> None:
    t["ADLB"] = t["ADLB"].loc[~_rows(t["ADLB"], PARAMCD="HBA1C", AVISITN="36")]


def too_few_uc_msc_at_week48(t: Tables) -> None:
    adsl = t["ADSL"]
    uc = adsl.loc[adsl["ARM"] == "UC-MSC", "USUBJID"].iloc[3:]
    drop = _rows(t["ADLB"], PARAMCD="HBA1C", AVISITN="48") & t["ADLB"]["USUBJID"].isin(uc)
    t["ADLB"] = t["ADLB"].loc[~drop]


# ------------------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Refused:
    """``schema.read`` refuses, the message naming ``file`` and containing ``fault``."""

    file: str
    fault: str


@dataclass(frozen=True)
class Warned:
    """Accepted, with a warning that names ``file`` and contains ``words``."""

    file: str
    words: str


@dataclass(frozen=True)
class NotebookRefuses:
    """Read cleanly, but ``notebook`` refuses it before work (the runner's pre-flight)
    with ``values``, naming ``fault``; accepted with ``fine`` (other values)."""

    notebook: str
    values: dict
    fault: str
    fine: dict


CASES: dict[Callable[[Tables], None], object] = {
    insulin_baseline_on_day_2: Refused("ADEX.csv", "'Baseline' record (AVISITN 0) after the"),
    one_arm_only: Refused("ADSL.csv", "arm 'Placebo' has no randomized subject"),
    nobody_randomized: Refused("ADSL.csv", "no randomized subject"),
    empty_adsl: Refused("ADSL.csv", "no rows (the table is empty)"),
    empty_adlb: Refused("ADLB.csv", "no rows (the table is empty)"),
    empty_adex: Refused("ADEX.csv", "no rows (the table is empty)"),
    week48_hba1c_on_day_33: Refused(
        "ADLB.csv", "Week 48 on day 33, which is in the window of Week 4 (days 2-42)"
    ),
    week4_insulin_before_infusion: Refused("ADEX.csv", "post-baseline visit on or before day 1"),
    fas_subject_without_baseline_hba1c: Refused("ADLB.csv", "without a baseline HBA1C"),
    fas_subject_without_baseline_insulin: Refused("ADEX.csv", "without a baseline INSDOSE"),
    no_week48_hba1c: Refused("ADLB.csv", "no HBA1C value at Week 48"),
    no_week48_insulin: Refused("ADEX.csv", "no INSDOSE value at Week 48"),
    no_week48_insulin_in_placebo: Refused(
        "ADEX.csv",
        "no INSDOSE value at Week 48 (the primary endpoint's visit, days 295-379) "
        "for any subject of the full analysis set in arm 'Placebo'",
    ),
    no_hba1c_at_all: Refused("ADLB.csv", "without a baseline HBA1C"),
    teae_before_first_infusion: Refused("ADAE.csv", "TRTEMFL contradicts the onset day"),
    not_teae_after_first_infusion: Refused("ADAE.csv", "TRTEMFL contradicts the onset day"),
    no_placebo_in_fas: Refused("ADSL.csv", "arm 'Placebo' has no subject in the full analysis"),
    hba1c_in_mmol_per_mol: Refused("ADLB.csv", "look like mmol/mol"),
    glucose_in_mg_per_dl: Refused("ADLB.csv", "look like mg/dL"),
    arm_in_lower_case: Refused("ADSL.csv", "did you mean"),
    lab_subject_not_in_adsl: Refused("ADLB.csv", "not in ADSL: 'SYN-999'"),
    duplicate_lab_record: Refused("ADLB.csv", "duplicate key"),
    study_day_zero: Refused("ADLB.csv", "no day 0"),
    empty_aval: Refused("ADEX.csv", "missing value"),
    label_contradicts_avisitn: Refused("ADLB.csv", "AVISIT does not match AVISITN"),
    unscheduled_week: Refused("ADLB.csv", "not a scheduled visit"),
    negative_insulin: Refused("ADEX.csv", "negative insulin dose"),
    missing_adex_file: Refused("ADEX.csv", "required file ADEX.csv is missing"),
    unknown_column: Refused("ADSL.csv", "unexpected column: HEIGHT"),
    fas_not_randomized: Refused("ADSL.csv", "must be randomized"),
    decimal_comma: Refused("ADLB.csv", "text where a number is expected"),
    fractional_age: Refused("ADSL.csv", "whole number expected"),
    pre_existing_zero_baseline_insulin: Warned("ADEX.csv", "baseline daily insulin dose 0"),
    non_fas_subject_without_baseline: Warned("ADLB.csv", "outside the full analysis set"),
    adae_without_events: Warned("ADAE.csv", "no adverse event"),
    no_treatment_emergent_event: NotebookRefuses(
        "08_safety",
        {},
        "no treatment-emergent adverse event",
        fine={"notebook": "05_primary_endpoint"},
    ),
    no_pps_in_uc_msc: Warned("ADSL.csv", "arm 'UC-MSC' has no subject in the per-protocol set"),
    late_insulin_without_visits: Warned("ADEX.csv", "after day 379"),
    adae_file_missing: NotebookRefuses(
        "08_safety", {}, "this folder has no ADAE.csv", fine={"notebook": "05_primary_endpoint"}
    ),
    no_week36_hba1c: NotebookRefuses(
        "06_hba1c_and_insulin_over_time",
        {"analysis_visit": 36},
        "fewer than 2 HBA1C values per arm at week 36; weeks with enough: 4, 8, 12, 24, 48",
        fine={"analysis_visit": 48},
    ),
    too_few_uc_msc_at_week48: NotebookRefuses(
        "07_missing_data_and_estimands",
        {},
        "need at least 4 to impute",
        fine={"notebook": "05_primary_endpoint"},
    ),
}


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert sum(isinstance(c, Refused) for c in CASES.values()) >= 25


@pytest.mark.parametrize("edit", list(CASES), ids=[f.__name__ for f in CASES])
def test_bad_folder(edit: Callable[[Tables], None], tmp_path: Path) -> None:
    expected = CASES[edit]
    folder = _build(tmp_path, edit)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    if isinstance(expected, Refused):
        with pytest.raises(schema.DatasetError) as err:
            schema.read(folder)
        text = str(err.value)
        assert expected.file in text and expected.fault in text, text
        assert len(text) < 3000
        # the runner's pre-flight check refuses it the same way, for any data notebook
        with pytest.raises(params.ParameterError) as perr:
            params.validate("05_primary_endpoint", {"data_dir": str(folder)})
        assert expected.fault in str(perr.value)
    elif isinstance(expected, Warned):
        with pytest.warns(schema.DataWarning, match=expected.words):
            data = schema.read(folder)
        notes = schema.warnings_of(data)
        assert any(expected.file in n and expected.words in n for n in notes), notes
        params.validate("05_primary_endpoint", {"data_dir": str(folder)})
    else:
        assert isinstance(expected, NotebookRefuses)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", schema.DataWarning)
            schema.read(folder)
            with pytest.raises(params.ParameterError) as perr:
                params.validate(expected.notebook, {"data_dir": str(folder), **expected.values})
            assert expected.fault in str(perr.value), str(perr.value)
            words = ("do not work together", "cannot be used here")
            assert any(w in str(perr.value) for w in words)
            fine = dict(expected.fine)
            notebook = fine.pop("notebook", expected.notebook)
            params.validate(notebook, {"data_dir": str(folder), **fine})
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # never modified


def test_the_pps_population_with_an_empty_arm_is_refused_by_notebook_04(tmp_path: Path) -> None:
    folder = _build(tmp_path, no_pps_in_uc_msc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", schema.DataWarning)
        with pytest.raises(params.ParameterError, match="parameters data_dir = .* population"):
            params.validate(
                "04_endpoint_derivation", {"data_dir": str(folder), "population": "PPS"}
            )
        params.validate("04_endpoint_derivation", {"data_dir": str(folder), "population": "FAS"})


def test_visits_derived_from_study_days_give_the_same_endpoint(tmp_path: Path) -> None:
    """Data without AVISIT/AVISITN are windowed from ADY: the same responders."""
    folder = _build(tmp_path, no_visit_columns)
    counts = []
    for source in (SYNTHETIC, folder):
        d = schema.read(source)
        adresp = derive.responders(
            d["ADSL"], derive.derive_adlb(d["ADLB"]), derive.derive_adex(d["ADEX"])
        )
        counts.append(derive.responder_counts(adresp, None))
    assert counts[0] == counts[1]
    assert counts[0]["RESP"] == {"UC-MSC": [9, 45], "Placebo": [2, 44]}


def test_the_runner_refuses_the_day_2_baseline_before_executing(tmp_path: Path) -> None:
    """The case of the issue: exit 2, the file and the fault named, nothing written."""
    folder = _build(tmp_path, insulin_baseline_on_day_2)
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable, "-m", "trialkit", "run", "--only", "04", "10",
            "-p", "data_dir", str(folder), "--out", str(out),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "ADEX.csv" in done.stderr and "after the first infusion" in done.stderr
    assert "nothing was executed" in done.stderr
    assert not out.exists()


def test_a_warning_reaches_the_page_of_a_rendered_notebook(tmp_path: Path) -> None:
    """The one rendering of this file: notebook 04 on data with a sensible reading (a
    baseline insulin dose of 0): it runs, the runner says why, and the executed notebook
    shows the warning as a Markdown block (once)."""
    import json

    from trialkit import run

    folder = _build(tmp_path, pre_existing_zero_baseline_insulin)
    lines: list[str] = []
    (outcome,) = run.render(
        only=["04"],
        parameters={"data_dir": str(folder)},
        out=tmp_path / "reports",
        jobs=1,
        site=False,
        progress=lines.append,
    )
    assert outcome.ok, outcome.message
    assert any(ln.startswith("data warning:") and "insulin dose 0" in ln for ln in lines)
    nb = json.loads((tmp_path / "reports" / "04_endpoint_derivation.ipynb").read_text())
    shown = [
        "".join(o["data"]["text/markdown"])
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    ]
    warned = [t for t in shown if t.startswith("**Data warning")]
    assert len(warned) == 1 and "baseline daily insulin dose 0" in warned[0]
    stderr = [
        "".join(o.get("text", ""))
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    ]
    assert not any("DataWarning" in t for t in stderr)
