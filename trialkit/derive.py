"""Analysis datasets from subject-level data, one small verb at a time.

In the style of pharmaverse admiral: each function adds what its name says and returns a
new DataFrame (the input is never modified), so a dataset reads as a short chain::

    adlb = (
        raw.pipe(visit_windows)      # AVISIT, AVISITN from ADY (if not given)
        .pipe(flag_baseline)         # ABLFL
        .pipe(add_base)              # BASE
        .pipe(add_change)            # CHG
        .pipe(add_pct_change)        # PCHG
        .pipe(flag_analysis)         # ANL01FL
    )

which is what :func:`derive_adlb` and :func:`derive_adex` do. :func:`responders` builds
ADRESP, the primary endpoint and its two components per subject, with the thresholds, the
visit, the analysis population and the missing-data rule as arguments, and with the
source record of every decision; :func:`responder_counts` gives the numbers a 2 x 2 table
needs.

Conventions (see ``trialkit.schema`` for the full contract): study day 1 is the day of the
first infusion, there is no day 0, the target day of week ``w`` is ``7 w + 1``; units
are those of ``schema.UNITS`` (HbA1c in %, insulin dose in U/day). The verbs check that
the columns they need are there, not the whole contract: validate raw data first
(``schema.read`` or ``schema.validate``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from trialkit.schema import ARMS, VISIT_LABELS, VISITS, columns, target_day

__all__ = [
    "MISSING_RULES",
    "POPULATIONS",
    "add_base",
    "add_change",
    "add_pct_change",
    "criteria_table",
    "decisions",
    "derive_adex",
    "derive_adlb",
    "flag_analysis",
    "flag_baseline",
    "responder_counts",
    "responders",
    "share_table",
    "visit_windows",
]

_BY = ["USUBJID", "PARAMCD"]

TOLERANCE = 1e-9
"""Comparisons with a threshold allow this much floating-point slack, so that a value
exactly at the threshold by hand (HbA1c 7.0 %, a -50 % change) is treated as exactly
there."""


def _need(df: pd.DataFrame, cols: Sequence[str], verb: str, hint: str = "") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(
            f"{verb}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            + (f"; {hint}" if hint else "")
        )


def _last_window_end() -> float:
    """End of the last visit window: the last target day plus half the last gap
    (Week 48: 337 + 84 / 2 = day 379)."""
    last, before = target_day(VISITS[-1]), target_day(VISITS[-2])
    return last + (last - before) / 2


# ---------------------------------------------------------------------------------------
# Visits
# ---------------------------------------------------------------------------------------


def visit_windows(df: pd.DataFrame, *, last_day: float | None = None) -> pd.DataFrame:
    """Add AVISIT and AVISITN from the study day ADY, by windows around the target days.

    - Baseline (week 0): every record on or before day 1 (pre-dose; day 1 is the day of
      the first infusion).
    - After day 1, the scheduled visit whose target day ``7 w + 1`` is nearest; a record
      exactly half-way between two targets (a tie) goes to the *later* visit. So the
      windows are bounded by the midpoints between targets. With the project's schedule:
      Week 4 days 2-42, Week 8 43-70, Week 12 71-126, Week 24 127-210, Week 36 211-294,
      Week 48 295-``last_day``.
    - ``last_day``: end of the last window (inclusive). Default: the last target day
      plus half the gap before it (Week 48: 337 + 42 = day 379), i.e. a window as wide
      after its target as before. Records after it belong to no scheduled visit and are
      **dropped**; pass ``last_day=float("inf")`` to keep them all in the last window.

    Existing AVISIT/AVISITN columns are replaced. Needs USUBJID, PARAMCD, ADY.
    """
    _need(df, ["ADY"], "visit_windows")
    out = df.copy()
    end = _last_window_end() if last_day is None else last_day
    out = out.loc[out["ADY"] <= end].copy()
    post = np.asarray(VISITS[1:])
    targets = target_day(post.astype(float))
    mids = (targets[:-1] + targets[1:]) / 2
    ady = out["ADY"].to_numpy(dtype=float)
    # side="right": a day equal to a midpoint goes to the later visit
    week = post[np.searchsorted(mids, ady, side="right")]
    week = np.where(ady <= 1, VISITS[0], week)
    out["AVISITN"] = week.astype("int64")
    out["AVISIT"] = pd.Series(out["AVISITN"].map(VISIT_LABELS), index=out.index, dtype="str")
    return _order(out)


# ---------------------------------------------------------------------------------------
# Baseline, change
# ---------------------------------------------------------------------------------------


def flag_baseline(df: pd.DataFrame) -> pd.DataFrame:
    """Add ABLFL: "Y" on the baseline record, "" elsewhere.

    Baseline = the last record with a non-missing AVAL on or before day 1 (the day of the
    first infusion, values taken before dosing), per subject and parameter. With a
    screening value (day -7) and a pre-dose repeat (day 1), the day-1 value is baseline.
    A subject with no such record has no baseline (no "Y").
    """
    _need(df, ["USUBJID", "PARAMCD", "ADY", "AVAL"], "flag_baseline")
    out = df.copy()
    cand = out.loc[(out["ADY"] <= 1) & out["AVAL"].notna()]
    last = cand.sort_values("ADY", kind="stable").groupby(_BY, sort=False).tail(1).index
    out["ABLFL"] = pd.Series("", index=out.index, dtype="str")
    out.loc[last, "ABLFL"] = "Y"
    return _order(out)


def add_base(df: pd.DataFrame) -> pd.DataFrame:
    """Add BASE: the AVAL of the subject's baseline record (ABLFL "Y") for that
    parameter, on every record; missing when the subject has no baseline."""
    _need(df, [*_BY, "AVAL", "ABLFL"], "add_base", "run flag_baseline first")
    out = df.copy()
    at_base = out["AVAL"].where(out["ABLFL"] == "Y")
    out["BASE"] = at_base.groupby([out["USUBJID"], out["PARAMCD"]]).transform("max")
    return _order(out)


def add_change(df: pd.DataFrame) -> pd.DataFrame:
    """Add CHG = AVAL - BASE (unit of the parameter), on every record (0 at baseline;
    missing without a baseline)."""
    _need(df, ["AVAL", "BASE"], "add_change", "run add_base first")
    out = df.copy()
    out["CHG"] = out["AVAL"] - out["BASE"]
    return _order(out)


def add_pct_change(df: pd.DataFrame) -> pd.DataFrame:
    """Add PCHG = 100 * CHG / BASE (%). Where BASE is 0 or missing, PCHG is missing
    (a percent change from nothing is undefined); -50 means halved."""
    _need(df, ["CHG", "BASE"], "add_pct_change", "run add_change first")
    out = df.copy()
    base = out["BASE"].where(out["BASE"] != 0)
    out["PCHG"] = 100 * out["CHG"] / base
    return _order(out)


# ---------------------------------------------------------------------------------------
# Analysis flag
# ---------------------------------------------------------------------------------------


def flag_analysis(df: pd.DataFrame) -> pd.DataFrame:
    """Add ANL01FL: "Y" on the one record per subject x parameter x visit used for
    analysis, "" elsewhere.

    The chosen record has a non-missing AVAL and the study day closest to the visit's
    target day ``7 * AVISITN + 1``; of two equally close (one before, one after the
    target) the *later* one is taken. At the baseline visit only pre-dose records
    (ADY <= 1) qualify, so there the flag falls on the baseline record (ABLFL).
    """
    _need(df, [*_BY, "AVISITN", "ADY", "AVAL"], "flag_analysis", "run visit_windows first")
    out = df.copy()
    ok = out["AVAL"].notna() & ~((out["AVISITN"] == VISITS[0]) & (out["ADY"] > 1))
    cand = out.loc[ok, [*_BY, "AVISITN", "ADY"]].copy()
    cand["_dist"] = (cand["ADY"] - target_day(cand["AVISITN"])).abs()
    cand = cand.sort_values([*_BY, "AVISITN", "_dist", "ADY"], ascending=[1, 1, 1, 1, 0])
    chosen = cand.loc[~cand.duplicated([*_BY, "AVISITN"])].index
    out["ANL01FL"] = pd.Series("", index=out.index, dtype="str")
    out.loc[chosen, "ANL01FL"] = "Y"
    return _order(out)


# ---------------------------------------------------------------------------------------
# Chains
# ---------------------------------------------------------------------------------------


def _order(df: pd.DataFrame, name: str = "ADLB") -> pd.DataFrame:
    """Contract columns first, in contract order; others (if any) after them."""
    known = [c for c in columns(name) if c in df.columns]
    return df[known + [c for c in df.columns if c not in known]]


def _chain(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw if "AVISITN" in raw.columns else visit_windows(raw)
    out = (
        df.pipe(flag_baseline)
        .pipe(add_base)
        .pipe(add_change)
        .pipe(add_pct_change)
        .pipe(flag_analysis)
    )
    out = out.sort_values([*_BY, "ADY"], kind="stable").reset_index(drop=True)
    return out


def derive_adlb(raw: pd.DataFrame) -> pd.DataFrame:
    """ADLB from raw lab records: visit windows (only if AVISITN is absent; given visits
    are kept), then ABLFL, BASE, CHG, PCHG, ANL01FL (recomputed if already there). Rows
    sorted by USUBJID, PARAMCD, ADY, with a fresh index. Validate ``raw`` first
    (``schema.validate(raw, "ADLB")``); the result meets the ADLB contract."""
    return _chain(raw)


def derive_adex(raw: pd.DataFrame) -> pd.DataFrame:
    """ADEX from raw insulin-dose records (INSDOSE, U/day): the same chain as
    :func:`derive_adlb`; PCHG is the percent change of the daily dose from baseline."""
    return _chain(raw)


# ---------------------------------------------------------------------------------------
# Responders
# ---------------------------------------------------------------------------------------

MISSING_RULES: dict[str, str] = {
    "non-responder": "missing counted as not met (non-responder imputation)",
    "complete-case": "subjects with a missing value left out (complete case)",
    "locf": "missing replaced by the last earlier value (LOCF; baseline if none)",
    "baseline": "missing replaced by the baseline value (BOCF)",
}
"""The rules :func:`responders` accepts for a missing value at the analysis visit."""

POPULATIONS: dict[str, str] = {"FAS": "FASFL", "randomized": "RANDFL", "PPS": "PPSFL"}
"""Analysis populations and the ADSL flag that defines each."""

_RESULT_COLUMNS = columns("ADRESP", optional=False)


def _fmt(x: float, decimals: int = 0) -> str:
    """``7.0`` -> "7.0" (with ``decimals=1``), ``6.5`` -> "6.5", ``50.0`` -> "50"."""
    return f"{x:.{decimals}f}" if float(x).is_integer() else f"{x:g}"


def _criterion(
    data: pd.DataFrame,
    pop: dict[str, np.ndarray],
    *,
    paramcd: str,
    srcdom: str,
    value: str,
    met: Callable[[np.ndarray], np.ndarray],
    visit: int,
    missing: str,
) -> dict[str, np.ndarray]:
    """One criterion for every subject of ``pop`` (USUBJID and ARM arrays): the record
    that decides it, and Y/N.

    Columns as arrays in ``pop`` order (AVALC, DTYPE, SRCDOM, SRCPARAM, SRCVISIT, SRCADY,
    SRCVAL, BASE, PCHG). The deciding record of a subject is the first of: the analysis
    record at ``visit`` (the first in data order if there were two), then under LOCF the
    latest earlier analysis record (by visit, day, data order), under BOCF the baseline
    record (the first in data order). All subjects at once: candidate records are ranked
    by one sort (subject, priority, tie-break) and the first of each subject is taken.
    """
    need = [*_BY, "AVISIT", "AVISITN", "ADY", "AVAL", "ABLFL", "BASE", "PCHG", "ANL01FL"]
    _need(data, need, "responders", f"derive {srcdom} first (derive_{srcdom.lower()})")
    # numpy from here: one criterion of ~100 subjects is a few array operations
    rec = np.flatnonzero(data["PARAMCD"].to_numpy() == paramcd)
    col = {c: data[c].to_numpy()[rec] for c in need}
    keep = pd.Index(col["USUBJID"]).isin(pop["USUBJID"]) & ~pd.isna(col[value])
    col = {c: v[keep] for c, v in col.items()}
    anl = col["ANL01FL"] == "Y"
    week = col["AVISITN"].astype(float)
    pos = np.arange(len(week), dtype=float)
    # priority 0: observed at the visit; 1: the record carried (LOCF / BOCF); else none
    rank = np.where(anl & (week == visit), 0, 2)
    first_key = [pos, np.zeros(len(pos)), np.zeros(len(pos))]  # earliest in data order
    if missing == "locf":
        rank = np.where(anl & (week < visit), 1, rank)
        later = rank == 1  # the latest visit, then day, then data order comes first
        day = col["ADY"].astype(float)
        first_key = [
            np.where(later, -pos, pos),
            np.where(later, -np.nan_to_num(day, nan=np.inf), 0.0),
            np.where(later, -week, 0.0),
        ]
    elif missing == "baseline":
        rank = np.where((rank == 2) & (col["ABLFL"] == "Y"), 1, rank)
    code, subjects = pd.factorize(col["USUBJID"])
    order = np.lexsort((*first_key, rank, code))
    order = order[rank[order] < 2]
    first = order[np.unique(code[order], return_index=True)[1]]  # one record per subject
    at = pd.Index(subjects[code[first]]).get_indexer(pop["USUBJID"])  # -1: no record
    has = at >= 0
    rows = first[at[has]]

    def pick(name: str, empty: object = np.nan) -> np.ndarray:
        """Column ``name`` of each subject's deciding record (``empty`` where none)."""
        out = np.full(len(at), empty, dtype=object if empty == "" else float)
        out[has] = col[name][rows]
        return out

    found = has & ~np.isnan(pick("ADY"))
    is_met = met(pick(value)) & found
    kind = np.full(len(at), "LOCF" if missing == "locf" else "BOCF", dtype=object)
    kind[has] = np.where(rank[rows] == 0, "", kind[has])
    out: dict[str, np.ndarray] = {}
    if missing == "complete-case":
        out["AVALC"] = np.where(found, np.where(is_met, "Y", "N"), "")
        out["DTYPE"] = np.where(found, "", "EXCLUDED")
    else:
        out["AVALC"] = np.where(is_met, "Y", "N")
        out["DTYPE"] = np.where(found, kind, "NRI")
    out["SRCDOM"] = np.where(found, srcdom, "")
    out["SRCPARAM"] = np.where(found, paramcd, "")
    out["SRCVISIT"] = pick("AVISIT", "")
    out["SRCADY"] = pick("ADY")
    out["SRCVAL"] = pick("AVAL")
    out["BASE"] = pick("BASE")
    out["PCHG"] = pick("PCHG")
    return out


