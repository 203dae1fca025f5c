"""The generative model of the trial: draw one SYNTHETIC trial, or the endpoints of many.

- ``simulate(...)`` draws one trial from a model whose every unpublished number is an
  assumption in ``data/assumptions.yaml`` (``trialkit.assumptions``): baseline covariates
  inside the registry's eligibility ranges, HbA1c and daily insulin dose with
  within-patient correlation over visits, fasting glucose, clamp glucose infusion rate and
  C-peptide, dropout with reasons, adverse events, as the four datasets of the collection
  (``ADSL``, ``ADLB``, ``ADEX``, ``ADAE``). The between-arm effects default to the
  published end-minus-baseline differences (``effect=1``); ``effect=0`` makes the arms
  alike.
- ``simulate_endpoints(k, ...)`` draws the week-48 endpoints of ``k`` trials at once
  (vectorized; for power and operating characteristics); ``endpoint_counts`` is its lean
  core (responders and analysed numbers only, as arrays) used by ``trialkit.studies``
  with ``draws="patients"``.
- ``responder_probability(effect)`` computes (not simulates) a completer's probability
  of the composite endpoint in each arm; since patients are independent within an arm,
  ``endpoint_counts_drawn`` draws the counts of many trials from their exact binomial
  distributions (``trialkit.studies``' default, ``draws="counts"``: the same model and
  distribution of trials as ``endpoint_counts``, another random stream, about 10 times
  faster in a power study).

Every table has ``SYNTHETIC = "Y"``, ``df.attrs["synthetic"] = True`` and
``df.attrs["provenance"]``. The draws of one trial happen in a fixed order (it defines
the data for a seed); ``_draw_core`` takes either one ``numpy.random.Generator`` (``k``
trials from one stream) or a list of generators (one trial from each, stacked: how
``trialkit.ensemble`` builds many reconstructions at once with each member's own stream).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from trialkit import published
from trialkit.assumptions import ARMS, LAB_UNITS, _is_num, _settings, assumptions

__all__ = [
    "ARMS",
    "LAB_UNITS",
    "endpoint_counts",
    "endpoint_counts_drawn",
    "insulin_share_denominators",
    "responder_probability",
    "simulate",
    "simulate_endpoints",
]

_KEY: Final[dict[str, str]] = {"UC-MSC": "ucmsc", "Placebo": "placebo"}
_SEVERITY: Final[tuple[str, str, str]] = ("MILD", "MODERATE", "SEVERE")
_VERSION: Final[str] = "0.1.0"


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


class _Rows:
    """Draws of shape (k, n), row ``i`` from generator ``i`` (each member's own stream).

    Has the methods of ``numpy.random.Generator`` that the model uses; each call draws
    ``n`` values from every generator in turn, so row ``i`` is what generator ``i`` alone
    would have drawn with ``size=(1, n)``, whatever the other rows (the batch).
    """

    def __init__(self, rngs: Sequence[np.random.Generator], n: int) -> None:
        self.rngs, self.n = list(rngs), n

    def _shape(self, size: Any) -> None:
        if tuple(np.atleast_1d(size)) != (len(self.rngs), self.n):
            raise ValueError(f"size {size} is not ({len(self.rngs)}, {self.n})")

    def random(self, size: Any) -> np.ndarray:
        self._shape(size)
        return np.array([g.random(self.n) for g in self.rngs]).reshape(size)

    def standard_normal(self, size: Any) -> np.ndarray:
        self._shape(size)
        return np.array([g.standard_normal(self.n) for g in self.rngs]).reshape(size)

    def integers(self, low: int, high: int, size: Any) -> np.ndarray:
        self._shape(size)
        return np.array([g.integers(low, high, self.n) for g in self.rngs]).reshape(size)


def _truncnorm(
    rng: np.random.Generator | _Rows, mean: Any, sd: Any, low: Any, high: Any, size: Any
) -> np.ndarray:
    """Normal(mean, sd) truncated to [low, high] by the inverse CDF (one uniform each)."""
    mean, sd = np.asarray(mean, float), np.asarray(sd, float)
    a = special.ndtr((np.asarray(low, float) - mean) / sd)
    b = special.ndtr((np.asarray(high, float) - mean) / sd)
    u = rng.random(size)
    x = mean + sd * special.ndtri(a + u * (b - a))
    return np.clip(x, low, high)


@functools.lru_cache(maxsize=64)
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
    rng: np.random.Generator | _Rows,
    n_per_arm: tuple[int, int],
    k: int,
    s: Mapping[str, Any],
    effect: float,
    dropout: float,
) -> dict[str, np.ndarray]:
    """Subject-level baseline covariates and week-48 values for ``k`` trials at once.

    ``rng``: one generator (the ``k`` trials come from its stream) or ``_Rows`` (trial
    ``i`` from generator ``i``: the same values as ``_draw_core(rngs[i], n_per_arm, 1, ...)``).

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
    height, weight, ins_base = _body_and_dose(rng, s, e, male, shape)
    bmi = np.clip(_round(weight / height**2, 1), *e["bmi"])
    ins_base = ins_base.astype(np.int64)

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


def endpoint_counts(
    rng: np.random.Generator,
    n_per_arm: tuple[int, int],
    k: int,
    s: Mapping[str, Any],
    effect: float | Sequence[float],
    dropout: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Composite responders and analysed numbers of ``k`` trials, each of shape (k, 2).

    The lean core of ``simulate_endpoints`` for power studies: the same draws from ``rng``
    in the same order as ``_draw_core``, but only what the composite needs is computed
    (baseline HbA1c, weight and insulin dose, the week-48 HbA1c and dose, dropout). The
    uniforms of the unused covariates (age, diabetes duration, baseline GIR) are jumped
    over (``bit_generator.advance``: one 64-bit step per uniform), the unused normals
    (GIR change) are drawn, so the counts equal those of
    ``simulate_endpoints(k, n_per_arm, seed)`` for the same generator (a test checks it).
    Columns: UC-MSC, placebo. ``s``: the settings (``assumptions._settings``).

    ``effect`` may be a list: the draws do not depend on it, so they are made once and
    the counts of every effect are returned as lists (common random numbers, as
    ``simulate_endpoints`` with the same seed and each effect would give).
    """
    d = _endpoint_draws(rng, n_per_arm, k, s, dropout)
    if isinstance(effect, Sequence):
        pairs = [_endpoint_eval(d, float(e), s) for e in effect]
        return [x for x, _ in pairs], [a for _, a in pairs]  # type: ignore[return-value]
    return _endpoint_eval(d, float(effect), s)


def _body_and_dose(
    rng: np.random.Generator,
    s: Mapping[str, Any],
    e: Mapping[str, Any],
    male: np.ndarray,
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Height (m), weight (kg) and the baseline insulin dose (U/day, whole units as
    floats) of patients, drawn in the model's fixed order (height, BMI, dose per kg):
    the one place both the patient draws and the endpoint counts take them from."""
    h = s["height"]
    height = np.where(
        male,
        h["M"]["mean"] + h["M"]["sd"] * rng.standard_normal(shape),
        h["F"]["mean"] + h["F"]["sd"] * rng.standard_normal(shape),
    )
    height = np.clip(height, h["min"], h["max"]) / 100.0
    bmi_latent = _truncnorm(rng, s["bmi"]["mean"], s["bmi"]["sd"], *e["bmi"], shape)
    weight = _round(bmi_latent * height**2, 1)
    ik = s["insulin_per_kg"]
    per_kg = _truncnorm(rng, ik["mean"], ik["sd"], *e["insulin_per_kg"], shape)
    dose = np.clip(
        np.round(weight * per_kg),
        np.ceil(e["insulin_per_kg"][0] * weight),
        np.floor(e["insulin_per_kg"][1] * weight),
    )
    return height, weight, dose


def _endpoint_draws(
    rng: np.random.Generator,
    n_per_arm: tuple[int, int],
    k: int,
    s: Mapping[str, Any],
    dropout: float,
) -> dict[str, Any]:
    """The part of ``endpoint_counts`` that does not depend on the effect."""
    e = _facts()["eligibility"]
    n_uc, n_pl = n_per_arm
    n = n_uc + n_pl
    shape = (k, n)
    size = k * n
    bits = rng.bit_generator

    male = rng.random(shape) < s["sex_male_fraction"]
    bits.advance(2 * size)  # age, diabetes duration: one uniform each
    _, _, ins_base = _body_and_dose(rng, s, e, male, shape)
    hb = s["hba1c_baseline"]
    dec = s["lab_decimals"]
    hba1c_base = _round(_truncnorm(rng, hb["mean"], hb["sd"], *e["hba1c"], shape), dec["HBA1C"])
    z_h = rng.standard_normal(shape)
    z_i = rng.standard_normal(shape)
    bits.advance(size)  # baseline GIR: one uniform each
    rng.standard_normal(shape)  # GIR change (normals: not a fixed number of steps)
    analysed = rng.random(shape) >= dropout
    return {
        "n_uc": n_uc,
        "ins_base": ins_base,
        "hba1c_base": hba1c_base,
        "z_h": z_h,
        "z_i": z_i,
        "analysed": analysed,
    }


def _endpoint_eval(
    d: Mapping[str, Any], effect: float, s: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """The counts of ``endpoint_counts`` for one effect, from ``_endpoint_draws``."""
    _, resp = _endpoint_patients(d, effect, s)
    return _per_arm(resp, d["n_uc"]), _per_arm(d["analysed"], d["n_uc"])


def _per_arm(mask: np.ndarray, n_uc: int) -> np.ndarray:
    """Per trial (row) the number of True in each arm: shape (k, 2), UC-MSC first."""
    return np.column_stack([mask[:, :n_uc].sum(axis=1), mask[:, n_uc:].sum(axis=1)])


def _endpoint_patients(
    d: Mapping[str, Any], effect: float, s: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Per patient, for one effect, from ``_endpoint_draws``: the week-48 HbA1c (%, as
    recorded) and whether the composite was met (analysed patients only); each of shape
    (k, n), the UC-MSC patients first."""
    e = _facts()["eligibility"]
    f = _facts()
    n_uc = d["n_uc"]
    hba1c_base, ins_base, analysed = d["hba1c_base"], d["ins_base"], d["analysed"]
    uc = np.arange(hba1c_base.shape[1]) < n_uc
    eff = _effects(effect)
    hb = s["hba1c_baseline"]
    dec = s["lab_decimals"]
    center, var_base = _truncnorm_moments(hb["mean"], hb["sd"], *e["hba1c"])
    mu_h = np.where(uc, eff["hba1c"]["UC-MSC"], eff["hba1c"]["Placebo"])
    slope = s["hba1c_change_baseline_slope"]
    change = mu_h + slope * (hba1c_base - center) + s["hba1c_change_sd"] * d["z_h"]
    hba1c_w48_cont = hba1c_base + change
    hba1c_w48 = np.clip(_round(hba1c_w48_cont, dec["HBA1C"]), *s["hba1c_range"]["week48"])
    sd_w48 = math.sqrt((1 + slope) ** 2 * var_base + s["hba1c_change_sd"] ** 2)
    z_w48 = (hba1c_w48_cont - center - mu_h) / sd_w48
    rho = s["rho_hba1c_insulin"]
    mu_i = np.where(uc, eff["insulin"]["UC-MSC"], eff["insulin"]["Placebo"])
    sd_pl = s["insulin_pchg_sd"]["Placebo"]
    sd_uc = sd_pl + effect * (s["insulin_pchg_sd"]["UC-MSC"] - sd_pl)
    sd_i = np.where(uc, max(sd_uc, 1e-9), sd_pl)
    pchg_cont = mu_i + sd_i * (rho * z_w48 + math.sqrt(1 - rho**2) * d["z_i"])
    pchg_cont = np.clip(pchg_cont, *s["insulin_pchg_range"])
    ins_w48 = np.maximum(np.round(ins_base * (1 + pchg_cont / 100)), 0)
    pchg = 100.0 * (ins_w48 - ins_base) / ins_base
    resp = analysed & (hba1c_w48 < f["hba1c_threshold"]) & (pchg <= -f["insulin_threshold"])
    return hba1c_w48, resp


def _responder_arrays(
    hba1c_w48: np.ndarray, ins_base: np.ndarray, ins_w48: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(HbA1c component met, insulin component met) by the published thresholds."""
    f = _facts()
    pchg = 100.0 * (ins_w48 - ins_base) / ins_base
    return hba1c_w48 < f["hba1c_threshold"], pchg <= -f["insulin_threshold"]


# =========================================================================== power studies: counts
# Patients of one arm are independent and identically distributed under the model (no
# trial-level random effect), so the counts of a trial have an exact distribution:
# analysed ~ Binomial(n, 1 - dropout) and responders | analysed ~ Binomial(analysed, p),
# with p the per-patient probability of the composite. ``responder_probability`` computes
# p from the model by quadrature; ``endpoint_counts_drawn`` draws the counts of many
# trials from it (two uniforms per arm and trial instead of ~10 random numbers per patient).
_LIM: Final[float] = 40.0  # |z| beyond this: Phi is exactly 0 or 1 in double precision


def _phi2(h: Any, k: Any, r: Any) -> np.ndarray:
    """Standard bivariate normal CDF P(X < h, Y < k), corr(X, Y) = r (|r| < 1), vectorized.

    Owen's T form (Owen 1956): Phi2 = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta,
    a_h = (k - r h) / (h sqrt(1 - r^2)), beta = 1/2 when h k < 0 (or h k = 0 and h + k < 0).
    Infinite limits are clipped to +-40; exact zeros are moved to 1e-300 (Phi2 is continuous).
    """
    h, k, r = np.broadcast_arrays(*(np.asarray(v, float) for v in (h, k, r)))
    h = np.clip(h, -_LIM, _LIM)
    k = np.clip(k, -_LIM, _LIM)
    h = np.where(h == 0.0, 1e-300, h)
    k = np.where(k == 0.0, 1e-300, k)
    s = np.sqrt((1.0 - r) * (1.0 + r))
    with np.errstate(over="ignore"):
        t = special.owens_t(h, (k - r * h) / (h * s)) + special.owens_t(k, (h - r * k) / (k * s))
    beta = np.where(h * k < 0, 0.5, 0.0)
    return np.clip(0.5 * (special.ndtr(h) + special.ndtr(k)) - t - beta, 0.0, 1.0)


def _truncnorm_cdf(x: Any, mean: float, sd: float, low: float, high: float) -> np.ndarray:
    """CDF of ``_truncnorm``'s distribution (Normal(mean, sd) truncated to [low, high])."""
    a, b = special.ndtr((low - mean) / sd), special.ndtr((high - mean) / sd)
    f = (special.ndtr((np.asarray(x, float) - mean) / sd) - a) / (b - a)
    return np.where(np.asarray(x) < low, 0.0, np.where(np.asarray(x) >= high, 1.0, f))


def _rounded_pmf(mean: float, sd: float, low: float, high: float, dec: int) -> tuple[Any, Any]:
    """Values and probabilities of ``_round(_truncnorm(mean, sd, low, high), dec)``."""
    g = 10.0**dec
    j = np.arange(np.rint(low * g), np.rint(high * g) + 1)
    cdf = _truncnorm_cdf(np.append(j - 0.5, j[-1] + 0.5) / g, mean, sd, low, high)
    return j / g, np.diff(cdf)


@functools.lru_cache(maxsize=16)
def _dose_pmf(key: tuple[float, ...], panels: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the baseline daily insulin dose (U/day, whole units) of ``_draw_core``.

    Sex (Bernoulli), height (normal by sex, clipped: atoms at the limits), latent BMI and
    dose per kg (truncated normals); weight = BMI x height^2 rounded to 0.1 kg; dose =
    round(weight x per-kg dose) kept in [ceil(low x weight), floor(high x weight)]. The
    integral over height uses composite 8-point Gauss-Legendre rules (``panels`` panels).
    """
    male_p, hm, hs, fm, fs, hmin, hmax, bm, bs, blo, bhi, km, ks, klo, khi = key
    gx, gw = np.polynomial.legendre.leggauss(8)
    edges = np.linspace(hmin, hmax, panels + 1)
    half = np.diff(edges) / 2
    nodes = (edges[:-1, None] + half[:, None] * (gx[None, :] + 1)).ravel()
    wts = (half[:, None] * gw[None, :]).ravel()
    # weight grid: j / 10 kg for every reachable j (one decimal, as _round(x, 1))
    j = np.arange(
        np.floor(blo * (hmin / 100) ** 2 * 10) - 1, np.ceil(bhi * (hmax / 100) ** 2 * 10) + 2
    )
    w_pmf = np.zeros(len(j))
    for p_sex, mu, sd in ((male_p, hm, hs), (1 - male_p, fm, fs)):
        dens = wts * sps.norm.pdf(nodes, mu, sd)
        h2 = np.concatenate([(nodes / 100) ** 2, [(hmin / 100) ** 2, (hmax / 100) ** 2]])
        mass = np.concatenate(
            [dens, [special.ndtr((hmin - mu) / sd), special.ndtr((mu - hmax) / sd)]]
        )
        e = np.append(j - 0.5, j[-1] + 0.5)  # bins of rint(10 x BMI x h2)
        cdf = _truncnorm_cdf(e[None, :] / (10.0 * h2[:, None]), bm, bs, blo, bhi)
        w_pmf += p_sex * (mass @ np.diff(cdf, axis=1))
    keep = w_pmf > 0
    w, w_pmf = j[keep] / 10.0, w_pmf[keep]
    d = np.arange(np.floor(klo * w.min()) - 1, np.ceil(khi * w.max()) + 2)
    cdf = _truncnorm_cdf(np.append(d - 0.5, d[-1] + 0.5)[None, :] / w[:, None], km, ks, klo, khi)
    dose_given_w = np.diff(cdf, axis=1)  # P(rint(w x per_kg) = d | w)
    lo, hi = np.ceil(klo * w), np.floor(khi * w)
    clipped = np.clip(d[None, :], lo[:, None], hi[:, None])
    pmf = np.zeros(len(d))
    np.add.at(pmf, np.searchsorted(d, clipped).ravel(), (w_pmf[:, None] * dose_given_w).ravel())
    keep = pmf > 0
    return d[keep].astype(np.int64), pmf[keep] / pmf.sum()


def _dose_key(s: Mapping[str, Any]) -> tuple[float, ...]:
    e = _facts()["eligibility"]
    h, b, k = s["height"], s["bmi"], s["insulin_per_kg"]
    return tuple(
        float(v)
        for v in (
            s["sex_male_fraction"], h["M"]["mean"], h["M"]["sd"], h["F"]["mean"], h["F"]["sd"],
            h["min"], h["max"], b["mean"], b["sd"], *e["bmi"], k["mean"], k["sd"],
            *e["insulin_per_kg"],
        )
    )  # fmt: skip


def _model_key(s: Mapping[str, Any]) -> str:
    """The settings ``_responder_probabilities`` uses, as a hashable key (for its cache)."""
    names = (
        "hba1c_baseline", "lab_decimals", "hba1c_change_baseline_slope", "hba1c_change_sd",
        "rho_hba1c_insulin", "hba1c_range", "insulin_pchg_sd", "insulin_pchg_range",
    )  # fmt: skip
    return repr((_dose_key(s), [(n, s[n]) for n in names]))


def _responder_probabilities(s: Mapping[str, Any], effect: float) -> tuple[float, float]:
    """``_responder_probabilities_for`` of the settings ``s`` (cached by their values)."""
    return _responder_probabilities_for(_model_key(s), float(effect), s)


#: Per-patient responder probabilities by (``_model_key``, effect), per process.
_PROB_CACHE: dict[tuple[str, float], tuple[float, float]] = {}


def _responder_probabilities_for(
    key: str, effect: float, s: Mapping[str, Any]
) -> tuple[float, float]:
    if (key, effect) not in _PROB_CACHE:
        if len(_PROB_CACHE) > 1024:
            _PROB_CACHE.clear()
        _PROB_CACHE[key, effect] = _responder_probabilities_uncached(s, effect)
    return _PROB_CACHE[key, effect]


def _responder_probabilities_uncached(s: Mapping[str, Any], effect: float) -> tuple[float, float]:
    """Per-patient probability of the composite (UC-MSC, placebo) under ``_draw_core``.

    Given the rounded baseline HbA1c b and the whole-unit baseline dose d, meeting both
    thresholds is a bivariate normal event in (z_h, z_i): HbA1c rounded to ``lab_decimals``
    below 7.0 % is z_h below a bound linear in b; the week-48 dose rounded to whole units
    at most half of d is the insulin percent change below a bound that depends on d (its
    parity: an odd d needs <= (d-1)/2 units). The probability is the sum over the exact
    distributions of b (``_rounded_pmf``) and d (``_dose_pmf``) of ``_phi2``. The clipping
    of the week-48 HbA1c and of the percent change to their ranges is taken into account.
    """
    f, e = _facts(), _facts()["eligibility"]
    hb, dec = s["hba1c_baseline"], s["lab_decimals"]["HBA1C"]
    b, pb = _rounded_pmf(hb["mean"], hb["sd"], *e["hba1c"], dec)
    center, var_base = _truncnorm_moments(hb["mean"], hb["sd"], *e["hba1c"])
    slope, sd_h = s["hba1c_change_baseline_slope"], s["hba1c_change_sd"]
    sd_w48 = math.sqrt((1 + slope) ** 2 * var_base + sd_h**2)
    rho = s["rho_hba1c_insulin"]
    # HbA1c met: clip(round(x, dec), lo, hi) < thr  <=>  x < (j_max + 0.5) / g
    g, thr = 10.0**dec, f["hba1c_threshold"]
    lo48, hi48 = s["hba1c_range"]["week48"]
    j_max = math.ceil(thr * g) + 1
    while j_max / g >= thr:
        j_max -= 1
    h_bound = math.inf if thr > hi48 else -math.inf if thr <= lo48 else (j_max + 0.5) / g
    # insulin met: 100 (m - d) / d <= -thr_i for the week-48 dose m = rint(d (1 + pchg/100))
    d, pd_ = _dose_pmf(_dose_key(s))
    m = np.arange(d.max() + 1)[None, :]
    ok = (m <= d[:, None]) & (100.0 * (m - d[:, None]) / d[:, None] <= -f["insulin_threshold"])
    m_max = np.where(ok.any(axis=1), np.where(ok, m, -1).max(axis=1), -1)
    t = np.where(m_max >= 0, 100.0 * ((m_max + 0.5) / d - 1.0), -np.inf)
    lo_p, hi_p = s["insulin_pchg_range"]
    t = np.where(t <= lo_p, -np.inf, np.where(t > hi_p, np.inf, t))
    t, inv = np.unique(t, return_inverse=True)
    pt = np.bincount(inv.ravel(), weights=pd_, minlength=len(t))
    eff = _effects(effect)
    sd_pl = s["insulin_pchg_sd"]["Placebo"]
    sd_uc = max(sd_pl + effect * (s["insulin_pchg_sd"]["UC-MSC"] - sd_pl), 1e-9)
    q = rho * sd_h / sd_w48  # V = q z_h + sqrt(1 - rho^2) z_i
    sd_v = math.sqrt(q**2 + 1 - rho**2)
    out = []
    for arm, sd_i in (("UC-MSC", sd_uc), ("Placebo", sd_pl)):
        mu_h, mu_i = eff["hba1c"][arm], eff["insulin"][arm]
        with np.errstate(invalid="ignore"):
            a_h = (h_bound - b - mu_h - slope * (b - center)) / sd_h
            a_i = (t[None, :] - mu_i) / sd_i - rho * (1 + slope) * (b[:, None] - center) / sd_w48
        a_h = np.nan_to_num(a_h, nan=-np.inf)
        p = _phi2(a_h[:, None], np.nan_to_num(a_i, nan=-np.inf) / sd_v, q / sd_v)
        out.append(float(pb @ p @ pt))
    return out[0], out[1]


def responder_probability(
    effect: float = 1.0, *, params: Mapping[str, Any] | None = None
) -> tuple[float, float]:
    """Per-patient probability of the composite responder endpoint, (UC-MSC, placebo).

    HbA1c < 7.0 % and daily insulin dose reduced by >= 50 % at week 48 for a patient who
    completes, under the model of ``simulate`` (same ``effect``: 1 = the published
    differences; ``params``: overrides of assumptions). Computed, not simulated: a sum
    over the distributions of the rounded baseline HbA1c and the whole-unit baseline dose
    of bivariate normal probabilities (``scipy.special.owens_t``), accurate to about 1e-9.
    Patients are independent within an arm, so the responders among ``a`` analysed are
    Binomial(a, p): ``stats.exact_power(p1, n1, p2, n2, dropout=...)`` is the exact power
    of the cohort model.
    """
    s = _settings(params)
    _check_effect(effect, None, s)
    return _responder_probabilities(s, float(effect))


def _binom_ppf(u: np.ndarray, a: np.ndarray, p: float) -> np.ndarray:
    """Smallest x with P(Binomial(a, p) <= x) > u, for each (u, a) (the inverse CDF).

    One CDF row per distinct ``a``, row r offset by r so that the rows laid end to end
    are increasing: one ``searchsorted`` for all draws.
    """
    vals, inv = np.unique(a, return_inverse=True)
    inv = inv.ravel()
    x = np.arange(vals.max() + 1)[None, :]
    with np.errstate(invalid="ignore"):  # bdtr is nan for x > a: the CDF is 1 there
        c = np.where(x >= vals[:, None], 1.0, special.bdtr(x, vals[:, None], p))
    flat = (c + np.arange(len(vals))[:, None]).ravel()
    out = np.searchsorted(flat, u + inv, side="right") - inv * x.shape[1]
    return np.minimum(out, a)


def endpoint_counts_drawn(
    rng: np.random.Generator,
    n_per_arm: tuple[int, int],
    k: int,
    s: Mapping[str, Any],
    effect: float | Sequence[float],
    dropout: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Composite responders and analysed numbers of ``k`` trials, each of shape (k, 2),
    drawn from their exact distribution under the model (a different random stream from
    ``endpoint_counts``; the same distribution of trials).

    Per arm and trial: analysed = inverse Binomial(n, 1 - dropout) CDF at one uniform,
    responders = inverse Binomial(analysed, p) CDF at a second uniform, p from
    ``_responder_probabilities``. The uniforms do not depend on ``effect``: a list of
    effects gives lists of counts from the same uniforms (common random numbers).
    """
    u = rng.random((2, k, 2))
    n = np.array(n_per_arm)
    a = np.column_stack([_binom_ppf(u[0, :, j], np.full(k, n[j]), 1.0 - dropout) for j in (0, 1)])

    def counts(e: float) -> np.ndarray:
        p = _responder_probabilities(s, float(e))
        return np.column_stack([_binom_ppf(u[1, :, j], a[:, j], p[j]) for j in (0, 1)])

    if isinstance(effect, Sequence):
        return [counts(e) for e in effect], [a] * len(effect)  # type: ignore[return-value]
    return counts(effect), a


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
