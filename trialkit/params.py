"""Notebook parameters: what each notebook accepts, and the check that enforces it.

Every notebook has one code cell tagged ``parameters`` holding literals only (the
defaults). This module declares, per notebook, each parameter's type, allowed values and
meaning (``SPECS``). The same declaration is used twice:

- by the runner (``python -m trialkit run -p name value``), *before* anything executes;
- inside the notebook, right after the parameters cell, by ``check(notebook, globals())``,
  so that plain ``papermill`` runs and interactive runs are checked too.

A test keeps ``SPECS`` and the notebooks' parameters cells in step (same names, same
defaults).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "COMBINATIONS",
    "DATA_DIR",
    "LONG_RUN_SECONDS",
    "SPECS",
    "Rule",
    "Param",
    "ParameterError",
    "check",
    "coerce",
    "data_folder",
    "defaults",
    "estimate_seconds",
    "validate",
]


class ParameterError(ValueError):
    """A notebook parameter is unknown, of the wrong type, or out of range."""


@dataclass(frozen=True)
class Param:
    """One notebook parameter.

    The type is that of ``default`` (bool, int, float or str; an int is accepted where a
    float is expected). ``low``/``high`` bound numbers (inclusive unless ``open_low`` /
    ``open_high``); ``choices`` lists the allowed values. ``check`` is an extra test run
    after the type and range checks: it returns why a value is not allowed, or None (for
    example ``data_folder``, which validates an analyst's data before any work is done).
    """

    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None
    path: bool = False  # a file or folder: validate() returns it as an absolute path

    @property
    def type(self) -> type:
        return type(self.default)

    def allowed(self) -> str:
        """What is allowed, in words, e.g. ``a float with 0 < value < 0.5``."""
        kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
        words = kind.get(self.type, self.type.__name__)
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        bounds = []
        if self.low is not None:
            bounds.append(f"{self.low:g} {'<' if self.open_low else '<='} value")
        if self.high is not None:
            bounds.append(f"value {'<' if self.open_high else '<='} {self.high:g}")
        if bounds:
            words += " with " + " and ".join(bounds)
        return words

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None if it is."""
        t = self.type
        if t is bool:
            ok = isinstance(value, bool)
        elif t is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif t is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, t)
        if not ok:
            return f"has type {type(value).__name__}, expected {self.allowed()}"
        if t is float and not math.isfinite(value):
            return f"is {value!r}, expected a finite number"
        if self.choices is not None and value not in self.choices:
            return f"is not allowed: expected {self.allowed()}"
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return f"is out of range: expected {self.allowed()}"
        if self.high is not None and (value > self.high or (self.open_high and value == self.high)):
            return f"is out of range: expected {self.allowed()}"
        if self.check is not None:
            return self.check(value)
        return None


def data_folder(value: str) -> str | None:
    """Check a ``data_dir`` parameter: "" (the synthetic patients) or a valid data folder.

    A folder must hold ADSL.csv, ADLB.csv and ADEX.csv (ADAE.csv optional) meeting the
    dataset contracts of ``trialkit.schema``; every problem is reported, naming the file,
    column and rows. A folder of SYNTHETIC patients must say how they were made
    (``datafiles.folder_provenance``). Relative paths are taken from the current directory.
    The files are only read, never changed.
    """
    if value == "":
        return None
    from trialkit import schema

    folder = Path(value)
    if not folder.is_dir():
        return f"is not a folder ({folder.resolve()} does not exist or is a file)"
    from trialkit.datafiles import folder_provenance

    try:
        folder_provenance(folder, _read_folder(folder))  # synthetic patients say which kind
    except schema.DatasetError as e:
        return f"points at data the analyses cannot use:\n{e}"
    except ValueError as e:
        return f"points at data that do not meet the dataset contracts:\n{e}"
    return None


def data_warnings(value: str) -> list[str]:
    """The warnings of a valid ``data_dir`` (``schema.warnings_of``; none for "")."""
    if not value:
        return []
    from trialkit import schema

    return schema.warnings_of(_read_folder(Path(value)))


def _read_folder(folder: Path) -> dict[str, Any]:
    """``schema.read(folder)`` without announcing its warnings; validated once per process
    for the same files (``schema._validated``): the runner's checks, its snapshot for the
    kernels and a notebook's read agree."""
    from trialkit import schema

    return schema.read(folder, announce=False)


