"""SYNTHETIC patients for the Zang et al. (2022) trial: simulate, reconstruct, ensemble.

Individual patient data of the trial are not public. This module makes clearly labelled
synthetic patients, in the four datasets of the collection (``ADSL``, ``ADLB``, ``ADEX``,
``ADAE``; see ``data/synthetic/README.md`` for the columns). Every table has a
``SYNTHETIC = "Y"`` column, ``df.attrs["synthetic"] = True`` and ``df.attrs["provenance"]``
(the call that made it).

Two ways, one generative model:

- ``simulate(...)`` draws one trial from a model whose every unpublished number is an
  assumption in ``data/assumptions.yaml`` (``assumptions()``, ``assumption_table()``):
  baseline covariates inside the registry's eligibility ranges, HbA1c and daily insulin
  dose with within-patient correlation over visits, fasting glucose, clamp glucose
  infusion rate and C-peptide, dropout with reasons, adverse events. The between-arm
  effects default to the published end-minus-baseline differences (``effect=1``);
  ``effect=0`` makes the arms alike. ``simulate_endpoints(k, ...)`` draws the week-48
  endpoints of ``k`` trials at once (vectorized; for power and operating characteristics).
- ``reconstruct(...)`` builds one data set that reproduces every published summary that
  patient data determine, at its printed precision; ``ensemble(k, ...)`` builds ``k`` of
  them, to show what the published summary leaves open. ``compare_with_published(data)``
  checks any data set (synthetic or real, same columns) against the paper, row by row.

Notebooks read patients through one entry point, ``load(data_dir)``: ``""`` gives the
canonical reconstruction in ``data/synthetic``, a folder gives the analyst's own data,
validated by ``trialkit.schema.read``.

How ``reconstruct`` works (SPRITE-like: Heathers et al. 2018, PeerJ Preprints 6:e26968)
---------------------------------------------------------------------------------------
1. Draw a trial from the generative model (``effect=1``); 2 placebo patients become the
   dropouts the analysed numbers imply (45/45 and 44/46 analysed, see the assumption
   ``reconstruct_analysed``).
2. Moment matching, per arm over the analysed patients: baseline and week-48 HbA1c are
   linearly rescaled to the published mean and SD (this keeps each patient's rank and
   the baseline/week-48 correlation of the draw); the insulin percent change is shifted
   to the published mean reduction; GIR values are shifted to the published means.
3. Composite: the patients meeting HbA1c < 7.0 % and the >= 50 % insulin reduction are
   counted; while there are too many (few), one patient (drawn at random, the nearest to
   the thresholds most likely) has the failing (met) component mirrored across its
   threshold, until exactly 9 of 45 and 2 of 44 respond. Each patient's category then
   fixes bounds for the discrete values (e.g. a responder's week-48 HbA1c <= 6.9 and
   dose < half the baseline dose; a patient meeting only the HbA1c part keeps a dose
   above half), and every baseline value keeps the eligibility ranges.
4. Discrete repair: values are rounded as recorded (HbA1c to 0.1, dose to whole units,
   GIR to 0.01), then moved by single steps (one patient +-1 unit, to fix a mean) and
   by pairs (one up, one down: the sum stays and the SD moves by a little) chosen at
   random among the moves that land inside the target window, until every mean and SD
   lies within 0.4 of the last printed digit (``match_margin``). Bounds are never left,
   so the composite counts and eligibility survive.
5. The printed p-value bounds that depend on unpublished spreads (insulin p < 0.05; GIR
   p < 0.01 within UC-MSC, p > 0.05 within placebo, p < 0.01 between) are checked with the
   assumed tests; a draw that fails them is discarded and the next one is tried.
6. The intermediate visits, fasting glucose, C-peptide, visit days and adverse events
   are filled in from the model, anchored at the reconstructed baseline and week-48
   values.

What cannot be matched: the printed HbA1c decreases (1.31 %, 0.63 %) differ from the
differences of the printed means (1.50, 0.70) and cannot come from the same patients;
the within-placebo p > 0.05 for that decrease is impossible with a paired t-test for any
correlation (see ``compare_with_published``); the between-group p = 0.0081 is not forced
(it depends on the unpublished baseline/week-48 correlation) and is reported.

All randomness comes from ``numpy.random.Generator`` seeded by the ``seed`` argument:
the same seed gives byte-identical data; ensemble member ``i`` uses
``SeedSequence(seed).spawn(k)[i]`` whatever the number of processes.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import copy
import functools
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from trialkit import published

__all__ = [
    "ARMS",
    "ASSUMPTIONS_PATH",
    "DATASETS",
    "SYNTHETIC_DIR",
    "Assumption",
    "AssumptionError",
    "ReconstructionError",
    "assumption_table",
    "assumptions",
    "compare_with_published",
    "ensemble",
    "ensemble_member",
    "insulin_share_denominators",
    "load",
    "main",
    "read_csvs",
    "reconstruct",
    "simulate",
    "simulate_endpoints",
    "summary",
    "write_csvs",
]

ROOT: Final[Path] = Path(__file__).resolve().parent.parent
#: Every assumed number, with its reason.
ASSUMPTIONS_PATH: Final[Path] = ROOT / "data" / "assumptions.yaml"
#: The canonical reconstruction (``reconstruct()`` with the default seed), as CSV files.
SYNTHETIC_DIR: Final[Path] = ROOT / "data" / "synthetic"
#: Arm labels, UC-MSC first (the order of ``n_per_arm`` tuples).
ARMS: Final[tuple[str, str]] = ("UC-MSC", "Placebo")
#: Dataset names, as keys of the returned dict.
DATASETS: Final[tuple[str, ...]] = ("ADSL", "ADLB", "ADEX", "ADAE")
#: Laboratory parameters in ADLB and their units.
LAB_UNITS: Final[dict[str, str]] = {
    "HBA1C": "% (NGSP)",
    "FPG": "mmol/L",
    "GIR": "mg/min/kg",
    "CPEP": "ng/mL",
}
_KEY: Final[dict[str, str]] = {"UC-MSC": "ucmsc", "Placebo": "placebo"}
_SEVERITY: Final[tuple[str, str, str]] = ("MILD", "MODERATE", "SEVERE")
_GROUPS: Final[tuple[str, ...]] = (
    "schedule",
    "baseline",
    "trajectory",
    "dropout",
    "analysis",
    "reconstruction",
    "safety",
)
#: Groups whose entries notebooks use and the generator does not (checked only for shape).
_NOTEBOOK_GROUPS: Final[tuple[str, ...]] = ("analysis", "safety")
_VERSION: Final[str] = "0.1.0"


class AssumptionError(ValueError):
    """The assumptions file (or an override) is malformed; the message names the entry."""


class ReconstructionError(RuntimeError):
    """No draw could be repaired to match the published summaries."""


# =========================================================================== assumptions
@dataclass(frozen=True)
class Assumption:
    """One assumed number (or rule): what the generator uses where the paper is silent."""

    name: str
    value: Any
    unit: str
    reason: str
    parameter: bool
    group: str


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise AssumptionError(what)


def _prob(v: Any) -> None:
    _need(_is_num(v) and 0 <= v <= 1, f"must be a probability in [0, 1], got {v!r}")


def _pos(v: Any) -> None:
    _need(_is_num(v) and v > 0, f"must be a positive number, got {v!r}")


def _mean_sd(v: Any) -> None:
    _need(isinstance(v, dict) and {"mean", "sd"} <= set(v), f"needs mean and sd, got {v!r}")
    _need(_is_num(v["mean"]), f"mean must be a number, got {v['mean']!r}")
    _pos(v["sd"])


def _shape(v: Any) -> None:
    _need(
        isinstance(v, list) and all(_is_num(x) for x in v) and len(v) >= 2,
        f"must be a list of numbers, got {v!r}",
    )
    _need(v[0] == 0 and v[-1] == 1, f"must start at 0 (baseline) and end at 1 (week 48): {v}")


def _interval(v: Any) -> None:
    _need(
        isinstance(v, list) and len(v) == 2 and all(_is_num(x) for x in v) and v[0] < v[1],
        f"must be [low, high] with low < high, got {v!r}",
    )


def _weeks(v: Any) -> None:
    _need(
        isinstance(v, list) and all(isinstance(x, int) and x >= 0 for x in v),
        f"must be a list of whole weeks, got {v!r}",
    )
    _need(v == sorted(set(v)), f"weeks must be increasing without repeats, got {v!r}")


def _probs(v: Any) -> None:
    _need(isinstance(v, dict) and v, f"must be a mapping of reasons to probabilities: {v!r}")
    for p in v.values():
        _prob(p)
    _need(abs(sum(v.values()) - 1) < 1e-9, f"probabilities must sum to 1, got {v!r}")


def _check_ae(v: Any) -> None:
    _need(isinstance(v, list) and v, "must be a non-empty list of adverse-event terms")
    keys = {"term", "soc", "per", "UC-MSC", "Placebo", "related", "severity", "serious"}
    for e in v:
        _need(isinstance(e, dict) and set(e) == keys, f"each term needs keys {sorted(keys)}")
        _need(e["per"] in ("subject", "infusion"), f"{e['term']}: per is subject or infusion")
        _prob(e["UC-MSC"])
        _prob(e["Placebo"])
        sev = e["severity"]
        _need(
            isinstance(sev, list) and len(sev) == 3 and abs(sum(sev) - 1) < 1e-9,
            f"{e['term']}: severity is 3 probabilities [MILD, MODERATE, SEVERE] summing to 1",
        )
        _need(
            not (e["related"] and (e["serious"] or sev[2] > 0)),
            f"{e['term']}: a related event is never serious or severe (the abstract: no major "
            "adverse events related to UC-MSC transplantation)",
        )


def _check_lab_visits(v: Any) -> None:
    _need(isinstance(v, dict) and set(v) == {*LAB_UNITS, "INSDOSE"}, f"keys: {v!r}")
    for w in v.values():
        _weeks(w)
        _need(w[0] == 0 and w[-1] == 48, f"every parameter is measured at weeks 0 and 48: {w}")


_CHECKS: Final[dict[str, Callable[[Any], None]]] = {
    "visit_weeks": lambda v: (_weeks(v), _need(v[0] == 0 and v[-1] == 48, "0 ... 48")),
    "infusion_weeks": _weeks,
    "visit_day_jitter": lambda v: _need(isinstance(v, int) and 0 <= v <= 6, "0-6 days"),
    "baseline_days": lambda v: (_interval(v), _need(v[1] <= 1, "baseline ends by day 1")),
    "lab_visits": _check_lab_visits,
    "lab_decimals": lambda v: _need(
        isinstance(v, dict)
        and set(v) == {*LAB_UNITS, "INSDOSE"}
        and all(isinstance(d, int) and 0 <= d <= 3 for d in v.values())
        and v["INSDOSE"] == 0,
        "decimals 0-3 per parameter; INSDOSE 0 (whole units per day)",
    ),
    "sex_male_fraction": _prob,
    "age": _mean_sd,
    "age_at_diagnosis_min": _pos,
    "diabetes_duration": _mean_sd,
    "height": lambda v: (_mean_sd(v["M"]), _mean_sd(v["F"]), _interval([v["min"], v["max"]])),
    "bmi": _mean_sd,
    "insulin_per_kg": _mean_sd,
    "hba1c_baseline": _mean_sd,
    "fpg_model": lambda v: _need(isinstance(v, dict) and "slope" in v, "FPG model mapping"),
    "cpep_model": lambda v: (_pos(v["median"]), _pos(v["log_sd"]), _pos(v["visit_cv"])),
    "gir_baseline": _mean_sd,
    "gir_change_sd": _pos,
    "hba1c_shape": _shape,
    "hba1c_change_baseline_slope": lambda v: _need(_is_num(v) and -1 < v <= 0, "in (-1, 0]"),
    "hba1c_change_sd": _pos,
    "hba1c_visit_sd": _pos,
    "visit_noise_corr_12w": lambda v: _need(_is_num(v) and 0 <= v < 1, "in [0, 1)"),
    "hba1c_range": lambda v: (_interval(v["week48"]), _interval(v["visits"])),
    "insulin_shape": _shape,
    "insulin_pchg_sd": lambda v: (
        _need(isinstance(v, dict) and set(v) == set(ARMS), "an SD per arm"),
        [_pos(x) for x in v.values()],
    ),
    "insulin_pchg_range": _interval,
    "insulin_visit_sd": _pos,
    "rho_hba1c_insulin": lambda v: _need(_is_num(v) and -1 < v < 1, "a correlation in (-1, 1)"),
    "dropout_probability": _prob,
    "dropout_reasons": _probs,
    "dropout_last_visit": _weeks,
    "analysis_set": lambda v: _need(v == "completers", "only 'completers' is implemented"),
    "reconstruct_analysed": lambda v: _need(
        isinstance(v, dict) and set(v) == set(ARMS), "a count per arm"
    ),
    "summary_set": lambda v: _need(v == "analysed", "only 'analysed' is implemented"),
    "insulin_reading": lambda v: _need(v in ("mean", "share"), "'mean' or 'share'"),
    "gir_summary": lambda v: _need(v == "mean", "only 'mean' is implemented"),
    "match_margin": lambda v: _need(_is_num(v) and 0 < v < 0.5, "in (0, 0.5)"),
    "assumed_tests": lambda v: _need(isinstance(v, dict), "a mapping"),
    "adverse_events": _check_ae,
    "adverse_event_pretreatment": lambda v: (
        _prob(v["probability"]),
        _need(v["first_day"] < 0, "first_day < 0"),
    ),
}


def _plain_value(v: Any) -> None:
    """A notebook's assumption: a number, string or bool, or a list/mapping of them."""
    leaves = v.values() if isinstance(v, dict) else v if isinstance(v, list) else [v]
    _need(
        all(isinstance(x, bool | int | float | str) for x in leaves),
        "a number, string or true/false, or a list or mapping of them",
    )


