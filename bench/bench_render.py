"""Benchmark: rendering the collection, cold and warm, and the site build.

- cold: every notebook executed (``force=True``) into an empty folder, then the site built;
- warm: the same call again with nothing changed: the cache reuses every execution and
  the site build is skipped (its sources are unchanged);
- site: a full Sphinx build of the same site from scratch (its stamp removed), alone.

``BENCH_ONLY="02 05"`` limits the run to some notebooks (a quick check of the bench).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def run() -> dict:
    """Time a cold render, a warm re-render and a site build; print them and the ratio."""
    from trialkit import run as runner
    from trialkit import site

    only = os.environ.get("BENCH_ONLY", "").split() or None
    paths = runner.notebooks(only)
    quiet = lambda line: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reports"
        t0 = time.perf_counter()
        outcomes = runner.render(only=only, out=out, progress=quiet, force=True)
        cold = time.perf_counter() - t0
        assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]

        t0 = time.perf_counter()
        again = runner.render(only=only, out=out, progress=quiet)
        warm = time.perf_counter() - t0
        executed = sum(not o.cached for o in again)

        shutil.rmtree(out / ".site" / "html", ignore_errors=True)
        shutil.rmtree(out / ".site" / "doctrees", ignore_errors=True)
        (out / ".site" / "built").unlink(missing_ok=True)
        site_s = site.build(out, progress=quiet)

    n = len(paths)
    print(f"render: {n} notebooks, {os.cpu_count()} cores")
    print(f"  cold render (execute all + site)      {cold:7.2f} s")
    print(f"  warm re-render (nothing changed)      {warm:7.2f} s  ({executed} executed)")
    print(f"  ratio cold / warm                     {cold / warm:7.1f} x")
    print(f"  site build alone (Sphinx, from zero)  {site_s:7.2f} s")
    return {
        "notebooks": n,
        "cold_s": cold,
        "warm_s": warm,
        "warm_executed": executed,
        "ratio": cold / warm,
        "site_build_s": site_s,
    }