#: The ``data_dir`` parameter of every notebook that uses patient data.
DATA_DIR = Param(
    "",
    'patient data: "" for the synthetic patients, or a folder with ADSL.csv, ADLB.csv, '
    "ADEX.csv (and ADAE.csv) in this project's format",
    check=data_folder,
    path=True,
)

_ALPHA = Param(0.05, "two-sided significance level", low=0, high=0.5, open_low=True)


def _feasible_reading(value: str) -> str | None:
    """Only the mean-percent-reduction reading of '27.78% vs 15.62%' can be reconstructed."""
    if value == "mean":
        return None
    from trialkit import cohort

    try:
        cohort.reconstruct(reading=value)
    except ValueError as e:
        return f"cannot be reconstructed: {e}"
    return None  # pragma: no cover


def _scheduler_address(value: str) -> str | None:
    """A dask scheduler address: "", "local", or "[protocol://]host:port"."""
    import re

    if value in ("", "local") or re.fullmatch(r"([a-z]+://)?[\w.\-\[\]:]+:\d+", value):
        return None
    return 'is not a scheduler address: expected "", "local" or e.g. "tcp://10.0.0.5:8786"'


def _even_sizes(value: str) -> str | None:
    """Block sizes as text, e.g. "4,6": distinct even whole numbers from 2 to 20."""
    try:
        sizes = [int(v) for v in value.split(",")]
    except ValueError:
        return 'is not a comma-separated list of block sizes, e.g. "4,6"'
    if any(b < 2 or b > 20 or b % 2 for b in sizes) or len(set(sizes)) != len(sizes):
        return 'needs distinct even block sizes from 2 to 20 (1:1 allocation), e.g. "4,6"'
    return None


