"""Benchmark: exact computation vs Monte Carlo, for the Bayesian and randomization numbers.

1. P(RD > 0) and P(RD > 0.1) for the trial's posteriors (9/45 vs 2/44, the sceptical
   prior): ``trialkit.stats.prob_greater`` (numerical integration, error < 1e-10) vs
   Monte Carlo with 10^6 draws per arm (standard error about 2e-4 to 5e-4).
2. The distribution of the arm-size difference after 91 patients with random blocks of 4
   or 6: ``trialkit.stats.imbalance_distribution`` (exact) vs 10^5 simulated sequences
   (``simulate_allocation``; standard error of P(|diff| >= 3) about 4e-4).

3. Notebook 10's posterior figure: the density of RD for 7 curves (the likelihood, and the
   prior and posterior of each of 3 readers) on 401 points. Before: one adaptive
   ``scipy.integrate.quad`` per point (``bayes._difference_pdf_quad``, the code before,
   still the reference in the tests); after: ``difference_pdf``, the whole grid by one
   fixed rule. Same run; the largest absolute difference between the two is printed.
4. Notebook 10's table of analysis sets (9/45 vs 2/44 with 0 and 2 unanalysed, 3 priors):
   before, a full ``risk_difference_posterior`` per case (with 3 credible quantiles nobody
   used); after, ``analysis_set_posteriors`` computing only its two probabilities.

Prints the times and the ratio (Monte Carlo time / exact time) and the largest
difference between the two, in Monte Carlo standard errors; for 3 and 4, before, after and
the ratio (before / after).
"""

from __future__ import annotations

import math
import time

import numpy as np


def _best(f, repeat: int = 3) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def run() -> dict:
    from trialkit import stats

    prior = stats.sceptical_prior(0.1, 0.1, 0.05)
    post1, post2 = prior.updated(9, 45), prior.updated(2, 44)

    def exact_rd():
        return [stats.prob_greater(post1, post2, d) for d in (0.0, 0.1)]

    def mc_rd():
        return [stats.prob_greater_mc(post1, post2, d, 1_000_000, seed=1) for d in (0.0, 0.1)]

    t_exact, p_exact = _best(exact_rd)
    t_mc, p_mc = _best(mc_rd)
    z_rd = max(abs(m - e) / se for e, (m, se) in zip(p_exact, p_mc, strict=True))
    print(f"RD posterior: exact {1e3 * t_exact:.1f} ms, Monte Carlo (1e6 draws) "
          f"{1e3 * t_mc:.1f} ms: ratio {t_mc / t_exact:.0f}x; largest |z| {z_rd:.2f}")  # fmt: skip

    def exact_blocks():
        return stats.imbalance(91, 3, "blocks", (4, 6)).probability

    def sim_blocks():
        seq = stats.simulate_allocation(91, "blocks", (4, 6), reps=100_000, seed=1)
        return float(np.mean(np.abs(2 * seq.sum(axis=1, dtype=int) - 91) >= 3))

    t_exact_b, p_b = _best(exact_blocks)
    t_sim_b, p_sim = _best(sim_blocks, repeat=1)
    z_b = abs(p_sim - p_b) / math.sqrt(p_b * (1 - p_b) / 100_000)
    print(f"random blocks of 4 or 6, 91 patients: exact {1e3 * t_exact_b:.1f} ms, "
          f"simulated (1e5 sequences) {1e3 * t_sim_b:.0f} ms: ratio {t_sim_b / t_exact_b:.0f}x; "
          f"|z| {z_b:.2f}")  # fmt: skip
    from trialkit.stats import bayes

    sceptic = stats.sceptical_prior(0.1, 0.1, 0.05)
    priors = {
        "sceptical": (sceptic, sceptic),
        "neutral": (stats.Beta(1, 1), stats.Beta(1, 1)),
        "enthusiastic": stats.enthusiastic_prior(0.1, 0.1, 0.05),
    }
    flat = stats.Beta(1, 1)
    pairs = [(flat.updated(9, 45), flat.updated(2, 44))]
    for p1, p2 in priors.values():
        pairs += [(p1, p2), (p1.updated(9, 45), p2.updated(2, 44))]
    grid = np.linspace(-0.2, 0.5, 401)

    def curves(f):
        return lambda: np.array([f(p1, p2, grid) for p1, p2 in pairs])

    t_pdf_old, old = _best(curves(bayes._difference_pdf_quad), repeat=1)
    t_pdf, new = _best(curves(stats.difference_pdf))
    err = float(np.max(np.abs(new - old)))
    print(f"RD density, 7 curves x 401 points: before (quad per point) {1e3 * t_pdf_old:.0f} ms, "
          f"after (one rule for the grid) {1e3 * t_pdf:.1f} ms: ratio {t_pdf_old / t_pdf:.0f}x; "
          f"largest |difference| {err:.1e}")  # fmt: skip

    def sets_before():
        return [
            (r.p_benefit, r.p_relevant)
            for a1, m1, a2, m2 in ((9, 45, 2, 44), (9, 45, 2, 46), (9, 45, 3, 46), (9, 45, 4, 46))
            for p1, p2 in priors.values()
            for r in [stats.risk_difference_posterior(a1, m1, a2, m2, p1, p2, relevant=0.1)]
        ]

    def sets_after():
        s = stats.analysis_set_posteriors(9, 45, 2, 44, 0, 2, priors, 0.1)
        return list(zip(s["p_benefit"], s["p_relevant"], strict=True))

    t_sets_old, before = _best(sets_before, repeat=1)
    t_sets, after = _best(sets_after)
    assert before == after
    ratio = t_sets_old / t_sets
    print(f"analysis sets, 4 cases x 3 priors: before {1e3 * t_sets_old:.0f} ms, "
          f"after {1e3 * t_sets:.0f} ms: ratio {ratio:.0f}x; same probabilities")  # fmt: skip
    return {
        "pdf_before_s": t_pdf_old,
        "pdf_after_s": t_pdf,
        "pdf_ratio": t_pdf_old / t_pdf,
        "pdf_max_abs_diff": err,
        "sets_before_s": t_sets_old,
        "sets_after_s": t_sets,
        "sets_ratio": ratio,
        "rd_exact_s": t_exact,
        "rd_monte_carlo_s": t_mc,
        "rd_ratio": t_mc / t_exact,
        "rd_max_z": z_rd,
        "blocks_exact_s": t_exact_b,
        "blocks_simulated_s": t_sim_b,
        "blocks_ratio": t_sim_b / t_exact_b,
        "blocks_z": z_b,
    }


if __name__ == "__main__":
    run()
