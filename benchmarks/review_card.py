"""Server-side time to produce a rating card, on a paper-size catalog.

Builds (once) an untrained `paper`-preset ProtoECGNet on the real PTB-XL subset (projection only:
every class present there gets its 5 / 18 / 7 prototypes), writes its catalog, creates a study
with 3 raters, and times what the rating page does per card: the rater's queue, the card
(blinded snapshot and own answers) and the three chart specs, cold (first view of a card) and
warm (charts cached, as the app caches them). Writes benchmarks/results/review_card.json.

    .venv/bin/python benchmarks/review_card.py [--cards 40]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from _runs import paper_size_catalog  # benchmarks/_runs.py (run as scripts)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PROTOECG_SHARED_DATA", REPO.parent / "shared" / "data"))


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--rating-s", type=float, default=1.0,
                        help="simulated time a rater spends on a card (default 1 s)")
    args = parser.parse_args()
    from protoecg.catalog.reader import read_catalog
    from protoecg.study import answers
    from protoecg.study.assignment import assign
    from protoecg.study.cards import cached_card_charts, card_charts, prefetch
    from protoecg.study.protocol import load_protocol
    from protoecg.study.store import ReviewStore

    catalog = read_catalog(paper_size_catalog(REPO / "data" / "bench" / "paper_untrained",
                                              SHARED / "ptbxl-subset"))
    protocol = load_protocol(REPO / "study_protocols" / "protoecgnet_clinician_review.toml")
    with tempfile.TemporaryDirectory() as tmp, ReviewStore(Path(tmp) / "bench.db") as store:
        start = time.perf_counter()
        study = store.create_study("bench", protocol, catalog)
        create_s = time.perf_counter() - start
        for name in ("r1", "r2", "r3"):
            store.add_reviewer(study, name, "rater")
        start = time.perf_counter()
        assign(store, study)
        assign_s = time.perf_counter() - start
        rater = store.reviewer(study, "r1")
        items = answers.queue(store, rater)
        picks = random.Random(0).sample(items, min(args.cards, len(items)))
        cold, warm, charts_only, forward = [], [], [], []
        cached = {}
        for item in picks:
            t0 = time.perf_counter()
            answers.queue(store, rater)
            card = answers.card(store, rater, item.prototype_id)
            t1 = time.perf_counter()
            cached[item.prototype_id] = card_charts(store, study, card["prototype"])
            t2 = time.perf_counter()
            cold.append(t2 - t0)
            charts_only.append(t2 - t1)
        for item in picks:
            t0 = time.perf_counter()
            answers.queue(store, rater)
            answers.card(store, rater, item.prototype_id)
            _ = cached[item.prototype_id]
            warm.append(time.perf_counter() - t0)
        # what a rater moving forward sees: the app builds card i+1 while card i is rated
        db_path = str(Path(tmp) / "bench.db")
        sequence = items[: min(args.cards, len(items) - 1) + 1]
        first = prefetch(db_path, "bench",
                         answers.card(store, rater, sequence[0].prototype_id)["prototype"])
        if first is not None:
            first.join()
        for here, after in zip(sequence, sequence[1:], strict=False):
            t0 = time.perf_counter()
            answers.queue(store, rater)
            card = answers.card(store, rater, here.prototype_id)
            cached_card_charts(db_path, "bench", card["prototype"])
            upcoming = answers.card(store, rater, after.prototype_id)["prototype"]
            forward.append(time.perf_counter() - t0)
            thread = prefetch(db_path, "bench", upcoming)
            time.sleep(args.rating_s)  # the rater reads and answers
            if thread is not None:
                thread.join()
        results = {
            "date": time.strftime("%Y-%m-%d"), "prototypes": len(catalog.prototypes),
            "queue_length": len(items), "cards_timed": len(picks),
            "create_study_s": round(create_s, 2), "assign_s": round(assign_s, 2),
            "card_cold": summary(cold), "card_warm": summary(warm),
            "card_forward_with_prefetch": summary(forward),
            "rating_seconds_simulated": args.rating_s,
            "charts_only": summary(charts_only),
            "database_mb": round((Path(tmp) / "bench.db").stat().st_size / 1e6, 1),
        }
    out = REPO / "benchmarks" / "results" / "review_card.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
