"""Words that follow the numbers: one formatter for prose and tables, and Markdown
written from a run's results.

A notebook's prose that depends on parameters or data is written by :func:`say` from the
values the run computed, so it can never go stale; fixed facts (what the paper printed,
definitions, citations) stay in ordinary Markdown cells. ``say`` works the same in
JupyterLab, in the executed notebook papermill writes, and on the site: it displays
Markdown. Its template is kept in the output's metadata, so the tests can check that no
number was typed into the literal part of a sentence (``tests/prose_numbers.py``).

Number formats, used everywhere (tables too, through :func:`formatter`):

========================  ==========================================================
``p_value(0.0496)``       ``"0.0496"``; ``"< 0.001"`` below 0.001; never rounded across
                          0.05, 0.01 or 0.001 (0.04996 prints as ``"0.04996"``)
``pct(0.2)``              ``"20.0%"`` (a proportion shown as a percentage)
``pp(0.155)``             ``"15.5"`` (a difference of proportions in percentage points)
``share(9, 45)``          ``"9/45 (20.0%)"``
``ci(0.02, 0.29, pct)``   ``"2.2% to 28.7%"``
``num(50.0)``             ``"50"``; ``num(2.345)`` ``"2.35"`` (3 significant digits)
========================  ==========================================================

Provenance (:data:`PROVENANCE`) is one of ``"published"`` (from the paper),
``"reconstructed"`` (synthetic patients built to match the paper), ``"simulated"``
(draws from the trial model), or ``None`` (the analyst's own data).
"""

from __future__ import annotations

import html
import inspect
import math
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import numpy as np

__all__ = [
    "PROVENANCE",
    "answer",
    "ci",
    "fill",
    "formatter",
    "listing",
    "md_escape",
    "num",
    "p_value",
    "plural",
    "pct",
    "pp",
    "prob",
    "provenance_label",
    "provenance_of",
    "say",
    "share",
    "warning_note",
]

MIME_META: Final = "trialkit"

#: The provenance kinds and the words that say them on a page.
PROVENANCE: Final[dict[str, str]] = {
    "published": "PUBLISHED: numbers printed in the paper",
    "reconstructed": "RECONSTRUCTED: synthetic patients built to match the published summaries, "
    "not the trial's patients",
    "simulated": "SIMULATED: patients drawn from the trial model, not the trial's patients",
}

_THRESHOLDS: Final = (0.1, 0.05, 0.01, 0.001)


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def p_value(p: float | None, floor: float = 0.001) -> str:
    """A p-value as a reader should see it: 3 significant digits, ``"< 0.001"`` below
    ``floor``, and never rounded across 0.1, 0.05, 0.01 or 0.001 (so 0.0496 is "0.0496",
    never "0.05"). Missing values give "–"."""
    if _missing(p):
        return "–"
    p = float(p)
    if p < floor:
        return f"< {floor:g}"
    if p >= 0.995:
        return "1.00"
    if p >= 0.1:
        return f"{p:.2f}"
    digits = 3
    while True:
        shown = f"{p:.{digits}g}"
        if digits >= 8 or all((p < t) == (float(shown) < t) for t in _THRESHOLDS):
            return shown
        digits += 1


def pct(x: float | None, digits: int = 1) -> str:
    """A proportion (0-1) as a percentage: ``pct(0.2) == "20.0%"``."""
    if _missing(x):
        return "–"
    return f"{100 * float(x):.{digits}f}%"


def pp(x: float | None, digits: int = 1) -> str:
    """A difference of proportions (0-1 scale) in percentage points, without the unit:
    ``pp(0.155) == "15.5"``; write "percentage points" after it."""
    if _missing(x):
        return "–"
    return f"{100 * float(x):.{digits}f}"


def prob(x: float | None, digits: int = 2) -> str:
    """A probability to ``digits`` decimals, never rounded to a certainty: ``prob(0.4321)
    == "0.43"``, ``prob(0.9999997) == "above 0.99"``, ``prob(2e-7) == "below 0.01"``."""
    if _missing(x):
        return "–"
    step = 10.0**-digits
    if float(x) >= 1 - step / 2:
        return f"above {1 - step:.{digits}f}"
    if float(x) < step / 2:
        return f"below {step:.{digits}f}"
    return f"{float(x):.{digits}f}"


def num(x: float | int | None, digits: int = 3) -> str:
    """A number for prose: integers (and integral floats) without decimals, others to
    ``digits`` significant digits (at least 2 decimals for values below 10)."""
    if _missing(x):
        return "–"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}".replace(",", " ") if abs(int(x)) >= 10000 else str(int(x))
    v = float(x)
    if math.isinf(v):
        return "infinity" if v > 0 else "minus infinity"
    if v == round(v) and abs(v) < 1e15:
        return num(int(round(v)))
    shown = f"{v:.{digits}g}"
    if "e" in shown:
        shown = f"{v:.{max(digits, 2)}f}" if abs(v) >= 1 else f"{v:.2g}"
    return shown


def share(x: int, n: int, digits: int = 1) -> str:
    """``"9/45 (20.0%)"``; ``"0/0"`` when nobody was counted."""
    if not n:
        return f"{x}/{n}"
    return f"{x}/{n} ({pct(x / n, digits)})"


def ci(low: float, high: float, kind: str = "num", digits: int = 1, sep: str = " to ") -> str:
    """An interval: ``kind`` "pct" (proportions shown as %), "pp" (percentage points),
    or "num" (``num`` with ``digits`` + 2 significant digits)."""
    if kind == "pct":
        return f"{pct(low, digits)}{sep}{pct(high, digits)}"
    if kind == "pp":
        return f"{pp(low, digits)}{sep}{pp(high, digits)} percentage points"
    return f"{num(low, digits + 2)}{sep}{num(high, digits + 2)}"


