"""Bring your own data: the notebooks that take ``data_dir``, run on an analyst's folder.

1. Every notebook declaring ``data_dir`` renders with the hand-made folder
   ``tests/fixtures/byod`` (six invented subjects, see its README), and what it records
   reflects those subjects: the responder counts are recomputed here with plain pandas from
   the CSV files (baseline = the last record on or before study day 1; the week-48 record;
   HbA1c < 7.0 % and dose cut by >= 50 %; subjects of the full analysis set without week-48
   data count as non-responders).
2. Broken copies of the folder, one fault each, are refused by
   ``python -m trialkit run --only 04 -p data_dir BROKEN --out OUT``: exit status 2, a
   message naming the file, column and rows, nothing executed, no report written, an earlier
   good report in OUT left byte-identical, and the input files unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_PARAMETERS

from trialkit import params, run
from trialkit.__main__ import main

pytestmark = pytest.mark.notebooks

BYOD = Path(__file__).resolve().parent / "fixtures" / "byod"
ARMS = ("UC-MSC", "Placebo")
#: notebooks that take the analyst's data
TAKES_DATA = [p.stem for p in run.notebooks() if "data_dir" in params.SPECS.get(p.stem, {})]

#: notebooks whose method needs more patients than the fixture's six: refused before
#: anything runs (the runner's pre-flight check), naming why
TOO_SMALL = {"07_missing_data_and_estimands": "need at least 4 to impute"}
USABLE = [stem for stem in TAKES_DATA if stem not in TOO_SMALL]


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def expected_responders(folder: Path) -> dict[str, list[int]]:
    """The primary endpoint per arm of the full analysis set, straight from the CSVs."""
    adsl = _read(folder, "ADSL")
    fas = adsl[adsl["FASFL"] == "Y"].set_index("USUBJID")
    lb, ex = _read(folder, "ADLB"), _read(folder, "ADEX")
    for df in (lb, ex):
        df["ADY"] = df["ADY"].astype(int)
        df["AVAL"] = df["AVAL"].astype(float)
    hb = lb[(lb["PARAMCD"] == "HBA1C") & (lb["AVISIT"] == "Week 48")]
    hba1c48 = hb.set_index("USUBJID")["AVAL"].reindex(fas.index)
    dose = ex[ex["PARAMCD"] == "INSDOSE"]
    base = dose[dose["ADY"] <= 1].sort_values("ADY").groupby("USUBJID")["AVAL"].last()
    w48 = dose[dose["AVISIT"] == "Week 48"].set_index("USUBJID")["AVAL"]
    pchg = (100 * (w48 - base) / base).reindex(fas.index)
    met = (hba1c48 < 7.0) & (pchg <= -50)  # NaN compares False: missing = not met
    return {
        arm: [int(met[fas["ARM"] == arm].sum()), int((fas["ARM"] == arm).sum())] for arm in ARMS
    }


def expected_any_teae(folder: Path) -> dict[str, list[int]]:
    """Subjects with at least one treatment-emergent adverse event, of those randomized."""
    adsl = _read(folder, "ADSL")
    ae = _read(folder, "ADAE")
    ids = set(ae.loc[ae["TRTEMFL"] == "Y", "USUBJID"])
    rand = adsl[adsl["RANDFL"] == "Y"]
    return {
        arm: [
            int(rand.loc[rand["ARM"] == arm, "USUBJID"].isin(ids).sum()),
            int((rand["ARM"] == arm).sum()),
        ]
        for arm in ARMS
    }


def expected_hba1c_week48(folder: Path) -> tuple[float, float, list[int]]:
    """Difference in mean HbA1c change at week 48 (UC-MSC minus placebo), its Student's
    t-test standard error (pooled variance) and the patients per arm with a week-48 value,
    straight from the CSVs (baseline: the last value on or before day 1). By hand for the
    fixture: UC-MSC 6.6 - 8.8 and 7.5 - 10.2, placebo 8.2 - 8.9 and 7.7 - 8.4, so -2.45
    minus -0.70 = -1.75, pooled variance 0.125 / 2, SE sqrt(0.0625 x (1/2 + 1/2)) = 0.25."""
    adsl = _read(folder, "ADSL").set_index("USUBJID")
    lb = _read(folder, "ADLB")
    lb = lb[lb["PARAMCD"] == "HBA1C"].assign(ADY=lambda d: d["ADY"].astype(int),
                                             AVAL=lambda d: d["AVAL"].astype(float))  # fmt: skip
    base = lb[lb["ADY"] <= 1].sort_values("ADY").groupby("USUBJID")["AVAL"].last()
    change = (lb[lb["AVISIT"] == "Week 48"].set_index("USUBJID")["AVAL"] - base).dropna()
    arms = [change[adsl.loc[change.index, "ARM"] == arm] for arm in ARMS]
    n1, n2 = (len(a) for a in arms)
    pooled = ((n1 - 1) * arms[0].var() + (n2 - 1) * arms[1].var()) / (n1 + n2 - 2)
    se = (pooled * (1 / n1 + 1 / n2)) ** 0.5
    return arms[0].mean() - arms[1].mean(), se, [n1, n2]


@pytest.fixture(scope="module")
def byod_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, run.Outcome]]:
    """Every notebook that takes data_dir, rendered once on the hand-made folder; each
    test below checks its own notebook's outcome."""
    out = tmp_path_factory.mktemp("byod_reports")
    declared = {n for stem in USABLE for n in params.SPECS[stem]}
    chosen = {k: v for k, v in TEST_PARAMETERS.items() if k in declared}
    outcomes = run.render(
        only=USABLE, parameters={**chosen, "data_dir": str(BYOD)}, out=out, progress=print
    )
    return out, {o.name: o for o in outcomes}


