"""The review store: one SQLite database (through sqlite-utils) holding studies, reviewers,
prototype snapshots, assignments, answers (append-only revisions) and an audit log.

This package is the only place in protoecg that runs SQL: everything else (sign-in,
assignment, answers, CSV, researcher tables, reports, the app) calls ``ReviewStore``'s public
methods. Sign-in's policy (throttling, lockouts, sessions) is ``study/signin.py``'s; access
codes are made, hashed and proven by ``study/codes.py``; the schema is ``study/schema.py``.

``ReviewStore`` is built in layers, one module each, each on the one before: ``base.py``
(opening, migrating, the transaction), ``studies.py`` (studies, their frozen prototypes and
signals, copies, the audit log), ``reviewers.py`` (reviewers, code credentials, the sign-in
statements), ``ratings.py`` (assignments, answers, imports, consensus),
``comparisons.py`` (blind A/B comparison studies: cases, the key kept apart, answers).
``records.py`` holds what they hand out and the errors they raise.

Every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so
concurrent writers queue on the busy timeout instead of failing), records itself in the audit
log, and leaves the database unchanged when it raises. WAL journal mode lets readers (the app)
read while a writer writes.
"""

from __future__ import annotations

from protoecg.study.store.comparisons import ComparisonStatements
from protoecg.study.store.records import (
    MODEL_SCORE_COLUMNS,
    NAME_MAX_CHARS,
    ROLES,
    Answer,
    AnswerConflict,
    Assignment,
    AuthError,
    Reviewer,
    StoredAnswer,
    StoreError,
    Study,
    StudyPrototype,
)

# the store's vocabulary, as its callers import it
__all__ = [
    "MODEL_SCORE_COLUMNS", "NAME_MAX_CHARS", "ROLES", "AnswerConflict", "Answer", "Assignment",
    "AuthError",
    "ReviewStore", "Reviewer", "StoreError", "StoredAnswer", "Study", "StudyPrototype",
]


class ReviewStore(ComparisonStatements):
    """Open a review database.

    ``mode``: ``create`` may create the file (only ``study create`` and set-up code use it);
    ``write`` opens an existing review database and migrates it; ``read`` opens an existing one
    for queries only (``PRAGMA query_only``: status, exports and reports never write). A file
    that is not a protoecg review database (another application's SQLite file, an empty file,
    anything else) is refused before anything is written to it.
    """
