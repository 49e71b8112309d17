"""Time of `protoecg report`'s statistics as the number of answers grows.

A study over the paper-size benchmark catalog (see review_card.py), 5 raters who each answer
every prototype on both questions (ratings simulated: a per-prototype true score plus rater
noise), summarised with the bootstrap CIs. Writes benchmarks/results/report_timing.json.

    .venv/bin/python benchmarks/report_timing.py [--resamples 1000] [--fractions 0.1 0.25 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 1.0])
    args = parser.parse_args()
    from benchmarks.review_card import ensure_catalog
    from protoecg.agreement.report import summarize_study, write_report
    from protoecg.catalog.reader import read_catalog
    from protoecg.study.protocol import load_protocol
    from protoecg.study.ratings_csv import import_ratings
    from protoecg.study.store import ReviewStore

    catalog = read_catalog(ensure_catalog(REPO / "runs" / "bench_paper_untrained"))
    protocol = load_protocol(REPO / "study_protocols" / "protoecgnet_clinician_review.toml")
    rng = np.random.default_rng(0)
    results = {"date": time.strftime("%Y-%m-%d"), "resamples": args.resamples, "runs": []}
    for fraction in args.fractions:
        with tempfile.TemporaryDirectory() as tmp, ReviewStore(Path(tmp) / "r.db") as store:
            study = store.create_study("bench", protocol, catalog)
            pids = list(catalog.prototypes["prototype_id"])
            pids = pids[: max(2, int(round(fraction * len(pids))))]
            truth = rng.integers(1, 6, size=len(pids))
            rows = []
            for j in range(5):
                noise = rng.integers(-1, 2, size=(len(pids), 2))
                for i, pid in enumerate(pids):
                    for q, question in enumerate(("representativeness", "clarity")):
                        rows.append((f"rater{j}", pid, question,
                                     str(int(np.clip(truth[i] + noise[i, q], 1, 5)))))
            path = Path(tmp) / "in.csv"
            pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question",
                                        "answer"]).to_csv(path, index=False)
            import_ratings(store, study, path, create_reviewers=True)
            start = time.perf_counter()
            summary = summarize_study(store, study, args.resamples)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            write_report(store, study, Path(tmp) / "report", args.resamples)
            report_seconds = time.perf_counter() - start
            alpha = summary["questions"]["representativeness"]["krippendorff_alpha_ordinal"]
            run = {"prototypes": len(pids), "raters": 5, "answers": len(rows),
                   "statistics_s": round(seconds, 2),
                   "full_report_s": round(report_seconds, 2),
                   "alpha_ordinal": alpha["value"]}
            results["runs"].append(run)
            print(run, flush=True)
    # the paper's size exactly: 1,037 prototypes x 5 raters x 2 questions, statistics only
    from protoecg.agreement.statistics import statistics_with_ci

    truth = rng.integers(1, 6, size=1037)
    start = time.perf_counter()
    for _ in range(2):
        matrix = np.clip(truth[:, None] + rng.integers(-1, 2, size=(1037, 5)), 1, 5)
        indices = rng.integers(0, 1037, size=(args.resamples, 1037))
        statistics_with_ci(matrix.astype(float), [1, 2, 3, 4, 5], indices)
    results["paper_size_statistics_s"] = round(time.perf_counter() - start, 2)
    print({"paper_size_statistics_s": results["paper_size_statistics_s"]})
    out = REPO / "benchmarks" / "results" / "report_timing.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