#: Parameters of each notebook, keyed by the notebook's file name without ``.ipynb``.
SPECS: dict[str, dict[str, Param]] = {
    "01_trial_design": {
        "data_dir": DATA_DIR,
        "n_patients": Param(
            91, "patients randomized in the randomization examples", low=2, high=2000
        ),
        "block_size": Param(
            4,
            "size of fixed permuted blocks (even)",
            low=2,
            high=20,
            check=lambda v: None if v % 2 == 0 else "must be even (1:1 allocation)",
        ),
        "random_block_sizes": Param(
            "4,6", 'block sizes drawn at random, equally likely, e.g. "2,4,6"', check=_even_sizes
        ),
        "imbalance_at_least": Param(
            3, "the arm-size difference asked about: P(|n1 - n2| >= this)", low=0, high=2000
        ),
        "n_sequences": Param(
            20_000,
            "simulated allocation sequences per scheme (checks the exact results)",
            low=100,
            high=2_000_000,
        ),
        "seed": Param(2022, "seed of the simulated allocation sequences", low=0),
    },
    "10_bayesian_reanalysis": {
        "data_dir": DATA_DIR,
        "clinically_relevant": Param(
            0.10,
            "smallest clinically relevant risk difference (fraction)",
            low=0,
            high=0.5,
            open_low=True,
            open_high=True,
        ),
        "prior_rate": Param(
            0.10,
            "response rate either arm would have without an effect, for the sceptical prior "
            "(and the placebo arm of the enthusiastic prior): an assumption",
            low=0.01,
            high=0.5,
        ),
        "prior_tail": Param(
            0.05,
            "sceptic's prior P(RD > clinically_relevant) and enthusiast's prior P(RD < 0); "
            "sets both priors' strengths",
            low=0,
            high=0.3,
            open_low=True,
        ),
        "cgm_weight": Param(
            0.5, "power-prior weight of the Zang 2023 CGM paper's patients (0 to 1)", low=0, high=1
        ),
        "hba1c_relevant": Param(
            0.5,
            "clinically relevant difference in HbA1c change at week 48, % (HbA1c)",
            low=0,
            high=2,
            open_low=True,
        ),
        "ensemble_size": Param(
            200,
            "reconstructions analysed for the HbA1c posterior (about 1.2 ms each, cached)",
            low=10,
            high=20_000,
        ),
        "mc_draws": Param(
            400_000,
            "Monte Carlo draws that check the exact posterior probabilities",
            low=1000,
            high=20_000_000,
        ),
        "seed": Param(
            0,
            "seed of the ensemble (notebook 03's, so both read one cached ensemble) and of "
            "the Monte Carlo check",
            low=0,
        ),
    },
    "05_primary_endpoint": {
        "data_dir": DATA_DIR,
        "alpha": _ALPHA,
        "hba1c_cutoff": Param(
            7.0, "HbA1c criterion at week 48: below this, % (NGSP)", low=5.0, high=12.0
        ),
        "insulin_reduction": Param(
            50.0, "insulin criterion: daily dose reduced by at least this percent", low=0, high=100
        ),
        "power": Param(
            0.8, "target power of the sample sizes that price dichotomizing", low=0.5, high=0.99
        ),
    },
    "06_hba1c_and_insulin_over_time": {
        "data_dir": DATA_DIR,
        "alpha": _ALPHA,
        "analysis_visit": Param(
            48,
            "week of the single-visit analyses (t-test, ANCOVA) and of the compared differences",
            choices=(4, 8, 12, 24, 36, 48),
        ),
        "ttest_on": Param(
            "CHG",
            "what the t-test compares: the change from baseline ('CHG') or the value ('AVAL')",
            choices=("CHG", "AVAL"),
        ),
        "gee_working": Param(
            "unstructured",
            "working correlation of the GEE",
            choices=("unstructured", "exchangeable", "independence"),
        ),
        "population": Param(
            "RANDFL",
            "ADSL flag of the subjects analysed (RANDFL: everyone randomized)",
            choices=("RANDFL", "FASFL", "PPSFL"),
        ),
    },
    "07_missing_data_and_estimands": {
        "data_dir": DATA_DIR,
        "seed": Param(2022, "seed of the teaching trial, imputations and simulation", low=0),
        "alpha": _ALPHA,
        "n_imputations": Param(
            100, "imputed data sets per multiple imputation (Rubin's rules)", low=2, high=10_000
        ),
        "responder_test": Param(
            "fisher",
            "test of the responder tables and tipping-point grids (barnard and boschloo are "
            "slow on large grids)",
            choices=("fisher", "chi2", "chi2_yates", "z", "barnard", "boschloo"),
        ),
        "dropout_mechanism": Param(
            "MAR",
            "how patients leave the SYNTHETIC teaching trial",
            choices=("MCAR", "MAR", "MNAR"),
        ),
        "dropout_rate": Param(
            0.3,
            "expected share of patients leaving before week 48 in the teaching trial and the "
            "simulation (a teaching setting, not the trial's)",
            low=0.02,
            high=0.6,
        ),
        "dropout_slope": Param(
            1.5, "MAR/MNAR: log-odds of leaving per 1 % higher HbA1c", low=-5.0, high=5.0
        ),
        "delta_shift": Param(
            "both",
            "which arm's imputed week-48 HbA1c the delta adjustment moves against UC-MSC",
            choices=("treatment", "control", "both"),
        ),
        "delta_max": Param(
            2.0, "largest delta of the tipping-point grid (HbA1c, %)", low=0.1, high=20.0
        ),
        "delta_step": Param(0.1, "step of the delta grid (HbA1c, %)", low=0.01, high=5.0),
        "sim_trials": Param(
            300,
            "simulated trials in the MCAR/MAR/MNAR study (about 2 ms each, vectorized)",
            low=10,
            high=100_000,
        ),
        "sim_imputations": Param(10, "imputations per simulated trial", low=2, high=1000),
        "sim_mmrm": Param(
            False, "also fit the MMRM in every simulated trial (about 0.06 s per trial)"
        ),
    },
    "08_safety": {
        "data_dir": DATA_DIR,
        "alpha": Param(
            0.05,
            "1 - confidence level of the bounds (one-sided) and intervals (two-sided)",
            low=0,
            high=0.5,
            open_low=True,
        ),
        "n_demo": Param(45, "patients in the rule-of-three demonstration", low=1, high=100_000),
        "population": Param(
            "RANDFL",
            "ADSL flag of the patients at risk (the safety set)",
            choices=("RANDFL", "FASFL", "PPSFL"),
        ),
        "rd_method": Param(
            "newcombe",
            "interval for risk differences of adverse-event incidence",
            choices=("newcombe", "wald", "agresti-caffo", "miettinen-nurminen"),
        ),
        "infusion_window": Param(
            28, "days after a patient's last infusion still attributed to it", low=1, high=365
        ),
    },
    "09_power_and_sample_size": {
        "alpha": _ALPHA,
        "target_power": Param(0.8, "first target power for the sample sizes", low=0.5, high=0.99),
        "target_power_high": Param(
            0.9, "second target power for the sample sizes", low=0.5, high=0.99
        ),
        "n_sim": Param(
            20_000,
            "simulated trials per scenario (Monte Carlo SE of a power near 0.5: 0.5/sqrt(n_sim))",
            low=200,
            high=10_000_000,
        ),
        "seed": Param(2022, "seed of the simulation studies", low=0),
        "scheduler": Param(
            "",
            'dask.distributed scheduler address for the simulations; "" = this machine '
            "(or the TRIALKIT_DASK_SCHEDULER environment variable)",
            check=_scheduler_address,
        ),
    },
    "02_what_the_paper_reports": {
        "alpha": _ALPHA,
        "fragility_test": Param(
            "fisher",
            "test used for the fragility index",
            choices=("fisher", "chi2", "chi2_yates", "barnard", "boschloo"),
        ),
        "rounding": Param(
            "half-up",
            "how the paper is assumed to round percentages when searching for denominators",
            choices=("half-up", "half-even", "any"),
        ),
        "max_n_per_arm": Param(
            46, "largest arm size searched for the HbA1c p = 0.0081 question", low=10, high=200
        ),
    },
    "03_synthetic_patients": {
        "seed": Param(0, "seed of the reconstruction and of the ensemble", low=0),
        "ensemble_size": Param(
            300, "reconstructions in the ensemble (about 1.2 ms each, cached)", low=10, high=20_000
        ),
        "jobs": Param(0, "worker processes for the ensemble; 0: every core", low=0, high=256),
        "reading": Param(
            "mean",
            "how '27.78% vs 15.62% insulin reduction' is read: mean percent reduction of the "
            "daily dose ('mean'), or share of patients ('share', not feasible)",
            choices=("mean", "share"),
            check=_feasible_reading,
        ),
    },
    "04_endpoint_derivation": {
        "data_dir": DATA_DIR,
        "hba1c_cutoff": Param(7.0, "HbA1c criterion at week 48, % (NGSP)", low=5.0, high=12.0),
        "strict": Param(True, "True: HbA1c below the cut-off (the paper's '< 7.0%'); False: <="),
        "insulin_reduction": Param(
            50.0, "insulin criterion: daily dose reduced by at least this percent", low=0, high=100
        ),
        "missing": Param(
            "non-responder",
            "rule for a missing week-48 value (derive.MISSING_RULES; 'baseline' is BOCF)",
            choices=("non-responder", "complete-case", "locf", "baseline"),
        ),
        "population": Param(
            "FAS",
            "analysis population (ADSL flag FASFL, RANDFL or PPSFL)",
            choices=("FAS", "randomized", "PPS"),
        ),
    },
}


