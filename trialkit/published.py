"""What the papers report about the trial, as one tidy, validated table.

The facts live in ``data/published/facts.csv`` (one row per reported number or stated
fact, with its provenance); ``data/published/README.md`` is the data dictionary and
``data/published/zang2022-published.md`` the reference they were copied from.

Numbers are kept exactly as printed: ``4.55`` (percent) not ``0.0455``, with
``decimals`` the number of printed decimal places, so that rounding can be reasoned
about (``rounding_interval``). Every numeric row carries a unit ("%", "% (HbA1c, NGSP)",
"mg/min/kg", "U/kg/day", "patients", "1" for p-values ...) and a source tag:

- ``A`` article abstract, ``R`` registry record NCT02302599, ``S`` secondary summary
  (the reference's own tags);
- ``B`` the citation in the reference's header, ``C`` the separate 2023 CGM paper
  (Zang 2023, Stem Cells Transl Med; ``publication == "zang2023_cgm"``: a different data
  set, never to be pooled with the 2022 trial), ``N`` items the reference lists as not
  public.

Typical use::

    from trialkit import published
    published.value("hba1c_baseline_ucmsc_mean")            # 9.02 (% HbA1c)
    published.get(quantity="HbA1c", arm="Placebo", timepoint="baseline", statistic="sd")
    published.table("zang2022")                              # for display
    published.not_public()                                   # what cannot be checked
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "pico",
    "ARMS",
    "COLUMNS",
    "DATA_DIR",
    "DEFAULT_PATH",
    "PUBLICATIONS",
    "STATISTICS",
    "TAGS",
    "TEXT_STATISTICS",
    "TIMEPOINTS",
    "FactLookupError",
    "PublishedDataError",
    "get",
    "ids",
    "implied_counts",
    "prints_as",
    "load",
    "not_public",
    "printed",
    "registry_vs_article",
    "rounding_interval",
    "row",
    "select",
    "table",
    "text",
    "value",
]

#: ``data/published`` of the repository (the parent of the ``trialkit`` package).
DATA_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "data" / "published"
#: The tidy table of published facts.
DEFAULT_PATH: Final[Path] = DATA_DIR / "facts.csv"

#: Columns of the file, in order.
COLUMNS: Final[tuple[str, ...]] = (
    "id", "quantity", "arm", "timepoint", "statistic", "value", "decimals", "text",
    "unit", "tag", "source", "publication", "note",
)  # fmt: skip

#: Allowed values of ``arm``.
ARMS: Final[dict[str, str]] = {
    "UC-MSC": "the umbilical-cord MSC arm",
    "Placebo": "the placebo arm",
    "between": "a comparison between the arms (p-value, confidence interval)",
    "all": "the whole trial (design, eligibility, trial-level facts)",
}

#: Allowed values of ``statistic`` and what ``value`` (or ``text``) then means.
STATISTICS: Final[dict[str, str]] = {
    "count": "a number of patients (or events), exact",
    "percent": "a share of patients, in percent",
    "mean": "a mean",
    "sd": "a standard deviation",
    "unspecified": "a reported summary whose kind (mean, median, share ...) is not stated",
    "p": "a p-value, p = value",
    "p_upper_bound": "a p-value printed as p < value",
    "p_lower_bound": "a p-value printed as p > value",
    "ci_low": "lower bound of a confidence interval",
    "ci_high": "upper bound of a confidence interval",
    "ci_level": "confidence level of an interval, in percent",
    "min": "an inclusive lower limit: x >= value",
    "max": "an inclusive upper limit: x <= value",
    "min_exclusive": "an exclusive lower limit: x > value",
    "max_exclusive": "an exclusive upper limit: x < value",
    "value": "a design constant as stated (dose, number of infusions, durations)",
    "text": "a statement, in ``text``",
    "date": "a calendar month, in ``text`` as YYYY-MM",
    "not_public": "an item that is NOT public, named in ``text``",
}
#: Statistics whose rows have ``text`` and no ``value``.
TEXT_STATISTICS: Final[frozenset[str]] = frozenset({"text", "date", "not_public"})
#: Statistics that are rounded estimates (their printed value stands for an interval).
_ROUNDED: Final[frozenset[str]] = frozenset(
    {"percent", "mean", "sd", "unspecified", "p", "ci_low", "ci_high"}
)
_PREFIX: Final[dict[str, str]] = {
    "p": "p = ", "p_upper_bound": "p < ", "p_lower_bound": "p > ",
    "min": ">= ", "max": "<= ", "min_exclusive": "> ", "max_exclusive": "< ",
}  # fmt: skip

#: Source tags and their readable names (``source`` is these names joined by "; ").
TAGS: Final[dict[str, str]] = {
    "A": "article abstract",
    "R": "registry record NCT02302599",
    "S": "secondary summary",
    "B": "citation (reference header)",
    "C": "Zang 2023 Stem Cells Transl Med",
    "N": "not public (reference list)",
}

#: Allowed values of ``publication``: the trial / data set a row is about.
PUBLICATIONS: Final[dict[str, str]] = {
    "zang2022": "Zang et al. 2022, Stem Cell Res Ther 13:180 (and its registry record)",
    "zang2023_cgm": "Zang et al. 2023, Stem Cells Transl Med 12:775 (retrospective CGM "
    "analysis; a different data set)",
}

#: Allowed values of ``timepoint`` ("" when the reference names none).
TIMEPOINTS: Final[tuple[str, ...]] = (
    "", "baseline", "end of study", "baseline to end of study", "week 9", "week 48",
)  # fmt: skip

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

#: Registry vs article (or its secondary summary): item, article-side id, registry id.
_REGISTRY_VS_ARTICLE: Final[tuple[tuple[str, str, str], ...]] = (
    ("cell dose per infusion (10^6 cells/kg)", "dose_summary", "dose_registry"),
    ("participants (randomized vs enrolled)", "randomized_total", "enrolment_registry"),
    ("study start", "study_start_article", "study_start_registry"),
    ("study end", "study_end_article", "study_end_registry"),
)


class PublishedDataError(ValueError):
    """The facts file is malformed; the message names the file, column(s) and row(s)."""


class FactLookupError(LookupError):
    """A look-up matched no fact, or more than one; the message lists what matched."""


# --------------------------------------------------------------------------- loading
def load(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate the published facts table.

    Parameters
    ----------
    path
        A facts CSV; default ``data/published/facts.csv`` of this repository.

    Returns
    -------
    pandas.DataFrame
        One row per fact, columns ``COLUMNS``; ``value`` float (as printed, in ``unit``;
        NaN for text rows), ``decimals`` nullable integer (printed decimal places),
        every other column a string ("" when empty).

    Raises
    ------
    PublishedDataError
        (a ``ValueError``) when a column is missing or a cell breaks the contract
        (duplicate or malformed id, unparseable value, numeric row without unit or
        source, value outside the vocabulary ...), naming the file, column and rows.
    """
    return _load_cached(*_key(path)).copy()


