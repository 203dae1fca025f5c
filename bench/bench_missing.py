"""Benchmark: multiple imputation and the dropout simulation of notebook 07, vectorized.

Issue 12's goal "Multiple imputation and the dropout simulation of 07 vectorized in the
same way" (as the reconstruction engine: many members at once as arrays, identical
results whatever the batch). Timed in one run, each against the code before the change
(``trialkit/stats/missing.py`` of commit ``BEFORE``, loaded from git; skipped without git):

- the dropout simulation at notebook 07's defaults (3 mechanisms, m = 10, rate 0.3, slope
  1.5, seed 2022): milliseconds per simulated trial, the truth (20,000 trials of the
  cohort model, another engine) left out; the code before on ``OLD_TRIALS`` trials (it
  takes about 35 ms each), the new one on the notebook's ``TRIALS``;
- ``multiple_imputation`` with m = 100 and ``delta_adjusted`` over notebook 07's grid of 21
  deltas (m = 100, both arms shifted) on the SYNTHETIC data with MAR dropout of
  ``tests/fixtures/missing/hba1c_dropout.csv``.

And against ``PERF`` (the last commit before the speed work on notebook 07's cells):

- the truth of the dropout simulation (20,000 trials of the cohort model): before from
  ``cohort.simulate_endpoints`` (every covariate, a data frame), now from the model's lean
  endpoint draws (the same numbers, bit for bit);
- the dropout simulation at notebook 07's defaults without its truth (the imputation now
  draws only the missing values; the dropout calibration stops at its fixed point);
- ``responder_tipping_point`` of a grid of 11 x 10 cells with Fisher's test: before one
  ``scipy.stats.fisher_exact`` per cell, now scipy's algorithm on arrays (``hypergeom``).

Times are CPU seconds of this process (``time.process_time``, best of ``REPEAT``): the
machine is shared, and wall time moves with the load of others. Notebook 07's render time
(issue: 21 s of the collection's 78.6 s) is measured by ``bench_render``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import cpu_best, module_at

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "missing"
#: the last commit before the vectorized imputation and simulation
BEFORE = "3d26ebe"
#: the last commit before the speed work on notebook 07's cells (issue 12, second round)
PERF = "e4a2f4c"
#: a tipping grid of 11 x 10 cells (counts: x1, n1, m1, x2, n2, m2)
GRID = (20, 35, 10, 10, 37, 9)
TRIALS = 300  # notebook 07's sim_trials
OLD_TRIALS = 30
REPEAT = 3
SETTINGS = dict(rate=0.3, slope=1.5, n_imputations=10, seed=2022)
#: issue 12: notebook 07 renders in 21 s (multiple imputation and the dropout simulation)
ISSUE_07_S = 21.0


def _per_trial_new(mod, n: int) -> float:
    mechs = list(mod.MECHANISMS)
    s = SETTINGS
    call = lambda: [  # noqa: E731
        mod._trials_batch(
            range(i, min(i + 50, n)),
            s["seed"],
            (45, 46),
            1.0,
            mechs,
            s["rate"],
            s["slope"],
            s["n_imputations"],
            0.05,
        )  # fmt: skip
        for i in range(0, n, 50)
    ]
    return cpu_best(call, 1) / n


def _per_trial_old(mod, n: int) -> float:
    mechs = list(mod.MECHANISMS)
    s = SETTINGS
    call = lambda: [  # noqa: E731
        mod._one_trial(
            i, s["seed"], (45, 46), 1.0, mechs, s["rate"], s["slope"], s["n_imputations"], 0.05
        )
        for i in range(n)
    ]
    return cpu_best(call, 1) / n


def run() -> dict:
    import pandas as pd

    from trialkit.stats import missing as new

    old = module_at(BEFORE, "trialkit/stats/missing.py")
    d = pd.read_csv(FIXTURES / "hba1c_dropout.csv").set_index("USUBJID")
    wide = d[["ARM", *[c for c in d.columns if c.startswith("W")]]]
    deltas = np.round(np.arange(0, 2.0 + 0.05, 0.1), 10)
    jobs = {
        "dropout simulation, per trial": (
            lambda m: _per_trial_new(m, TRIALS),
            lambda m: _per_trial_old(m, OLD_TRIALS),
        ),
        "multiple_imputation m=100": (
            lambda m: cpu_best(lambda: m.multiple_imputation(wide, 100, seed=1)),
        )
        * 2,
        "delta_adjusted 21 deltas, m=100": (
            lambda m: cpu_best(lambda: m.delta_adjusted(wide, deltas, 100, seed=1, shift="both")),
        )
        * 2,
    }
    result: dict = {}
    for name, (now_fn, before_fn) in jobs.items():
        now = now_fn(new)
        line = f"{name:34s} now {1000 * now:9.2f} ms CPU"
        entry = {"now_s": now}
        if old is not None:
            before = before_fn(old)
            line += f"; before ({BEFORE}) {1000 * before:9.2f} ms: {before / now:6.1f} times faster"
            entry.update(before_s=before, ratio=before / now)
        print(line)
        result[name] = entry
    new._truth_cached.cache_clear()
    t = time.process_time()
    new._truth((45, 46), 1.0, SETTINGS["seed"], 20_000)
    truth = time.process_time() - t
    t = time.process_time()
    new.dropout_simulation(TRIALS, **SETTINGS)  # the truth now from the cache
    rest = time.process_time() - t
    print(
        f"dropout_simulation({TRIALS}) at notebook 07's defaults: {rest:.2f} s CPU, plus "
        f"{truth:.2f} s for its truth (20,000 trials of cohort.simulate_endpoints, the "
        "cohort engine; computed once per process)"
    )
    result["dropout_simulation_s"] = rest
    result["truth_s"] = truth
    result.update(_since_perf(new))
    sim = result["dropout simulation, per trial"]
    if "ratio" in sim:
        print(
            f"GOAL MI and dropout simulation of 07 vectorized: before {1000 * sim['before_s']:.1f} "
            f"ms per simulated trial (code before, this run), after {1000 * sim['now_s']:.2f} ms: "
            f"{sim['ratio']:.1f} times; MI m=100 "
            f"{result['multiple_imputation m=100'].get('ratio', float('nan')):.1f} times, "
            f"delta grid {result['delta_adjusted 21 deltas, m=100'].get('ratio', float('nan')):.1f}"
            f" times; notebook 07 render before {ISSUE_07_S:.0f} s (issue; after: bench_render)"
        )
    return result


def _since_perf(new) -> dict:
    """The speed-ups since ``PERF``: truth, simulation without truth, tipping grid."""
    perf = module_at(PERF, "trialkit/stats/missing.py")
    if perf is None:
        return {}

    def truth(mod):
        def call():
            mod._truth_cached.cache_clear()
            mod._truth((45, 46), 1.0, SETTINGS["seed"], 20_000)

        return cpu_best(call, 2)

    def simulation(mod):
        mod._truth((45, 46), 1.0, SETTINGS["seed"], 20_000)  # cached: left out
        return cpu_best(lambda: mod.dropout_simulation(TRIALS, **SETTINGS))

    jobs = {
        "truth, 20,000 trials": truth,
        f"dropout_simulation({TRIALS}), no truth": simulation,
        "tipping grid 11 x 10, Fisher": (
            lambda m: cpu_best(lambda: m.responder_tipping_point(*GRID))
        ),
    }
    out = {}
    for name, fn in jobs.items():
        now, before = fn(new), fn(perf)
        print(
            f"{name:34s} now {1000 * now:9.2f} ms CPU; before ({PERF}) {1000 * before:9.2f} ms: "
            f"{before / now:6.1f} times faster"
        )
        out[name] = {"now_s": now, "before_s": before, "ratio": before / now}
    return out


if __name__ == "__main__":
    run()
