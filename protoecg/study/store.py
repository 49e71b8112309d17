"""The review store: one SQLite database (through sqlite-utils) holding studies, reviewers,
prototype snapshots, assignments, answers (append-only revisions) and an audit log.

This is the only module of protoecg that runs SQL: everything else (assignment, answers, CSV,
researcher tables, reports, the app) calls the public methods below.

Every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so
concurrent writers queue on the busy timeout instead of failing), records itself in the audit
log, and leaves the database unchanged when it raises. WAL journal mode lets readers (the app)
read while a writer writes.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlite_utils import Database

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from protoecg.catalog.reader import Catalog
from protoecg.errors import ProtoECGError
from protoecg.study.codes import (
    code_lookup,
    code_prefix,
    hash_code,
    new_code,
    new_salt,
    normalise,
)
from protoecg.study.protocol import Protocol
from protoecg.study.schema import MIGRATIONS

ROLES = ("rater", "researcher")
# kind of answer -> its table (ratings hold scale values, flags 1/0, comments text)
ANSWER_TABLES = {"rating": "ratings", "flag": "flags", "comment": "comments"}
# columns a blinded rater never sees (model scores)
MODEL_SCORE_COLUMNS = ("similarity", "catalog_similarity", "purity")
BUSY_TIMEOUT_S = 30.0
# sign-in throttle: wrong codes per key within the window before its attempts are refused.
# A browser session is locked after a few typos; a client address (a hospital NAT shares one)
# only after many more, so one colleague's typos lock out only their own tab.
THROTTLE_LIMITS = {"session": 5, "client": 30}
THROTTLE_WINDOW_S = 300.0
SESSION_TTL_S = 12 * 3600.0  # a signed-in browser stays signed in for a working day
NAME_MAX_CHARS = 100  # study and reviewer names (they head tables and reports)


class StoreError(ProtoECGError):
    """A request the review store refuses (unknown study, bad answer, newer schema …)."""


class AuthError(StoreError):
    """A wrong, unknown or throttled access code, or a role that may not do this."""


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    protocol: Protocol
    catalog_path: str
    catalog_meta: dict
    previous_id: int | None = None  # the study this one is the next round of


@dataclass(frozen=True)
class Reviewer:
    id: int
    study_id: int
    name: str
    role: str


@dataclass(frozen=True)
class StudyPrototype:
    """A prototype of a study (its snapshot row is read with ``prototype_snapshot``)."""
    pk: int
    prototype_id: str
    branch: str
    class_code: str
    position: int
    # true-positive validation decisions it drives (the catalog's ``usage_decisions``; 0 in
    # catalogs written before it): the queue shows the busiest prototypes first
    decisions: int = 0


@dataclass(frozen=True)
class Assignment:
    id: int
    reviewer_id: int
    reviewer: str
    prototype_pk: int
    prototype_id: str


@dataclass(frozen=True)
class Answer:
    """One validated answer to write: ``kind`` is a key of ``ANSWER_TABLES``; ``answered_at``
    keeps an imported answer's original time (None: now)."""
    kind: str
    question: str
    value: int | str
    answered_at: str | None = None


@dataclass(frozen=True)
class StoredAnswer:
    """The current (latest) revision of one answer."""
    kind: str
    reviewer_id: int
    reviewer: str
    prototype_id: str
    question: str
    value: int | str
    revision: int
    answered_at: str


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"


STORE_MODES = ("create", "write", "read")


