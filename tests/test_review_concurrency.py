"""Many writers at once, and a writer killed mid-transaction."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.study.answers import current_answers
from protoecg.study.assignment import assign
from protoecg.study.protocol import load_protocol
from protoecg.study.ratings_csv import import_ratings
from protoecg.study.store import ReviewStore
from tests.conftest import PAPER_PROTOCOL, REPO

pytestmark = pytest.mark.slow
RATERS = [f"rater{i}" for i in range(8)]


@pytest.fixture
def db(ludb_catalog, tmp_path):
    path = tmp_path / "review.db"
    with ReviewStore(path) as store:
        study = store.create_study("s", load_protocol(PAPER_PROTOCOL), read_catalog(ludb_catalog))
        for name in RATERS:
            store.add_reviewer(study, name, "rater")
        assign(store, study)
    return path


def test_eight_processes_saving_at_once(db):
    # separate interpreters (not multiprocessing: after AppTest has run, this process's
    # __main__ is a Streamlit script that spawned children would re-import)
    code = ("import json, sys; from tests._review_workers import rate_queue; "
            "print(json.dumps(rate_queue(sys.argv[1], 's', sys.argv[2], 15)))")
    workers = [subprocess.Popen([sys.executable, "-c", code, str(db), name], cwd=REPO,
                                stdout=subprocess.PIPE, text=True) for name in RATERS]
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0
        results.append([(r, p, v) for r, p, v in json.loads(out)])
    acknowledged = [a for worker in results for a in worker]
    assert len(acknowledged) == 8 * 15
    with ReviewStore(db) as store:
        study = store.study("s")
        answers = current_answers(store, study)
        # every acknowledged answer is there ...
        got = {(r.reviewer, r.prototype_id, r.question): int(r.answer)
               for r in answers.itertuples()}
        for rater, pid, values in acknowledged:
            for question, value in values.items():
                assert got[(rater, pid, question)] == value
        # ... and none twice: exactly one revision per answer, nothing else written
        assert store.db["ratings"].count == 8 * 15 * 2
        rows = store.db.execute("SELECT reviewer_id, prototype_pk, question, COUNT(*) "
                                "FROM ratings GROUP BY 1, 2, 3 HAVING COUNT(*) > 1").fetchall()
        assert rows == []
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_writer_killed_mid_import_leaves_nothing(db, tmp_path):
    with ReviewStore(db) as store:
        pids = [r["prototype_id"] for r in store.db["prototypes"].rows]
        before = {t: store.db[t].count for t in store.db.table_names()}
    # a large import: 150 new raters (each with a scrypt-hashed code) x all prototypes
    rows = [(f"paper{i:03d}", pid, q, str(1 + (i + j) % 5))
            for i in range(150) for j, pid in enumerate(pids)
            for q in ("representativeness", "clarity")]
    csv_path = tmp_path / "big.csv"
    pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question", "answer"]).to_csv(
        csv_path, index=False)
    code = ("from tests._review_workers import import_file; "
            f"import_file({str(db)!r}, 's', {str(csv_path)!r})")
    writer = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    probe = sqlite3.connect(str(db), timeout=0)
    deadline = time.time() + 60
    try:
        while time.time() < deadline:  # wait until the writer holds the write lock
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                time.sleep(0.02)
            except sqlite3.OperationalError:  # locked: the import transaction is open
                time.sleep(0.5)  # let it write for a while
                break
        else:
            pytest.fail("the import never took the write lock")
        assert writer.poll() is None, "the import finished before it could be killed"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    finally:
        probe.close()
        if writer.poll() is None:
            writer.kill()
    with ReviewStore(db) as store:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        after = {t: store.db[t].count for t in store.db.table_names()}
        assert after == before  # the import is wholly absent
        study = store.study("s")
        small = tmp_path / "small.csv"
        pd.DataFrame(rows[:4], columns=["reviewer", "prototype_id", "question",
                                        "answer"]).to_csv(small, index=False)
        assert import_ratings(store, study, small, True)["revisions_written"] == 4
