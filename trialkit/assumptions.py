"""The assumptions: every number the paper does not publish, each with its reason.

``data/assumptions.yaml`` holds every assumed number of the generative model (visit
schedule, correlations, dropout, adverse events ...) and the notebooks' analysis choices,
each with a unit, a reason, whether it is a notebook parameter, and a group.
``assumptions()`` loads and validates it (``AssumptionError`` names the entry at fault);
``assumption_table()`` is the same for display. Used by ``trialkit.trial_model`` (the
generator) and, through ``trialkit.cohort``, by the notebooks.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

__all__ = ["ASSUMPTIONS_PATH", "Assumption", "AssumptionError", "assumption_table", "assumptions"]

ROOT: Final[Path] = Path(__file__).resolve().parent.parent
#: Every assumed number, with its reason.
ASSUMPTIONS_PATH: Final[Path] = ROOT / "data" / "assumptions.yaml"
#: Arm labels, UC-MSC first (the order of ``n_per_arm`` tuples).
ARMS: Final[tuple[str, str]] = ("UC-MSC", "Placebo")
#: Laboratory parameters in ADLB and their units.
LAB_UNITS: Final[dict[str, str]] = {
    "HBA1C": "% (NGSP)",
    "FPG": "mmol/L",
    "GIR": "mg/min/kg",
    "CPEP": "ng/mL",
}
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


class AssumptionError(ValueError):
    """The assumptions file (or an override) is malformed; the message names the entry."""


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
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)
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