class ReviewStore:
    """Open a review database.

    ``mode``: ``create`` may create the file (only ``study create`` and set-up code use it);
    ``write`` opens an existing review database and migrates it; ``read`` opens an existing one
    for queries only (``PRAGMA query_only``: status, exports and reports never write). A file
    that is not a protoecg review database (another application's SQLite file, an empty file,
    anything else) is refused before anything is written to it.
    """

    def __init__(self, path: str | Path, mode: str = "create"):
        if mode not in STORE_MODES:
            raise ValueError(f"unknown store mode {mode!r}")
        self.path = Path(path)
        self.mode = mode
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, expected a database file")
        exists = self.path.is_file()
        if not exists and mode != "create":
            raise StoreError(f"{self.path}: no such review database (`protoecg study create` "
                             "makes one)")
        if exists and self.path.stat().st_size == 0:
            raise StoreError(f"{self.path}: an empty file, not a review database (give "
                             "`protoecg study create` a path that does not exist yet)")
        try:
            # mode=rw never creates the file; a new database is created only in "create" mode
            uri = f"{self.path.resolve().as_uri()}?mode={'rw' if exists else 'rwc'}"
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            if exists:
                self._refuse_foreign(conn)
            if mode == "read":
                conn.execute("PRAGMA query_only=ON")
            elif conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            if mode != "read":
                # WAL + NORMAL: a commit is durable against a killed process (what the
                # reliability tests kill), and is written to disk at the next checkpoint
                # rather than with an fsync per save; a power cut may lose the last saves but
                # never corrupts the database (SQLite's documented guarantee)
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite database ({exc})") from None
        self.db = Database(conn)
        self._study_cache: dict[int, Study] = {}
        self._migrate()

    @contextmanager
    def _writer_queue(self):
        """Writers wait their turn on an exclusive lock of ``<db>.lock`` (the kernel wakes the
        next one the moment the lock is free) before taking SQLite's write lock, whose busy
        handler polls with sleeps of up to 100 ms: with 20 raters saving at once that polling,
        not the writes, made the slowest saves. Where ``fcntl`` does not exist, SQLite's busy
        handler alone orders the writers."""
        if fcntl is None or os.environ.get("PROTOECG_NO_WRITER_QUEUE"):
            yield
            return
        try:
            handle = open(f"{self.path}.lock", "a")  # noqa: SIM115 - closed below
        except OSError:  # a read-only folder: BEGIN IMMEDIATE will say so
            yield
            return
        with handle:  # closing the file releases the lock
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        """Read-only look at the schema: refuse what is not ours before any write."""
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path}: not a usable SQLite database ({exc})") from None
        if tables and "studies" not in tables:
            conn.close()
            raise StoreError(f"{self.path}: not a protoecg review database "
                             f"(tables: {', '.join(tables[:5])})")

    def _migrate(self) -> None:
        known = {m.name for m in MIGRATIONS._migrations}
        try:
            applied = {m.name for m in MIGRATIONS.applied(self.db)}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite database ({exc})") from None
        newer = applied - known
        if newer:
            raise StoreError(
                f"{self.path}: database schema is newer than this protoecg (it has migration "
                f"{sorted(newer)[0]!r}); upgrade protoecg to open it")
        if MIGRATIONS.pending(self.db):
            if self.mode == "read":
                raise StoreError(f"{self.path}: its schema is older than this protoecg; a "
                                 "command that writes (e.g. `protoecg review serve`) upgrades "
                                 "it first")
            self.db.conn.execute("BEGIN IMMEDIATE")  # one process migrates, the others wait
            try:
                MIGRATIONS.apply(self.db)
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                raise
            if self.db.conn.in_transaction:
                self.db.conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return len(MIGRATIONS.applied(self.db))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writes
    @contextmanager
    def _write(self, actor: str, action: str, study_id: int | None, detail: dict):
        """One transaction with its audit row; rolled back whole on any error."""
        conn = self.db.conn
        with self._writer_queue():
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # a read-only file or folder, a full disk
                raise StoreError(f"{self.path}: cannot write to the review database ({exc})"
                                 ) from None
            try:
                with self.db.atomic():
                    yield
                    conn.execute(
                        "INSERT INTO audit (at, study_id, actor, action, detail) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (now(), study_id, actor, action, json.dumps(detail, default=str)))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # ----------------------------------------------------------------- studies
    def create_study(self, name: str, protocol: Protocol, catalog: Catalog,
                     previous: Study | None = None,
                     prototype_ids: list[str] | None = None) -> Study:
        """A new study rating the prototypes of ``catalog`` (all, or ``prototype_ids``) under
        ``protocol``; ``previous``: the study this one is the next round of."""
        name = name.strip()
        if not name:
            raise StoreError("study name is empty")
        if len(name) > NAME_MAX_CHARS:
            raise StoreError(f"study name: at most {NAME_MAX_CHARS} characters, got {len(name)}")
        if self.db["studies"].count_where("name = ?", [name]):
            raise StoreError(f"study {name!r} already exists in {self.path}")
        table = catalog.prototypes
        if prototype_ids is not None:
            unknown = sorted(set(prototype_ids) - set(table["prototype_id"]))
            if unknown:
                raise StoreError(f"{catalog.path}: no prototype {unknown[0]!r}")
            table = table[table["prototype_id"].isin(prototype_ids)]
            if table.empty:
                raise StoreError(f"study {name!r} would rate no prototype")
        kept = set(table["prototype_id"])
        rated_neighbours = catalog.neighbours[catalog.neighbours["prototype_id"].isin(kept)]
        neighbours = {pid: rows.drop(columns=["prototype_id"]).to_dict("records")
                      for pid, rows in rated_neighbours.groupby("prototype_id")}
        used = set(table["signal_index"]) | set(rated_neighbours["signal_index"])
        with self._write("cli", "create_study", None, {
                "name": name, "catalog": str(catalog.path), "prototypes": len(table),
                "previous": previous.name if previous else None}):
            study_id = self.db["studies"].insert({
                "name": name, "protocol_id": protocol.id,
                "protocol_json": json.dumps(protocol.to_dict()),
                "catalog_path": str(catalog.path.resolve()),
                "catalog_json": json.dumps(catalog.meta), "created_at": now(),
                "previous_study_id": previous.id if previous else None,
            }).last_pk
            rows = []
            for position, row in enumerate(table.to_dict("records")):
                snapshot = {**row, "neighbours": neighbours.get(row["prototype_id"], [])}
                rows.append({
                    "study_id": study_id, "prototype_id": row["prototype_id"],
                    "branch": row["branch"], "class_code": row["class_code"],
                    "class_description": row["class_description"], "position": position,
                    "signal_index": int(row["signal_index"]),
                    "row_json": json.dumps(snapshot, default=_json_default),
                })
            self.db["prototypes"].insert_all(rows)
            self.db["signals"].insert_all(
                {"study_id": study_id, "signal_index": int(i),
                 "npy": _npy_bytes(catalog.signal(int(i)))} for i in sorted(used))
        return self.study(name)

    def study(self, name: str) -> Study:
        rows = list(self.db["studies"].rows_where("name = ?", [name]))
        if not rows:
            names = [r["name"] for r in self.db["studies"].rows]
            raise StoreError(f"no study {name!r} in {self.path}"
                             + (f" (studies: {', '.join(names)})" if names else " (no studies)"))
        return _study(rows[0])

    def study_of(self, reviewer: Reviewer) -> Study:
        """The study a reviewer belongs to (studies never change after creation, so each is
        read and its protocol parsed once per connection: a save no longer re-parses it)."""
        if reviewer.study_id not in self._study_cache:
            self._study_cache[reviewer.study_id] = _study(
                self.db["studies"].get(reviewer.study_id))
        return self._study_cache[reviewer.study_id]

    def study_by_id(self, study_id: int) -> Study:
        return _study(self.db["studies"].get(study_id))

    def studies(self) -> list[Study]:
        return [_study(r) for r in self.db["studies"].rows_where(order_by="id")]

    # --------------------------------------------------------------- reviewers
    def add_reviewer(self, study: Study, name: str, role: str = "rater",
                     code: str | None = None) -> tuple[Reviewer, str]:
        """Add a rater or researcher; returns the access code (shown once, stored hashed)."""
        name = name.strip()
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if not name:
            raise StoreError("reviewer name is empty")
        if len(name) > NAME_MAX_CHARS:
            raise StoreError(f"reviewer name: at most {NAME_MAX_CHARS} characters, got "
                             f"{len(name)}")
        if self.db["reviewers"].count_where("study_id = ? AND name = ?", [study.id, name]):
            raise StoreError(f"study {study.name!r} already has a reviewer named {name!r}")
        code = code or new_code()
        if len(code.replace("-", "").strip()) < 8:
            raise StoreError("an access code needs at least 8 characters")
        if self._match_code(code) is not None:
            raise AuthError("this access code is already in use; choose another")
        with self._write("cli", "add_reviewer", study.id, {"name": name, "role": role}):
            reviewer = self._insert_reviewer(study.id, name, role, code)
        return reviewer, code

    def _insert_reviewer(self, study_id: int, name: str, role: str, code: str) -> Reviewer:
        """The reviewer row with its salted code hash (inside the caller's transaction)."""
        salt = new_salt()
        reviewer_id = self.db["reviewers"].insert({
            "study_id": study_id, "name": name, "role": role,
            "code_lookup": code_lookup(code, self._lookup_key), "code_salt": salt,
            "code_hash": hash_code(code, salt), "created_at": now(),
        }).last_pk
        return Reviewer(reviewer_id, study_id, name, role)

    def reviewers(self, study: Study) -> list[Reviewer]:
        return [Reviewer(r["id"], r["study_id"], r["name"], r["role"])
                for r in self.db["reviewers"].rows_where("study_id = ?", [study.id],
                                                         order_by="id")]

    def reviewer(self, study: Study, name: str) -> Reviewer:
        for reviewer in self.reviewers(study):
            if reviewer.name == name:
                return reviewer
        raise StoreError(f"study {study.name!r} has no reviewer named {name!r}")

    @property
    def _lookup_key(self) -> str:
        return self.db["settings"].get("code_lookup_key")["value"]

    def _match_code(self, code: str) -> dict | None:
        """The reviewer row whose code this is: found by the code's keyed hash (or, for rows
        made before schema 3, its prefix), proven by the scrypt hash in constant time. A miss
        costs one scrypt too, so timing does not tell near misses from far ones."""
        candidates = list(self.db["reviewers"].rows_where(
            "code_lookup = ?", [code_lookup(code, self._lookup_key)]))
        candidates += list(self.db["reviewers"].rows_where(
            "code_lookup IS NULL AND code_prefix = ?", [code_prefix(code)]))
        if not candidates:
            hash_code(code, "00" * 16)
            return None
        for row in candidates:
            if row["code_hash"] and hmac.compare_digest(
                    row["code_hash"], hash_code(code, row["code_salt"])):
                return row
        return None

    def authenticate(self, code: str, throttle: Mapping[str, str] | None = None,
                     window_s: float = THROTTLE_WINDOW_S,
                     limits: Mapping[str, int] | None = None) -> tuple[Study, Reviewer]:
        """The study and reviewer an access code belongs to.

        ``throttle``: scope -> key of who is signing in (e.g. ``{"session": "…", "client":
        "10.0.0.7"}``). A wrong code counts against every key; once a key has ``limits[scope]``
        wrong codes within ``window_s`` seconds, its attempts are refused (with how long to
        wait) without checking the code. Counting and recording happen in one transaction, so
        parallel guessers cannot get more checks than the limit. An empty code is not a guess.
        """
        if not normalise(code or ""):
            raise AuthError("enter your access code")
        keys = [f"{scope}:{key}" for scope, key in (throttle or {"client": "local"}).items()]
        limits = {**THROTTLE_LIMITS, **(limits or {})}
        started = time.time()
        with self._write("anonymous", "sign_in_attempt", None, {"keys": keys}):
            for key in keys:
                failures = self.db.execute(
                    "SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at > ?",
                    [key, started - window_s]).fetchone()
                limit = limits.get(key.split(":", 1)[0], THROTTLE_LIMITS["client"])
                if failures[0] >= limit:
                    wait = max(1, int(failures[1] + window_s - started + 0.999))
                    raise AuthError(f"too many wrong codes; try again in {_duration(wait)}")
            # recorded as a failure up front: a correct code takes it back below
            ids = [self.db["login_failures"].insert({"at": started, "key": key}).last_pk
                   for key in keys]
        row = self._match_code(code)
        if row is None:
            raise AuthError("unknown access code")
        with self._write(row["name"], "sign_in", row["study_id"], {}):
            self.db.execute(f"DELETE FROM login_failures WHERE id IN "
                            f"({', '.join('?' * len(ids))})", ids)
            if row["code_lookup"] is None:  # a pre-schema-3 row: drop its clear prefix
                self.db["reviewers"].update(row["id"], {
                    "code_lookup": code_lookup(code, self._lookup_key), "code_prefix": None})
        study = _study(self.db["studies"].get(row["study_id"]))
        return study, Reviewer(row["id"], row["study_id"], row["name"], row["role"])

    def start_session(self, reviewer: Reviewer, ttl_s: float = SESSION_TTL_S) -> str:
        """A new random session token for a reviewer who has just signed in (a browser keeps
        it, so that a reload does not sign them out); only its hash is stored."""
        token = secrets.token_urlsafe(24)
        with self._write(reviewer.name, "session_start", reviewer.study_id, {}):
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", [time.time()])
            self.db["sessions"].insert({
                "token_hash": _token_hash(token), "reviewer_id": reviewer.id,
                "created_at": now(), "expires_at": time.time() + ttl_s})
        return token

    def resume_session(self, token: str) -> tuple[Study, Reviewer]:
        """The study and reviewer of a live session token; AuthError when it is unknown,
        signed out or expired (reads only: a stale tab writes nothing)."""
        row = self.db.execute(
            "SELECT r.id, r.study_id, r.name, r.role, s.expires_at FROM sessions s JOIN "
            "reviewers r ON r.id = s.reviewer_id WHERE s.token_hash = ?",
            [_token_hash(token or "")]).fetchone()
        if row is None or row[4] < time.time():
            raise AuthError("your session has ended; sign in with your access code")
        study = _study(self.db["studies"].get(row[1]))
        return study, Reviewer(row[0], row[1], row[2], row[3])

    def end_session(self, token: str) -> None:
        """Sign a session out (its token no longer signs anyone in)."""
        with self._write("anonymous", "session_end", None, {}):
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", [_token_hash(token)])

    def lockouts(self, window_s: float = THROTTLE_WINDOW_S,
                 limits: Mapping[str, int] | None = None) -> list[dict]:
        """Who is locked out of signing in now: key, wrong codes in the window, seconds left."""
        limits = {**THROTTLE_LIMITS, **(limits or {})}
        now_s = time.time()
        out = []
        for key, count, first in self.db.execute(
                "SELECT key, COUNT(*), MIN(at) FROM login_failures WHERE at > ? GROUP BY key "
                "ORDER BY key", [now_s - window_s]).fetchall():
            if count >= limits.get(key.split(":", 1)[0], THROTTLE_LIMITS["client"]):
                out.append({"key": key, "wrong_codes": count,
                            "seconds_left": int(first + window_s - now_s + 0.999)})
        return out

    def clear_lockouts(self, actor: str) -> int:
        """Forget every recorded wrong code (a researcher lifting lockouts); returns how many."""
        with self._write(actor, "clear_lockouts", None, {}):
            count = self.db["login_failures"].count
            self.db.execute("DELETE FROM login_failures")
        return count

    # ---------------------------------------------------- prototypes, signals
    def prototypes(self, study: Study) -> list[StudyPrototype]:
        """The study's prototypes in catalog order."""
        return [StudyPrototype(*row) for row in self.db.execute(
            "SELECT id, prototype_id, branch, class_code, position FROM prototypes"
            " WHERE study_id = ? ORDER BY position", [study.id]).fetchall()]

    def count_prototypes(self, study: Study) -> int:
        return self.db["prototypes"].count_where("study_id = ?", [study.id])

    def prototype_pk(self, study: Study, prototype_id: str) -> int:
        row = self.db.execute("SELECT id FROM prototypes WHERE study_id = ? AND prototype_id = ?",
                              [study.id, prototype_id]).fetchone()
        if row is None:
            raise StoreError(f"study {study.name!r} has no prototype {prototype_id!r}")
        return row[0]

    def prototype_snapshot(self, prototype_pk: int) -> dict:
        """The catalog row of a prototype as the study froze it (with its ``neighbours``)."""
        return json.loads(self.db["prototypes"].get(prototype_pk)["row_json"])

    def signal(self, study: Study, signal_index: int) -> np.ndarray:
        row = self.db.execute("SELECT npy FROM signals WHERE study_id = ? AND signal_index = ?",
                              [study.id, int(signal_index)]).fetchone()
        if row is None:
            raise StoreError(f"study {study.name!r} holds no signal {signal_index}")
        return np.load(io.BytesIO(row[0]))

    # ------------------------------------------------------------- assignments
    def assignments(self, study: Study) -> list[Assignment]:
        return [Assignment(*row) for row in self.db.execute(
            "SELECT a.id, a.reviewer_id, r.name, a.prototype_pk, p.prototype_id"
            " FROM assignments a JOIN reviewers r ON r.id = a.reviewer_id"
            " JOIN prototypes p ON p.id = a.prototype_pk WHERE a.study_id = ? ORDER BY a.id",
            [study.id]).fetchall()]

    def count_assignments(self, study: Study) -> int:
        return self.db["assignments"].count_where("study_id = ?", [study.id])

    def assigned_prototypes(self, reviewer: Reviewer) -> list[StudyPrototype]:
        """The prototypes assigned to a reviewer (in no particular order)."""
        # the snapshot's usage_decisions by position, not SQLite's JSON functions: snapshots of
        # older catalogs hold NaN, which those refuse (CAST reads the leading digits)
        return [StudyPrototype(*row) for row in self.db.execute(
            "SELECT p.id, p.prototype_id, p.branch, p.class_code, p.position,"
            " CASE WHEN instr(p.row_json, ?) > 0 THEN CAST(substr(p.row_json,"
            " instr(p.row_json, ?) + ?, 20) AS INTEGER) ELSE 0 END"
            " FROM assignments a JOIN prototypes p ON p.id = a.prototype_pk"
            " WHERE a.reviewer_id = ?",
            [_USAGE_KEY, _USAGE_KEY, len(_USAGE_KEY), reviewer.id]).fetchall()]

    def is_assigned(self, reviewer: Reviewer, prototype_pk: int) -> bool:
        return bool(self.db["assignments"].count_where(
            "reviewer_id = ? AND prototype_pk = ?", [reviewer.id, prototype_pk]))

    def replace_assignments(self, study: Study, remove: Iterable[int],
                            add: Iterable[tuple[int, int]], detail: dict) -> None:
        """Delete the assignments ``remove`` (ids) and add ``add`` ((reviewer id, prototype
        pk) pairs, in this order), as one transaction."""
        with self._write("cli", "assign", study.id, detail):
            for assignment_id in remove:
                self.db.execute("DELETE FROM assignments WHERE id = ?", [assignment_id])
            self.db["assignments"].insert_all(
                {"study_id": study.id, "reviewer_id": reviewer_id, "prototype_pk": pk,
                 "created_at": now()} for reviewer_id, pk in add)

    # ----------------------------------------------------------------- answers
    def answered_pairs(self, study: Study) -> set[tuple[str, str]]:
        """(reviewer name, prototype_id) of every pair with any answer, even a cleared one."""
        rows = self.db.execute(
            "SELECT DISTINCT r.name, p.prototype_id FROM ("
            " SELECT reviewer_id, prototype_pk FROM ratings WHERE study_id = :s UNION"
            " SELECT reviewer_id, prototype_pk FROM flags WHERE study_id = :s UNION"
            " SELECT reviewer_id, prototype_pk FROM comments WHERE study_id = :s) a"
            " JOIN reviewers r ON r.id = a.reviewer_id JOIN prototypes p ON p.id = a.prototype_pk",
            {"s": study.id}).fetchall()
        return {(name, pid) for name, pid in rows}

    def latest_answers(self, of: Study | Reviewer) -> list[StoredAnswer]:
        """The latest revision of every answer of a study (all its reviewers) or of one
        reviewer, ratings first, then flags, then comments; cleared flags and empty comments
        included."""
        where, params = (("reviewer_id = :r", {"r": of.id}) if isinstance(of, Reviewer)
                         else ("study_id = :s", {"s": of.id}))
        out = []
        for kind, table in ANSWER_TABLES.items():
            rows = self.db.execute(
                f"SELECT t.reviewer_id, r.name, p.prototype_id, t.question, t.value,"
                f" t.revision, t.created_at FROM {table} t JOIN (SELECT reviewer_id,"
                f" prototype_pk, question, MAX(revision) AS revision FROM {table} WHERE {where}"
                f" GROUP BY reviewer_id, prototype_pk, question) m"
                f" USING (reviewer_id, prototype_pk, question, revision)"
                f" JOIN reviewers r ON r.id = t.reviewer_id"
                f" JOIN prototypes p ON p.id = t.prototype_pk", params).fetchall()
            out.extend(StoredAnswer(kind, *row) for row in rows)
        return out

    def write_answers(self, study: Study, reviewer: Reviewer, prototype_pk: int,
                      answers: Iterable[Answer], source: str, detail: dict) -> int:
        """Write one reviewer's validated answers to one prototype as one transaction: a new
        revision for each answer that differs from the current one. Returns how many."""
        with self._write(f"reviewer:{reviewer.id}", "save_answers", study.id, detail):
            return self._write_revisions(study.id, reviewer.id, prototype_pk, answers, source)

    def import_batch(self, study: Study, new_raters: dict[str, str],
                     new_assignments: dict[str, list[int]],
                     answers: Iterable[tuple[str, int, list[Answer]]], detail: dict) -> int:
        """One all-or-nothing import: add raters (name -> access code), assign them
        (name -> prototype pks), then write answers ((reviewer name, prototype pk, answers),
        as revisions where they differ from the current ones, ``source`` "import").
        Returns how many revisions were written."""
        written = 0
        with self._write("cli", "import_ratings", study.id, detail):
            ids = {r.name: r.id for r in self.reviewers(study)}
            for name, code in new_raters.items():
                ids[name] = self._insert_reviewer(study.id, name, "rater", code).id
                for pk in new_assignments.get(name, []):
                    self.db["assignments"].insert({"study_id": study.id,
                                                   "reviewer_id": ids[name],
                                                   "prototype_pk": pk, "created_at": now()})
            for name, pk, batch in answers:
                written += self._write_revisions(study.id, ids[name], pk, batch, "import")
        return written

    def _write_revisions(self, study_id: int, reviewer_id: int, pk: int,
                         answers: Iterable[Answer], source: str) -> int:
        """Insert a new revision for each answer that differs from the current one (inside
        the caller's transaction). An unset flag or empty comment is no answer."""
        written = 0
        for answer in answers:
            table = ANSWER_TABLES[answer.kind]
            current = self.db.execute(
                f"SELECT value, revision FROM {table} WHERE reviewer_id = ? AND prototype_pk = ?"
                f" AND question = ? ORDER BY revision DESC LIMIT 1",
                [reviewer_id, pk, answer.question]).fetchone()
            if current is None and table != "ratings" and answer.value in (0, ""):
                continue
            if current is not None and current[0] == answer.value:
                continue
            self.db.execute(
                f"INSERT INTO {table} (study_id, reviewer_id, prototype_pk, question, value,"
                f" revision, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [study_id, reviewer_id, pk, answer.question, answer.value,
                 (current[1] + 1) if current else 1, source, answer.answered_at or now()])
            written += 1
        return written

    # ------------------------------------------------------------------- audit
    # ---------------------------------------------------------------- consensus
    def write_consensus(self, study: Study, researcher: Reviewer, prototype_pk: int,
                        question: str, value: int | None, note: str) -> int:
        """A new revision of the consensus answer to ``question`` for one prototype (``value``
        None withdraws it); the raters' answers are not touched. Returns the revision."""
        with self._write(researcher.name, "consensus", study.id,
                         {"prototype_pk": prototype_pk, "question": question, "value": value}):
            revision = self.db.execute(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM consensus WHERE study_id = ? AND "
                "prototype_pk = ? AND question = ?", [study.id, prototype_pk, question]
            ).fetchone()[0]
            self.db["consensus"].insert({
                "study_id": study.id, "prototype_pk": prototype_pk, "question": question,
                "value": value, "note": note, "researcher_id": researcher.id,
                "revision": revision, "created_at": now()})
        return revision

    def latest_consensus(self, study: Study) -> list[dict]:
        """The current consensus per (prototype, question), withdrawn ones left out."""
        rows = self.db.execute(
            "SELECT p.prototype_id, c.question, c.value, c.note, r.name, c.revision,"
            " c.created_at FROM consensus c JOIN (SELECT prototype_pk, question,"
            " MAX(revision) AS revision FROM consensus WHERE study_id = :s"
            " GROUP BY prototype_pk, question) m USING (prototype_pk, question, revision)"
            " JOIN prototypes p ON p.id = c.prototype_pk"
            " JOIN reviewers r ON r.id = c.researcher_id"
            " WHERE c.study_id = :s AND c.value IS NOT NULL"
            " ORDER BY p.position, c.question", {"s": study.id}).fetchall()
        return [dict(zip(("prototype_id", "question", "value", "note", "researcher",
                          "revision", "decided_at"), row, strict=True)) for row in rows]

    def snapshot(self, destination: str | Path) -> Path:
        """A consistent copy of the whole database while raters keep saving (SQLite's online
        backup); ``destination`` must not exist yet."""
        destination = Path(destination)
        if destination.exists():
            raise StoreError(f"{destination}: already exists; choose a new file for the copy")
        target = sqlite3.connect(destination)
        try:
            self.db.conn.backup(target)
        finally:
            target.close()
        return destination

    def audit_log(self, study: Study | None = None) -> list[dict]:
        """Audit rows (id, at, study_id, actor, action, detail as a dict), oldest first; of
        one study, or all (including logins and study creation) when ``study`` is None."""
        where, params = ("study_id = ?", [study.id]) if study is not None else (None, None)
        return [{**row, "detail": json.loads(row["detail"] or "{}")}
                for row in self.db["audit"].rows_where(where, params, order_by="id")]

    def last_change(self) -> int:
        """The id of the latest audit row: it grows with every write (a cache key)."""
        return self.db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _study(row: dict) -> Study:
    return Study(row["id"], row["name"], Protocol.from_dict(json.loads(row["protocol_json"])),
                 row["catalog_path"], json.loads(row["catalog_json"] or "{}"),
                 row.get("previous_study_id"))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32))
    return buffer.getvalue()


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_USAGE_KEY = '"usage_decisions": '  # as json.dumps writes the snapshot rows