# ---------------------------------------------------------------------------------------
# Parameters that cannot work together, and run time
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A condition on several parameters of one notebook: ``check(full_parameters)``
    returns why the combination cannot work and what would (or None when it works).
    ``names`` are the parameters involved, named with their values in the message."""

    names: tuple[str, ...]
    check: Callable[[Mapping[str, Any]], str | None]


def _show(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (messages stay short)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _data(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The analyst's data of ``data_dir`` (None for the synthetic patients); the folder
    has passed ``data_folder`` already."""
    return _read_folder(Path(values["data_dir"])) if values.get("data_dir") else None


def _needs_adae(values: Mapping[str, Any]) -> str | None:
    data = _data(values)
    if data is None:
        return None
    if "ADAE" in data:
        if (data["ADAE"]["TRTEMFL"] == "Y").any():
            return None
        return (
            "ADAE.csv has no treatment-emergent adverse event (TRTEMFL 'Y'); notebook 08's "
            "tables by infusion period cannot be computed without one (a trial without "
            "adverse events needs no safety notebook: its incidence is 0 in both arms)"
        )
    return (
        "notebook 08 analyses adverse events, and this folder has no ADAE.csv; add ADAE.csv "
        "(an ADAE.csv with only its header row means: no adverse events), or run the other "
        "notebooks on it"
    )


