"""Benchmark: the randomization computations of notebook 01, before and after issue 12.

Timed in one run against ``trialkit/stats/design.py`` of commit ``BEFORE`` (loaded from
git; skipped without git), at notebook 01's defaults (91 patients; simple, blocks of 4,
blocks of 4 or 6 at random; 20,000 sequences per scheme, seed 2022):

- the exact distribution of the imbalance after every number of patients 1..91 for the
  three schemes (273 calls of ``imbalance_distribution``: what ``plots.allocation_paths``
  asks for its bands), each call on a cold cache (``_distribution`` cleared first), so the
  ratio is the computation's, not the cache's;
- ``imbalance_summary`` (the exact tail probabilities and 3 x 20,000 simulated sequences).

The results are identical, bit for bit (``tests/test_stats_design.py``). Times are CPU
seconds of this process (``time.process_time``, best of ``REPEAT``): the machine is shared.
"""

from __future__ import annotations

from pathlib import Path

from common import cpu_best, module_at

ROOT = Path(__file__).resolve().parent.parent
#: the last commit before the speed work on notebook 01's computations
BEFORE = "dca0918"
REPEAT = 3
N = 91
SCHEMES = {"simple": ("simple", ()), "blocks of 4": ("blocks", (4,)),
           "blocks of 4 or 6": ("blocks", (4, 6))}  # fmt: skip


def _bands(mod) -> None:
    if hasattr(mod, "_distribution"):
        mod._distribution.cache_clear()
    for scheme, sizes in SCHEMES.values():
        for m in range(1, N + 1):
            mod.imbalance_distribution(m, scheme, tuple(sizes) or 4)


def _summary(mod) -> None:
    if hasattr(mod, "_distribution"):
        mod._distribution.cache_clear()
    mod.imbalance_summary(N, SCHEMES, (1, 3, 5, 11), at_least=3, reps=20_000, seed=2022)


def run() -> dict:
    from trialkit.stats import design as new

    old = module_at(BEFORE, "trialkit/stats/design.py")
    result: dict = {}
    for name, job in (("273 exact distributions (bands)", _bands),
                      ("imbalance_summary, 3 x 20,000", _summary)):  # fmt: skip
        now = cpu_best(lambda job=job: job(new))
        line = f"{name:34s} now {1000 * now:8.1f} ms CPU"
        entry = {"now_s": now}
        if old is not None:
            before = cpu_best(lambda job=job: job(old))
            line += f"; before ({BEFORE}) {1000 * before:8.1f} ms: {before / now:5.1f} times faster"
            entry.update(before_s=before, ratio=before / now)
        print(line)
        result[name] = entry
    return result


if __name__ == "__main__":
    run()
