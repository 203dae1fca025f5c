"""Benchmarks: each times the project against the obvious alternative in the same run.

    python bench/run.py            # every benchmark (bench/bench_*.py)
    python bench/run.py render     # one of them

Each ``bench/bench_NAME.py`` defines ``run() -> dict``: it prints its times and the ratios
that matter and returns them; this script appends them as a JSON line to
``bench/out/results.jsonl``. No benchmark asserts a time: the machine is shared and noisy.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in (ROOT / "bench").glob("bench_*.py"))


def main(argv: list[str]) -> int:
    chosen = argv or available()
    unknown = [c for c in chosen if c not in available()]
    if unknown:
        names = ", ".join(available())
        print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    results_dir = ROOT / "bench" / "out"
    results_dir.mkdir(exist_ok=True)
    for name in chosen:
        print(f"== {name}", flush=True)
        result = importlib.import_module(f"bench_{name}").run()
        line = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"), **result}
        with open(results_dir / "results.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