def _population_arms(flags: Mapping[str, str]) -> Callable[[Mapping[str, Any]], str | None]:
    """Both arms must have patients in the chosen population."""

    def check(values: Mapping[str, Any]) -> str | None:
        from trialkit import schema

        data = _data(values)
        if data is None:
            return None
        flag = flags[values["population"]]
        adsl = data["ADSL"]
        members = adsl.loc[adsl[flag] == "Y", "ARM"]
        empty = [a for a in schema.ARMS if not (members == a).any()]
        if not empty:
            return None
        fine = [
            repr(k)
            for k, f in flags.items()
            if all((adsl.loc[adsl[f] == "Y", "ARM"] == a).any() for a in schema.ARMS)
        ]
        return (
            f"arm {empty[0]!r} has no patient with {flag} 'Y' in ADSL.csv, so nothing can be "
            f"compared; populations with both arms: {', '.join(fine) or 'none'}"
        )

    return check


def _visit_has_data(values: Mapping[str, Any]) -> str | None:
    """Notebook 06's single-visit analyses need 2 values per arm at ``analysis_visit``."""
    from trialkit import schema

    data = _data(values)
    if data is None:
        return None
    week = values["analysis_visit"]
    arms = data["ADSL"].set_index("USUBJID")["ARM"]
    found = []
    for name, paramcd in (("ADLB", "HBA1C"), ("ADEX", "INSDOSE")):
        recs = data[name].loc[data[name]["PARAMCD"] == paramcd]
        weeks = schema._weeks(recs)

        def enough(w: float, recs: Any = recs, weeks: Any = weeks) -> bool:
            at = recs.loc[weeks == w, "USUBJID"].map(arms)
            return all((at == a).sum() >= 2 for a in schema.ARMS)

        if not enough(week):
            have = sorted(int(w) for w in weeks.dropna().unique() if w > 0 and enough(w))
            found.append(
                f"{name}.csv has fewer than 2 {paramcd} values per arm at week {week}; "
                f"weeks with enough: {', '.join(map(str, have)) or 'none'}"
            )
    return "; ".join(found) or None


def _imputable(values: Mapping[str, Any]) -> str | None:
    """Notebook 07's multiple imputation needs 4 observed patients per arm at a visit."""
    from trialkit import stats

    data = _data(values)
    if data is None:
        return None
    try:
        wide = stats.visits_wide(data["ADSL"], data["ADLB"], "HBA1C", "randomized")
        stats.multiple_imputation(wide, 2, 0)
    except ValueError as e:
        return (
            f"the multiple imputation of notebook 07 (from the baseline, by arm and visit) "
            f"cannot use these data: {e}"
        )
    return None


def _rates_differ(values: Mapping[str, Any]) -> str | None:
    """Notebook 05 compares the arms' responder rates: with equal rates (0 responders in
    both arms, say) the risk ratio, odds ratio, NNT and the sample sizes that price the
    dichotomy are undefined."""
    from trialkit import derive
    from trialkit.datafiles import SYNTHETIC_DIR

    data = _read_folder(Path(values.get("data_dir") or SYNTHETIC_DIR))
    adlb, adex = derive.derive_adlb(data["ADLB"]), derive.derive_adex(data["ADEX"])
    resp = derive.responders(
        data["ADSL"],
        adlb,
        adex,
        hba1c_cutoff=values["hba1c_cutoff"],
        insulin_reduction=values["insulin_reduction"],
    )
    counts = derive.responder_counts(resp, None)["RESP"]
    (x1, n1), (x2, n2) = counts.values()
    if x1 * n2 != x2 * n1:
        return None
    return (
        f"with these cut-offs both arms have the same responder rate ({x1}/{n1} vs {x2}/{n2}): "
        "the risk ratio, odds ratio, NNT and the sample sizes of notebook 05 are undefined "
        "for equal rates; choose cut-offs under which the arms differ"
    )


def _delta_grid(values: Mapping[str, Any]) -> str | None:
    step, top = values["delta_step"], values["delta_max"]
    if step > top:
        return (
            f"the grid 0, {step:g}, ... stops at delta_max = {top:g} before its first step; "
            f"choose delta_step <= {top:g} (e.g. {top / 20:g} for 21 points) or delta_max >= "
            f"{step:g}"
        )
    if top / step > 2000:
        return (
            f"a grid of {top / step:.0f} deltas is too fine to compute; choose delta_step >= "
            f"{top / 2000:g}"
        )
    return None


