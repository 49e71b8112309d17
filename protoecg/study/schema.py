"""The review database schema, as migrations (sqlite-utils ``Migrations``).

Applied migrations are recorded in ``_sqlite_migrations``; the schema version is how many of
ours are applied. A database carrying a migration this code does not know comes from a newer
protoecg and is refused rather than written to. Only sqlite-utils' public ``Migrations`` API
is used (``applied``, ``pending``, ``apply``); the list of our migrations is ``STEPS``.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("protoecg-review")


def current_version() -> int:
    """The schema version this code writes: how many migrations it knows."""
    return len(STEPS)


def m001_initial(db: Database) -> None:
    db["studies"].create({
        "id": int, "name": str, "protocol_id": str, "protocol_json": str,
        "catalog_path": str, "catalog_json": str, "created_at": str,
    }, pk="id", not_null={"name", "protocol_json"})
    db["studies"].create_index(["name"], unique=True)
    db["reviewers"].create({
        "id": int, "study_id": int, "name": str, "role": str, "code_prefix": str,
        "code_salt": str, "code_hash": str, "created_at": str,
    }, pk="id", foreign_keys=[("study_id", "studies", "id")],
        not_null={"study_id", "name", "role"})
    db["reviewers"].create_index(["study_id", "name"], unique=True)
    db["reviewers"].create_index(["code_prefix"])
    db["prototypes"].create({
        "id": int, "study_id": int, "prototype_id": str, "branch": str, "class_code": str,
        "class_description": str, "position": int, "signal_index": int, "row_json": str,
    }, pk="id", foreign_keys=[("study_id", "studies", "id")])
    db["prototypes"].create_index(["study_id", "prototype_id"], unique=True)
    db["signals"].create({
        "study_id": int, "signal_index": int, "npy": bytes,
    }, pk=("study_id", "signal_index"), foreign_keys=[("study_id", "studies", "id")])
    db["assignments"].create({
        "id": int, "study_id": int, "reviewer_id": int, "prototype_pk": int,
        "created_at": str,
    }, pk="id", foreign_keys=[("study_id", "studies", "id"),
                              ("reviewer_id", "reviewers", "id"),
                              ("prototype_pk", "prototypes", "id")])
    db["assignments"].create_index(["reviewer_id", "prototype_pk"], unique=True)
    db["assignments"].create_index(["study_id"])
    # Answers are append-only revisions; the current answer is the highest revision.
    for table, value in (("ratings", int), ("flags", int), ("comments", str)):
        db[table].create({
            "id": int, "study_id": int, "reviewer_id": int, "prototype_pk": int,
            "question": str, "value": value, "revision": int, "source": str,
            "created_at": str,
        }, pk="id", foreign_keys=[("study_id", "studies", "id"),
                                  ("reviewer_id", "reviewers", "id"),
                                  ("prototype_pk", "prototypes", "id")])
        db[table].create_index(["reviewer_id", "prototype_pk", "question", "revision"],
                               unique=True)
        db[table].create_index(["study_id"])
    db["audit"].create({
        "id": int, "at": str, "study_id": int, "actor": str, "action": str, "detail": str,
    }, pk="id")
    db["login_failures"].create({"id": int, "at": float, "key": str}, pk="id")
    db["login_failures"].create_index(["key", "at"])


def m002_review_rounds(db: Database) -> None:
    # a study may be the next round of another (after pruning / replacing prototypes)
    db["studies"].add_column("previous_study_id", int)


def m003_code_lookup(db: Database) -> None:
    # Codes are found by a keyed hash of the whole code (HMAC with this database's own key), so
    # no part of a code is stored in clear; reviewers made before this keep their prefix until
    # they first sign in, when it is replaced by the lookup hash.
    import secrets

    db["settings"].create({"key": str, "value": str}, pk="key")
    db["settings"].insert({"key": "code_lookup_key", "value": secrets.token_hex(32)})
    db["reviewers"].add_column("code_lookup", str)
    db["reviewers"].create_index(["code_lookup"], unique=True)


def m004_sessions(db: Database) -> None:
    # A signed-in browser keeps a random session token (in its address bar), so a reload or a
    # new tab does not sign the reviewer out. Only the token's SHA-256 is stored; signing out
    # deletes the row, and a row past its expiry no longer signs anyone in.
    db["sessions"].create({"token_hash": str, "reviewer_id": int, "created_at": str,
                           "expires_at": float}, pk="token_hash",
                          foreign_keys=[("reviewer_id", "reviewers", "id")])


def m005_consensus(db: Database) -> None:
    # Adjudication: a researcher's consensus answer to a question about a prototype, with a
    # note. Kept apart from the raters' answers (never overwriting them), append-only like
    # them: the current consensus is the highest revision; a NULL value withdraws it.
    db["consensus"].create({
        "id": int, "study_id": int, "prototype_pk": int, "question": str, "value": int,
        "note": str, "researcher_id": int, "revision": int, "created_at": str,
    }, pk="id", foreign_keys=[("study_id", "studies", "id"), ("prototype_pk", "prototypes", "id"),
                              ("researcher_id", "reviewers", "id")])
    db["consensus"].create_index(["study_id", "prototype_pk", "question", "revision"],
                                 unique=True)


def m006_removed_reviewers(db: Database) -> None:
    # A researcher may remove a reviewer: the row stays (their answers point at it and are
    # kept), marked by when it was removed; its code's credentials are cleared.
    db["reviewers"].add_column("removed_at", str)


def m007_comparisons(db: Database) -> None:
    # Blind A/B comparison studies (issue 32): a study's kind; its cases (an ECG and a label);
    # the key, apart (which model each case showed as A and as B: read by the report, never by
    # a rater's page); the answers, append-only revisions like the ratings.
    db["studies"].add_column("kind", str)
    # row_json: what the case's card shows, by letter (A, B), never by model name
    db["comparison_cases"].create({
        "id": int, "study_id": int, "case_id": str, "label": str, "position": int,
        "row_json": str,
    }, pk="id", foreign_keys=[("study_id", "studies", "id")])
    db["comparison_cases"].create_index(["study_id", "case_id"], unique=True)
    db["comparison_key"].create({"case_pk": int, "model_a": str, "model_b": str},
                                pk="case_pk", foreign_keys=[("case_pk", "comparison_cases", "id")])
    db["comparison_answers"].create({
        "id": int, "study_id": int, "reviewer_id": int, "case_pk": int, "question": str,
        "value": str, "revision": int, "source": str, "created_at": str,
    }, pk="id", foreign_keys=[("study_id", "studies", "id"), ("reviewer_id", "reviewers", "id"),
                              ("case_pk", "comparison_cases", "id")])
    db["comparison_answers"].create_index(["reviewer_id", "case_pk", "question", "revision"],
                                          unique=True)


# Our migrations in the order they apply (the schema version counts them): registered from
# this tuple because sqlite-utils has no public way to list the migrations of a set.
STEPS = (m001_initial, m002_review_rounds, m003_code_lookup, m004_sessions, m005_consensus,
         m006_removed_reviewers, m007_comparisons)
for _step in STEPS:
    MIGRATIONS()(_step)
