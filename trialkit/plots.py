"""Figures. The only module of trialkit that draws.

Every function returns the matplotlib ``Axes`` it drew on (pass ``ax=`` to draw into an
existing one) and takes ``synthetic``: when True the figure carries a visible
"SYNTHETIC DATA" caption, so a figure made from synthetic patients can never be mistaken
for the trial's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["SYNTHETIC_CAPTION", "caption", "forest"]

SYNTHETIC_CAPTION = "SYNTHETIC DATA: simulated patients, not the trial's"


def caption(ax: Axes, text: str = "", synthetic: bool = False) -> Axes:
    """Write a caption under the figure; with ``synthetic`` it starts with the warning.

    The figure's layout is tightened to leave room for it, so it never overlaps the axes.
    """
    words = " ".join(w for w in (SYNTHETIC_CAPTION + "." if synthetic else "", text) if w)
    fig = ax.figure
    if words:
        fig.text(
            0.01, 0.01, words, fontsize=8, ha="left", va="bottom", wrap=True,
            color="firebrick" if synthetic else "0.3",
        )  # fmt: skip
    fig.tight_layout(rect=(0, 0.07 if words else 0, 1, 1))
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
) -> Axes:
    """A forest plot: one row per line of ``table`` with its estimate and interval.

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
            f"{r[low]:.4f} to {r[high]:.4f}", xy=(1.01, yi), xycoords=("axes fraction", "data"),
            va="center", fontsize=8,
        )  # fmt: skip
    ax.set_yticks(y, rows[label])
    ax.set_xlabel(xlabel)
    ax.set_title(title, pad=14 if reference is not None else 6)
    ax.margins(x=0.1, y=0.15)
    caption(ax, note, synthetic)
    return ax