def listing(items: Iterable[Any], last: str = "and") -> str:
    """``["a", "b", "c"]`` -> "a, b and c"; one item as is; none as "none"."""
    words = [str(i) for i in items]
    if not words:
        return "none"
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``plural(1, "patient") == "1 patient"``, ``plural(3, "patient") == "3 patients"``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


_SPECS: Final[dict[str, Callable[[Any], str]]] = {
    "p": p_value,
    "pct": pct,
    "pct0": lambda x: pct(x, 0),
    "pct2": lambda x: pct(x, 2),
    "pp": pp,
    "pp2": lambda x: pp(x, 2),
    "prob": prob,
    "num": num,
    "n": num,
}


def formatter(spec: str) -> Callable[[Any], str]:
    """The formatter for a spec ("p", "pct", "pp", "num", ...) or a Python format spec;
    usable as a pandas Styler formatter."""
    if spec in _SPECS:
        return _SPECS[spec]
    return lambda x: "–" if _missing(x) else format(x, spec)


class _Fields(string.Formatter):
    """``str.format`` whose fields are Python expressions evaluated in a namespace."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        try:
            value = eval(field_name, {}, dict(self.namespace))  # the notebook's own text
        except Exception as e:
            raise ValueError(f"say: cannot evaluate {{{field_name}}}: {e}") from e
        return value, field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec in _SPECS:
            return _SPECS[format_spec](value)
        if not format_spec:
            if isinstance(value, int | float | np.number):
                return num(value)
            return html.escape(str(value), quote=False)  # data values never become markup
        return format(value, format_spec)


def _namespace(depth: int) -> dict[str, Any]:
    frame = inspect.currentframe()
    for _ in range(depth + 1):
        frame = frame.f_back if frame is not None else None
    if frame is None:  # pragma: no cover - always called from somewhere
        return {}
    return {**frame.f_globals, **frame.f_locals}


def fill(template: str, _depth: int = 1, **values: Any) -> str:
    """The Markdown ``say`` would display: ``template`` with its ``{expr}`` /
    ``{expr:spec}`` fields filled from the caller's variables (and ``values``)."""
    namespace = {**_namespace(_depth), **values}
    return _Fields(namespace).format(inspect.cleandoc(template))


def say(template: str, _depth: int = 1, **values: Any) -> None:
    """Display ``template`` as Markdown, its ``{expr}`` / ``{expr:spec}`` fields filled
    from the caller's variables (and ``values``).

    Specs: ``p`` (p-value), ``pct``/``pct0``/``pct2`` (proportion as %), ``pp``/``pp2``
    (percentage points), ``num``, or any Python format spec; a bare field shows numbers
    with :func:`num` and other values as text (HTML-escaped: data never becomes markup).
    A field is an expression without ``:`` or ``!`` (compute such phrases first). Write
    ``{{`` and ``}}`` for literal braces (e.g. in TeX). Returns nothing, so a cell that
    ends with ``say(...)`` shows the text once; :func:`fill` returns the text. The
    template travels in the output's metadata so tests can check its literal words.
    Outside IPython the text is printed.
    """
    body = fill(template, _depth + 1, **values)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        get_ipython = None  # type: ignore[assignment]
    if get_ipython is not None and get_ipython() is not None:
        from IPython.display import Markdown, display

        display(Markdown(body), metadata={MIME_META: {"template": inspect.cleandoc(template)}})
    else:
        print(body)


def md_escape(text: str) -> str:
    """Text shown as Markdown, with HTML and Markdown special characters made literal."""
    return "".join("\\" + c if c in "\\`*_[]<>#|" else c for c in html.escape(text, quote=False))


def warning_note(message: Any, category: type, filename: str) -> str:
    """The Markdown of a warning shown on a page (``trialkit.kernel.warnings_as_notes``): its
    words on one line, escaped, with the library it came from (none for the notebook's own
    code, or trialkit's warnings, which point at the notebook's line) and its kind."""
    import re

    found = re.search(r"site-packages[/\\]([A-Za-z0-9_]+)", filename)
    origin = f" ({found.group(1)})" if found else ""
    words = " ".join(str(message).split())
    return f"**Warning**{origin}: {md_escape(words)} *({category.__name__})*"


def answer(template: str, **values: Any) -> None:
    """``say`` for the end of an exercise's solution: the answer in words, in bold lead."""
    say("**Answer.** " + inspect.cleandoc(template), _depth=2, **values)


def provenance_of(df: Any) -> str | None:
    """The provenance kind of a dataset (``PROVENANCE`` key), or None for real data.

    Read from ``attrs["provenance_kind"]`` when set; else from ``attrs["synthetic"]`` and
    the ``attrs["provenance"]`` string: the canonical data (``data/synthetic``) and
    reconstructions are "reconstructed", draws of the trial model "simulated".
    """
    attrs = getattr(df, "attrs", {}) or {}
    kind = attrs.get("provenance_kind")
    if kind:
        return str(kind)
    if not attrs.get("synthetic"):
        return None
    prov = str(attrs.get("provenance", "")).lower()
    if "simulate" in prov and "reconstruct" not in prov:
        return "simulated"
    return "reconstructed"


def provenance_label(kind: str | bool | None) -> str:
    """The words that say a provenance on a table or figure ("" for None/False).
    ``True`` (the older boolean "synthetic") reads as "reconstructed"."""
    if kind is True:
        kind = "reconstructed"
    if not kind:
        return ""
    if kind not in PROVENANCE:
        raise ValueError(f"provenance must be one of {sorted(PROVENANCE)}, got {kind!r}")
    return PROVENANCE[kind]
