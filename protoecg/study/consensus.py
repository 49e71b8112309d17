"""Adjudication: a researcher's consensus answer where raters disagree.

Consensus is stored apart from the raters' answers (the store's ``consensus`` table, revisions
like answers) and never changes them: agreement statistics are always the raters'. Reports use
consensus only where asked (``protoecg report --use-consensus``), for the per-prototype answers
that decide flags and means.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from protoecg.study.answers import COMMENT_MAX_CHARS, validate_answer
from protoecg.study.ratings_csv import BOM, neutralise_cell
from protoecg.study.store import AuthError, Reviewer, ReviewStore, StoreError, Study

CONSENSUS_COLUMNS = ("prototype_id", "question", "value", "note", "researcher", "revision",
                     "decided_at")


def record_consensus(store: ReviewStore, researcher: Reviewer, prototype_id: str,
                     question: str, value: int | None, note: str = "") -> int:
    """Record (or, with ``value`` None, withdraw) the consensus answer to one of the
    protocol's rating questions; returns its revision."""
    if researcher.role != "researcher":
        raise AuthError(f"{researcher.name!r} is a {researcher.role}; only researchers "
                        "record consensus")
    study = store.study_of(researcher)
    if question not in {q.id for q in study.protocol.questions}:
        raise StoreError(f"consensus: {question!r} is not a rating question of protocol "
                         f"{study.protocol.id} (expected one of "
                         f"{', '.join(q.id for q in study.protocol.questions)})")
    if value is not None:
        value = validate_answer(study, question, value).value
    note = note or ""
    if len(note) > COMMENT_MAX_CHARS:
        raise StoreError(f"consensus note: at most {COMMENT_MAX_CHARS:,} characters, got "
                         f"{len(note):,}")
    pk = store.prototype_pk(study, prototype_id)
    return store.write_consensus(study, researcher, pk, question, value, note)


def consensus_table(store: ReviewStore, study: Study) -> pd.DataFrame:
    """The study's current consensus answers (one row per prototype and question)."""
    return pd.DataFrame(store.latest_consensus(study), columns=list(CONSENSUS_COLUMNS))


def consensus_csv_bytes(store: ReviewStore, study: Study) -> bytes:
    """consensus.csv: every cell quoted, formula-like text neutralised (as ratings.csv)."""
    buffer = io.StringIO()
    buffer.write(BOM)  # a spreadsheet reads it as UTF-8 (accented notes)
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(CONSENSUS_COLUMNS)
    for row in store.latest_consensus(study):
        writer.writerow([neutralise_cell(row[c]) for c in CONSENSUS_COLUMNS])
    return buffer.getvalue().encode()
