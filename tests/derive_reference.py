"""The pandas implementation of ``derive.responders`` before it was vectorized (HEAD
e4a2f4c..dca0918), kept verbatim as the reference the vectorized one must reproduce
(tests/test_derive.py::test_responders_equal_the_reference_implementation)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from trialkit.derive import (
    _BY,
    _RESULT_COLUMNS,
    MISSING_RULES,
    POPULATIONS,
    TOLERANCE,
    _fmt,
    _join,
    _need,
)
from trialkit.schema import VISITS


def _criterion_reference(
    data: pd.DataFrame,
    pop: pd.DataFrame,
    *,
    paramcd: str,
    srcdom: str,
    value: str,
    met: Callable[[pd.Series], pd.Series],
    visit: int,
    missing: str,
) -> pd.DataFrame:
    """One criterion for every subject of ``pop``: the record that decides it, and Y/N."""
    need = [*_BY, "AVISIT", "AVISITN", "ADY", "AVAL", "ABLFL", "BASE", "PCHG", "ANL01FL"]
    _need(data, need, "responders", f"derive {srcdom} first (derive_{srcdom.lower()})")
    recs = data.loc[
        (data["PARAMCD"] == paramcd) & data["USUBJID"].isin(pop["USUBJID"]) & data[value].notna()
    ]
    anl = recs.loc[recs["ANL01FL"] == "Y"]
    observed = anl.loc[anl["AVISITN"] == visit].assign(DTYPE="")
    chosen = [observed]
    if missing == "locf":
        earlier = anl.loc[anl["AVISITN"] < visit].sort_values(["AVISITN", "ADY"])
        chosen.append(earlier.groupby("USUBJID").tail(1).assign(DTYPE="LOCF"))
    elif missing == "baseline":
        chosen.append(recs.loc[recs["ABLFL"] == "Y"].assign(DTYPE="BOCF"))
    src = pd.concat(chosen).drop_duplicates("USUBJID", keep="first").set_index("USUBJID")
    src = src.reindex(pop["USUBJID"])
    found = src["ADY"].notna()

    out = pd.DataFrame({"USUBJID": pop["USUBJID"].to_numpy(), "ARM": pop["ARM"].to_numpy()})
    is_met = met(src[value]).to_numpy() & found.to_numpy()
    if missing == "complete-case":
        out["AVALC"] = np.where(found, np.where(is_met, "Y", "N"), "")
        out["DTYPE"] = np.where(found, "", "EXCLUDED")
    else:
        out["AVALC"] = np.where(is_met, "Y", "N")
        out["DTYPE"] = np.where(found, src["DTYPE"].fillna("").to_numpy(), "NRI")
    out["SRCDOM"] = np.where(found, srcdom, "")
    out["SRCPARAM"] = np.where(found, paramcd, "")
    out["SRCVISIT"] = src["AVISIT"].fillna("").to_numpy()
    out["SRCADY"] = pd.array(src["ADY"].to_numpy(), dtype="Int64")
    out["SRCVAL"] = src["AVAL"].to_numpy(dtype=float)
    out["BASE"] = src["BASE"].to_numpy(dtype=float)
    out["PCHG"] = src["PCHG"].to_numpy(dtype=float)
    return out


def responders_reference(
    adsl: pd.DataFrame,
    adlb: pd.DataFrame,
    adex: pd.DataFrame,
    hba1c_cutoff: float = 7.0,
    strict: bool = True,
    insulin_reduction: float = 50.0,
    visit: int = 48,
    missing: str = "non-responder",
    population: str = "FAS",
) -> pd.DataFrame:
    """derive.responders as it was before vectorization (pandas, one frame per step)."""
    if missing not in MISSING_RULES:
        raise ValueError(f"missing={missing!r}: expected one of {', '.join(MISSING_RULES)}")
    pops = {k.lower(): k for k in POPULATIONS}
    if str(population).lower() not in pops:
        raise ValueError(f"population={population!r}: expected one of {', '.join(POPULATIONS)}")
    population = pops[str(population).lower()]
    if visit not in VISITS[1:]:
        raise ValueError(f"visit={visit!r}: expected a post-baseline visit week {VISITS[1:]}")
    if not (np.isfinite(hba1c_cutoff) and hba1c_cutoff > 0):
        raise ValueError(f"hba1c_cutoff={hba1c_cutoff!r}: expected a positive HbA1c in %")
    if not (np.isfinite(insulin_reduction) and insulin_reduction >= 0):
        raise ValueError(f"insulin_reduction={insulin_reduction!r}: expected a percent >= 0")
    flag = POPULATIONS[population]
    _need(adsl, ["USUBJID", "ARM", flag], "responders")
    pop = adsl.loc[adsl[flag] == "Y", ["USUBJID", "ARM"]].reset_index(drop=True)

    cut, red = float(hba1c_cutoff), float(insulin_reduction)
    if strict:

        def hba1c_met(x: pd.Series) -> pd.Series:
            return x < cut - TOLERANCE

    else:

        def hba1c_met(x: pd.Series) -> pd.Series:
            return x <= cut + TOLERANCE

    def insulin_met(x: pd.Series) -> pd.Series:
        return x <= -red + TOLERANCE

    common = {"visit": visit, "missing": missing}
    hb = _criterion_reference(
        adlb, pop, paramcd="HBA1C", srcdom="ADLB", value="AVAL", met=hba1c_met, **common
    )
    ins = _criterion_reference(
        adex, pop, paramcd="INSDOSE", srcdom="ADEX", value="PCHG", met=insulin_met, **common
    )

    both = pd.DataFrame({"USUBJID": pop["USUBJID"], "ARM": pop["ARM"]})
    a, b = hb["AVALC"], ins["AVALC"]
    both["AVALC"] = np.where((a == "") | (b == ""), "", np.where((a == "Y") & (b == "Y"), "Y", "N"))
    both["DTYPE"] = [_join(x, y, "+") for x, y in zip(hb["DTYPE"], ins["DTYPE"], strict=True)]
    both["SRCDOM"] = "ADRESP"
    both["SRCPARAM"] = "HBA1CLT7+INSRED50"
    both["SRCVISIT"] = [
        _join(x, y, " + ") for x, y in zip(hb["SRCVISIT"], ins["SRCVISIT"], strict=True)
    ]
    both["SRCADY"] = pd.array([pd.NA] * len(both), dtype="Int64")
    for col in ("SRCVAL", "BASE", "PCHG"):
        both[col] = np.nan

    rule = MISSING_RULES[missing]
    op = "<" if strict else "<="
    hb_words = f"HbA1c {op} {_fmt(cut, 1)} %"
    ins_words = f"daily insulin dose reduced by >= {_fmt(red)} % from baseline"
    params = {
        "HBA1CLT7": f"{hb_words} at week {visit}; {rule}",
        "INSRED50": f"Daily insulin dose reduced by >= {_fmt(red)} % from baseline "
        f"(PCHG <= -{_fmt(red)}) at week {visit}; {rule}",
        "RESP": f"{hb_words} and {ins_words}, at week {visit}; {rule}",
    }
    parts = []
    for code, frame in (("HBA1CLT7", hb), ("INSRED50", ins), ("RESP", both)):
        frame = frame.assign(PARAMCD=code, PARAM=params[code], _ord=len(parts))
        frame["_subj"] = np.arange(len(frame))
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True).sort_values(["_subj", "_ord"], kind="stable")
    out["AVAL"] = out["AVALC"].map({"Y": 1.0, "N": 0.0}).astype("float64")
    for col in ("USUBJID", "ARM", "PARAMCD", "PARAM", "AVALC", "DTYPE", "SRCDOM", "SRCPARAM"):
        out[col] = out[col].astype("str")
    out["SRCVISIT"] = out["SRCVISIT"].astype("str")
    if "SYNTHETIC" in adsl.columns and (adsl["SYNTHETIC"] == "Y").any():
        out["SYNTHETIC"] = "Y"
    cols = _RESULT_COLUMNS + (["SYNTHETIC"] if "SYNTHETIC" in out.columns else [])
    out = out[cols].reset_index(drop=True)
    out.attrs["responders"] = {
        "hba1c_cutoff": cut,
        "strict": bool(strict),
        "insulin_reduction": red,
        "visit": int(visit),
        "missing": missing,
        "population": population,
    }
    return out
