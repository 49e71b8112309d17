"""Data-layer timings: PTB-XL cache build vs cached load, LUDB load, synthetic generation.

Run by hand (``.venv/bin/python benchmarks/bench_data.py``); writes
``benchmarks/results/data.json``. Needs ../shared/data (or $PROTOECG_SHARED_DATA).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

from protoecg.data.ludb import load_ludb
from protoecg.data.ptbxl import load_ptbxl
from protoecg.data.synthetic import make_synthetic

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PROTOECG_SHARED_DATA", REPO.parent / "shared" / "data"))


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    results: dict = {"machine": f"{platform.processor() or platform.machine()}, "
                     f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    subset = SHARED / "ptbxl-subset"
    with tempfile.TemporaryDirectory() as cache:
        build = timed(lambda: load_ptbxl(subset, 100, cache_dir=cache, progress=False))
        cached = timed(lambda: load_ptbxl(subset, 100, cache_dir=cache, progress=False), 3)
        single = timed(lambda: load_ptbxl(subset, 100, use_cache=False, progress=False,
                                          workers=1))
    n = 1819
    results["ptbxl_subset_100hz"] = {
        "records": n,
        "cache_build_s": round(build, 2),
        "cached_load_s": round(cached, 3),
        "uncached_one_worker_s": round(single, 2),
        "records_per_s_build": round(n / build, 1),
        "estimated_full_ptbxl_build_s": round(21799 / (n / build), 0),
    }
    results["ludb_load_s"] = {fs: round(timed(lambda fs=fs: load_ludb(SHARED / "ludb", fs)), 2)
                              for fs in (100, 500)}
    results["synthetic_200_records_s"] = round(timed(lambda: make_synthetic(200, 100), 3), 3)
    out = REPO / "benchmarks" / "results" / "data.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