def _priors(values: Mapping[str, Any]) -> str | None:
    """Notebook 10's sceptical and enthusiastic priors exist for these settings.

    The rule of ``stats.sceptical_prior`` / ``stats.enthusiastic_prior``: the prior's
    strength s is searched from the weakest unimodal prior (both beta parameters >= 1,
    s >= max(1/m, 1/(1 - m)) for each mean m) upwards, and the tail probability falls as
    s grows; so a prior exists exactly when the weakest one still has at least
    ``prior_tail`` in its tail (and, for the enthusiast, ``prior_rate +
    clinically_relevant`` < 1). Checked here with the same functions, before any work.
    """
    from scipy import optimize

    from trialkit import stats

    rate, rel, tail = values["prior_rate"], values["clinically_relevant"], values["prior_tail"]
    found = []

    def sceptic_tail(r: float) -> float:
        low = max(1 / rate, 1 / (1 - rate))
        prior = stats.beta_prior(rate, low)
        return stats.prob_greater(prior, prior, r)

    here = sceptic_tail(rel)
    if here < tail:
        ways = []  # a prior_tail that rounds to 0 is no choice: it must be above 0
        if math.floor(here * 1000) > 0:
            ways.append(f"prior_tail <= {math.floor(here * 1000) / 1000:g}")
        if sceptic_tail(1e-6) > tail:
            best = optimize.brentq(lambda r: sceptic_tail(r) - tail, 1e-6, rel, xtol=1e-6)
            ways.append(f"clinically_relevant <= {math.floor(best * 1000) / 1000:g}")
        if rate != 0.5:
            ways.append("a prior_rate nearer 0.5")
        found.append(
            f"no sceptical prior exists: even the weakest unimodal prior centred on "
            f"prior_rate {rate:g} gives P(RD > {rel:g}) = {here:.3g} < prior_tail {tail:g}"
            + (f" (choose {', or '.join(ways)})" if ways else "")
        )

    def harm_tail(r: float) -> float:
        hi = rate + r
        low = max(1 / rate, 1 / (1 - rate), 1 / hi, 1 / (1 - hi))
        return 1 - stats.prob_greater(stats.beta_prior(hi, low), stats.beta_prior(rate, low), 0)

    if rate + rel >= 1:
        found.append(
            f"no enthusiastic prior exists: prior_rate + clinically_relevant = {rate + rel:g} "
            f"is not a response rate below 1; choose clinically_relevant < {1 - rate:g}"
        )
    elif (harm := harm_tail(rel)) < tail:
        what = []
        if math.floor(harm * 1000) > 0:
            what.append(f"prior_tail <= {math.floor(harm * 1000) / 1000:g}")
        if harm_tail(1e-6) > tail:
            best = optimize.brentq(lambda r: harm_tail(r) - tail, 1e-6, rel, xtol=1e-6)
            what.append(f"clinically_relevant <= {math.floor(best * 1000) / 1000:g}")
        found.append(
            f"no enthusiastic prior exists: even the weakest unimodal priors (centred on "
            f"{rate:g} and {rate + rel:g}) give P(RD < 0) = {harm:.3g} < prior_tail {tail:g}"
            + (f"; choose {' or '.join(what)}" if what else "")
        )
    return "; ".join(found) or None


_POPULATION_FLAGS = {"RANDFL": "RANDFL", "FASFL": "FASFL", "PPSFL": "PPSFL"}

#: Cross-parameter rules per notebook, checked by :func:`validate` (so by the runner before
#: anything runs, and by :func:`check` inside the notebook).
COMBINATIONS: dict[str, tuple[Rule, ...]] = {
    "04_endpoint_derivation": (
        Rule(
            ("data_dir", "population"),
            _population_arms({"FAS": "FASFL", "randomized": "RANDFL", "PPS": "PPSFL"}),
        ),
    ),
    "06_hba1c_and_insulin_over_time": (
        Rule(("data_dir", "population"), _population_arms(_POPULATION_FLAGS)),
        Rule(("data_dir", "analysis_visit"), _visit_has_data),
    ),
    "05_primary_endpoint": (
        Rule(("data_dir", "hba1c_cutoff", "insulin_reduction"), _rates_differ),
    ),
    "07_missing_data_and_estimands": (
        Rule(("delta_step", "delta_max"), _delta_grid),
        Rule(("data_dir",), _imputable),
    ),
    "08_safety": (
        Rule(("data_dir",), _needs_adae),
        Rule(("data_dir", "population"), _population_arms(_POPULATION_FLAGS)),
    ),
    "10_bayesian_reanalysis": (Rule(("clinically_relevant", "prior_rate", "prior_tail"), _priors),),
}

