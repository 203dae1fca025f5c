"""Benchmark: simulation studies of power, and exact power by enumeration.

- Goals of issue 12 (before: the figures measured there): the cohort model at >= 100,000
  trials/s on one core (before 33,000) and >= 30 times a per-trial loop (before 12.5).
- Simulated trials per second of the SYNTHETIC cohort model, all measured in this run:
  ``trialkit.studies`` with ``draws="counts"`` (the default: each arm's analysed and
  responder counts from their exact binomial distributions under the model, p-values
  looked up in precomputed tables), the old path ``draws="patients"`` (every patient
  drawn as ``cohort.simulate_endpoints`` does; what issue 12 measured), and the obvious
  loop (``simulate_endpoints`` draws, then ``scipy.stats.fisher_exact`` for each
  trial); the same for two binomials; all local cores vs one process.
- Exact power: ``stats.exact_power`` (one p-value table, one matrix product) vs the same
  enumeration calling ``scipy.stats.fisher_exact`` for each of the 2,070 tables.
- Agreement: exact vs simulated power, with the z-score (difference / Monte Carlo SE):
  two binomials, and the cohort model (its exact power: two binomials at its computed
  per-patient responder probabilities, ``trial_model.responder_probability``, with the
  dropout mixture), by both ways of drawing.
- Notebook 09's computations against the code before the speed work on its cells
  (``trialkit/stats/power.py`` and ``trialkit/studies.py`` of commit ``PERF``, loaded from
  git; skipped without git), cold p-value tables, CPU seconds (best of ``REPEAT``): a
  Fisher table (all column totals at once vs one at a time), the exact sample sizes
  (6 methods x 2 powers), the power grid (3 arm sizes x 7 effects x 2 tests x 20,000
  trials), the exact power of its 42 points with dropout, and the exact type I error of
  the five tests with the size curves of section 4.
"""

from __future__ import annotations

import functools
import math
import os
import time
from pathlib import Path

import numpy as np
from common import cpu_best, module_at
from scipy import stats as sps

N_VECTOR = 500_000  # trials for the vectorized engine (draws="counts")
N_PATIENTS = 50_000  # trials for the old path (draws="patients")
N_LOOP = 4_000  # trials for the loop (about 1 ms each)
N_AGREE = 400_000  # trials for the agreement check
BEFORE_TRIALS_PER_S = 33_000  # issue 12
BEFORE_RATIO = 12.5  # issue 12: engine vs per-trial loop
GOAL_TRIALS_PER_S = 100_000
GOAL_RATIO = 30.0
ROOT = Path(__file__).resolve().parent.parent
#: the last commit before the speed work on notebook 09's cells (issue 12, second round)
PERF = "e4a2f4c"
REPEAT = 3
NB09_EFFECTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
NB09_SIZES = ((45, 46), (76, 76), (98, 98))


def _loop_fisher(x: np.ndarray, a: np.ndarray) -> int:
    rejections = 0
    for (x1, x2), (n1, n2) in zip(x, a, strict=True):
        if n1 and n2:
            p = sps.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue
            rejections += p < 0.05
    return rejections


def _notebook_09() -> dict:
    """Notebook 09's computations now and at ``PERF`` (cold tables, CPU seconds)."""
    from trialkit import studies, trial_model
    from trialkit.stats import power

    old_power = module_at(PERF, "trialkit/stats/power.py")
    old_studies = module_at(PERF, "trialkit/studies.py")
    if old_power is None or old_studies is None:
        return {}
    old_studies._power = old_power  # the old study engine on the old tables
    probs = {e: trial_model.responder_probability(e) for e in NB09_EFFECTS}
    dropout = 0.022  # data/assumptions.yaml

    def cold(mod, call):
        def run_cold():
            mod._clear_cache()
            call()

        return run_cold

    def sample_sizes(pw):
        for target in (0.8, 0.9):
            for method in ("fisher", "chi2", "chi2_yates", "normal", "normal_cc", "arcsine"):
                pw.sample_size(0.2, 2 / 44, power=target, method=method)

    def grid(st):
        st.power_grid(NB09_SIZES, NB09_EFFECTS, tests=("fisher", "chi2"), n_sim=20_000,
                      seed=2022, workers=1, progress=False)  # fmt: skip

    def exact(pw):
        for n1, n2 in NB09_SIZES:
            for e in NB09_EFFECTS:
                for t in ("fisher", "chi2"):
                    pw.exact_power(probs[e][0], n1, probs[e][1], n2, t, dropout=dropout)

    def type1(pw):
        if hasattr(pw, "_size_grid"):  # its grid's binomial matrices, cached since PERF
            pw._size_grid.cache_clear()
        for t in pw.POWER_TESTS:
            pw.type1_error(11 / 89, 45, 44, t)
        pw.size_curve(45, 44, tests=("fisher", "chi2", "chi2_yates", "wald"))

    # name -> (the computation, given the power and studies modules; tables emptied first?)
    jobs = {
        "Fisher table 45 x 44": (lambda pw, st: pw._fisher_table(45, 44), False),
        "Fisher table 98 x 98": (lambda pw, st: pw._fisher_table(98, 98), False),
        "sample sizes, 6 methods x 2 powers": (lambda pw, st: sample_sizes(pw), True),
        "power grid 3 x 7 x 2 x 20,000 trials": (lambda pw, st: grid(st), True),
        "exact power with dropout, 42 points": (lambda pw, st: exact(pw), True),
        "type I error (5 tests) and size curves": (lambda pw, st: type1(pw), True),
    }
    versions = {"now": (power, studies), "before": (old_power, old_studies)}
    print(f"  notebook 09 (cold tables; CPU, best of {REPEAT}):")
    out = {}
    for name, (job, empty_tables) in jobs.items():
        seconds = {}
        for when, (pw, st) in versions.items():
            call = functools.partial(job, pw, st)
            seconds[when] = cpu_best(cold(pw, call) if empty_tables else call)
        now, before = seconds["now"], seconds["before"]
        print(
            f"  {name:38s} now {1000 * now:8.1f} ms; before ({PERF}) {1000 * before:8.1f} ms: "
            f"{before / now:5.1f} times faster"
        )
        out[f"nb09 {name}"] = {"now_s": now, "before_s": before, "ratio": before / now}
    return out


