"""Figures. The only module of trialkit that makes them (``trialkit.drawing`` draws them once
into a notebook).

Every function returns the matplotlib ``Axes`` it drew on (pass ``ax=`` to draw into an
existing one) and takes ``synthetic``: when True the figure carries a visible
"SYNTHETIC DATA" caption, so a figure made from synthetic patients can never be mistaken
for the trial's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from trialkit.drawing import TightLayoutMeasuredOnce, use_one_draw_png

__all__ = [
    "SYNTHETIC_CAPTION",
    "ae_dotplot",
    "allocation_paths",
    "caption",
    "consort",
    "correlation_maps",
    "criteria_quadrant",
    "delta_tipping",
    "differences_by_visit",
    "distributions",
    "eligibility",
    "forest",
    "imbalance",
    "infusion_events",
    "missing_pattern",
    "missing_rules",
    "missing_simulation",
    "outcome_space",
    "patient_traces",
    "posterior",
    "power_by_effect",
    "power_by_n",
    "power_map",
    "predictability",
    "scenario_grid",
    "schedule",
    "size_by_rate",
    "threshold_grid",
    "tipping_point",
    "trajectories",
    "waterfall",
]

SYNTHETIC_CAPTION = "SYNTHETIC DATA: simulated patients, not the trial's"


def caption(
    ax: Axes, text: str = "", synthetic: bool | str | None = False, provenance: str | None = None
) -> Axes:
    """Write a caption under the figure, starting with its provenance when it has one.

    ``provenance`` (or ``synthetic``, its older name) is "reconstructed", "simulated" or
    "published" (see ``trialkit.text.PROVENANCE``); ``True`` reads as "reconstructed";
    None/False: no label (the analyst's own data, or no patients in the figure).

    The figure's layout is tightened to leave room for it (and for a suptitle), so it
    never overlaps the axes.
    """
    _caption_figure(ax.figure, text, provenance or synthetic)
    return ax


def forest(
    table: pd.DataFrame,
    label: str = "method",
    estimate: str = "estimate",
    low: str = "low",
    high: str = "high",
    reference: Sequence[float] | None = None,
    reference_label: str = "reported",
    null: float | None = 0.0,
    xlabel: str = "",
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
    interval_format: str = "{:.4f} to {:.4f}",
) -> Axes:
    """A forest plot: one row per line of ``table`` with its estimate and interval.
    ``interval_format`` writes each row's interval at the right (e.g. "{:.2f}% to {:.2f}%"
    for a table in percent).

    ``reference`` (low, high) draws a shaded band, e.g. the interval a paper printed, so
    that the rows that reproduce it stand out; ``null`` draws the no-effect line.
    """
    rows = table.reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.55 * len(rows) + 1.4))
    y = list(range(len(rows)))[::-1]
    if reference is not None:
        ax.axvspan(*reference, color="tab:orange", alpha=0.15)
        for x in reference:
            ax.axvline(x, color="tab:orange", lw=1, ls="--")
        ax.annotate(
            f"{reference_label} interval", xy=(sum(reference) / 2, 1),
            xycoords=("data", "axes fraction"), xytext=(0, 3), textcoords="offset points",
            ha="center", va="bottom", fontsize=8, color="tab:orange",
        )  # fmt: skip
    if null is not None:
        ax.axvline(null, color="0.4", lw=1)
    err = [rows[estimate] - rows[low], rows[high] - rows[estimate]]
    ax.errorbar(rows[estimate], y, xerr=err, fmt="o", color="tab:blue", capsize=4, lw=2)
    for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
        ax.annotate(
            interval_format.format(r[low], r[high]), xy=(1.01, yi),
            xycoords=("axes fraction", "data"), va="center", fontsize=8,
        )  # fmt: skip
    ax.set_yticks(y, rows[label])
    ax.set_xlabel(xlabel)
    ax.set_title(title, pad=14 if reference is not None else 6)
    ax.margins(x=0.1, y=0.15)
    caption(ax, note, synthetic)
    return ax


# --------------------------------------------------------------------------- endpoint figures
_HBA1C_MET = "#1b9e77"  # colour-blind safe (Dark2): HbA1c criterion met
_HBA1C_NOT = "#b3b3b3"
_ARM_COLOURS = {"UC-MSC": "#7570b3", "Placebo": "#d95f02"}
_ARM_MARKERS = {"UC-MSC": "o", "Placebo": "s"}


def _settings(adresp: pd.DataFrame, hba1c_cutoff: float | None, insulin_reduction: float | None):
    """Thresholds of an ADRESP: the arguments if given, else its attrs, else the paper's."""
    s = dict(adresp.attrs.get("responders", {}))
    cut = float(hba1c_cutoff if hba1c_cutoff is not None else s.get("hba1c_cutoff", 7.0))
    red = float(
        insulin_reduction if insulin_reduction is not None else s.get("insulin_reduction", 50.0)
    )
    strict = bool(s.get("strict", True))
    return cut, red, strict


def _criteria_wide(adresp: pd.DataFrame) -> pd.DataFrame:
    """One row per subject of an ADRESP: ARM, hba1c (week-48 value used), pchg (insulin
    percent change used), and the AVALC of HBA1CLT7, INSRED50 and RESP."""
    need = {"USUBJID", "ARM", "PARAMCD", "AVALC", "SRCVAL", "PCHG"}
    missing = sorted(need - set(adresp.columns))
    if missing:
        raise ValueError(f"adresp: missing column(s) {', '.join(missing)} (derive.responders)")
    wide = adresp.pivot(index="USUBJID", columns="PARAMCD", values="AVALC")
    sub = adresp.drop_duplicates("USUBJID").set_index("USUBJID")["ARM"]
    hb = adresp[adresp["PARAMCD"] == "HBA1CLT7"].set_index("USUBJID")["SRCVAL"]
    ins = adresp[adresp["PARAMCD"] == "INSRED50"].set_index("USUBJID")["PCHG"]
    out = pd.DataFrame({"ARM": sub, "hba1c": hb, "pchg": ins})
    for code in ("HBA1CLT7", "INSRED50", "RESP"):
        out[code] = wide[code] if code in wide.columns else ""
    return out.reset_index()


def _arms(frame: pd.DataFrame) -> list[str]:
    known = [a for a in _ARM_COLOURS if a in set(frame["ARM"])]
    return known + sorted(set(frame["ARM"]) - set(known))


def waterfall(
    adresp: pd.DataFrame,
    *,
    hba1c_cutoff: float | None = None,
    insulin_reduction: float | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Waterfall of the insulin criterion: one bar per subject, the percent change of the
    daily insulin dose (% of baseline) used by ``derive.responders`` (PCHG of the INSRED50
    row), sorted within arm from the largest rise to the largest cut; bars coloured by the
    HbA1c criterion (HBA1CLT7 met or not), responders (RESP) marked with a star, the
    insulin cut-off drawn as a dashed line.

    ``adresp``: the output of ``derive.responders``; the cut-offs are read from its
    ``attrs["responders"]`` unless given. Subjects without a percent change (missing,
    non-responder or excluded) have no bar; the arm label counts them.
    """
    cut, red, strict = _settings(adresp, hba1c_cutoff, insulin_reduction)
    wide = _criteria_wide(adresp)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.6))
    x0, gap = 0, max(3, len(wide) // 25)
    op = "<" if strict else "≤"
    for arm in _arms(wide):
        mine = wide[wide["ARM"] == arm]
        shown = mine[mine["pchg"].notna()].sort_values("pchg", ascending=False, kind="stable")
        xs = np.arange(x0, x0 + len(shown))
        colours = np.where(shown["HBA1CLT7"] == "Y", _HBA1C_MET, _HBA1C_NOT)
        ax.bar(xs, shown["pchg"], width=0.85, color=colours, edgecolor="none")
        resp = (shown["RESP"] == "Y").to_numpy()
        ax.scatter(
            xs[resp],
            shown["pchg"].to_numpy()[resp] - 6,
            marker="*",
            s=70,
            color="black",
            zorder=3,
            linewidths=0,
        )
        missing = len(mine) - len(shown)
        label = f"{arm}\n{len(shown)} with a week-48 dose"
        label += f", {missing} without" if missing else ""
        ax.annotate(
            label,
            xy=((xs[0] + xs[-1]) / 2 if len(xs) else x0, 1),
            xycoords=("data", "axes fraction"),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
        )
        x0 += len(shown) + gap
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axhline(-red, color="firebrick", ls="--", lw=1.2)
    ax.set_xticks([])
    ax.set_xlim(-1, max(x0 - gap, 1))
    ax.set_ylabel("change of daily insulin dose at week 48\n(% of baseline)")
    handles = [
        Patch(color=_HBA1C_MET, label=f"HbA1c {op} {cut:g} % at week 48"),
        Patch(color=_HBA1C_NOT, label=f"HbA1c not {op} {cut:g} % (or missing)"),
        Line2D([], [], color="firebrick", ls="--", label=f"insulin criterion: -{red:g} %"),
        Line2D([], [], marker="*", color="black", ls="", markersize=9, label="responder (both)"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=True, framealpha=0.9)
    ax.set_title(title, pad=30)
    caption(ax, note, synthetic)
    return ax


def criteria_quadrant(
    adresp: pd.DataFrame,
    *,
    hba1c_cutoff: float | None = None,
    insulin_reduction: float | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """The two criteria against each other: week-48 HbA1c (%) against the percent change of
    the daily insulin dose, one point per subject, by arm; the responder quadrant (both
    criteria met) shaded, and in each quadrant the count per arm (from the AVALC flags of
    ``derive.responders``, so a value exactly at a cut-off is counted as the rule says).
    Subjects without both values are not drawn (the caption counts them).
    """
    cut, red, strict = _settings(adresp, hba1c_cutoff, insulin_reduction)
    wide = _criteria_wide(adresp)
    both = wide[wide["hba1c"].notna() & wide["pchg"].notna()]
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 6))
    xlo = min(-100.0, float(both["pchg"].min()) - 5) if len(both) else -100.0
    xhi = max(20.0, float(both["pchg"].max()) + 5) if len(both) else 20.0
    ylo = min(5.0, float(both["hba1c"].min()) - 0.3) if len(both) else 5.0
    yhi = max(10.0, float(both["hba1c"].max()) + 0.3) if len(both) else 10.0
    ax.add_patch(
        Rectangle((xlo, ylo), -red - xlo, cut - ylo, color=_HBA1C_MET, alpha=0.15, lw=0, zorder=0)
    )
    ax.axvline(-red, color="firebrick", ls="--", lw=1)
    ax.axhline(cut, color="firebrick", ls="--", lw=1)
    for arm in _arms(both):
        mine = both[both["ARM"] == arm]
        ax.scatter(
            mine["pchg"],
            mine["hba1c"],
            s=30,
            alpha=0.75,
            label=arm,
            color=_ARM_COLOURS.get(arm, "0.3"),
            marker=_ARM_MARKERS.get(arm, "o"),
            edgecolor="white",
            linewidths=0.5,
        )
    op = "<" if strict else "≤"
    hm, im = both["HBA1CLT7"] == "Y", both["INSRED50"] == "Y"
    quads = {
        "responders (both)": (hm & im, (xlo, ylo), ("left", "bottom")),
        "HbA1c only": (hm & ~im, (xhi, ylo), ("right", "bottom")),
        "insulin only": (~hm & im, (xlo, yhi), ("left", "top")),
        "neither": (~hm & ~im, (xhi, yhi), ("right", "top")),
    }
    for name, (mask, (qx, qy), (ha, va)) in quads.items():
        counts = " · ".join(
            f"{arm} {int((mask & (both['ARM'] == arm)).sum())}" for arm in _arms(both)
        )
        ax.annotate(
            f"{name}\n{counts}",
            xy=(qx, qy),
            xytext=(6 if ha == "left" else -6, 6 if va == "bottom" else -6),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=8.5,
            fontweight="bold" if name.startswith("resp") else "normal",
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.8", "alpha": 0.9},
        )
    ax.set_xlim(xlo, xhi)
    ax.set_ylim(ylo, yhi)
    ax.set_xlabel(
        f"change of daily insulin dose at week 48 (% of baseline); criterion ≤ -{red:g} %"
    )
    ax.set_ylabel(f"HbA1c at week 48 (%); criterion {op} {cut:g} %")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.set_title(title)
    hidden = len(wide) - len(both)
    extra = f"{hidden} subject(s) without both week-48 values not shown." if hidden else ""
    caption(ax, " ".join(w for w in (note, extra) if w), synthetic)
    return ax


def threshold_grid(
    table: pd.DataFrame,
    *,
    chosen: tuple[float, float] | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Responders per arm over a grid of cut-offs: one heatmap per arm, rows HbA1c cut-offs
    (%), columns insulin-reduction cut-offs (%), colour the percentage of responders (one
    scale for all arms), each cell annotated with the count. ``table``: columns arm,
    hba1c_cutoff, insulin_reduction, x (responders), n (denominator). ``chosen``
    (hba1c_cutoff, insulin_reduction) is outlined. Returns the array of Axes.
    """
    need = {"arm", "hba1c_cutoff", "insulin_reduction", "x", "n"}
    if not need <= set(table.columns):
        raise ValueError(f"table: needs columns {sorted(need)}, got {list(table.columns)}")
    arms = [a for a in _ARM_COLOURS if a in set(table["arm"])] or sorted(set(table["arm"]))
    t = table.assign(pct=100 * table["x"] / table["n"].where(table["n"] > 0))
    vmax = max(float(t["pct"].max()), 1.0)
    fig, grid = plt.subplots(
        1,
        len(arms) + 1,
        figsize=(5.2 * len(arms) + 0.6, 4.2),
        gridspec_kw={"width_ratios": [1] * len(arms) + [0.04]},
    )
    axes, bar_ax = grid[:-1], grid[-1]
    for ax, arm in zip(axes, arms, strict=True):
        mine = t[t["arm"] == arm]
        pct = mine.pivot(index="hba1c_cutoff", columns="insulin_reduction", values="pct")
        cnt = mine.pivot(index="hba1c_cutoff", columns="insulin_reduction", values="x")
        pct, cnt = pct.sort_index(ascending=False), cnt.sort_index(ascending=False)
        im = ax.imshow(pct.to_numpy(dtype=float), cmap="Greens", vmin=0, vmax=vmax, aspect="auto")
        for i in range(pct.shape[0]):
            for j in range(pct.shape[1]):
                v = pct.iat[i, j]
                ax.text(
                    j,
                    i,
                    f"{int(cnt.iat[i, j])}\n{v:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > 0.6 * vmax else "black",
                )
        ax.set_xticks(range(pct.shape[1]), [f"{c:g}" for c in pct.columns])
        ax.set_yticks(range(pct.shape[0]), [f"{r:g}" for r in pct.index])
        ax.set_xlabel("insulin dose reduced by at least (%)")
        ax.set_ylabel("HbA1c below (%)")
        ax.grid(False)
        n = mine["n"].unique()
        ax.set_title(f"{arm} (n = {', '.join(str(int(v)) for v in n)})", fontsize=10)
        if chosen is not None and chosen[0] in pct.index and chosen[1] in pct.columns:
            i, j = list(pct.index).index(chosen[0]), list(pct.columns).index(chosen[1])
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=2.2))
    fig.colorbar(im, cax=bar_ax, label="responders (%)")
    _caption_figure(fig, note, synthetic, title=title)
    return axes