def _check(name: str, value: Any, where: str) -> None:
    try:
        _CHECKS.get(name, _plain_value)(value)
    except AssumptionError as e:
        raise AssumptionError(f"{where}: assumption {name!r}: {e}") from None
    except (KeyError, TypeError) as e:
        raise AssumptionError(f"{where}: assumption {name!r}: malformed value ({e!r})") from None


@functools.lru_cache(maxsize=4)
def _load_assumptions(path: str, mtime: float) -> dict[str, Assumption]:
    del mtime  # cache key only
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise AssumptionError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("assumptions"), dict):
        raise AssumptionError(f"{path}: expected a top-level mapping 'assumptions:'")
    entries = raw["assumptions"]
    missing = sorted(set(_CHECKS) - set(entries))
    # the generator's own numbers each have a check; other entries are analysis choices
    # made in notebooks (priors, analysis sets ...) and must say so by their group
    unknown = sorted(
        name
        for name, e in entries.items()
        if name not in _CHECKS and not (isinstance(e, dict) and e.get("group") in _NOTEBOOK_GROUPS)
    )
    if missing or unknown:
        raise AssumptionError(
            f"{path}: missing assumption(s) {missing}; unknown assumption(s) {unknown} "
            "(an assumption used only by notebooks belongs to group "
            f"{' or '.join(_NOTEBOOK_GROUPS)})"
        )
    out: dict[str, Assumption] = {}
    fields = {"value", "unit", "reason", "parameter", "group"}
    for name, e in entries.items():
        if not isinstance(e, dict) or set(e) != fields:
            got = sorted(e) if isinstance(e, dict) else type(e).__name__
            raise AssumptionError(f"{path}: {name!r} needs exactly {sorted(fields)}, got {got}")
        if not isinstance(e["unit"], str) or not e["unit"]:
            raise AssumptionError(f"{path}: {name!r}: unit must be a non-empty string")
        if not isinstance(e["reason"], str) or len(e["reason"]) < 20:
            raise AssumptionError(f"{path}: {name!r}: reason must say why (>= 20 characters)")
        if not isinstance(e["parameter"], bool):
            raise AssumptionError(f"{path}: {name!r}: parameter must be true or false")
        if e["group"] not in _GROUPS:
            raise AssumptionError(f"{path}: {name!r}: group must be one of {_GROUPS}")
        _check(name, e["value"], path)
        out[name] = Assumption(
            name, e["value"], e["unit"], " ".join(e["reason"].split()), e["parameter"], e["group"]
        )
    _check_consistency(out, path)
    return out


def _check_consistency(a: Mapping[str, Assumption], where: str) -> None:
    weeks = a["visit_weeks"].value
    for name in ("hba1c_shape", "insulin_shape"):
        if len(a[name].value) != len(weeks):
            raise AssumptionError(f"{where}: {name!r} needs one value per visit week {weeks}")
    for name in ("infusion_weeks", "dropout_last_visit"):
        if not set(a[name].value) <= set(weeks):
            raise AssumptionError(f"{where}: {name!r} weeks must be visit weeks {weeks}")
    if 48 in a["dropout_last_visit"].value or 0 in a["dropout_last_visit"].value:
        raise AssumptionError(f"{where}: 'dropout_last_visit' lies strictly between 0 and 48")
    for p, w in a["lab_visits"].value.items():
        if not set(w) <= set(weeks):
            raise AssumptionError(f"{where}: 'lab_visits' {p}: weeks must be visit weeks")


def assumptions(path: str | Path | None = None) -> dict[str, Assumption]:
    """Load and validate ``data/assumptions.yaml``: ``{name: Assumption}``.

    Every entry must have value, unit, reason, parameter (bool) and group; each value is
    checked (probabilities in [0, 1], positive SDs, shapes with one value per visit ...).
    Raises ``AssumptionError`` (a ``ValueError``) naming the file and the entry at fault.
    The returned objects are copies: changing them does not change later calls.
    """
    p = Path(path) if path is not None else ASSUMPTIONS_PATH
    p = p.resolve()
    if not p.is_file():
        raise FileNotFoundError(f"assumptions file not found: {p}")
    return copy.deepcopy(_load_assumptions(str(p), p.stat().st_mtime))


def assumption_table(path: str | Path | None = None) -> pd.DataFrame:
    """The assumptions for display: one row per name (group, value, unit, parameter, reason)."""
    rows = [
        {
            "name": a.name,
            "group": a.group,
            "value": _short(a.value),
            "unit": a.unit,
            "parameter": a.parameter,
            "reason": a.reason,
        }
        for a in assumptions(path).values()
    ]
    return pd.DataFrame(rows).set_index("name")


def _short(v: Any) -> str:
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return f"{len(v)} entries (see data/assumptions.yaml)"
    return str(v)


