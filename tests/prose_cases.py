"""Non-default parameter sets that move each notebook's conclusions (issue: words follow
numbers). Each notebook is rendered with its defaults, with the set below, and (when it
takes ``data_dir``) on the bring-your-own-data fixture; ``tests/test_prose.py`` checks the
prose of every rendering. Chosen to flip conclusions, not to be easy: the review's own
re-renders (shared/reviews/teaching-review.md, section 12) where text went stale.
"""

from __future__ import annotations

from typing import Any

NON_DEFAULT: dict[str, dict[str, Any]] = {
    "01_trial_design": {"n_patients": 60, "block_size": 6},
    "02_what_the_paper_reports": {"alpha": 0.01},
    "03_synthetic_patients": {"seed": 7},
    "04_endpoint_derivation": {
        "insulin_reduction": 30.0,
        "population": "randomized",
        "missing": "complete-case",
    },
    "05_primary_endpoint": {"hba1c_cutoff": 7.5},
    "06_hba1c_and_insulin_over_time": {"analysis_visit": 24},
    "07_missing_data_and_estimands": {"dropout_mechanism": "MNAR", "alpha": 0.01},
    "08_safety": {"alpha": 0.01, "n_demo": 30},
    "09_power_and_sample_size": {"alpha": 0.01},
    "10_bayesian_reanalysis": {"clinically_relevant": 0.15, "prior_rate": 0.2},
}
