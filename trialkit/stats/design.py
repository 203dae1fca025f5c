"""Trial design: randomization schemes and the CONSORT flow of a subject-level ADSL.

Randomization with two arms and 1:1 allocation, arm 1 = UC-MSC, arm 2 = placebo:

- ``"simple"``: every patient's arm is a fair coin toss, independent of all others;
- ``"blocks"``: permuted blocks. Each block holds ``b/2`` patients of each arm in random
  order; with one ``block_sizes`` entry every block has that size, with several each
  block's size is drawn independently (``weights``, equal by default): "random block
  sizes", which make the end of a block harder to guess.

The imbalance after ``n`` patients is ``D = n1 - n2`` (UC-MSC minus placebo).

- ``imbalance_distribution(n, ...)``: the exact distribution of ``D``. Simple
  randomization: ``n1 ~ Binomial(n, 1/2)``. Blocks: only the last, unfinished block can
  be unbalanced; with ``r`` of its ``b`` patients assigned, its UC-MSC count is
  hypergeometric (``b/2`` of ``b``, ``r`` drawn). With random sizes, where that block
  starts is a renewal process: ``u(s) = P(a block ends after patient s)`` obeys
  ``u(0) = 1, u(s) = sum_b q(b) u(s - b)``, and the last block starts at ``s`` with size
  ``b > n - s`` with probability ``u(s) q(b)``.
- ``imbalance(n, at_least, ...)``: ``P(|D| >= at_least)``, the largest possible ``|D|``
  and ``E|D|``, exactly.
- ``predictability(n, ...)``: how often a recruiter who knows the past assignments
  guesses the next one right with the "convergence strategy" (guess the arm with fewer
  patients so far; toss a coin when tied; Blackwell & Hodges 1957), and how many
  assignments are forced (the block's other arm is full), exactly, by the same
  decomposition: before the block's boundary the arms are balanced, so the running
  imbalance is the imbalance inside the current block.
- ``simulate_allocation(n, ..., reps, seed)``: assignment sequences drawn the long way
  (every block permuted), to check the exact results and to draw example sequences.

CONSORT (Schulz et al. 2010): ``consort_flow(adsl)`` counts, per arm, what a CONSORT
diagram shows from an ADSL (``trialkit.schema``): randomized (RANDFL), discontinued
with reasons (DCSREAS), completed, analysed (FASFL) and not analysed, per protocol
(PPSFL). ``trialkit.plots.consort`` draws it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trialkit.stats.results import _check_choice, _check_int

__all__ = [
    "SCHEMES",
    "ConsortFlow",
    "Imbalance",
    "Predictability",
    "consort_flow",
    "imbalance_summary",
    "imbalance",
    "imbalance_distribution",
    "predictability",
    "scheme_name",
    "simulate_allocation",
]

#: Randomization schemes this module knows.
SCHEMES: tuple[str, ...] = ("simple", "blocks")
#: The arms, as spelled in ADSL.ARM (arm 1 first).
ARMS: tuple[str, str] = ("UC-MSC", "Placebo")


# --------------------------------------------------------------------------- checks
def _check_n(n: Any, name: str = "n") -> int:
    n = _check_int(name, n)
    if n < 1:
        raise ValueError(f"{name} must be >= 1 patient, got {n}")
    return n


def _blocks(block_sizes: Any, weights: Any) -> tuple[tuple[int, ...], np.ndarray]:
    """Checked block sizes (even, >= 2, distinct) and their probabilities."""
    if isinstance(block_sizes, int | np.integer) and not isinstance(block_sizes, bool):
        block_sizes = (int(block_sizes),)
    if not isinstance(block_sizes, Sequence | np.ndarray) or len(block_sizes) == 0:
        raise ValueError(f"block_sizes must be a non-empty list of even sizes, got {block_sizes!r}")
    sizes = tuple(_check_int("block_sizes", b) for b in block_sizes)
    if any(b < 2 or b % 2 for b in sizes):
        raise ValueError(f"block_sizes must be even numbers >= 2 (1:1 allocation), got {sizes}")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"block_sizes must not repeat a size, got {sizes} (use weights)")
    if weights is None:
        q = np.full(len(sizes), 1 / len(sizes))
    else:
        q = np.asarray(weights, dtype=float)
        if q.shape != (len(sizes),) or not np.all(np.isfinite(q)) or np.any(q <= 0):
            raise ValueError(
                f"weights must be {len(sizes)} positive numbers, one per block size, "
                f"got {weights!r}"
            )
        q = q / q.sum()
    return sizes, q


def scheme_name(scheme: str, block_sizes: Sequence[int] | int = (4,)) -> str:
    """A readable name: "simple", "blocks of 4", "blocks of 4 or 6 (random)"."""
    _check_choice("scheme", scheme, SCHEMES)
    if scheme == "simple":
        return "simple"
    sizes, _ = _blocks(block_sizes, None)
    if len(sizes) == 1:
        return f"blocks of {sizes[0]}"
    return "blocks of " + ", ".join(map(str, sizes[:-1])) + f" or {sizes[-1]} (random)"


def _renewal(n: int, sizes: tuple[int, ...], q: np.ndarray) -> np.ndarray:
    """``u[s]`` = P(a block ends right after patient s), s = 0..n (u[0] = 1).

    ``u[s]`` depends only on ``u[:s]``, so the values for ``n`` are the first ``n + 1`` of a
    longer run: one cached run per (sizes, weights) serves every ``n`` up to its length."""
    length = max(128, 1 << n.bit_length())  # > n, a power of two: few distinct runs
    return _renewal_run(sizes, tuple(float(x) for x in q), length)[: n + 1].copy()


@functools.lru_cache(maxsize=64)
def _renewal_run(sizes: tuple[int, ...], q: tuple[float, ...], length: int) -> np.ndarray:
    u = np.zeros(length)
    u[0] = 1.0
    for s in range(1, length):
        u[s] = sum(qb * u[s - b] for b, qb in zip(sizes, q, strict=True) if b <= s)
    u.flags.writeable = False
    return u


#: Up to this many patients the binomial probabilities are exact (integers, one division
#: each: 25 ms at 10,000); beyond it scipy's ``binom.pmf`` (relative error about 1e-12).
_EXACT_UP_TO = 10_000


def _binomial_half(n: int) -> np.ndarray:
    """P(n1 = k), k = 0..n, for n fair coin tosses: ``comb(n, k) / 2**n``.

    Computed with Python's integers and one division per k, so each is the float nearest
    the exact value; this needs no scipy.stats (half a second to import, in a notebook
    that has no other use for it). Above ``_EXACT_UP_TO`` patients, scipy's binomial.
    """
    if n > _EXACT_UP_TO:
        from scipy import stats

        return stats.binom.pmf(np.arange(n + 1), n, 0.5)
    out = np.empty(n + 1)
    total, c = 1 << n, 1
    for k in range(n + 1):
        out[k] = c / total
        c = c * (n - k) // (k + 1)  # comb(n, k + 1), exactly
    return out


@functools.lru_cache(maxsize=256)
def _block_end(b: int, r: int) -> np.ndarray:
    """P(h UC-MSC patients among the first r of a permuted block of size b), h = 0..r:
    hypergeometric (b/2 UC-MSC places among b, r drawn), from exact integers with one
    division each."""
    half, total = b // 2, math.comb(b, r)
    ph = np.array([math.comb(half, h) * math.comb(b - half, r - h) / total for h in range(r + 1)])
    ph.flags.writeable = False
    return ph


# --------------------------------------------------------------------------- imbalance
def imbalance_distribution(
    n: int,
    scheme: str = "simple",
    block_sizes: Sequence[int] | int = (4,),
    weights: Sequence[float] | None = None,
) -> pd.DataFrame:
    """The exact distribution of the arm-size difference after ``n`` patients.

    Returns one row per possible difference ``D = n1 - n2`` (UC-MSC minus placebo), in
    increasing order, with columns ``difference``, ``uc_msc`` (n1), ``placebo`` (n2) and
    ``probability`` (summing to 1). ``scheme`` "simple" (fair coin per patient: binomial)
    or "blocks" (permuted blocks of ``block_sizes``, each block's size drawn with
    ``weights`` when there are several; see the module docstring for the computation).
    The result is a new table on every call (computed once per set of arguments).
    """
    n = _check_n(n)
    _check_choice("scheme", scheme, SCHEMES)
    if scheme == "simple":
        return _distribution(n, "simple", (), ()).copy()
    sizes, q = _blocks(block_sizes, weights)
    return _distribution(n, "blocks", sizes, tuple(float(x) for x in q)).copy()


@functools.lru_cache(maxsize=1024)
def _distribution(
    n: int, scheme: str, sizes: tuple[int, ...], q: tuple[float, ...]
) -> pd.DataFrame:
    """:func:`imbalance_distribution` for checked arguments (cached: callers copy)."""
    if scheme == "simple":
        prob = _binomial_half(n)
        name = "simple"
    else:
        u = _renewal(n, sizes, np.asarray(q))
        prob = np.zeros(n + 1)  # indexed by n1
        # only the last block can be unfinished: it started at s > n - max(sizes)
        for s in range(max(0, n - max(sizes) + 1), n + 1):
            r = n - s  # patients already in the unfinished block
            if u[s] == 0:  # no block ends there (e.g. after an odd number of patients)
                continue
            for b, qb in zip(sizes, q, strict=True):
                if b <= r:
                    continue
                if r == 0:  # a block ended exactly at n: D = 0 (n even here)
                    prob[n // 2] += u[s] * qb
                    continue
                # earlier blocks are balanced: n1 = s/2 + h, h UC-MSC among the r
                prob[s // 2 : s // 2 + r + 1] += u[s] * qb * _block_end(b, r)
        name = scheme_name("blocks", sizes)
    n1 = np.flatnonzero(prob > 0)
    out = pd.DataFrame(
        {"difference": 2 * n1 - n, "uc_msc": n1, "placebo": n - n1, "probability": prob[n1]}
    )
    out.attrs["scheme"] = name
    out.attrs["n"] = n
    return out


@dataclass(frozen=True)
class Imbalance:
    """How unequal the arms can be after ``n`` patients under a randomization scheme.

    ``probability`` is P(|n1 - n2| >= ``at_least``); ``largest`` the largest possible
    |n1 - n2|; ``expected`` E|n1 - n2|; ``balanced`` P(|n1 - n2| <= 1), the chance of arms
    as equal as ``n`` allows (e.g. 45 vs 46 for 91 patients). All exact.
    """

    n: int
    scheme: str
    at_least: int
    probability: float
    largest: int
    expected: float
    balanced: float
    method: str = "exact"

    def __str__(self) -> str:
        return (
            f"{self.scheme}, {self.n} patients: P(|imbalance| >= {self.at_least}) = "
            f"{self.probability:.4g}; largest possible {self.largest}, expected "
            f"{self.expected:.3g}; P(as equal as possible) = {self.balanced:.4g} ({self.method})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: n, scheme, at_least, probability, largest, expected, balanced, method."""
        return {
            "n": self.n,
            "scheme": self.scheme,
            "at_least": self.at_least,
            "probability": float(self.probability),
            "largest": self.largest,
            "expected": float(self.expected),
            "balanced": float(self.balanced),
            "method": self.method,
        }