def _settings(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Assumed values by name, with ``params`` overrides validated like the file."""
    s = {name: a.value for name, a in assumptions().items()}
    for name, value in (params or {}).items():
        if name not in s:
            raise AssumptionError(
                f"params: unknown assumption {name!r}; known: {', '.join(sorted(s))}"
            )
        _check(name, value, "params")
        s[name] = copy.deepcopy(value)
    probe = {n: Assumption(n, v, "", "", False, "") for n, v in s.items()}
    _check_consistency(probe, "params")
    return s


# =========================================================================== published facts
@functools.cache
def _facts() -> dict[str, Any]:
    """What the generator takes from ``trialkit.published`` (never restated here)."""
    v = published.value
    elig = {
        "age": (v("incl_age_min"), v("incl_age_max")),
        "diabdur_max": v("incl_diabetes_duration_max"),
        "bmi": (v("incl_bmi_min"), v("incl_bmi_max")),
        "insulin_per_kg": (v("incl_insulin_dose_min"), v("incl_insulin_dose_max")),
        "hba1c": (v("incl_hba1c_min"), v("incl_hba1c_max")),
        "cpep_min": v("incl_c_peptide_min"),
    }
    arms: dict[str, dict[str, Any]] = {}
    for arm, k in _KEY.items():
        ids = {
            "randomized": f"randomized_{k}",
            "primary_pct": f"primary_{k}",
            "hba1c_base_mean": f"hba1c_baseline_{k}_mean",
            "hba1c_base_sd": f"hba1c_baseline_{k}_sd",
            "hba1c_end_mean": f"hba1c_end_{k}_mean",
            "hba1c_end_sd": f"hba1c_end_{k}_sd",
            "insulin_reduction": f"insulin_reduction_{k}",
            "gir_base": f"gir_baseline_{k}",
            "gir_end": f"gir_end_{k}",
        }
        arms[arm] = {q: v(i) for q, i in ids.items()}
        arms[arm]["decimals"] = {q: int(published.row(i)["decimals"]) for q, i in ids.items()}
        arms[arm]["randomized"] = int(arms[arm]["randomized"])
    return {
        "eligibility": elig,
        "arms": arms,
        "hba1c_threshold": v("primary_endpoint_hba1c_threshold"),
        "insulin_threshold": v("primary_endpoint_insulin_threshold"),
    }


@functools.cache
def _fact(fid: str) -> dict[str, Any]:
    """One published fact as a plain dict (row fields plus ``printed``), cached."""
    r = published.row(fid)
    return {**r.to_dict(), "printed": published.printed(fid)}


def insulin_share_denominators(max_n: int = 91) -> pd.DataFrame:
    """Which k/n (n <= ``max_n``) print as the published 'percentage of insulin reduction'.

    Under the *share of patients* reading, 27.78 % and 15.62 % must be k/n for the
    analysed n. The answer (5/18, 10/36, ... and 5/32, 10/64) shows that reading cannot
    hold with 45 and 44 analysed; hence ``reading="mean"``. Ties at the half (5/32 =
    15.625 %) are listed: they print as 15.62 only under round-half-even or truncation.
    """
    rows = []
    for arm, k in _KEY.items():
        fid = f"insulin_reduction_{k}"
        x, d = published.value(fid), int(published.row(fid)["decimals"])
        half = 0.5 * 10.0**-d
        for n in range(1, max_n + 1):
            for c in range(n + 1):
                pct = 100 * c / n
                if abs(pct - x) <= half + 1e-9:
                    rows.append({"arm": arm, "reported": x, "k": c, "n": n, "percent": pct})
    return pd.DataFrame(rows, columns=["arm", "reported", "k", "n", "percent"])


# =========================================================================== random helpers
def _rng(seed: int | np.random.SeedSequence | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.random.SeedSequence):
        raise TypeError(f"seed must be an int or numpy SeedSequence, got {seed!r}")
    return np.random.default_rng(seed)


def _seed_repr(seed: int | np.random.SeedSequence) -> str:
    if isinstance(seed, np.random.SeedSequence):
        return f"SeedSequence(entropy={seed.entropy}, spawn_key={tuple(seed.spawn_key)})"
    return repr(seed)


def _truncnorm(
    rng: np.random.Generator, mean: Any, sd: Any, low: Any, high: Any, size: Any
) -> np.ndarray:
    """Normal(mean, sd) truncated to [low, high] by the inverse CDF (one uniform each)."""
    mean, sd = np.asarray(mean, float), np.asarray(sd, float)
    a = special.ndtr((np.asarray(low, float) - mean) / sd)
    b = special.ndtr((np.asarray(high, float) - mean) / sd)
    u = rng.random(size)
    x = mean + sd * special.ndtri(a + u * (b - a))
    return np.clip(x, low, high)


def _truncnorm_moments(mean: float, sd: float, low: float, high: float) -> tuple[float, float]:
    """Mean and variance of Normal(mean, sd) truncated to [low, high]."""
    d = sps.truncnorm((low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)
    return float(d.mean()), float(d.var())


def _round(x: Any, d: int) -> np.ndarray:
    return np.round(np.asarray(x, float), d) + 0.0  # + 0.0: no negative zeros


# =========================================================================== the model
def _effects(effect: float, reading: str = "mean") -> dict[str, dict[str, float]]:
    """Arm means of the week-48 changes: the published ones, scaled between arms by effect.

    HbA1c change = end minus baseline mean; insulin percent change = minus the published
    'percentage of insulin reduction' (mean reading); GIR change = end minus baseline.
    ``effect`` multiplies the UC-MSC-minus-placebo difference (1: as published, 0: none).
    """
    if reading != "mean":
        raise ValueError(_share_message())
    a = _facts()["arms"]
    pl, uc = a["Placebo"], a["UC-MSC"]
    base = {
        "hba1c": (
            uc["hba1c_end_mean"] - uc["hba1c_base_mean"],
            pl["hba1c_end_mean"] - pl["hba1c_base_mean"],
        ),
        "insulin": (-uc["insulin_reduction"], -pl["insulin_reduction"]),
        "gir": (uc["gir_end"] - uc["gir_base"], pl["gir_end"] - pl["gir_base"]),
    }
    return {q: {"UC-MSC": p + effect * (u - p), "Placebo": p} for q, (u, p) in base.items()}


def _share_message() -> str:
    den = insulin_share_denominators()
    listed = "; ".join(
        f"{arm}: " + ", ".join(f"{r.k}/{r.n}" for r in g.itertuples())
        for arm, g in den.groupby("arm", sort=False)
    )
    n = assumptions()["reconstruct_analysed"].value
    return (
        "reading='share' is not feasible: as a share of patients, the published insulin "
        f"percentages are only {listed} (n <= 91), none with the analysed "
        f"{n['UC-MSC']} and {n['Placebo']} patients; use reading='mean' (mean percent "
        "reduction of the daily dose from baseline to week 48)"
    )


def _draw_core(
    rng: np.random.Generator,
    n_per_arm: tuple[int, int],
    k: int,
    s: Mapping[str, Any],
    effect: float,
    dropout: float,
) -> dict[str, np.ndarray]:
    """Subject-level baseline covariates and week-48 values for ``k`` trials at once.

    Arrays have shape (k, n) with the UC-MSC patients first. Units: age years, weight kg,
    BMI kg/m2, diabetes duration years, insulin U/day (whole units), HbA1c %, GIR
    mg/min/kg. The order of the draws is fixed (it defines the data for a seed).
    """
    e = _facts()["eligibility"]
    n_uc, n_pl = n_per_arm
    n = n_uc + n_pl
    shape = (k, n)
    ucmsc = np.broadcast_to(np.arange(n) < n_uc, shape)
    eff = _effects(effect)

    male = rng.random(shape) < s["sex_male_fraction"]
    age = np.floor(
        _truncnorm(rng, s["age"]["mean"], s["age"]["sd"], e["age"][0], e["age"][1] + 0.999, shape)
    ).astype(np.int64)
    dur_max = np.minimum(e["diabdur_max"], age - s["age_at_diagnosis_min"])
    dd = s["diabetes_duration"]
    diabdur = _round(_truncnorm(rng, dd["mean"], dd["sd"], dd["min"], dur_max, shape), 1)
    h = s["height"]
    height = np.where(
        male,
        h["M"]["mean"] + h["M"]["sd"] * rng.standard_normal(shape),
        h["F"]["mean"] + h["F"]["sd"] * rng.standard_normal(shape),
    )
    height = np.clip(height, h["min"], h["max"]) / 100.0
    bmi_latent = _truncnorm(rng, s["bmi"]["mean"], s["bmi"]["sd"], *e["bmi"], shape)
    weight = _round(bmi_latent * height**2, 1)
    bmi = np.clip(_round(weight / height**2, 1), *e["bmi"])
    ik = s["insulin_per_kg"]
    per_kg = _truncnorm(rng, ik["mean"], ik["sd"], *e["insulin_per_kg"], shape)
    ins_base = np.clip(
        np.round(weight * per_kg),
        np.ceil(e["insulin_per_kg"][0] * weight),
        np.floor(e["insulin_per_kg"][1] * weight),
    ).astype(np.int64)

    hb = s["hba1c_baseline"]
    dec = s["lab_decimals"]
    hba1c_base = _round(_truncnorm(rng, hb["mean"], hb["sd"], *e["hba1c"], shape), dec["HBA1C"])
    center, var_base = _truncnorm_moments(hb["mean"], hb["sd"], *e["hba1c"])
    z_h = rng.standard_normal(shape)
    z_i = rng.standard_normal(shape)
    mu_h = np.where(ucmsc, eff["hba1c"]["UC-MSC"], eff["hba1c"]["Placebo"])
    slope = s["hba1c_change_baseline_slope"]
    change = mu_h + slope * (hba1c_base - center) + s["hba1c_change_sd"] * z_h
    hba1c_w48_cont = hba1c_base + change
    hba1c_w48 = np.clip(_round(hba1c_w48_cont, dec["HBA1C"]), *s["hba1c_range"]["week48"])
    # insulin percent change, correlated (rho) with the standardized week-48 HbA1c
    sd_w48 = math.sqrt((1 + slope) ** 2 * var_base + s["hba1c_change_sd"] ** 2)
    z_w48 = (hba1c_w48_cont - center - mu_h) / sd_w48
    rho = s["rho_hba1c_insulin"]
    mu_i = np.where(ucmsc, eff["insulin"]["UC-MSC"], eff["insulin"]["Placebo"])
    sd_pl = s["insulin_pchg_sd"]["Placebo"]
    sd_uc = sd_pl + effect * (s["insulin_pchg_sd"]["UC-MSC"] - sd_pl)  # extra spread: an effect
    sd_i = np.where(ucmsc, max(sd_uc, 1e-9), sd_pl)
    pchg_cont = mu_i + sd_i * (rho * z_w48 + math.sqrt(1 - rho**2) * z_i)
    pchg_cont = np.clip(pchg_cont, *s["insulin_pchg_range"])
    ins_w48 = np.maximum(np.round(ins_base * (1 + pchg_cont / 100)), 0).astype(np.int64)

    gb = s["gir_baseline"]
    gir_base_cont = _truncnorm(rng, gb["mean"], gb["sd"], gb["min"], gb["max"], shape)
    mu_g = np.where(ucmsc, eff["gir"]["UC-MSC"], eff["gir"]["Placebo"])
    gir_change = mu_g + s["gir_change_sd"] * rng.standard_normal(shape)
    gir_base = _round(gir_base_cont, dec["GIR"])
    gir_w48 = np.clip(_round(gir_base + gir_change, dec["GIR"]), gb["min"], gb["max"])

    drop = rng.random(shape) < dropout
    last = np.asarray(s["dropout_last_visit"])[rng.integers(0, len(s["dropout_last_visit"]), shape)]
    reasons = list(s["dropout_reasons"])
    cum = np.cumsum(list(s["dropout_reasons"].values()))
    reason_idx = np.minimum(np.searchsorted(cum, rng.random(shape), side="right"), len(cum) - 1)
    return {
        "ucmsc": np.array(ucmsc),
        "male": male,
        "age": age,
        "diabdur": diabdur,
        "height": height,
        "weight": weight,
        "bmi": bmi,
        "ins_base": ins_base,
        "hba1c_base": hba1c_base,
        "hba1c_w48": hba1c_w48,
        "hba1c_w48_cont": hba1c_w48_cont,
        "pchg_cont": pchg_cont,
        "ins_w48": ins_w48,
        "gir_base": gir_base,
        "gir_w48": gir_w48,
        "gir_change": gir_change,
        "drop": drop,
        "last_week": np.where(drop, last, 48),
        "reason": np.where(drop, np.asarray(reasons, dtype=object)[reason_idx], ""),
        "last_if_drop": last,
        "reason_if_drop": np.asarray(reasons, dtype=object)[reason_idx],
    }


def _responder_arrays(
    hba1c_w48: np.ndarray, ins_base: np.ndarray, ins_w48: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(HbA1c component met, insulin component met) by the published thresholds."""
    f = _facts()
    pchg = 100.0 * (ins_w48 - ins_base) / ins_base
    return hba1c_w48 < f["hba1c_threshold"], pchg <= -f["insulin_threshold"]


# =========================================================================== simulate
def _check_arms(n_per_arm: Sequence[int]) -> tuple[int, int]:
    if (
        len(n_per_arm) != 2
        or not all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in n_per_arm)
        or min(n_per_arm) < 2
    ):
        raise ValueError(f"n_per_arm must be two whole numbers >= 2 (UC-MSC, placebo): {n_per_arm}")
    return int(n_per_arm[0]), int(n_per_arm[1])


def _check_effect(effect: float, dropout: float | None, s: Mapping[str, Any]) -> float:
    if not _is_num(effect):
        raise ValueError(f"effect must be a finite number (1 = as published, 0 = none): {effect!r}")
    d = s["dropout_probability"] if dropout is None else dropout
    if not _is_num(d) or not 0 <= d < 1:
        raise ValueError(f"dropout must be a probability in [0, 1): {dropout!r}")
    return float(d)