def missing_rules(
    table: pd.DataFrame,
    *,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Responders per arm under each missing-data rule: one group of horizontal bars per row
    label, bar length the percentage of responders, each bar labelled "x/n". ``table``:
    columns label (e.g. "FAS: non-responder"), arm, x, n; groups in the order given."""
    need = {"label", "arm", "x", "n"}
    if not need <= set(table.columns):
        raise ValueError(f"table: needs columns {sorted(need)}, got {list(table.columns)}")
    labels = list(dict.fromkeys(table["label"]))
    arms = [a for a in _ARM_COLOURS if a in set(table["arm"])] or sorted(set(table["arm"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.3 * len(labels) * len(arms) + 1.6))
    h = 0.8 / len(arms)
    top = 0.0
    for k, arm in enumerate(arms):
        mine = table[table["arm"] == arm].set_index("label").reindex(labels)
        y = np.arange(len(labels))[::-1] + (len(arms) / 2 - k - 0.5) * h
        pct = 100 * mine["x"] / mine["n"].where(mine["n"] > 0)
        ax.barh(y, pct, height=h * 0.9, color=_ARM_COLOURS.get(arm, "0.5"), label=arm)
        for yi, p, x, n in zip(y, pct, mine["x"], mine["n"], strict=True):
            ax.annotate(
                f"{int(x)}/{int(n)}",
                xy=(0 if pd.isna(p) else p, yi),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        top = max(top, float(pct.max()))
    ax.set_yticks(np.arange(len(labels))[::-1], labels)
    ax.set_xlim(0, top * 1.2 + 1)
    ax.set_xlabel("responders (%)")
    ax.legend(
        loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(arms), fontsize=8, frameon=False
    )
    ax.set_title(title, pad=22)
    caption(ax, note, synthetic)
    return ax


def _visit_window(week: int) -> tuple[float, float]:
    """Study days of a visit's window (as ``derive.visit_windows`` assigns them), for shading."""
    from trialkit.schema import VISITS, target_day

    i = list(VISITS).index(week)
    t = float(target_day(week))
    lo = (float(target_day(VISITS[i - 1])) + t) / 2 if i > 0 else t
    hi = (t + float(target_day(VISITS[i + 1]))) / 2 if i + 1 < len(VISITS) else 2 * t - lo
    return lo, hi


def patient_traces(
    records: pd.DataFrame,
    adresp: pd.DataFrame,
    usubjids: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Visit records of a few subjects and the ones that decided their endpoint: one column
    per subject, HbA1c (%) on top, the percent change of the daily insulin dose below,
    against the study day; the cut-offs dashed; the record each criterion used (SRCADY of
    ADRESP) ringed, labelled with its AVALC; the window of the analysis visit shaded.
    ``records``: derived ADLB and ADEX rows
    (USUBJID, PARAMCD, ADY, AVAL, PCHG). Returns the 2 x k array of Axes."""
    if not usubjids:
        raise ValueError("usubjids: give at least one subject")
    labels = list(labels) if labels is not None else list(usubjids)
    if len(labels) != len(usubjids):
        raise ValueError("labels: one label per subject in usubjids")
    cut, red, strict = _settings(adresp, None, None)
    window = _visit_window(int(adresp.attrs.get("responders", {}).get("visit", 48)))
    k = len(usubjids)
    fig, axes = plt.subplots(
        2, k, figsize=(3.1 * k + 0.6, 5.4), sharex=True, sharey="row", squeeze=False
    )
    rows = (
        ("HBA1C", "AVAL", "HBA1CLT7", cut, "HbA1c (%)"),
        ("INSDOSE", "PCHG", "INSRED50", -red, "insulin dose change\n(% of baseline)"),
    )
    for j, (sid, lab) in enumerate(zip(usubjids, labels, strict=True)):
        for i, (code, col, crit, line, ylabel) in enumerate(rows):
            ax = axes[i, j]
            r = records[(records["USUBJID"] == sid) & (records["PARAMCD"] == code)].sort_values(
                "ADY"
            )
            ax.plot(r["ADY"], r[col], marker="o", ms=4, color="0.35", lw=1.2)
            ax.axhline(line, color="firebrick", ls="--", lw=1)
            dec = adresp[(adresp["USUBJID"] == sid) & (adresp["PARAMCD"] == crit)]
            if len(dec) and pd.notna(dec["SRCADY"].iloc[0]):
                d = dec.iloc[0]
                yv = d["SRCVAL"] if code == "HBA1C" else d["PCHG"]
                met = d["AVALC"] == "Y"
                ax.scatter(
                    [int(d["SRCADY"])],
                    [yv],
                    s=160,
                    facecolor="none",
                    lw=2,
                    edgecolor=_HBA1C_MET if met else "firebrick",
                    zorder=3,
                )
                word = {"Y": "met", "N": "not met"}.get(d["AVALC"], "excluded")
                kind = f" ({d['DTYPE']})" if d["DTYPE"] else ""
                status, colour = f"{word}{kind}", _HBA1C_MET if met else "firebrick"
            elif len(dec):
                status = "excluded" if dec["AVALC"].iloc[0] == "" else "missing: not met"
                colour = "firebrick"
            else:
                status, colour = "not in the population", "0.3"
            ax.axvspan(*window, color="0.9", lw=0, zorder=0)
            ax.margins(y=0.15)
            if j == 0:
                ax.set_ylabel(ylabel)
            what = "HbA1c" if i == 0 else "insulin"
            ax.set_title(f"{lab}\n" * (i == 0) + f"{what}: {status}", fontsize=9, color=colour)
            if i == 1:
                ax.set_xlabel("study day")
    _caption_figure(fig, note, synthetic, title=title)
    return axes


# --------------------------------------------------------------------------- ensembles
def distributions(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    reference: Mapping[str, float] | None = None,
    reference_label: str = "reported",
    log: bool = False,
    discrete: bool = False,
    ncols: int = 2,
    xlabel: str = "",
    ylabel: str = "members",
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Small multiples: a histogram per column of ``frame`` (e.g. one row per ensemble
    member), titled by ``columns`` (column -> label), with a vertical line at
    ``reference[column]`` where given (e.g. the published value) and the 2.5-97.5
    percentile range shaded. ``log``: log-scaled x (p-values); ``discrete``: one bar per
    whole number (counts). Returns the array of Axes."""
    cols = list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"columns: not in frame: {missing}")
    nrows = -(-len(cols) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows + 0.6), squeeze=False)
    flat = axes.ravel()
    for ax, col in zip(flat, cols, strict=False):
        v = frame[col].dropna().to_numpy(dtype=float)
        if log:
            v = v[v > 0]
            bins = (
                np.logspace(np.log10(v.min()) - 0.05, np.log10(v.max()) + 0.05, 30)
                if len(v)
                else 10
            )
            ax.set_xscale("log")
            decades = float(np.log10(v.max() / v.min())) if len(v) else 1.0
            if decades < 0.7:
                ax.xaxis.set_major_locator(MaxNLocator(4))
            else:
                subs = (1.0,) if decades > 2 else (1.0, 2.0, 5.0)
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.tick_params(axis="x", labelsize=8)
        elif discrete:
            bins = np.arange(np.floor(v.min()) - 0.5, np.ceil(v.max()) + 1.5) if len(v) else 10
        else:
            bins = 30
        if len(v):
            lo, hi = np.percentile(v, [2.5, 97.5])
            ax.axvspan(lo, hi, color="tab:blue", alpha=0.08, lw=0)
        ax.hist(v, bins=bins, color="tab:blue", alpha=0.8, rwidth=0.9 if discrete else None)
        if reference and col in reference and reference[col] is not None:
            ax.axvline(reference[col], color="firebrick", lw=1.5, ls="--")
            lo, hi = ax.get_xlim()
            at = reference[col]
            pos = (
                (np.log10(at) - np.log10(lo)) / (np.log10(hi) - np.log10(lo))
                if log and at > 0
                else (at - lo) / (hi - lo)
            )
            right = pos > 0.65
            ax.annotate(
                f"{reference_label}: {reference[col]:.3g}",
                xy=(reference[col], 1),
                xycoords=("data", "axes fraction"),
                xytext=(-3 if right else 3, -3),
                textcoords="offset points",
                ha="right" if right else "left",
                va="top",
                fontsize=8,
                color="firebrick",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
        if discrete and len(v):
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(columns[col], fontsize=9.5)
        ax.set_xlabel(xlabel, fontsize=8.5)
        ax.set_ylabel(ylabel if ax in axes[:, 0] else "")
    for ax in flat[len(cols) :]:
        ax.set_visible(False)
    _caption_figure(fig, note, synthetic, title=title)
    return axes


def _caption_figure(fig: Figure, note: str, synthetic: bool | str | None, title: str = "") -> None:
    """``caption`` for a whole figure, however many axes, under an optional ``title``
    (a suptitle, for which room is kept). ``synthetic``: a provenance kind or bool.

    The caption is wrapped here, once, to the figure's width, and the room under the axes
    fits its lines. The layout itself (matplotlib's tight layout, kept clear of the caption
    and the title) is done when the figure is drawn, so a figure captioned more than once,
    or changed after its caption, is laid out once, as it finally is; in a notebook the
    figure is then drawn once (see ``trialkit.drawing``).
    """
    from trialkit.text import provenance_label

    if title:
        fig.suptitle(title, fontsize=11)
    label = provenance_label(synthetic)
    words = " ".join(w for w in (label + "." if label else "", note) if w)
    bottom = _caption_room(fig)  # an earlier caption's, or none
    if words:
        old = getattr(fig, "_trialkit_caption", None)
        if old is not None and old.figure is fig:  # captioned again: the newest replaces it
            old.remove()
        lines = _wrap_to_figure(fig, words, _CAPTION_PT)
        fig._trialkit_caption = fig.text(  # type: ignore[attr-defined]
            0.01,
            0.01,
            lines,
            fontsize=_CAPTION_PT,
            ha="left",
            va="bottom",
            color="firebrick" if synthetic and synthetic != "published" else "0.3",
        )
        height_pt = fig.get_figheight() * 72
        bottom = max(0.07, (lines.count("\n") + 1) * _CAPTION_PT * 1.25 / height_pt + 0.02)
    top = 0.94 if fig.get_suptitle() else 1
    fig.set_layout_engine(TightLayoutMeasuredOnce(rect=(0, bottom, 1, top)))
    use_one_draw_png()


def _caption_room(fig: Figure) -> float:
    """The share of the figure's height kept under the axes for a caption, or 0 (not laid
    out by ``caption``): the bottom of the layout's ``rect``."""
    engine = fig.get_layout_engine()
    return engine.get()["rect"][1] if isinstance(engine, TightLayoutMeasuredOnce) else 0.0


_CAPTION_PT = 8  # caption font size, points


def _wrap_to_figure(fig: Figure, words: str, size: float) -> str:
    """``words`` broken into lines that fit the figure's width at ``size`` points.

    One measurement of the whole text gives the mean width of a character; the lines are
    then broken at 95% of the width that allows (matplotlib's own ``wrap=True`` measures
    every candidate line, at every draw: a third of the drawing time of a captioned figure).
    """
    import textwrap

    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    width_pt, _, _ = text_to_path.get_text_width_height_descent(
        words, FontProperties(size=size), ismath=False
    )
    per_char = max(width_pt / max(len(words), 1), 1e-9)
    room_pt = 0.97 * fig.get_figwidth() * 72  # the caption starts at 1% of the width
    return textwrap.fill(words, width=max(20, int(0.95 * room_pt / per_char)))


# --------------------------------------------------------------------------- analysis sets, safety
_SUPPORTS = "#b8e0c8"  # light green: the conclusion holds
_FAILS = "#f6c4a8"  # light orange: it does not


def _scenario_label(row: pd.Series) -> str:
    return f"{row['x1']}/{row['n1']} vs {row['x2']}/{row['n2']}\n{row['case']}"


def scenario_grid(
    scenarios: pd.DataFrame,
    *,
    analyses: Sequence[str] | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Which conclusions survive each analysis-set scenario: a grid of scenarios (rows)
    by analyses (columns), a cell green when the interval excludes 0 or p < alpha and
    orange when not, annotated with the interval (in percentage points) or the p-value.

    ``scenarios``: the long table of ``stats.analysis_set_scenarios``; ``analyses``: the
    columns to show, in order (default: every analysis in the table, intervals first).
    Two panels side by side, intervals and tests; returns their two Axes.
    """
    need = {"scenario", "case", "x1", "n1", "x2", "n2", "analysis", "kind", "low", "high", "p"}
    missing = sorted(need - set(scenarios.columns))
    if missing:
        raise ValueError(
            f"scenarios: missing column(s) {', '.join(missing)} (stats.analysis_set_scenarios)"
        )
    order = list(analyses) if analyses is not None else list(dict.fromkeys(scenarios["analysis"]))
    heads = scenarios.drop_duplicates("scenario").sort_values("scenario")
    labels = [_scenario_label(r) for _, r in heads.iterrows()]
    kinds = {
        kind: [a for a in order if a in set(scenarios.loc[scenarios["kind"] == kind, "analysis"])]
        for kind in ("interval", "test")
    }
    widths = [max(1, len(kinds["interval"])) * 1.45, max(1, len(kinds["test"])) * 1.0]
    fig, axes = plt.subplots(
        1,
        2,
        figsize=(2.2 + sum(widths), 0.62 * len(labels) + 2.2),
        gridspec_kw={"width_ratios": widths},
        sharey=True,
    )
    cells = scenarios.set_index(["scenario", "analysis"])
    for ax, kind in zip(axes, ("interval", "test"), strict=True):
        cols = kinds[kind]
        grid = np.zeros((len(labels), len(cols)))
        for i, s in enumerate(heads["scenario"]):
            for j, a in enumerate(cols):
                c = cells.loc[(s, a)]
                grid[i, j] = float(bool(c["significant"]))
                text = (
                    f"{100 * c['low']:.1f} to\n{100 * c['high']:.1f}"
                    if kind == "interval"
                    else f"{c['p']:.4f}"
                )
                ax.text(j, i, text, ha="center", va="center", fontsize=8)
        cmap = plt.matplotlib.colors.ListedColormap([_FAILS, _SUPPORTS])
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(cols)), cols, rotation=35, ha="right", fontsize=8.5)
        ax.set_xticks(np.arange(-0.5, len(cols)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(labels)), minor=True)
        ax.grid(which="minor", color="white", lw=2)
        ax.grid(which="major", visible=False)
        ax.tick_params(which="minor", length=0)
        ax.set_title(
            "risk difference interval (percentage points)"
            if kind == "interval"
            else "two-sided p-value",
            fontsize=9.5,
        )
    axes[0].set_yticks(range(len(labels)), labels, fontsize=8.5)
    handles = [
        Patch(color=_SUPPORTS, label="excludes 0 / p < alpha"),
        Patch(color=_FAILS, label="includes 0 / p >= alpha"),
    ]
    axes[1].legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False
    )
    _caption_figure(fig, note, synthetic, title=title)
    return axes


def ae_dotplot(
    table: pd.DataFrame,
    *,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Adverse-event dot plot (Amit, Heiberger & Lane, Pharm Stat 2008;7:20-35): left, the
    percentage of patients with the event in each arm; right, the risk difference
    (percentage points, UC-MSC minus placebo) with its interval; one row per line of
    ``table``, top to bottom in table order.

    ``table``: rows of ``stats.incidence_table`` (select the lines to show first, e.g.
    preferred terms only). Returns the two Axes.
    """
    arms = [c[: -len(" %")] for c in table.columns if str(c).endswith(" %")]
    need = {"term", "RD", "RD low", "RD high"}
    missing = sorted(need - set(table.columns))
    if missing or len(arms) != 2:
        raise ValueError(
            "table: expected the columns of stats.incidence_table (term, '<arm> %' for two "
            f"arms, RD, RD low, RD high); missing {missing or 'an arm'}"
        )
    rows = table.reset_index(drop=True)
    y = np.arange(len(rows))[::-1]
    fig, axes = plt.subplots(
        1,
        2,
        figsize=(10, 0.38 * len(rows) + 2.2),
        sharey=True,
        gridspec_kw={"width_ratios": [1.1, 1]},
    )
    left, right = axes
    for arm in arms:
        left.scatter(
            rows[f"{arm} %"],
            y,
            s=40,
            label=arm,
            color=_ARM_COLOURS.get(arm, "0.3"),
            marker=_ARM_MARKERS.get(arm, "o"),
            zorder=3,
        )
    left.set_yticks(y, rows["term"], fontsize=8.5)
    left.set_xlabel("patients with the event (%)")
    left.set_xlim(left=0)
    left.legend(loc="lower right", fontsize=8, frameon=True, framealpha=0.9)
    est = 100 * rows["RD"]
    err = [est - 100 * rows["RD low"], 100 * rows["RD high"] - est]
    right.errorbar(est, y, xerr=err, fmt="o", color="0.2", capsize=3, lw=1.5, ms=5)
    right.axvline(0, color="firebrick", lw=1)
    method = table.attrs.get("method", "")
    alpha = table.attrs.get("alpha")
    level = f"{100 * (1 - alpha):g}% CI" if alpha is not None else "CI"
    right.set_xlabel(
        f"risk difference, {arms[0]} minus {arms[1]}\n(percentage points, {level}"
        + (f", {method})" if method else ")")
    )
    for ax in axes:
        ax.grid(axis="y", color="0.9")
        ax.set_ylim(-0.7, len(rows) - 0.3)
    _caption_figure(fig, note, synthetic, title=title)
    return axes


# --------------------------------------------------------------------------- power figures
_TEST_STYLE = {
    "fisher": ("Fisher exact", "#1b9e77", "-"),
    "chi2": ("chi-square", "#d95f02", "-"),
    "chi2_yates": ("chi-square, Yates", "#7570b3", "--"),
    "z": ("pooled z", "#e7298a", ":"),
    "wald": ("Wald z (unpooled)", "#66a61e", "-."),
}


def _test_label(test: str) -> tuple[str, str, str]:
    return _TEST_STYLE.get(test, (test, "0.3", "-"))


def outcome_space(
    pvalues: np.ndarray,
    p1: float,
    p2: float,
    alpha: float = 0.05,
    observed: tuple[int, int] | None = None,
    labels: tuple[str, str] = ("UC-MSC", "Placebo"),
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Every possible trial outcome (x1, x2): its probability, and where a test rejects.

    ``pvalues`` is a test's table (``stats.pvalue_table(n1, n2, test)``); the shading is
    the probability of each outcome when the true rates are ``p1`` and ``p2``; the cells
    with p < ``alpha`` are outlined (the rejection region). Power is the shaded mass
    inside the outline. Only outcomes with probability above 1e-5 are drawn.
    """
    from scipy import stats as sps

    n1, n2 = pvalues.shape[0] - 1, pvalues.shape[1] - 1
    prob = np.outer(
        sps.binom.pmf(np.arange(n1 + 1), n1, p1), sps.binom.pmf(np.arange(n2 + 1), n2, p2)
    )
    rows, cols = np.nonzero(prob > 1e-5)
    x_hi = int(min(n1, max(rows.max() + 1, (observed or (0, 0))[0] + 2)))
    y_hi = int(min(n2, max(cols.max() + 1, (observed or (0, 0))[1] + 2)))
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.6))
    shown = np.ma.masked_less(prob[: x_hi + 1, : y_hi + 1].T, 1e-5)
    mesh = ax.pcolormesh(
        np.arange(x_hi + 2) - 0.5, np.arange(y_hi + 2) - 0.5, shown, cmap="Blues", shading="flat"
    )
    ax.figure.colorbar(mesh, ax=ax, label="probability of the outcome", pad=0.02)
    reject = pvalues[: x_hi + 1, : y_hi + 1].T < alpha
    for i in range(reject.shape[1]):  # outline the rejection region cell by cell
        for j in range(reject.shape[0]):
            if not reject[j, i]:
                continue
            for di, dj, xs, ys in (
                (-1, 0, [i - 0.5, i - 0.5], [j - 0.5, j + 0.5]),
                (1, 0, [i + 0.5, i + 0.5], [j - 0.5, j + 0.5]),
                (0, -1, [i - 0.5, i + 0.5], [j - 0.5, j - 0.5]),
                (0, 1, [i - 0.5, i + 0.5], [j + 0.5, j + 0.5]),
            ):
                ii, jj = i + di, j + dj
                inside = 0 <= ii < reject.shape[1] and 0 <= jj < reject.shape[0]
                if not inside or not reject[jj, ii]:
                    ax.plot(xs, ys, color="firebrick", lw=1.4, solid_capstyle="butt")
    handles = [Line2D([], [], color="firebrick", lw=1.4, label=f"p < {alpha:g}: significant")]
    if observed is not None:
        ax.plot(*observed, marker="*", color="gold", mec="k", ms=15, ls="")
        handles.append(
            Line2D([], [], marker="*", color="gold", mec="k", ms=12, ls="",
                   label=f"observed {observed[0]}/{n1} vs {observed[1]}/{n2}")
        )  # fmt: skip
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    ax.set(
        xlim=(-0.5, x_hi + 0.5),
        ylim=(-0.5, y_hi + 0.5),
        xlabel=f"responders among {n1} {labels[0]} patients",
        ylabel=f"responders among {n2} {labels[1]}",
    )
    ax.set_title(title)
    caption(ax, note, synthetic)
    return ax


def power_map(
    grid: pd.DataFrame,
    observed: tuple[float, float] | None = None,
    levels: Sequence[float] = (0.5, 0.8, 0.9),
    labels: tuple[str, str] = ("UC-MSC", "Placebo"),
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Power over a grid of true rates (``stats.exact_power_grid``: columns p1, p2, power).

    A heatmap with contour lines at ``levels``; ``observed`` (p1, p2) is starred. Rates
    are drawn as percentages.
    """
    wide = grid.pivot(index="p2", columns="p1", values="power")
    x, y = 100 * wide.columns.to_numpy(float), 100 * wide.index.to_numpy(float)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.8))
    mesh = ax.pcolormesh(x, y, wide.to_numpy(), cmap="viridis", vmin=0, vmax=1, shading="nearest")
    ax.figure.colorbar(mesh, ax=ax, label="power", pad=0.02)
    cs = ax.contour(x, y, wide.to_numpy(), levels=list(levels), colors="white", linewidths=1.2)
    ax.clabel(cs, fmt=lambda v: f"{100 * v:g}%", fontsize=8, inline_spacing=3)
    if observed is not None:
        ax.plot(100 * observed[0], 100 * observed[1], marker="*", color="gold", mec="k", ms=15)
        ax.annotate(
            "observed rates", xy=(100 * observed[0], 100 * observed[1]), xytext=(8, 6),
            textcoords="offset points", color="white", fontsize=9, fontweight="bold",
        )  # fmt: skip
    ax.set(
        xlabel=f"true {labels[0]} responder rate (%)",
        ylabel=f"true {labels[1]} rate (%)",
    )
    ax.set_title(title)
    caption(ax, note, synthetic)
    return ax


def power_by_n(
    curve: pd.DataFrame,
    targets: Sequence[float] = (0.8, 0.9),
    marks: Mapping[str, float] | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Power against patients per arm (``stats.power_curve``: columns test, n1, power).

    One line per test (the sawtooth of exact tests), dotted lines at the ``targets``,
    and ``marks`` {label: n}: vertical ticks for sample sizes from other methods.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.4))
    for test, g in curve.groupby("test", sort=False):
        label, colour, ls = _test_label(str(test))
        ax.plot(g["n1"], g["power"], color=colour, ls=ls, lw=1.5, label=label,
                drawstyle="steps-mid")  # fmt: skip
    for t in targets:
        ax.axhline(t, color="0.35", lw=0.8, ls=":")
        ax.annotate(f"{100 * t:g}%", xy=(1, t), xycoords=("axes fraction", "data"),
                    xytext=(-3, 2), textcoords="offset points", fontsize=8, color="0.35",
                    ha="right")  # fmt: skip
    if marks:
        lo, hi = ax.get_ylim()
        for k, (label, n) in enumerate(marks.items()):
            ax.axvline(n, color="0.5", lw=0.8, ls="--")
            ax.annotate(
                f"{label}: {n:g}", xy=(n, 0.02 + 0.07 * (k % 4)),
                xycoords=("data", "axes fraction"), xytext=(3, 0), textcoords="offset points",
                fontsize=7.5, color="0.25", rotation=0,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )  # fmt: skip
    ax.set(xlabel="patients per arm", ylabel="power")
    ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.legend(frameon=True, framealpha=0.9, fontsize=8.5, loc="lower right")
    ax.set_title(title)
    caption(ax, note, synthetic)
    return ax


