"""trialkit.stats.design against closed forms written out here (binomial sums with
math.comb, the hypergeometric end of a block, Matts & Lachin 1988), a brute-force
enumeration of every block sequence for small trials, and pandas counts of ADSL."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from trialkit import stats
from trialkit.stats import design

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC_ADSL = ROOT / "data" / "synthetic" / "ADSL.csv"
BYOD_ADSL = ROOT / "tests" / "fixtures" / "byod" / "ADSL.csv"


# --------------------------------------------------------------------------- references
def simple_tail(n: int, at_least: int) -> Fraction:
    """P(|n1 - n2| >= at_least), n1 ~ Binomial(n, 1/2), as an exact fraction."""
    hits = sum(math.comb(n, k) for k in range(n + 1) if abs(2 * k - n) >= at_least)
    return Fraction(hits, 2**n)


def enumerate_blocks(n: int, sizes: tuple[int, ...]) -> dict[tuple[int, ...], Fraction]:
    """Every assignment sequence of the first n patients under permuted blocks whose sizes
    are drawn uniformly from ``sizes``, with its exact probability (brute force)."""
    out: dict[tuple[int, ...], Fraction] = {}

    def grow(prefix: tuple[int, ...], prob: Fraction) -> None:
        if len(prefix) >= n:
            key = prefix[:n]
            out[key] = out.get(key, Fraction(0)) + prob
            return
        for b in sizes:
            perms = set(itertools.permutations([1] * (b // 2) + [0] * (b // 2)))
            for block in perms:
                grow(prefix + block, prob / len(sizes) / len(perms))

    grow((), Fraction(1))
    return out


def convergence_correct(seq: tuple[int, ...]) -> Fraction:
    """Expected correct guesses along one sequence: guess the arm behind, coin if tied."""
    total, d = Fraction(0), 0
    for a in seq:
        if d == 0:
            total += Fraction(1, 2)
        else:
            total += 1 if (a == 1) == (d < 0) else 0
        d += 1 if a == 1 else -1
    return total


# --------------------------------------------------------------------------- simple
@pytest.mark.parametrize("at_least", [0, 1, 3, 5, 7, 11, 21])
def test_simple_randomization_imbalance_is_the_binomial_sum(at_least):
    got = stats.imbalance(91, at_least, "simple")
    assert got.probability == pytest.approx(float(simple_tail(91, at_least)), rel=1e-12)
    assert got.largest == 91


def test_simple_randomization_91_patients_written_out():
    # n odd: an imbalance of at least 1 is certain; 45 vs 46 (either way) has
    # probability 2 C(91, 45) / 2^91
    assert stats.imbalance(91, 1).probability == 1.0
    assert stats.imbalance(91, 3).balanced == pytest.approx(2 * math.comb(91, 45) / 2**91)
    dist = stats.imbalance_distribution(91)
    assert dist["probability"].sum() == pytest.approx(1, abs=1e-12)
    assert (dist["uc_msc"] + dist["placebo"] == 91).all()
    # E|2 X - n| for X ~ Binomial(n, 1/2), by the sum
    expected = sum(abs(2 * k - 91) * math.comb(91, k) for k in range(92)) / 2**91
    assert stats.imbalance(91, 3).expected == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- blocks
def test_blocks_of_4_and_6_with_91_patients():
    # 91 = 22 x 4 + 3: the last block has 3 of its 4 places filled, 1 or 2 of them UC-MSC,
    # each with probability C(2,1) C(2,2) / C(4,3) = 1/2; 91 = 15 x 6 + 1: one patient
    for size in (4, 6):
        dist = stats.imbalance_distribution(91, "blocks", size)
        assert dist["difference"].tolist() == [-1, 1]
        assert dist["probability"].tolist() == pytest.approx([0.5, 0.5], abs=1e-15)
    # 90 = 22 x 4 + 2: two of a block of 4 -> imbalance +-2 with probability
    # 2 C(2,2) / C(4,2) = 1/3, else 0
    dist = stats.imbalance_distribution(90, "blocks", 4).set_index("difference")["probability"]
    assert dist.to_dict() == pytest.approx({-2: 1 / 6, 0: 2 / 3, 2: 1 / 6})
    assert stats.imbalance(90, 2, "blocks", 4).probability == pytest.approx(1 / 3)


@pytest.mark.parametrize("n, sizes", [(7, (2, 4)), (9, (4,)), (10, (2, 4)), (11, (4, 6))])
def test_blocks_agree_with_brute_force_enumeration(n, sizes):
    seqs = enumerate_blocks(n, sizes)
    assert sum(seqs.values()) == 1
    exact: dict[int, Fraction] = {}
    correct = Fraction(0)
    forced_total = Fraction(0)
    for seq, p in seqs.items():
        d = 2 * sum(seq) - n
        exact[d] = exact.get(d, Fraction(0)) + p
        correct += p * convergence_correct(seq)
    dist = stats.imbalance_distribution(n, "blocks", sizes).set_index("difference")
    assert set(dist.index) == set(exact)
    for d, p in exact.items():
        assert dist.loc[d, "probability"] == pytest.approx(float(p), abs=1e-14)
    pred = stats.predictability(n, "blocks", sizes)
    assert pred.correct == pytest.approx(float(correct / n), abs=1e-14)
    if len(sizes) == 1:  # forced: the rest of a block once one arm is full
        b = sizes[0]
        for seq, p in seqs.items():
            for start in range(0, n, b):
                block = seq[start : start + b]
                for r in range(len(block)):
                    h = sum(block[:r])
                    forced_total += p * (h == b // 2 or r - h == b // 2)
        assert pred.forced == pytest.approx(float(forced_total / n), abs=1e-14)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_predictability_of_fixed_blocks_is_matts_and_lachin(m):
    # Matts & Lachin (1988): expected correct guesses per block of 2m with the
    # convergence strategy = m + 2^(2m-1) / C(2m, m) - 1/2
    b = 2 * m
    per_block = m + 2 ** (2 * m - 1) / math.comb(2 * m, m) - 0.5
    got = stats.predictability(10 * b, "blocks", b)
    assert got.correct == pytest.approx(per_block / b, rel=1e-12)
    assert got.excess == pytest.approx(per_block / b - 0.5)
    assert stats.predictability(91, "simple").correct == 0.5


def test_simulated_sequences_agree_with_the_exact_distribution():
    for sizes in ((4,), (4, 6)):
        seq = stats.simulate_allocation(91, "blocks", sizes, reps=40_000, seed=3)
        assert seq.shape == (40_000, 91) and seq.dtype == np.int8
        d = (2 * seq.astype(int) - 1).cumsum(axis=1)
        assert np.abs(d).max() <= max(sizes) // 2
        exact = stats.imbalance_distribution(91, "blocks", sizes)
        for row in exact.itertuples():
            p = float(np.mean(d[:, -1] == row.difference))
            se = math.sqrt(row.probability * (1 - row.probability) / 40_000)
            assert abs(p - row.probability) <= 4 * se + 1e-12
    blocks4 = stats.simulate_allocation(92, "blocks", 4, reps=1000, seed=1).reshape(1000, 23, 4)
    assert (blocks4.sum(axis=2) == 2).all()  # every block of 4 holds 2 of each arm
    simple = stats.simulate_allocation(91, "simple", reps=40_000, seed=2).sum(axis=1)
    p = float(np.mean(np.abs(2 * simple - 91) >= 3))
    want = float(simple_tail(91, 3))
    assert abs(p - want) < 4 * math.sqrt(want * (1 - want) / 40_000)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: stats.imbalance(0, 1), "n"),
        (lambda: stats.imbalance(91, -1), "at_least"),
        (lambda: stats.imbalance(91, 3, "urn"), "scheme"),
        (lambda: stats.imbalance_distribution(91, "blocks", (3,)), "block_sizes"),
        (lambda: stats.imbalance_distribution(91, "blocks", (4, 4)), "block_sizes"),
        (lambda: stats.imbalance_distribution(91, "blocks", (4, 6), [1]), "weights"),
        (lambda: stats.simulate_allocation(91, reps=0), "reps"),
    ],
)
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- CONSORT
def pandas_consort(path: Path) -> dict:
    """The CONSORT counts, per arm, with plain pandas."""
    adsl = pd.read_csv(path, dtype=str, keep_default_na=False)
    rand = adsl[adsl["RANDFL"] == "Y"]
    out: dict = {}
    for arm, g in rand.groupby("ARM"):
        gone = g[g["DCSREAS"].str.strip() != ""]
        out[arm] = {
            "randomized": len(g),
            "discontinued": len(gone),
            "completed": len(g) - len(gone),
            "analysed": int((g["FASFL"] == "Y").sum()),
            "not_analysed": int((g["FASFL"] != "Y").sum()),
            "per_protocol": int((g["PPSFL"] == "Y").sum()),
            "reasons": gone["DCSREAS"].value_counts().to_dict(),
        }
    return out


@pytest.mark.parametrize("path", [SYNTHETIC_ADSL, BYOD_ADSL], ids=["synthetic", "byod"])
def test_consort_flow_matches_pandas(path):
    adsl = pd.read_csv(path, dtype={"USUBJID": str}, keep_default_na=False)
    flow = stats.consort_flow(adsl).as_dict()
    for arm, want in pandas_consort(path).items():
        for key in ("randomized", "discontinued", "completed", "analysed", "not_analysed"):
            assert flow[key][arm] == want[key], (arm, key)
        assert flow["per_protocol"][arm] == want["per_protocol"]
        assert flow["reasons"][arm] == want["reasons"]
    assert flow["synthetic"] is (path == SYNTHETIC_ADSL)
    assert flow["total_randomized"] == len(adsl)


def test_consort_figure_draws_the_counted_numbers():
    from trialkit import cohort, plots

    adsl = cohort.load()["ADSL"]
    flow = stats.consort_flow(adsl)
    ax = plots.consort(adsl)
    texts = "\n".join(t.get_text() for t in ax.texts + ax.figure.texts)
    assert f"Randomized (n = {flow.total_randomized})" in texts
    for arm in flow.arms:
        assert f"Allocated to {arm}\n(n = {flow.randomized[arm]})" in texts
        assert f"Analysed, full analysis set (n = {flow.analysed[arm]})" in texts
        for why, k in flow.reasons[arm].items():
            assert f"{why}: {k}" in texts
    assert "RECONSTRUCTED: synthetic patients" in texts  # data/synthetic: the reconstruction
    # the analyst's own data: not captioned synthetic
    own = plots.consort(cohort.load(str(BYOD_ADSL.parent))["ADSL"])
    words = "\n".join(t.get_text() for t in own.figure.texts)
    assert "SYNTHETIC" not in words and "RECONSTRUCTED" not in words
    import matplotlib.pyplot as plt

    plt.close("all")


def test_consort_flow_errors():
    adsl = pd.read_csv(SYNTHETIC_ADSL, keep_default_na=False)
    with pytest.raises(ValueError, match="FASFL"):
        stats.consort_flow(adsl.drop(columns="FASFL"))
    with pytest.raises(ValueError, match="USUBJID"):
        stats.consort_flow(pd.concat([adsl, adsl.head(1)]))
    with pytest.raises(ValueError, match="ARM"):
        stats.consort_flow(adsl.assign(ARM="Active"))


def test_module_is_exported_from_stats():
    for name in design.__all__:
        assert getattr(stats, name) is getattr(design, name)


# --------------------------------------------------------------------------- fast paths
# The per-item computations the fast paths replaced, kept as references: the distribution
# summed over every possible start of the last block with a fresh renewal sequence and
# hypergeometric probabilities per call, and the sequences drawn by sorting every block
# (argsort) and removing the padding by a stable sort.
def reference_distribution(n: int, scheme: str, sizes: tuple[int, ...], q: np.ndarray):
    # the binomial and hypergeometric probabilities as the nearest floats to the exact
    # fractions (Python's int / int is correctly rounded), as trialkit computes them
    if scheme == "simple":
        return np.arange(n + 1), np.array([math.comb(n, k) / 2**n for k in range(n + 1)])
    u = np.zeros(n + 1)
    u[0] = 1.0
    for s in range(1, n + 1):
        u[s] = sum(qb * u[s - b] for b, qb in zip(sizes, q, strict=True) if b <= s)
    prob = np.zeros(n + 1)
    for s in range(n + 1):
        r = n - s
        if u[s] == 0:
            continue
        for b, qb in zip(sizes, q, strict=True):
            if b <= r:
                continue
            if r == 0:
                prob[n // 2] += u[s] * qb
                continue
            h = np.arange(r + 1)
            end = [math.comb(b // 2, i) * math.comb(b - b // 2, r - i) / math.comb(b, r) for i in h]
            prob[s // 2 + h] += u[s] * qb * np.array(end)
    return np.arange(n + 1), prob


def reference_sequences(n, sizes, q, reps, seed):
    rng = np.random.default_rng(seed)
    k, bmax = -(-n // min(sizes)), max(sizes)
    out = np.empty((reps, n), dtype=np.int8)
    chunk = max(1, 2_000_000 // (k * bmax))
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        size = rng.choice(np.asarray(sizes), size=(m, k), p=q)
        slot = np.arange(bmax)
        cell = np.where(slot < size[..., None] // 2, 1, 0)
        cell = np.where(slot < size[..., None], cell, 2)
        keys = rng.random((m, k, bmax))
        keys[cell == 2] = 2.0
        cell = np.take_along_axis(cell, np.argsort(keys, axis=2), axis=2).reshape(m, k * bmax)
        keep = np.argsort(cell == 2, axis=1, kind="stable")[:, :n]
        out[start : start + m] = np.take_along_axis(cell, keep, axis=1)
    return out


FAST_CASES = [
    ("simple", (4,), None),
    ("blocks", (4,), None),
    ("blocks", (2,), None),
    ("blocks", (4, 6), None),
    ("blocks", (6, 4), None),
    ("blocks", (2, 4, 6), (1, 2, 3)),
]


@pytest.mark.parametrize(("scheme", "sizes", "weights"), FAST_CASES)
def test_distribution_equals_the_per_start_sum_bit_for_bit(scheme, sizes, weights):
    _, q = design._blocks(sizes, weights)
    for n in [*range(1, 100), 131, 200]:  # cached renewal runs of several lengths
        got = stats.imbalance_distribution(n, scheme, sizes, weights)
        n1, prob = reference_distribution(n, scheme, sizes, q)
        keep = prob > 0
        assert got["uc_msc"].tolist() == n1[keep].tolist()
        assert got["difference"].tolist() == (2 * n1[keep] - n).tolist()
        assert np.array_equal(got["probability"].to_numpy(), prob[keep])  # identical floats
        assert got.attrs == {"scheme": stats.scheme_name(scheme, sizes), "n": n}


@pytest.mark.parametrize("n", [1, 2, 91, 500, design._EXACT_UP_TO, design._EXACT_UP_TO + 1])
def test_simple_distribution_agrees_with_scipy_binomial(n):
    # exact integers up to _EXACT_UP_TO patients, scipy's binomial beyond: both agree with
    # scipy.stats.binom to its accuracy, and sum to 1
    from scipy import stats as sps

    dist = stats.imbalance_distribution(n)
    got = pd.Series(dist["probability"].to_numpy(), index=dist["uc_msc"]).reindex(range(n + 1))
    want = sps.binom.pmf(np.arange(n + 1), n, 0.5)
    normal = want > 1e-300  # beyond, both underflow to subnormals or 0 (rows left out)
    assert np.allclose(got[normal], want[normal], rtol=1e-11, atol=0)
    assert dist["probability"].sum() == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize(("b", "r"), [(2, 1), (4, 1), (4, 3), (6, 5), (8, 3), (12, 11)])
def test_block_end_agrees_with_scipy_hypergeometric(b, r):
    from scipy import stats as sps

    want = sps.hypergeom.pmf(np.arange(r + 1), b, b // 2, r)
    assert np.allclose(design._block_end(b, r), want, rtol=1e-14, atol=0)


def test_distribution_cache_hands_out_independent_tables():
    first = stats.imbalance_distribution(91, "blocks", (4, 6))
    first["probability"] = 0.0
    first.attrs["scheme"] = "changed"
    again = stats.imbalance_distribution(91, "blocks", (4, 6))
    assert again["probability"].sum() == pytest.approx(1, abs=1e-12)
    assert again.attrs["scheme"] == "blocks of 4 or 6 (random)"


@pytest.mark.parametrize(("scheme", "sizes", "weights"), FAST_CASES[1:])
@pytest.mark.parametrize(("n", "reps", "seed"), [(91, 20_000, 2022), (7, 500, 1), (1, 10, 0)])
def test_sequences_equal_the_argsort_draw(scheme, sizes, weights, n, reps, seed):
    # (91, 20_000) spans two chunks for blocks of 4 or 6: the random stream is the same
    _, q = design._blocks(sizes, weights)
    got = stats.simulate_allocation(n, scheme, sizes, weights, reps=reps, seed=seed)
    want = reference_sequences(n, sizes, q, reps, seed)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_sequences_equal_the_argsort_draw_over_many_chunks():
    _, q = design._blocks((2, 4, 6), (1, 2, 3))
    got = stats.simulate_allocation(13, "blocks", (2, 4, 6), (1, 2, 3), reps=130_000, seed=3)
    assert np.array_equal(got, reference_sequences(13, (2, 4, 6), q, 130_000, 3))