def simulate(
    n_per_arm: tuple[int, int] = (45, 46),
    seed: int | np.random.SeedSequence = 0,
    effect: float = 1.0,
    dropout: float | None = None,
    *,
    params: Mapping[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """Draw one SYNTHETIC trial from the generative model.

    Parameters
    ----------
    n_per_arm
        Patients randomized to (UC-MSC, placebo); default the published 45 and 46.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives identical data.
    effect
        Multiplier of every UC-MSC-minus-placebo difference: the mean week-48 changes
        (HbA1c in %, insulin dose in % of baseline, GIR in mg/min/kg) and the extra spread
        of the insulin response under cells (``insulin_pchg_sd``). 1: the published mean
        differences (HbA1c -1.50 vs -0.70; insulin -27.78 % vs -15.62 %; GIR +1.64 vs
        +0.34); 0: UC-MSC behaves like placebo.
    dropout
        Probability that a patient leaves before week 48 (both arms); default the
        assumption ``dropout_probability`` (0.022).
    params
        Overrides of assumptions by name (``assumption_table()``), e.g.
        ``{"rho_hba1c_insulin": 0.2}``; checked like the file.

    Returns
    -------
    dict
        ``{"ADSL", "ADLB", "ADEX", "ADAE"}`` data frames, every one with ``SYNTHETIC =
        "Y"``, ``attrs["synthetic"]`` and ``attrs["provenance"]``. Missing visits (after a
        dropout) are absent rows. FASFL = PPSFL = "Y" for patients with week-48 data
        (assumption ``analysis_set``).
    """
    n = _check_arms(n_per_arm)
    s = _settings(params)
    d = _check_effect(effect, dropout, s)
    rng = _rng(seed)
    core = {k: v[0] for k, v in _draw_core(rng, n, 1, s, float(effect), d).items()}
    prov = (
        f"trialkit.cohort.simulate(n_per_arm={n}, seed={_seed_repr(seed)}, effect={effect!r}, "
        f"dropout={dropout!r}, params={dict(params or {})!r})"
    )
    return _datasets(rng, core, s, prov)


def simulate_endpoints(
    k: int,
    n_per_arm: tuple[int, int] = (45, 46),
    seed: int | np.random.SeedSequence = 0,
    effect: float = 1.0,
    dropout: float | None = None,
    *,
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Week-48 endpoints of ``k`` SYNTHETIC trials at once (vectorized; for power studies).

    Same model and arguments as ``simulate``; trial 0 of ``simulate_endpoints(1, seed=s)``
    is the trial of ``simulate(seed=s)``. Returns one row per trial and arm: trial, arm,
    randomized, analysed (week-48 data), responders (HbA1c < 7.0 % and dose reduced by
    >= 50 %, among the analysed), hba1c_met, insulin_met, mean_hba1c_change (%),
    mean_insulin_pchg (% of baseline dose), mean_gir_change (mg/min/kg).
    """
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    n = _check_arms(n_per_arm)
    s = _settings(params)
    d = _check_effect(effect, dropout, s)
    c = _draw_core(_rng(seed), n, int(k), s, float(effect), d)
    analysed = ~c["drop"]
    hm, im = _responder_arrays(c["hba1c_w48"], c["ins_base"], c["ins_w48"])
    pchg = 100.0 * (c["ins_w48"] - c["ins_base"]) / c["ins_base"]
    frames = []
    for arm, cols in (("UC-MSC", slice(0, n[0])), ("Placebo", slice(n[0], None))):
        a = analysed[:, cols]
        na = a.sum(axis=1)

        def mean(x: np.ndarray, a: np.ndarray = a, na: np.ndarray = na) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(a, x, 0.0).sum(axis=1) / na

        frames.append(
            pd.DataFrame(
                {
                    "trial": np.arange(k),
                    "arm": arm,
                    "randomized": n[0] if arm == "UC-MSC" else n[1],
                    "analysed": na,
                    "responders": (a & hm[:, cols] & im[:, cols]).sum(axis=1),
                    "hba1c_met": (a & hm[:, cols]).sum(axis=1),
                    "insulin_met": (a & im[:, cols]).sum(axis=1),
                    "mean_hba1c_change": mean(c["hba1c_w48"][:, cols] - c["hba1c_base"][:, cols]),
                    "mean_insulin_pchg": mean(pchg[:, cols]),
                    "mean_gir_change": mean(c["gir_w48"][:, cols] - c["gir_base"][:, cols]),
                }
            )
        )
    out = pd.concat(frames).sort_values(["trial", "arm"], key=_arm_key).reset_index(drop=True)
    out["SYNTHETIC"] = "Y"
    out.attrs["synthetic"] = True
    out.attrs["provenance"] = (
        f"trialkit.cohort.simulate_endpoints(k={k}, n_per_arm={n}, seed={_seed_repr(seed)}, "
        f"effect={effect!r}, dropout={dropout!r}, params={dict(params or {})!r})"
    )
    return out


def _arm_key(col: pd.Series) -> pd.Series:
    if col.name == "arm":
        return col.map({a: i for i, a in enumerate(ARMS)})
    return col


# =========================================================================== datasets
def _ar1_chol(weeks: np.ndarray, rho12: float) -> np.ndarray:
    lag = np.abs(weeks[:, None] - weeks[None, :]) / 12.0
    return np.linalg.cholesky(rho12**lag)


def _datasets(
    rng: np.random.Generator, c: dict[str, Any], s: Mapping[str, Any], prov: str
) -> dict[str, pd.DataFrame]:
    """Visits, labs, insulin dose, visit days and adverse events around the core values.

    Intermediate visits (weeks 4-36) follow each patient's baseline-to-week-48 path
    (``hba1c_shape``, ``insulin_shape``) plus AR(1) deviations over time.
    """
    e = _facts()["eligibility"]
    _allocate(rng, c, s)
    weeks = np.asarray(s["visit_weeks"])
    nv = len(weeks)
    n = len(c["ucmsc"])
    mid = weeks[1:-1]
    chol = _ar1_chol(mid, s["visit_noise_corr_12w"])
    z_h = rng.standard_normal((n, len(mid))) @ chol.T
    z_i = rng.standard_normal((n, len(mid))) @ chol.T

    hba1c = np.empty((n, nv))
    hba1c[:, 0], hba1c[:, -1] = c["hba1c_base"], c["hba1c_w48"]
    f = np.asarray(s["hba1c_shape"], float)[1:-1]
    path = c["hba1c_base"][:, None] + (c["hba1c_w48"] - c["hba1c_base"])[:, None] * f
    dec = s["lab_decimals"]
    noisy = _round(path + s["hba1c_visit_sd"] * z_h, dec["HBA1C"])
    hba1c[:, 1:-1] = np.clip(noisy, *s["hba1c_range"]["visits"])

    dose = np.empty((n, nv))
    dose[:, 0], dose[:, -1] = c["ins_base"], c["ins_w48"]
    g = np.asarray(s["insulin_shape"], float)[1:-1]
    p48 = 100.0 * (c["ins_w48"] - c["ins_base"]) / c["ins_base"]
    frac = 1 + (p48[:, None] * g + s["insulin_visit_sd"] * z_i) / 100
    dose[:, 1:-1] = np.maximum(np.round(c["ins_base"][:, None] * frac), 0)

    fm = s["fpg_model"]
    fpg_subject = fm["subject_sd"] * rng.standard_normal(n)
    fpg = fm["intercept"] + fm["slope"] * hba1c + fpg_subject[:, None]
    fpg = np.clip(
        _round(fpg + fm["visit_sd"] * rng.standard_normal((n, nv)), dec["FPG"]),
        fm["min"],
        fm["max"],
    )

    cm = s["cpep_model"]
    lo = math.log(e["cpep_min"])
    cpep0 = np.exp(_truncnorm(rng, math.log(cm["median"]), cm["log_sd"], lo, np.inf, n))
    cpep0 = np.maximum(_round(cpep0, dec["CPEP"]), e["cpep_min"])
    cv = cm["visit_cv"]  # log-normal visit variation with mean 1 (no drift)
    cpep_later = cpep0[:, None] * np.exp(
        cm["change"] - cv**2 / 2 + cv * rng.standard_normal((n, nv - 1))
    )
    cpep = np.column_stack([cpep0, _round(cpep_later, dec["CPEP"])])

    gir = np.full((n, nv), np.nan)
    gir[:, 0], gir[:, -1] = c["gir_base"], c["gir_w48"]

    # visit days: baseline on days -7..-1 or 1 (no day 0); later visits 7w+1 +- jitter
    b0, b1 = s["baseline_days"]
    base_days = np.array([d for d in range(b0, b1 + 1) if d != 0])
    jit = s["visit_day_jitter"]
    ady = np.empty((n, nv), dtype=np.int64)
    ady[:, 0] = base_days[rng.integers(0, len(base_days), n)]
    ady[:, 1:] = 7 * weeks[1:] + 1 + rng.integers(-jit, jit + 1, (n, nv - 1))

    attended = weeks[None, :] <= c["last_week"][:, None]
    values = {"HBA1C": hba1c, "FPG": fpg, "GIR": gir, "CPEP": cpep, "INSDOSE": dose}
    measured = {p: np.isin(weeks, w) for p, w in s["lab_visits"].items()}
    aes = _adverse_events(rng, c, ady, weeks, attended, s)
    return _frames(c, values, measured, attended, ady, weeks, aes, prov)


def _adverse_events(
    rng: np.random.Generator,
    c: Mapping[str, np.ndarray],
    ady: np.ndarray,
    weeks: np.ndarray,
    attended: np.ndarray,
    s: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Assumed adverse events: (subject index, term index, day, severity index, TEAE flag)."""
    n = len(c["ucmsc"])
    inf_cols = [int(np.flatnonzero(weeks == w)[0]) for w in s["infusion_weeks"]]
    inf_day = np.where(weeks[inf_cols] == 0, 1, ady[:, inf_cols])
    received = attended[:, inf_cols]
    last_day = ady[np.arange(n), attended.sum(axis=1) - 1]
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("subj", "term", "day", "sev", "teae")}

    def add(mask: np.ndarray, term: Any, day: np.ndarray, sev: np.ndarray, teae: bool) -> None:
        idx = np.flatnonzero(mask)
        out["subj"].append(idx)
        out["term"].append(np.broadcast_to(term, n)[idx])
        out["day"].append(day[idx])
        out["sev"].append(sev[idx])
        out["teae"].append(np.full(len(idx), teae))

    table = s["adverse_events"]
    for t, ae in enumerate(table):
        p = np.where(c["ucmsc"], ae["UC-MSC"], ae["Placebo"])
        cum = np.cumsum(ae["severity"])
        reps = len(inf_cols) if ae["per"] == "infusion" else 1
        for j in range(reps):
            occurs = rng.random(n) < p
            u_day = rng.random(n)
            sev = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), 2)
            if ae["per"] == "infusion":
                day = inf_day[:, j] + (u_day < 0.5)  # the day of the infusion or the next
                occurs &= received[:, j]
            else:
                day = 1 + np.floor(u_day * last_day).astype(np.int64)
            add(occurs, t, day, sev, True)
    pre = s["adverse_event_pretreatment"]
    eligible = [t for t, ae in enumerate(table) if ae["per"] == "subject" and not ae["serious"]]
    occurs = rng.random(n) < pre["probability"]
    term = np.asarray(eligible)[rng.integers(0, len(eligible), n)]
    day = rng.integers(pre["first_day"], 0, n)
    sev = np.zeros(n, dtype=np.int64)  # pre-treatment events: mild
    add(occurs, term, day, sev, False)
    return {k: np.concatenate(v) if v else np.array([]) for k, v in out.items()}


def _frames(
    c: Mapping[str, np.ndarray],
    values: Mapping[str, np.ndarray],
    measured: Mapping[str, np.ndarray],
    attended: np.ndarray,
    ady: np.ndarray,
    weeks: np.ndarray,
    aes: Mapping[str, np.ndarray],
    prov: str,
) -> dict[str, pd.DataFrame]:
    usubjid = np.asarray(c["usubjid"], dtype=object)
    arm = np.where(c["ucmsc"], ARMS[0], ARMS[1]).astype(object)
    completed = c["last_week"] == weeks[-1]
    fas = np.where(completed, "Y", "N").astype(object)
    adsl = pd.DataFrame(
        {
            "USUBJID": usubjid,
            "ARM": arm,
            "RANDFL": "Y",
            "FASFL": fas,
            "PPSFL": fas,
            "AGE": c["age"].astype(np.int64),
            "SEX": np.where(c["male"], "M", "F").astype(object),
            "WEIGHT": c["weight"],
            "BMI": c["bmi"],
            "DIABDUR": c["diabdur"],
            "DCSREAS": np.asarray(c["reason"], dtype=object),
            "SYNTHETIC": "Y",
        }
    )
    labels = np.array(["Baseline" if w == 0 else f"Week {w}" for w in weeks], dtype=object)

    def long(params: Iterable[str]) -> pd.DataFrame:
        parts = []
        for p in params:
            ok = attended & measured[p][None, :] & ~np.isnan(values[p])
            i, v = np.nonzero(ok)
            parts.append(
                pd.DataFrame(
                    {
                        "USUBJID": usubjid[i],
                        "PARAMCD": p,
                        "AVISIT": labels[v],
                        "AVISITN": weeks[v].astype(np.int64),
                        "ADY": ady[i, v],
                        "AVAL": values[p][i, v].astype(float),
                        "SYNTHETIC": "Y",
                    }
                )
            )
        df = pd.concat(parts, ignore_index=True)
        return df.sort_values(["USUBJID", "PARAMCD", "AVISITN"]).reset_index(drop=True)

    table = c["ae_table"]
    t = aes["term"].astype(np.int64)
    sev = aes["sev"].astype(np.int64)
    adae = pd.DataFrame(
        {
            "USUBJID": usubjid[aes["subj"].astype(np.int64)],
            "AEDECOD": np.array([a["term"] for a in table], dtype=object)[t],
            "AEBODSYS": np.array([a["soc"] for a in table], dtype=object)[t],
            "AESEV": np.array(_SEVERITY, dtype=object)[sev],
            "AESER": np.array(["Y" if a["serious"] else "N" for a in table], dtype=object)[t],
            "AREL": np.array(
                ["RELATED" if a["related"] else "NOT RELATED" for a in table], dtype=object
            )[t],
            "ASTDY": aes["day"].astype(np.int64),
            "TRTEMFL": np.where(aes["teae"].astype(bool), "Y", "N").astype(object),
            "SYNTHETIC": "Y",
        }
    )
    adae = adae.sort_values(["USUBJID", "ASTDY", "AEDECOD"]).reset_index(drop=True)
    out = {
        "ADSL": adsl.sort_values("USUBJID").reset_index(drop=True),
        "ADLB": long(LAB_UNITS),
        "ADEX": long(["INSDOSE"]),
        "ADAE": adae,
    }
    for df in out.values():
        _label(df, prov)
    return out


