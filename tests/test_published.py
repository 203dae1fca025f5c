"""data/published/facts.csv against the reference it was copied from, and trialkit.published.

The reference is ``data/published/zang2022-published.md``, a committed verbatim copy of
the project's ``shared/reference/zang2022-published.md`` (which may be absent on a
clean clone). The tests parse its markdown tables and text and check that every number
in it is a row (with the printed precision, the right arm, statistic and source tag),
then check the look-up API and that malformed files fail with messages naming the file,
column and row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from trialkit import published

REPO = Path(__file__).resolve().parents[1]
REF_COPY = REPO / "data" / "published" / "zang2022-published.md"
SHARED_REF = REPO.parent / "shared" / "reference" / "zang2022-published.md"
README = REPO / "data" / "published" / "README.md"
#: Tags we add to the reference's own (A, R, S); each documented in the README.
EXTRA_TAGS = {"B", "C", "N"}

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "January February March April May June July August September October "
        "November December".split()
    )
}
_NUM = re.compile(r"(?<![\w.^])(-)?(\d+(?:\.\d+)?)")
_DRUG = re.compile(r"\b(?:DPP-4|GLP-1|SGLT-2)\b")
#: Names with a digit that are not numbers: checked as text.
_NAMES = re.compile(r"\btype 2 diabetes\b")
#: "week 48", "weeks 9 and 48", "(week 9)": timepoints, checked against ``timepoint``.
_WEEKS = re.compile(r"\bweeks? (\d+)(?: and (\d+))?")
_POWER = re.compile(r"x 10\^6")
_DATE = re.compile(r"\b(" + "|".join(MONTHS) + r") (\d{4})\b")


# --------------------------------------------------------------------------- helpers
def reference() -> str:
    """The reference copy without its provenance line."""
    lines = REF_COPY.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("<!--") and "shared/reference/zang2022-published.md" in lines[0]
    return "\n".join(lines[1:]) + "\n"


def sections(md: str) -> dict[str, str]:
    """'' -> text before the first '## ' heading; heading -> its body."""
    out: dict[str, str] = {}
    name, body = "", []
    for line in md.splitlines():
        if line.startswith("## "):
            out[name] = "\n".join(body)
            name, body = line[3:].strip(), []
        else:
            body.append(line)
    out[name] = "\n".join(body)
    return out


def preamble() -> str:
    """The reference before its first '## ' heading (title and citation)."""
    return sections(reference())[""]


def section(title_start: str) -> str:
    hits = [b for t, b in sections(reference()).items() if t and t.startswith(title_start)]
    assert len(hits) == 1, f"reference has no single section starting {title_start!r}"
    return hits[0]


def md_table(body: str) -> list[dict[str, str]]:
    """The first markdown table in ``body`` as a list of {header: cell}."""
    lines = [ln.strip() for ln in body.splitlines() if ln.strip().startswith("|")]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    header, rows = cells[0], [r for r in cells[1:] if not set("".join(r)) <= set("-: ")]
    assert all(len(r) == len(header) for r in rows)
    return [dict(zip(header, r, strict=True)) for r in rows]


def numbers(s: str) -> list[tuple[float, int]]:
    """(value, printed decimals) of every number in ``s``, leaving out drug-class names
    (DPP-4 ...), 'type 2 diabetes', the '10^6' of cell doses, month-year dates (checked
    as dates) and week timepoints (checked as timepoints)."""
    s = _WEEKS.sub(" ", _DATE.sub(" ", _POWER.sub(" ", _NAMES.sub(" ", _DRUG.sub(" ", s)))))
    return [
        (float((m.group(1) or "") + m.group(2)), len(m.group(2).partition(".")[2]))
        for m in _NUM.finditer(s)
    ]


def weeks(s: str) -> list[str]:
    """The week timepoints named in ``s``, as 'week N'."""
    return [f"week {n}" for m in _WEEKS.finditer(s) for n in m.groups() if n]


def dates(s: str) -> list[str]:
    return [f"{y}-{MONTHS[m]:02d}" for m, y in _DATE.findall(s)]


@pytest.fixture(scope="module")
def facts() -> pd.DataFrame:
    return published.load()


def numeric(df: pd.DataFrame) -> pd.DataFrame:
    return df[~df["statistic"].isin(published.TEXT_STATISTICS)]


def with_tags(df: pd.DataFrame, *tags: str) -> pd.DataFrame:
    """Rows carrying every one of ``tags``."""
    return df[df["tag"].str.split(";").apply(lambda ts: set(tags) <= set(ts))]


def has(df: pd.DataFrame, v: float, decimals: int, **cols: str) -> bool:
    """Some numeric row of ``df`` has this value, printed precision and column values."""
    d = numeric(df)
    m = (d["value"] - v).abs().lt(1e-12) & (d["decimals"] == decimals)
    for c, want in cols.items():
        m &= d[c] == want
    return bool(m.any())


def has_text(df: pd.DataFrame, s: str) -> bool:
    texts = df.loc[df["statistic"].isin(published.TEXT_STATISTICS), "text"]
    return s.strip().lower() in set(texts.str.lower())


# --------------------------------------------------------------------------- the copy
def test_reference_copy_has_provenance_line() -> None:
    first = REF_COPY.read_text(encoding="utf-8").splitlines()[0]
    assert "Copied verbatim" in first and "shared/reference/zang2022-published.md" in first


@pytest.mark.skipif(not SHARED_REF.is_file(), reason="shared reference absent (clean clone)")
def test_reference_copy_matches_shared_reference() -> None:
    assert reference() == SHARED_REF.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- completeness
def test_every_number_in_the_reference_is_a_row(facts: pd.DataFrame) -> None:
    md = reference()
    md = md.replace(preamble(), "")  # the citation header: test_citation_header
    cgm = section("A separate paper")
    md = md.replace(cgm, _cgm_checked_part(cgm))
    missing = [(v, d) for v, d in numbers(md) if not has(facts, v, d)]
    assert not missing, f"numbers in the reference with no row (value, decimals): {missing}"


def test_every_week_timepoint_and_name_in_the_reference_is_a_row(facts: pd.DataFrame) -> None:
    md = reference()
    named = weeks(md)
    assert set(named) == {"week 9", "week 48"}
    for w in named:
        assert (facts["timepoint"] == w).any(), w
    cgm = facts[facts["publication"] == "zang2023_cgm"]
    assert set(weeks(section("A separate paper"))) <= set(cgm["timepoint"])
    for name in _NAMES.findall(md) + _DRUG.findall(md):
        assert any(name in t for t in facts["text"]), name


def test_every_date_in_the_reference_is_a_row(facts: pd.DataFrame) -> None:
    found = dates(reference())
    assert len(found) == 4
    for d in found:
        assert ((facts["statistic"] == "date") & (facts["text"] == d)).any(), d


def test_citation_header(facts: pd.DataFrame) -> None:
    head = preamble()
    b = facts[facts["tag"] == "B"]
    cite = published.text("citation")
    title = re.search(r"\*(.+?)\*", head, re.S).group(1)
    assert " ".join(title.split()) in cite
    assert "Zang L, Li Y, Hao H, et al." in cite
    journal = re.search(r"Stem Cell Research &\s+Therapy (\d+), (\d+) \((\d{4})\)", head)
    assert journal and " ".join(journal.group(0).split()) in cite
    doi = re.search(r"doi:(\S+?)\.?\s", head).group(1)
    assert published.text("doi") == doi and has_text(b, doi)
    nct = re.search(r"NCT\d{8}", head).group(0)
    assert published.text("registry_id").endswith(nct)
    centre = re.search(r"Single centre: ([^.]+)\.", head).group(1)
    assert centre in published.text("centre")
    # nothing else numeric hides in the header
    rest = head.replace(journal.group(0), "").replace(doi, "").replace(nct, "")
    assert numbers(re.sub(r"\s+", " ", rest)) == []


def test_design_table(facts: pd.DataFrame) -> None:
    rows = md_table(section("Design"))
    assert len(rows) == 12
    for r in rows:
        tags = [t.strip() for t in r["tag"].split(",")]
        pool = with_tags(facts[facts["publication"] == "zang2022"], *tags)
        cell = r["value"]
        for v, d in numbers(cell):
            assert has(pool, v, d), (r["item"], v, d, tags)
        for d in dates(cell):
            assert ((pool["statistic"] == "date") & (pool["text"] == d)).any(), (r["item"], d)
        if not numbers(cell) and not dates(cell):
            parts = [cell, *cell.split("; ")]
            assert has_text(pool, cell) or all(has_text(pool, p) for p in parts[1:]), r
    assert published.text("treatment") == next(r for r in rows if r["item"] == "treatment")["value"]
    assert (
        published.text("primary_endpoint")
        == next(r for r in rows if r["item"] == "primary endpoint")["value"]
    )
    randomized = next(r for r in rows if r["item"] == "randomized")["value"]
    assert randomized == "91: UC-MSC 45, placebo 46"
    assert has(facts, 45, 0, arm="UC-MSC", statistic="count", tag="A")
    assert has(facts, 46, 0, arm="Placebo", statistic="count", tag="A")


RESULT_ARMS = {"UC-MSC": "UC-MSC", "placebo": "Placebo", "between groups": "between"}
P_STAT = {"<": "p_upper_bound", ">": "p_lower_bound", "=": "p"}


def test_results_table_cell_by_cell(facts: pd.DataFrame) -> None:
    rows = md_table(section("Results"))
    assert len(rows) == 8
    a = facts[(facts["tag"] == "A") & (facts["publication"] == "zang2022")]
    for r in rows:
        q = r["quantity"]
        tp = "baseline" if "baseline" in q else "end of study" if "end of study" in q else None
        for col, arm in RESULT_ARMS.items():
            cell, pool = r[col], a[a["arm"] == arm]
            where = (q, col, cell)
            rest = cell
            for m in re.finditer(r"p ([<>=]) (\d+\.\d+)", cell):
                v, d = float(m.group(2)), len(m.group(2).split(".")[1])
                assert has(pool, v, d, statistic=P_STAT[m.group(1)]), where
                rest = rest.replace(m.group(0), " ")
            for m in re.finditer(r"(\d+)% CI (\d+\.\d+)-(\d+\.\d+)%", cell):
                assert has(pool, float(m.group(1)), 0, statistic="ci_level"), where
                assert has(pool, float(m.group(2)), 2, statistic="ci_low"), where
                assert has(pool, float(m.group(3)), 2, statistic="ci_high"), where
                rest = rest.replace(m.group(0), " ")
            for m in re.finditer(r"(\d+\.\d+) \+- (\d+\.\d+)", cell):
                assert tp is not None, where
                assert has(pool, float(m.group(1)), 2, statistic="mean", timepoint=tp), where
                assert has(pool, float(m.group(2)), 2, statistic="sd", timepoint=tp), where
                rest = rest.replace(m.group(0), " ")
            for m in re.finditer(r"(\d+\.\d+) -> (\d+\.\d+)", cell):
                assert has(pool, float(m.group(1)), 2, timepoint="baseline"), where
                assert has(pool, float(m.group(2)), 2, timepoint="end of study"), where
                rest = rest.replace(m.group(0), " ")
            for v, d in numbers(rest):
                d_ok = has(pool, v, d, statistic="percent") or has(
                    pool, v, d, statistic="unspecified"
                )
                assert d_ok, (*where, v)
            if cell and not numbers(cell):
                assert has_text(pool, cell), where


def test_registry_criteria(facts: pd.DataFrame) -> None:
    body = section("Design")
    para = body[body.index("Registry inclusion criteria:") :]
    para = " ".join(para.split())
    r = facts[(facts["tag"] == "R") & (facts["publication"] == "zang2022")]
    for v, d in numbers(para):
        assert has(r, v, d), (v, d)
    stripped = _DRUG.sub(" ", para)
    ranges = re.findall(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", stripped)
    assert len(ranges) == 4  # age, BMI, insulin dose, HbA1c
    for lo, hi in ranges:
        n = numeric(r)
        lows = n[(n["statistic"] == "min") & (n["value"] == float(lo))]["quantity"]
        highs = n[(n["statistic"] == "max") & (n["value"] == float(hi))]["quantity"]
        assert set(lows) & set(highs), f"no quantity with min {lo} and max {hi}"
    cmp_stat = {"<=": "max", ">=": "min", ">": "min_exclusive", "<": "max_exclusive"}
    comparisons = re.findall(r"(<=|>=|<|>) (\d+(?:\.\d+)?)", stripped)
    assert len(comparisons) == 5
    for op, v in comparisons:
        assert has(r, float(v), len(v.partition(".")[2]), statistic=cmp_stat[op]), (op, v)
    for drug in _DRUG.findall(para):
        assert any(t.startswith(drug) for t in r["text"]), drug
    included = para[: para.index("Exclusions")].split(": ", 1)[1]
    for part in included.rstrip(". ").split("; "):
        if not numbers(part):
            assert has_text(r, part), part
    excluded = para[para.index("Exclusions (partial list):") :].split(": ", 1)[1]
    items = [i.strip() for i in excluded.rstrip(". ").split(", ")]
    assert len(items) == 9
    for item in items:
        if not numbers(item):
            assert has_text(r, item), item
    assert published.value("excl_creatinine") == 175
    assert published.row("excl_creatinine")["unit"] == "umol/L"


def test_not_public_list(facts: pd.DataFrame) -> None:
    body = " ".join(section("Not public").split())
    items = {i.strip().rstrip(".").lower() for i in body.split(";")}
    rows = facts[(facts["statistic"] == "not_public") & (facts["publication"] == "zang2022")]
    assert set(rows["tag"]) == {"N"}
    assert set(rows["text"].str.lower()) == items | {"individual patient data"}
    assert "Individual patient data are NOT public" in preamble()
    assert len(published.not_public("zang2022")) == len(items) + 1


def _cgm_checked_part(cgm: str) -> str:
    """The CGM section without its citation and its closing caution (checked apart)."""
    flat = " ".join(cgm.split())
    flat = flat.replace(
        "Zang L et al., Stem Cells Translational Medicine 12(12):775-782 (2023),", ""
    )
    return flat[: flat.index("Its relation")]


def test_cgm_paper_is_a_separate_publication(facts: pd.DataFrame) -> None:
    cgm = section("A separate paper")
    flat = " ".join(cgm.split())
    assert "Stem Cells Translational Medicine 12(12):775-782 (2023)" in published.text(
        "cgm_citation"
    )
    c = facts[facts["publication"] == "zang2023_cgm"]
    assert set(c["tag"]) == {"C", "N"}
    assert not (facts.loc[facts["publication"] == "zang2022", "tag"] == "C").any()
    part = _cgm_checked_part(cgm)
    for v, d in numbers(part):
        assert has(c, v, d, tag="C"), (v, d)
    pairs = re.findall(r"(-?\d+(?:\.\d+)?)%? vs (-?\d+(?:\.\d+)?)%?", part)
    assert len(pairs) == 6  # HbA1c change, TIR change, composite share; weeks 9 and 48
    for u, p in pairs:
        du, dp = len(u.partition(".")[2]), len(p.partition(".")[2])
        n = numeric(c)
        left = n[(n["value"] == float(u)) & (n["arm"] == "UC-MSC")]
        right = n[(n["value"] == float(p)) & (n["arm"] == "Placebo")]
        assert len(left) == 1 and len(right) == 1, (u, p)
        assert int(left["decimals"].iloc[0]) == du and int(right["decimals"].iloc[0]) == dp
        keys = ["quantity", "timepoint", "statistic", "unit"]
        assert left[keys].iloc[0].tolist() == right[keys].iloc[0].tolist(), (u, p)
    assert re.search(r"73 randomized \(UC-MSC 37, placebo 36\)", flat)
    assert (
        published.get(quantity="patients randomized", publication="zang2023_cgm", arm="all") == 73
    )
    caution = flat[flat.index("Its relation") :]
    assert "91" in caution and "unknown" in caution
    rel = published.row("cgm_relation_to_zang2022")
    assert rel["statistic"] == "not_public" and "91" in rel["text"] and "73" in rel["text"]
    assert "never pooled" in rel["note"]


def test_tags_are_the_references_plus_documented_extras(facts: pd.DataFrame) -> None:
    ref_tags = dict(re.findall(r"\*\*([A-Z])\*\* = ([a-z ]+)", reference()))
    assert set(ref_tags) == {"A", "R", "S"}
    for t, name in ref_tags.items():
        assert published.TAGS[t].startswith(name.strip())
    used = {t for ts in facts["tag"] for t in ts.split(";")}
    assert used <= set(ref_tags) | EXTRA_TAGS
    assert set(published.TAGS) == set(ref_tags) | EXTRA_TAGS
    readme = README.read_text(encoding="utf-8")
    for t in EXTRA_TAGS:
        assert f"| {t} | {published.TAGS[t]} |" in readme


def test_readme_row_counts_match_the_file(facts: pd.DataFrame) -> None:
    readme = README.read_text(encoding="utf-8")
    counts = facts.groupby(["publication", "tag"]).size()
    for (pub, tag), n in counts.items():
        assert f"| {pub} | {tag} | {n} |" in readme, (pub, tag, n)
    assert f"({len(facts)} rows)" in readme


# --------------------------------------------------------------------------- file contract
def test_file_contract(facts: pd.DataFrame) -> None:
    assert list(facts.columns) == list(published.COLUMNS)
    assert facts["id"].is_unique
    assert facts["value"].dtype == "float64"
    assert str(facts["decimals"].dtype) == "Int64"
    num = numeric(facts)
    assert num["value"].notna().all() and num["decimals"].notna().all()
    assert (num["unit"] != "").all() and (facts["source"] != "").all()
    assert set(facts["arm"]) <= set(published.ARMS)
    assert set(facts["statistic"]) <= set(published.STATISTICS)
    assert set(facts["publication"]) == set(published.PUBLICATIONS)
    pvals = num[num["statistic"].isin(["p", "p_upper_bound", "p_lower_bound"])]
    assert (pvals["unit"] == "1").all() and pvals["value"].between(0, 1).all()
    text = facts[facts["statistic"].isin(published.TEXT_STATISTICS)]
    assert text["value"].isna().all() and (text["text"] != "").all()


def test_values_are_printed_not_rescaled(facts: pd.DataFrame) -> None:
    raw = pd.read_csv(published.DEFAULT_PATH, dtype=str, keep_default_na=False)
    assert raw.set_index("id").at["gir_end_placebo", "value"] == "3.60"
    assert published.printed("gir_end_placebo") == "3.60"
    assert published.value("primary_placebo") == 4.55
    assert published.row("primary_placebo")["unit"] == "% of patients"
    shares = numeric(facts)[numeric(facts)["statistic"] == "percent"]
    assert (shares["value"] > 1).all()  # 4.55 not 0.0455


# --------------------------------------------------------------------------- spot checks
def test_spot_checks() -> None:
    g = published.get
    assert published.value("hba1c_baseline_ucmsc_mean") == 9.02
    assert g(quantity="HbA1c", arm="UC-MSC", timepoint="baseline", statistic="sd") == 1.27
    assert g(quantity="HbA1c", arm="Placebo", timepoint="baseline", statistic="mean") == 8.89
    assert g(quantity="HbA1c", arm="Placebo", timepoint="end of study", statistic="sd") == 1.02
    assert g(quantity="primary endpoint met", arm="between", statistic="ci_low") == 2.25
    assert g(quantity="primary endpoint met", arm="between", statistic="ci_high") == 28.66
    assert g(quantity="primary endpoint met", arm="UC-MSC") == 20
    assert g(quantity="primary endpoint met", arm="between", statistic="p_upper_bound") == 0.05
    assert published.value("hba1c_decrease_p") == 0.0081
    r = published.row("hba1c_decrease_p")
    assert r["statistic"] == "p" and r["decimals"] == 4 and r["arm"] == "between"
    assert g(quantity="HbA1c decrease", arm="UC-MSC", statistic="unspecified") == 1.31
    assert g(quantity="HbA1c decrease", arm="Placebo", statistic="p_lower_bound") == 0.05
    assert "1.50" in published.row("hba1c_decrease_ucmsc")["note"]
    assert "share" in published.row("insulin_reduction_ucmsc")["note"]
    assert g(quantity="percentage of insulin reduction", arm="Placebo") == 15.62
    assert g(quantity="glucose infusion rate", arm="UC-MSC", timepoint="end of study") == 4.76
    assert published.row("gir_baseline_ucmsc")["unit"] == "mg/min/kg"
    assert g(quantity="cell dose per infusion", tag="R") == 1.5
    assert g(quantity="cell dose per infusion", tag="S") == 1.0
    assert published.value("randomized_total") == 91 == 45 + 46
    assert published.value("enrolment_registry") == 103
    assert g(quantity="inclusion: BMI", statistic="min") == 24.0
    assert g(quantity="inclusion: stable insulin dose", statistic="max") == 1.0
    assert published.row("incl_insulin_dose_max")["unit"] == "U/kg/day"
    assert g(quantity="inclusion: fasting C-peptide", statistic="min") == 1
    assert published.value("cgm_hba1c_change_w9_ucmsc") == -1.79
    assert (
        g(quantity="composite: TIR >= 70% and HbA1c < 7%", arm="Placebo", timepoint="week 48")
        == 11.1
    )
    assert published.text("study_start_registry") == "2013-01"
    assert published.text("beta_cell_placebo") == "no improvement"


def test_printed_and_rounding() -> None:
    assert published.printed("primary_p") == "p < 0.05"
    assert published.printed("hba1c_decrease_placebo_p") == "p > 0.05"
    assert published.printed("hba1c_decrease_p") == "p = 0.0081"
    assert published.printed("incl_age_min") == ">= 20"
    assert published.printed("excl_creatinine") == "> 175"
    assert published.printed("primary_endpoint_hba1c_threshold") == "< 7.0"
    assert published.printed("study_end_article") == "2018-12"
    lo, hi = published.rounding_interval("primary_placebo")
    assert lo == pytest.approx(4.545) and hi == pytest.approx(4.555)
    lo, hi = published.rounding_interval("primary_ucmsc")
    assert (lo, hi) == (19.5, 20.5)
    assert published.rounding_interval("randomized_ucmsc") == (45.0, 45.0)
    with pytest.raises(ValueError, match="not a rounded estimate"):
        published.rounding_interval("primary_p")


def test_tables_for_display() -> None:
    t = published.table()
    assert t.index.name == "id" and t.index.is_unique
    assert list(t.columns) == [
        "quantity", "arm", "timepoint", "statistic", "reported", "unit", "source", "note",
    ]  # fmt: skip
    assert t.at["primary_placebo", "source"] == "article abstract [A]"
    assert t.at["primary_p", "reported"] == "p < 0.05"
    assert not t.index.str.startswith("cgm_").any()
    both = published.table(publication=None)
    assert both.index.str.startswith("cgm_").any()
    assert set(published.table(kind="not_public")["statistic"]) == {"not_public"}
    assert (published.table(kind="numeric")["unit"] != "").all()
    reg = published.table(tag="R")
    assert "design" in reg.index and "dose_registry" in reg.index
    with pytest.raises(ValueError, match="kind"):
        published.table(kind="numbers")
    comp = published.registry_vs_article()
    assert comp.loc["cell dose per infusion (10^6 cells/kg)"].tolist()[::2] == [
        "1",
        "1.5",
        "10^6 cells/kg",
    ]
    assert comp.at["participants (randomized vs enrolled)", "registry"] == "103"
    assert comp.at["study start", "article_or_summary"] == "2015-10"
    assert comp.at["study end", "registry"] == "2020-12"
    np_ = published.not_public()
    assert "cgm_relation_to_zang2022" in np_.index and "item" in np_.columns


def test_lookup_errors() -> None:
    with pytest.raises(published.FactLookupError) as e:
        published.get(quantity="HbA1c", arm="UC-MSC")
    msg = str(e.value)
    assert "4 numeric published facts match" in msg
    for ident in ("hba1c_baseline_ucmsc_mean", "hba1c_end_ucmsc_sd"):
        assert ident in msg
    with pytest.raises(published.FactLookupError, match="nearest quantities: 'HbA1c'"):
        published.get(quantity="HbA1C")
    with pytest.raises(published.FactLookupError, match="use text"):
        published.value("safety")
    with pytest.raises(published.FactLookupError, match="use value"):
        published.text("primary_ucmsc")
    with pytest.raises(published.FactLookupError, match="hba1c_baseline_ucmsc_mean"):
        published.value("hba1c_baseline_ucmsc_maen")
    with pytest.raises(ValueError, match="arm='placebo'"):
        published.select(arm="placebo")


def test_default_path_is_relative_to_the_package() -> None:
    assert published.DEFAULT_PATH == REPO / "data" / "published" / "facts.csv"
    assert published.load(str(published.DEFAULT_PATH)).equals(published.load())
    with pytest.raises(FileNotFoundError):
        published.load(REPO / "no-such-file.csv")


# --------------------------------------------------------------------------- malformed files
def _variant(tmp_path: Path, change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Path:
    raw = pd.read_csv(published.DEFAULT_PATH, dtype=str, keep_default_na=False)
    out = change(raw)
    target = tmp_path / "facts-bad.csv"
    (raw if out is None else out).to_csv(target, index=False)
    return target


def _line(ident: str) -> str:
    raw = pd.read_csv(published.DEFAULT_PATH, dtype=str, keep_default_na=False)
    return f"line {int(raw.index[raw['id'] == ident][0]) + 2}"


def _set(ident: str, col: str, val: str) -> Callable[[pd.DataFrame], None]:
    def change(raw: pd.DataFrame) -> None:
        raw.loc[raw["id"] == ident, col] = val

    return change


def _fails(path: Path, *needles: str) -> str:
    with pytest.raises(ValueError) as e:
        published.load(path)
    msg = str(e.value)
    assert isinstance(e.value, published.PublishedDataError)
    assert str(path) in msg
    for n in needles:
        assert n in msg, f"{n!r} not in:\n{msg}"
    return msg


def test_missing_column(tmp_path: Path) -> None:
    _fails(_variant(tmp_path, lambda raw: raw.drop(columns="unit")), "missing column", "'unit'")


def test_unparseable_value(tmp_path: Path) -> None:
    ident = "hba1c_baseline_ucmsc_mean"
    p = _variant(tmp_path, _set(ident, "value", "9.O2"))
    _fails(p, "column 'value'", _line(ident), ident, "'9.O2'")


def test_duplicate_id(tmp_path: Path) -> None:
    p = _variant(tmp_path, _set("hba1c_end_ucmsc_mean", "id", "hba1c_baseline_ucmsc_mean"))
    msg = _fails(p, "column 'id'", "duplicate id 'hba1c_baseline_ucmsc_mean'")
    assert _line("hba1c_baseline_ucmsc_mean") in msg and _line("hba1c_end_ucmsc_mean") in msg


@pytest.mark.parametrize(
    ("ident", "col", "bad", "needle"),
    [
        ("primary_p", "unit", "", "every numeric row needs a unit"),
        ("primary_p", "statistic", "median", "'median' is not one of"),
        ("primary_p", "arm", "placebo", "'placebo' is not one of"),
        ("primary_p", "publication", "zang2024", "'zang2024' is not one of"),
        ("primary_p", "timepoint", "week 47", "'week 47' is not one of"),
        ("gir_end_placebo", "decimals", "1", "written with 2 decimal place(s)"),
        ("gir_end_placebo", "decimals", "two", "not a non-negative integer"),
        ("primary_p", "tag", "X", "'X' is not one or more of"),
        ("primary_p", "tag", "", "is not one or more of"),
        ("primary_p", "source", "", "does not match tag"),
        ("primary_p", "source", "the abstract", "does not match tag"),
        ("primary_p", "text", "p < 0.05", "must be empty for a numeric row"),
        ("safety", "value", "1", "must be empty for a 'text' row"),
        ("safety", "text", "", "a 'text' row states its fact in 'text'"),
        ("study_start_registry", "text", "January 2013", "not a month as YYYY-MM"),
        ("primary_p", "value", "", "numeric row needs a value"),
        ("primary_p", "value", "5e-2", "not a plain decimal number"),
        ("primary_p", "quantity", "", "empty"),
    ],
)
def test_one_fault_each(tmp_path: Path, ident: str, col: str, bad: str, needle: str) -> None:
    p = _variant(tmp_path, _set(ident, col, bad))
    _fails(p, f"column {col!r}", _line(ident), f"id {ident!r}", needle)


def test_bad_id(tmp_path: Path) -> None:
    p = _variant(tmp_path, _set("primary_p", "id", "Primary-P"))
    _fails(p, "column 'id'", _line("primary_p"), "'Primary-P' is not a snake_case key")


def test_all_faults_are_listed_together(tmp_path: Path) -> None:
    def change(raw: pd.DataFrame) -> None:
        _set("primary_p", "unit", "")(raw)
        _set("primary_ucmsc", "value", "twenty")(raw)

    msg = _fails(_variant(tmp_path, change), "2 problem(s)", "column 'unit'", "column 'value'")
    assert _line("primary_p") in msg and _line("primary_ucmsc") in msg


def test_ragged_csv(tmp_path: Path) -> None:
    text = published.DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
    text[5] += ",extra,cells"
    p = tmp_path / "ragged.csv"
    p.write_text("\n".join(text) + "\n", encoding="utf-8")
    _fails(p, "cannot be read as CSV", "line 6")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("", encoding="utf-8")
    _fails(p, "cannot be read as CSV")


def test_line_break_in_a_cell(tmp_path: Path) -> None:
    p = _variant(tmp_path, _set("safety", "note", "two\nlines"))
    _fails(p, "column 'note'", f"id {'safety'!r}", "line break")


# --------------------------------------------------------------------------- implications
def test_prints_as_decides_ties_exactly_by_rule():
    from fractions import Fraction

    five_32 = Fraction(500, 32)  # 15.625 % exactly
    assert not published.prints_as(five_32, 15.62, 2, "half-up")
    assert published.prints_as(five_32, 15.63, 2, "half-up")
    assert published.prints_as(five_32, 15.62, 2, "half-even")
    assert published.prints_as(five_32, 15.62, 2, "any") and published.prints_as(
        five_32, 15.63, 2, "any"
    )
    assert published.prints_as(Fraction(200, 44), 4.55, 2)  # 4.5454...
    assert not published.prints_as(Fraction(200, 45), 4.55, 2)  # 4.444...
    with pytest.raises(ValueError, match="rounding must be one of"):
        published.prints_as(0.1, 0.1, 1, "up")


def test_implied_counts_lists_every_fraction_that_prints_as_the_percentage():
    placebo = published.implied_counts("primary_placebo", n_max=46)
    assert list(zip(placebo.x, placebo.n, strict=True)) == [(1, 22), (2, 44)]
    ucmsc = published.implied_counts("primary_ucmsc", n_max=45)
    assert (9, 45) in set(zip(ucmsc.x, ucmsc.n, strict=True))
    assert (9, 44) in set(zip(ucmsc.x, ucmsc.n, strict=True))  # 20.45 prints as "20"
    share = published.implied_counts("insulin_reduction_placebo", n_max=46, rounding="half-up")
    assert share.empty  # 15.62 is no x/n <= 46 under half-up rounding
    with pytest.raises(ValueError, match="not a percentage"):
        published.implied_counts("hba1c_baseline_ucmsc_mean", n_max=45)


def test_implied_counts_equals_the_exact_test_of_every_fraction():
    """The floating-point pre-selection keeps every x/n the exact rational test accepts:
    the same rows as testing every fraction, for every percentage fact and rule."""
    from fractions import Fraction

    facts = published.load()
    percents = facts.loc[facts["unit"].isin(["%", "% of patients"]), "id"]
    assert len(percents) >= 5
    for ident in percents:
        r = published.row(ident)
        for rounding in published.ROUNDING_RULES:
            for n_min, n_max in ((1, 46), (10, 120)):
                want = [
                    (x, n, 100 * x / n)
                    for n in range(n_min, n_max + 1)
                    for x in range(n + 1)
                    if published.prints_as(
                        Fraction(100 * x, n), float(r["value"]), int(r["decimals"]), rounding
                    )
                ]
                got = published.implied_counts(ident, n_max, n_min, rounding)
                assert list(got.itertuples(index=False, name=None)) == want


def test_lookups_see_an_edited_file(tmp_path: Path) -> None:
    """Rows and printed values are cached per file version: an edit is seen at once."""
    path = _variant(tmp_path, lambda raw: None)
    ident = "hba1c_baseline_ucmsc_mean"
    assert published.value(ident, path) == 9.02
    assert published.table(path=path).loc[ident, "reported"] == "9.02"
    _variant(tmp_path, _set(ident, "value", "19.02"))  # the same file, rewritten
    assert published.value(ident, path) == 19.02
    assert published.row(ident, path)["value"] == 19.02
    assert published.table(path=path).loc[ident, "reported"] == "19.02"
    copy = published.row(ident, path)
    copy["value"] = 0.0  # a returned row is the caller's own
    assert published.value(ident, path) == 19.02
