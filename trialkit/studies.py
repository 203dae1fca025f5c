"""Simulation STUDIES: power of many simulated trials, on all local cores or a dask cluster.

(Formerly ``trialkit.simulate``, renamed so it cannot be confused with one simulated
*trial*, ``trialkit.cohort.simulate``.)

Why a module of its own (and not in ``trialkit.stats.power``): ``stats`` takes plain
numbers and returns results; this module *runs* studies. It draws SYNTHETIC trials from
``trialkit.cohort``'s generative model, splits the work into seeded chunks, sends them
to local processes or to a dask.distributed cluster, shows progress and sums the
results. It uses ``trialkit.stats.power`` for the p-value tables.

One simulated trial = the week-48 composite responders of both arms (HbA1c < 7.0 % and
daily insulin dose cut by >= 50 %, among the analysed patients), drawn either

- from the cohort model (``cohort.simulate_endpoints``: correlated HbA1c and insulin
  changes, dropout, every assumption of ``data/assumptions.yaml``), with the published
  between-arm differences scaled by ``effect`` (1 = as published, 0 = none); or
- from two binomials with given rates (``rates=(p1, p2)``), where exact power is known
  (``stats.exact_power``): the check that the machinery is right.

The cohort model is drawn in one of two ways (``draws``), the same model and the same
distribution of trials. Patients are independent and identically distributed within an
arm, so a trial's analysed number is Binomial(n, 1 - dropout) and its responders are
Binomial(analysed, p), p the per-patient probability of the composite, computed from the
model (``trial_model.responder_probability``: a sum of bivariate normal probabilities
over the rounded baseline HbA1c and the whole-unit baseline dose). ``draws="counts"``
(default) draws these two counts per arm and trial by the inverse CDF (two uniforms; the
same uniforms for every effect of a grid); ``draws="patients"`` draws every patient as
``cohort.simulate_endpoints`` does (~10 random numbers per patient; about 10 times
slower in a power study). The exact power of the cohort model is then
``stats.exact_power(p1, n1, p2, n2, dropout=...)``; the tests check p against the patient
draws and a closed form.

Each trial is tested by looking its (x1, x2) up in the test's p-value table for the
analysed arm sizes (``stats.pvalue_table``, computed once per size pair): no Python
loop over trials, no call of a test per trial.

Reproducibility. Trials are drawn in fixed-size chunks (``chunk_size`` trials); chunk
``i`` is seeded with ``numpy.random.SeedSequence(seed, spawn_key=(i,))`` (the i-th child
of ``SeedSequence(seed).spawn``); changing ``draws`` changes the random stream. The
chunks are grouped into tasks for the workers, so the results for a seed are identical
whatever the number of workers, the grouping (``batch``), or local vs dask execution;
``n_sim`` trials are always the first ``n_sim`` of a longer run. Changing ``chunk_size``
changes the random stream. Every scenario of a grid uses the same chunk seeds (common
random numbers): differences between scenarios are then estimated more precisely than
each power on its own, and a scenario's result does not depend on which other scenarios
are in the grid.

Where it runs. ``scheduler``: a dask.distributed scheduler address (``"tcp://host:8786"``)
or a ``distributed.Client``; if not given, the environment variable
``TRIALKIT_DASK_SCHEDULER``; if that is unset or empty, local processes on all cores
(``workers``), or this process for small jobs. ``scheduler="local"`` forces local
execution. Dask workers need this package importable (the same environment).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from trialkit.stats import power as _power
from trialkit.stats.results import _check_alpha, _check_choice, _fmt

__all__ = [
    "CHUNK_SIZE",
    "DRAWS",
    "ENV_SCHEDULER",
    "SimulatedPower",
    "power_grid",
    "simulate_power",
]

#: Trials per seeded chunk (the unit of the random stream; see the module docstring).
CHUNK_SIZE: Final[int] = 1000
#: How cohort-model trials are drawn (``power_grid(draws=...)``; see the module docstring).
DRAWS: Final[tuple[str, str]] = ("counts", "patients")
#: Environment variable naming a dask scheduler address to use when none is given.
ENV_SCHEDULER: Final[str] = "TRIALKIT_DASK_SCHEDULER"
#: Above this many trials in total, local work goes to worker processes by default
#: (starting them costs about a second; the cohort model draws ~500,000 trials/s/core
#: with draws="counts", ~20,000 with draws="patients").
_PARALLEL_FROM: Final[dict[str, int]] = {"counts": 4_000_000, "patients": 100_000}
#: Above this many trials, a progress bar is shown when ``progress`` is None.
_PROGRESS_FROM: Final[int] = 100_000


# =========================================================================== result
@dataclass(frozen=True)
class SimulatedPower:
    """Simulation-based power of one scenario and test.

    ``power = rejections / n_sim`` (p < ``alpha``), with its Monte Carlo standard error
    ``mc_se = sqrt(power (1 - power) / n_sim)`` and a 95% Wilson interval
    (``ci_low``, ``ci_high``). ``rate1``/``rate2`` are the responder shares among all
    analysed patients of all simulated trials (the per-patient responder probability of
    each arm under the model); ``analysed1``/``analysed2`` the mean analysed numbers.
    ``model`` is "cohort" (``effect``, ``dropout``) or "binomial" (``p1``, ``p2``).
    Simulated trials are SYNTHETIC.
    """

    power: float
    rejections: int
    n_sim: int
    mc_se: float
    ci_low: float
    ci_high: float
    test: str
    alpha: float
    n1: int
    n2: int
    model: str
    effect: float | None
    p1: float | None
    p2: float | None
    dropout: float | None
    rate1: float
    rate2: float
    analysed1: float
    analysed2: float
    seed: int

    def __str__(self) -> str:
        if self.model == "binomial":
            what = f"two binomials {self.p1:.4g} vs {self.p2:.4g}"
        else:
            what = f"cohort model, effect {self.effect:g}, dropout {self.dropout:g}"
        return (
            f"SYNTHETIC simulated power {_fmt(self.power)} (MC SE {_fmt(self.mc_se)}; "
            f"{self.rejections}/{self.n_sim} trials with p < {self.alpha:g}, {self.test}) for "
            f"n = {self.n1}, {self.n2} randomized; {what}; responder rates "
            f"{_fmt(self.rate1)} vs {_fmt(self.rate2)}; seed {self.seed}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain Python of every field, and ``synthetic: True``."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = v.item() if isinstance(v, np.generic) else v
        out["synthetic"] = True
        return out


# =========================================================================== checks
def _check_count(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _check_arms(value: Any, name: str = "n_per_arm") -> tuple[int, int]:
    try:
        n1, n2 = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (UC-MSC, placebo), got {value!r}") from None
    return _check_count(f"{name}[0]", n1, 2), _check_count(f"{name}[1]", n2, 2)


def _check_tests(tests: Any) -> tuple[str, ...]:
    seq = (tests,) if isinstance(tests, str) else tuple(tests)
    if not seq:
        raise ValueError("tests must name at least one test")
    return tuple(_check_choice("tests", t, _power.POWER_TESTS) for t in seq)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


# =========================================================================== scenarios
@dataclass(frozen=True)
class _Scenario:
    n1: int
    n2: int
    effect: float | None = None
    p1: float | None = None
    p2: float | None = None

    @property
    def model(self) -> str:
        return "binomial" if self.p1 is not None else "cohort"


def _scenarios(
    n_per_arm: Sequence[tuple[int, int]],
    effect: Sequence[float] | None,
    rates: Sequence[tuple[float, float]] | None,
) -> list[_Scenario]:
    sizes = [_check_arms(n) for n in n_per_arm]
    if not sizes:
        raise ValueError("n_per_arm must hold at least one pair of arm sizes")
    if rates is not None:
        if effect is not None:
            raise ValueError("give either effect (cohort model) or rates (two binomials)")
        pairs = []
        for r in rates:
            try:
                a, b = r
            except (TypeError, ValueError):
                raise ValueError(f"rates must be pairs (p1, p2), got {r!r}") from None
            pairs.append((_power._check_rate("rates p1", a), _power._check_rate("rates p2", b)))
        if not pairs:
            raise ValueError("rates must hold at least one pair (p1, p2)")
        return [_Scenario(n1, n2, None, a, b) for n1, n2 in sizes for a, b in pairs]
    effects = [1.0] if effect is None else list(effect)
    if not effects:
        raise ValueError("effect must hold at least one value")
    for e in effects:
        if isinstance(e, bool) or not isinstance(e, int | float) or not math.isfinite(e):
            raise ValueError(f"effect must be finite numbers (1 = as published), got {e!r}")
    return [_Scenario(n1, n2, float(e)) for n1, n2 in sizes for e in effects]


# =========================================================================== one chunk
def _chunk_seed(seed: int, chunk: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(chunk,))


def _draw(
    group: Sequence[_Scenario],
    seed: int,
    chunk: int,
    size: int,
    dropout: float | None,
    settings: Mapping[str, Any] | None,
    draws: str = "counts",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Responders and analysed numbers, each of shape (size, 2) (UC-MSC, placebo), for
    every scenario of ``group`` (one binomial scenario, or cohort-model scenarios of the
    same arm sizes: their draws do not depend on the effect and are made once).

    Cohort model, ``draws="counts"``: ``trial_model.endpoint_counts_drawn`` (each arm's
    analysed and responder counts from their exact binomial distributions under the
    model); ``draws="patients"``: ``trial_model.endpoint_counts`` (the counts of
    ``cohort.simulate_endpoints(size, ..., seed=SeedSequence(seed, spawn_key=(chunk,)))``).
    ``settings``: the assumptions with the overrides applied (``assumptions._settings``).
    """
    rng = np.random.default_rng(_chunk_seed(seed, chunk))
    sc = group[0]
    if sc.model == "binomial":
        x = np.column_stack([rng.binomial(sc.n1, sc.p1, size), rng.binomial(sc.n2, sc.p2, size)])
        return [(x, np.broadcast_to(np.array([sc.n1, sc.n2]), x.shape))]
    from trialkit import trial_model

    assert settings is not None and dropout is not None
    effects = [g.effect for g in group]
    counts = (
        trial_model.endpoint_counts if draws == "patients" else trial_model.endpoint_counts_drawn
    )
    xs, as_ = counts(rng, (sc.n1, sc.n2), size, settings, effects, dropout)
    return list(zip(xs, as_, strict=True))