#: A run longer than this (seconds, by :func:`estimate_seconds`) needs an explicit flag.
LONG_RUN_SECONDS = 600.0
ALLOW_LONG_ENV = "TRIALKIT_ALLOW_LONG"

#: The parameters that drive each notebook's run time (named in the refusal).
RUN_TIME_PARAMETERS: dict[str, tuple[str, ...]] = {
    "01_trial_design": ("n_sequences",),
    "03_synthetic_patients": ("ensemble_size", "jobs"),
    "07_missing_data_and_estimands": (
        "sim_trials",
        "sim_mmrm",
        "sim_imputations",
        "n_imputations",
        "delta_max",
        "delta_step",
        "responder_test",
    ),  # fmt: skip
    "09_power_and_sample_size": ("n_sim",),
    "10_bayesian_reanalysis": ("ensemble_size", "mc_draws"),
}


def estimate_seconds(notebook: str, values: Mapping[str, Any]) -> float:
    """Rough wall time of one notebook, in seconds, from its parameters.

    A fixed part plus the parts that grow with the simulation sizes, calibrated on the
    runner's measured times (one notebook at a time, a 2-core machine, November 2026, after
    issue 12's vectorization; the fixed parts again after its last changes, with the
    defaults: 01 3.3 s, 02 3.1 s, 03 3.8 s, 04 3.9 s, 05 3.1 s, 06 4.3 s, 07 4.4 s, 08 3.0 s,
    09 3.9 s, 10 3.9 s); with each size raised: 01 n_sequences 200,000: 7.0 s; 03 ensemble_size
    3,000 (not cached): 8.1 s; 07 sim_trials 3,000: 8.5 s, n_imputations 1,000: 6.1 s,
    sim_imputations 100: 11.8 s, sim_mmrm with 60 trials: 8.2 s; 09 n_sim 200,000: 7.0 s;
    10 ensemble_size 2,000 with mc_draws 4,000,000: 9.0 s. Good to a factor of about 2:
    enough to tell minutes from hours.
    """
    v = {**{n: p.default for n, p in SPECS.get(notebook, {}).items()}, **values}
    if notebook == "01_trial_design":
        return 2.95 + 1.8e-5 * v["n_sequences"]
    if notebook == "03_synthetic_patients":
        return 3.45 + 1.2e-3 * v["ensemble_size"]  # trialkit.ensemble, not cached: ~1.2 ms each
    if notebook == "07_missing_data_and_estimands":
        n_delta = v["delta_max"] / v["delta_step"] + 1
        grid = v["n_imputations"] * (2 * n_delta + 3 * n_delta) * 1.1e-5
        slow_test = v["responder_test"] in ("barnard", "boschloo")
        tests = 0.05 * (2 * v["n_imputations"] + 100) if slow_test else 0.0
        per_trial = 0.0005 + 0.0002 * v["sim_imputations"] + (0.06 if v["sim_mmrm"] else 0.0)
        return 3.55 + grid + tests + v["sim_trials"] * per_trial
    if notebook == "09_power_and_sample_size":
        return 3.65 + 1.2e-5 * v["n_sim"]
    if notebook == "10_bayesian_reanalysis":
        return 3.4 + 1.2e-3 * v["ensemble_size"] + 7e-7 * v["mc_draws"]
    fixed = {
        "02_what_the_paper_reports": 3.1,
        "04_endpoint_derivation": 3.9,
        "05_primary_endpoint": 3.1,
        "06_hba1c_and_insulin_over_time": 4.3,
        "08_safety": 3.0,
    }
    return fixed.get(notebook, 5.0)


def defaults(notebook: str) -> dict[str, Any]:
    """The default value of every parameter of ``notebook``."""
    return {name: p.default for name, p in _spec(notebook).items()}


