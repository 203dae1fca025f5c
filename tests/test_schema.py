"""trialkit.schema: the hand-made bring-your-own-data folder validates; broken copies of it
(one fault each) fail with messages that name the file, the column and the rows."""

from __future__ import annotations

import csv
import hashlib
import pickle
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from trialkit import schema
from trialkit.schema import DatasetError

BYOD = Path(__file__).resolve().parent / "fixtures" / "byod"


# ---------------------------------------------------------------------------------------
# helpers: copy the fixture, edit one cell or row of one file
# ---------------------------------------------------------------------------------------


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A fresh copy of the fixture to break."""
    return Path(shutil.copytree(BYOD, tmp_path / "data"))


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def _line(path: Path, **match: str) -> int:
    """File line number (header = line 1) of the one row matching ``match``."""
    rows = _rows(path)
    head = rows[0]
    hits = [
        i + 1
        for i, row in enumerate(rows)
        if i > 0 and all(row[head.index(k)] == v for k, v in match.items())
    ]
    assert len(hits) == 1, hits
    return hits[0]


def _set(path: Path, line: int, column: str, value: str) -> None:
    rows = _rows(path)
    rows[line - 1][rows[0].index(column)] = value
    _write(path, rows)


def _edit(path: Path, fn: Callable[[list[list[str]]], list[list[str]]]) -> None:
    _write(path, fn(_rows(path)))


def _fails(folder: Path) -> str:
    before = _digest(folder)
    with pytest.raises(DatasetError) as err:
        schema.read(folder)
    assert _digest(folder) == before  # a failed read changes nothing either
    return str(err.value)


# ---------------------------------------------------------------------------------------
# the clean fixture
# ---------------------------------------------------------------------------------------


def test_fixture_validates_cleanly_and_is_not_modified() -> None:
    before = _digest(BYOD)
    data = schema.read(BYOD)
    assert _digest(BYOD) == before  # byte-identical after read
    assert set(data) == {"ADSL", "ADLB", "ADEX", "ADAE"}
    adsl = data["ADSL"]
    # USUBJIDs that look like numbers stay text, leading zeros included
    assert adsl["USUBJID"].tolist() == ["0101", "0102", "0103", "0104", "0105", "0106"]
    assert pd.api.types.is_string_dtype(adsl["USUBJID"].dtype)
    # completers have "" (not missing) in DCSREAS
    assert adsl["DCSREAS"].tolist() == [""] * 5 + ["Withdrew consent"]
    assert adsl["AGE"].dtype == np.int64 and adsl["WEIGHT"].dtype == np.float64
    adlb = data["ADLB"]
    assert adlb["AVISITN"].dtype == np.int64 and adlb["ADY"].dtype == np.int64
    assert adlb["AVAL"].dtype == np.float64
    assert list(adlb.columns) == ["USUBJID", "PARAMCD", "AVISIT", "AVISITN", "ADY", "AVAL"]
    assert set(adlb["PARAMCD"]) == {"HBA1C", "FPG", "GIR", "CPEP"}
    # as described in its README: 0103 missed week 48, 0106 stopped after week 12
    wk48 = set(adlb.loc[adlb["AVISITN"] == 48, "USUBJID"])
    assert wk48 == {"0101", "0102", "0104", "0105"}
    assert data["ADAE"]["TRTEMFL"].tolist() == ["Y", "N", "Y", "Y", "Y"]


def test_fixture_goes_through_derive() -> None:
    from trialkit import derive

    data = schema.read(BYOD)
    adlb = derive.derive_adlb(data["ADLB"])
    adex = derive.derive_adex(data["ADEX"])
    schema.validate_all({"ADSL": data["ADSL"], "ADLB": adlb, "ADEX": adex})
    adresp = derive.responders(data["ADSL"], adlb, adex)
    # 0101: HbA1c 6.6 % and insulin 48 -> 22 U/day (-54 %): the only responder
    assert derive.responder_counts(adresp) == {"UC-MSC": [1, 3], "Placebo": [0, 3]}


def test_adae_is_optional(folder: Path) -> None:
    (folder / "ADAE.csv").unlink()
    data = schema.read(folder)
    assert set(data) == {"ADSL", "ADLB", "ADEX"}


# ---------------------------------------------------------------------------------------
# one fault each
# ---------------------------------------------------------------------------------------


def test_missing_column(folder: Path) -> None:
    _edit(folder / "ADSL.csv", lambda rows: [r[:5] + r[6:] for r in rows])  # drop AGE
    msg = _fails(folder)
    assert "ADSL.csv" in msg and "column AGE" in msg and "missing required column" in msg


def test_extra_column(folder: Path) -> None:
    _edit(
        folder / "ADLB.csv",
        lambda rows: [[*r, "COMMENT" if i == 0 else ""] for i, r in enumerate(rows)],
    )
    msg = _fails(folder)
    assert "ADLB.csv" in msg and "column COMMENT" in msg and "unexpected column" in msg


def test_text_in_aval(folder: Path) -> None:
    path = folder / "ADLB.csv"
    line = _line(path, USUBJID="0104", PARAMCD="FPG", ADY="336")
    _set(path, line, "AVAL", "n.d.")
    msg = _fails(folder)
    assert "ADLB.csv" in msg and "column AVAL" in msg and "text where a number is expected" in msg
    assert f"line {line} (USUBJID '0104'" in msg and "'n.d.'" in msg


def test_duplicate_key(folder: Path) -> None:
    path = folder / "ADEX.csv"
    line = _line(path, USUBJID="0102", ADY="86")
    _edit(path, lambda rows: [*rows, rows[line - 1]])  # the same record again, at the end
    n_lines = len(_rows(path))
    msg = _fails(folder)
    assert "ADEX.csv" in msg and "USUBJID, PARAMCD, ADY" in msg and "duplicate key" in msg
    assert f"line {line} (USUBJID '0102'" in msg and f"line {n_lines} (USUBJID '0102'" in msg


def test_hba1c_in_mmol_per_mol(folder: Path) -> None:
    path = folder / "ADLB.csv"

    def to_ifcc(rows: list[list[str]]) -> list[list[str]]:
        head = rows[0]
        p, v = head.index("PARAMCD"), head.index("AVAL")
        for r in rows[1:]:
            if r[p] == "HBA1C":  # % -> mmol/mol: (% - 2.15) * 10.929
                r[v] = f"{(float(r[v]) - 2.15) * 10.929:.0f}"
        return rows

    _edit(path, to_ifcc)
    msg = _fails(folder)
    assert "ADLB.csv" in msg and "column AVAL" in msg
    assert (
        "HBA1C values look like mmol/mol (IFCC); this project expects % (NGSP): "
        "% = mmol/mol / 10.929 + 2.15"
    ) in msg
    assert "line 2 (USUBJID '0101'" in msg  # the first HbA1c row (9.1 % -> 76 mmol/mol)
    assert "outside the physical range" not in msg  # said once, as a unit problem


def test_hba1c_out_of_range(folder: Path) -> None:
    path = folder / "ADLB.csv"
    line = _line(path, USUBJID="0105", PARAMCD="HBA1C", ADY="170")
    _set(path, line, "AVAL", "45")
    msg = _fails(folder)
    assert "ADLB.csv" in msg and "column AVAL" in msg
    assert "HBA1C outside the physical range 3-20 %" in msg
    assert f"line {line} (USUBJID '0105'" in msg and "AVAL 45" in msg
    assert "mmol/mol" not in msg  # one odd value is not a unit problem


def test_visit_not_in_schedule(folder: Path) -> None:
    path = folder / "ADLB.csv"
    line = _line(path, USUBJID="0102", PARAMCD="HBA1C", ADY="86")
    _set(path, line, "AVISITN", "10")
    _set(path, line, "AVISIT", "Week 10")
    msg = _fails(folder)
    assert "ADLB.csv" in msg and "column AVISITN" in msg
    assert "not a scheduled visit (weeks 0, 4, 8, 12, 24, 36, 48)" in msg
    assert f"line {line} (USUBJID '0102'" in msg


def test_visit_label_inconsistent(folder: Path) -> None:
    path = folder / "ADLB.csv"
    line = _line(path, USUBJID="0102", PARAMCD="HBA1C", ADY="86")
    _set(path, line, "AVISIT", "Week 24")  # AVISITN stays 12
    msg = _fails(folder)
    assert "column AVISIT:" in msg and "does not match AVISITN" in msg
    assert f"line {line} (USUBJID '0102'" in msg


def test_negative_insulin_dose(folder: Path) -> None:
    path = folder / "ADEX.csv"
    line = _line(path, USUBJID="0103", ADY="84")
    _set(path, line, "AVAL", "-48")
    msg = _fails(folder)
    assert "ADEX.csv" in msg and "column AVAL" in msg and "negative insulin dose" in msg
    assert f"line {line} (USUBJID '0103'" in msg


def test_subject_not_in_adsl(folder: Path) -> None:
    path = folder / "ADLB.csv"
    line = _line(path, USUBJID="0106", PARAMCD="CPEP")
    _set(path, line, "USUBJID", "0107")
    msg = _fails(folder)
    assert "ADLB.csv" in msg and "column USUBJID" in msg and "not in ADSL: '0107'" in msg
    assert f"line {line} (USUBJID '0107'" in msg


def test_adsl_file_missing(folder: Path) -> None:
    (folder / "ADSL.csv").unlink()
    msg = _fails(folder)
    assert "ADSL.csv" in msg and "missing" in msg


def test_adsl_file_named_in_lower_case(folder: Path) -> None:
    (folder / "ADSL.csv").rename(folder / "adsl.csv")
    msg = _fails(folder)
    assert "found adsl.csv: rename it to ADSL.csv" in msg


def test_duplicate_usubjid_in_adsl(folder: Path) -> None:
    path = folder / "ADSL.csv"
    line = _line(path, USUBJID="0104")
    _set(path, line, "USUBJID", "0103")
    msg = _fails(folder)
    assert "ADSL.csv" in msg and "column USUBJID" in msg and "more than once" in msg
    assert f"line {line} (USUBJID '0103')" in msg and "line 4 (USUBJID '0103')" in msg


def test_arm_spelled_in_lower_case(folder: Path) -> None:
    path = folder / "ADSL.csv"
    line = _line(path, USUBJID="0102")
    _set(path, line, "ARM", "placebo")
    msg = _fails(folder)
    assert "ADSL.csv" in msg and "column ARM" in msg and "'UC-MSC', 'Placebo'" in msg
    assert "did you mean 'placebo' -> 'Placebo'?" in msg
    assert f"line {line} (USUBJID '0102', ARM 'placebo')" in msg


def test_unreadable_file_is_named(folder: Path) -> None:
    (folder / "ADEX.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    msg = _fails(folder)
    assert "ADEX.csv" in msg and "cannot read" in msg


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="is not a folder"):
        schema.read(tmp_path / "nowhere")


def test_all_problems_of_all_files_at_once(folder: Path) -> None:
    _set(folder / "ADSL.csv", 3, "SEX", "X")
    _set(folder / "ADAE.csv", 2, "AESEV", "Mild")
    with pytest.raises(DatasetError) as err:
        schema.read(folder)
    assert len(err.value.problems) == 2
    msg = str(err.value)
    assert msg.startswith("2 problems in ADAE.csv, ADSL.csv:")
    assert "column SEX" in msg and "did you mean 'Mild' -> 'MILD'?" in msg


# ---------------------------------------------------------------------------------------
# validate() on frames
# ---------------------------------------------------------------------------------------


def _adlb() -> pd.DataFrame:
    return schema.read(BYOD)["ADLB"]


def test_validate_names_row_labels_and_does_not_modify() -> None:
    df = _adlb().set_index(pd.RangeIndex(100, 100 + len(_adlb())))
    df.loc[103, "AVAL"] = 0.5  # HbA1c 0.5 %
    keep = df.copy(deep=True)
    with pytest.raises(DatasetError) as err:
        schema.validate(df, "ADLB")
    pd.testing.assert_frame_equal(df, keep)
    msg = str(err.value)
    assert msg.startswith("1 problem in ADLB:")
    assert "ADLB, column AVAL: HBA1C outside the physical range" in msg
    assert "row 103 (USUBJID '0101'" in msg
    problem = err.value.problems[0]
    assert (problem.dataset, problem.column, problem.n_rows) == ("ADLB", "AVAL", 1)


def test_validate_coerces_losslessly() -> None:
    adsl = schema.read(BYOD)["ADSL"]
    loose = adsl.assign(
        USUBJID=range(1, 7),  # numbers -> text
        AGE=adsl["AGE"].astype(float),  # 52.0 -> 52
        DCSREAS=adsl["DCSREAS"].replace("", np.nan),  # missing -> ""
    )
    out = schema.validate(loose, "adsl")  # any case
    assert out["USUBJID"].tolist() == ["1", "2", "3", "4", "5", "6"]
    assert out["AGE"].dtype == np.int64
    assert out["DCSREAS"].tolist()[:2] == ["", ""]
    assert loose["USUBJID"].dtype == np.int64  # the input is left alone


def test_validate_rejects_fractional_age_and_empty_aval() -> None:
    adsl = schema.read(BYOD)["ADSL"].assign(AGE=[52.5, 47, 58, 61, 39, 55])
    with pytest.raises(DatasetError, match="column AGE: whole number expected"):
        schema.validate(adsl, "ADSL")
    adlb = _adlb()
    adlb.loc[2, "AVAL"] = np.nan
    with pytest.raises(DatasetError, match="absent row|left out as a row"):
        schema.validate(adlb, "ADLB")


def test_day_zero_and_flags() -> None:
    adlb = _adlb()
    adlb.loc[1, "ADY"] = 0
    with pytest.raises(DatasetError, match="no day 0"):
        schema.validate(adlb, "ADLB")
    twice = _adlb().assign(ABLFL="Y")
    with pytest.raises(DatasetError, match="more than one ABLFL 'Y' record"):
        schema.validate(twice, "ADLB")


def test_visits_optional_as_a_pair() -> None:
    raw = _adlb().drop(columns=["AVISIT", "AVISITN"])
    assert list(schema.validate(raw, "ADLB").columns) == ["USUBJID", "PARAMCD", "ADY", "AVAL"]
    with pytest.raises(DatasetError, match="AVISITN without AVISIT"):
        schema.validate(_adlb().drop(columns=["AVISIT"]), "ADLB")


def test_adsl_population_flags_nest() -> None:
    adsl = schema.read(BYOD)["ADSL"]
    adsl.loc[0, "RANDFL"] = "N"
    with pytest.raises(DatasetError, match="must be randomized"):
        schema.validate(adsl, "ADSL")


def test_synthetic_column_optional_but_all_y() -> None:
    adsl = schema.read(BYOD)["ADSL"]
    assert "SYNTHETIC" in schema.validate(adsl.assign(SYNTHETIC="Y"), "ADSL").columns
    with pytest.raises(DatasetError, match="SYNTHETIC must be 'Y'"):
        schema.validate(adsl.assign(SYNTHETIC=["Y"] * 5 + ["N"]), "ADSL")


def test_subject_in_adae_not_in_adsl() -> None:
    data = schema.read(BYOD)
    data["ADAE"].loc[0, "USUBJID"] = "9999"
    with pytest.raises(DatasetError, match="ADAE, column USUBJID: subject.s. not in ADSL"):
        schema.validate_all(data)


def test_unknown_dataset_and_contract_objects() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'ADXX'"):
        schema.validate(_adlb(), "ADXX")
    assert issubclass(DatasetError, ValueError)
    assert all(isinstance(s, pa.DataFrameSchema) and s.strict for s in schema.SCHEMAS.values())
    assert schema.VISITS == (0, 4, 8, 12, 24, 36, 48)
    assert schema.UNITS["HBA1C"] == "%" and schema.UNITS["INSDOSE"] == "U/day"
    assert schema.target_day(48) == 337
    # the pandera schema accepts what validate returns
    schema.SCHEMAS["ADLB"].validate(_adlb())


# ---------------------------------------------------------------------------------------
# validated once per run: the snapshot written by the runner, read by the kernels
# ---------------------------------------------------------------------------------------

SYNTHETIC = Path(__file__).resolve().parent.parent / "data" / "synthetic"


def _warned_folder(tmp_path: Path) -> Path:
    """data/synthetic with an ADAE.csv of only its header: valid, with a warning."""
    out = Path(shutil.copytree(SYNTHETIC, tmp_path / "warned"))
    header = (out / "ADAE.csv").read_text().splitlines()[0]
    (out / "ADAE.csv").write_text(header + "\n")
    return out


def _read_plain(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, pd.DataFrame]:
    with monkeypatch.context() as m:
        m.delenv(schema.SNAPSHOT_ENV, raising=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", schema.DataWarning)
            return schema.read(folder)


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert list(a) == list(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
        assert a[name].attrs == b[name].attrs
        assert a[name].flags.allows_duplicate_labels == b[name].flags.allows_duplicate_labels


def test_snapshot_gives_what_validating_gives(tmp_path, monkeypatch):
    warned = _warned_folder(tmp_path)
    snap = tmp_path / "validated.pickle"
    schema.write_snapshot([SYNTHETIC, warned], snap)
    plain = {f: _read_plain(f, monkeypatch) for f in (SYNTHETIC, warned)}
    assert schema.warnings_of(plain[warned]) and not schema.warnings_of(plain[SYNTHETIC])

    monkeypatch.setenv(schema.SNAPSHOT_ENV, str(snap))

    def must_not_validate(folder):
        raise AssertionError(f"{folder} validated again despite the snapshot")

    with monkeypatch.context() as m:
        m.setattr(schema, "_read_validated", must_not_validate)
        for folder in (SYNTHETIC, warned):
            got = schema.read(folder, announce=False)
            _same(got, plain[folder])
            # a fresh copy each call: changing one result does not change the next
            got["ADSL"].loc[:, "AGE"] = -1
            got["ADLB"].attrs["warnings"].append("changed")
            _same(schema.read(folder, announce=False), plain[folder])
        # relative paths name the same folder
        monkeypatch.chdir(SYNTHETIC.parent)
        _same(schema.read("synthetic", announce=False), plain[SYNTHETIC])
        # the warnings are still announced
        with pytest.warns(schema.DataWarning, match="no adverse event"):
            schema.read(warned)


def test_snapshot_of_changed_files_is_not_used(tmp_path, monkeypatch):
    folder = Path(shutil.copytree(SYNTHETIC, tmp_path / "data"))
    snap = tmp_path / "validated.pickle"
    schema.write_snapshot([folder], snap)
    monkeypatch.setenv(schema.SNAPSHOT_ENV, str(snap))
    schema.read(folder)
    rows = _rows(folder / "ADSL.csv")
    rows[1][rows[0].index("ARM")] = "Placebo arm"
    _write(folder / "ADSL.csv", rows)
    with pytest.raises(DatasetError, match="ARM must be one of"):
        schema.read(folder)
    schema.write_snapshot([folder], snap)  # the broken folder is left out of the snapshot
    with pytest.raises(DatasetError, match="ARM must be one of"):
        schema.read(folder)


@pytest.mark.parametrize(
    "content",
    [b"not a pickle", b"", pickle.dumps({"format": ("trialkit.schema snapshot", 0)}), None],
    ids=["garbage", "empty", "other-version", "missing"],
)
def test_unusable_snapshot_falls_back_to_validating(tmp_path, monkeypatch, content):
    snap = tmp_path / "validated.pickle"
    if content is not None:
        snap.write_bytes(content)
    plain = _read_plain(SYNTHETIC, monkeypatch)
    monkeypatch.setenv(schema.SNAPSHOT_ENV, str(snap))
    schema._VALIDATED.clear()  # nothing validated earlier in this process
    calls = []
    validated = schema._read_validated
    monkeypatch.setattr(schema, "_read_validated", lambda f: calls.append(f) or validated(f))
    _same(schema.read(SYNTHETIC), plain)
    assert calls == [SYNTHETIC]


def test_snapshot_digest_covers_only_the_dataset_files(tmp_path):
    folder = Path(shutil.copytree(SYNTHETIC, tmp_path / "data"))
    before = schema._digest(folder)
    (folder / "notes.txt").write_text("ignored by read")
    assert schema._digest(folder) == before
    (folder / "ADAE.csv").rename(folder / "adae_old.csv")
    assert schema._digest(folder) != before


def test_a_folder_is_validated_once_per_process_for_the_same_files(tmp_path, monkeypatch):
    """``read`` (and so the runner's parameter check and its snapshot) validates a folder
    once while its files stay the same; a copy per call; changed files are validated
    afresh (and refused when broken)."""
    folder = Path(shutil.copytree(SYNTHETIC, tmp_path / "data"))
    monkeypatch.delenv(schema.SNAPSHOT_ENV, raising=False)
    calls = []
    validated = schema._read_validated
    monkeypatch.setattr(schema, "_read_validated", lambda f: calls.append(f) or validated(f))
    first = schema.read(folder, announce=False)
    first["ADSL"].loc[:, "AGE"] = -1  # the caller's own copy
    first["ADLB"].attrs["warnings"].append("changed")
    again = schema.read(folder, announce=False)
    schema.write_snapshot([folder], tmp_path / "validated.pickle")
    assert len(calls) == 1
    _same(again, validated(folder))
    rows = _rows(folder / "ADSL.csv")
    rows[1][rows[0].index("ARM")] = "Placebo arm"
    _write(folder / "ADSL.csv", rows)
    with pytest.raises(DatasetError, match="ARM must be one of"):
        schema.read(folder)
    assert len(calls) == 2