def _pvalues(
    x: np.ndarray, a: np.ndarray, test: str, memo: dict[Any, np.ndarray] | None = None
) -> np.ndarray:
    """p-value of every trial by table look-up: the tables of the analysed arm sizes
    present are laid end to end and read with one fancy index (``memo``: tables already
    fetched, by (n1, n2, test)). The reference for ``_Rejections`` (tests)."""
    memo = {} if memo is None else memo
    key = a[:, 0] * 100_003 + a[:, 1]
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    tables, offsets, widths, used = [], [], [], 0
    for i in first:
        n1, n2 = int(a[i, 0]), int(a[i, 1])
        t = memo.get((n1, n2, test))
        if t is None:
            if n1 < 1 or n2 < 1:  # nobody analysed in an arm: no test, no rejection
                t = np.ones((n1 + 1) * (n2 + 1))
            else:
                t = _power.pvalue_table(n1, n2, test).ravel()
            memo[n1, n2, test] = t
        tables.append(t)
        offsets.append(used)
        widths.append(n2 + 1)
        used += t.size
    flat = np.concatenate(tables)
    inv = inv.ravel()
    return flat[np.asarray(offsets)[inv] + x[:, 0] * np.asarray(widths)[inv] + x[:, 1]]


class _Rejections:
    """Whether each trial rejects (p < alpha), by look-up, for one test within a task.

    The rejection tables (``pvalue_table < alpha``) of every pair of analysed arm sizes
    met so far are kept laid end to end in ``flat`` (one array, extended when a new pair
    appears), so a batch of trials is read with one fancy index; ``where(a)`` locates the
    tables of analysed numbers ``a`` once for all the effects that share them.
    """

    def __init__(self, test: str, alpha: float) -> None:
        self.test, self.alpha = test, alpha
        self.start: dict[int, int] = {}  # by n1 * 100_003 + n2
        self.parts: list[np.ndarray] = []
        self.used = 0
        self.flat = np.zeros(0, dtype=bool)

    def where(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per trial, the start of its table in ``flat`` and its row width (n2 + 1)."""
        keys, inv = np.unique(a[:, 0] * 100_003 + a[:, 1], return_inverse=True)
        starts = []
        grown = False
        for key in keys.tolist():
            if key not in self.start:
                n1, n2 = divmod(key, 100_003)
                if n1 < 1 or n2 < 1:  # nobody analysed in an arm: no test, no rejection
                    t = np.zeros((n1 + 1) * (n2 + 1), dtype=bool)
                else:
                    t = (_power.pvalue_table(n1, n2, self.test) < self.alpha).ravel()
                self.start[key] = self.used
                self.parts.append(t)
                self.used += t.size
                grown = True
            starts.append(self.start[key])
        if grown:
            self.flat = np.concatenate(self.parts)
        return np.array(starts)[inv.ravel()], a[:, 1] + 1

    def count(self, x: np.ndarray, where: tuple[np.ndarray, np.ndarray]) -> int:
        """Trials of ``x`` (responders, at the analysed numbers located by ``where``)
        with p < alpha."""
        start, width = where
        return int(self.flat[start + x[:, 0] * width + x[:, 1]].sum())


def _run_task(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Simulate the chunks of one task for each of its scenarios; integer counts only
    (sums are order-free). One result per scenario."""
    group: list[_Scenario] = task["scenarios"]
    tests: tuple[str, ...] = task["tests"]
    outs = [
        {
            "scenario": i,
            "trials": 0,
            "rejections": np.zeros(len(tests), dtype=np.int64),
            "responders": np.zeros(2, dtype=np.int64),
            "analysed": np.zeros(2, dtype=np.int64),
        }
        for i in task["indices"]
    ]
    settings = None
    rejections = [_Rejections(t, task["alpha"]) for t in tests]
    if group[0].model == "cohort":
        from trialkit.assumptions import _settings

        settings = _settings(task["params"])  # once per task (validated, deep-copied)
    for chunk, keep in task["chunks"]:
        drawn = _draw(
            group, task["seed"], chunk, task["chunk_size"], task["dropout"], settings, task["draws"]
        )
        located: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for out, (x, a_all) in zip(outs, drawn, strict=True):
            x, a = x[:keep], a_all[:keep]
            if id(a_all) not in located:  # the effects of a group share their analysed numbers
                located[id(a_all)] = [r.where(a) for r in rejections]
            for j, r in enumerate(rejections):
                out["rejections"][j] += r.count(x, located[id(a_all)][j])
            out["responders"] += x.sum(axis=0)
            out["analysed"] += a.sum(axis=0)
            out["trials"] += keep
    return outs


# =========================================================================== execution
def progress_wanted(asked: bool) -> bool:
    """Whether to show a progress bar: as ``asked``, except never when the environment says
    ``TQDM_DISABLE`` (the runner sets it for its kernels: a rendered page shows no bar;
    tqdm itself honours it only when ``disable`` is not passed)."""
    off = os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes")
    return bool(asked) and not off


def _tqdm() -> Any:
    """tqdm's notebook widget where ipywidgets is installed, else the text bar (no warning)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


def _resolve_scheduler(scheduler: Any) -> Any:
    if scheduler is None or scheduler == "":
        scheduler = os.environ.get(ENV_SCHEDULER, "")
    if scheduler in ("", "local"):
        return None
    return scheduler


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _execute(
    tasks: list[dict[str, Any]],
    scheduler: Any,
    workers: int | None,
    bar: Any,
) -> Iterator[dict[str, Any]]:
    total = sum(keep * len(t["scenarios"]) for t in tasks for _, keep in t["chunks"])
    if scheduler is not None:
        yield from _execute_dask(tasks, scheduler, bar)
        return
    jobs = (os.cpu_count() or 1) if workers is None else workers
    slow = any(t["scenarios"][0].model == "cohort" and t["draws"] == "patients" for t in tasks)
    if workers is None and total < _PARALLEL_FROM["patients" if slow else "counts"]:
        jobs = 1
    if jobs == 1 or len(tasks) == 1:
        for t in tasks:
            res = _run_task(t)
            bar.update(sum(r["trials"] for r in res))
            yield from res
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_task, t) for t in tasks]
        for fut in concurrent.futures.as_completed(futures):
            res = fut.result()
            bar.update(sum(r["trials"] for r in res))
            yield from res


def _execute_dask(tasks: list[dict[str, Any]], scheduler: Any, bar: Any) -> Iterator[dict]:
    from distributed import Client, as_completed

    own = not isinstance(scheduler, Client)
    client = Client(scheduler, set_as_default=False) if own else scheduler
    try:
        futures = [client.submit(_run_task, t, pure=False) for t in tasks]
        for fut in as_completed(futures):
            res = fut.result()
            bar.update(sum(r["trials"] for r in res))
            yield from res
    finally:
        if own:
            client.close()


# =========================================================================== public
def power_grid(
    n_per_arm: Sequence[tuple[int, int]] = ((45, 46),),
    effect: Sequence[float] | None = None,
    *,
    rates: Sequence[tuple[float, float]] | None = None,
    tests: str | Sequence[str] = ("fisher",),
    alpha: float = 0.05,
    n_sim: int = 10_000,
    seed: int = 0,
    dropout: float | None = None,
    params: Mapping[str, Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
    batch: int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool | None = None,
    draws: str = "counts",
) -> pd.DataFrame:
    """Simulated power over a grid of scenarios: arm sizes x effects (or x rates).

    Parameters
    ----------
    n_per_arm
        Pairs (UC-MSC, placebo) of randomized patients.
    effect
        Cohort model (the default, ``effect=(1.0,)``): multipliers of the published
        between-arm differences (``cohort.simulate``). Each is crossed with each size.
    rates
        Instead of ``effect``: pairs (p1, p2) of responder rates; the trials are then
        two binomials with all patients analysed (no dropout, no cohort model).
    tests
        Tests of ``stats.POWER_TESTS`` applied to the same simulated trials.
    alpha
        Two-sided level; a trial "rejects" when p < alpha.
    n_sim
        Simulated trials per scenario.
    seed, chunk_size
        The random stream (see the module docstring): the same (seed, chunk_size) give
        identical results however the work is split.
    dropout, params
        Passed to ``cohort.simulate_endpoints`` (default: the assumptions file).
    batch
        Chunks per task sent to a worker (default: about 4 tasks per worker); does not
        change the results.
    workers
        Local worker processes (default: all cores for jobs above 4,000,000 trials, or
        100,000 with ``draws="patients"``; else this process). Ignored on a dask cluster.
    scheduler
        A dask.distributed scheduler address or ``Client``; default the environment
        variable ``TRIALKIT_DASK_SCHEDULER``, else local; ``"local"`` forces local.
    progress
        A tqdm progress bar (default: only for more than 100,000 trials in total).
    draws
        How cohort-model trials are drawn (the same model and distribution of trials;
        different random streams). ``"counts"`` (default, fast): each arm's analysed
        number ~ Binomial(n, 1 - dropout) and responders ~ Binomial(analysed, p), p the
        model's per-patient responder probability (``trial_model.responder_probability``,
        computed by quadrature; patients are independent within an arm). ``"patients"``:
        every patient drawn as ``cohort.simulate_endpoints`` draws them (chunk ``i`` is
        ``simulate_endpoints(chunk_size, ..., seed=SeedSequence(seed, spawn_key=(i,)))``).
        Ignored with ``rates``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario and test: model, n1, n2, effect, p1, p2, dropout, test,
        alpha, n_sim, rejections, power, mc_se, ci_low, ci_high (95% Wilson), rate1,
        rate2 (responder shares among the analysed), analysed1, analysed2 (mean analysed
        numbers), seed, SYNTHETIC = "Y"; ``attrs["synthetic"]`` and
        ``attrs["provenance"]``.
    """
    from statsmodels.stats.proportion import proportion_confint

    scenarios = _scenarios(n_per_arm, effect, rates)
    tests = _check_tests(tests)
    alpha = _check_alpha(alpha)
    n_sim = _check_count("n_sim", n_sim)
    seed = _check_seed(seed)
    chunk_size = _check_count("chunk_size", chunk_size)
    draws = _check_choice("draws", draws, DRAWS)
    if workers is not None:
        workers = _check_count("workers", workers)
    if rates is not None and (dropout is not None or params):
        raise ValueError("dropout and params apply to the cohort model, not to rates")
    if rates is None:
        from trialkit import cohort

        sc0 = scenarios[0]  # fail early, in this process, with cohort's own messages
        cohort.simulate_endpoints(1, (sc0.n1, sc0.n2), 0, sc0.effect, dropout, params=params)
        d = cohort.assumptions()["dropout_probability"].value if dropout is None else dropout
        dropout_used: float | None = float(d)
    else:
        dropout_used = None
    scheduler = _resolve_scheduler(scheduler)

    n_chunks = math.ceil(n_sim / chunk_size)
    chunks = [(i, min(chunk_size, n_sim - i * chunk_size)) for i in range(n_chunks)]
    # cohort-model scenarios of the same arm sizes share their draws (common random
    # numbers: the draws do not depend on the effect); each binomial scenario is alone
    groups: dict[Any, list[int]] = {}
    for i, sc in enumerate(scenarios):
        key = (sc.n1, sc.n2) if sc.model == "cohort" else ("binomial", i)
        groups.setdefault(key, []).append(i)
    if batch is None:
        jobs = workers or os.cpu_count() or 1
        batch = max(1, math.ceil(len(groups) * n_chunks / (4 * jobs)))
        batch = min(batch, max(1, 200_000 // chunk_size))  # progress at least every ~5 s
    batch = _check_count("batch", batch)
    tasks = [
        {
            "indices": idx,
            "scenarios": [scenarios[i] for i in idx],
            "chunks": part,
            "tests": tests,
            "alpha": alpha,
            "seed": seed,
            "chunk_size": chunk_size,
            "dropout": dropout_used if scenarios[idx[0]].model == "cohort" else None,
            "params": dict(params or {}) or None,
            "draws": draws,
        }
        for idx in groups.values()
        for part in _batches(chunks, batch)
    ]
    total = n_sim * len(scenarios)
    show = progress_wanted(total > _PROGRESS_FROM if progress is None else bool(progress))
    sums = {
        i: {
            "rejections": np.zeros(len(tests), dtype=np.int64),
            "responders": np.zeros(2, dtype=np.int64),
            "analysed": np.zeros(2, dtype=np.int64),
            "trials": 0,
        }
        for i in range(len(scenarios))
    }
    bar_type = _tqdm()
    with bar_type(
        total=total,
        disable=not show,
        desc="simulated trials",
        unit="trial",
        mininterval=0.1 if bar_type.__module__.endswith("notebook") else 1.0,
    ) as bar:
        for res in _execute(tasks, scheduler, workers, bar):
            s = sums[res["scenario"]]
            for k in ("rejections", "responders", "analysed", "trials"):
                s[k] = s[k] + res[k]

    rows = []
    for i, sc in enumerate(scenarios):
        s = sums[i]
        assert s["trials"] == n_sim, (s["trials"], n_sim)
        for j, t in enumerate(tests):
            k = int(s["rejections"][j])
            pw = k / n_sim
            lo, hi = proportion_confint(k, n_sim, alpha=0.05, method="wilson")
            rows.append(
                {
                    "model": sc.model,
                    "n1": sc.n1,
                    "n2": sc.n2,
                    "effect": sc.effect if sc.effect is not None else np.nan,
                    "p1": sc.p1 if sc.p1 is not None else np.nan,
                    "p2": sc.p2 if sc.p2 is not None else np.nan,
                    "dropout": dropout_used if sc.model == "cohort" else 0.0,
                    "test": t,
                    "alpha": alpha,
                    "n_sim": n_sim,
                    "rejections": k,
                    "power": pw,
                    "mc_se": math.sqrt(pw * (1 - pw) / n_sim),
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                    "rate1": s["responders"][0] / max(s["analysed"][0], 1),
                    "rate2": s["responders"][1] / max(s["analysed"][1], 1),
                    "analysed1": s["analysed"][0] / n_sim,
                    "analysed2": s["analysed"][1] / n_sim,
                    "seed": seed,
                    "SYNTHETIC": "Y",
                }
            )
    out = pd.DataFrame(rows)
    out.attrs["synthetic"] = True
    out.attrs["provenance"] = (
        f"SYNTHETIC: trialkit.studies.power_grid(n_per_arm={[(s.n1, s.n2) for s in scenarios]}"
        f", effect={effect!r}, rates={rates!r}, tests={tests!r}, alpha={alpha!r}, "
        f"n_sim={n_sim}, seed={seed}, dropout={dropout!r}, params={dict(params or {})!r}, "
        f"chunk_size={chunk_size}, draws={draws!r})"
    )
    return out


def simulate_power(
    n_per_arm: tuple[int, int] = (45, 46),
    effect: float = 1.0,
    *,
    rates: tuple[float, float] | None = None,
    test: str = "fisher",
    alpha: float = 0.05,
    n_sim: int = 10_000,
    seed: int = 0,
    dropout: float | None = None,
    params: Mapping[str, Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
    batch: int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool | None = None,
    draws: str = "counts",
) -> SimulatedPower:
    """Simulation-based power of one scenario (see ``power_grid`` for the arguments).

    The cohort model by default (``effect``: 1 = the published differences), or two
    binomials with ``rates=(p1, p2)``. Returns a ``SimulatedPower``.
    """
    df = power_grid(
        [n_per_arm],
        None if rates is not None else [effect],
        rates=None if rates is None else [rates],
        tests=(test,),
        alpha=alpha,
        n_sim=n_sim,
        seed=seed,
        dropout=dropout,
        params=params,
        chunk_size=chunk_size,
        batch=batch,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        draws=draws,
    )
    r = df.iloc[0]

    def opt(v: Any) -> float | None:
        return None if pd.isna(v) else float(v)

    return SimulatedPower(
        power=float(r["power"]),
        rejections=int(r["rejections"]),
        n_sim=int(r["n_sim"]),
        mc_se=float(r["mc_se"]),
        ci_low=float(r["ci_low"]),
        ci_high=float(r["ci_high"]),
        test=str(r["test"]),
        alpha=float(r["alpha"]),
        n1=int(r["n1"]),
        n2=int(r["n2"]),
        model=str(r["model"]),
        effect=opt(r["effect"]),
        p1=opt(r["p1"]),
        p2=opt(r["p2"]),
        dropout=opt(r["dropout"]) if r["model"] == "cohort" else None,
        rate1=float(r["rate1"]),
        rate2=float(r["rate2"]),
        analysed1=float(r["analysed1"]),
        analysed2=float(r["analysed2"]),
        seed=int(r["seed"]),
    )