def run() -> dict:
    from trialkit import cohort, stats, studies, trial_model
    from trialkit.stats import power as pw

    out: dict[str, float] = {}
    cores = os.cpu_count() or 1
    print(f"simulation: {cores} cores; cohort model n = 45 + 46, Fisher's test, alpha 0.05")

    # ---- cohort model: engine (in this process, cold tables), old path, per-trial loop
    def rate(n: int, draws: str) -> float:
        pw._clear_cache()
        t0 = time.perf_counter()
        studies.power_grid([(45, 46)], [1.0], n_sim=n, seed=1, workers=1, progress=False,
                           draws=draws)  # fmt: skip
        return n / (time.perf_counter() - t0)

    engine = rate(N_VECTOR, "counts")
    old = rate(N_PATIENTS, "patients")
    t0 = time.perf_counter()
    df = cohort.simulate_endpoints(N_LOOP, (45, 46), seed=1)
    x = df["responders"].to_numpy().reshape(-1, 2)
    a = df["analysed"].to_numpy().reshape(-1, 2)
    _loop_fisher(x, a)
    loop = N_LOOP / (time.perf_counter() - t0)
    print(f"  cohort model, draws='counts' (default, 1 process)  {engine:12,.0f} trials/s")
    print(f"  cohort model, draws='patients' (old path)          {old:12,.0f} trials/s")
    print(f"  cohort model, draws + fisher_exact per trial       {loop:12,.0f} trials/s")
    print(f"  speed-up counts vs old path {engine / old:.1f} x; vs loop {engine / loop:.1f} x; "
          f"old path vs loop {old / loop:.1f} x")  # fmt: skip
    met = "met" if engine >= GOAL_TRIALS_PER_S else "NOT met"
    print(
        f"  GOAL cohort model >= {GOAL_TRIALS_PER_S:,} trials/s on one core: before "
        f"{BEFORE_TRIALS_PER_S:,} (issue 12; old path in this run {old:,.0f}), after "
        f"{engine:,.0f}: {engine / BEFORE_TRIALS_PER_S:.1f} x the issue's figure, "
        f"{engine / old:.1f} x the old path in this run; {met}"
    )
    met = "met" if engine / loop >= GOAL_RATIO else "NOT met"
    print(
        f"  GOAL >= {GOAL_RATIO:g} x a per-trial loop: before {BEFORE_RATIO:g} x (issue 12; "
        f"old path in this run {old / loop:.1f} x), after {engine / loop:.1f} x: "
        f"{engine / loop / BEFORE_RATIO:.1f} x the issue's ratio; {met}"
    )
    out |= {
        "cohort_trials_per_s": engine,
        "cohort_patients_trials_per_s": old,
        "cohort_loop_trials_per_s": loop,
        "cohort_before_trials_per_s": BEFORE_TRIALS_PER_S,
        "cohort_ratio_vs_before": engine / BEFORE_TRIALS_PER_S,
        "cohort_ratio_vs_patients": engine / old,
        "cohort_vs_loop": engine / loop,
        "cohort_patients_vs_loop": old / loop,
        "cohort_vs_loop_before": BEFORE_RATIO,
    }

    # ---- a grid of effects at one arm size (as notebook 09): draws shared by the effects
    effects = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    n_grid = N_VECTOR // 2
    t0 = time.perf_counter()
    studies.power_grid([(45, 46)], effects, n_sim=n_grid, seed=1, workers=1, progress=False)
    grid = len(effects) * n_grid / (time.perf_counter() - t0)
    print(f"  cohort model, grid of {len(effects)} effects (draws shared) {grid:12,.0f} trials/s")
    out |= {"cohort_grid_trials_per_s": grid}

    # ---- two binomials: the test alone dominates the loop
    t0 = time.perf_counter()
    studies.power_grid(
        [(45, 44)], rates=[(0.2, 2 / 44)], n_sim=N_VECTOR, seed=1, workers=1, progress=False
    )
    engine_b = N_VECTOR / (time.perf_counter() - t0)
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    xb = np.column_stack([rng.binomial(45, 0.2, N_LOOP), rng.binomial(44, 2 / 44, N_LOOP)])
    _loop_fisher(xb, np.broadcast_to([45, 44], xb.shape))
    loop_b = N_LOOP / (time.perf_counter() - t0)
    print(f"  two binomials, vectorized engine              {engine_b:12,.0f} trials/s")
    print(f"  two binomials, fisher_exact per trial         {loop_b:12,.0f} trials/s")
    print(f"  speed-up                                      {engine_b / loop_b:12.1f} x")
    out |= {"binomial_trials_per_s": engine_b, "binomial_loop_trials_per_s": loop_b}

    # ---- all local cores vs one process (cohort model, 4 x N_VECTOR trials)
    n_big = 4 * N_VECTOR
    t0 = time.perf_counter()
    studies.power_grid([(45, 46)], [1.0], n_sim=n_big, seed=2, workers=1, progress=False)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    studies.power_grid([(45, 46)], [1.0], n_sim=n_big, seed=2, workers=cores, progress=False)
    many = time.perf_counter() - t0
    print(f"  {n_big:,} trials: 1 process {one:.2f} s, {cores} processes {many:.2f} s "
          f"(speed-up {one / many:.2f} x)")  # fmt: skip
    out |= {"one_process_s": one, "all_cores_s": many}

    # ---- exact power: table + matrix product vs fisher_exact for every table
    pw._clear_cache()
    t0 = time.perf_counter()
    exact = stats.exact_power(0.2, 45, 2 / 44, 44).power
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    b1, b2 = sps.binom.pmf(np.arange(46), 45, 0.2), sps.binom.pmf(np.arange(45), 44, 2 / 44)
    slow_power = sum(
        b1[i] * b2[j]
        for i in range(46)
        for j in range(45)
        if sps.fisher_exact([[i, 45 - i], [j, 44 - j]]).pvalue < 0.05
    )
    slow = time.perf_counter() - t0
    assert abs(slow_power - exact) < 1e-12
    print(f"  exact power 9/45 vs 2/44 (Fisher): table {1e3 * fast:.1f} ms (cold), loop over "
          f"2,070 fisher_exact calls {1e3 * slow:.0f} ms: {slow / fast:.0f} x")  # fmt: skip
    out |= {"exact_power_ms": 1e3 * fast, "exact_power_loop_ms": 1e3 * slow}

    # ---- agreement: exact vs simulated
    sim = studies.simulate_power(
        (45, 44), rates=(0.2, 2 / 44), n_sim=N_AGREE, seed=3, progress=False
    )
    se = math.sqrt(exact * (1 - exact) / N_AGREE)
    z = (sim.power - exact) / se
    print(f"  two binomials: exact {exact:.5f}, simulated {sim.power:.5f} "
          f"({N_AGREE:,} trials, SE {se:.5f}), z = {z:+.2f}")  # fmt: skip
    p1, p2 = trial_model.responder_probability(1.0)
    model = studies.simulate_power((45, 46), 1.0, n_sim=N_AGREE, seed=4, progress=False)
    exact_model = stats.exact_power(p1, 45, p2, 46, dropout=model.dropout).power
    se_model = math.sqrt(exact_model * (1 - exact_model) / N_AGREE)
    z_model = (model.power - exact_model) / se_model
    print(f"  cohort model: exact {exact_model:.5f} (responder probabilities {p1:.5f} / "
          f"{p2:.5f}, dropout {model.dropout:g}); simulated draws='counts' {model.power:.5f} "
          f"({N_AGREE:,} trials, SE {se_model:.5f}), z = {z_model:+.2f}")  # fmt: skip
    old_model = studies.simulate_power(
        (45, 46), 1.0, n_sim=N_PATIENTS, seed=4, progress=False, workers=1, draws="patients"
    )
    se_old = math.sqrt(exact_model * (1 - exact_model) / N_PATIENTS)
    z_old = (old_model.power - exact_model) / se_old
    z_rates = [
        (share - p) / math.sqrt(p * (1 - p) / (m * N_PATIENTS))
        for share, p, m in ((old_model.rate1, p1, old_model.analysed1),
                            (old_model.rate2, p2, old_model.analysed2))
    ]  # fmt: skip
    print(f"  cohort model: simulated draws='patients' {old_model.power:.5f} ({N_PATIENTS:,} "
          f"trials, SE {se_old:.5f}), z = {z_old:+.2f}; its responder shares "
          f"{old_model.rate1:.5f} / {old_model.rate2:.5f} vs computed, z = "
          f"{z_rates[0]:+.2f} / {z_rates[1]:+.2f}")  # fmt: skip
    out |= {
        "exact_power": exact,
        "simulated_power": sim.power,
        "z_binomial": z,
        "cohort_exact": exact_model,
        "cohort_simulated": model.power,
        "z_cohort": z_model,
        "cohort_simulated_patients": old_model.power,
        "z_cohort_patients": z_old,
    }
    out |= _notebook_09()
    return out