def size_by_rate(
    sizes: pd.DataFrame,
    alpha: float = 0.05,
    mark: float | None = None,
    mark_label: str = "",
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Exact type I error against the common rate (``stats.size_curve``: test, p, size).

    The nominal ``alpha`` is a red line: a curve above it is a test that rejects a true
    null more often than it promises. ``mark`` draws a vertical line at one rate.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    for test, g in sizes.groupby("test", sort=False):
        label, colour, ls = _test_label(str(test))
        ax.plot(100 * g["p"], g["size"], color=colour, ls=ls, lw=1.3, label=label)
    ax.axhline(alpha, color="firebrick", lw=1.2, label=f"nominal alpha = {alpha:g}")
    if mark is not None:
        ax.axvline(100 * mark, color="0.4", lw=0.9, ls="--")
        ax.annotate(
            mark_label or f"{100 * mark:.1f}%", xy=(100 * mark, 1),
            xycoords=("data", "axes fraction"), xytext=(3, -3), textcoords="offset points",
            va="top", fontsize=8, color="0.25",
        )  # fmt: skip
    ax.set(xlabel="common responder rate in both arms (%)", ylabel="probability of p < alpha")
    ax.legend(frameon=False, fontsize=8.5, ncols=2, loc="lower center")
    ax.set_title(title)
    caption(ax, note, synthetic)
    return ax


def power_by_effect(
    sim: pd.DataFrame,
    exact: pd.DataFrame | None = None,
    x: str = "effect",
    xlabel: str = "effect (1 = the published differences)",
    title: str = "",
    note: str = "",
    synthetic: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Simulated power (``studies.power_grid``) with 95% Monte Carlo intervals.

    One colour per pair of arm sizes (n1, n2); ``exact`` (same columns n1, n2, ``x``,
    power) is drawn as lines, e.g. the exact binomial power at the simulated responder
    rates. Simulated trials are synthetic: the caption says so by default.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, ((n1, n2), g) in enumerate(sim.groupby(["n1", "n2"], sort=False)):
        c = colours[k % len(colours)]
        g = g.sort_values(x)
        err = np.clip([g["power"] - g["ci_low"], g["ci_high"] - g["power"]], 0, None)
        ax.errorbar(g[x], g["power"], yerr=err, fmt="o", ms=4, color=c, capsize=2,
                    label=f"simulated, n = {n1} + {n2}")  # fmt: skip
        if exact is not None:
            e = exact[(exact["n1"] == n1) & (exact["n2"] == n2)].sort_values(x)
            ax.plot(e[x], e["power"], color=c, lw=1, alpha=0.8)
    if exact is not None:
        ax.plot([], [], color="0.3", lw=1, label="exact, two binomials at the simulated rates")
    ax.set(xlabel=xlabel, ylabel="power", ylim=(-0.02, 1.02))
    ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.legend(frameon=False, fontsize=8.5, loc="upper left")
    ax.set_title(title)
    caption(ax, note, synthetic)
    return ax


# --------------------------------------------------------------------------- design, Bayes
if TYPE_CHECKING:  # pragma: no cover
    from trialkit.stats.design import ConsortFlow


def _consort_box(ax: Axes, x: float, y: float, text: str, **kw) -> object:
    style = {"boxstyle": "square,pad=0.5", "fc": "white", "ec": "0.25", "lw": 1}
    return ax.text(x, y, text, ha="center", va="center", fontsize=9, bbox=style, **kw)


def _consort_arrow(ax: Axes, start: object, end: object) -> None:
    ax.annotate(
        "", xy=(0.5, 1), xycoords=end, xytext=(0.5, 0), textcoords=start,
        arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 1, "shrinkA": 7, "shrinkB": 7},
    )  # fmt: skip


def consort(
    adsl: pd.DataFrame | ConsortFlow,
    *,
    title: str = "",
    note: str = "",
    synthetic: bool | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A CONSORT flow diagram (Schulz et al. 2010) from an ADSL.

    ``adsl``: an ADSL DataFrame (USUBJID, ARM, RANDFL, FASFL, DCSREAS, PPSFL), or the
    ``trialkit.stats.ConsortFlow`` counted from one; every number drawn comes from
    ``trialkit.stats.consort_flow``. Boxes: randomized; allocated per arm; discontinued
    (with the reasons, most frequent first) and completed; analysed (FASFL "Y") and not
    analysed; per-protocol when ADSL has PPSFL. Screening ("assessed for eligibility")
    and the infusions received are not in ADSL and are not drawn. ``synthetic`` None:
    taken from the data (a SYNTHETIC column or ``attrs["synthetic"]``).
    """
    from trialkit.stats.design import ConsortFlow, consort_flow

    flow = adsl if isinstance(adsl, ConsortFlow) else consort_flow(adsl)
    synthetic = flow.synthetic if synthetic is None else bool(synthetic)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 7.2))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    stages = {"Enrolment": 0.9, "Allocation": 0.7, "Follow-up": 0.44, "Analysis": 0.16}
    for stage, y in stages.items():
        ax.text(
            0.015, y, stage, rotation=90, ha="center", va="center", fontsize=9,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.4", "fc": "#dbe9f6", "ec": "#9ab8d8"},
        )  # fmt: skip
    top_text = f"Randomized (n = {flow.total_randomized})"
    if flow.not_randomized:
        top_text += f"\nin ADSL but not randomized: {flow.not_randomized}"
    top = _consort_box(ax, 0.53, stages["Enrolment"], top_text, fontweight="bold")
    xs = dict(zip(flow.arms, (0.3, 0.76), strict=True))
    for arm, x in xs.items():
        alloc = _consort_box(
            ax, x, stages["Allocation"], f"Allocated to {arm}\n(n = {flow.randomized[arm]})"
        )
        _consort_arrow(ax, top, alloc)
        lines = [
            f"Completed 48 weeks (n = {flow.completed[arm]})",
            f"Discontinued (n = {flow.discontinued[arm]})",
        ]
        lines += [f"   {why}: {k}" for why, k in flow.reasons[arm].items()]
        follow = _consort_box(ax, x, stages["Follow-up"], "\n".join(lines), multialignment="left")
        _consort_arrow(ax, alloc, follow)
        lines = [
            f"Analysed, full analysis set (n = {flow.analysed[arm]})",
            f"Not analysed (n = {flow.not_analysed[arm]})",
        ]
        if flow.per_protocol is not None:
            lines.append(f"Per-protocol set (n = {flow.per_protocol[arm]})")
        done = _consort_box(ax, x, stages["Analysis"], "\n".join(lines), multialignment="left")
        _consort_arrow(ax, follow, done)
    ax.set_title(title or "CONSORT flow, counted from ADSL")
    caption(ax, note, synthetic)
    return ax


def eligibility(
    adsl: pd.DataFrame,
    baseline_hba1c: pd.Series,
    *,
    provenance: str | bool | None = None,
) -> Figure:
    """Each patient's age, BMI, diabetes duration and baseline HbA1c (one dot per
    patient, by arm) against the registry's eligibility ranges (green bands, read from
    ``data/published/facts.csv``). ``baseline_hba1c``: indexed by USUBJID."""
    from trialkit import published, schema

    by_id = adsl.set_index("USUBJID")
    panels = [
        ("age (years)", "incl_age_min", "incl_age_max", by_id["AGE"]),
        ("BMI (kg/m²)", "incl_bmi_min", "incl_bmi_max", by_id["BMI"]),
        ("diabetes duration (years)", None, "incl_diabetes_duration_max", by_id["DIABDUR"]),
        ("baseline HbA1c (%)", "incl_hba1c_min", "incl_hba1c_max", baseline_hba1c),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    for ax, (label, low_id, high_id, values) in zip(axes, panels, strict=True):
        low = published.value(low_id) if low_id else 0.0
        high = published.value(high_id)
        ax.axvspan(low, high, color="tab:green", alpha=0.12)
        arm = by_id["ARM"].reindex(values.index)
        for k, name in enumerate(schema.ARMS):
            v = values[arm == name]
            jitter = np.random.default_rng(k).uniform(-0.15, 0.15, len(v))
            ax.scatter(v, k + jitter, s=14, alpha=0.7, color=_ARM_COLOURS.get(name, "0.4"))
        ax.set_yticks(range(len(schema.ARMS)), list(schema.ARMS))
        ax.set(xlabel=label, ylim=(-0.6, len(schema.ARMS) - 0.4))
        ax.set_title(f"eligible: {low:g} to {high:g}" if low_id else f"eligible: at most {high:g}",
                     fontsize=9)  # fmt: skip
    caption(axes[-1], "Green bands: the registry's eligibility ranges. One dot per patient.",
            provenance=provenance or None)  # fmt: skip
    return fig


def imbalance(dist: pd.DataFrame, n: int, *, window: int = 14) -> Axes:
    """Bars of the exact distribution of the UC-MSC arm size under each scheme.
    ``dist``: ``trialkit.stats.imbalance_distribution`` rows with a "scheme" column."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    shown = dist[(dist["uc_msc"] - n / 2).abs() <= window]
    schemes = list(dict.fromkeys(dist["scheme"]))
    sizes = sorted(shown["uc_msc"].unique())
    width = 0.9 / len(schemes)
    for k, name in enumerate(schemes):
        mine = shown[shown["scheme"] == name].set_index("uc_msc")["probability"]
        x = np.arange(len(sizes)) + (k - (len(schemes) - 1) / 2) * width
        ax.bar(x, mine.reindex(sizes, fill_value=0).to_numpy(), width=width, label=name)
    ax.set_xticks(np.arange(len(sizes)), [str(v) for v in sizes], fontsize=8, rotation=90)
    ax.set(xlabel=f"patients allocated to UC-MSC (of {n})", ylabel="probability (exact)")
    ax.set_title(f"How the {n} patients split between the arms")
    ax.legend(title="", frameon=False)
    caption(ax, "Exact distributions (binomial; hypergeometric end of the last block).")
    return ax


