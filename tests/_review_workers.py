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
