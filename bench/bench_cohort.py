"""Benchmark: synthetic patients (trialkit.cohort).

1. One reconstruction (``cohort.reconstruct``): the median time over several seeds.
2. Goal of issue 12: an ensemble of 1,000 reconstructions on one core in at most 5 s,
   built as arrays many members at once (``cohort.ensemble``, no cache). Printed against
   the figure measured in the issue (53.1 s; 70 ms per member) and against the
   per-member path (``vectorized=False``: each member's datasets built and summarised)
   timed on a part of the same ensemble in this run; the rows of both are compared.
   The same ensemble in other batch sizes and on two processes: identical rows.
3. The obvious alternative to reconstruction: naive rejection sampling, i.e. draw trials
   from the same generative model (``simulate``) until one happens to print every published
   summary exactly (arm and analysed sizes, 9/45 and 2/44 responders, 8 HbA1c means and
   SDs, 2 mean insulin reductions, 4 GIR means). It is not run to the end: on a budget of
   draws (vectorized, as cheap as drawing gets) we count how many pass each condition in
   turn; where none are left, the remaining conditions' pass rates are measured on all
   draws and multiplied in (assumed independent: an approximation, stated in the output).
   The expected number of draws to one acceptance is 1 / acceptance rate.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

K_ENSEMBLE = 1_000
K_SLOW = 40  # members built one at a time (the per-member path), for the same-run ratio
BEFORE_S = 53.1  # issue 12: the ensemble of 1,000 on one core before vectorizing
GOAL_S = 5.0
BUDGET = 100_000  # trials drawn for the rejection estimate
CHUNK = 20_000


def _printed(x: np.ndarray, fid: str) -> np.ndarray:
    """Which values print as the published number (same decimals, round half to even)."""
    from trialkit import published

    d = int(published.row(fid)["decimals"])
    return np.round(x, d) == round(published.value(fid), d)


def _conditions(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per drawn trial (rows of the (k, n) arrays of trial_model._draw_core), whether each
    published summary is reproduced; in the order they are applied."""
    n_uc = 45
    analysed = ~c["drop"]
    pchg = 100.0 * (c["ins_w48"] - c["ins_base"]) / c["ins_base"]
    resp = analysed & (c["hba1c_w48"] < 7.0) & (pchg <= -50)
    out: dict[str, np.ndarray] = {}
    arms = {"ucmsc": slice(0, n_uc), "placebo": slice(n_uc, None)}
    out["analysed 45 and 44"] = (analysed[:, arms["ucmsc"]].sum(1) == 45) & (
        analysed[:, arms["placebo"]].sum(1) == 44
    )
    out["responders 9 and 2"] = (resp[:, arms["ucmsc"]].sum(1) == 9) & (
        resp[:, arms["placebo"]].sum(1) == 2
    )

    def mean(x: np.ndarray, a: slice) -> np.ndarray:
        return np.where(analysed[:, a], x[:, a], 0).sum(1) / analysed[:, a].sum(1)

    def sd(x: np.ndarray, a: slice) -> np.ndarray:
        m = mean(x, a)[:, None]
        ss = np.where(analysed[:, a], (x[:, a] - m) ** 2, 0).sum(1)
        return np.sqrt(ss / (analysed[:, a].sum(1) - 1))

    for k, a in arms.items():
        out[f"insulin reduction {k}"] = _printed(-mean(pchg, a), f"insulin_reduction_{k}")
    for k, a in arms.items():
        for tp, col in (("baseline", "hba1c_base"), ("end", "hba1c_w48")):
            out[f"HbA1c {tp} mean {k}"] = _printed(mean(c[col], a), f"hba1c_{tp}_{k}_mean")
            out[f"HbA1c {tp} SD {k}"] = _printed(sd(c[col], a), f"hba1c_{tp}_{k}_sd")
    for k, a in arms.items():
        out[f"GIR baseline {k}"] = _printed(mean(c["gir_base"], a), f"gir_baseline_{k}")
        out[f"GIR end {k}"] = _printed(mean(c["gir_w48"], a), f"gir_end_{k}")
    return out


def _rejection(budget: int) -> dict:
    from trialkit.assumptions import _settings
    from trialkit.trial_model import _draw_core

    s = _settings(None)  # the assumptions file, as simulate() uses it
    rng = np.random.default_rng(2022)
    passed: dict[str, int] = {}
    marginal: dict[str, int] = {}
    t0 = time.perf_counter()
    for start in range(0, budget, CHUNK):
        k = min(CHUNK, budget - start)
        c = _draw_core(rng, (45, 46), k, s, 1.0, s["dropout_probability"])
        conds = _conditions(c)
        alive = np.ones(k, dtype=bool)
        for name, ok in conds.items():
            alive &= ok
            passed[name] = passed.get(name, 0) + int(alive.sum())
            marginal[name] = marginal.get(name, 0) + int(ok.sum())
    seconds = time.perf_counter() - t0
    # acceptance: nested pass rates while any draw is left, then marginal rates multiplied in
    rate, last_alive, lines = 1.0, budget, []
    for name in passed:
        if passed[name] > 0:
            cond = passed[name] / last_alive
            rate *= cond
            last_alive = passed[name]
            how = f"{passed[name]:>7} left ({cond:.3g} of those before)"
        else:
            cond = marginal[name] / budget
            rate *= cond
            how = f"marginal {cond:.3g} ({marginal[name]} of {budget}; assumed independent)"
        lines.append(f"    {name:28s} {how}")
    return {
        "budget": budget,
        "seconds": seconds,
        "per_draw_s": seconds / budget,
        "acceptance": rate,
        "lines": lines,
        "passed": passed,
    }