def allocation_paths(
    n: int, schemes: Mapping[str, tuple[str, Sequence[int]]], *, seed: int = 0, lines: int = 15
) -> Figure:
    """The running difference UC-MSC minus placebo during recruitment, one panel per
    scheme: ``lines`` simulated allocation sequences (grey) and the exact 2.5% to 97.5%
    quantiles at every patient (band). ``schemes``: name -> (scheme, block sizes)."""
    from trialkit.stats.design import imbalance_distribution, simulate_allocation

    fig, axes = plt.subplots(1, len(schemes), figsize=(12, 3.6), sharey=True)
    upto = np.arange(1, n + 1)
    for ax, (name, (scheme, sizes)) in zip(axes, schemes.items(), strict=True):
        band = []
        for m in upto:
            d = imbalance_distribution(int(m), scheme, tuple(sizes) or 4)
            cdf = d["probability"].cumsum().to_numpy()
            diff = d["difference"].to_numpy()
            band.append((diff[np.searchsorted(cdf, 0.025)], diff[np.searchsorted(cdf, 0.975)]))
        band_ = np.array(band)
        ax.fill_between(upto, band_[:, 0], band_[:, 1], step="mid", color="tab:blue", alpha=0.2,
                        label="exact 95% range")  # fmt: skip
        paths = simulate_allocation(n, scheme, tuple(sizes) or 4, reps=lines, seed=seed)
        ax.plot(upto, (2 * paths.astype(int) - 1).cumsum(axis=1).T, color="0.3", lw=0.7,
                alpha=0.6)  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set(title=name, xlabel="patients randomized so far")
    axes[0].set_ylabel("UC-MSC minus placebo")
    axes[0].legend(loc="upper left", frameon=False, fontsize=8)
    caption(axes[-1], "Lines: simulated allocation sequences. Band: exact 2.5% to 97.5% quantiles.")
    return fig