def _key(path: str | Path | None) -> tuple[str, int, int]:
    """The cache key of a facts file: its resolved path, modification time (ns) and size,
    so that an edited file is read again."""
    p = Path(path) if path is not None else DEFAULT_PATH
    p = p.resolve()
    if not p.is_file():
        raise FileNotFoundError(f"published facts file not found: {p}")
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime: int, size: int) -> pd.DataFrame:
    del mtime, size  # part of the cache key only: an edited file is read again
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise PublishedDataError(f"{path}: cannot be read as CSV: {e}") from e
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise PublishedDataError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
            f"expected columns {', '.join(COLUMNS)}"
        )
    raw = raw.loc[:, list(COLUMNS)].apply(lambda s: s.str.strip())
    problems = _problems(raw)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise PublishedDataError(f"{path}: {len(problems)} problem(s):\n{listed}")
    df = raw.copy()
    df["value"] = pd.to_numeric(raw["value"].where(raw["value"] != "")).astype("float64")
    df["decimals"] = pd.to_numeric(raw["decimals"].where(raw["decimals"] != "")).astype("Int64")
    return df


@functools.lru_cache(maxsize=8)
def _positions_cached(path: str, mtime: int, size: int) -> dict[str, int]:
    """Each fact's row number by id, for look-ups without scanning the table."""
    return {ident: i for i, ident in enumerate(_load_cached(path, mtime, size)["id"])}


@functools.lru_cache(maxsize=2048)
def _row_cached(path: str, mtime: int, size: int, ident: str) -> pd.Series | None:
    """The row of fact ``ident`` (callers copy), or None; built once per id and file
    version (a row of mixed columns is slow to take from the table)."""
    i = _positions_cached(path, mtime, size).get(ident)
    return None if i is None else _load_cached(path, mtime, size).iloc[i]


