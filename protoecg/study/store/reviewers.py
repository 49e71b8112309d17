"""The store's reviewers layer: raters and researchers with their access codes' credentials
(made and proven by ``codes.py``), and the statements sign-in runs (``signin.py`` holds the
policy: throttling, lockouts, sessions)."""

from __future__ import annotations

import time
from collections.abc import Callable

from protoecg.study.codes import code_lookup, code_prefix, credentials, holder, new_code
from protoecg.study.store.base import now
from protoecg.study.store.records import (
    ROLES,
    AuthError,
    Reviewer,
    StoreError,
    Study,
    valid_name,
)
from protoecg.study.store.studies import StudyStatements


class ReviewerStatements(StudyStatements):
    def add_reviewer(self, study: Study, name: str, role: str = "rater",
                     code: str | None = None) -> tuple[Reviewer, str]:
        """Add a rater or researcher; returns the access code (shown once, stored hashed)."""
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        name = valid_name("reviewer", name)
        for row in self.db["reviewers"].rows_where("study_id = ? AND name = ?", [study.id, name]):
            removed = (f" (removed on {row['removed_at'][:10]}; their answers are kept under "
                       "this name)" if row.get("removed_at") else "")
            raise StoreError(f"study {study.name!r} already has a reviewer named {name!r}"
                             f"{removed}")
        code = code or new_code()
        if len(code.replace("-", "").strip()) < 8:
            raise StoreError("an access code needs at least 8 characters")
        if self.code_holder(code) is not None:
            raise AuthError("this access code is already in use; choose another")
        with self._write("cli", "add_reviewer", study.id, {"name": name, "role": role}):
            reviewer = self._insert_reviewer(study.id, name, role, code)
        return reviewer, code

    def _insert_reviewer(self, study_id: int, name: str, role: str, code: str) -> Reviewer:
        """The reviewer row with its code's credentials (inside the caller's transaction)."""
        reviewer_id = self.db["reviewers"].insert({
            "study_id": study_id, "name": name, "role": role,
            **credentials(code, self._lookup_key), "created_at": now(),
        }).last_pk
        return Reviewer(reviewer_id, study_id, name, role)

    def reviewers(self, study: Study, removed: bool = True) -> list[Reviewer]:
        """The study's reviewers in the order they were added (``removed=False``: only those
        still taking part)."""
        return [Reviewer(r["id"], r["study_id"], r["name"], r["role"], r.get("removed_at"))
                for r in self.db["reviewers"].rows_where("study_id = ?", [study.id],
                                                         order_by="id")
                if removed or not r.get("removed_at")]

    def reviewer(self, study: Study, name: str) -> Reviewer:
        for reviewer in self.reviewers(study):
            if reviewer.name == name:
                return reviewer
        raise StoreError(f"study {study.name!r} has no reviewer named {name!r}")

    def reissue_code(self, reviewer: Reviewer, actor: str = "cli") -> str:
        """A new access code for ``reviewer`` (a lost or shared one): the old code stops
        working and the reviewer's open sessions end; their answers are untouched. Returns the
        new code (shown once, stored hashed)."""
        self._refuse_removed(reviewer)
        code = new_code()
        with self._write(actor, "reissue_code", reviewer.study_id, {"name": reviewer.name}):
            self.db["reviewers"].update(reviewer.id, {**credentials(code, self._lookup_key),
                                                      "code_prefix": None})
            self.db.execute("DELETE FROM sessions WHERE reviewer_id = ?", [reviewer.id])
        return code

    def remove_reviewer(self, reviewer: Reviewer, actor: str = "cli") -> int:
        """Remove a reviewer from the study: their code stops working, their open sessions end
        and their unanswered assignments are dropped (``assign`` gives those prototypes to the
        other raters). Every answer they gave is kept, under their name, marked by the
        removal. A study keeps at least one researcher. Returns how many assignments were
        dropped."""
        self._refuse_removed(reviewer)
        if reviewer.role == "researcher" and not any(
                r.role == "researcher" and r.id != reviewer.id
                for r in self.reviewers(self.study_by_id(reviewer.study_id), removed=False)):
            raise StoreError(f"{reviewer.name!r} is the study's only researcher; add another "
                             "researcher before removing them")
        with self._write(actor, "remove_reviewer", reviewer.study_id, {"name": reviewer.name}):
            self.db["reviewers"].update(reviewer.id, {
                "removed_at": now(), "code_lookup": None, "code_prefix": None,
                "code_salt": None, "code_hash": None})
            self.db.execute("DELETE FROM sessions WHERE reviewer_id = ?", [reviewer.id])
            dropped = self.db.execute(
                "DELETE FROM assignments WHERE reviewer_id = :r AND prototype_pk NOT IN ("
                " SELECT prototype_pk FROM ratings WHERE reviewer_id = :r UNION"
                " SELECT prototype_pk FROM flags WHERE reviewer_id = :r UNION"
                " SELECT prototype_pk FROM comments WHERE reviewer_id = :r)",
                {"r": reviewer.id}).rowcount
        return dropped

    def _refuse_removed(self, reviewer: Reviewer) -> None:
        """StoreError when ``reviewer`` has been removed from their study (read afresh: the
        record in hand may predate the removal)."""
        row = self.db["reviewers"].get(reviewer.id)
        if row.get("removed_at"):
            raise StoreError(f"{reviewer.name!r} was removed from the study on "
                             f"{row['removed_at'][:10]}; their answers are kept")

    # ---------------------------------------------------------------- codes
    @property
    def _lookup_key(self) -> str:
        return self.db["settings"].get("code_lookup_key")["value"]

    def code_holder(self, code: str) -> dict | None:
        """The reviewer row whose access code ``code`` is: found by the code's keyed hash (or,
        for rows made before schema 3, its prefix), proven by ``codes.holder``."""
        return holder(code, [
            *self.db["reviewers"].rows_where("code_lookup = ?",
                                             [code_lookup(code, self._lookup_key)]),
            *self.db["reviewers"].rows_where("code_lookup IS NULL AND code_prefix = ?",
                                             [code_prefix(code)])])

    # ------------------------------------------------- sign-in, lockouts
    def record_attempt(self, keys: list[str], at: float, since: float,
                       refuse: Callable[[str, int, float | None], None]) -> list[int]:
        """One transaction: each key's wrong codes after ``since`` (count, earliest time) go to
        ``refuse``, which raises to turn the attempt away; else the attempt is recorded as a
        wrong code against every key, up front (their ids). Counting and recording in one
        transaction: parallel guessers cannot get more checks than the limit."""
        with self._write("anonymous", "sign_in_attempt", None, {"keys": keys}):
            for key in keys:
                count, first = self.db.execute(
                    "SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at > ?",
                    [key, since]).fetchone()
                refuse(key, count, first)
            return [self.db["login_failures"].insert({"at": at, "key": key}).last_pk
                    for key in keys]

    def record_sign_in(self, row: dict, code: str, attempt: list[int]) -> tuple[Study, Reviewer]:
        """The reviewer of a proven code (``row``) signs in: the attempt's provisional wrong
        codes are taken back, and a pre-schema-3 row trades its clear prefix for the lookup."""
        with self._write(row["name"], "sign_in", row["study_id"], {}):
            self.db.execute(f"DELETE FROM login_failures WHERE id IN "
                            f"({', '.join('?' * len(attempt))})", attempt)
            if row["code_lookup"] is None:
                self.db["reviewers"].update(row["id"], {
                    "code_lookup": code_lookup(code, self._lookup_key), "code_prefix": None})
        return (self.study_by_id(row["study_id"]),
                Reviewer(row["id"], row["study_id"], row["name"], row["role"]))

    def recent_failures(self, since: float) -> list[tuple[str, int, float]]:
        """(key, wrong codes, earliest time) of every key with wrong codes after ``since``."""
        return [tuple(row) for row in self.db.execute(
            "SELECT key, COUNT(*), MIN(at) FROM login_failures WHERE at > ? GROUP BY key "
            "ORDER BY key", [since]).fetchall()]

    def clear_failures(self, actor: str) -> int:
        """Forget every recorded wrong code (a researcher lifting lockouts); how many."""
        with self._write(actor, "clear_lockouts", None, {}):
            count = self.db["login_failures"].count
            self.db.execute("DELETE FROM login_failures")
        return count

    # ------------------------------------------------------------- sessions
    def add_session(self, reviewer: Reviewer, token_hash: str, expires_at: float) -> None:
        """Keep a new session's token hash (expired sessions are dropped on the way)."""
        with self._write(reviewer.name, "session_start", reviewer.study_id, {}):
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", [time.time()])
            self.db["sessions"].insert({"token_hash": token_hash, "reviewer_id": reviewer.id,
                                        "created_at": now(), "expires_at": expires_at})

    def session(self, token_hash: str) -> tuple[Reviewer, float] | None:
        """The reviewer of a session token hash and when it expires (None: no such session).
        Reads only: a stale tab writes nothing."""
        row = self.db.execute(
            "SELECT r.id, r.study_id, r.name, r.role, s.expires_at FROM sessions s JOIN "
            "reviewers r ON r.id = s.reviewer_id WHERE s.token_hash = ?", [token_hash]
        ).fetchone()
        return None if row is None else (Reviewer(*row[:4]), row[4])

    def delete_session(self, token_hash: str) -> None:
        with self._write("anonymous", "session_end", None, {}):
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])
