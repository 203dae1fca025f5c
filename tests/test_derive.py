"""trialkit.derive on a small hand-written data set; every expected value worked out by hand.

The data (written out below, not generated): five subjects, HbA1c (%) in ADLB and the
total daily insulin dose (U/day) in ADEX, with study days only (visits come from the
windows: Baseline <= day 1, Week 12 days 71-126, Week 24 127-210, Week 48 295-379).

    subject arm      FAS PPS  HbA1c (day: %)                            insulin (day: U/day)
    S1      UC-MSC   Y   Y    -7: 9.0, 1: 8.8, 169: 7.4, 330: 6.9, 344: 6.5  1: 40, 169: 30, 337: 20
    S2      Placebo  Y   Y    1: 8.1, 170: 7.6, 337: 7.0                    1: 60, 170: 40, 337: 24
    S3      UC-MSC   Y   N    1: 9.5, 80: 7.5, 85: 7.2, 170: 6.8            1: 50, 170: 24
    S4      Placebo  Y   Y    1: 8.0, 168: 7.1, 336: 6.2                    1: 40, 168: 30
    S5      UC-MSC   N   N    1: 8.5                                        (none)

What each subject is for:
- S1: a screening value (day -7) and a pre-dose repeat (day 1): baseline is day 1. Two
  Week-48 HbA1c values equally far from the target day 337 (330 and 344, 7 days each):
  the later (344, 6.5 %) is analysed. Insulin 40 -> 20 U/day is exactly -50 %: met.
- S2: HbA1c exactly 7.0 % at week 48: not met with "< 7.0", met with "<= 7.0".
  Insulin 60 -> 24 U/day = -60 %: met.
- S3: no week-48 data (last visit Week 24: HbA1c 6.8 %, insulin 50 -> 24 = -52 %):
  the missing-data rules decide. Two Week-12 HbA1c values (80, 85): 85 is the target.
- S4: HbA1c met at week 48 (6.2 %), insulin missing at week 48 (Week 24: 40 -> 30, -25 %).
- S5: randomized but not in the FAS; baseline HbA1c only, no insulin records.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trialkit import derive, schema


def _adsl() -> pd.DataFrame:
    rows = [
        # USUBJID ARM       RANDFL FASFL PPSFL AGE SEX WEIGHT BMI  DIABDUR DCSREAS
        ("S1", "UC-MSC", "Y", "Y", "Y", 50, "M", 80.0, 28.0, 8.0, ""),
        ("S2", "Placebo", "Y", "Y", "Y", 55, "F", 70.0, 27.0, 10.0, ""),
        ("S3", "UC-MSC", "Y", "Y", "N", 60, "F", 65.0, 26.0, 12.0, "Lost to follow-up"),
        ("S4", "Placebo", "Y", "Y", "Y", 45, "M", 90.0, 30.0, 5.0, ""),
        ("S5", "UC-MSC", "Y", "N", "N", 52, "M", 75.0, 25.0, 7.0, "Withdrew consent"),
    ]
    cols = ["USUBJID", "ARM", "RANDFL", "FASFL", "PPSFL", "AGE", "SEX", "WEIGHT", "BMI"]
    return pd.DataFrame(rows, columns=[*cols, "DIABDUR", "DCSREAS"])


def _raw(paramcd: str, values: dict[str, list[tuple[int, float]]]) -> pd.DataFrame:
    rows = [(s, paramcd, day, val) for s, recs in values.items() for day, val in recs]
    df = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "ADY", "AVAL"])
    return df.astype({"ADY": "int64", "AVAL": "float64"})


def _raw_adlb() -> pd.DataFrame:
    return _raw(
        "HBA1C",
        {
            "S1": [(-7, 9.0), (1, 8.8), (169, 7.4), (330, 6.9), (344, 6.5)],
            "S2": [(1, 8.1), (170, 7.6), (337, 7.0)],
            "S3": [(1, 9.5), (80, 7.5), (85, 7.2), (170, 6.8)],
            "S4": [(1, 8.0), (168, 7.1), (336, 6.2)],
            "S5": [(1, 8.5)],
        },
    )


def _raw_adex() -> pd.DataFrame:
    return _raw(
        "INSDOSE",
        {
            "S1": [(1, 40.0), (169, 30.0), (337, 20.0)],
            "S2": [(1, 60.0), (170, 40.0), (337, 24.0)],
            "S3": [(1, 50.0), (170, 24.0)],
            "S4": [(1, 40.0), (168, 30.0)],
        },
    )


@pytest.fixture
def data() -> dict[str, pd.DataFrame]:
    adsl = schema.validate(_adsl(), "ADSL")
    adlb = derive.derive_adlb(schema.validate(_raw_adlb(), "ADLB"))
    adex = derive.derive_adex(schema.validate(_raw_adex(), "ADEX"))
    return {"ADSL": adsl, "ADLB": adlb, "ADEX": adex}


def _row(df: pd.DataFrame, **where: object) -> pd.Series:
    mask = np.ones(len(df), dtype=bool)
    for col, val in where.items():
        mask &= (df[col] == val).to_numpy()
    assert mask.sum() == 1, f"expected one row for {where}, found {mask.sum()}"
    return df.loc[mask].iloc[0]


# ---------------------------------------------------------------------------------------
# Visit windows
# ---------------------------------------------------------------------------------------


def test_visit_windows_targets_ties_and_out_of_window() -> None:
    # targets: Baseline day 1, Week 4 day 29, Week 8 day 57, ..., Week 36 253, Week 48 337
    days = [-6, 1, 2, 42, 43, 295, 379, 380]
    raw = pd.DataFrame({"USUBJID": "X", "PARAMCD": "HBA1C", "ADY": days, "AVAL": [8.0] * len(days)})
    before = raw.copy(deep=True)
    out = derive.visit_windows(raw)
    pd.testing.assert_frame_equal(raw, before)  # input not modified
    got = dict(zip(out["ADY"], out["AVISITN"], strict=True))
    assert got == {
        -6: 0,  # on or before day 1: Baseline
        1: 0,  # day of the first infusion (pre-dose): Baseline
        2: 4,  # first day after dosing: the nearest post-baseline target is Week 4 (29)
        42: 4,  # 13 days from 29, 15 from 57: Week 4
        43: 8,  # 14 days from 29 and from 57: a tie, goes to the later visit, Week 8
        295: 48,  # 42 days from 253 and from 337: a tie, Week 48
        379: 48,  # last day of the last window: 337 + 84 / 2 = 379
        # 380 is after the last window: dropped
    }
    labels = dict(zip(out["ADY"], out["AVISIT"], strict=True))
    assert labels[-6] == "Baseline" and labels[43] == "Week 8" and labels[379] == "Week 48"
    # an open-ended last window keeps day 380 in Week 48
    kept = derive.visit_windows(raw, last_day=math.inf)
    assert kept.loc[kept["ADY"] == 380, "AVISITN"].tolist() == [48]
    # the output meets the ADLB contract
    schema.validate(out, "ADLB")


# ---------------------------------------------------------------------------------------
# Baseline, change, percent change, analysis flag
# ---------------------------------------------------------------------------------------


def test_baseline_change_and_analysis_flag(data: dict[str, pd.DataFrame]) -> None:
    adlb = data["ADLB"]
    s1 = adlb.loc[adlb["USUBJID"] == "S1"].set_index("ADY")
    # baseline: the last record on or before day 1 is the pre-dose repeat (day 1, 8.8 %),
    # not the screening value (day -7, 9.0 %)
    assert s1["ABLFL"].to_dict() == {-7: "", 1: "Y", 169: "", 330: "", 344: ""}
    assert (s1["BASE"] == 8.8).all()
    # CHG = AVAL - 8.8: 9.0 -> +0.2, 8.8 -> 0, 7.4 -> -1.4, 6.9 -> -1.9, 6.5 -> -2.3
    assert s1["CHG"].tolist() == pytest.approx([0.2, 0.0, -1.4, -1.9, -2.3])
    # PCHG = 100 * CHG / 8.8: -1.4 -> -15.909..., -2.3 -> -26.136...
    assert s1.loc[169, "PCHG"] == pytest.approx(-15.9090909)
    assert s1.loc[344, "PCHG"] == pytest.approx(-26.1363636)
    # ANL01FL: Baseline: day 1 (closest to target 1); Week 24: day 169 (the only one);
    # Week 48: days 330 and 344 are both 7 days from 337, the later (344) wins
    assert s1["ANL01FL"].to_dict() == {-7: "", 1: "Y", 169: "Y", 330: "", 344: "Y"}
    assert s1["AVISIT"].to_dict() == {
        -7: "Baseline",
        1: "Baseline",
        169: "Week 24",
        330: "Week 48",
        344: "Week 48",
    }
    # S3, Week 12: days 80 and 85; 85 is the target day (7 * 12 + 1), so it is analysed
    s3 = adlb.loc[adlb["USUBJID"] == "S3"].set_index("ADY")
    assert s3.loc[[80, 85], "ANL01FL"].tolist() == ["", "Y"]
    # insulin, S1: 40 -> 20 U/day: CHG -20, PCHG exactly -50
    s1x = data["ADEX"].loc[data["ADEX"]["USUBJID"] == "S1"].set_index("ADY")
    assert s1x.loc[337, "CHG"] == -20.0
    assert s1x.loc[337, "PCHG"] == -50.0
    # the derived data meet the contracts
    schema.validate(adlb, "ADLB")
    schema.validate(data["ADEX"], "ADEX")


def test_verbs_do_not_modify_their_input() -> None:
    raw = _raw_adlb()
    keep = raw.copy(deep=True)
    step = derive.visit_windows(raw)
    for verb in (
        derive.flag_baseline,
        derive.add_base,
        derive.add_change,
        derive.add_pct_change,
        derive.flag_analysis,
    ):
        before = step.copy(deep=True)
        after = verb(step)
        pd.testing.assert_frame_equal(step, before)
        assert after is not step
        step = after
    derive.derive_adlb(raw)
    pd.testing.assert_frame_equal(raw, keep)
    assert list(step.columns) == schema.columns("ADLB")[:-1]  # all but SYNTHETIC


def test_baseline_skips_missing_and_post_dose_values() -> None:
    raw = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A", "B"],
            "PARAMCD": "HBA1C",
            "ADY": [-14, 1, 2, 29],
            # A: day 1 has no value (not validated data), day 2 is after the first infusion
            "AVAL": [8.4, np.nan, 7.9, 8.0],
        }
    )
    out = derive.flag_baseline(raw).pipe(derive.add_base)
    # A: the last *non-missing* value on or before day 1 is day -14 (8.4)
    assert out["ABLFL"].tolist() == ["Y", "", "", ""]
    assert out["BASE"].tolist()[:3] == [8.4, 8.4, 8.4]
    # B: no record on or before day 1 -> no baseline, BASE missing
    assert math.isnan(out["BASE"].iloc[3])


def test_pct_change_of_a_zero_baseline_is_missing() -> None:
    df = pd.DataFrame(
        {
            "USUBJID": ["A", "A"],
            "PARAMCD": "INSDOSE",
            "ADY": [1, 337],
            "AVAL": [0.0, 10.0],
        }
    )
    out = derive.flag_baseline(df).pipe(derive.add_base).pipe(derive.add_change)
    out = derive.add_pct_change(out)
    assert out["CHG"].tolist() == [0.0, 10.0]
    assert out["PCHG"].isna().all()  # 100 * CHG / 0 is undefined


def test_verbs_name_a_missing_prerequisite() -> None:
    with pytest.raises(KeyError, match="run flag_baseline first"):
        derive.add_base(_raw_adlb())


# ---------------------------------------------------------------------------------------
# Responders: thresholds
# ---------------------------------------------------------------------------------------


def test_default_rule_strict_nri(data: dict[str, pd.DataFrame]) -> None:
    before = {k: v.copy(deep=True) for k, v in data.items()}
    adresp = derive.responders(data["ADSL"], data["ADLB"], data["ADEX"])
    for k in data:  # inputs untouched
        pd.testing.assert_frame_equal(data[k], before[k])
    schema.validate(adresp, "ADRESP")
    # FAS = S1, S2, S3, S4 (S5 is not in the FAS): three rows each
    assert adresp["USUBJID"].tolist() == ["S1"] * 3 + ["S2"] * 3 + ["S3"] * 3 + ["S4"] * 3
    assert adresp["PARAMCD"].tolist()[:3] == ["HBA1CLT7", "INSRED50", "RESP"]
    got = {(r.USUBJID, r.PARAMCD): (r.AVALC, r.DTYPE) for r in adresp.itertuples()}
    assert got == {
        # S1: 6.5 < 7 (Y); 40 -> 20 is -50 %, exactly at the cut-off (Y); both: Y
        ("S1", "HBA1CLT7"): ("Y", ""),
        ("S1", "INSRED50"): ("Y", ""),
        ("S1", "RESP"): ("Y", ""),
        # S2: 7.0 is not < 7.0 (N); -60 % (Y); both: N
        ("S2", "HBA1CLT7"): ("N", ""),
        ("S2", "INSRED50"): ("Y", ""),
        ("S2", "RESP"): ("N", ""),
        # S3: nothing at week 48: non-responder imputation for everything
        ("S3", "HBA1CLT7"): ("N", "NRI"),
        ("S3", "INSRED50"): ("N", "NRI"),
        ("S3", "RESP"): ("N", "NRI"),
        # S4: 6.2 < 7 (Y); insulin missing at week 48 (N, NRI); both: N
        ("S4", "HBA1CLT7"): ("Y", ""),
        ("S4", "INSRED50"): ("N", "NRI"),
        ("S4", "RESP"): ("N", "NRI"),
    }
    assert adresp["AVAL"].tolist() == [1.0 if c == "Y" else 0.0 for c in adresp["AVALC"]]
    # UC-MSC: S1 of S1, S3; placebo: none of S2, S4
    assert derive.responder_counts(adresp) == {"UC-MSC": [1, 2], "Placebo": [0, 2]}
    assert derive.responder_counts(adresp, "HBA1CLT7") == {"UC-MSC": [1, 2], "Placebo": [1, 2]}
    assert derive.responder_counts(adresp, "INSRED50") == {"UC-MSC": [1, 2], "Placebo": [1, 2]}
    every = derive.responder_counts(adresp, None)
    assert set(every) == {"HBA1CLT7", "INSRED50", "RESP"}
    assert every["RESP"] == {"UC-MSC": [1, 2], "Placebo": [0, 2]}
    # the rule in words, with its thresholds
    param = _row(adresp, USUBJID="S1", PARAMCD="RESP")["PARAM"]
    assert "HbA1c < 7.0 %" in param and ">= 50 %" in param and "week 48" in param
    assert "non-responder" in param
    assert adresp.attrs["responders"]["strict"] is True


def test_non_strict_counts_exactly_7_percent(data: dict[str, pd.DataFrame]) -> None:
    adresp = derive.responders(data["ADSL"], data["ADLB"], data["ADEX"], strict=False)
    # S2: 7.0 <= 7.0 now met, and -60 % insulin: a responder
    assert _row(adresp, USUBJID="S2", PARAMCD="HBA1CLT7")["AVALC"] == "Y"
    assert _row(adresp, USUBJID="S2", PARAMCD="RESP")["AVALC"] == "Y"
    assert derive.responder_counts(adresp) == {"UC-MSC": [1, 2], "Placebo": [1, 2]}
    assert "HbA1c <= 7.0 %" in adresp["PARAM"].iloc[0]


def test_cutoff_at_a_subjects_value(data: dict[str, pd.DataFrame]) -> None:
    d = data
    # S1's week-48 HbA1c is 6.5 %: not < 6.5, but <= 6.5
    strict = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], hba1c_cutoff=6.5)
    loose = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], hba1c_cutoff=6.5, strict=False)
    assert derive.responder_counts(strict) == {"UC-MSC": [0, 2], "Placebo": [0, 2]}
    assert derive.responder_counts(loose) == {"UC-MSC": [1, 2], "Placebo": [0, 2]}
    # S1's insulin change is -50 %: a 51 % reduction is not reached
    tough = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], insulin_reduction=51)
    assert _row(tough, USUBJID="S1", PARAMCD="INSRED50")["AVALC"] == "N"
    assert ">= 51 %" in _row(tough, USUBJID="S1", PARAMCD="INSRED50")["PARAM"]


def test_threshold_is_robust_to_floating_point() -> None:
    # 23 -> 16.1 U/day is a 30 % reduction, but 100 * (16.1 - 23) / 23 evaluates to
    # -29.999999999999996 in floating point; it must still count as a 30 % reduction
    adsl = _adsl().iloc[:1]
    adlb = derive.derive_adlb(_raw("HBA1C", {"S1": [(1, 8.0), (337, 6.0)]}))
    adex = derive.derive_adex(_raw("INSDOSE", {"S1": [(1, 23.0), (337, 16.1)]}))
    assert adex["PCHG"].iloc[1] > -30  # the floating-point artefact is really there
    adresp = derive.responders(adsl, adlb, adex, insulin_reduction=30)
    assert _row(adresp, PARAMCD="INSRED50")["AVALC"] == "Y"


def test_other_visit(data: dict[str, pd.DataFrame]) -> None:
    # at week 24: S1 7.4 (N), S2 7.6 (N), S3 6.8 and -52 % (Y), S4 7.1 (N)
    adresp = derive.responders(data["ADSL"], data["ADLB"], data["ADEX"], visit=24)
    assert derive.responder_counts(adresp) == {"UC-MSC": [1, 2], "Placebo": [0, 2]}
    assert _row(adresp, USUBJID="S3", PARAMCD="RESP")["SRCVISIT"] == "Week 24"


# ---------------------------------------------------------------------------------------
# Responders: missing-data rules and populations
# ---------------------------------------------------------------------------------------


def test_complete_case(data: dict[str, pd.DataFrame]) -> None:
    d = data
    adresp = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], missing="complete-case")
    schema.validate(adresp, "ADRESP")
    # S3 has no week-48 data: kept as rows, AVALC "" and AVAL missing, marked EXCLUDED
    s3 = adresp.loc[adresp["USUBJID"] == "S3"]
    assert s3["AVALC"].tolist() == ["", "", ""]
    assert s3["AVAL"].isna().all()
    assert s3["DTYPE"].tolist() == ["EXCLUDED"] * 3
    # S4: HbA1c observed (Y), insulin missing -> that criterion and the composite excluded
    s4 = adresp.loc[adresp["USUBJID"] == "S4"].set_index("PARAMCD")
    assert s4["AVALC"].to_dict() == {"HBA1CLT7": "Y", "INSRED50": "", "RESP": ""}
    # denominators shrink: composite UC-MSC {S1}, placebo {S2}
    assert derive.responder_counts(adresp) == {"UC-MSC": [1, 1], "Placebo": [0, 1]}
    # HbA1c alone: UC-MSC {S1: Y}, placebo {S2: N, S4: Y}
    assert derive.responder_counts(adresp, "HBA1CLT7") == {"UC-MSC": [1, 1], "Placebo": [1, 2]}
    # insulin alone: UC-MSC {S1: Y}, placebo {S2: Y}
    assert derive.responder_counts(adresp, "INSRED50") == {"UC-MSC": [1, 1], "Placebo": [1, 1]}


def test_locf_and_traceability(data: dict[str, pd.DataFrame]) -> None:
    d = data
    adresp = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], missing="locf")
    schema.validate(adresp, "ADRESP")
    # S3 carried forward from Week 24: HbA1c 6.8 < 7 (Y), insulin 50 -> 24 = -52 % (Y)
    hb = _row(adresp, USUBJID="S3", PARAMCD="HBA1CLT7")
    assert (hb["AVALC"], hb["DTYPE"], hb["SRCVISIT"], hb["SRCADY"], hb["SRCVAL"]) == (
        "Y",
        "LOCF",
        "Week 24",
        170,
        6.8,
    )
    ins = _row(adresp, USUBJID="S3", PARAMCD="INSRED50")
    assert (ins["AVALC"], ins["SRCDOM"], ins["SRCPARAM"], ins["SRCADY"]) == (
        "Y",
        "ADEX",
        "INSDOSE",
        170,
    )
    assert ins["BASE"] == 50.0 and ins["PCHG"] == pytest.approx(-52.0)
    resp = _row(adresp, USUBJID="S3", PARAMCD="RESP")
    assert (resp["AVALC"], resp["DTYPE"], resp["SRCVISIT"]) == ("Y", "LOCF", "Week 24")
    # S4: HbA1c observed at week 48, insulin carried from Week 24 (-25 %): N
    resp4 = _row(adresp, USUBJID="S4", PARAMCD="RESP")
    assert (resp4["AVALC"], resp4["DTYPE"], resp4["SRCVISIT"]) == (
        "N",
        "LOCF",
        "Week 48 + Week 24",
    )
    # UC-MSC: S1 and S3 now; placebo: none
    assert derive.responder_counts(adresp) == {"UC-MSC": [2, 2], "Placebo": [0, 2]}


def test_traceability_of_an_observed_responder(data: dict[str, pd.DataFrame]) -> None:
    adresp = derive.responders(data["ADSL"], data["ADLB"], data["ADEX"])
    hb = _row(adresp, USUBJID="S1", PARAMCD="HBA1CLT7")
    # the HbA1c that decided it: ADLB, HBA1C, Week 48, day 344 (the later of the tie), 6.5
    assert (hb["SRCDOM"], hb["SRCPARAM"], hb["SRCVISIT"], hb["SRCADY"], hb["SRCVAL"]) == (
        "ADLB",
        "HBA1C",
        "Week 48",
        344,
        6.5,
    )
    assert hb["BASE"] == 8.8
    ins = _row(adresp, USUBJID="S1", PARAMCD="INSRED50")
    assert (ins["SRCVISIT"], ins["SRCADY"], ins["SRCVAL"], ins["BASE"], ins["PCHG"]) == (
        "Week 48",
        337,
        20.0,
        40.0,
        -50.0,
    )
    resp = _row(adresp, USUBJID="S1", PARAMCD="RESP")
    assert (resp["SRCDOM"], resp["SRCPARAM"], resp["SRCVISIT"]) == (
        "ADRESP",
        "HBA1CLT7+INSRED50",
        "Week 48",
    )
    # USUBJID + SRCPARAM + SRCADY finds the source record, the analysed one
    src = _row(data["ADLB"], USUBJID="S1", PARAMCD=hb["SRCPARAM"], ADY=hb["SRCADY"])
    assert (src["AVAL"], src["ANL01FL"], src["AVISIT"]) == (6.5, "Y", "Week 48")


def test_baseline_observation_carried_forward(data: dict[str, pd.DataFrame]) -> None:
    d = data
    adresp = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], missing="baseline")
    # S3: baseline HbA1c 9.5 (N), baseline insulin = a 0 % change (N)
    hb = _row(adresp, USUBJID="S3", PARAMCD="HBA1CLT7")
    assert (hb["AVALC"], hb["DTYPE"], hb["SRCVISIT"], hb["SRCADY"], hb["SRCVAL"]) == (
        "N",
        "BOCF",
        "Baseline",
        1,
        9.5,
    )
    ins = _row(adresp, USUBJID="S3", PARAMCD="INSRED50")
    assert (ins["AVALC"], ins["PCHG"]) == ("N", 0.0)
    # S4's insulin: BOCF (N); S1 unchanged (observed)
    assert _row(adresp, USUBJID="S4", PARAMCD="INSRED50")["DTYPE"] == "BOCF"
    assert derive.responder_counts(adresp) == {"UC-MSC": [1, 2], "Placebo": [0, 2]}


def test_populations(data: dict[str, pd.DataFrame]) -> None:
    d = data
    rand = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], population="randomized")
    # S5 joins the UC-MSC denominator: no week-48 data -> N (NRI)
    assert derive.responder_counts(rand) == {"UC-MSC": [1, 3], "Placebo": [0, 2]}
    assert _row(rand, USUBJID="S5", PARAMCD="RESP")["DTYPE"] == "NRI"
    # PPS: S1, S2, S4 (S3 and S5 are not per protocol)
    pps = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], population="PPS")
    assert derive.responder_counts(pps) == {"UC-MSC": [1, 1], "Placebo": [0, 2]}
    # LOCF with nothing after baseline: S5's HbA1c falls back to its baseline (8.5, N);
    # it has no insulin record at all, so nothing to carry: counted as not met (NRI)
    locf = derive.responders(
        d["ADSL"], d["ADLB"], d["ADEX"], population="randomized", missing="locf"
    )
    hb = _row(locf, USUBJID="S5", PARAMCD="HBA1CLT7")
    assert (hb["AVALC"], hb["DTYPE"], hb["SRCVISIT"], hb["SRCVAL"]) == (
        "N",
        "LOCF",
        "Baseline",
        8.5,
    )
    ins = _row(locf, USUBJID="S5", PARAMCD="INSRED50")
    assert (ins["AVALC"], ins["DTYPE"], ins["SRCDOM"], ins["SRCVISIT"]) == ("N", "NRI", "", "")
    assert pd.isna(ins["SRCADY"]) and math.isnan(ins["SRCVAL"])
    assert _row(locf, USUBJID="S5", PARAMCD="RESP")["DTYPE"] == "LOCF+NRI"


def test_bad_arguments_are_named(data: dict[str, pd.DataFrame]) -> None:
    d = data
    with pytest.raises(ValueError, match="missing='mi'"):
        derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], missing="mi")
    with pytest.raises(ValueError, match="population='ITT'"):
        derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], population="ITT")
    with pytest.raises(ValueError, match="visit=50"):
        derive.responders(d["ADSL"], d["ADLB"], d["ADEX"], visit=50)
    with pytest.raises(KeyError, match="derive_adlb"):
        derive.responders(d["ADSL"], _raw_adlb(), d["ADEX"])


def test_synthetic_label_is_carried(data: dict[str, pd.DataFrame]) -> None:
    adsl = data["ADSL"].assign(SYNTHETIC="Y")
    adresp = derive.responders(adsl, data["ADLB"], data["ADEX"])
    assert (adresp["SYNTHETIC"] == "Y").all()
    schema.validate(adresp, "ADRESP")


def test_responders_warn_about_an_empty_arm_and_an_unjudgeable_criterion(
    data: dict[str, pd.DataFrame],
) -> None:
    d = data
    fine = derive.responders(d["ADSL"], d["ADLB"], d["ADEX"])
    assert fine.attrs["warnings"] == []
    one_arm = d["ADSL"].loc[d["ADSL"]["ARM"] == "UC-MSC"]
    adresp = derive.responders(one_arm, d["ADLB"], d["ADEX"])
    assert any("arm 'Placebo' has no subject in the FAS" in w for w in adresp.attrs["warnings"])
    no_week48 = d["ADEX"].loc[d["ADEX"]["AVISITN"] != 48]
    adresp = derive.responders(d["ADSL"], d["ADLB"], no_week48)
    assert any("usable insulin dose change at week 48" in w for w in adresp.attrs["warnings"])


def test_schema_windows_agree_with_visit_windows() -> None:
    """The windows schema.usable checks visit labels against are derive's windows."""
    from trialkit import schema

    days = [d for d in range(-20, 380) if d != 0]
    raw = pd.DataFrame({"USUBJID": "S1", "PARAMCD": "HBA1C", "ADY": days, "AVAL": 8.0}).astype(
        {"ADY": "int64"}
    )
    derived = derive.visit_windows(raw)
    assert derived["AVISITN"].tolist() == schema.window_week(derived["ADY"]).tolist()
    for week in schema.VISITS:
        low, high = schema.window(week)
        inside = derived.loc[derived["AVISITN"] == week, "ADY"]
        assert inside.min() >= low and inside.max() == high


