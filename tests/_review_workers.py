"""Worker processes for the concurrency tests (importable by spawned processes)."""

from protoecg.study.answers import queue, save_answers
from protoecg.study.ratings_csv import import_ratings
from protoecg.study.store import ReviewStore


def rate_queue(db_path: str, study_name: str, rater: str, n: int) -> list[tuple]:
    """Save answers to the first ``n`` items of a rater's queue; return what was acknowledged."""
    acknowledged = []
    with ReviewStore(db_path) as store:
        study = store.study(study_name)
        reviewer = store.reviewer(study, rater)
        for k, item in enumerate(queue(store, reviewer)[:n]):
            values = {"representativeness": 1 + k % 5, "clarity": 1 + (k * 3) % 5}
            save_answers(store, reviewer, item.prototype_id, values)
            acknowledged.append((rater, item.prototype_id, values))
    return acknowledged


def import_file(db_path: str, study_name: str, csv_path: str) -> None:
    with ReviewStore(db_path) as store:
        import_ratings(store, store.study(study_name), csv_path, create_reviewers=True)


def save_many(db_path: str, study_name: str, rater: str, n: int, report=None) -> dict:
    """``n`` saves cycling over the rater's queue, each changing the answers (a new revision),
    timed from call to return; ``report(line)`` gets each acknowledged save as it returns."""
    import json
    import secrets
    import time

    nonce = secrets.token_hex(4)  # every save's comment is unique: a lost save is visible
    latencies, acknowledged = [], {}
    with ReviewStore(db_path, "write") as store:
        study = store.study(study_name)
        reviewer = store.reviewer(study, rater)
        items = [item.prototype_id for item in queue(store, reviewer)]
        for k in range(n):
            pid = items[k % len(items)]
            values = {"representativeness": 1 + k % 5, "clarity": 1 + (k // 5) % 5,
                      "comment": f"{rater} save {k} {nonce}"}
            started = time.perf_counter()
            save_answers(store, reviewer, pid, values)
            latencies.append(time.perf_counter() - started)
            acknowledged[pid] = values
            if report is not None:
                report(json.dumps([rater, pid, values]))
    return {"latencies": latencies, "acknowledged": acknowledged}


def save_forever(db_path: str, study_name: str, rater: str) -> None:
    """Save until killed, printing each acknowledged save (flushed) to stdout."""
    import sys

    def report(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    save_many(db_path, study_name, rater, 10**9, report)