def _label(df: pd.DataFrame, prov: str) -> None:
    df.attrs["synthetic"] = True
    df.attrs["provenance"] = f"SYNTHETIC: {prov}; trialkit {_VERSION}"


def _allocate(rng: np.random.Generator, core: dict[str, Any], s: Mapping[str, Any]) -> None:
    """Subject ids in a random order of the arms (the randomization list is not public)."""
    n = len(core["ucmsc"])
    order = rng.permutation(n)
    core["usubjid"] = np.array([f"SYN-{i + 1:03d}" for i in order], dtype=object)
    core["ae_table"] = s["adverse_events"]


# =========================================================================== reconstruct
def _repair_moments(
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    mean: float,
    sd: float | None,
    tol_mean: float,
    tol_sd: float,
    rng: np.random.Generator,
    max_steps: int = 20_000,
) -> np.ndarray | None:
    """Move integers ``x`` (within ``lo..hi``) until mean (and SD, ddof 1) hit their windows.

    Units are those of ``x`` (e.g. tenths of a percent). A step moves one value by 1 (to
    fix the mean; the value whose move best helps the SD) or a pair, one up and one down
    (the sum stays; the sum of squares changes by 2 (x_up - x_down) + 2), drawn at random
    among the moves that land inside the window. Returns None if no move can progress.
    """
    x = x.astype(np.int64).copy()
    n = len(x)
    s_lo = math.ceil((mean - tol_mean) * n - 1e-9)
    s_hi = math.floor((mean + tol_mean) * n + 1e-9)
    if s_lo > s_hi or s_lo > hi.sum() or s_hi < lo.sum():
        return None  # no sum of n integers has this mean (GRIM) within the bounds
    if sd is not None:
        ss_lo, ss_hi = (n - 1) * (sd - tol_sd) ** 2, (n - 1) * (sd + tol_sd) ** 2
        ss_mid = 0.5 * (ss_lo + ss_hi)
    for _ in range(max_steps):
        total, sq = int(x.sum()), int((x * x).sum())
        if not s_lo <= total <= s_hi:
            d = 1 if total < s_lo else -1
            cand = np.flatnonzero((x + d >= lo) & (x + d <= hi))
            if len(cand) == 0:
                return None
            if sd is None:
                i = cand[rng.integers(len(cand))]
            else:
                t2 = total + d
                ss2 = sq + 2 * d * x[cand] + 1 - t2 * t2 / n
                dist = np.maximum(ss_lo - ss2, 0) + np.maximum(ss2 - ss_hi, 0)
                best = np.flatnonzero(dist <= dist.min() + 1e-9)
                i = cand[best[rng.integers(len(best))]]
            x[i] += d
            continue
        if sd is None:
            return x
        ss = sq - total * total / n
        if ss_lo <= ss <= ss_hi:
            return x
        up = np.flatnonzero(x + 1 <= hi)
        dn = np.flatnonzero(x - 1 >= lo)
        new = ss + 2.0 * (x[up][:, None] - x[dn][None, :]) + 2.0
        valid = up[:, None] != dn[None, :]
        inside = valid & (new >= ss_lo) & (new <= ss_hi)
        if inside.any():
            a, b = np.nonzero(inside)
            j = rng.integers(len(a))
            a, b = a[j], b[j]
        else:
            dist = np.where(valid, np.abs(new - ss_mid), np.inf)
            if dist.min() >= abs(ss - ss_mid):
                return None
            a, b = np.nonzero(dist <= dist.min() + 1e-9)
            j = rng.integers(len(a))
            a, b = a[j], b[j]
        x[up[a]] += 1
        x[dn[b]] -= 1
    return None


def _repair_ratio_mean(
    w: np.ndarray,
    base: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    target: float,
    tol: float,
    rng: np.random.Generator,
    max_steps: int = 5_000,
) -> np.ndarray | None:
    """Move whole-unit doses ``w`` (within ``lo..hi``) until mean(100 (w - base) / base) is
    within ``tol`` of ``target`` (percent). Single moves change the sum of percents by
    +-100/base_i, pairs (one up, one down) by 100/base_i - 100/base_j, which can be tiny;
    a random move landing in the window is taken, else the one closest to it."""
    w = w.astype(np.int64).copy()
    n = len(w)
    unit = 100.0 / base
    for _ in range(max_steps):
        cur = float(np.mean(100.0 * (w - base) / base))
        if abs(cur - target) <= tol:
            return w
        need = (target - cur) * n
        lo_win, hi_win = (target - tol - cur) * n, (target + tol - cur) * n
        up = np.flatnonzero(w + 1 <= hi)
        dn = np.flatnonzero(w - 1 >= lo)
        pair = unit[up][:, None] - unit[dn][None, :]
        pair = np.where(up[:, None] != dn[None, :], pair, np.nan)
        deltas = np.concatenate([unit[up], -unit[dn], pair.ravel()])
        moves_up = np.concatenate([up, np.full(len(dn), -1), np.repeat(up, len(dn))])
        moves_dn = np.concatenate([np.full(len(up), -1), dn, np.tile(dn, len(up))])
        ok = ~np.isnan(deltas)
        inside = np.flatnonzero(ok & (deltas >= lo_win) & (deltas <= hi_win))
        if len(inside):
            m = inside[rng.integers(len(inside))]
        else:
            dist = np.where(ok, np.abs(deltas - need), np.inf)
            if not np.isfinite(dist.min()) or dist.min() >= abs(need):
                return None
            m = int(np.argmin(dist))
        if moves_up[m] >= 0:
            w[moves_up[m]] += 1
        if moves_dn[m] >= 0:
            w[moves_dn[m]] -= 1
    return None


