"""Notebook 01 (trial design), results checked.

References, written out here: the CONSORT counts by plain pandas from the ADSL files
(data/synthetic and the hand-made tests/fixtures/byod); the imbalance probabilities of
simple randomization as binomial sums (math.comb); those of permuted blocks from the
hypergeometric end of the last block and, for random block sizes, the renewal
probability counted over compositions of block sizes; the predictability of blocks by
Matts & Lachin's (1988) closed form plus the unfinished block worked out by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from trialkit import cohort, derive, plots, run, stats, tables

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
BYOD = ROOT / "tests" / "fixtures" / "byod"
NAME = "01_trial_design"


@pytest.fixture(scope="module")
def nb01(reports) -> dict:
    report = json.loads((reports / f"{NAME}.json").read_text())
    # the values below are worked out for the default parameters
    p = report["parameters"]
    assert (p["n_patients"], p["block_size"], p["random_block_sizes"]) == (91, 4, "4,6")
    assert p["data_dir"] == ""
    return report["records"]


def consort_by_pandas(folder: Path) -> dict:
    adsl = pd.read_csv(folder / "ADSL.csv", dtype=str, keep_default_na=False)
    rand = adsl[adsl["RANDFL"] == "Y"]
    out: dict = {k: {} for k in ("randomized", "discontinued", "analysed", "not_analysed")}
    out["reasons"] = {}
    for arm in ("UC-MSC", "Placebo"):
        g = rand[rand["ARM"] == arm]
        gone = g[g["DCSREAS"] != ""]
        out["randomized"][arm] = len(g)
        out["discontinued"][arm] = len(gone)
        out["analysed"][arm] = int((g["FASFL"] == "Y").sum())
        out["not_analysed"][arm] = int((g["FASFL"] != "Y").sum())
        out["reasons"][arm] = gone["DCSREAS"].value_counts().to_dict()
    return out


def check_consort(recorded: dict, folder: Path) -> None:
    want = consort_by_pandas(folder)
    for key, per_arm in want.items():
        assert recorded[key] == per_arm, key
    assert recorded["total_randomized"] == sum(want["randomized"].values())


# --------------------------------------------------------------------------- CONSORT
def test_consort_counts_match_the_synthetic_adsl(nb01):
    check_consort(nb01["consort"], ROOT / "data" / "synthetic")
    c = nb01["consort"]
    assert c["synthetic"] is True
    # what the published percentages imply: 45/45 and 44/46 analysed
    assert c["randomized"] == {"UC-MSC": 45, "Placebo": 46}
    assert c["analysed"] == {"UC-MSC": 45, "Placebo": 44}


def test_consort_counts_for_an_analysts_own_adsl(tmp_path):
    outcome = run.render(
        only=["01"], out=tmp_path, parameters={"data_dir": str(BYOD), "n_sequences": 500}, jobs=1
    )[0]
    assert outcome.ok, outcome.message
    rec = json.loads((tmp_path / f"{NAME}.json").read_text())["records"]
    check_consort(rec["consort"], BYOD)
    assert rec["consort"]["synthetic"] is False
    assert rec["consort"]["discontinued"] == {"UC-MSC": 0, "Placebo": 1}  # 0106, README


# --------------------------------------------------------------------------- randomization
def binomial_tail(n: int, k: int) -> float:
    return sum(math.comb(n, j) for j in range(n + 1) if abs(2 * j - n) >= k) / 2**n


def renewal_4_6(s: int) -> float:
    """P(a block of 4 or 6 (each with probability 1/2) ends right after patient s):
    a sum over the ways to write s as a4 fours and a6 sixes, in any order."""
    return sum(
        math.comb(a4 + a6, a4) / 2 ** (a4 + a6)
        for a6 in range(s // 6 + 1)
        for a4 in [(s - 6 * a6) // 4]
        if 4 * a4 + 6 * a6 == s
    )


def test_imbalance_probabilities(nb01):
    p = nb01["randomization.p_imbalance"]
    for k in ("1", "3", "5", "11"):
        assert p["simple"][k] == pytest.approx(binomial_tail(91, int(k)), rel=1e-12)
    # 91 = 22 x 4 + 3: the unfinished block holds 1 or 2 UC-MSC of its 3: |diff| = 1 always
    assert p["blocks of 4"] == {"1": 1.0, "3": 0.0, "5": 0.0, "11": 0.0}
    # random blocks of 4 or 6: |diff| = 3 only when a block of 6 started after patient 88
    # (probability u(88) / 2) and its first 3 places went to one arm (2 / C(6, 3) = 0.1)
    random = p["blocks of 4 or 6 (random)"]
    assert random["3"] == pytest.approx(0.5 * renewal_4_6(88) * 2 / math.comb(6, 3), rel=1e-10)
    assert random["5"] == 0.0 and random["1"] == pytest.approx(1.0)
    assert nb01["randomization.largest_imbalance"] == {
        "simple": 91,
        "blocks of 4": 1,
        "blocks of 4 or 6 (random)": 3,
    }
    equal = nb01["randomization.p_as_equal_as_possible"]
    assert equal["simple"] == pytest.approx(2 * math.comb(91, 45) / 2**91, rel=1e-12)
    assert equal["blocks of 4"] == 1.0


def test_simulated_sequences_agree_with_the_exact_probabilities(nb01):
    sim = nb01["randomization.p_imbalance_simulated"]
    assert sim["at_least"] == 3
    exact = nb01["randomization.p_imbalance"]
    reps = 20_000  # the default n_sequences
    for scheme, p in exact.items():
        se = math.sqrt(p["3"] * (1 - p["3"]) / reps)
        assert abs(sim[scheme] - p["3"]) <= 4 * se + 1e-12, scheme


def test_predictability(nb01):
    pred = nb01["randomization.predictability"]
    # Matts & Lachin: a full block of 2m gives m + 2^(2m-1)/C(2m, m) - 1/2 correct guesses
    full4 = 2 + 2**3 / math.comb(4, 2) - 0.5
    # the unfinished block's first 3 places: 1/2, then 2/3 (guess the arm not drawn),
    # then 1/2 if the first two differ (prob 2/3) else certain: 2/3 * 1/2 + 1/3 = 2/3
    partial = 0.5 + 2 / 3 + 2 / 3
    assert pred["blocks of 4"]["correct"] == pytest.approx((22 * full4 + partial) / 91, rel=1e-12)
    assert pred["blocks of 2"]["correct"] == pytest.approx((45 * 1.5 + 0.5) / 91, rel=1e-12)
    assert pred["blocks of 2"]["forced"] == pytest.approx(45 / 91, rel=1e-12)
    assert pred["simple"] == {"correct": 0.5, "forced": 0.0}
    assert 0.5 < pred["blocks of 4 or 6 (random)"]["correct"] < pred["blocks of 4"]["correct"]


def test_schedule_and_eligibility(nb01):
    assert nb01["schedule.infusion_weeks"] == [0, 4, 8]  # 3 infusions, 4 weeks apart
    assert nb01["schedule.visit_weeks_assumed"][-1] == 48
    # 26 registry criteria: 17 "incl_" ids, of which the 3 drug classes not allowed are
    # exclusions, and 9 "excl_" ids
    assert nb01["eligibility.rows"] == {"include": 14, "exclude": 12}


# --------------------------------------------------------------------------- trial tables
def figure_counts(adsl: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Every count drawn in the CONSORT figure, read back from the figure's text boxes:
    {arm: {box line: n}}, matched to its arm by the box's x position."""
    import re

    import matplotlib.pyplot as plt

    ax = plots.consort(adsl)
    boxes = [(t.get_position()[0], t.get_text()) for t in ax.texts if "n = " in t.get_text()]
    arms = {0.3: "UC-MSC", 0.76: "Placebo"}
    out: dict[str, dict[str, int]] = {a: {} for a in arms.values()}
    for x, words in boxes:
        if x not in arms:
            continue
        for line in words.replace("\n(n = ", " (n = ").splitlines():
            m = re.match(r"\s*(.+?) \(n = (\d+)\)$", line) or re.match(r"\s+(.+): (\d+)$", line)
            if m:
                out[arms[x]][m.group(1)] = int(m.group(2))
    plt.close(ax.figure)
    return out