def predictability(pred: pd.DataFrame, n: int) -> Axes:
    """Bars of the share of assignments guessed right (convergence strategy) and forced,
    per scheme. ``pred``: indexed by scheme, columns "correct" and "forced" (0-1)."""
    order = pred.sort_values("correct")
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(8, 3.4))
    bars = (("correct", 0.2, "tab:blue", "guessed right (convergence strategy)"),
            ("forced", -0.2, "tab:red", "forced (certain if the block size is known)"))  # fmt: skip
    for col, off, colour, label in bars:
        ax.barh(y + off, 100 * order[col], height=0.38, color=colour, alpha=0.8, label=label)
        for yi, v in zip(y, order[col], strict=True):
            ax.annotate(f"{100 * v:.1f}%", xy=(100 * v, yi + off), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    ax.axvline(50, color="black", ls="--", lw=1)
    ax.set_yticks(y, order.index)
    ax.set(xlabel="% of assignments", xlim=(0, 100))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.set_title("How guessable is the next assignment? (dashed: a coin toss, 50%)", pad=24)
    caption(ax, f"Exact expectations over the first {n} assignments.")
    return ax


def schedule(
    rows: Mapping[str, Sequence[float]],
    *,
    assumed: Sequence[str] = (),
    end: float = 48,
    treatment: tuple[float, float] | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """A timeline of a trial's schedule: one row per item (label -> weeks), top to bottom
    in the order given, on a week axis from 0 to ``end``. Rows named in ``assumed`` are
    drawn hollow and grey and labelled "(assumed)", so that what is published and what is
    assumed can be told apart at a glance. ``treatment`` (first, last week) shades the
    treatment period.
    """
    labels = list(rows)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.6))
    if treatment is not None:
        ax.axvspan(*treatment, color="#dbe9f6", zorder=0)
        ax.annotate(
            "treatment", xy=(sum(treatment) / 2, 1), xycoords=("data", "axes fraction"),
            xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8,
            color="#3b6ea5",
        )  # fmt: skip
    ticks = []
    for i, label in enumerate(labels):
        y = len(labels) - 1 - i
        weeks = list(rows[label])
        guess = label in assumed
        ax.hlines(y, 0, end, color="0.85", lw=1, zorder=1)
        ax.scatter(
            weeks, [y] * len(weeks), s=60, zorder=3, marker="o",
            facecolor="white" if guess else "#2b5d8a", edgecolor="0.45" if guess else "#2b5d8a",
            linewidths=1.5,
        )  # fmt: skip
        ticks.append(f"{label} (assumed)" if guess else label)
    ax.set_yticks(range(len(labels))[::-1], ticks)
    for tick, label in zip(ax.get_yticklabels(), labels, strict=True):
        tick.set_color("0.4" if label in assumed else "black")
    all_weeks = sorted({w for v in rows.values() for w in v} | {0, end})
    ax.set_xticks(all_weeks)
    ax.set_xlim(-1.5, end + 1.5)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set_xlabel("week since the first infusion")
    ax.grid(False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    handles = [
        Line2D([], [], marker="o", ls="", color="#2b5d8a", markersize=7, label="published"),
        Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="0.45",
               markersize=7, label="assumed (not published)"),
    ]  # fmt: skip
    ax.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=2, fontsize=8,
        frameon=False,
    )  # fmt: skip
    ax.set_title(title, pad=28 if title else 6)
    caption(ax, note, synthetic)
    return ax