@pytest.fixture(scope="module")
def byod_reports(byod_run) -> Path:
    """The folder of the run above, with notebook 04's report in it."""
    out, outcomes = byod_run
    assert outcomes["04_endpoint_derivation"].ok, outcomes["04_endpoint_derivation"].message
    return out


def _records(folder: Path, stem: str) -> dict:
    return json.loads((folder / f"{stem}.json").read_text())


def test_notebook_04_takes_data_dir():
    assert "04_endpoint_derivation" in TAKES_DATA


@pytest.mark.parametrize("stem", sorted(TOO_SMALL))
def test_data_too_small_for_a_method_is_refused_before_running(stem, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--only", stem[:2], "-p", "data_dir", str(BYOD), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert TOO_SMALL[stem] in err and "nothing was executed" in err
    assert not out.exists()
    with pytest.raises(params.ParameterError, match=TOO_SMALL[stem]):  # and in the notebook
        params.check(stem, {**params.defaults(stem), "data_dir": str(BYOD)})


@pytest.mark.parametrize("stem", USABLE)
def test_notebook_renders_on_the_analysts_data(byod_run, stem):
    folder, outcomes = byod_run
    outcome = outcomes[stem]
    assert outcome.ok, outcome.message
    report = _records(folder, stem)
    assert report["status"] == "ok"
    assert Path(report["parameters"]["data_dir"]) == BYOD.resolve()
    records = report["records"]
    responders = expected_responders(BYOD)
    assert responders == {"UC-MSC": [1, 3], "Placebo": [0, 3]}  # the README: only 0101 responds
    if stem == "04_endpoint_derivation":
        assert records["responders"] == responders
        assert records["data.synthetic"] is False
        assert records["data.subjects"] == 6
        assert records["traced"]["responder"] == "0101"
        assert records["traced"]["left early"] == "0106"
    if "primary.counts" in records:
        assert records["primary.counts"] == responders
    if stem == "10_bayesian_reanalysis":  # section 6: the analyst's own HbA1c reading
        from scipy import stats as sps

        diff, se, n = expected_hba1c_week48(BYOD)
        yours = records["bayes.your_hba1c"]
        assert yours["n"] == n == [2, 2]
        assert yours["mean"] == pytest.approx(diff) == pytest.approx(-1.75)
        assert yours["se"] == pytest.approx(se) == pytest.approx(0.25)
        relevant = report["parameters"]["hba1c_relevant"]
        assert yours["p_relevant"] == pytest.approx(sps.norm.cdf(-relevant, diff, se))
    if "safety.incidence.any" in records:
        inc = records["safety.incidence.any"]
        assert {arm: inc[arm] for arm in ARMS} == expected_any_teae(BYOD)


# --------------------------------------------------------------------------- broken folders
def _edit(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / f"{name}.csv"
        change(_read(folder, name)).to_csv(path, index=False, lineterminator="\n")

    return apply


def _set(row: int, col: str, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row, col] = value
        return df

    return change


def _to_mmol(df: pd.DataFrame) -> pd.DataFrame:
    hb = df["PARAMCD"] == "HBA1C"  # IFCC mmol/mol = 10.929 x (NGSP % - 2.15)
    df.loc[hb, "AVAL"] = [f"{10.929 * (float(v) - 2.15):.0f}" for v in df.loc[hb, "AVAL"]]
    return df


def _orphan(df: pd.DataFrame) -> pd.DataFrame:
    extra = pd.DataFrame([["0999", "HBA1C", "Baseline", "0", "1", "8.0"]], columns=df.columns)
    return pd.concat([df, extra], ignore_index=True)


def _baseline_on_day_2(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[df["AVISITN"] == "0", "ADY"] = "2"
    return df


#: one fault per case: (how to break a copy, what the message must name)
FAULTS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "missing column": (_edit("ADLB", lambda df: df.drop(columns=["AVAL"])), ["ADLB.csv", "AVAL"]),
    "HbA1c in mmol/mol": (_edit("ADLB", _to_mmol), ["ADLB.csv", "AVAL", "mmol/mol", "line 2"]),
    "negative insulin dose": (
        _edit("ADEX", _set(2, "AVAL", "-12")),
        ["ADEX.csv", "AVAL", "negative", "line 4", "'0101'"],
    ),
    "subject not in ADSL": (
        _edit("ADLB", _orphan),
        ["ADLB.csv", "USUBJID", "not in ADSL", "'0999'", "line 50"],
    ),
    "missing ADSL.csv": (lambda f: (f / "ADSL.csv").unlink(), ["ADSL.csv", "missing"]),
    "text in AVAL": (_edit("ADLB", _set(3, "AVAL", "n/a")), ["ADLB.csv", "AVAL", "line 5", "n/a"]),
    # data the derivations cannot use as intended (issue 11)
    "insulin baseline after the first infusion": (
        _edit("ADEX", _baseline_on_day_2),
        ["ADEX.csv", "AVISIT", "'Baseline' record", "after the first infusion", "line 2"],
    ),
    "one arm only": (
        _edit("ADSL", lambda df: df.assign(ARM="UC-MSC")),
        ["ADSL.csv", "arm 'Placebo' has no randomized subject"],
    ),
}


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fault", list(FAULTS))
def test_broken_folder_is_refused_before_anything_runs(
    fault, byod_reports, tmp_path, capsys, monkeypatch
):
    breaks, named = FAULTS[fault]
    broken = tmp_path / "broken"
    shutil.copytree(BYOD, broken)
    breaks(broken)
    out = tmp_path / "out"
    shutil.copytree(byod_reports, out)  # an earlier good report
    before_out, before_in = _snapshot(out), _snapshot(broken)
    assert "04_endpoint_derivation.json" in before_out

    def must_not_run(*args, **kwargs):
        raise AssertionError("a notebook was executed for a broken data folder")

    monkeypatch.setattr(run, "_worker", must_not_run)
    capsys.readouterr()
    status = main(["run", "--only", "04", "-p", "data_dir", str(broken), "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "data_dir" in err and "nothing was executed" in err
    for word in named:
        assert word in err, f"{fault}: message does not name {word!r}:\n{err}"
    assert _snapshot(out) == before_out  # no report written, the good one untouched
    assert _snapshot(broken) == before_in  # the analyst's files are only read


def test_faults_really_differ_from_the_good_folder(tmp_path):
    """Each broken copy differs from the fixture (the test above is not vacuous)."""
    good = _snapshot(BYOD)
    for i, (breaks, _) in enumerate(FAULTS.values()):
        folder = tmp_path / str(i)
        shutil.copytree(BYOD, folder)
        breaks(folder)
        assert _snapshot(folder) != good