def imbalance(
    n: int,
    at_least: int,
    scheme: str = "simple",
    block_sizes: Sequence[int] | int = (4,),
    weights: Sequence[float] | None = None,
) -> Imbalance:
    """P(|n1 - n2| >= ``at_least``) after ``n`` patients, exactly, with the largest
    possible and the expected |n1 - n2| (see ``imbalance_distribution``).

    With ``n`` odd, |n1 - n2| >= 1 is certain: ask about ``at_least`` = 3 or more.
    """
    at_least = _check_int("at_least", at_least)
    if at_least < 0:
        raise ValueError(f"at_least must be >= 0, got {at_least}")
    dist = imbalance_distribution(n, scheme, block_sizes, weights)
    d = dist["difference"].abs().to_numpy()
    p = dist["probability"].to_numpy()

    def prob(event: np.ndarray) -> float:  # 1 exactly when every possible imbalance counts
        return 1.0 if event.all() else float(min(1.0, p[event].sum()))

    return Imbalance(
        n=int(n),
        scheme=dist.attrs["scheme"],
        at_least=at_least,
        probability=prob(d >= at_least),
        largest=int(d.max()),
        expected=float((d * p).sum()),
        balanced=prob(d <= 1),
    )


# --------------------------------------------------------------------------- predictability
@dataclass(frozen=True)
class Predictability:
    """How guessable the next assignment is, over the first ``n`` patients.

    ``correct`` is the expected share of assignments a recruiter guesses right with the
    convergence strategy (guess the arm with fewer patients so far, a coin toss when
    tied): 0.5 means unpredictable. ``forced`` is the expected share of assignments
    fixed by earlier ones (one arm of the current block is full): a recruiter who knows
    the block size knows these for certain. ``excess`` = correct - 0.5, the
    Blackwell-Hodges selection-bias factor per patient.
    """

    n: int
    scheme: str
    correct: float
    forced: float
    method: str = "exact"

    @property
    def excess(self) -> float:
        return self.correct - 0.5

    def __str__(self) -> str:
        return (
            f"{self.scheme}, {self.n} patients: {100 * self.correct:.1f}% of assignments "
            f"guessed right (convergence strategy), {100 * self.forced:.1f}% forced "
            f"({self.method})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: n, scheme, correct, forced, excess, method."""
        return {
            "n": self.n,
            "scheme": self.scheme,
            "correct": float(self.correct),
            "forced": float(self.forced),
            "excess": float(self.excess),
            "method": self.method,
        }


@functools.lru_cache(maxsize=64)
def _within_block(b: int) -> tuple[np.ndarray, np.ndarray]:
    """P(correct guess) and P(forced) for the (r+1)-th patient of a block of size b."""
    m = b // 2
    correct, forced = np.zeros(b), np.zeros(b)
    for r in range(b):
        h = np.arange(r + 1)
        ph = _block_end(b, r)
        p_a = (m - h) / (b - r)  # P(next is UC-MSC | h UC-MSC among r)
        tie = 2 * h == r
        correct[r] = np.sum(ph * np.where(tie, 0.5, np.maximum(p_a, 1 - p_a)))
        forced[r] = np.sum(ph * ((h == m) | (r - h == m)))
    correct.flags.writeable = forced.flags.writeable = False
    return correct, forced


def predictability(
    n: int,
    scheme: str = "simple",
    block_sizes: Sequence[int] | int = (4,),
    weights: Sequence[float] | None = None,
) -> Predictability:
    """Expected share of correct guesses (convergence strategy) and of forced
    assignments among the first ``n`` patients, exactly.

    For blocks of fixed size ``2m`` and ``n`` a multiple of it, ``correct`` equals
    Matts & Lachin's (1988) ``(m + 2**(2m-1) / C(2m, m) - 1/2) / (2m)``. With random block
    sizes the strategy needs no knowledge of the sizes; ``forced`` then counts
    assignments that only a recruiter who knew each block's size could foresee.
    """
    n = _check_n(n)
    _check_choice("scheme", scheme, SCHEMES)
    name = scheme_name(scheme, block_sizes)
    if scheme == "simple":
        return Predictability(n, name, 0.5, 0.0)
    sizes, q = _blocks(block_sizes, weights)
    u = _renewal(n, sizes, q)
    correct = forced = 0.0
    for b, qb in zip(sizes, q, strict=True):
        c_b, f_b = _within_block(b)
        for r in range(b):
            # patients i = s + r + 1 <= n whose block of size b started after patient s
            w = qb * u[: max(0, n - r)].sum()
            correct += w * c_b[r]
            forced += w * f_b[r]
    return Predictability(n, name, correct / n, forced / n)


# --------------------------------------------------------------------------- simulation
def simulate_allocation(
    n: int,
    scheme: str = "simple",
    block_sizes: Sequence[int] | int = (4,),
    weights: Sequence[float] | None = None,
    reps: int = 10_000,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """``reps`` assignment sequences of ``n`` patients: an int8 array (reps, n), 1 for
    UC-MSC and 0 for placebo, in order of recruitment.

    Drawn the long way (a coin per patient; or every block's size drawn and its
    ``b/2 + b/2`` assignments permuted), independently of the exact computations, so it
    can check them. The running imbalance is ``(2 * seq - 1).cumsum(axis=1)``.
    """
    n = _check_n(n)
    reps = _check_n(reps, "reps")
    _check_choice("scheme", scheme, SCHEMES)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if scheme == "simple":
        return rng.integers(0, 2, size=(reps, n), dtype=np.int8)
    sizes, q = _blocks(block_sizes, weights)
    k = -(-n // min(sizes))  # enough blocks even if every block is the smallest
    bmax = max(sizes)
    out = np.empty((reps, n), dtype=np.int8)
    chunk = max(1, 2_000_000 // (k * bmax))
    slot = np.arange(bmax, dtype=np.int32)
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        size = rng.choice(np.asarray(sizes, dtype=np.int32), size=(m, k), p=q)[..., None]
        # each block: slots 0..b/2-1 are UC-MSC, b/2..b-1 placebo, then padding up to bmax;
        # the block is permuted by sorting random keys, padding (key 2) sorting last
        keys = rng.random((m, k, bmax))
        pad = slot >= size
        keys[pad] = 2.0
        order = np.argsort(keys, axis=2)  # the slot that comes at each place of the block
        cell = (order < size // 2).view(np.int8).reshape(m, k * bmax)
        if len(sizes) == 1:  # no padding
            out[start : start + m] = cell[:, :n]
            continue
        # drop the padding (the last places of each block), keep the order: first n places
        real = ~pad.reshape(m, k * bmax)
        real &= np.cumsum(real, axis=1, dtype=np.int32) <= n
        out[start : start + m] = cell[real].reshape(m, n)
    return out


def imbalance_summary(
    n: int,
    schemes: Mapping[str, tuple[str, Sequence[int]]],
    thresholds: Sequence[int] = (3,),
    *,
    at_least: int = 3,
    reps: int = 20_000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per scheme (``schemes``: name -> (scheme, block sizes)): the exact
    P(|n1 - n2| >= t) for every t in ``thresholds`` (columns "P(|diff| >= t)"), the share
    of ``reps`` simulated sequences with |n1 - n2| >= ``at_least`` ("simulated") and its
    Monte Carlo SE, the largest possible and the expected |n1 - n2|, and the chance of arms
    as equal as ``n`` allows ("as equal as possible"). Exact values from :func:`imbalance`,
    simulated ones from :func:`simulate_allocation`."""
    rows = []
    for name, (scheme, sizes) in schemes.items():
        sizes_ = tuple(sizes) or 4
        seq = simulate_allocation(n, scheme, sizes_, reps=reps, seed=seed)
        final = np.abs(2 * seq.sum(axis=1, dtype=int) - n)
        p_sim = float(np.mean(final >= at_least))
        exact = {t: imbalance(n, t, scheme, sizes_) for t in sorted(set(thresholds))}
        ref = imbalance(n, at_least, scheme, sizes_)
        rows.append(
            {"scheme": name}
            | {f"P(|diff| >= {t})": e.probability for t, e in exact.items()}
            | {
                "simulated": p_sim,
                "Monte Carlo SE": float(np.sqrt(p_sim * (1 - p_sim) / reps)),
                "largest possible": ref.largest,
                "expected |diff|": ref.expected,
                "as equal as possible": ref.balanced,
            }
        )
    out = pd.DataFrame(rows).set_index("scheme")
    out.attrs.update(n=n, at_least=at_least, reps=reps)
    return out


# --------------------------------------------------------------------------- CONSORT
@dataclass(frozen=True)
class ConsortFlow:
    """The counts of a CONSORT flow diagram, per arm, from an ADSL.

    Per arm (dicts keyed by arm, in ``arms`` order): ``randomized`` (RANDFL "Y"),
    ``discontinued`` (randomized with a DCSREAS), ``reasons`` ({reason: count}, most
    frequent first), ``completed`` (randomized without a DCSREAS), ``analysed``
    (randomized and FASFL "Y"), ``not_analysed`` (randomized, FASFL not "Y"),
    ``per_protocol`` (randomized and PPSFL "Y"; None without a PPSFL column).
    ``not_randomized``: rows with RANDFL not "Y" (screened, not randomized).
    ``synthetic``: the ADSL is synthetic (a SYNTHETIC "Y" column or attrs).
    """

    arms: tuple[str, ...]
    randomized: dict[str, int]
    discontinued: dict[str, int]
    reasons: dict[str, dict[str, int]]
    completed: dict[str, int]
    analysed: dict[str, int]
    not_analysed: dict[str, int]
    per_protocol: dict[str, int] | None
    not_randomized: int
    synthetic: bool
    source: str = field(default="")

    @property
    def total_randomized(self) -> int:
        return sum(self.randomized.values())

    def __str__(self) -> str:
        def per(d: dict[str, int]) -> str:
            return " / ".join(str(d[a]) for a in self.arms)

        label = "SYNTHETIC " if self.synthetic else ""
        return (
            f"{label}CONSORT flow ({' / '.join(self.arms)}): randomized {per(self.randomized)}; "
            f"discontinued {per(self.discontinued)}; analysed {per(self.analysed)}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python: every count per arm, the reasons, totals and ``synthetic``."""
        return {
            "arms": list(self.arms),
            "randomized": dict(self.randomized),
            "total_randomized": self.total_randomized,
            "discontinued": dict(self.discontinued),
            "reasons": {a: dict(r) for a, r in self.reasons.items()},
            "completed": dict(self.completed),
            "analysed": dict(self.analysed),
            "not_analysed": dict(self.not_analysed),
            "per_protocol": None if self.per_protocol is None else dict(self.per_protocol),
            "not_randomized": self.not_randomized,
            "synthetic": self.synthetic,
        }

    def table(self) -> pd.DataFrame:
        """One row per box of the diagram, one column per arm (and "total")."""
        rows = {
            "randomized": self.randomized,
            "discontinued": self.discontinued,
            "completed": self.completed,
            "analysed (FAS)": self.analysed,
            "not analysed": self.not_analysed,
        }
        if self.per_protocol is not None:
            rows["per protocol (PPS)"] = self.per_protocol
        out = pd.DataFrame(rows).T[list(self.arms)]
        out["total"] = out.sum(axis=1)
        out.attrs["synthetic"] = self.synthetic
        return out


def consort_flow(adsl: pd.DataFrame) -> ConsortFlow:
    """Count the CONSORT flow of ``adsl`` (one row per subject; columns USUBJID, ARM,
    RANDFL, FASFL, DCSREAS, optionally PPSFL and SYNTHETIC; see ``trialkit.schema``).

    Only what ADSL holds is counted: screening (assessed for eligibility) and whether
    each patient received the allocated infusions are not in it. A missing DCSREAS
    counts as completed. Raises ValueError naming a missing column, a duplicate USUBJID or
    an arm other than "UC-MSC" / "Placebo".
    """
    if not isinstance(adsl, pd.DataFrame):
        raise ValueError(f"adsl must be a pandas DataFrame, got {type(adsl).__name__}")
    need = ["USUBJID", "ARM", "RANDFL", "FASFL", "DCSREAS"]
    missing = [c for c in need if c not in adsl.columns]
    if missing:
        raise ValueError(f"adsl is missing column(s) {missing}; an ADSL needs {need}")
    dup = adsl["USUBJID"][adsl["USUBJID"].duplicated()]
    if len(dup):
        raise ValueError(f"adsl: USUBJID must be unique, repeated: {sorted(set(dup))[:5]}")
    bad = sorted(set(adsl["ARM"].astype(str)) - set(ARMS))
    if bad:
        raise ValueError(f"adsl: ARM must be one of {ARMS}, got {bad}")
    reason = adsl["DCSREAS"].fillna("").astype(str).str.strip()
    rand = adsl["RANDFL"] == "Y"
    per_protocol: dict[str, int] | None = {} if "PPSFL" in adsl.columns else None
    counts: dict[str, dict[str, int]] = {
        k: {} for k in ("randomized", "discontinued", "completed", "analysed", "not_analysed")
    }
    reasons: dict[str, dict[str, int]] = {}
    for arm in ARMS:
        mine = rand & (adsl["ARM"] == arm)
        gone = mine & (reason != "")
        fas = mine & (adsl["FASFL"] == "Y")
        counts["randomized"][arm] = int(mine.sum())
        counts["discontinued"][arm] = int(gone.sum())
        counts["completed"][arm] = int((mine & (reason == "")).sum())
        counts["analysed"][arm] = int(fas.sum())
        counts["not_analysed"][arm] = int((mine & ~fas).sum())
        vc = reason[gone].value_counts()
        reasons[arm] = {
            str(k): int(v) for k, v in sorted(vc.items(), key=lambda kv: (-kv[1], kv[0]))
        }
        if per_protocol is not None:
            per_protocol[arm] = int((mine & (adsl["PPSFL"] == "Y")).sum())
    synthetic = bool(adsl.attrs.get("synthetic", False)) or bool(
        "SYNTHETIC" in adsl.columns and (adsl["SYNTHETIC"] == "Y").any()
    )
    return ConsortFlow(
        arms=ARMS,
        reasons=reasons,
        per_protocol=per_protocol,
        not_randomized=int((~rand).sum()),
        synthetic=synthetic,
        source=str(adsl.attrs.get("provenance", "")),
        **counts,
    )