def posterior(
    x: Sequence[float],
    posterior: Sequence[float],
    *,
    prior: Sequence[float] | None = None,
    likelihood: Sequence[float] | None = None,
    marks: Mapping[float, str] | None = None,
    xlabel: str = "",
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Prior, likelihood and posterior densities on one axis (e.g. of a risk difference).

    ``x`` is the grid, the others densities on it (``likelihood`` is drawn as given: pass
    it normalised, e.g. the posterior under flat priors). ``marks`` {value: label} draws a
    vertical line at each value and shades the posterior mass above it, labelled (e.g.
    ``{0: "P(RD > 0) = 0.985"}``); the probabilities are the caller's, not recomputed.
    """
    xv = np.asarray(x, dtype=float)
    post = np.asarray(posterior, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if prior is not None:
        ax.plot(xv, prior, color="0.45", ls="--", lw=1.6, label="prior")
    if likelihood is not None:
        ax.plot(xv, likelihood, color="tab:orange", ls=":", lw=2, label="likelihood (flat priors)")
    ax.plot(xv, post, color="tab:blue", lw=2.2, label="posterior")
    texts = []
    for k, (value, text) in enumerate(sorted((marks or {}).items())):
        above = xv >= value
        ax.fill_between(xv[above], post[above], color="tab:blue", alpha=0.15 + 0.15 * k, lw=0)
        ax.axvline(value, color="0.3", lw=0.9)
        texts.append(text)
    if texts:
        ax.text(
            0.98, 0.97, "\n".join(texts), transform=ax.transAxes, ha="right", va="top",
            fontsize=8.5, bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.8"},
        )  # fmt: skip
    ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if legend:
        ax.legend(fontsize=8, loc="upper left", frameon=False)
    ax.set_title(title, fontsize=10)
    caption(ax, note, synthetic)
    return ax


# --------------------------------------------------------------------------- over time (06)
def _mean_ci(values: pd.Series, alpha: float = 0.05) -> tuple[float, float, float, int]:
    """Mean and its t-based 1 - alpha interval (mean +- t(n-1) SD / sqrt(n)), and n."""
    from scipy import stats as sps

    v = values.dropna().to_numpy(dtype=float)
    n = len(v)
    m = float(v.mean()) if n else np.nan
    if n < 2:
        return m, np.nan, np.nan, n
    half = float(sps.t.isf(alpha / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n


def trajectories(
    data: pd.DataFrame,
    *,
    label: str,
    subject: str = "USUBJID",
    visit: str = "AVISITN",
    arm: str = "ARM",
    value: str = "AVAL",
    change: str = "CHG",
    alpha: float = 0.05,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """One outcome over time, three panels: every subject's values as a thin line
    (coloured by arm); the mean by arm and visit with its t-based 1 - alpha interval (the
    observed values, arms shifted a little sideways so the bars do not hide each other);
    the mean change from baseline likewise, with the no-change line. ``data``: long rows,
    one per subject and visit (baseline included), with ``value`` and ``change``;
    ``label``: the outcome with its unit, for the axes. Returns the 3 Axes."""
    missing = [c for c in (subject, visit, arm, value, change) if c not in data.columns]
    if missing:
        raise ValueError(f"data: missing columns {missing}")
    arms = [a for a in _ARM_COLOURS if a in set(data[arm])] or sorted(set(data[arm]))
    visits = sorted(set(data[visit]))
    span = max(visits) - min(visits) if len(visits) > 1 else 1
    shift = {a: (k - (len(arms) - 1) / 2) * 0.012 * span for k, a in enumerate(arms)}
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
    # one thin line per subject through the visits it has; subjects with the same arm and
    # the same visits are drawn by one call (the same lines, far fewer calls)
    wide = data.pivot_table(index=[arm, subject], columns=visit, values=value, aggfunc="first")
    pattern = wide.notna()
    for (a, *seen), group in wide.groupby([wide.index.get_level_values(arm), *pattern.T.values]):
        cols = [v for v, has in zip(wide.columns, seen, strict=True) if has]
        axes[0].plot(cols, group[cols].T.to_numpy(), color=_ARM_COLOURS.get(a, "0.4"), lw=0.6,
                     alpha=0.35)  # fmt: skip
    for a in arms:
        rows = data[data[arm] == a]
        for ax, col in ((axes[1], value), (axes[2], change)):
            stats = [(v, *_mean_ci(rows.loc[rows[visit] == v, col], alpha)) for v in visits]
            s = pd.DataFrame(stats, columns=["v", "m", "lo", "hi", "n"])
            x = s["v"] + shift[a]
            ax.errorbar(
                x, s["m"], yerr=[s["m"] - s["lo"], s["hi"] - s["m"]], label=a,
                marker=_ARM_MARKERS.get(a, "o"), color=_ARM_COLOURS.get(a, "0.3"), capsize=3,
                lw=1.6, ms=5,
            )  # fmt: skip
    level = f"{100 * (1 - alpha):g}%"
    axes[0].set_title("every subject", fontsize=10)
    axes[1].set_title(f"mean and {level} CI", fontsize=10)
    axes[2].set_title(f"change from baseline: mean and {level} CI", fontsize=10)
    axes[2].axhline(0, color="0.4", lw=1)
    unit = label[label.rfind("(") + 1 : label.rfind(")")] if label.endswith(")") else ""
    change_label = f"change from baseline ({unit})" if unit else "change from baseline"
    for ax, ylab in zip(axes, (label, label, change_label), strict=True):
        ax.set_xticks(visits)
        ax.set_xlabel("week" if visit == "AVISITN" else visit)
        ax.set_ylabel(ylab)
    handles = [Line2D([], [], color=_ARM_COLOURS.get(a, "0.3"), lw=2, label=a) for a in arms]
    axes[0].legend(handles=handles, fontsize=8, frameon=False, loc="best")
    axes[1].legend(fontsize=8, frameon=False, loc="best")
    _caption_figure(fig, note, synthetic, title=title)
    return axes


def differences_by_visit(
    table: pd.DataFrame,
    *,
    method: str = "method",
    visit: str = "visit",
    estimate: str = "diff",
    low: str = "low",
    high: str = "high",
    ylabel: str = "",
    title: str = "",
    note: str = "",
    synthetic: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Arm differences by visit for several methods side by side: one colour per method,
    the estimate with its interval at each visit (methods shifted sideways within a
    visit), and the no-difference line. ``table``: one row per method and visit."""
    rows = table.reset_index(drop=True)
    methods = list(dict.fromkeys(rows[method]))
    visits = list(dict.fromkeys(sorted(rows[visit])))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    # real time on the axis (weeks), methods shifted sideways within a visit
    gaps = np.diff(np.asarray(visits, dtype=float))
    span = 0.6 * (float(gaps.min()) if len(gaps) else 1.0)
    width = span / max(len(methods), 1)
    colours = plt.get_cmap("tab10")
    for k, m in enumerate(methods):
        r = rows[rows[method] == m].set_index(visit).reindex(visits)
        x = np.asarray(visits, dtype=float) - span / 2 + width * (k + 0.5)
        ax.errorbar(
            x, r[estimate], yerr=[r[estimate] - r[low], r[high] - r[estimate]], fmt="o",
            color=colours(k), capsize=3, lw=1.5, ms=5, label=m,
        )  # fmt: skip
    ax.axhline(0, color="0.4", lw=1)
    ax.set_xticks(visits, [str(v) for v in visits])
    ax.set_xlabel("visit (week; spaced in real time)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="best")
    caption(ax, note, synthetic)
    return ax


def sample_sizes(
    sizes: Mapping[str, float],
    kinds: Mapping[str, str],
    *,
    xlabel: str = "patients per arm",
    title: str = "",
    note: str = "",
    synthetic: bool | str | None = False,
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars of sample sizes (patients per arm), one per analysis (``sizes``:
    label -> n, shown rounded up), coloured by ``kinds`` (label -> a kind such as
    "yes/no" or "continuous"), with the value written at the end of each bar."""
    labels = list(sizes)
    values = [float(sizes[k]) for k in labels]
    colours = ["tab:orange", "tab:blue", "tab:green", "tab:purple", "0.5"]
    palette = dict(zip(dict.fromkeys(kinds.values()), colours, strict=False))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(labels) + 1.6))
    y = np.arange(len(labels))
    ax.barh(y, values, color=[palette[kinds[k]] for k in labels])
    for i, n in enumerate(values):
        ax.annotate(f"{np.ceil(n - 1e-9):.0f}", (n, i), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=9)  # fmt: skip
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values) * 1.15)
    ax.set(xlabel=xlabel)
    ax.set_title(title, fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in palette.values()]
    ax.legend(handles, list(palette), frameon=False, fontsize=8, loc="lower right")
    caption(ax, note, synthetic)
    return ax


def ancova_lines(
    week: pd.DataFrame,
    arms: Sequence[str],
    *,
    xlabel: str = "baseline",
    ylabel: str = "change from baseline",
    title: str = "",
    note: str = "",
    synthetic: bool | str | None = False,
    ax: Axes | None = None,
) -> float:
    """Change against baseline, one colour per arm (``week``: one row per patient with
    ARM, BASE, CHG), with the ANCOVA fit drawn: parallel lines with the common
    within-arm slope, whose vertical distance is the adjusted difference. ``title`` may
    contain ``{slope}``. Returns the slope."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    centred = week.groupby("ARM")[["BASE", "CHG"]].transform(lambda c: c - c.mean())
    slope = float(np.polyfit(centred["BASE"], centred["CHG"], 1)[0])
    grid = np.linspace(week["BASE"].min(), week["BASE"].max(), 20)
    for arm, colour in zip(arms, ("#7570b3", "#d95f02"), strict=False):
        w = week[week["ARM"] == arm]
        ax.scatter(w["BASE"], w["CHG"], color=colour, alpha=0.7, label=arm, s=22)
        ax.plot(grid, w["CHG"].mean() + slope * (grid - w["BASE"].mean()), color=colour, lw=2)
    ax.axhline(0, color="0.4", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title.format(slope=slope), fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    caption(ax, note, synthetic)
    return slope


def correlation_maps(
    matrices: Mapping[str, pd.DataFrame],
    *,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Correlation matrices over visits side by side (one heatmap per entry of
    ``matrices``, titled by its key), values written in the cells, one colour scale for
    all (from a tenth below the smallest correlation to 1), so that what each
    model assumes can be compared at a glance. Returns the Axes."""
    k = len(matrices)
    if k == 0:
        raise ValueError("matrices: give at least one matrix")
    finite = np.concatenate([m.to_numpy(dtype=float).ravel() for m in matrices.values()])
    finite = finite[np.isfinite(finite)]
    smallest = float(finite.min()) if len(finite) else 0.0
    vmin = max(-1.0, np.floor(10 * smallest) / 10 - 0.1)
    mid = (vmin + 1) / 2
    fig, axes = plt.subplots(1, k, figsize=(3.9 * k + 0.8, 3.9), squeeze=False)
    image = None
    for ax, (name, m) in zip(axes[0], matrices.items(), strict=True):
        values = m.to_numpy(dtype=float)
        image = ax.imshow(values, vmin=vmin, vmax=1, cmap="viridis")
        ax.grid(False)
        labels = [str(v) for v in m.columns]
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(
                        j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if values[i, j] < mid else "black",
                    )  # fmt: skip
        ax.set_title(name, fontsize=9.5)
        ax.set_xlabel("visit (week)", fontsize=8.5)
    axes[0, 0].set_ylabel("visit (week)", fontsize=8.5)
    # the colour bar inside the last map's layout box, so the figure's layout makes room
    scale = axes[0, -1].inset_axes((1.06, 0.1, 0.05, 0.8))
    fig.colorbar(image, cax=scale, label="correlation")
    _caption_figure(fig, note, synthetic, title=title)
    return axes[0]


# --------------------------------------------------------------------------- missing data
_MECHANISM_COLOURS = {"MCAR": "#1b9e77", "MAR": "#7570b3", "MNAR": "#d95f02"}


def missing_pattern(
    wide: pd.DataFrame,
    *,
    arm_col: str = "ARM",
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Who is missing when: one panel per arm, one row per patient (sorted by the last
    visit with a value), one column per visit; a cell is coloured (the arm's colour) when
    the value is there and light grey when it is missing. Above each column, the number
    of patients with a value. ``wide``: ``stats.visits_wide`` (``arm_col`` then the
    visits). Returns the Axes, one per arm."""
    if arm_col not in wide.columns:
        raise ValueError(f"wide: no arm column {arm_col!r}")
    visits = [c for c in wide.columns if c != arm_col]
    arms = [a for a in _ARM_COLOURS if a in set(wide[arm_col])] or sorted(set(wide[arm_col]))
    sizes = [int((wide[arm_col] == a).sum()) for a in arms]
    fig, axes = plt.subplots(
        1, len(arms), figsize=(3.4 * len(arms) + 1.2, 0.045 * max(sizes) + 2.4), squeeze=False
    )
    axes = axes[0]
    for ax, arm in zip(axes, arms, strict=True):
        obs = wide.loc[wide[arm_col] == arm, visits].notna().to_numpy()
        order = np.lexsort((np.arange(len(obs)), -obs.sum(axis=1)))
        obs = obs[order]
        colour = plt.matplotlib.colors.to_rgb(_ARM_COLOURS.get(arm, "0.4"))
        img = np.where(obs[..., None], np.array(colour), np.array([0.9, 0.9, 0.9]))
        ax.imshow(img, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(visits)), [str(v) for v in visits])
        ax.set_yticks([])
        ax.set_xlabel("week")
        ax.grid(False)
        for j, k in enumerate(obs.sum(axis=0)):
            ax.text(j, -1.2, str(int(k)), ha="center", va="bottom", fontsize=8)
        ax.set_title(
            f"{arm}: {int(obs[:, -1].sum())} of {len(obs)} with week {visits[-1]}",
            fontsize=10,
            pad=16,
        )
        ax.set_ylabel(f"{len(obs)} patients, sorted by the last visit with a value", fontsize=8)
    handles = [Patch(color="0.9", label="missing")] + [
        Patch(color=_ARM_COLOURS.get(a, "0.4"), label=f"observed ({a})") for a in arms
    ]
    axes[-1].legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False
    )
    _caption_figure(fig, note, synthetic, title=title)
    return axes


def _tipping_table(grid: pd.DataFrame) -> pd.DataFrame:
    table = grid.table if hasattr(grid, "table") else grid
    need = {"k1", "k2", "x1", "n1", "x2", "n2", "rd", "p", "significant", "changed"}
    missing = sorted(need - set(table.columns))
    if missing:
        raise ValueError(
            f"grid: missing column(s) {', '.join(missing)} (stats.responder_tipping_point)"
        )
    return table


def tipping_point(
    grid: pd.DataFrame,
    *,
    arms: tuple[str, str] = ("UC-MSC", "placebo"),
    alpha: float = 0.05,
    annotate: bool | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> Axes:
    """Tipping-point grid of a binary endpoint with missing outcomes.

    ``grid``: ``stats.responder_tipping_point(...)`` or its ``table``. Rows: how many of
    the missing treated patients were responders (k1, upwards); columns: how many of the
    missing controls were (k2). Colour: the p-value of the completed table (log scale;
    greens below ``alpha``, oranges above); a thick black line separates the cells whose
    conclusion differs from the complete-case analysis from the others (the tipping
    point); a dotted frame marks non-responder imputation, cell (0, 0). Cells are
    annotated with p and the risk difference (percentage points) when ``annotate`` (by
    default when the grid has at most 64 cells). Returns the Axes.
    """
    t = _tipping_table(grid)
    p = t.pivot(index="k1", columns="k2", values="p")
    rd = t.pivot(index="k1", columns="k2", values="rd")
    changed = t.pivot(index="k1", columns="k2", values="changed").astype(bool).to_numpy()
    m1, m2 = p.shape[0] - 1, p.shape[1] - 1
    annotate = p.size <= 64 if annotate is None else annotate
    cell = 0.95 if annotate else 0.42
    fig, ax = plt.subplots(
        figsize=(max(cell * (m2 + 1) + 4.2, 6.5), max(cell * (m1 + 1) + 2.6, 4.0))
    )
    lo, hi = 1e-3, 1.0
    norm = plt.matplotlib.colors.TwoSlopeNorm(
        vcenter=np.log10(alpha), vmin=np.log10(lo), vmax=np.log10(hi)
    )
    img = np.log10(np.clip(p.to_numpy(dtype=float), lo, hi))
    cmap = plt.matplotlib.colors.LinearSegmentedColormap.from_list(
        "tipping", ["#1b7837", "#d9f0d3", "#f7f7f7", "#fdb863", "#b35806"]
    )
    im = ax.imshow(img, cmap=cmap, norm=norm, origin="lower", aspect="equal")
    if annotate:
        for k1 in range(m1 + 1):
            for k2 in range(m2 + 1):
                v = p.iat[k1, k2]
                ax.text(
                    k2, k1, f"p {v:.3f}\nRD {100 * rd.iat[k1, k2]:.1f}", ha="center",
                    va="center", fontsize=7.5,
                    color="white" if abs(np.log10(max(v, lo)) - np.log10(alpha)) > 1.2 else "black",
                )  # fmt: skip
    for k1 in range(m1 + 1):  # the boundary between changed and unchanged cells
        for k2 in range(m2 + 1):
            if k2 < m2 and changed[k1, k2] != changed[k1, k2 + 1]:
                ax.plot([k2 + 0.5, k2 + 0.5], [k1 - 0.5, k1 + 0.5], color="black", lw=2.6)
            if k1 < m1 and changed[k1, k2] != changed[k1 + 1, k2]:
                ax.plot([k2 - 0.5, k2 + 0.5], [k1 + 0.5, k1 + 0.5], color="black", lw=2.6)
    for ec, lw, ls in (("white", 3.0, "-"), ("black", 1.4, ":")):  # visible on any colour
        ax.add_patch(Rectangle((-0.42, -0.42), 0.84, 0.84, fill=False, ec=ec, lw=lw, ls=ls))
    step = max(1, (max(m1, m2) + 1) // 8)
    ax.set_xticks(range(0, m2 + 1, step))
    ax.set_yticks(range(0, m1 + 1, step))
    ax.grid(False)
    ax.set_xlabel(f"{arms[1]} responders among the {m2} missing")
    ax.set_ylabel(f"{arms[0]} responders\namong the {m1} missing")
    first = t.iloc[0]
    observed = (
        f"observed {int(first['x1'])}/{int(first['n1']) - m1} vs "
        f"{int(first['x2'])}/{int(first['n2']) - m2}"
    )
    ax.set_title(title or observed, fontsize=10)
    bar = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.03)
    ticks = [v for v in (0.001, 0.01, alpha, 0.2, 1.0) if lo <= v <= hi]
    bar.set_ticks(np.log10(ticks), labels=[f"{v:g}" for v in ticks])
    bar.set_label("p, completed table")
    handles = [
        Line2D([], [], color="black", lw=2.6, label="conclusion changes"),
        Patch(fill=False, ec="0.15", ls=":", label="non-responder imputation"),
    ]
    below = 0.62 / (cell * (m1 + 1))  # 0.62 inch under the axes, clear of the x label
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -below), ncols=2,
        fontsize=8, frameon=False,
    )  # fmt: skip
    caption(ax, note, synthetic)
    return ax


def delta_tipping(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    tipping_delta: float | None | Mapping[str, float | None] = None,
    alpha: float = 0.05,
    ylabel: str = "difference",
    xlabel: str = "delta",
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """The conclusion of delta-adjusted analyses over their grid of deltas: above, the
    estimate with its confidence interval (band) and the line of no difference; below,
    the p-value (log scale) and ``alpha``. Filled markers: significant; open markers: not.
    A dotted vertical line marks each tipping delta.

    ``tables``: ``stats.delta_adjusted(...).table`` (delta, estimate, low, high, p,
    significant), or several as {label: table} (one colour each); ``tipping_delta``: a
    number, or {label: number or None}. Returns the two Axes."""
    named = {"": tables} if isinstance(tables, pd.DataFrame) else dict(tables)
    tips = (
        dict(tipping_delta)
        if isinstance(tipping_delta, Mapping)
        else {k: tipping_delta for k in named}
    )
    need = {"delta", "estimate", "low", "high", "p", "significant"}
    for label, table in named.items():
        missing = sorted(need - set(table.columns))
        if missing:
            raise ValueError(
                f"tables[{label!r}]: missing column(s) {', '.join(missing)} (stats.delta_adjusted)"
            )
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.5, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    handles = []
    for k, (label, table) in enumerate(named.items()):
        t = table.sort_values("delta")
        colour = f"C{k}" if label else "0.3"
        sig = t["significant"].to_numpy(bool)
        top.fill_between(t["delta"], t["low"], t["high"], color=colour, alpha=0.15, lw=0)
        for ax, col in ((top, "estimate"), (bottom, "p")):
            ax.plot(t["delta"], t[col], color=colour, lw=1.3)
            ax.scatter(t["delta"][sig], t[col][sig], color=colour, s=26, zorder=3)
            ax.scatter(
                t["delta"][~sig], t[col][~sig], facecolor="white", edgecolor=colour, s=26,
                zorder=3,
            )  # fmt: skip
        tip = tips.get(label)
        if tip is not None:
            for ax in (top, bottom):
                ax.axvline(tip, color=colour, ls=":", lw=1.3)
            top.annotate(
                f"tips at {tip:.2f}", xy=(tip, 0), xytext=(4, 6 + 14 * k),
                textcoords="offset points", fontsize=8.5, color=colour,
            )  # fmt: skip
        if label:
            handles.append(Line2D([], [], color=colour, marker="o", label=label))
    top.axhline(0, color="black", lw=0.9)
    top.set_ylabel(ylabel)
    bottom.axhline(alpha, color="firebrick", ls="--", lw=1)
    bottom.annotate(
        f"alpha = {alpha:g}", xy=(0, alpha), xycoords=("axes fraction", "data"),
        xytext=(4, 3), textcoords="offset points", ha="left", fontsize=8, color="firebrick",
    )  # fmt: skip
    bottom.set_yscale("log")
    bottom.set_ylabel("two-sided p")
    bottom.set_xlabel(xlabel)
    handles += [
        Line2D([], [], marker="o", ls="", color="0.3", label="significant"),
        Line2D([], [], marker="o", ls="", mfc="white", color="0.3", label="not significant"),
        Patch(color="0.3", alpha=0.15, label="confidence interval"),
    ]
    top.legend(
        handles=handles, fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0),
        ncols=min(len(handles), 3),
    )  # fmt: skip
    _caption_figure(fig, note, synthetic, title=title)
    return np.array([top, bottom])


def missing_simulation(
    summary: pd.DataFrame,
    *,
    nominal: float = 0.95,
    units: Mapping[str, str] | None = None,
    title: str = "",
    note: str = "",
    synthetic: bool = False,
) -> np.ndarray:
    """Bias and coverage of each method under each dropout mechanism: a column per
    endpoint, the bias above (with +-2 Monte Carlo SEs; 0 is unbiased) and the coverage
    of the confidence intervals below (with +-2 MC SEs; the dashed line is ``nominal``).
    Methods on the vertical axis, mechanisms in colour. ``summary``:
    ``stats.dropout_simulation(...).summary``; ``units`` {endpoint: unit of the bias}.
    Returns a 2 x (endpoints) array of Axes."""
    need = {"endpoint", "method", "mechanism", "bias", "bias_mc_se", "coverage", "coverage_mc_se"}
    missing = sorted(need - set(summary.columns))
    if missing:
        raise ValueError(
            f"summary: missing column(s) {', '.join(missing)} (stats.dropout_simulation)"
        )
    endpoints = list(dict.fromkeys(summary["endpoint"]))
    mechs = list(dict.fromkeys(summary["mechanism"]))
    n_methods = [summary.loc[summary["endpoint"] == e, "method"].nunique() for e in endpoints]
    fig, axes = plt.subplots(
        2,
        len(endpoints),
        figsize=(5.6 * len(endpoints) + 1.5, 1.0 * max(n_methods) * 2 + 2.6),
        squeeze=False,
    )
    width = 0.8 / len(mechs)
    for j, endpoint in enumerate(endpoints):
        s = summary[summary["endpoint"] == endpoint]
        methods = list(dict.fromkeys(s["method"]))
        y0 = np.arange(len(methods))[::-1]
        for k, mech in enumerate(mechs):
            r = s[s["mechanism"] == mech].set_index("method").reindex(methods)
            y = y0 + (len(mechs) / 2 - k - 0.5) * width
            colour = _MECHANISM_COLOURS.get(mech, f"C{k}")
            bias, cov = r["bias"].to_numpy(float), r["coverage"].to_numpy(float)
            axes[0, j].errorbar(
                bias, y, xerr=2 * r["bias_mc_se"], fmt="o", color=colour, ms=5, capsize=2,
                label=mech,
            )  # fmt: skip
            half = 2 * r["coverage_mc_se"].to_numpy(float)  # clipped to [0, 1]
            err = np.vstack([np.minimum(half, cov), np.minimum(half, 1 - cov)])
            axes[1, j].errorbar(
                cov, y, xerr=err, fmt="o", color=colour, ms=5, capsize=2, label=mech
            )
        unit = (units or {}).get(endpoint, "")
        axes[0, j].axvline(0, color="black", lw=0.9)
        axes[0, j].set_xlabel(f"bias{f' ({unit})' if unit else ''}")
        axes[1, j].axvline(nominal, color="black", lw=0.9, ls="--")
        axes[1, j].set_xlabel("coverage of the confidence interval")
        axes[0, j].set_title(endpoint, fontsize=10.5)
        for row in range(2):
            axes[row, j].set_yticks(y0, methods)
            axes[row, j].set_ylim(-0.6, len(methods) - 0.4)
    axes[0, -1].legend(
        title="dropout", loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False
    )
    _caption_figure(fig, note, synthetic, title=title)
    return axes


# ------------------------------------------------------------------- Bayesian re-analysis (10)
_READER_COLOURS = {"sceptical": "tab:red", "neutral": "0.3", "enthusiastic": "tab:green"}


def posterior_panels(
    results: Mapping[str, Any], relevant: float, note: str = "", provenance: str | None = None
) -> Figure:
    """One panel per reader: prior, likelihood (flat priors) and posterior of the risk
    difference, with P(RD > 0) and P(RD > ``relevant``) shaded and labelled.
    ``results``: reader -> ``stats.RiskDifferencePosterior`` (same counts)."""
    from trialkit import stats

    rs = list(results.values())
    lo = min(stats.difference_quantile(r.posterior1, r.posterior2, 0.0005) for r in rs)
    hi = max(stats.difference_quantile(r.posterior1, r.posterior2, 0.9995) for r in rs)
    grid = np.linspace(min(lo, -0.1) - 0.1, hi + 0.1, 401)
    flat = stats.Beta(1, 1)
    first = rs[0]
    lik = stats.difference_pdf(
        flat.updated(first.x1, first.n1), flat.updated(first.x2, first.n2), grid
    )
    fig, axes = plt.subplots(1, len(rs), figsize=(4.4 * len(rs), 4.2), sharey=True)
    for k, (ax, (name, r)) in enumerate(zip(np.atleast_1d(axes), results.items(), strict=True)):
        posterior(
            grid, stats.difference_pdf(r.posterior1, r.posterior2, grid),
            prior=stats.difference_pdf(r.prior1, r.prior2, grid), likelihood=lik,
            marks={0: f"P(RD > 0) = {r.p_benefit:.3f}",
                   relevant: f"P(RD > {relevant:g}) = {r.p_relevant:.3f}"},
            xlabel="risk difference, UC-MSC minus placebo", title=f"{name} prior",
            legend=k == 0, ax=ax,
        )  # fmt: skip
    _caption_figure(fig, note, provenance)
    return fig


def prior_predictive(
    priors: Mapping[str, tuple[Any, Any]], observed: Sequence[float] = ()
) -> Figure:
    """What each reader's prior expects of each arm's response rate, before the trial:
    the two arms' prior densities per reader (UC-MSC solid, placebo dashed), with the
    observed rates (``observed``: UC-MSC, placebo) as ticks for comparison afterwards."""
    p = np.linspace(0.0005, 0.9995, 600)
    fig, axes = plt.subplots(1, len(priors), figsize=(4.4 * len(priors), 3.6), sharey=False)
    for ax, (name, (p1, p2)) in zip(np.atleast_1d(axes), priors.items(), strict=True):
        colour = _READER_COLOURS.get(name, "tab:blue")
        same = (p1.a, p1.b) == (p2.a, p2.b)
        ax.plot(
            100 * p, p1.dist.pdf(p), color=colour, lw=2, label="both arms" if same else "UC-MSC"
        )
        if not same:
            ax.plot(100 * p, p2.dist.pdf(p), color=colour, lw=2, ls="--", label="placebo")
        for rate, style in zip(observed, ("-", "--"), strict=False):
            ax.axvline(100 * rate, color="0.5", lw=1, ls=style)
        upper = max(p1.dist.ppf(0.999), p2.dist.ppf(0.999), *observed, 0.3)
        ax.set(
            xlim=(0, min(100, 100 * upper + 5)), xlabel="response rate (%)", title=f"{name} prior"
        )
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, frameon=False)
    np.atleast_1d(axes)[0].set_ylabel("prior density")
    _caption_figure(
        fig, "Grey lines: the rates observed in the trial (solid UC-MSC, dashed placebo).", None
    )
    return fig


def scenario_probabilities(
    sets: pd.DataFrame, relevant: float, note: str = "", provenance: str | None = None
) -> Figure:
    """P(RD > 0) and P(RD > ``relevant``) per reader (colour) for every case of
    ``stats.analysis_set_posteriors`` (rows)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.55 * sets["case"].nunique() + 1.9), sharey=True)
    cases = list(dict.fromkeys(sets["case"]))
    for ax, col, label in zip(
        axes, ("p_benefit", "p_relevant"), ("P(RD > 0)", f"P(RD > {relevant:g})"), strict=True
    ):
        for k, (name, rows) in enumerate(sets.groupby("prior", sort=False)):
            y = [len(cases) - 1 - cases.index(c) + 0.15 * (k - 1) for c in rows["case"]]
            ax.scatter(rows[col], y, color=_READER_COLOURS.get(name, "tab:blue"), label=name, s=28)
        ax.set(xlabel=label, xlim=(0, 1.02))
    axes[0].set_yticks(range(len(cases)), cases[::-1], fontsize=8)
    axes[0].set_xlim(min(0.5, float(sets["p_benefit"].min()) - 0.05), 1.01)
    axes[1].legend(frameon=False, fontsize=8, loc="lower left")
    _caption_figure(fig, note, provenance)
    return fig


def hba1c_readings(
    members: pd.DataFrame, reading_b: tuple[float, float], relevant: float, provenance: str | None
) -> Figure:
    """Posteriors of the difference in mean HbA1c change (negative favours UC-MSC): one
    thin line per reconstruction (``members`` with columns mean, sd), and the posterior
    from the printed decreases and p-value (``reading_b`` = (mean, sd)), thick."""
    fig, ax = plt.subplots(figsize=(8, 4))
    lo = min(float(members["mean"].min()), reading_b[0]) - 4 * max(
        float(members["sd"].max()), reading_b[1]
    )
    d = np.linspace(lo, 0.3, 400)
    shown = members.head(60)  # one line per member, all drawn by one call
    curves = _normal_pdf(d[:, None], shown["mean"].to_numpy(), shown["sd"].to_numpy())
    ax.plot(d, curves, color="tab:blue", alpha=0.2, lw=1)
    ax.plot(
        [],
        [],
        color="tab:blue",
        alpha=0.5,
        lw=1,
        label="printed means, one line per reconstruction",
    )
    ax.plot(
        d, _normal_pdf(d, *reading_b), color="tab:purple", lw=2.5, label="printed decreases and p"
    )
    ax.axvline(
        -relevant, color="firebrick", ls="--", lw=1, label=f"relevant difference ({-relevant:g})"
    )
    ax.axvline(0, color="0.3", lw=1)
    ax.set(xlabel="difference in mean HbA1c change at week 48 (%-points), UC-MSC minus placebo",
           ylabel="posterior density (flat prior)")  # fmt: skip
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    caption(ax, "Two readings of the same abstract.", provenance=provenance)
    return fig


def _normal_pdf(x: Any, mean: float, sd: float) -> Any:
    return np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))


def weight_curve(
    by_weight: pd.DataFrame, chosen: float, note: str = "", provenance: str | None = None
) -> Axes:
    """P(OR > 1) and P(relevant benefit) against the weight given to outside evidence
    (``by_weight`` with columns w, p_benefit, p_relevant)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(
        by_weight["w"],
        by_weight["p_benefit"],
        color="tab:blue",
        marker="o",
        ms=3,
        label="P(benefit)",
    )
    ax.plot(by_weight["w"], by_weight["p_relevant"], color="tab:green", marker="o", ms=3,
            label="P(relevant benefit)")  # fmt: skip
    ax.axvline(chosen, color="0.3", ls=":", lw=1)
    ax.set(xlabel="weight of the outside trial's effect (0: ignored, 1: counted in full)",
           ylabel="posterior probability", ylim=(0, 1.02))  # fmt: skip
    ax.legend(frameon=False, loc="lower right")
    caption(ax, note, provenance=provenance)
    return ax


def infusion_events(
    by_infusion: pd.DataFrame,
    timed: pd.DataFrame,
    *,
    title: str = "",
    note: str = "",
    synthetic: bool | str | None = False,
) -> np.ndarray:
    """Adverse events by infusion: left, the share of patients with an event in the
    period after each infusion, by arm (``stats.infusion_table``: INFNUM, ARM, %); right,
    the events of those periods by day since the infusion (``stats.add_infusion_period``:
    APERIODN, AINFDY), stacked by relatedness (AREL). Returns the two Axes."""
    import seaborn as sns

    periods = sorted(set(by_infusion["INFNUM"]))
    early = timed[timed["APERIODN"].isin(periods)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.5]})
    sns.barplot(by_infusion, x="INFNUM", y="%", hue="ARM", ax=axes[0], palette=_ARM_COLOURS)
    axes[0].set(xlabel="infusion", ylabel="patients with >= 1 event in the period (%)")
    axes[0].legend(frameon=False, title=None)
    rel = {"RELATED": "firebrick", "NOT RELATED": "0.7"}
    sns.histplot(
        early, x="AINFDY", hue="AREL", multiple="stack", discrete=True, ax=axes[1],
        hue_order=[k for k in rel if k in set(early["AREL"])], palette=rel,
    )  # fmt: skip
    axes[1].set(xlabel="days since the infusion (0 = infusion day)", ylabel="events")
    axes[1].yaxis.get_major_locator().set_params(integer=True)
    if axes[1].get_legend() is not None:
        axes[1].get_legend().set_title(None)
    _caption_figure(fig, note, synthetic, title=title)
    return axes
