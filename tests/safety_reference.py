"""``trialkit.stats.safety``'s incidence table and infusion periods as they were before
they were vectorized (commit e4a2f4c), kept verbatim as the references the vectorized
versions must reproduce (tests/test_stats_safety.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trialkit.schema import ARMS, INFUSION_WEEKS, target_day
from trialkit.stats.binary import RD_METHODS, fisher_test, risk_difference
from trialkit.stats.results import _check_alpha, _check_choice, _check_int
from trialkit.stats.safety import _is_synthetic, _need, _period_label, _population


def _row(
    label: str,
    level: int,
    keys: dict[str, str],
    events: pd.DataFrame,
    at_risk: dict[str, int],
    method: str,
    alpha: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {"term": label, "level": level, **keys}
    counts = {}
    for arm in ARMS:
        mine = events.loc[events["ARM"] == arm]
        x, n = int(mine["USUBJID"].nunique()), at_risk[arm]
        counts[arm] = (x, n)
        out[f"{arm} n"] = x
        out[f"{arm} N"] = n
        out[f"{arm} %"] = 100 * x / n if n else math.nan
        out[f"{arm} events"] = len(mine)
    (x1, n1), (x2, n2) = counts[ARMS[0]], counts[ARMS[1]]
    if n1 and n2:
        rd = risk_difference(x1, n1, x2, n2, method=method, alpha=alpha)
        out.update(RD=rd.estimate, **{"RD low": rd.low, "RD high": rd.high})
        out["p"] = fisher_test(x1, n1, x2, n2).p
    else:
        out.update(RD=math.nan, **{"RD low": math.nan, "RD high": math.nan}, p=math.nan)
    return out


def incidence_table_reference(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    by: str | Sequence[str] = ("AEBODSYS", "AEDECOD"),
    population: str = "RANDFL",
    treatment_emergent: bool = True,
    method: str = "newcombe",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """safety.incidence_table before it was vectorized (one frame per line)."""
    if not isinstance(adae, pd.DataFrame):
        raise ValueError(f"adae must be a DataFrame (ADAE), got {type(adae).__name__}")
    levels = [by] if isinstance(by, str) else list(by)
    if not levels or not all(isinstance(b, str) for b in levels):
        raise ValueError(f"by must be an ADAE column name or a sequence of them, got {by!r}")
    _need(adae, ["USUBJID", *levels], "ADAE", "by" if levels else "adae")
    if not isinstance(treatment_emergent, bool):
        raise ValueError(f"treatment_emergent must be True or False, got {treatment_emergent!r}")
    method = _check_choice("method", method, RD_METHODS)
    alpha = _check_alpha(alpha)
    pop = _population(adsl, population)
    at_risk = {arm: int((pop["ARM"] == arm).sum()) for arm in ARMS}

    ev = adae
    if treatment_emergent:
        _need(adae, ["TRTEMFL"], "ADAE", "treatment_emergent")
        ev = ev.loc[ev["TRTEMFL"] == "Y"]
    ev = ev.merge(pop, on="USUBJID", how="inner")
    for col in levels:
        ev[col] = ev[col].astype("str")

    blank = dict.fromkeys(levels, "")
    rows = [_row("Any adverse event", 0, blank, ev, at_risk, method, alpha)]

    def nest(frame: pd.DataFrame, depth: int, keys: dict[str, str]) -> None:
        col = levels[depth]
        sizes = frame.groupby(col)["USUBJID"].nunique()
        order = sorted(sizes.index, key=lambda v: (-sizes[v], v))
        for value in order:
            sub = frame.loc[frame[col] == value]
            here = {**keys, col: value}
            rows.append(_row(value, depth + 1, here, sub, at_risk, method, alpha))
            if depth + 1 < len(levels):
                nest(sub, depth + 1, here)

    if len(ev):
        nest(ev, 0, blank)
    table = pd.DataFrame(rows)
    table.attrs.update(
        synthetic=_is_synthetic(adae, adsl),
        population=population,
        treatment_emergent=treatment_emergent,
        method=method,
        alpha=alpha,
        by=levels,
    )
    return table


def infusion_days_reference(
    adsl: pd.DataFrame,
    visits: pd.DataFrame,
    weeks: Sequence[int] = INFUSION_WEEKS,
    population: str = "RANDFL",
) -> pd.DataFrame:
    """safety.infusion_days before it was vectorized (a loop over patients)."""
    pop = _population(adsl, population)
    _need(visits, ["USUBJID", "AVISITN", "ADY"], "visits", "visits")
    weeks = [_check_int("weeks", w) for w in weeks]
    if not weeks or weeks != sorted(set(weeks)):
        raise ValueError(f"weeks must be increasing infusion weeks, got {weeks!r}")
    v = visits.loc[visits["USUBJID"].isin(pop["USUBJID"]), ["USUBJID", "AVISITN", "ADY"]]
    at_visit = v.groupby(["USUBJID", "AVISITN"])["ADY"].min()
    last_week = v.groupby("USUBJID")["AVISITN"].max()
    rows = []
    for subj, arm in pop.itertuples(index=False):
        for k, w in enumerate(weeks, start=1):
            if k == 1:
                day, src = 1, "day 1"
            elif (subj, w) in at_visit.index:
                day, src = int(at_visit[(subj, w)]), "visit"
            elif subj in last_week.index and last_week[subj] > w:
                day, src = int(target_day(w)), "nominal"
            else:
                break
            rows.append((subj, arm, k, w, day, src))
    cols = ["USUBJID", "ARM", "INFNUM", "INFWEEK", "INFDY", "INFSRC"]
    out = pd.DataFrame(rows, columns=cols)
    out["INFNUM"] = out["INFNUM"].astype("int64")
    out["INFWEEK"] = out["INFWEEK"].astype("int64")
    out["INFDY"] = out["INFDY"].astype("int64")
    out.attrs["synthetic"] = _is_synthetic(adsl, visits)
    return out


def add_infusion_period_reference(
    adae: pd.DataFrame, days: pd.DataFrame, window: int = 28
) -> pd.DataFrame:
    """safety.add_infusion_period before it was vectorized (a loop over events)."""
    _need(adae, ["USUBJID", "ASTDY"], "ADAE", "adae")
    _need(days, ["USUBJID", "INFNUM", "INFDY"], "infusion days", "days")
    window = _check_int("window", window)
    if window < 1:
        raise ValueError(f"window must be at least 1 day, got {window}")
    last = int(days["INFNUM"].max()) if len(days) else 0
    by_subj = {
        s: (g["INFDY"].to_numpy(), g["INFNUM"].to_numpy())
        for s, g in days.sort_values(["USUBJID", "INFNUM"]).groupby("USUBJID")
    }
    num, since, period = [], [], []
    for subj, day in zip(adae["USUBJID"], adae["ASTDY"], strict=True):
        infdy, infnum = by_subj.get(subj, (np.array([], int), np.array([], int)))
        i = int(np.searchsorted(infdy, day, side="right"))
        if i == 0:
            num.append(0)
            since.append(pd.NA)
            period.append(0)
            continue
        d = int(day - infdy[i - 1])
        num.append(int(infnum[i - 1]))
        since.append(d)
        before_next = i < len(infdy)  # another infusion followed: the period runs to it
        period.append(int(infnum[i - 1]) if before_next or d < window else last + 1)
    out = adae.copy()
    out["INFNUM"] = pd.array(num, dtype="int64")
    out["AINFDY"] = pd.array(since, dtype="Int64")
    out["APERIODN"] = pd.array(period, dtype="int64")
    out["APERIOD"] = pd.array([_period_label(k, last, window) for k in period], dtype="str")
    out.attrs = dict(adae.attrs)
    out.attrs["infusion_window"] = window
    return out