# ---------------------------------------------------------------------------------------
# The vectorized responders against the pandas implementation it replaced
# ---------------------------------------------------------------------------------------


def _synthetic_variants() -> dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """data/synthetic as derived, and versions with what real data have: missing values,
    missing records, duplicate analysis records (ties for LOCF), shuffled rows."""
    from trialkit import cohort

    raw = cohort.load("")
    adsl = raw["ADSL"]
    adlb, adex = derive.derive_adlb(raw["ADLB"]), derive.derive_adex(raw["ADEX"])
    rng = np.random.default_rng(12)
    lb, ex = adlb.copy(), adex.copy()
    lb.loc[rng.choice(len(lb), 60, replace=False), "AVAL"] = np.nan
    ex.loc[rng.choice(len(ex), 40, replace=False), "PCHG"] = np.nan
    ex = ex.drop(index=rng.choice(len(ex), 50, replace=False))
    lb = pd.concat([lb, lb[lb["AVISITN"] == 24].head(10)], ignore_index=True)
    shuffled = lb.sample(frac=1, random_state=3).reset_index(drop=True)
    return {
        "synthetic": (adsl, adlb, adex),
        "gaps and ties": (adsl, lb, ex),
        "shuffled": (adsl, shuffled, ex.iloc[::-1]),
        "no HbA1c": (adsl, adlb.iloc[:0], adex),
        "one arm": (adsl[adsl["ARM"] == "UC-MSC"], adlb, adex),
    }


