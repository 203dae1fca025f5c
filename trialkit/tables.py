"""Tables a reader reads: one way to format, caption, label and record a table.

``table(df, caption, formats={"p": "p", "share": "pct"}, provenance="reconstructed",
key="primary.tests")`` returns a pandas Styler that displays itself (make it the last
expression of a cell), with numbers formatted by :mod:`trialkit.text` (p-values never
rounded across 0.05, proportions as percentages, integers without decimals, no "nan"),
the provenance said in the caption when there is one, and, with ``key``, the table's
values recorded for ``reports/NAME.json``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from trialkit import text

__all__ = [
    "BASELINE_ROWS",
    "ae_incidence",
    "arm_differences",
    "baseline_table",
    "disposition",
    "table",
]


def _default_format(series: pd.Series) -> Any:
    if pd.api.types.is_bool_dtype(series):
        return lambda v: "yes" if v else "no"
    if pd.api.types.is_integer_dtype(series):
        return text.num
    if pd.api.types.is_float_dtype(series):
        values = series.dropna().to_numpy()
        if values.size and np.all(values == np.round(values)):
            return text.num
        return lambda v: text.num(v, 3)
    return lambda v: "–" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def _escaped(f: Any) -> Any:
    return lambda v: html.escape(f(v))


def table(
    df: pd.DataFrame,
    caption: str = "",
    formats: Mapping[str, str] | None = None,
    provenance: str | bool | None = None,
    key: str | None = None,
    index: bool = False,
) -> Any:
    """A formatted, captioned table (a pandas Styler) of ``df``.

    ``formats`` maps columns to :func:`trialkit.text.formatter` specs ("p", "pct", "pp",
    "num" or a Python spec); other columns get a sensible default (integers plain, floats
    to 3 significant digits, missing as "–"). ``provenance`` ("published",
    "reconstructed", "simulated") is said under the caption. ``key`` records the table
    (as a list of row dicts) under that key. ``index`` shows the index.
    """
    if key is not None:
        from trialkit.run import record

        record(key, df.reset_index().to_dict(orient="records") if index else df.to_dict("records"))
    fmt = {c: _default_format(df[c]) for c in df.columns}
    for col, spec in (formats or {}).items():
        if col not in df.columns:
            raise KeyError(f"table: no column {col!r} to format (columns: {list(df.columns)})")
        fmt[col] = text.formatter(spec)
    safe = {c: _escaped(f) for c, f in fmt.items()}
    styler = df.style.format(safe, na_rep="–")
    if not index:
        styler = styler.hide(axis="index")
    label = text.provenance_label(provenance)
    words = html.escape(caption)
    if label:
        words = f"{words}<br><small>{html.escape(label)}</small>"
    if words:
        styler = styler.set_caption(words)
    styler = styler.set_table_styles(
        [{"selector": "caption", "props": "caption-side: top; text-align: left;"}], overwrite=False
    )
    return styler


# --------------------------------------------------------------------------- trial tables
#: The rows of a baseline table ("Table 1"): (label, dataset, variable, summary, decimals).
#: dataset "ADSL" (a column), "ADLB"/"ADEX" (the PARAMCD's baseline record, ABLFL "Y"),
#: or "DOSE/KG" (baseline daily insulin dose divided by WEIGHT). summary: "mean" (mean
#: (SD)), "median" (median [IQR], for skewed variables) or a category of the column
#: ("n%": count and percentage of patients with that value, e.g. "F").
BASELINE_ROWS: tuple[tuple[str, str, str, str, int], ...] = (
    ("Age (years), mean (SD)", "ADSL", "AGE", "mean", 1),
    ("Female, n (%)", "ADSL", "SEX", "n%:F", 0),
    ("Weight (kg), mean (SD)", "ADSL", "WEIGHT", "mean", 1),
    ("BMI (kg/m²), mean (SD)", "ADSL", "BMI", "mean", 1),
    ("Diabetes duration (years), median [IQR]", "ADSL", "DIABDUR", "median", 1),
    ("HbA1c (%), mean (SD)", "ADLB", "HBA1C", "mean", 2),
    ("Fasting glucose (mmol/L), mean (SD)", "ADLB", "FPG", "mean", 1),
    ("Fasting C-peptide (ng/mL), median [IQR]", "ADLB", "CPEP", "median", 2),
    ("Glucose infusion rate (mg/min/kg), mean (SD)", "ADLB", "GIR", "mean", 2),
    ("Daily insulin dose (U/day), mean (SD)", "ADEX", "INSDOSE", "mean", 1),
    ("Daily insulin dose (U/kg/day), mean (SD)", "DOSE/KG", "INSDOSE", "mean", 2),
)


def _baseline_values(
    adsl: pd.DataFrame, frames: Mapping[str, pd.DataFrame | None], source: str, var: str
) -> pd.Series | None:
    """One baseline value per USUBJID (None when the data do not hold the variable)."""
    if source == "ADSL":
        return adsl.set_index("USUBJID")[var] if var in adsl.columns else None
    frame = frames.get("ADEX" if source == "DOSE/KG" else source)
    if frame is None or "ABLFL" not in frame.columns:
        return None
    base = frame[(frame["PARAMCD"] == var) & (frame["ABLFL"] == "Y")]
    if base.empty:
        return None
    values = base.groupby("USUBJID")["AVAL"].first()
    if source == "DOSE/KG":
        values = values / adsl.set_index("USUBJID")["WEIGHT"].reindex(values.index)
    return values


def baseline_table(
    adsl: pd.DataFrame,
    adlb: pd.DataFrame | None = None,
    adex: pd.DataFrame | None = None,
    rows: tuple[tuple[str, str, str, str, int], ...] = BASELINE_ROWS,
) -> pd.DataFrame:
    """Baseline characteristics by arm, as a journal prints "Table 1" (CONSORT 2010
    item 15): one row per characteristic, one column per arm headed "ARM (n = N)", cells
    "mean (SD)", "median [Q1, Q3]" or "n (%)", and no p-values (see notebook 01 for why).

    ``adsl``: the randomized patients are described (RANDFL "Y"), by ARM. ``adlb`` and
    ``adex``: derived datasets (``trialkit.derive.derive_adlb``/``derive_adex``, with
    ABLFL); their baseline records give the lab rows and the insulin dose. Rows whose
    variable the data do not hold are left out; a cell computed from fewer patients than
    the arm has says how many ("n = 40"). Percentages are of the arm's patients with a
    value. SD: the sample SD (ddof 1); quartiles by linear interpolation.
    ``attrs["values"]`` holds the numbers: {label: {arm: {"n", "mean", "sd", "median",
    "q1", "q3", "count"}}} for records and tests.
    """
    from trialkit import schema

    rand = adsl[adsl["RANDFL"] == "Y"]
    arms = [a for a in schema.ARMS if (rand["ARM"] == a).any()]
    frames = {"ADLB": adlb, "ADEX": adex}
    out: dict[str, dict[str, str]] = {}
    values: dict[str, dict[str, dict[str, float]]] = {}
    heads = {a: f"{a} (n = {int((rand['ARM'] == a).sum())})" for a in arms}
    for label, source, var, summary, digits in rows:
        col = _baseline_values(rand, frames, source, var)
        if col is None:
            continue
        cells, nums = {}, {}
        for arm in arms:
            ids = rand.loc[rand["ARM"] == arm, "USUBJID"]
            v = col.reindex(ids).dropna()
            n_arm, n = len(ids), len(v)
            if summary.startswith("n%"):
                k = int((v.astype(str) == summary.split(":", 1)[1]).sum())
                nums[arm] = {"n": n, "count": k}
                cell = f"{k} ({text.pct(k / n, 0) if n else '–'})"
            else:
                x = v.astype(float)
                q1, med, q3 = (float(x.quantile(q)) if n else np.nan for q in (0.25, 0.5, 0.75))
                nums[arm] = {"n": n, "mean": float(x.mean()), "sd": float(x.std(ddof=1)),
                             "median": med, "q1": q1, "q3": q3}  # fmt: skip
                a, b, c = (f"{nums[arm][k]:.{digits}f}" for k in ("mean", "sd", "median"))
                lo, hi = f"{q1:.{digits}f}", f"{q3:.{digits}f}"
                cell = f"{a} ({b})" if summary == "mean" else f"{c} [{lo}, {hi}]"
                cell = "–" if n == 0 else cell
            cells[heads[arm]] = cell + (f"; n = {n}" if 0 < n < n_arm else "")
        out[label] = cells
        values[label] = nums
    table_ = pd.DataFrame.from_dict(out, orient="index")
    table_.index.name = "characteristic"
    table_.attrs["values"] = values
    return table_


def standardized_differences(baseline: pd.DataFrame) -> dict[str, float]:
    """The standardized difference of every "mean (SD)" row of a :func:`baseline_table`:
    (mean of the first arm - mean of the second) / sqrt((SD1² + SD2²) / 2), the usual
    description of a baseline imbalance in SD units (no p-value). Rows with fewer than
    two patients in an arm are left out."""
    out = {}
    for label, v in baseline.attrs["values"].items():
        arms = list(v)
        if "(SD)" not in label or len(arms) != 2 or min(v[a]["n"] for a in arms) < 2:
            continue
        a, b = (v[x] for x in arms)
        out[label] = float((a["mean"] - b["mean"]) / np.sqrt((a["sd"] ** 2 + b["sd"] ** 2) / 2))
    return out


def disposition(adsl: Any) -> pd.DataFrame:
    """Patient disposition per arm (and in total), counted by
    :func:`trialkit.stats.consort_flow`, the same function that counts the CONSORT
    figure (``trialkit.plots.consort``), so table and figure cannot disagree.

    ``adsl``: an ADSL DataFrame or a ``ConsortFlow`` counted from one. Rows: randomized;
    completed; discontinued, then one row per reason ("  reason"); analysed (full
    analysis set) and not analysed; per-protocol set when ADSL has PPSFL.
    """
    from trialkit.stats.design import ConsortFlow, consort_flow

    flow = adsl if isinstance(adsl, ConsortFlow) else consort_flow(adsl)
    reasons = sorted({r for arm in flow.arms for r in flow.reasons[arm]})
    rows: dict[str, dict[str, int]] = {
        "Randomized": flow.randomized,
        "Completed follow-up": flow.completed,
        "Discontinued": flow.discontinued,
    }
    for why in reasons:
        rows[f"  {why}"] = {a: flow.reasons[a].get(why, 0) for a in flow.arms}
    rows["Analysed (full analysis set)"] = flow.analysed
    rows["Not analysed"] = flow.not_analysed
    if flow.per_protocol is not None:
        rows["Per-protocol set"] = flow.per_protocol
    out = pd.DataFrame.from_dict(rows, orient="index")[list(flow.arms)].astype(int)
    out["Total"] = out.sum(axis=1)
    out.index.name = "patients"
    return out


def ae_incidence(
    incidence: pd.DataFrame,
    caption: str = "",
    provenance: str | bool | None = None,
    level: str = "95%",
) -> Any:
    """An adverse-event incidence table for reading, the form a trial report prints.

    ``incidence``: ``trialkit.stats.incidence_table`` (rows "term" with "level" 0 for
    "any", 1 for body systems, 2 for preferred terms; per arm "ARM n", "ARM N", "ARM %",
    "ARM events"; "RD", "RD low", "RD high" as fractions; "p"). Shown: one row per term,
    indented by level and body systems in bold; per arm "n (%)" of the patients at risk and
    the number of events; the risk difference and its interval in percentage points (with
    the interval's ``level`` in the header); Fisher's p by :func:`trialkit.text.p_value`.
    """
    arms = [c[:-2] for c in incidence.columns if c.endswith(" %")]
    indent = ["\u00a0" * 4 * max(int(lv) - 1, 0) for lv in incidence["level"]]
    out = pd.DataFrame({"": [i + str(t) for i, t in zip(indent, incidence["term"], strict=True)]})
    for arm in arms:
        n_risk = int(incidence[f"{arm} N"].iloc[0])
        out[f"{arm} n (%) of {n_risk}"] = [
            f"{int(n)} ({text.pct(n / n_risk) if n_risk else '–'})" for n in incidence[f"{arm} n"]
        ]
        out[f"{arm} events"] = incidence[f"{arm} events"].astype(int).to_numpy()
    rd = zip(incidence["RD"], incidence["RD low"], incidence["RD high"], strict=True)
    out[f"RD, pp ({level} CI)"] = [
        f"{text.pp(d)} ({text.ci(lo, hi, 'pp').removesuffix(' percentage points')})"
        for d, lo, hi in rd
    ]
    out["p (Fisher)"] = [text.p_value(p) for p in incidence["p"]]
    styler = table(out, caption, provenance=provenance)
    bold = incidence["level"].to_numpy() <= 1
    return styler.apply(lambda col: ["font-weight: bold" if b else "" for b in bold], axis=0)


def arm_differences(results: Mapping[str, Any]) -> pd.DataFrame:
    """One row per analysis of an arm difference (``results``: label -> an object with
    ``diff``/``estimate``, ``se``, ``df``, ``p``, ``low``, ``high`` and ``n``, such as
    ``trialkit.stats.continuous.ArmDifference``): columns analysis, difference, SE, df
    (NaN for a normal approximation), p, low, high, patients ("45 + 44"). Units are the
    outcome's. Format it with :func:`table` (e.g. ``formats={"p": "p"}``)."""
    rows = []
    for label, r in results.items():
        df = float(getattr(r, "df", np.nan))
        rows.append(
            {
                "analysis": label,
                "difference": float(getattr(r, "diff", getattr(r, "estimate", np.nan))),
                "SE": float(r.se),
                "df": df if np.isfinite(df) else np.nan,
                "p": float(r.p),
                "low": float(r.low),
                "high": float(r.high),
                "patients": " + ".join(str(int(k)) for k in getattr(r, "n", ())),
            }
        )
    return pd.DataFrame(rows)
