"""Save latency with 20 raters saving at once, as each rater's process sees it (from the call to
its return), and whether every acknowledged answer is stored.

Two arms, alternated in one run (A B A B) because this machine is noisy: ``queue`` (writers
wait on the store's file lock, the default) and ``busy`` (``PROTOECG_NO_WRITER_QUEUE=1``:
SQLite's busy handler alone, as before). Each arm: a fresh database over a synthetic catalog,
20 rater processes x ``--saves`` saves each, each save a new revision of two ratings and a
comment.

    python benchmarks/save_latency.py [--saves 500] [--rounds 2]

Writes benchmarks/results/save_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from protoecg.catalog.reader import read_catalog  # noqa: E402
from protoecg.resources import protocol_path  # noqa: E402
from protoecg.study.answers import current_answers  # noqa: E402
from protoecg.study.assignment import assign  # noqa: E402
from protoecg.study.protocol import load_protocol  # noqa: E402
from protoecg.study.store import ReviewStore  # noqa: E402
from tests._synthetic_catalog import write_synthetic_catalog  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
RATERS = [f"rater{i:02d}" for i in range(20)]
WORKER = ("import json, sys; from tests._review_workers import save_many; "
          "r = save_many(sys.argv[1], 's', sys.argv[2], int(sys.argv[3])); "
          "print(json.dumps(r))")


def one_arm(arm: str, saves: int, folder: Path) -> dict:
    db = folder / f"{arm}-{time.time_ns()}.db"
    with ReviewStore(db) as store:
        study = store.create_study("s", load_protocol(protocol_path()),
                                   read_catalog(write_synthetic_catalog(folder / "catalog")))
        for name in RATERS:
            store.add_reviewer(study, name, "rater")
        assign(store, study, 3)
    env = {**os.environ}
    env.pop("PROTOECG_NO_WRITER_QUEUE", None)
    if arm == "busy":
        env["PROTOECG_NO_WRITER_QUEUE"] = "1"
    started = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(db), name, str(saves)],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
               for name in RATERS]
    latencies, acknowledged = [], 0
    missing = 0
    results = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode != 0:
            raise SystemExit(f"a rater process failed ({worker.returncode})")
        results.append(json.loads(out))
    wall = time.perf_counter() - started
    with ReviewStore(db, "read") as store:
        stored = current_answers(store, store.study("s"))
        integrity = store.db.execute("PRAGMA integrity_check").fetchone()[0]
    got = {(r.reviewer, r.prototype_id, r.question): r.answer for r in stored.itertuples()}
    for name, result in zip(RATERS, results, strict=True):
        latencies += result["latencies"]
        acknowledged += len(result["latencies"])
        for pid, values in result["acknowledged"].items():
            for question, value in values.items():
                if str(got.get((name, pid, question))) != str(value):
                    missing += 1
    ms = np.asarray(latencies) * 1000
    return {"arm": arm, "saves_acknowledged": acknowledged, "final_answers_missing": missing,
            "integrity_check": integrity, "wall_s": round(wall, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=500, help="saves per rater (default 500)")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds (default 2)")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for arm in ("queue", "busy"):
                runs.append(one_arm(arm, args.saves, Path(tmp)))
                print(json.dumps(runs[-1]))
    summary = {
        "what": f"20 rater processes x {args.saves} saves each, at once; arms alternated",
        "machine": f"{os.cpu_count()} CPU cores", "date": time.strftime("%Y-%m-%d"),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "save_latency.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