def responders(
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
    """ADRESP: per subject of the analysis population, the two criteria of the primary
    endpoint and the composite, each with the record that decided it.

    - HBA1CLT7: HbA1c (%) at ``visit`` below ``hba1c_cutoff``: ``AVAL < cutoff`` when
      ``strict`` (the paper's "< 7.0%"), ``AVAL <= cutoff`` otherwise.
    - INSRED50: total daily insulin dose (U/day) at ``visit`` reduced from baseline by at
      least ``insulin_reduction`` percent: ``PCHG <= -insulin_reduction`` (exactly -50 %
      counts as met). Needs a baseline dose above 0.
    - RESP: both. The PARAMCDs keep their names whatever the thresholds; PARAM states the
      thresholds actually used and the missing-data rule.

    The value at ``visit`` is the analysis record (ANL01FL "Y") of that visit in ADLB
    (HBA1C) or ADEX (INSDOSE), so run :func:`derive_adlb` / :func:`derive_adex` first.
    It is *missing* when there is no such record, or (insulin) when PCHG cannot be
    computed (no baseline, baseline 0). ``missing`` says what then happens:

    - ``"non-responder"``: the criterion counts as not met (AVALC "N", DTYPE "NRI").
    - ``"complete-case"``: the subject is left out of that criterion's denominator: the
      row stays, with AVALC "" and AVAL missing, DTYPE "EXCLUDED"; the composite is left
      out when either criterion is. :func:`responder_counts` counts only "Y"/"N" rows.
    - ``"locf"``: the last earlier analysis record with a value (latest post-baseline
      visit before ``visit``; the baseline record if there is none), DTYPE "LOCF".
    - ``"baseline"``: the baseline record (BOCF): for insulin a 0 % change, DTYPE "BOCF".
    With LOCF or BOCF and nothing to carry (no baseline either), the subject counts as a
    non-responder (DTYPE "NRI").

    ``population``: "FAS" (FASFL "Y", the default), "randomized" (RANDFL "Y") or "PPS"
    (PPSFL "Y"): the subjects of the denominator, each with three rows.

    Columns (``schema.columns("ADRESP")``): USUBJID, ARM, PARAMCD, PARAM, AVALC, AVAL
    (1/0), DTYPE, and the source record: SRCDOM (ADLB/ADEX), SRCPARAM (HBA1C/INSDOSE),
    SRCVISIT (its AVISIT), SRCADY (its study day), SRCVAL (its AVAL), BASE, PCHG. For RESP,
    SRCDOM is "ADRESP", SRCPARAM "HBA1CLT7+INSRED50", SRCVISIT the components' visits and
    DTYPE their types joined with "+". SYNTHETIC is carried over from ADSL. The settings
    are also kept in ``.attrs["responders"]``, and in ``.attrs["warnings"]`` what makes
    the counts meaningless (an arm without subjects; a criterion no subject could be
    judged on). ``schema.read`` refuses such data folders before any work. Inputs are not
    modified.
    """
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
    chosen = adsl[flag].to_numpy() == "Y"
    pop = {c: adsl[c].to_numpy()[chosen] for c in ("USUBJID", "ARM")}  # in ADSL order
    n = len(pop["USUBJID"])

    cut, red = float(hba1c_cutoff), float(insulin_reduction)
    if strict:

        def hba1c_met(x: np.ndarray) -> np.ndarray:
            return x < cut - TOLERANCE

    else:

        def hba1c_met(x: np.ndarray) -> np.ndarray:
            return x <= cut + TOLERANCE

    def insulin_met(x: np.ndarray) -> np.ndarray:
        return x <= -red + TOLERANCE

    common = {"visit": visit, "missing": missing}
    hb = _criterion(
        adlb, pop, paramcd="HBA1C", srcdom="ADLB", value="AVAL", met=hba1c_met, **common
    )
    ins = _criterion(
        adex, pop, paramcd="INSDOSE", srcdom="ADEX", value="PCHG", met=insulin_met, **common
    )
    a, b = hb["AVALC"], ins["AVALC"]
    both = {
        "AVALC": np.where((a == "") | (b == ""), "", np.where((a == "Y") & (b == "Y"), "Y", "N")),
        "DTYPE": [_join(x, y, "+") for x, y in zip(hb["DTYPE"], ins["DTYPE"], strict=True)],
        "SRCDOM": np.full(n, "ADRESP"),
        "SRCPARAM": np.full(n, "HBA1CLT7+INSRED50"),
        "SRCVISIT": [
            _join(x, y, " + ") for x, y in zip(hb["SRCVISIT"], ins["SRCVISIT"], strict=True)
        ],
        **{col: np.full(n, np.nan) for col in ("SRCADY", "SRCVAL", "BASE", "PCHG")},
    }

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

    # three rows per subject, in population order: HBA1CLT7, INSRED50, RESP
    def stacked(col: str, dtype: object = object) -> np.ndarray:
        parts = [np.asarray(part[col], dtype=dtype) for part in (hb, ins, both)]
        return np.column_stack(parts).ravel()

    avalc = stacked("AVALC")
    out = pd.DataFrame(
        {
            "USUBJID": pd.array(np.repeat(pop["USUBJID"], 3), dtype="str"),
            "ARM": pd.array(np.repeat(pop["ARM"], 3), dtype="str"),
            "PARAMCD": pd.array(np.tile(list(params), n), dtype="str"),
            "PARAM": pd.array(np.tile(list(params.values()), n), dtype="str"),
            "AVALC": pd.array(avalc, dtype="str"),
            "AVAL": np.where(avalc == "Y", 1.0, np.where(avalc == "N", 0.0, np.nan)),
            **{c: pd.array(stacked(c), dtype="str") for c in ("DTYPE", "SRCDOM", "SRCPARAM")},
            "SRCVISIT": pd.array(stacked("SRCVISIT"), dtype="str"),
            "SRCADY": pd.array(stacked("SRCADY", float), dtype="Int64"),
            **{c: stacked(c, float) for c in ("SRCVAL", "BASE", "PCHG")},
        }
    )
    if "SYNTHETIC" in adsl.columns and (adsl["SYNTHETIC"] == "Y").any():
        out["SYNTHETIC"] = pd.array(np.full(len(out), "Y"), dtype="str")
    out.attrs["warnings"] = _responder_warnings(pop, hb, ins, population, visit)
    out.attrs["responders"] = {
        "hba1c_cutoff": cut,
        "strict": bool(strict),
        "insulin_reduction": red,
        "visit": int(visit),
        "missing": missing,
        "population": population,
    }
    return out


def _responder_warnings(
    pop: dict[str, np.ndarray],
    hb: dict[str, np.ndarray],
    ins: dict[str, np.ndarray],
    population: str,
    visit: int,
) -> list[str]:
    """What would make the counts confidently wrong: an arm without subjects, or a
    criterion that no subject could be judged on from a record (all missing)."""
    notes = []
    arms = set(pop["ARM"])
    for arm in ARMS:
        if arm not in arms:
            notes.append(
                f"arm {arm!r} has no subject in the {population} population: its counts are "
                "0 of 0 and no comparison is possible"
            )
    for what, frame in (("HbA1c", hb), ("insulin dose change", ins)):
        if len(frame["SRCDOM"]) and (frame["SRCDOM"] == "").all():
            notes.append(
                f"no subject of the {population} population has a usable {what} at week "
                f"{visit} (or a value to carry): every one is decided by the missing-data rule"
            )
    return notes


def _join(x: str, y: str, sep: str) -> str:
    """The distinct non-empty of two strings, in order, joined by ``sep``."""
    items = [v for v in dict.fromkeys((x, y)) if v]
    return sep.join(items)


def responder_counts(
    adresp: pd.DataFrame, paramcd: str | None = "RESP"
) -> dict[str, list[int]] | dict[str, dict[str, list[int]]]:
    """Responders and denominators per arm: ``{"UC-MSC": [x, n], "Placebo": [x, n]}``
    for one criterion (default the composite RESP), where x counts AVALC "Y" and n counts
    "Y" or "N" (rows with AVALC "" -- complete-case exclusions -- are not counted).
    ``paramcd=None`` gives every criterion: ``{"HBA1CLT7": {...}, "INSRED50": {...},
    "RESP": {...}}``. Both arms are always present (``[0, 0]`` if empty)."""
    code, avalc, arm = (adresp[c].to_numpy() for c in ("PARAMCD", "AVALC", "ARM"))
    yes, judged = avalc == "Y", (avalc == "Y") | (avalc == "N")

    def count(paramcd: str) -> dict[str, list[int]]:
        rows = judged & (code == paramcd)
        return {
            a: [int((rows & yes & (arm == a)).sum()), int((rows & (arm == a)).sum())] for a in ARMS
        }

    if paramcd is None:
        return {c: count(c) for c in dict.fromkeys(code)}  # type: ignore[misc]
    return count(paramcd)


def decisions(adresp: pd.DataFrame, usubjids: Sequence[str]) -> pd.DataFrame:
    """One row per subject of ``usubjids`` (in that order, indexed by USUBJID): what
    decided their endpoint in ``adresp`` (from :func:`responders`).

    Columns: ARM; "HbA1c (%)" and "HbA1c from" (SRCVAL and SRCVISIT of HBA1CLT7: the
    week-48 value, or the carried value under LOCF/BOCF, missing when there is none);
    "HbA1c met" (its AVALC); "dose change (%)" (PCHG of INSRED50, % from baseline);
    "insulin met"; "responder" (AVALC of RESP: "Y", "N", or "" when left out under
    complete case); "missing handled" (DTYPE of RESP: "", NRI, LOCF, BOCF, EXCLUDED).
    """
    rows = adresp.loc[adresp["USUBJID"].isin(list(usubjids))].set_index("USUBJID")
    hb = rows.loc[rows["PARAMCD"] == "HBA1CLT7"]
    ins = rows.loc[rows["PARAMCD"] == "INSRED50"]
    resp = rows.loc[rows["PARAMCD"] == "RESP"]
    out = pd.DataFrame(index=pd.Index(list(usubjids), name="USUBJID"))
    out["ARM"] = resp["ARM"]
    out["HbA1c (%)"] = hb["SRCVAL"]
    out["HbA1c from"] = hb["SRCVISIT"]
    out["HbA1c met"] = hb["AVALC"]
    out["dose change (%)"] = ins["PCHG"]
    out["insulin met"] = ins["AVALC"]
    out["responder"] = resp["AVALC"]
    out["missing handled"] = resp["DTYPE"]
    return out


def criteria_table(adresp: pd.DataFrame) -> pd.DataFrame:
    """Patients per arm (rows, in ``schema.ARMS`` order) by the criteria of ADRESP they
    met: columns "both", "HbA1c only", "insulin only", "neither", and "left out
    (missing)" when a complete-case rule left someone out of a criterion."""
    flags = adresp.pivot(index="USUBJID", columns="PARAMCD", values="AVALC")
    arm = adresp.drop_duplicates("USUBJID").set_index("USUBJID")["ARM"]
    kinds = {("Y", "Y"): "both", ("Y", "N"): "HbA1c only", ("N", "Y"): "insulin only"}
    kinds[("N", "N")] = "neither"
    met = pd.Series(
        [
            kinds.get(pair, "left out (missing)")
            for pair in zip(flags["HBA1CLT7"], flags["INSRED50"], strict=True)
        ],
        index=flags.index,
        name="met",
    )
    columns = [
        *kinds.values(),
        *(["left out (missing)"] if (met == "left out (missing)").any() else []),
    ]
    out = pd.crosstab(arm.reindex(flags.index), met)
    return out.reindex(index=[a for a in ARMS if a in out.index], columns=columns, fill_value=0)


def share_table(counts: dict[str, dict[str, list[int]]], digits: int = 2) -> pd.DataFrame:
    """Counts as a reader reads them: one row per key of ``counts`` (a criterion, a rule
    ...), one column per arm (``schema.ARMS`` order), cells "x/n (p%)" from
    ``{key: {arm: [x, n]}}`` (e.g. :func:`responder_counts` with ``paramcd=None``)."""
    from trialkit.text import share

    return pd.DataFrame(
        {a: [share(*c[a], digits) for c in counts.values()] for a in ARMS},
        index=pd.Index(list(counts), name=""),
    )