@pytest.mark.parametrize("folder", [ROOT / "data" / "synthetic", BYOD], ids=["synthetic", "byod"])
def test_disposition_table_agrees_with_the_consort_figure(folder):
    adsl = cohort.load(folder if folder == BYOD else "")["ADSL"]
    table = tables.disposition(adsl)
    drawn = figure_counts(adsl)
    for arm, counts in drawn.items():
        got = {
            "Allocated to " + arm: table.loc["Randomized", arm],
            "Completed 48 weeks": table.loc["Completed follow-up", arm],
            "Discontinued": table.loc["Discontinued", arm],
            "Analysed, full analysis set": table.loc["Analysed (full analysis set)", arm],
            "Not analysed": table.loc["Not analysed", arm],
            "Per-protocol set": table.loc["Per-protocol set", arm],
        }
        reasons = {r.strip(): table.loc[r, arm] for r in table.index if r.startswith("  ")}
        got |= {r: k for r, k in reasons.items() if k}
        assert counts == got, arm
    # and both agree with plain pandas on the ADSL file
    want = consort_by_pandas(folder)
    for arm in ("UC-MSC", "Placebo"):
        assert table.loc["Randomized", arm] == want["randomized"][arm]
        assert table.loc["Discontinued", arm] == want["discontinued"][arm]
        assert table.loc["Analysed (full analysis set)", arm] == want["analysed"][arm]
    assert table.loc["Randomized", "Total"] == sum(want["randomized"].values())


