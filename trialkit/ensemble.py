"""The ensemble: many reconstructions, to show what the published summary leaves open.

``ensemble(k, seed)`` builds ``k`` reconstructions as arrays, many members at once, each
with its own random stream (member ``i``: ``SeedSequence(seed, spawn_key=(i,))``), so a
member is the same whatever the batch size, the processes or dask; its rows are cached
per seed (``cache_dir()``). ``ensemble_member(i, seed)`` rebuilds one member's datasets
(``trialkit.reconstruct``, one data set at a time: the reference the tests compare with).
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy
from scipy import stats as sps

from trialkit.assumptions import ARMS, ASSUMPTIONS_PATH, _settings
from trialkit.compare import _ROW_KEYS, _analysis, _compare, _summary, _summary_many
from trialkit.reconstruct import (
    ReconstructionError,
    _bound_holds,
    _force_responders,
    _responders_needed,
    reconstruct,
)
from trialkit.trial_model import _KEY, _VERSION, _draw_core, _fact, _facts, _Rows, _share_message

__all__ = ["BATCH_SIZE", "ENV_CACHE", "cache_dir", "ensemble", "ensemble_member"]

#: Members reconstructed at once as arrays (memory about 10 kB x 45 x 45 per member).
BATCH_SIZE: Final[int] = 500
#: From this many members on, ``ensemble`` uses all cores by default.
PARALLEL_FROM: Final[int] = 5_000
#: Environment variable naming the cache folder ("" or "off": no cache).
ENV_CACHE: Final[str] = "TRIALKIT_CACHE_DIR"
#: Modules whose source the cached rows depend on (their hash is part of the key).
_CODE: Final[tuple[str, ...]] = (
    "assumptions",
    "trial_model",
    "reconstruct",
    "compare",
    "ensemble",
    "derive",
    "published",
)


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
    batch_size: int = BATCH_SIZE,
    vectorized: bool = True,
    scheduler: Any = None,
    cache: bool = True,
) -> pd.DataFrame:
    """``k`` reconstructions, each matching every published summary; one row per member.

    Member ``i`` is seeded with ``SeedSequence(seed).spawn(k)[i]`` (get its datasets with
    ``ensemble_member(i, seed)``). Columns: member, attempts (draws needed), all_matched
    (every targeted row of ``compare_with_published`` matches), then the quantities of
    ``summary``: what the published summary leaves open (component counts, correlations,
    mean and SD of the HbA1c change, p-values ...).

    How it runs. ``vectorized`` (default): members are reconstructed ``batch_size`` at a
    time as arrays (members x patients), each with its own random stream, and summarised
    without building their data frames (about 1.5 ms per member on one core);
    ``vectorized=False`` builds each member's datasets and recomputes the rows from them
    (about 50 ms per member; the reference the tests compare with: the rows are
    identical). Batches run in this process, or on ``jobs`` worker processes (default:
    one process below ``PARALLEL_FROM`` members), or on a dask.distributed cluster
    (``scheduler``: a ``distributed.Client`` or an address). A member's row does not
    depend on the batch size, the processes or dask.

    ``cache``: the rows are kept in ``cache_dir()`` (``$TRIALKIT_CACHE_DIR``, default
    ``~/.cache/trialkit``), keyed by the seed, ``reading``, ``params`` and a hash of the
    assumptions, the published facts and the code that makes the rows; a later call with
    the same key and ``k`` at most the stored number of members reads them instead of
    recomputing (notebooks 03 and 10 share one ensemble), and a larger ``k`` computes only
    the members missing. ``progress``: a tqdm progress bar.
    """
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    if reading != "mean":
        raise ValueError(_share_message())
    if jobs is not None and int(jobs) < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if (
        not isinstance(batch_size, int | np.integer)
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    _settings(params)  # fail early, in this process
    k = int(k)
    path = _cache_path(seed, reading, params, vectorized) if cache else None
    have = _cache_read(path)
    todo = range(0 if have is None else len(have), k)
    rows = [] if have is None else have.to_dict("records")
    if len(todo):
        rows += _compute(
            seed, todo, reading, params, jobs, progress, int(batch_size), vectorized, scheduler
        )
        out = pd.DataFrame(rows)
        _cache_write(path, out)
    else:
        out = pd.DataFrame(rows)
    out = out.iloc[:k].reset_index(drop=True)
    out.attrs["synthetic"] = True
    out.attrs["provenance"] = (
        f"SYNTHETIC: trialkit.cohort.ensemble(k={k}, seed={seed}, reading={reading!r}, "
        f"params={dict(params or {})!r}); trialkit {_VERSION}"
    )
    return out


def _compute(
    seed: int,
    members: range,
    reading: str,
    params: Mapping[str, Any] | None,
    jobs: int | None,
    progress: bool,
    batch_size: int,
    vectorized: bool,
    scheduler: Any,
) -> list[dict[str, Any]]:
    """The rows of ``members`` (in order), batch by batch, here or elsewhere."""
    from trialkit.studies import progress_wanted

    progress = progress_wanted(progress)
    if progress:
        from tqdm.auto import tqdm
    else:  # tqdm.auto warns in a kernel without ipywidgets, even when disabled
        from tqdm import tqdm

    work = _rows_many if vectorized else _member_rows
    if not vectorized:
        batch_size = min(batch_size, 50)
    if jobs is None:
        jobs = 1 if len(members) < PARALLEL_FROM else (os.cpu_count() or 1)
    jobs = int(jobs)
    if jobs > 1:  # at least two batches per process
        batch_size = max(1, min(batch_size, math.ceil(len(members) / (2 * jobs))))
    batches = [list(members[i : i + batch_size]) for i in range(0, len(members), batch_size)]
    p = dict(params or {})
    results: dict[int, list[dict[str, Any]]] = {}
    from trialkit.studies import _resolve_scheduler

    scheduler = _resolve_scheduler(scheduler)
    with tqdm(
        total=len(members), disable=not progress, desc="reconstructions", unit="member"
    ) as bar:
        if scheduler is not None:
            from distributed import Client, as_completed

            own = not isinstance(scheduler, Client)
            client = Client(scheduler, set_as_default=False) if own else scheduler
            try:
                futs = {
                    client.submit(work, seed, bt, reading, p, pure=False): j
                    for j, bt in enumerate(batches)
                }
                for fut in as_completed(futs):
                    results[futs[fut]] = fut.result()
                    bar.update(len(results[futs[fut]]))
            finally:
                if own:
                    client.close()
        elif jobs == 1 or len(batches) == 1:
            for j, bt in enumerate(batches):
                results[j] = work(seed, bt, reading, p)
                bar.update(len(bt))
        else:
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(work, seed, bt, reading, p): j for j, bt in enumerate(batches)
                }
                for fut in concurrent.futures.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(len(results[futures[fut]]))
    return [row for j in range(len(batches)) for row in results[j]]


# =========================================================================== cache
def cache_dir() -> Path | None:
    """Where ensembles are cached: ``$TRIALKIT_CACHE_DIR`` if set (empty or "off": no
    cache), else ``$XDG_CACHE_HOME/trialkit`` or ``~/.cache/trialkit``. Works the same for
    notebooks run by ``python -m trialkit run``, by plain papermill or in JupyterLab."""
    env = os.environ.get(ENV_CACHE)
    if env is not None:
        return None if env.strip() in ("", "off", "0") else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trialkit"


@functools.cache
def _code_hash() -> str:
    """A hash of what the ensemble rows depend on: the code, the assumptions, the facts."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    files = [root / f"{m}.py" for m in _CODE] + [ASSUMPTIONS_PATH]
    files += sorted((ASSUMPTIONS_PATH.parent / "published").glob("*.csv"))
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _cache_path(
    seed: int, reading: str, params: Mapping[str, Any] | None, vectorized: bool
) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = json.dumps(
        {
            "seed": int(seed),
            "reading": reading,
            "params": repr(sorted(dict(params or {}).items())),
            "vectorized": vectorized,
            "code": _code_hash(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return folder / f"ensemble-seed{int(seed)}-{digest}.csv"


def _cache_read(path: Path | None) -> pd.DataFrame | None:
    if path is None or not path.is_file():
        return None
    try:
        exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
        return pd.read_csv(path, **exact)  # floats read back bit for bit
    except (OSError, ValueError, pd.errors.ParserError):  # pragma: no cover - a broken file
        return None


def _cache_write(path: Path | None, rows: pd.DataFrame) -> None:
    """Write atomically (a notebook running at the same time reads old or new, never half)."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        rows.to_csv(tmp, index=False, float_format="%.17g", lineterminator="\n")
        os.replace(tmp, path)
    except OSError:  # pragma: no cover - a read-only cache is no reason to fail
        pass


# =========================================================================== many at once
# The reconstruction of ``trialkit.reconstruct``, step by step, for a batch of members at
# once: arrays of shape (members, patients), one random generator per member. Every step
# does for each member exactly what the one-member code does, with the same draws from
# that member's generator in the same order, so a member's data do not depend on the
# batch (tests check it against ``reconstruct``). Loops run over repair *steps*, with all
# members still repairing in one array operation; only the random draws are per member.
def _nth_true(mask: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Column of the ``j[r]``-th (0-based) True in each row ``r`` of a 2-D mask."""
    return np.argmax(np.cumsum(mask, axis=1) > j[:, None], axis=1)


def _draw_each(rngs: Sequence[np.random.Generator], counts: np.ndarray) -> np.ndarray:
    """``rngs[r].integers(counts[r])`` for every row: each member's own next draw."""
    return np.array([g.integers(int(c)) for g, c in zip(rngs, counts, strict=True)], dtype=np.int64)


def _repair_moments_many(
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    mean: float,
    sd: float | None,
    tol_mean: float,
    tol_sd: float,
    rngs: Sequence[np.random.Generator],
    max_steps: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """``reconstruct._repair_moments`` for every row of ``x`` (m, n) at once.

    Returns (x, ok): the repaired rows and which rows succeeded (where not ok, the row is
    what the one-member code had when it gave up; it is discarded).
    """
    x = x.astype(np.int64).copy()
    m, n = x.shape
    s_lo = math.ceil((mean - tol_mean) * n - 1e-9)
    s_hi = math.floor((mean + tol_mean) * n + 1e-9)
    ok = np.zeros(m, dtype=bool)
    active = ~((s_lo > s_hi) | (s_lo > hi.sum(axis=1)) | (s_hi < lo.sum(axis=1)))
    if sd is not None:
        ss_lo, ss_hi = (n - 1) * (sd - tol_sd) ** 2, (n - 1) * (sd + tol_sd) ** 2
        ss_mid = 0.5 * (ss_lo + ss_hi)
    eye = np.eye(n, dtype=bool)
    for _ in range(max_steps):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        xa = x[rows]
        total = xa.sum(axis=1)
        sq = (xa * xa).sum(axis=1)
        # --- members whose sum is outside the window: one value moves by 1
        off = (total < s_lo) | (total > s_hi)
        if off.any():
            r = rows[off]
            xr, tr = xa[off], total[off]
            d = np.where(tr < s_lo, 1, -1)[:, None]
            cand = (xr + d >= lo[r]) & (xr + d <= hi[r])
            none = ~cand.any(axis=1)
            active[r[none]] = False
            keep = ~none
            r, xr, tr, sqr, d, cand = (
                r[keep],
                xr[keep],
                tr[keep],
                sq[off][keep],
                d[keep],
                cand[keep],
            )
            if len(r):
                if sd is None:
                    pick = cand
                else:
                    t2 = (tr + d[:, 0])[:, None]
                    ss2 = sqr[:, None] + 2 * d * xr + 1 - t2 * t2 / n
                    dist = np.maximum(ss_lo - ss2, 0) + np.maximum(ss2 - ss_hi, 0)
                    dist = np.where(cand, dist, np.inf)
                    pick = cand & (dist <= dist.min(axis=1, keepdims=True) + 1e-9)
                j = _draw_each([rngs[i] for i in r], pick.sum(axis=1))
                col = _nth_true(pick, j)
                x[r, col] += d[:, 0]
        # --- members whose sum is inside: done, or (SD) a pair moves, one up, one down
        inn = ~off
        if not inn.any():
            continue
        r = rows[inn]
        if sd is None:
            ok[r], active[r] = True, False
            continue
        ss = sq[inn] - total[inn] * total[inn] / n
        done = (ss_lo <= ss) & (ss <= ss_hi)
        ok[r[done]], active[r[done]] = True, False
        r, ss = r[~done], ss[~done]
        if len(r) == 0:
            continue
        xr = x[r]
        up = xr + 1 <= hi[r]
        dn = xr - 1 >= lo[r]
        valid = up[:, :, None] & dn[:, None, :] & ~eye
        new = ss[:, None, None] + 2.0 * (xr[:, :, None] - xr[:, None, :]) + 2.0
        inside = (valid & (new >= ss_lo) & (new <= ss_hi)).reshape(len(r), n * n)
        has = inside.any(axis=1)
        dist = np.where(valid, np.abs(new - ss_mid), np.inf).reshape(len(r), n * n)
        dmin = dist.min(axis=1)
        stuck = ~has & (dmin >= np.abs(ss - ss_mid))
        active[r[stuck]] = False
        go = ~stuck
        r, has, inside, dist, dmin = r[go], has[go], inside[go], dist[go], dmin[go]
        if len(r) == 0:
            continue
        pick = np.where(has[:, None], inside, dist <= dmin[:, None] + 1e-9)
        j = _draw_each([rngs[i] for i in r], pick.sum(axis=1))
        flat = _nth_true(pick, j)
        x[r, flat // n] += 1
        x[r, flat % n] -= 1
    return x, ok


def _repair_ratio_mean_many(
    w: np.ndarray,
    base: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    target: float,
    tol: float,
    rngs: Sequence[np.random.Generator],
    max_steps: int = 5_000,
) -> tuple[np.ndarray, np.ndarray]:
    """``reconstruct._repair_ratio_mean`` for every row of ``w`` (m, n) at once."""
    w = w.astype(np.int64).copy()
    m, n = w.shape
    unit = 100.0 / base
    ok = np.zeros(m, dtype=bool)
    active = np.ones(m, dtype=bool)
    eye = np.eye(n, dtype=bool)
    for _ in range(max_steps):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        wr, br, ur = w[rows], base[rows], unit[rows]
        cur = np.mean(100.0 * (wr - br) / br, axis=1)
        done = np.abs(cur - target) <= tol
        ok[rows[done]], active[rows[done]] = True, False
        go = ~done
        rows, wr, ur, cur = rows[go], wr[go], ur[go], cur[go]
        if len(rows) == 0:
            break
        need = (target - cur) * n
        lo_win, hi_win = (target - tol - cur) * n, (target + tol - cur) * n
        up = wr + 1 <= hi[rows]
        dn = wr - 1 >= lo[rows]
        pair = ur[:, :, None] - ur[:, None, :]
        okp = up[:, :, None] & dn[:, None, :] & ~eye
        k = len(rows)
        deltas = np.concatenate([ur, -ur, pair.reshape(k, n * n)], axis=1)
        valid = np.concatenate([up, dn, okp.reshape(k, n * n)], axis=1)
        inside = valid & (deltas >= lo_win[:, None]) & (deltas <= hi_win[:, None])
        has = inside.any(axis=1)
        dist = np.where(valid, np.abs(deltas - need[:, None]), np.inf)
        dmin = dist.min(axis=1)
        stuck = ~has & (~np.isfinite(dmin) | (dmin >= np.abs(need)))
        active[rows[stuck]] = False
        go = ~stuck
        rows, has, inside, dist = rows[go], has[go], inside[go], dist[go]
        if len(rows) == 0:
            continue
        mv = np.argmin(dist, axis=1)
        if has.any():
            j = _draw_each([rngs[i] for i in rows[has]], inside[has].sum(axis=1))
            mv[has] = _nth_true(inside[has], j)
        single_up, single_dn = mv < n, (mv >= n) & (mv < 2 * n)
        pair_i = mv >= 2 * n
        w[rows[single_up], mv[single_up]] += 1
        w[rows[single_dn], mv[single_dn] - n] -= 1
        pf = mv[pair_i] - 2 * n
        w[rows[pair_i], pf // n] += 1
        w[rows[pair_i], pf % n] -= 1
    return w, ok


def _std_rows(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """``reconstruct._standardize`` for every row."""
    return mean + sd * (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, ddof=1, keepdims=True)


def _repair_arm_many(
    rngs: Sequence[np.random.Generator],
    b: dict[str, np.ndarray],
    idx: np.ndarray,
    arm: str,
    s: Mapping[str, Any],
) -> list[str | None]:
    """``reconstruct._repair_arm`` for every member (row) of the batch ``b`` at once.

    ``idx`` (members, analysed): the analysed patients of ``arm`` in each member. The
    repaired values are written into ``b`` for the members that succeed; returns, per
    member, None or what could not be repaired (the member's draw is then discarded).
    """
    f = _facts()
    t = f["arms"][arm]
    dec = t["decimals"]
    margin = s["match_margin"]

    def tol(q: str, scale: float = 1.0) -> float:
        return margin * 10.0 ** -dec[q] * scale

    def take(key: str) -> np.ndarray:
        return np.take_along_axis(b[key], idx, axis=1)

    hq = 10 ** s["lab_decimals"]["HBA1C"]
    gq = 10 ** s["lab_decimals"]["GIR"]
    m, na = idx.shape
    why: list[str | None] = [None] * m
    alive = np.arange(m)

    def step(ok: np.ndarray, what: str) -> np.ndarray:
        """Keep the members whose step succeeded; returns the positions (in ``alive``)."""
        nonlocal alive
        for r in alive[~ok]:
            why[r] = f"{arm}: {what}"
        alive = alive[ok]
        return ok

    def g(r: np.ndarray) -> list[np.random.Generator]:
        return [rngs[i] for i in r]

    elig = f["eligibility"]["hba1c"]
    lo_b = np.full((m, na), round(hq * elig[0]))
    hi_b = np.full((m, na), round(hq * elig[1]))
    bb = _std_rows(take("hba1c_base"), t["hba1c_base_mean"], t["hba1c_base_sd"])
    bt, ok = _repair_moments_many(
        np.clip(np.round(hq * bb), lo_b, hi_b),
        lo_b,
        hi_b,
        hq * t["hba1c_base_mean"],
        hq * t["hba1c_base_sd"],
        tol("hba1c_base_mean", hq),
        tol("hba1c_base_sd", hq),
        g(alive),
    )
    keep = step(ok, "HbA1c baseline mean and SD")
    bt = bt[keep]

    a = alive
    y = _std_rows(take("hba1c_w48_cont")[a], t["hba1c_end_mean"], t["hba1c_end_sd"])
    prange = s["insulin_pchg_range"]
    pc = take("pchg_cont")[a]
    p = np.clip(pc - pc.mean(axis=1, keepdims=True) - t["insulin_reduction"], *prange)
    yrange = s["hba1c_range"]["week48"]
    y = np.clip(y, *yrange)
    h_cut = f["hba1c_threshold"] - 0.5 / hq
    i_cut = -f["insulin_threshold"]
    need = _responders_needed(arm, na)
    for row, r in enumerate(a):
        y[row], p[row] = _force_responders(
            rngs[r],
            y[row],
            p[row],
            need,
            (t["hba1c_end_sd"], s["insulin_pchg_sd"][arm]),
            (h_cut, i_cut),
            (yrange[0], prange[0]),
        )
    met_y, met_p = y < h_cut, p < i_cut
    lo_y = np.where(met_y, round(hq * yrange[0]), round(hq * f["hba1c_threshold"]))
    hi_y = np.where(met_y, round(hq * f["hba1c_threshold"]) - 1, round(hq * yrange[1]))
    yt, ok = _repair_moments_many(
        np.clip(np.round(hq * y), lo_y, hi_y),
        lo_y,
        hi_y,
        hq * t["hba1c_end_mean"],
        hq * t["hba1c_end_sd"],
        tol("hba1c_end_mean", hq),
        tol("hba1c_end_sd", hq),
        g(a),
    )
    keep = step(ok, "HbA1c week-48 mean and SD")
    bt, yt, p, met_p = bt[keep], yt[keep], p[keep], met_p[keep]

    a = alive
    base = take("ins_base")[a]
    lo_all = np.maximum(np.ceil(base * (1 + prange[0] / 100)), 0)
    hi_all = np.floor(base * (1 + prange[1] / 100))
    lo_w = np.where(met_p, lo_all, base // 2 + 1)
    hi_w = np.where(met_p, (base + 1) // 2 - 1, hi_all)
    w = np.clip(np.round(base * (1 + p / 100)), lo_w, hi_w)
    w, ok = _repair_ratio_mean_many(
        w, base, lo_w, hi_w, -t["insulin_reduction"], tol("insulin_reduction"), g(a)
    )
    keep = step(ok, "mean insulin reduction")
    bt, yt, w = bt[keep], yt[keep], w[keep]

    a = alive
    gb = s["gir_baseline"]
    lo_g = np.full((len(a), na), round(gq * gb["min"]))
    hi_g = np.full((len(a), na), round(gq * gb["max"]))
    g0 = take("gir_base")[a]
    g0 = g0 - g0.mean(axis=1, keepdims=True) + t["gir_base"]
    g0t, ok = _repair_moments_many(
        np.clip(np.round(gq * g0), lo_g, hi_g),
        lo_g,
        hi_g,
        gq * t["gir_base"],
        None,
        tol("gir_base", gq),
        0.0,
        g(a),
    )
    keep = step(ok, "GIR baseline mean")
    bt, yt, w, g0t = bt[keep], yt[keep], w[keep], g0t[keep]
    lo_g, hi_g = lo_g[keep], hi_g[keep]

    a = alive
    g48 = g0t / gq + take("gir_change")[a]
    g48 = g48 - g48.mean(axis=1, keepdims=True) + t["gir_end"]
    g48t, ok = _repair_moments_many(
        np.clip(np.round(gq * g48), lo_g, hi_g),
        lo_g,
        hi_g,
        gq * t["gir_end"],
        None,
        tol("gir_end", gq),
        0.0,
        g(a),
    )
    keep = step(ok, "GIR week-48 mean")
    bt, yt, w, g0t, g48t = bt[keep], yt[keep], w[keep], g0t[keep], g48t[keep]

    a = alive
    ia = idx[a]
    for key, v in (
        ("hba1c_base", bt / hq),
        ("hba1c_w48", yt / hq),
        ("ins_w48", w),
        ("gir_base", g0t / gq),
        ("gir_w48", g48t / gq),
    ):
        sub = b[key][a]
        np.put_along_axis(sub, ia, v.astype(sub.dtype), axis=1)
        b[key][a] = sub
    return why


def _member_rng(seed: int, i: int) -> np.random.Generator:
    """Member ``i``'s generator: ``SeedSequence(seed).spawn(k)[i]`` for any k > i."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(i),)))


def _p_bounds_hold_many(b: Mapping[str, np.ndarray], n_uc: int, n_pl: int) -> np.ndarray:
    """``reconstruct._p_bounds_failing(...) == []`` for every member (row) of ``b``."""
    m = len(b["drop"])
    analysed = ~b["drop"]
    uc, pl = analysed & b["ucmsc"], analysed & ~b["ucmsc"]
    pchg = 100.0 * (b["ins_w48"] - b["ins_base"]) / b["ins_base"]
    dg = b["gir_w48"] - b["gir_base"]

    def arm(x: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
        return x[mask].reshape(m, n)

    checks = (
        (
            "insulin_reduction_p",
            sps.ttest_ind(arm(pchg, uc, n_uc), arm(pchg, pl, n_pl), equal_var=False, axis=1),
        ),
        ("gir_change_ucmsc_p", sps.ttest_1samp(arm(dg, uc, n_uc), 0.0, axis=1)),
        ("gir_change_placebo_p", sps.ttest_1samp(arm(dg, pl, n_pl), 0.0, axis=1)),
        ("gir_p", sps.ttest_ind(arm(dg, uc, n_uc), arm(dg, pl, n_pl), equal_var=False, axis=1)),
    )
    hold = np.ones(m, dtype=bool)
    for fid, res in checks:
        hold &= np.array([_bound_holds(fid, float(p)) for p in np.atleast_1d(res.pvalue)])
    return hold


def _reconstruct_many(
    seed: int, members: Sequence[int], s: Mapping[str, Any], max_attempts: int = 500
) -> tuple[dict[str, np.ndarray], np.ndarray, list[np.random.Generator]]:
    """``reconstruct(SeedSequence(seed, spawn_key=(i,)))`` up to its step 5, for every
    member ``i`` at once: rounds of (draw a trial for every member still without a match;
    choose dropouts and repair, batched; check the p-value bounds, batched).

    Returns the matched draws as arrays (members, patients) in ``_draw_core``'s layout
    (plus ``drop``), the attempts per member, and each member's generator, positioned
    where ``reconstruct`` goes on to draw the visits and adverse events.
    """
    f = _facts()
    n_rand = (f["arms"]["UC-MSC"]["randomized"], f["arms"]["Placebo"]["randomized"])
    n_anal = s["reconstruct_analysed"]
    n = sum(n_rand)
    rngs = [_member_rng(seed, i) for i in members]
    m = len(rngs)
    attempts = np.zeros(m, dtype=np.int64)
    result: dict[str, np.ndarray] = {}
    pending = np.arange(m)
    failures: collections.Counter[str] = collections.Counter()
    while len(pending):
        if attempts[pending].max() >= max_attempts:
            common = "; ".join(f"{why}: {k} draws" for why, k in failures.most_common(4))
            raise ReconstructionError(
                f"no draw matched in {max_attempts} attempts ({common}); the assumptions "
                "(params) may make the published numbers unlikely: see data/assumptions.yaml"
            )
        attempts[pending] += 1
        batch = [rngs[i] for i in pending]
        b = _draw_core(_Rows(batch, n), n_rand, len(pending), s, 1.0, 0.0)
        b = {k: np.array(v) for k, v in b.items() if k not in ("reason", "reason_if_drop")}
        drop = np.zeros((len(pending), n), dtype=bool)
        why: list[str | None] = [None] * len(pending)
        for arm in ARMS:
            cols = np.flatnonzero(b["ucmsc"][0] == (arm == ARMS[0]))
            k = len(cols) - n_anal[arm]
            if k < 0:
                raise ReconstructionError(f"{arm}: {n_anal[arm]} analysed of {len(cols)}")
            for r, g in enumerate(batch):
                drop[r, g.choice(cols, size=k, replace=False)] = True
            todo = np.array([r for r in range(len(batch)) if why[r] is None], dtype=np.int64)
            if len(todo) == 0:
                continue
            idx = np.array([np.setdiff1d(cols, np.flatnonzero(drop[r])) for r in todo])
            sub = {key: v[todo] for key, v in b.items()}
            res = _repair_arm_many([batch[r] for r in todo], sub, idx, arm, s)
            for key in ("hba1c_base", "hba1c_w48", "ins_w48", "gir_base", "gir_w48"):
                b[key][todo] = sub[key]
            for r, w in zip(todo, res, strict=True):
                why[r] = None if w is None else f"could not repair {w}"
        b["drop"] = drop
        repaired = np.array([w is None for w in why])
        good = repaired.copy()
        if repaired.any():
            sub = {key: v[repaired] for key, v in b.items()}
            good[repaired] = _p_bounds_hold_many(sub, n_anal[ARMS[0]], n_anal[ARMS[1]])
        failures.update(w for w in why if w is not None)
        failures.update(["p-value bound"] * int((repaired & ~good).sum()))
        for key, v in b.items():
            if key not in result:
                result[key] = np.empty((m, *v.shape[1:]), dtype=v.dtype)
            result[key][pending[good]] = v[good]
        pending = pending[~good]
    return result, attempts, rngs


def _analysis_many(
    b: Mapping[str, np.ndarray], rngs: Sequence[np.random.Generator]
) -> dict[str, dict[str, np.ndarray]]:
    """``compare._analysis`` of the datasets every member would get, from the arrays:
    per arm, the analysed patients' values (members, patients) in the order of their
    subject ids, which come from each member's next draw (``trial_model._allocate``)."""
    f = _facts()
    m, n = b["drop"].shape
    order = np.array([g.permutation(n) for g in rngs])  # subject id - 1 of each patient
    by_id = np.argsort(order, axis=1)
    pchg = 100 * (b["ins_w48"].astype(float) - b["ins_base"]) / b["ins_base"]
    values = {
        "hba1c_base": b["hba1c_base"],
        "hba1c_w48": b["hba1c_w48"],
        "pchg": pchg,
        "gir_base": b["gir_base"],
        "gir_w48": b["gir_w48"],
    }
    values["met_hba1c"] = b["hba1c_w48"] < f["hba1c_threshold"]
    values["met_insulin"] = pchg <= -f["insulin_threshold"]
    out: dict[str, dict[str, np.ndarray]] = {}
    for arm in ARMS:
        mask = ~b["drop"] & (b["ucmsc"] == (arm == ARMS[0]))
        sel = np.take_along_axis(mask, by_id, axis=1)
        na = int(sel[0].sum())
        out[arm] = {
            key: np.take_along_axis(v, by_id, axis=1)[sel].reshape(m, na)
            for key, v in values.items()
        }
        out[arm]["randomized"] = np.full(m, int((b["ucmsc"][0] == (arm == ARMS[0])).sum()))
        out[arm]["analysed"] = np.full(m, na)
    return out


def _printed(fid: str, x: np.ndarray) -> np.ndarray:
    """Whether each value prints as the published number (``compare._compare``'s rule)."""
    r = _fact(fid)
    d = int(r["decimals"])
    return np.array([f"{v:.{d}f}" == r["printed"] for v in np.atleast_1d(x)], dtype=bool)


def _bounds(fid: str, p: np.ndarray) -> np.ndarray:
    return np.array([_bound_holds(fid, float(v)) for v in np.atleast_1d(p)], dtype=bool)


def _targets_matched_many(
    a: Mapping[str, Mapping[str, np.ndarray]], s: Mapping[str, Any]
) -> np.ndarray:
    """Per member, whether every row of ``compare_with_published`` with target True
    matches, computed from the arrays of ``_analysis_many`` (same formulas)."""
    from trialkit.compare import _p_one_sample, _p_two_sample

    n_impl = s["reconstruct_analysed"]
    m = len(a[ARMS[0]]["analysed"])
    ok = np.ones(m, dtype=bool)
    resp = {}
    for arm, k in _KEY.items():
        x = a[arm]
        resp[arm] = (x["met_hba1c"] & x["met_insulin"]).sum(axis=1)
        ok &= _printed(f"randomized_{k}", x["randomized"].astype(float))
        ok &= x["analysed"] == n_impl[arm]
        ok &= _printed(f"primary_{k}", 100 * resp[arm] / x["analysed"])
    uc, pl = a["UC-MSC"], a["Placebo"]
    p1, p2 = resp["UC-MSC"] / uc["analysed"], resp["Placebo"] / pl["analysed"]
    se = np.sqrt(p1 * (1 - p1) / uc["analysed"] + p2 * (1 - p2) / pl["analysed"])
    z = sps.norm.ppf(0.975)
    ok &= _printed("primary_ci_low", 100 * (p1 - p2 - z * se))
    ok &= _printed("primary_ci_high", 100 * (p1 - p2 + z * se))
    fisher = {}
    for key in set(
        zip(resp["UC-MSC"], uc["analysed"], resp["Placebo"], pl["analysed"], strict=True)
    ):
        r1, n1, r2, n2 = (int(v) for v in key)
        p = float(sps.fisher_exact([[r1, n1 - r1], [r2, n2 - r2]]).pvalue)
        fisher[key] = _bound_holds("primary_p", p)
    ok &= np.array(
        [
            fisher[key]
            for key in zip(
                resp["UC-MSC"], uc["analysed"], resp["Placebo"], pl["analysed"], strict=True
            )
        ]
    )

    def every(x: np.ndarray) -> np.ndarray:
        return ~np.isnan(x)

    for arm, k in _KEY.items():
        x = a[arm]
        ok &= _printed(f"insulin_reduction_{k}", -x["pchg"].mean(axis=1))
        for tp, col in (("baseline", "hba1c_base"), ("end", "hba1c_w48")):
            ok &= _printed(f"hba1c_{tp}_{k}_mean", x[col].mean(axis=1))
            ok &= _printed(f"hba1c_{tp}_{k}_sd", x[col].std(axis=1, ddof=1))
        ok &= _printed(f"gir_baseline_{k}", x["gir_base"].mean(axis=1))
        ok &= _printed(f"gir_end_{k}", x["gir_w48"].mean(axis=1))
    ok &= _bounds(
        "insulin_reduction_p",
        _p_two_sample(uc["pchg"], every(uc["pchg"]), pl["pchg"], every(pl["pchg"]), welch=True),
    )
    dec = uc["hba1c_base"] - uc["hba1c_w48"]
    ok &= _bounds("hba1c_decrease_ucmsc_p", _p_one_sample(dec, every(dec)))
    dg = {arm: a[arm]["gir_w48"] - a[arm]["gir_base"] for arm in ARMS}
    ok &= _bounds("gir_change_ucmsc_p", _p_one_sample(dg["UC-MSC"], every(dg["UC-MSC"])))
    ok &= _bounds("gir_change_placebo_p", _p_one_sample(dg["Placebo"], every(dg["Placebo"])))
    ok &= _bounds(
        "gir_p",
        _p_two_sample(
            dg["UC-MSC"], every(dg["UC-MSC"]), dg["Placebo"], every(dg["Placebo"]), welch=True
        ),
    )
    return ok


def _major_events_possible(s: Mapping[str, Any]) -> bool:
    """Whether the assumed adverse events can include a related serious or severe event
    under UC-MSC (the ``safety`` row of ``compare_with_published``); with the assumptions
    file they cannot (related events are never serious, never severe)."""
    return any(
        ae["related"] and ae["UC-MSC"] > 0 and (ae["serious"] or ae["severity"][2] > 0)
        for ae in s["adverse_events"]
    )


def _rows_many(
    seed: int, members: Sequence[int], reading: str, params: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The ensemble rows of ``members``, built as arrays many members at once; identical
    to ``_member_rows`` (one member at a time, through the datasets)."""
    del reading  # only "mean" exists (checked by ensemble)
    s = _settings(params)
    if _major_events_possible(s):  # the safety row needs each member's adverse events
        return _member_rows(seed, members, "mean", params)
    b, attempts, rngs = _reconstruct_many(seed, members, s)
    a = _analysis_many(b, rngs)
    matched = _targets_matched_many(a, s)
    summ = _summary_many({arm: {k: a[arm][k] for k in _ROW_KEYS} for arm in ARMS})
    cols = {k: (v.astype(np.int64) if v.dtype.kind in "iub" else v) for k, v in summ.items()}
    return [
        {
            "member": int(i),
            "attempts": int(attempts[r]),
            "all_matched": bool(matched[r]),
            **{k: (int(v[r]) if v.dtype.kind == "i" else float(v[r])) for k, v in cols.items()},
        }
        for r, i in enumerate(members)
    ]