def run() -> dict:
    from trialkit import cohort

    cohort.reconstruct(seed=99)  # warm caches (published facts, assumptions)
    times = []
    for seed in range(20):
        t0 = time.perf_counter()
        cohort.reconstruct(seed=seed)
        times.append(time.perf_counter() - t0)
    one = statistics.median(times)

    cohort.ensemble(20, seed=1, jobs=1, progress=False, cache=False)  # warm
    t0 = time.perf_counter()
    e1 = cohort.ensemble(K_ENSEMBLE, seed=0, jobs=1, progress=False, cache=False)
    jobs1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = cohort.ensemble(K_SLOW, seed=0, jobs=1, progress=False, cache=False, vectorized=False)
    per_member = (time.perf_counter() - t0) / K_SLOW
    same_as_slow = e1.iloc[:K_SLOW].reset_index(drop=True).equals(slow)
    t0 = time.perf_counter()
    e2 = cohort.ensemble(K_ENSEMBLE, seed=0, jobs=2, progress=False, cache=False)
    jobs2 = time.perf_counter() - t0
    e3 = cohort.ensemble(K_ENSEMBLE, seed=0, jobs=1, progress=False, cache=False, batch_size=64)
    identical = e1.equals(e2) and e1.equals(e3)

    rej = _rejection(BUDGET)
    draws_needed = 1 / rej["acceptance"] if rej["acceptance"] > 0 else float("inf")
    naive_s = draws_needed * rej["per_draw_s"]

    print(f"cohort: {os.cpu_count()} cores")
    print(f"  one reconstruction (median of 20 seeds)      {1000 * one:8.1f} ms")
    status = "met" if jobs1 <= GOAL_S else "NOT met"
    print(
        f"  GOAL ensemble of {K_ENSEMBLE:,} on one core <= {GOAL_S:g} s: before {BEFORE_S:.1f} s "
        f"(issue 12, {1000 * BEFORE_S / K_ENSEMBLE:.0f} ms per member), after {jobs1:.2f} s "
        f"({1000 * jobs1 / K_ENSEMBLE:.2f} ms per member): {BEFORE_S / jobs1:.1f} x; {status}"
    )
    print(
        f"  same run, per-member path ({K_SLOW} members)    {1000 * per_member:8.1f} ms per "
        f"member: vectorized {per_member * K_ENSEMBLE / jobs1:.1f} x faster "
        f"(identical rows: {same_as_slow})"
    )
    print(
        f"  ensemble of {K_ENSEMBLE:,}, jobs=2                  {jobs2:8.2f} s "
        f"(speed-up {jobs1 / jobs2:.2f} x; identical rows for jobs 1/2 and batch sizes "
        f"500/64: {identical})"
    )
    print(
        f"  naive rejection sampling: {rej['budget']:,} draws from the same model in "
        f"{rej['seconds']:.1f} s ({1e6 * rej['per_draw_s']:.1f} us per draw); passing:"
    )
    for line in rej["lines"]:
        print(line)
    print(
        f"    estimated acceptance rate {rej['acceptance']:.3g}: about {draws_needed:.3g} draws, "
        f"{naive_s:.3g} s ({naive_s / 3.15e7:.3g} years) per accepted data set"
    )
    print(f"  reconstruction vs naive rejection            {naive_s / one:8.3g} x faster")
    return {
        "reconstruct_ms": 1000 * one,
        "ensemble_k": K_ENSEMBLE,
        "ensemble_jobs1_s": jobs1,
        "ensemble_before_s": BEFORE_S,
        "ensemble_ratio_vs_before": BEFORE_S / jobs1,
        "ensemble_goal_met": jobs1 <= GOAL_S,
        "per_member_path_ms": 1000 * per_member,
        "vectorized_vs_per_member": per_member * K_ENSEMBLE / jobs1,
        "vectorized_equals_per_member": same_as_slow,
        "ensemble_jobs2_s": jobs2,
        "ensemble_ms_per_dataset_jobs1": 1000 * jobs1 / K_ENSEMBLE,
        "ensemble_ms_per_dataset_jobs2": 1000 * jobs2 / K_ENSEMBLE,
        "speedup_two_cores": jobs1 / jobs2,
        "jobs_identical": identical,
        "rejection_budget": rej["budget"],
        "rejection_us_per_draw": 1e6 * rej["per_draw_s"],
        "rejection_passed": rej["passed"],
        "rejection_acceptance": rej["acceptance"],
        "rejection_seconds_per_accept": naive_s,
        "ratio_rejection_vs_reconstruct": naive_s / one,
    }


if __name__ == "__main__":
    run()