@functools.lru_cache(maxsize=8)
def _printed_cached(path: str, mtime: int, size: int) -> pd.Series:
    """Every fact as printed (:func:`_printed`), aligned with the cached table."""
    df = _load_cached(path, mtime, size)
    return pd.Series([_printed(r) for _, r in df.iterrows()], index=df.index, dtype=object)


def _where(raw: pd.DataFrame, i: int) -> str:
    """'line N (id 'x')' for row i: the header is line 1."""
    ident = raw.at[i, "id"]
    return f"line {i + 2} (id {ident!r})" if ident else f"line {i + 2}"


def _problems(raw: pd.DataFrame) -> list[str]:
    """Every contract breach, as 'column 'c', line N (id 'x'): what is wrong'."""
    out: list[str] = []

    def bad(col: str, i: int, what: str) -> None:
        out.append(f"column {col!r}, {_where(raw, i)}: {what}")

    ids = raw["id"]
    for i, ident in ids.items():
        if not _ID.match(ident):
            bad("id", i, f"{ident!r} is not a snake_case key (a-z, 0-9, _; starts with a letter)")
    dup = ids[ids.duplicated(keep=False) & (ids != "")]
    for ident, rows in dup.groupby(dup).groups.items():
        lines = ", ".join(f"line {i + 2}" for i in rows)
        out.append(f"column 'id': duplicate id {ident!r} on {lines}")

    for col, allowed in (("arm", ARMS), ("statistic", STATISTICS),
                         ("publication", PUBLICATIONS), ("timepoint", TIMEPOINTS)):  # fmt: skip
        for i, v in raw[col].items():
            if v not in allowed:
                bad(col, i, f"{v!r} is not one of {', '.join(map(repr, allowed))}")

    for i, r in raw.iterrows():
        for col in COLUMNS:
            if "\n" in r[col] or "\r" in r[col]:
                bad(col, i, "contains a line break (keep every row on one line)")
        if r["quantity"] == "":
            bad("quantity", i, "empty")
        tags = r["tag"].split(";") if r["tag"] else []
        unknown = [t for t in tags if t not in TAGS]
        if not tags or unknown:
            bad("tag", i, f"{r['tag']!r} is not one or more of {', '.join(TAGS)} joined by ';'")
        elif r["source"] != "; ".join(TAGS[t] for t in tags):
            want = "; ".join(TAGS[t] for t in tags)
            bad("source", i, f"{r['source']!r} does not match tag {r['tag']!r} (want {want!r})")
        stat = r["statistic"]
        if stat in TEXT_STATISTICS:
            for col in ("value", "decimals", "unit"):
                if r[col] != "":
                    bad(col, i, f"must be empty for a {stat!r} row, got {r[col]!r}")
            if r["text"] == "":
                bad("text", i, f"empty, but a {stat!r} row states its fact in 'text'")
            elif stat == "date" and not _MONTH.match(r["text"]):
                bad("text", i, f"{r['text']!r} is not a month as YYYY-MM")
        elif stat in STATISTICS:
            _check_number(r, lambda col, what, i=i: bad(col, i, what))
    return out


def _check_number(r: pd.Series, bad: Callable[[str, str], None]) -> None:
    """Check the numeric cells of one row; ``bad(column, message)`` reports."""
    v, d = r["value"], r["decimals"]
    if v == "":
        bad("value", "empty, but a numeric row needs a value")
    elif not _NUMBER.match(v):
        bad("value", f"{v!r} is not a plain decimal number (e.g. 4.55, -1.79, 0.0081)")
    if d == "" or not d.isdigit():
        bad("decimals", f"{d!r} is not a non-negative integer")
    elif _NUMBER.match(v):
        shown = len(v.split(".")[1]) if "." in v else 0
        if shown != int(d):
            bad("decimals", f"{d} but value {v!r} is written with {shown} decimal place(s)")
    if r["unit"] == "":
        bad("unit", "empty, but every numeric row needs a unit ('1' for p-values)")
    if r["text"] != "":
        bad("text", f"must be empty for a numeric row, got {r['text']!r}")