def coerce(notebook: str, name: str, text: str) -> Any:
    """Turn a command-line string into the parameter's declared type.

    ``-p alpha 0.01`` gives the float 0.01; ``-p fragility_test chi2`` the string.
    Raises ParameterError naming the parameter when the text does not parse.
    """
    spec = _spec(notebook)
    if name not in spec:
        raise ParameterError(_unknown(notebook, name, spec))
    t = spec[name].type
    try:
        if t is bool:
            low = text.strip().lower()
            if low in ("true", "yes", "1"):
                return True
            if low in ("false", "no", "0"):
                return False
            raise ValueError(text)
        if t is int:
            return int(text)
        if t is float:
            return float(text)
    except ValueError:
        raise ParameterError(
            f"{notebook}: parameter {name!r} = {text!r} does not parse: "
            f"expected {spec[name].allowed()} ({spec[name].help})"
        ) from None
    return text


def validate(
    notebook: str, values: Mapping[str, Any], *, allow_long: bool | None = None
) -> dict[str, Any]:
    """Check ``values`` against the notebook's declared parameters.

    Returns the full parameter set (defaults overlaid with ``values``; paths made
    absolute). Raises one ParameterError listing every problem, each naming the parameter,
    its value and what is allowed; then the combinations of values that cannot work
    together (``COMBINATIONS``: both parameters named, and what would work); then a run
    longer than ``LONG_RUN_SECONDS`` by :func:`estimate_seconds`, unless ``allow_long``
    (default: the environment variable ``TRIALKIT_ALLOW_LONG`` is set, as the runner's
    ``--allow-long`` does for its kernels). Nothing else is done, so a caller can validate
    before executing anything.
    """
    spec = _spec(notebook)
    problems = []
    for name, value in values.items():
        if name not in spec:
            problems.append(_unknown(notebook, name, spec))
            continue
        why = spec[name].problem(value)
        if why:
            problems.append(
                f"{notebook}: parameter {name!r} = {_show(value)} {why} ({spec[name].help})"
            )
    if problems:
        raise ParameterError("\n".join(problems))
    full = {**defaults(notebook), **values}
    for name, p in spec.items():  # a notebook may run in another folder than the caller
        if p.path and full[name]:
            full[name] = str(Path(full[name]).resolve())
    for rule in COMBINATIONS.get(notebook, ()):
        why = rule.check(full)
        if why:
            shown = ", ".join(f"{n} = {_show(full[n])}" for n in rule.names)
            if len(rule.names) == 1:
                problems.append(f"{notebook}: parameter {shown} cannot be used here: {why}")
            else:
                problems.append(f"{notebook}: parameters {shown} do not work together: {why}")
    if problems:
        raise ParameterError("\n".join(problems))
    if allow_long is None:
        allow_long = os.environ.get(ALLOW_LONG_ENV, "") not in ("", "0")
    seconds = estimate_seconds(notebook, full)
    if seconds > LONG_RUN_SECONDS and not allow_long:
        raise ParameterError(
            f"{notebook}: these parameters would run for about {_duration(seconds)} (estimate; "
            f"the limit is {_duration(LONG_RUN_SECONDS)}): "
            + ", ".join(f"{n} = {_show(full[n])}" for n in RUN_TIME_PARAMETERS.get(notebook, ()))
            + "; choose smaller values, or allow a long run explicitly "
            f"(python -m trialkit run --allow-long, or {ALLOW_LONG_ENV}=1)"
        )
    return full


def check(notebook: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a notebook's parameters from inside the notebook.

    Call it in the cell after the ``parameters`` cell with ``globals()``: it reads every
    declared parameter from the namespace (papermill's injected values included) and
    raises ParameterError before any work is done if one is wrong. Returns the values.
    """
    spec = _spec(notebook)
    missing = [name for name in spec if name not in namespace]
    if missing:
        raise ParameterError(
            f"{notebook}: the parameters cell does not define {', '.join(missing)}"
        )
    return validate(notebook, {name: namespace[name] for name in spec})


def _spec(notebook: str) -> dict[str, Param]:
    try:
        return SPECS[notebook]
    except KeyError:
        raise ParameterError(
            f"no parameters are declared for notebook {notebook!r}; known notebooks: "
            + ", ".join(sorted(SPECS))
        ) from None


def _unknown(notebook: str, name: str, spec: Mapping[str, Param]) -> str:
    close = difflib.get_close_matches(name, list(spec), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{notebook}: unknown parameter {name!r}{hint}; this notebook takes: " + ", ".join(
        f"{n} ({p.allowed()})" for n, p in spec.items()
    )