@pytest.mark.parametrize("missing", list(derive.MISSING_RULES))
@pytest.mark.parametrize("population", list(derive.POPULATIONS))
def test_responders_equal_the_reference_implementation(missing: str, population: str) -> None:
    """derive.responders (numpy: one sort picks every subject's deciding record) gives
    exactly the frame of the pandas implementation it replaced (tests/derive_reference.py),
    column by column and dtype by dtype, on the synthetic patients and on versions with
    gaps, ties and shuffled rows; and responder_counts the counts pandas gives."""
    from derive_reference import responders_reference

    settings = [
        {"hba1c_cutoff": 7.0, "strict": True, "insulin_reduction": 50.0},
        {"hba1c_cutoff": 6.5, "strict": False, "insulin_reduction": 25.0},
        {"hba1c_cutoff": 7.3, "strict": True, "insulin_reduction": 60.0, "visit": 24},
    ]
    for what, (adsl, adlb, adex) in _synthetic_variants().items():
        for kw in settings:
            kw = {**kw, "missing": missing, "population": population}
            got = derive.responders(adsl, adlb, adex, **kw)
            ref = responders_reference(adsl, adlb, adex, **kw)
            pd.testing.assert_frame_equal(got, ref, check_exact=True, obj=f"{what} {kw}")
            assert got.attrs["responders"] == ref.attrs["responders"]
            judged = ref[ref["AVALC"].isin(["Y", "N"])]
            for code in ("HBA1CLT7", "INSRED50", "RESP"):
                rows = judged[judged["PARAMCD"] == code]
                expect = {
                    a: [
                        int((rows.loc[rows["ARM"] == a, "AVALC"] == "Y").sum()),
                        int((rows["ARM"] == a).sum()),
                    ]
                    for a in schema.ARMS
                }
                assert derive.responder_counts(got, code) == expect
            assert list(derive.responder_counts(got, None)) == ["HBA1CLT7", "INSRED50", "RESP"]
