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

__all__ = ["table"]


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