def _force_responders(
    rng: np.random.Generator,
    y: np.ndarray,
    p: np.ndarray,
    r: int,
    scale: tuple[float, float],
    cut: tuple[float, float],
    floor: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror components across their thresholds until exactly ``r`` patients meet both.

    ``y`` week-48 HbA1c (%), ``p`` insulin percent change; a component is met when
    y < cut[0] and p < cut[1]. Too many responders: a responder (drawn with weight
    exp(-3 * margin / scale), so mostly one near a threshold) has its nearer component
    mirrored to the failing side. Too few: a non-responder (weight by its distance to
    meeting both) has its failing component(s) mirrored to the met side.
    """
    y, p = y.copy(), p.copy()
    for _ in range(4 * len(y)):
        met_y, met_p = y < cut[0], p < cut[1]
        both = met_y & met_p
        if both.sum() == r:
            return y, p
        if both.sum() > r:
            cand = np.flatnonzero(both)
            my = (cut[0] - y[cand]) / scale[0]
            mp = (cut[1] - p[cand]) / scale[1]
            wt = np.exp(-3 * np.minimum(my, mp))
            j = rng.choice(len(cand), p=wt / wt.sum())
            i = cand[j]
            if my[j] <= mp[j]:
                y[i] = cut[0] + (cut[0] - y[i]) + 0.05
            else:
                p[i] = cut[1] + (cut[1] - p[i]) + 0.5
        else:
            cand = np.flatnonzero(~both)
            dy = np.maximum(y[cand] - cut[0], 0) / scale[0]
            dp = np.maximum(p[cand] - cut[1], 0) / scale[1]
            wt = np.exp(-3 * (dy + dp))
            i = cand[rng.choice(len(cand), p=wt / wt.sum())]
            if y[i] >= cut[0]:
                y[i] = max(cut[0] - (y[i] - cut[0]) - 0.05, floor[0])
            if p[i] >= cut[1]:
                p[i] = max(cut[1] - (p[i] - cut[1]) - 0.5, floor[1])
    raise ReconstructionError("could not set the number of responders")  # pragma: no cover


def _standardize(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    return mean + sd * (x - x.mean()) / x.std(ddof=1)


def _responders_needed(arm: str, n_analysed: int) -> int:
    t = _facts()["arms"][arm]
    r = round(t["primary_pct"] / 100 * n_analysed)
    d = t["decimals"]["primary_pct"]
    if f"{100 * r / n_analysed:.{d}f}" != f"{t['primary_pct']:.{d}f}":
        raise ReconstructionError(
            f"{arm}: no whole number of responders out of {n_analysed} prints as "
            f"{t['primary_pct']:.{d}f} %"
        )
    return r


def _repair_arm(
    rng: np.random.Generator, c: dict[str, Any], idx: np.ndarray, arm: str, s: Mapping[str, Any]
) -> str | None:
    """Steps 2-4 of ``reconstruct`` for the analysed patients ``idx`` of one arm (in place).

    Returns None on success, else what could not be repaired (the draw is then discarded).
    """
    f = _facts()
    t = f["arms"][arm]
    dec = t["decimals"]
    margin = s["match_margin"]

    def tol(q: str, scale: float = 1.0) -> float:
        return margin * 10.0 ** -dec[q] * scale

    hq = 10 ** s["lab_decimals"]["HBA1C"]  # HbA1c in integer steps of 0.1 %
    gq = 10 ** s["lab_decimals"]["GIR"]  # GIR in integer steps of 0.01 mg/min/kg

    elig = f["eligibility"]["hba1c"]
    lo_b = np.full(len(idx), round(hq * elig[0]))
    hi_b = np.full(len(idx), round(hq * elig[1]))
    b = _standardize(c["hba1c_base"][idx], t["hba1c_base_mean"], t["hba1c_base_sd"])
    bt = np.clip(np.round(hq * b), lo_b, hi_b)
    bt = _repair_moments(
        bt,
        lo_b,
        hi_b,
        hq * t["hba1c_base_mean"],
        hq * t["hba1c_base_sd"],
        tol("hba1c_base_mean", hq),
        tol("hba1c_base_sd", hq),
        rng,
    )
    if bt is None:
        return f"{arm}: HbA1c baseline mean and SD"

    y = _standardize(c["hba1c_w48_cont"][idx], t["hba1c_end_mean"], t["hba1c_end_sd"])
    prange = s["insulin_pchg_range"]
    p = np.clip(c["pchg_cont"][idx] - c["pchg_cont"][idx].mean() - t["insulin_reduction"], *prange)
    yrange = s["hba1c_range"]["week48"]
    y = np.clip(y, *yrange)
    h_cut = f["hba1c_threshold"] - 0.5 / hq  # values below round to <= 6.9
    i_cut = -f["insulin_threshold"]
    r = _responders_needed(arm, len(idx))
    y, p = _force_responders(
        rng,
        y,
        p,
        r,
        (t["hba1c_end_sd"], s["insulin_pchg_sd"][arm]),
        (h_cut, i_cut),
        (yrange[0], prange[0]),
    )
    met_y, met_p = y < h_cut, p < i_cut

    lo_y = np.where(met_y, round(hq * yrange[0]), round(hq * f["hba1c_threshold"]))
    hi_y = np.where(met_y, round(hq * f["hba1c_threshold"]) - 1, round(hq * yrange[1]))
    yt = np.clip(np.round(hq * y), lo_y, hi_y)
    yt = _repair_moments(
        yt,
        lo_y,
        hi_y,
        hq * t["hba1c_end_mean"],
        hq * t["hba1c_end_sd"],
        tol("hba1c_end_mean", hq),
        tol("hba1c_end_sd", hq),
        rng,
    )
    if yt is None:
        return f"{arm}: HbA1c week-48 mean and SD"

    base = c["ins_base"][idx]
    lo_all = np.maximum(np.ceil(base * (1 + prange[0] / 100)), 0)
    hi_all = np.floor(base * (1 + prange[1] / 100))
    lo_w = np.where(met_p, lo_all, base // 2 + 1)  # not met: strictly above half
    hi_w = np.where(met_p, (base + 1) // 2 - 1, hi_all)  # met: strictly below half
    w = np.clip(np.round(base * (1 + p / 100)), lo_w, hi_w)
    w = _repair_ratio_mean(
        w, base, lo_w, hi_w, -t["insulin_reduction"], tol("insulin_reduction"), rng
    )
    if w is None:
        return f"{arm}: mean insulin reduction"

    gb = s["gir_baseline"]
    lo_g = np.full(len(idx), round(gq * gb["min"]))
    hi_g = np.full(len(idx), round(gq * gb["max"]))
    g0 = c["gir_base"][idx] - c["gir_base"][idx].mean() + t["gir_base"]
    g0t = _repair_moments(
        np.clip(np.round(gq * g0), lo_g, hi_g),
        lo_g,
        hi_g,
        gq * t["gir_base"],
        None,
        tol("gir_base", gq),
        0.0,
        rng,
    )
    if g0t is None:
        return f"{arm}: GIR baseline mean"
    g48 = g0t / gq + c["gir_change"][idx]
    g48 = g48 - g48.mean() + t["gir_end"]
    g48t = _repair_moments(
        np.clip(np.round(gq * g48), lo_g, hi_g),
        lo_g,
        hi_g,
        gq * t["gir_end"],
        None,
        tol("gir_end", gq),
        0.0,
        rng,
    )
    if g48t is None:
        return f"{arm}: GIR week-48 mean"

    c["hba1c_base"][idx] = bt / hq
    c["hba1c_w48"][idx] = yt / hq
    c["ins_w48"][idx] = w
    c["gir_base"][idx] = g0t / gq
    c["gir_w48"][idx] = g48t / gq
    return None


def _bound_holds(fact_id: str, p: float) -> bool:
    r = _fact(fact_id)
    if r["statistic"] == "p_upper_bound":
        return bool(p < r["value"])
    if r["statistic"] == "p_lower_bound":
        return bool(p > r["value"])
    raise ValueError(f"{fact_id} is not a p-value bound")


def _p_bounds_failing(c: Mapping[str, Any], analysed: np.ndarray) -> list[str]:
    """Step 5: the printed p-value bounds (fact ids) that do not hold; [] when all do."""
    uc, pl = analysed & c["ucmsc"], analysed & ~c["ucmsc"]
    pchg = 100.0 * (c["ins_w48"] - c["ins_base"]) / c["ins_base"]
    dg = c["gir_w48"] - c["gir_base"]
    checks = (
        ("insulin_reduction_p", sps.ttest_ind(pchg[uc], pchg[pl], equal_var=False).pvalue),
        ("gir_change_ucmsc_p", sps.ttest_1samp(dg[uc], 0.0).pvalue),
        ("gir_change_placebo_p", sps.ttest_1samp(dg[pl], 0.0).pvalue),
        ("gir_p", sps.ttest_ind(dg[uc], dg[pl], equal_var=False).pvalue),
    )
    return [
        f"{fid} ({_fact(fid)['printed']})" for fid, p in checks if not _bound_holds(fid, float(p))
    ]


def reconstruct(
    seed: int | np.random.SeedSequence = 0,
    reading: str = "mean",
    *,
    params: Mapping[str, Any] | None = None,
    max_attempts: int = 500,
) -> dict[str, pd.DataFrame]:
    """One SYNTHETIC data set that reproduces the published summaries at printed precision.

    Matched exactly (each recomputed from the data by the ordinary formula and rounded as
    printed; see ``compare_with_published``): 45 and 46 randomized; 45 and 44 analysed
    (FASFL = "Y"; the 2 others are placebo dropouts); 9/45 = 20 % and 2/44 = 4.55 %
    responders (week-48 HbA1c < 7.0 % and daily dose reduced by >= 50 %, in U/day); HbA1c
    mean +- SD (sample SD, in %) at baseline 9.02 +- 1.27 and 8.89 +- 1.11 and at week 48
    7.52 +- 1.07 and 8.19 +- 1.02 over the analysed patients; mean percent reduction of
    the daily insulin dose 27.78 % and 15.62 %; GIR means (mg/min/kg) 3.12 -> 4.76 and
    3.26 -> 3.60; the printed p-value bounds for insulin and GIR under the assumed tests;
    no related serious or severe adverse event. Every baseline keeps the registry's
    eligibility ranges. The method is in the module docstring (moment matching, forcing
    the composite counts, SPRITE-like discrete repair, rejection on the p-value bounds).

    Parameters
    ----------
    seed
        Seed (int or ``numpy.random.SeedSequence``); same seed, byte-identical data.
    reading
        How 'percentage of insulin reduction' is read: only ``"mean"`` (mean percent
        reduction) is feasible; ``"share"`` raises a ``ValueError`` that says why.
    params
        Overrides of assumptions (e.g. ``{"rho_hba1c_insulin": 0.0}``); they shape the
        starting draw, so they change what the unpublished quantities look like.
    max_attempts
        Draws tried before giving up (``ReconstructionError``); about 1.25 are needed on
        average (most rejections: insulin p >= 0.05). The number used is in
        ``attrs["attempts"]``.
    """
    if reading != "mean":
        raise ValueError(_share_message())
    s = _settings(params)
    rng = _rng(seed)
    f = _facts()
    n_rand = (f["arms"]["UC-MSC"]["randomized"], f["arms"]["Placebo"]["randomized"])
    n_anal = s["reconstruct_analysed"]
    attempt = 0
    failures: collections.Counter[str] = collections.Counter()
    while attempt < max_attempts:
        attempt += 1
        c = {k: v[0].copy() for k, v in _draw_core(rng, n_rand, 1, s, 1.0, 0.0).items()}
        drop = np.zeros(len(c["ucmsc"]), dtype=bool)
        failed: list[str] = []
        for arm in ARMS:
            members = np.flatnonzero(c["ucmsc"] == (arm == ARMS[0]))
            m = len(members) - n_anal[arm]
            if m < 0:
                raise ReconstructionError(f"{arm}: {n_anal[arm]} analysed of {len(members)}")
            drop[rng.choice(members, size=m, replace=False)] = True
            if not failed:
                why = _repair_arm(rng, c, np.setdiff1d(members, np.flatnonzero(drop)), arm, s)
                failed += [f"could not repair {why}"] if why else []
        c["drop"] = drop
        c["last_week"] = np.where(drop, c["last_if_drop"], 48)
        c["reason"] = np.where(drop, c["reason_if_drop"], "")
        failed = failed or [f"p-value bound {b}" for b in _p_bounds_failing(c, ~drop)]
        if not failed:
            break
        failures.update(failed)
    else:
        common = "; ".join(f"{why}: {n} draws" for why, n in failures.most_common(4))
        raise ReconstructionError(
            f"no draw matched in {max_attempts} attempts ({common}); the assumptions (params) "
            "may make the published numbers unlikely: see data/assumptions.yaml"
        )
    prov = (
        f"trialkit.cohort.reconstruct(seed={_seed_repr(seed)}, reading={reading!r}, "
        f"params={dict(params or {})!r})"
    )
    data = _datasets(rng, c, s, prov)
    for df in data.values():
        df.attrs["attempts"] = attempt
    return data


# =========================================================================== checking
def _analysis(data: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    """Per arm, over the analysed patients (ADSL.FASFL = "Y"): the values the paper summarises.

    ADLB and ADEX go through ``trialkit.derive`` (baseline, percent change, analysis
    records); baseline is the analysis record of week 0, end of study that of week 48
    (NaN when missing). The composite and its components come from
    ``derive.responders`` (FAS, missing counted as not met) with the published thresholds.
    """
    from trialkit import derive

    f = _facts()
    adsl = data["ADSL"]
    lb = derive.derive_adlb(data["ADLB"])
    ex = derive.derive_adex(data["ADEX"])
    resp = derive.responders(
        adsl,
        lb,
        ex,
        hba1c_cutoff=f["hba1c_threshold"],
        strict=True,
        insulin_reduction=f["insulin_threshold"],
        visit=48,
        missing="non-responder",
        population="FAS",
    )
    met = resp.pivot(index="USUBJID", columns="PARAMCD", values="AVALC")
    anl = pd.concat([lb, ex], ignore_index=True)
    anl = anl[(anl["ANL01FL"] == "Y") & anl["AVISITN"].isin([0, 48])]
    aval = anl.pivot(index="USUBJID", columns=["PARAMCD", "AVISITN"], values="AVAL")
    pchg = anl.pivot(index="USUBJID", columns=["PARAMCD", "AVISITN"], values="PCHG")
    out: dict[str, dict[str, Any]] = {}
    for arm in ARMS:
        sl = adsl[adsl["ARM"] == arm]
        ids = pd.Index(sl.loc[sl["FASFL"] == "Y", "USUBJID"])

        def col(table: pd.DataFrame, code: str, week: int, ids: pd.Index = ids) -> np.ndarray:
            if (code, week) not in table.columns:
                return np.full(len(ids), np.nan)
            return table[(code, week)].reindex(ids).to_numpy(dtype=float)

        def flag(code: str, ids: pd.Index = ids) -> np.ndarray:
            if code not in met.columns:
                return np.zeros(len(ids), dtype=bool)
            return (met[code].reindex(ids) == "Y").to_numpy(dtype=bool)

        out[arm] = {
            "randomized": int((sl["RANDFL"] == "Y").sum()),
            "analysed": len(ids),
            "hba1c_base": col(aval, "HBA1C", 0),
            "hba1c_w48": col(aval, "HBA1C", 48),
            "pchg": col(pchg, "INSDOSE", 48),
            "gir_base": col(aval, "GIR", 0),
            "gir_w48": col(aval, "GIR", 48),
            "cpep_base": col(aval, "CPEP", 0),
            "cpep_w48": col(aval, "CPEP", 48),
            "met_hba1c": flag("HBA1CLT7"),
            "met_insulin": flag("INSRED50"),
            "responders": int(flag("RESP").sum()),
        }
    return out


def _nz(x: np.ndarray) -> np.ndarray:
    return x[~np.isnan(x)]


def _fmt(x: float, d: int) -> str:
    return f"{x:.{d}f}"


def _pfmt(p: float) -> str:
    """A p-value with 4 decimals, or in scientific notation below 0.0001."""
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def compare_with_published(data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every published quantity that patient data determine, recomputed from ``data``.

    Works for any data set with the collection's columns (synthetic or real). Means, SDs
    (ddof 1), percentages and counts use the ordinary formulas over the analysed patients
    (ADSL.FASFL == "Y"), baseline = week 0 and end of study = week 48 (assumptions
    ``summary_set``, ``insulin_reading``, ``gir_summary``), each rounded to the printed
    decimals; p-values use the tests of the assumption ``assumed_tests``.

    Returns one row per quantity and arm: id (fact id in ``trialkit.published``; "" for
    the implied analysed numbers), quantity, arm, timepoint, statistic (as in
    ``trialkit.published``), reported (as printed), reconstructed (rounded as printed),
    matches (True / False; nullable boolean), target (``reconstruct()`` is built to match
    this row; rows with target False are reported, not forced) and note (the test used,
    or why a row cannot match).
    """
    return _compare(_analysis(data), data)


def _compare(a: Mapping[str, dict[str, Any]], data: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    n_impl = assumptions()["reconstruct_analysed"].value
    rows: list[dict[str, Any]] = []

    def add(
        fid: str,
        arm: str,
        recon: str,
        match: bool | None,
        target: bool,
        note: str = "",
        quantity: str | None = None,
        reported: str | None = None,
    ) -> None:
        r = _fact(fid) if fid else None
        rows.append(
            {
                "id": fid,
                "quantity": quantity or (r["quantity"] if r is not None else ""),
                "arm": arm,
                "timepoint": r["timepoint"] if r is not None else "week 48",
                "statistic": r["statistic"] if r is not None else "count",
                "reported": reported or (r["printed"] if r is not None else ""),
                "reconstructed": recon,
                "matches": match,
                "target": target,
                "note": note,
            }
        )

    def value(fid: str, arm: str, x: float, target: bool = True, note: str = "") -> None:
        d = int(_fact(fid)["decimals"])
        rec = _fmt(x, d)
        add(fid, arm, rec, rec == _fact(fid)["printed"], target, note)

    def bound(fid: str, arm: str, p: float, test: str, target: bool = True, note: str = "") -> None:
        add(fid, arm, _pfmt(p), _bound_holds(fid, p), target, f"test: {test}. {note}".strip())

    for arm, k in _KEY.items():
        x = a[arm]
        value(f"randomized_{k}", arm, x["randomized"])
        add(
            "",
            arm,
            str(x["analysed"]),
            x["analysed"] == n_impl[arm],
            True,
            "not printed: implied by the primary percentages and their 95% CI "
            "(assumption reconstruct_analysed)",
            quantity="patients analysed (implied)",
            reported=str(n_impl[arm]),
        )
        value(
            f"primary_{k}",
            arm,
            100 * x["responders"] / x["analysed"],
            note=f"{x['responders']}/{x['analysed']} analysed; missing counted as not met",
        )
    uc, pl = a["UC-MSC"], a["Placebo"]
    p1, p2 = uc["responders"] / uc["analysed"], pl["responders"] / pl["analysed"]
    se = math.sqrt(p1 * (1 - p1) / uc["analysed"] + p2 * (1 - p2) / pl["analysed"])
    z = sps.norm.ppf(0.975)
    wald = "Wald interval of the risk difference (method not stated; it reproduces the bounds)"
    value("primary_ci_low", "between", 100 * (p1 - p2 - z * se), note=wald)
    value("primary_ci_high", "between", 100 * (p1 - p2 + z * se), note=wald)
    table = [
        [uc["responders"], uc["analysed"] - uc["responders"]],
        [pl["responders"], pl["analysed"] - pl["responders"]],
    ]
    bound("primary_p", "between", float(sps.fisher_exact(table).pvalue), "Fisher exact (two-sided)")

    for arm, k in _KEY.items():
        value(
            f"insulin_reduction_{k}",
            arm,
            -np.nanmean(a[arm]["pchg"]),
            note="mean percent reduction of the daily dose, baseline to week 48",
        )
    bound(
        "insulin_reduction_p",
        "between",
        float(sps.ttest_ind(_nz(uc["pchg"]), _nz(pl["pchg"]), equal_var=False).pvalue),
        "Welch t-test on the percent change",
    )

    for arm, k in _KEY.items():
        x = a[arm]
        for tp, col in (("baseline", "hba1c_base"), ("end", "hba1c_w48")):
            value(f"hba1c_{tp}_{k}_mean", arm, np.nanmean(x[col]))
            value(f"hba1c_{tp}_{k}_sd", arm, np.nanstd(x[col], ddof=1))
    changes = {arm: _nz(a[arm]["hba1c_base"] - a[arm]["hba1c_w48"]) for arm in ARMS}
    for arm, k in _KEY.items():
        mean_diff = np.nanmean(a[arm]["hba1c_base"]) - np.nanmean(a[arm]["hba1c_w48"])
        value(
            f"hba1c_decrease_{k}",
            arm,
            float(changes[arm].mean()),
            target=False,
            note=f"not matchable: the printed means differ by {mean_diff:.2f}, and in the "
            "same patients the mean within-patient decrease equals that difference; the "
            "printed decrease must come from other patients or another method (not public)",
        )
    bound(
        "hba1c_decrease_ucmsc_p",
        "UC-MSC",
        float(sps.ttest_1samp(changes["UC-MSC"], 0).pvalue),
        "paired t-test",
    )
    pb = a["Placebo"]
    n = len(changes["Placebo"])
    need = abs(changes["Placebo"].mean()) * math.sqrt(n) / sps.t.ppf(0.975, n - 1)
    most = np.nanstd(pb["hba1c_base"], ddof=1) + np.nanstd(pb["hba1c_w48"], ddof=1)
    bound(
        "hba1c_decrease_placebo_p",
        "Placebo",
        float(sps.ttest_1samp(changes["Placebo"], 0).pvalue),
        "paired t-test",
        target=False,
        note=f"not matchable: p > 0.05 needs an SD of the within-patient change >= {need:.2f}, "
        f"but it is at most SD(baseline) + SD(end) = {most:.2f} (correlation -1)",
    )
    p_between = float(sps.ttest_ind(changes["UC-MSC"], changes["Placebo"]).pvalue)
    reported_p = float(_fact("hba1c_decrease_p")["value"])
    n1, n2 = len(changes["UC-MSC"]), len(changes["Placebo"])
    diff = abs(changes["UC-MSC"].mean() - changes["Placebo"].mean())
    sd_needed = diff / (sps.t.isf(reported_p / 2, n1 + n2 - 2) * math.sqrt(1 / n1 + 1 / n2))
    sd_here = math.sqrt(
        ((n1 - 1) * changes["UC-MSC"].var(ddof=1) + (n2 - 1) * changes["Placebo"].var(ddof=1))
        / (n1 + n2 - 2)
    )
    add(
        "hba1c_decrease_p",
        "between",
        _pfmt(p_between),
        _pfmt(p_between) == _fmt(reported_p, 4),
        False,
        "Student t-test on the within-patient change; not forced: it depends on the "
        f"unpublished baseline/week-48 correlation. With these means, p = {reported_p} needs a "
        f"pooled SD of the change of {sd_needed:.2f} (here {sd_here:.2f}); see ensemble()",
    )

    for arm, k in _KEY.items():
        value(f"gir_baseline_{k}", arm, np.nanmean(a[arm]["gir_base"]), note="mean")
        value(f"gir_end_{k}", arm, np.nanmean(a[arm]["gir_w48"]), note="mean at week 48")
    dg = {arm: _nz(a[arm]["gir_w48"] - a[arm]["gir_base"]) for arm in ARMS}
    bound(
        "gir_change_ucmsc_p",
        "UC-MSC",
        float(sps.ttest_1samp(dg["UC-MSC"], 0).pvalue),
        "paired t-test",
    )
    bound(
        "gir_change_placebo_p",
        "Placebo",
        float(sps.ttest_1samp(dg["Placebo"], 0).pvalue),
        "paired t-test",
    )
    bound(
        "gir_p",
        "between",
        float(sps.ttest_ind(dg["UC-MSC"], dg["Placebo"], equal_var=False).pvalue),
        "Welch t-test on the change",
    )

    for arm, k in _KEY.items():
        dc = _nz(a[arm]["cpep_w48"] - a[arm]["cpep_base"])
        p = float(sps.ttest_1samp(dc, 0).pvalue) if len(dc) > 1 else float("nan")
        add(
            f"beta_cell_{k}",
            arm,
            f"fasting C-peptide change {dc.mean():+.2f} ng/mL, p = {p:.2f}",
            not (dc.mean() > 0 and p < 0.05),
            False,
            "qualitative; read as 'no significant rise of fasting C-peptide' (paired t-test); "
            "C-peptide values are assumed, not reconstructed",
        )
    ae = data.get("ADAE")
    if ae is not None:
        ucids = set(data["ADSL"].loc[data["ADSL"]["ARM"] == "UC-MSC", "USUBJID"])
        major = ae[
            ae["USUBJID"].isin(ucids)
            & (ae["AREL"] == "RELATED")
            & ((ae["AESER"] == "Y") | (ae["AESEV"] == "SEVERE"))
        ]
        add(
            "safety",
            "UC-MSC",
            f"{len(major)} related serious or severe events",
            len(major) == 0,
            True,
            "'major' read as serious or severe; adverse events are entirely assumed",
        )
    out = pd.DataFrame(rows)
    out["matches"] = out["matches"].astype("boolean")
    out.attrs["synthetic"] = bool(data["ADSL"].attrs.get("synthetic", False))
    out.attrs["provenance"] = data["ADSL"].attrs.get("provenance", "")
    return out


def summary(data: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """What the published summary leaves open, computed from one data set.

    Per arm (suffix ``_ucmsc`` / ``_placebo``), over the analysed patients: hba1c_met,
    insulin_met, responders, hba1c_only, insulin_only, neither (counts of the composite's
    components); corr_change_pchg (Pearson correlation of the HbA1c change with the
    insulin percent change), corr_w48_pchg (week-48 HbA1c with the insulin percent
    change), corr_base_w48 (baseline vs week-48 HbA1c), sd_hba1c_change
    (%), sd_insulin_pchg (percentage points), p_hba1c_paired (within-arm paired t-test).
    Between arms: p_hba1c_w48_t (Student t-test of week-48 HbA1c), p_hba1c_change_t
    (Student t-test of the change), p_hba1c_ancova (week 48 on baseline and arm),
    p_insulin_welch, p_gir_welch (change).
    """
    return _summary(_analysis(data))


def _summary(a: Mapping[str, dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for arm, k in _KEY.items():
        x = a[arm]
        mh, mi = x["met_hba1c"], x["met_insulin"]
        ok = ~np.isnan(x["hba1c_w48"]) & ~np.isnan(x["pchg"])
        ch = x["hba1c_w48"][ok] - x["hba1c_base"][ok]
        out |= {
            f"responders_{k}": int((mh & mi).sum()),
            f"hba1c_met_{k}": int(mh.sum()),
            f"insulin_met_{k}": int(mi.sum()),
            f"hba1c_only_{k}": int((mh & ~mi).sum()),
            f"insulin_only_{k}": int((~mh & mi).sum()),
            f"neither_{k}": int((~mh & ~mi).sum()),
            f"corr_change_pchg_{k}": float(np.corrcoef(ch, x["pchg"][ok])[0, 1]),
            f"corr_w48_pchg_{k}": float(np.corrcoef(x["hba1c_w48"][ok], x["pchg"][ok])[0, 1]),
            f"corr_base_w48_{k}": float(np.corrcoef(x["hba1c_base"][ok], x["hba1c_w48"][ok])[0, 1]),
            f"sd_hba1c_change_{k}": float(ch.std(ddof=1)),
            f"sd_insulin_pchg_{k}": float(np.std(x["pchg"][ok], ddof=1)),
            f"p_hba1c_paired_{k}": float(sps.ttest_1samp(ch, 0).pvalue),
        }
    uc, pl = a["UC-MSC"], a["Placebo"]
    chg = {arm: _nz(a[arm]["hba1c_w48"] - a[arm]["hba1c_base"]) for arm in ARMS}
    out["p_hba1c_w48_t"] = float(sps.ttest_ind(_nz(uc["hba1c_w48"]), _nz(pl["hba1c_w48"])).pvalue)
    out["p_hba1c_change_t"] = float(sps.ttest_ind(chg["UC-MSC"], chg["Placebo"]).pvalue)
    out["p_hba1c_ancova"] = _ancova_p(
        np.concatenate([uc["hba1c_base"], pl["hba1c_base"]]),
        np.concatenate([uc["hba1c_w48"], pl["hba1c_w48"]]),
        np.concatenate([np.ones(uc["analysed"]), np.zeros(pl["analysed"])]),
    )
    out["p_insulin_welch"] = float(
        sps.ttest_ind(_nz(uc["pchg"]), _nz(pl["pchg"]), equal_var=False).pvalue
    )
    dg = {arm: _nz(a[arm]["gir_w48"] - a[arm]["gir_base"]) for arm in ARMS}
    out["p_gir_welch"] = float(sps.ttest_ind(dg["UC-MSC"], dg["Placebo"], equal_var=False).pvalue)
    return out


def _ancova_p(base: np.ndarray, end: np.ndarray, treated: np.ndarray) -> float:
    """Two-sided p of the arm term in end ~ 1 + base + arm (ordinary least squares)."""
    ok = ~np.isnan(base) & ~np.isnan(end)
    x = np.column_stack([np.ones(ok.sum()), base[ok], treated[ok]])
    y = end[ok]
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    df = len(y) - x.shape[1]
    cov = (resid @ resid / df) * np.linalg.inv(x.T @ x)
    tval = beta[2] / math.sqrt(cov[2, 2])
    return float(2 * sps.t.sf(abs(tval), df))


# =========================================================================== ensemble
def ensemble_member(
    i: int,
    seed: int = 0,
    reading: str = "mean",
    *,
    params: Mapping[str, Any] | None = None,
) -> dict[str, pd.DataFrame]:
    """The datasets of member ``i`` of ``ensemble(k, seed)`` (any k > i): a reconstruction
    seeded with ``SeedSequence(seed).spawn(k)[i]``."""
    if not isinstance(i, int | np.integer) or isinstance(i, bool) or i < 0:
        raise ValueError(f"member index must be a whole number >= 0, got {i!r}")
    child = np.random.SeedSequence(seed, spawn_key=(int(i),))
    return reconstruct(child, reading, params=params)


def _member_rows(
    seed: int, members: Sequence[int], reading: str, params: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    rows = []
    for i in members:
        data = ensemble_member(i, seed, reading, params=params)
        a = _analysis(data)
        cmp = _compare(a, data)
        rows.append(
            {
                "member": int(i),
                "attempts": int(data["ADSL"].attrs["attempts"]),
                "all_matched": bool(cmp.loc[cmp["target"], "matches"].all()),
                **_summary(a),
            }
        )
    return rows


def ensemble(
    k: int,
    seed: int = 0,
    jobs: int | None = None,
    progress: bool = True,
    reading: str = "mean",
    *,
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """``k`` reconstructions, each matching every published summary; one row per member.

    Member ``i`` is seeded with ``SeedSequence(seed).spawn(k)[i]`` and is the same whatever
    ``jobs`` (get its datasets with ``ensemble_member(i, seed)``). Columns: member,
    attempts (draws needed), all_matched (every targeted row of
    ``compare_with_published`` matches), then the quantities of ``summary``: what the
    published summary leaves open (component counts, correlations, p-values ...).

    ``jobs``: worker processes (default: all cores; 1 runs in this process). ``progress``:
    a tqdm progress bar. About 50 ms per member on one core (reconstruction about 15-35 ms,
    the rest deriving and checking it), about 30 ms with two (``bench/bench_cohort.py``).
    """
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    if reading != "mean":
        raise ValueError(_share_message())
    jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    _settings(params)  # fail early, in this process
    if progress:
        from tqdm.auto import tqdm
    else:  # tqdm.auto warns in a kernel without ipywidgets, even when disabled
        from tqdm import tqdm

    size = max(1, min(50, k // (4 * jobs) or 1))
    chunks = [list(range(i, min(i + size, k))) for i in range(0, k, size)]
    rows: list[dict[str, Any]] = []
    with tqdm(total=k, disable=not progress, desc="reconstructions", unit="member") as bar:
        if jobs == 1 or len(chunks) == 1:
            for ch in chunks:
                rows += _member_rows(seed, ch, reading, params)
                bar.update(len(ch))
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(_member_rows, seed, ch, reading, dict(params or {})): len(ch)
                    for ch in chunks
                }
                for fut in concurrent.futures.as_completed(futures):
                    rows += fut.result()
                    bar.update(futures[fut])
    out = pd.DataFrame(rows).sort_values("member").reset_index(drop=True)
    out.attrs["synthetic"] = True
    out.attrs["provenance"] = (
        f"SYNTHETIC: trialkit.cohort.ensemble(k={k}, seed={seed}, reading={reading!r}, "
        f"params={dict(params or {})!r}); trialkit {_VERSION}"
    )
    return out


# =========================================================================== files
def write_csvs(data: Mapping[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write the datasets as ``ADSL.csv``, ``ADLB.csv``, ``ADEX.csv``, ``ADAE.csv``.

    Rows as given (``simulate``/``reconstruct`` sort them by subject, parameter, visit),
    numbers as recorded (``%.10g``: 9.1, 46, 3.12), "\\n" line ends: the same data give
    the same bytes. Refuses tables without a SYNTHETIC column.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DATASETS:
        df = data[name]
        if "SYNTHETIC" not in df.columns:
            raise ValueError(f"{name}: refusing to write data without a SYNTHETIC column")
        path = folder / f"{name}.csv"
        df.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
        paths.append(path)
    return paths


def read_csvs(folder: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read and validate a folder written by ``write_csvs`` (default: the canonical
    ``data/synthetic``) with ``trialkit.schema.read``; tables whose SYNTHETIC column is
    "Y" get ``attrs["synthetic"] = True`` and a provenance naming the file."""
    from trialkit import schema

    folder = Path(folder) if folder is not None else SYNTHETIC_DIR
    out = schema.read(folder)
    for name, df in out.items():
        df.attrs["synthetic"] = bool("SYNTHETIC" in df and (df["SYNTHETIC"] == "Y").all())
        df.attrs["provenance"] = f"read from {folder / (name + '.csv')}"
    return out


def load(data_dir: str = "") -> dict[str, pd.DataFrame]:
    """The patient-level datasets a notebook analyses: the one entry point for notebooks.

    ``data_dir = ""`` (the default of every notebook's ``data_dir`` parameter) gives the
    canonical SYNTHETIC reconstruction read from ``data/synthetic`` (``SYNTHETIC_DIR``):
    every table has the column ``SYNTHETIC = "Y"``, ``attrs["synthetic"] = True`` and a
    provenance naming the file. A folder gives the analyst's own data, read and validated
    by ``trialkit.schema.read(folder)`` (ADSL, ADLB, ADEX required; ADAE if present), with
    ``attrs["synthetic"] = False`` unless a table carries ``SYNTHETIC = "Y"`` in every row.

    Returns ``{"ADSL": ..., "ADLB": ..., "ADEX": ..., ["ADAE": ...]}``. Raises
    ``trialkit.schema.DatasetError`` (a ValueError) listing every problem, naming the file,
    column and rows, when the folder does not meet the dataset contracts; the files are only
    read, never changed.
    """
    if not isinstance(data_dir, str | os.PathLike):
        raise ValueError(f'data_dir must be a folder path or "", got {data_dir!r}')
    if str(data_dir) == "":
        return read_csvs(SYNTHETIC_DIR)
    return read_csvs(Path(data_dir))


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    cells = [
        [("" if pd.isna(v) else str(v)).replace("|", "\\|") for v in row]
        for row in df.itertuples(index=False)
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines)


_DICTIONARY: Final[str] = """\
## Files and columns

Every file has the column `SYNTHETIC` = `Y`. Missing visits are absent rows (there are no
empty values except `DCSREAS` of patients who completed). Read them with
`trialkit.cohort.read_csvs()` or `trialkit.schema.read("data/synthetic")` (or
`pandas.read_csv(path, keep_default_na=False)`).

**ADSL.csv**: one row per patient.

| column | meaning |
|---|---|
| USUBJID | synthetic patient id (`SYN-001` ...), in random order of the arms |
| ARM | `UC-MSC` or `Placebo` |
| RANDFL | randomized (`Y` for all) |
| FASFL | analysed: week-48 HbA1c and insulin dose present (assumption `analysis_set`) |
| PPSFL | per protocol: here equal to FASFL (no deviations are generated) |
| AGE | age, whole years (eligibility 20-65) |
| SEX | `M` / `F` |
| WEIGHT | body weight, kg (0.1) |
| BMI | body-mass index, kg/m2 (0.1; eligibility 24.0-40.0) |
| DIABDUR | diabetes duration, years (0.1; eligibility <= 20) |
| DCSREAS | why the patient left the study; empty if completed |

**ADLB.csv**: one row per patient, parameter and visit.

| column | meaning |
|---|---|
| PARAMCD | `HBA1C` HbA1c, % (NGSP; 0.1) |
| | `FPG` fasting plasma glucose, mmol/L (0.1) |
| | `GIR` glucose infusion rate of the clamp, mg/min/kg (0.01) |
| | `CPEP` fasting C-peptide, ng/mL (0.01) |
| AVISIT | `Baseline` or `Week N` |
| AVISITN | week: 0, 4, 8, 12, 24, 36, 48 (GIR: 0, 48; CPEP: 0, 12, 24, 48) |
| ADY | study day: day 1 = first infusion; baseline days -7..1 (no day 0); then 7 x week + 1 +- 3 |
| AVAL | the value, in the unit of PARAMCD |

**ADEX.csv**: as ADLB.csv, with PARAMCD `INSDOSE` = total daily insulin dose, U/day
(whole units), at every visit.

**ADAE.csv**: one row per adverse event (entirely assumed; see below).

| column | meaning |
|---|---|
| AEDECOD | preferred term |
| AEBODSYS | system organ class |
| AESEV | `MILD`, `MODERATE`, `SEVERE` |
| AESER | serious (`Y`/`N`) |
| AREL | `RELATED` / `NOT RELATED` to study treatment |
| ASTDY | study day of onset |
| TRTEMFL | treatment-emergent (`Y` from day 1 on; `N` for events during screening) |
"""


def _readme(data: Mapping[str, pd.DataFrame], seed: int) -> str:
    cmp = compare_with_published(data)
    cols = ["quantity", "arm", "timepoint", "statistic", "reported", "reconstructed", "matches"]
    shown = cmp[[*cols, "note"]].copy()
    shown["matches"] = shown["matches"].map({True: "yes", False: "**no**"}).fillna("n/a")
    counts = ", ".join(f"{n}.csv {len(data[n])} rows" for n in DATASETS)
    attempts = data["ADSL"].attrs.get("attempts", "")
    return f"""\
# SYNTHETIC patients: NOT the trial's data

**Every row in this folder is SYNTHETIC.** The individual patient data of Zang et al.
(2022, Stem Cell Res Ther 13:180; NCT02302599) are not public. These files were made by
a computer so that they reproduce the summaries the paper publishes, at their printed
precision, and nothing more: any per-patient value, any visit between baseline and week
48, any correlation, every adverse event and every dropout reason is an assumption
(`data/assumptions.yaml`) or chance. Do not cite them as trial results.

Made by:

    python -m trialkit.cohort       # trialkit.cohort.reconstruct(seed={seed}), then write_csvs

(`python -m trialkit.cohort --check` regenerates into a temporary folder and compares the
bytes.) The method (moment matching, forcing the composite counts, SPRITE-like discrete
repair, rejection on the printed p-value bounds) is described in `trialkit/cohort.py`;
this data set needed {attempts} draw(s). Other seeds give other, equally matching data sets
(`trialkit.cohort.ensemble`), which shows what the paper leaves open.

Files: {counts}.

{_DICTIONARY}
## What matches the paper

Recomputed from these files by `trialkit.cohort.compare_with_published` (ordinary
formulas over the analysed patients, rounded as printed; p-values with the tests named
in the notes, which the paper does not state). Rows marked **no** are not matched: for
the HbA1c decreases and the placebo within-group p no data set can match them with the
printed means and SDs; the between-group p = 0.0081 is not forced. The notes say why.

{_md_table(shown)}
"""


def main(argv: list[str] | None = None) -> int:
    """``python -m trialkit.cohort [--out DIR] [--seed N] [--check]``: write the canonical
    reconstruction (default ``data/synthetic``); ``--check`` compares instead of writing."""
    import filecmp
    import tempfile

    ap = argparse.ArgumentParser(
        prog="python -m trialkit.cohort",
        description="Write the SYNTHETIC reconstruction of Zang et al. 2022 as CSV files.",
    )
    ap.add_argument(
        "--out", type=Path, default=SYNTHETIC_DIR, help="folder (default data/synthetic)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of reconstruct() (default 0)")
    ap.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = ap.parse_args(argv)

    def build(folder: Path) -> list[Path]:
        t0 = time.perf_counter()
        data = reconstruct(seed=args.seed)
        paths = write_csvs(data, folder)
        readme = folder / "README.md"
        readme.write_text(_readme(data, args.seed), encoding="utf-8", newline="\n")
        print(f"reconstruct(seed={args.seed}) in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
        return [*paths, readme]

    if not args.check:
        for p in build(args.out):
            print(f"wrote {p}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build(Path(tmp))
        bad = [
            p.name
            for p in fresh
            if not (args.out / p.name).is_file()
            or not filecmp.cmp(p, args.out / p.name, shallow=False)
        ]
    if bad:
        print(f"differs from {args.out}: {', '.join(bad)}", file=sys.stderr)
        return 1
    print(f"{args.out}: identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
