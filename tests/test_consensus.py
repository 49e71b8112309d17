"""Adjudication: consensus answers are kept apart from the raters' answers and never change
them; a database snapshot is a consistent copy."""

import csv
import io
import shutil
import sqlite3

import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.study import answers
from protoecg.study.assignment import assign
from protoecg.study.consensus import consensus_csv_bytes, consensus_table, record_consensus
from protoecg.study.protocol import load_protocol
from protoecg.study.store import AuthError, ReviewStore, StoreError
from tests.conftest import PAPER_PROTOCOL


@pytest.fixture(scope="module")
def rated_db(synthetic_catalog, tmp_path_factory):
    """Two raters who disagree on the first prototype, and a researcher."""
    path = tmp_path_factory.mktemp("consensus") / "review.db"
    with ReviewStore(path) as store:
        study = store.create_study("pilot", load_protocol(PAPER_PROTOCOL),
                                   read_catalog(synthetic_catalog))
        for name in ("ana", "ben"):
            store.add_reviewer(study, name, "rater")
        store.add_reviewer(study, "rhea", "researcher")
        assign(store, study, 2)
        first = store.prototypes(study)[0].prototype_id
        for name, value in (("ana", 1), ("ben", 5)):
            answers.save_answers(store, store.reviewer(study, name), first,
                                 {"representativeness": value, "clarity": 3,
                                  "comment": f"{name} thinks {value}"})
    return path, first


@pytest.fixture
def store(rated_db, tmp_path):
    path, first = rated_db
    with ReviewStore(shutil.copy(path, tmp_path / "review.db")) as s:
        yield s, first


def raters_rows(store) -> dict:
    return {table: store.db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("ratings", "flags", "comments")}


def test_consensus_is_recorded_apart_and_never_changes_a_raters_answer(store):
    store, first = store
    study = store.study("pilot")
    rhea = store.reviewer(study, "rhea")
    before = raters_rows(store)
    current = answers.current_answers(store, study)
    assert record_consensus(store, rhea, first, "representativeness", 4, "QRS typical") == 1
    assert record_consensus(store, rhea, first, "representativeness", 3, "on review: 3") == 2
    assert record_consensus(store, rhea, first, "clarity", 3) == 1
    table = consensus_table(store, study)
    assert table[["prototype_id", "question", "value", "note", "researcher", "revision"]] \
        .values.tolist() == [[first, "clarity", 3, "", "rhea", 1],
                             [first, "representativeness", 3, "on review: 3", "rhea", 2]]
    assert raters_rows(store) == before  # not one rater's row touched
    assert answers.current_answers(store, study).equals(current)
    record_consensus(store, rhea, first, "clarity", None)  # withdrawn
    assert list(consensus_table(store, study)["question"]) == ["representativeness"]
    assert store.db["consensus"].count == 4  # history kept


@pytest.mark.parametrize("who, question, value, note, message", [
    ("ana", "representativeness", 3, "", "only researchers record consensus"),
    ("rhea", "warmth", 3, "", "'warmth' is not a rating question"),
    ("rhea", "comment", 3, "", "'comment' is not a rating question"),
    ("rhea", "representativeness", 9, "", "must be one of [1, 2, 3, 4, 5]"),
    ("rhea", "representativeness", 3, "x" * 5001, "at most 5,000 characters"),
])
def test_bad_consensus_is_refused_and_writes_nothing(store, who, question, value, note,
                                                     message):
    store, first = store
    study = store.study("pilot")
    with pytest.raises((StoreError, AuthError), match=message.replace("[", r"\[")
                       .replace("]", r"\]")):
        record_consensus(store, store.reviewer(study, who), first, question, value, note)
    assert store.db["consensus"].count == 0


def test_consensus_csv_quotes_every_cell_and_neutralises_formulas(store):
    store, first = store
    study = store.study("pilot")
    record_consensus(store, store.reviewer(study, "rhea"), first, "representativeness", 2,
                     "=HYPERLINK(\"http://x\")")
    data = consensus_csv_bytes(store, study)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8's byte-order mark: a spreadsheet reads
    # accented notes right
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["prototype_id", "question", "value", "note"]
    assert rows[1][3] == "'=HYPERLINK(\"http://x\")"
    assert all(line.startswith('"') for line in data.decode("utf-8-sig").splitlines())


def test_snapshot_is_a_consistent_copy_and_never_overwrites(store, tmp_path):
    store, first = store
    copy = store.snapshot(tmp_path / "copy.db")
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == \
            store.db["ratings"].count
    with ReviewStore(copy, "read") as again:
        assert again.study("pilot").name == "pilot"
    with pytest.raises(StoreError, match="already exists"):
        store.snapshot(copy)