# --------------------------------------------------------------------------- look-up
def select(
    quantity: str | None = None,
    arm: str | None = None,
    timepoint: str | None = None,
    statistic: str | None = None,
    publication: str | None = None,
    tag: str | None = None,
    path: str | Path | None = None,
) -> pd.DataFrame:
    """All rows (numeric and text) matching every criterion given.

    ``tag`` matches rows whose tag list contains it ("R" matches "A;R"). Criteria are
    exact strings; an unknown ``arm``, ``statistic``, ``publication`` or ``tag`` is an
    error (``ValueError``) rather than an empty result.
    """
    df = _load_cached(*_key(path))
    vocabularies = (
        ("arm", arm, ARMS), ("statistic", statistic, STATISTICS),
        ("publication", publication, PUBLICATIONS), ("tag", tag, TAGS),
    )  # fmt: skip
    for name, given, allowed in vocabularies:
        if given is not None and given not in allowed:
            raise ValueError(f"{name}={given!r} is not one of {', '.join(map(repr, allowed))}")
    mask = pd.Series(True, index=df.index)
    for col, given in (("quantity", quantity), ("arm", arm), ("timepoint", timepoint),
                       ("statistic", statistic), ("publication", publication)):  # fmt: skip
        if given is not None:
            mask &= df[col] == given
    if tag is not None:
        mask &= df["tag"].str.split(";").apply(lambda ts: tag in ts)
    return df.loc[mask].copy()


def get(
    quantity: str | None = None,
    arm: str | None = None,
    timepoint: str | None = None,
    statistic: str | None = None,
    publication: str | None = None,
    tag: str | None = None,
    path: str | Path | None = None,
) -> float:
    """The one numeric value matching the criteria, as printed, in its row's ``unit``.

    Example: ``get(quantity="HbA1c", arm="UC-MSC", timepoint="baseline",
    statistic="mean")`` is 9.02 (% HbA1c). Raises ``FactLookupError`` when no numeric
    row or more than one matches, listing the matches (or the nearest quantities).
    """
    criteria = {k: v for k, v in dict(quantity=quantity, arm=arm, timepoint=timepoint,
                                      statistic=statistic, publication=publication,
                                      tag=tag).items() if v is not None}  # fmt: skip
    hits = select(path=path, **criteria)
    hits = hits[~hits["statistic"].isin(TEXT_STATISTICS)]
    said = ", ".join(f"{k}={v!r}" for k, v in criteria.items()) or "no criteria"
    if len(hits) == 1:
        return float(hits["value"].iloc[0])
    if hits.empty:
        df = _load_cached(*_key(path))
        hint = ""
        if quantity is not None:
            near = difflib.get_close_matches(quantity, sorted(set(df["quantity"])), n=5)
            hint = f"; nearest quantities: {', '.join(map(repr, near))}" if near else ""
        raise FactLookupError(f"no numeric published fact matches {said}{hint}")
    raise FactLookupError(
        f"{len(hits)} numeric published facts match {said}; add criteria or use value(id). "
        f"Matches:\n{_listing(hits)}"
    )


def _listing(rows: pd.DataFrame) -> str:
    cols = ["id", "quantity", "arm", "timepoint", "statistic", "unit", "tag"]
    shown = rows[cols].assign(reported=[_printed(r) for _, r in rows.iterrows()])
    return shown.to_string(index=False)


def row(id: str, path: str | Path | None = None) -> pd.Series:
    """The full row of fact ``id`` (all columns, including ``note``)."""
    key = _key(path)
    hit = _row_cached(*key, id) if isinstance(id, str) else None
    if hit is None:
        df = _load_cached(*key)
        near = difflib.get_close_matches(str(id), df["id"].tolist(), n=5)
        hint = f"; nearest ids: {', '.join(map(repr, near))}" if near else ""
        raise FactLookupError(f"no published fact has id {id!r}{hint}")
    return hit.copy()


def value(id: str, path: str | Path | None = None) -> float:
    """The numeric value of fact ``id``, as printed (4.55 means 4.55 %), in its ``unit``."""
    r = row(id, path)
    if r["statistic"] in TEXT_STATISTICS:
        raise FactLookupError(
            f"fact {id!r} is a {r['statistic']!r} row with no number; use text({id!r})"
        )
    return float(r["value"])


def text(id: str, path: str | Path | None = None) -> str:
    """The ``text`` of fact ``id`` (a statement, a YYYY-MM date, or a not-public item)."""
    r = row(id, path)
    if r["statistic"] not in TEXT_STATISTICS:
        raise FactLookupError(f"fact {id!r} is numeric ({r['statistic']!r}); use value({id!r})")
    return str(r["text"])


