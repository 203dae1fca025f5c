"""The ensemble: many reconstructions, to show what the published summary leaves open."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trialkit.assumptions import _settings
from trialkit.compare import _analysis, _compare, _summary
from trialkit.reconstruct import reconstruct
from trialkit.trial_model import _VERSION, _share_message

__all__ = ["ensemble", "ensemble_member"]


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
