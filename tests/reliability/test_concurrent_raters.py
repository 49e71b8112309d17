"""20 raters saving at once, and writers killed with SIGKILL at random points (issue 12): every
acknowledged answer is present, nothing is written twice, the database stays intact. The
figures of the full-size runs (20 x 500 saves; latency percentiles) come from
``benchmarks/save_latency.py``; here the sizes are bounded for CI."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.resources import protocol_path
from protoecg.study.answers import current_answers
from protoecg.study.assignment import assign
from protoecg.study.protocol import load_protocol
from protoecg.study.schema import current_version
from protoecg.study.store import ReviewStore
from tests._synthetic_catalog import write_synthetic_catalog
from tests.conftest import REPO

pytestmark = pytest.mark.slow
RATERS = [f"rater{i:02d}" for i in range(20)]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "review.db"
    with ReviewStore(path) as store:
        study = store.create_study("s", load_protocol(protocol_path()), read_catalog(
            write_synthetic_catalog(tmp_path / "catalog")))
        for name in RATERS:
            store.add_reviewer(study, name, "rater")
        assign(store, study, 3)
    return path


def current(db) -> dict:
    with ReviewStore(db, "read") as store:
        answers = current_answers(store, store.study("s"))
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return {(r.reviewer, r.prototype_id, r.question): r.answer for r in answers.itertuples()}


def test_twenty_raters_saving_at_once_lose_nothing(db):
    saves = 60
    code = ("import json, sys; from tests._review_workers import save_many; "
            "r = save_many(sys.argv[1], 's', sys.argv[2], int(sys.argv[3])); "
            "print(json.dumps(r['acknowledged']))")
    workers = [subprocess.Popen([sys.executable, "-c", code, str(db), name, str(saves)],
                                cwd=REPO, stdout=subprocess.PIPE, text=True)
               for name in RATERS]
    got = {}
    for name, worker in zip(RATERS, workers, strict=True):
        out, _ = worker.communicate(timeout=600)
        assert worker.returncode == 0
        got[name] = json.loads(out)
    stored = current(db)
    for name, acknowledged in got.items():
        for pid, values in acknowledged.items():
            for question, value in values.items():
                answer = stored[(name, pid, question)]
                assert (answer if question == "comment" else int(answer)) == value
    with ReviewStore(db, "read") as store:  # one revision per changed answer, none twice
        assert store.db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM ratings GROUP BY "
                                "reviewer_id, prototype_pk, question, revision HAVING "
                                "COUNT(*) > 1)").fetchone()[0] == 0


def _old_database(path):
    """A schema-1 database (before rounds and code lookups) to migrate."""
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    from protoecg.study.schema import m001_initial

    old = Migrations("protoecg-review")
    old()(m001_initial)
    old.apply(Database(path))


def test_fifty_writers_killed_at_random_points(db, tmp_path):
    """SIGKILL at a random moment of saving, importing, assigning and migrating: after each,
    the database is intact and every save acknowledged before the kill is there."""
    rng = random.Random(7)
    acknowledged: dict = {}
    pids = [row["prototype_id"] for row in ReviewStore(db, "read").db["prototypes"].rows]
    csv_path = tmp_path / "big.csv"
    pd.DataFrame([(f"paper{i:03d}", pid, "clarity", str(1 + i % 5)) for i in range(60)
                  for pid in pids], columns=["reviewer", "prototype_id", "question",
                                            "answer"]).to_csv(csv_path, index=False)
    kinds = {
        "save": "from tests._review_workers import save_forever; "
                "save_forever({db!r}, 's', {rater!r})",
        "import": "from tests._review_workers import import_file; "
                  "import_file({db!r}, 's', {csv!r})",
        "assign": "from protoecg.study.store import ReviewStore; "
                  "from protoecg.study.assignment import assign; "
                  "s = ReviewStore({db!r}, 'write'); [assign(s, s.study('s'), k % 3 + 2) "
                  "for k in range(10**6)]",
        "migrate": "from protoecg.study.store import ReviewStore; ReviewStore({old!r}, 'write')",
    }
    kills, finished, round_ = 0, 0, 0
    while kills < 50:  # a writer that finished before its kill is checked too, not counted
        assert round_ < 120, f"only {kills} writers could be killed in {round_} rounds"
        kind = ["save", "save", "import", "assign", "migrate"][round_ % 5]
        round_ += 1
        old = tmp_path / f"old{round_}.db"
        if kind == "migrate":
            _old_database(old)
        code = kinds[kind].format(db=str(db), rater=rng.choice(RATERS), csv=str(csv_path),
                                  old=str(old))
        writer = subprocess.Popen([sys.executable, "-c", code], cwd=REPO,
                                  stdout=subprocess.PIPE, text=True)
        # after the interpreter starts (~0.5 s): mid-work; quick jobs get shorter delays
        time.sleep(rng.uniform(0.6, 1.6) if kind in ("save", "assign") else
                   rng.uniform(0.2, 0.9))
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGKILL)
            kills += 1
        else:
            finished += 1
        out, _ = writer.communicate()
        for line in out.splitlines():
            rater, pid, values = json.loads(line)
            acknowledged[(rater, pid)] = values
        stored = current(db)  # integrity_check inside
        if kind == "migrate":
            with sqlite3.connect(old) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
            with ReviewStore(old, "write") as store:  # migrates now, whatever was left
                assert store.schema_version == current_version()
    # every acknowledged save is in the answer history (its comment is unique to it); a save
    # that committed but was killed before it could say so may come after it
    with ReviewStore(db, "read") as store:
        comments = {row[0] for row in store.db.execute("SELECT value FROM comments")}
    for (rater, pid), values in acknowledged.items():
        assert values["comment"] in comments, (rater, pid, values)
        for question in ("representativeness", "clarity"):
            assert (rater, pid, question) in stored
    assert len(acknowledged) > 0
    print(f"\n{kills} SIGKILLs survived ({finished} writers finished first); "
          f"{len(acknowledged)} last acknowledged saves, "
          f"all in the history; {len(comments)} comment revisions stored")
