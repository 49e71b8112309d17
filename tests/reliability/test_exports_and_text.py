"""Exports are safe to open in a spreadsheet (OWASP's CSV-injection advice), stored text is kept
exactly as typed and comes back unchanged through export -> import, and comments and names have
documented size limits that refuse (never truncate) what is longer (issue 12)."""

import csv

import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.resources import protocol_path
from protoecg.study.answers import COMMENT_MAX_CHARS, current_answers, save_answers
from protoecg.study.assignment import assign
from protoecg.study.protocol import load_protocol
from protoecg.study.ratings_csv import (
    export_ratings,
    import_ratings,
    neutralise_cell,
    restore_cell,
)
from protoecg.study.store import NAME_MAX_CHARS, ReviewStore, StoreError
from tests._synthetic_catalog import SMALL, write_synthetic_catalog

DANGEROUS = ["=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)",
             "\t=1+1", "\r=1+1", "'=already quoted", "'plain apostrophe"]


@pytest.fixture
def study(tmp_path):
    catalog = read_catalog(write_synthetic_catalog(tmp_path / "catalog", SMALL))
    store = ReviewStore(tmp_path / "review.db")
    study = store.create_study("s1", load_protocol(protocol_path()), catalog)
    reviewer, _ = store.add_reviewer(study, "=Dr Formula", "rater")
    assign(store, study, 1)
    yield store, study, reviewer
    store.close()


@pytest.mark.parametrize("text", DANGEROUS + ["ordinary", "", "3"])
def test_neutralise_and_restore_are_inverse(text):
    safe = neutralise_cell(text)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore_cell(safe) == text


def test_exported_cells_never_start_a_formula_and_import_gives_the_text_back(study, tmp_path):
    store, study, reviewer = study
    ids = [p.prototype_id for p in store.prototypes(study)][:len(DANGEROUS)]
    for pid, comment in zip(ids, DANGEROUS, strict=True):
        save_answers(store, reviewer, pid, {"representativeness": 3, "clarity": 4,
                                            "comment": comment})
    stored = current_answers(store, study)
    comments = stored.loc[stored["question"] == "comment", "answer"].tolist()
    assert sorted(comments) == sorted(DANGEROUS)  # as typed: no strip of the tab or CR
    out = tmp_path / "ratings.csv"
    export_ratings(store, study, out)
    with open(out, newline="") as f:
        for row in csv.DictReader(f):
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    # re-importing the export changes nothing: every text came back exactly
    assert import_ratings(store, study, out)["revisions_written"] == 0
    export_ratings(store, study, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


def test_a_comment_over_the_limit_is_refused_and_nothing_saved(study):
    store, study, reviewer = study
    pid = store.prototypes(study)[0].prototype_id
    with pytest.raises(StoreError, match=f"at most {COMMENT_MAX_CHARS:,} characters"):
        save_answers(store, reviewer, pid, {"representativeness": 2, "clarity": 2,
                                            "comment": "x" * (COMMENT_MAX_CHARS + 1)})
    assert current_answers(store, study).empty
    save_answers(store, reviewer, pid, {"representativeness": 2, "clarity": 2,
                                        "comment": "x" * COMMENT_MAX_CHARS})  # the limit itself
    assert len(current_answers(store, study)) == 3


def test_names_over_the_limit_are_refused(study):
    store, study, _ = study
    with pytest.raises(StoreError, match=f"at most {NAME_MAX_CHARS} characters"):
        store.add_reviewer(study, "D" * (NAME_MAX_CHARS + 1), "rater")
    with pytest.raises(StoreError, match=f"at most {NAME_MAX_CHARS} characters"):
        store.create_study("s" * (NAME_MAX_CHARS + 1), study.protocol,
                           read_catalog(write_synthetic_catalog(
                               store.path.parent / "c2", SMALL)))


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["reviewer", "prototype_id", "question", "answer", "answered_at"])
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("rows, message", [
    ([["{r}", "{p}", "clarity", "3", "not-a-date"]], "answered_at 'not-a-date' is not an ISO"),
    ([["{r}", "{p}", "clarity", "3", ""], ["{r}", "{p}", "clarity", "5", ""]],
     "answers 'clarity' of"),
], ids=["bad-date", "conflicting-duplicates"])
def test_imports_refuse_what_they_used_to_accept_silently(study, tmp_path, rows, message):
    store, study, reviewer = study
    pid = next(a for a in store.assignments(study) if a.reviewer_id == reviewer.id)
    pid = next(p.prototype_id for p in store.prototypes(study) if p.pk == pid.prototype_pk)
    rows = [[cell.format(r=reviewer.name, p=pid) for cell in row] for row in rows]
    with pytest.raises(StoreError, match=message):
        import_ratings(store, study, write_csv(tmp_path / "in.csv", rows))
    assert current_answers(store, study).empty
    # the same answer twice is not a conflict
    same = [[reviewer.name, pid, "clarity", "3", ""], [reviewer.name, pid, "clarity", "3", ""]]
    assert import_ratings(store, study, write_csv(tmp_path / "ok.csv", same))["rows"] == 2