def test_disposition_is_recorded_from_the_notebook(nb01):
    rows = {r["patients"]: r for r in nb01["disposition"]}
    want = consort_by_pandas(ROOT / "data" / "synthetic")
    for arm in ("UC-MSC", "Placebo"):
        assert rows["Randomized"][arm] == want["randomized"][arm]
        assert rows["Not analysed"][arm] == want["not_analysed"][arm]


def test_baseline_table_by_hand():
    """Table 1 cells against plain pandas: mean (SD) with ddof 1, median [Q1, Q3], n (%)."""
    data = cohort.load("")
    adsl = data["ADSL"]
    adlb = derive.derive_adlb(data["ADLB"])
    t1 = tables.baseline_table(adsl, adlb, derive.derive_adex(data["ADEX"]))
    raw = pd.read_csv(ROOT / "data" / "synthetic" / "ADSL.csv")
    raw = raw[raw["RANDFL"] == "Y"]
    lab = pd.read_csv(ROOT / "data" / "synthetic" / "ADLB.csv")
    for arm, g in raw.groupby("ARM"):
        col = f"{arm} (n = {len(g)})"
        assert t1.loc["Age (years), mean (SD)", col] == f"{g.AGE.mean():.1f} ({g.AGE.std():.1f})"
        k = int((g.SEX == "F").sum())
        assert t1.loc["Female, n (%)", col] == f"{k} ({round(100 * k / len(g))}%)"
        q = g.DIABDUR.quantile([0.25, 0.5, 0.75]).to_numpy()
        assert t1.loc["Diabetes duration (years), median [IQR]", col] == (
            f"{q[1]:.1f} [{q[0]:.1f}, {q[2]:.1f}]"
        )
        base = lab[
            (lab.PARAMCD == "HBA1C") & (lab.AVISIT == "Baseline") & lab.USUBJID.isin(g.USUBJID)
        ]
        assert (
            t1.loc["HbA1c (%), mean (SD)", col] == f"{base.AVAL.mean():.2f} ({base.AVAL.std():.2f})"
        )
    assert not any("p" == c.lower() or "p-value" in c.lower() for c in t1.columns)
    smd = tables.standardized_differences(t1)
    v = t1.attrs["values"]["Age (years), mean (SD)"]
    a, b = v["UC-MSC"], v["Placebo"]
    assert smd["Age (years), mean (SD)"] == pytest.approx(
        (a["mean"] - b["mean"]) / math.sqrt((a["sd"] ** 2 + b["sd"] ** 2) / 2)
    )


def test_flow_counting_is_shared():
    """One count: the figure draws stats.consort_flow and the table tabulates it."""
    adsl = cohort.load("")["ADSL"]
    flow = stats.consort_flow(adsl)
    pd.testing.assert_frame_equal(tables.disposition(flow), tables.disposition(adsl))