def printed(id: str, path: str | Path | None = None) -> str:
    """Fact ``id`` as the reference prints it, without unit: '4.55', 'p < 0.05', '>= 20'."""
    return _printed(row(id, path))


def _printed(r: pd.Series) -> str:
    if r["statistic"] in TEXT_STATISTICS:
        return str(r["text"])
    number = f"{r['value']:.{int(r['decimals'])}f}"
    return _PREFIX.get(str(r["statistic"]), "") + number


def rounding_interval(id: str, path: str | Path | None = None) -> tuple[float, float]:
    """The closed interval of true values that print as fact ``id``'s value.

    ``value +- 0.5 * 10**-decimals``: 4.55 (2 decimals) stands for [4.545, 4.555]. Whether
    an end point itself rounds to the printed value depends on the (unknown) rounding
    rule, so treat the ends with care. Counts are exact: ``(v, v)``. Bounds, thresholds
    and design constants are not rounded estimates and raise ``ValueError``.
    """
    r = row(id, path)
    stat = str(r["statistic"])
    if stat == "count":
        return float(r["value"]), float(r["value"])
    if stat not in _ROUNDED:
        raise ValueError(
            f"fact {id!r} is a {stat!r} ({STATISTICS[stat]}), not a rounded estimate; "
            f"rounding intervals exist for {', '.join(sorted(_ROUNDED))} and count"
        )
    half = 0.5 * 10.0 ** -int(r["decimals"])
    return float(r["value"]) - half, float(r["value"]) + half


# --------------------------------------------------------------------------- display
def table(
    publication: str | None = "zang2022",
    tag: str | None = None,
    kind: str | None = None,
    path: str | Path | None = None,
) -> pd.DataFrame:
    """The facts for display, indexed by id.

    Columns: quantity, arm, timepoint, reported (as printed: '9.02', 'p < 0.05', a
    statement or a YYYY-MM date), unit, source (readable, with the tag: 'article abstract
    [A]'), note. ``publication=None`` shows both papers; ``kind`` is "numeric", "text"
    (statements and dates) or "not_public".
    """
    key = _key(path)
    df = select(publication=publication, tag=tag, path=path)
    kinds = {
        "numeric": ~df["statistic"].isin(TEXT_STATISTICS),
        "text": df["statistic"].isin({"text", "date"}),
        "not_public": df["statistic"] == "not_public",
    }
    if kind is not None:
        if kind not in kinds:
            raise ValueError(f"kind={kind!r} is not one of {', '.join(map(repr, kinds))}")
        df = df[kinds[kind]]
    out = pd.DataFrame(
        {
            "quantity": df["quantity"],
            "arm": df["arm"],
            "timepoint": df["timepoint"],
            "statistic": df["statistic"],
            "reported": _printed_cached(*key).loc[df.index].tolist(),
            "unit": df["unit"],
            "source": df["source"] + " [" + df["tag"] + "]",
            "note": df["note"],
        }
    )
    out.index = pd.Index(df["id"], name="id")
    return out


def not_public(publication: str | None = None, path: str | Path | None = None) -> pd.DataFrame:
    """What the reference lists as NOT public (cannot be checked), indexed by id."""
    return table(publication=publication, kind="not_public", path=path)[
        ["quantity", "reported", "note"]
    ].rename(columns={"reported": "item"})


def registry_vs_article(path: str | Path | None = None) -> pd.DataFrame:
    """Where the registry record and the article (or its summary) differ.

    One row per item (cell dose, participants, study start, study end) with each side as
    printed, its unit and its source.
    """
    records: list[dict[str, str]] = []
    for item, left, right in _REGISTRY_VS_ARTICLE:
        a, r = row(left, path), row(right, path)
        records.append(
            {
                "item": item,
                "article_or_summary": _printed(a),
                "article_or_summary_source": f"{a['source']} [{a['tag']}]",
                "registry": _printed(r),
                "registry_source": f"{r['source']} [{r['tag']}]",
                "unit": a["unit"],
            }
        )
    return pd.DataFrame.from_records(records).set_index("item")


def ids(path: str | Path | None = None) -> list[str]:
    """All fact ids, in file order."""
    return _load_cached(*_key(path))["id"].tolist()


# --------------------------------------------------------------------------- implications
ROUNDING_RULES: Final = ("half-up", "half-even", "any")


def prints_as(
    true: Fraction | float, printed: float, decimals: int, rounding: str = "half-up"
) -> bool:
    """Whether the exact value ``true`` prints as ``printed`` with ``decimals`` places.

    ``rounding``: "half-up" (5 rounds away from zero, as most software prints),
    "half-even" (banker's rounding, e.g. some statistics packages), or "any" (either, and
    truncation-free: any value within half a unit, both ends included). Exact rational
    arithmetic, so 5/32 = 15.625 % is decided correctly (15.63 half-up, 15.62 half-even).
    """
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"rounding must be one of {ROUNDING_RULES}, got {rounding!r}")
    value = Fraction(true)
    target = Fraction(Decimal(f"{printed:.{decimals}f}"))
    half = Fraction(1, 2 * 10**decimals)
    if rounding == "any":
        return target - half <= value <= target + half
    if abs(value - target) > half:
        return False
    # the fraction to 28 significant digits: a tie (a finite decimal) is represented exactly,
    # and anything else is decided long before the 28th digit
    quantum = Decimal(1).scaleb(-decimals)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    mode = ROUND_HALF_UP if rounding == "half-up" else ROUND_HALF_EVEN
    return Fraction(exact.quantize(quantum, rounding=mode)) == target


def implied_counts(
    id: str,
    n_max: int,
    n_min: int = 1,
    rounding: str = "half-up",
    path: str | Path | None = None,
) -> pd.DataFrame:
    """Every count x out of n (n_min <= n <= n_max) whose percentage prints as fact ``id``.

    The fact must be a percentage of something countable (unit "%" or "% of patients";
    not HbA1c, whose unit "% (HbA1c, NGSP)" is a concentration). Returns columns x, n,
    percent (exact, as a float) sorted by n; e.g. ``implied_counts("primary_placebo", 46)``
    lists 2/44 among the ways to print 4.55 %. ``rounding`` as in ``prints_as``.
    """
    r = row(id, path)
    if str(r["unit"]) not in ("%", "% of patients"):
        raise ValueError(f"fact {id!r} is in {r['unit']!r}, not a percentage")
    if not 1 <= n_min <= n_max:
        raise ValueError(f"need 1 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}")
    printed, decimals = float(r["value"]), int(r["decimals"])
    # every x/n at once in floating point (rows n, columns x), keeping those within a hair
    # of the printed value's rounding interval; the exact rational test decides those few
    n, x = np.meshgrid(np.arange(n_min, n_max + 1), np.arange(n_max + 1), indexing="ij")
    half = 0.5 * 10.0**-decimals
    near = (x <= n) & (np.abs(100 * x / n - printed) <= half + 1e-9 * (1 + abs(printed)))
    rows = [
        (int(xi), int(ni), 100 * int(xi) / int(ni))
        for xi, ni in zip(x[near], n[near], strict=True)
        if prints_as(Fraction(100 * int(xi), int(ni)), printed, decimals, rounding)
    ]
    return pd.DataFrame(rows, columns=["x", "n", "percent"])


def pico(path: str | Path | None = None) -> pd.DataFrame:
    """The trial's question in PICO(T) form, every entry read from the published facts:
    index Population, Intervention, Comparison, Outcome, Time; columns "what" and
    "source" (the facts' source tags: A abstract, R registry, S summary, B reference
    header)."""

    def fact(id_: str, unit: bool = True) -> str:
        number = printed(id_, path).lstrip("<>= ")  # as printed: "1.0", not "1"
        shown = str(row(id_, path)["unit"]).replace("10^6 ", "× 10⁶ ")
        return f"{number} {shown}".strip() if unit else number

    population = (
        f"adults aged {fact('incl_age_min', False)} to {fact('incl_age_max')} with "
        f"{text('incl_diagnosis', path)} on a stable insulin dose of "
        f"{fact('incl_insulin_dose_min', False)} to {fact('incl_insulin_dose_max')}; "
        f"{text('centre', path)}"
    )
    rows = {
        "Population": (population, "R, B"),
        "Intervention": (
            f"{text('treatment', path)}; {fact('dose_registry')} per infusion in the registry, "
            f"{fact('dose_summary')} in a summary of the article",
            "A, R, S",
        ),
        "Comparison": (f"placebo: {text('placebo', path)}", "R"),
        "Outcome": (text("primary_endpoint", path), "A"),
        "Time": (f"{fact('follow_up')} of follow-up", "A"),
    }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["what", "source"])
    return out.rename_axis("element")
