"""The review store: one SQLite database (through sqlite-utils) holding studies, reviewers,
prototype snapshots, assignments, answers (append-only revisions) and an audit log.

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
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from protoecg.catalog.reader import Catalog
from protoecg.errors import ProtoECGError
from protoecg.review.protocol import Protocol
from protoecg.review.schema import MIGRATIONS

ROLES = ("rater", "researcher")
ANSWER_TABLES = {"rating": "ratings", "flag": "flags", "comment": "comments"}
# columns a blinded rater never sees (model scores)
MODEL_SCORE_COLUMNS = ("similarity", "catalog_similarity")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes get read aloud
BUSY_TIMEOUT_S = 30.0


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


@dataclass(frozen=True)
class Reviewer:
    id: int
    study_id: int
    name: str
    role: str


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"


def hash_code(code: str, salt: str) -> str:
    """scrypt of the normalised code: slow to brute-force, salted per reviewer."""
    normal = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.scrypt(normal.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1,
                          dklen=32).hex()


def new_code() -> str:
    """``XXXX-XXXX-XXXX`` from an unambiguous alphabet (about 60 bits)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def code_prefix(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")[:4]


class ReviewStore:
    """Open (and create or migrate) a review database."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, expected a database file")
        try:
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite database ({exc})") from None
        self.db = Database(conn)
        self._migrate()

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
        if not applied and self.db.table_names() and "studies" not in self.db.table_names():
            raise StoreError(f"{self.path}: not a protoecg review database "
                             f"(tables: {', '.join(self.db.table_names()[:5])})")
        if MIGRATIONS.pending(self.db):
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
        conn.execute("BEGIN IMMEDIATE")
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
    def create_study(self, name: str, protocol: Protocol, catalog: Catalog) -> Study:
        """A new study rating every prototype of ``catalog`` under ``protocol``."""
        name = name.strip()
        if not name:
            raise StoreError("study name is empty")
        if self.db["studies"].count_where("name = ?", [name]):
            raise StoreError(f"study {name!r} already exists in {self.path}")
        neighbours = {pid: rows.drop(columns=["prototype_id"]).to_dict("records")
                      for pid, rows in catalog.neighbours.groupby("prototype_id")}
        used = set(catalog.prototypes["signal_index"]) | set(catalog.neighbours["signal_index"])
        with self._write("cli", "create_study", None, {"name": name, "catalog":
                                                         str(catalog.path)}):
            study_id = self.db["studies"].insert({
                "name": name, "protocol_id": protocol.id,
                "protocol_json": json.dumps(protocol.to_dict()),
                "catalog_path": str(catalog.path.resolve()),
                "catalog_json": json.dumps(catalog.meta), "created_at": now(),
            }).last_pk
            rows = []
            for position, row in enumerate(catalog.prototypes.to_dict("records")):
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
        """The study a reviewer belongs to."""
        return _study(self.db["studies"].get(reviewer.study_id))

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
        if self.db["reviewers"].count_where("study_id = ? AND name = ?", [study.id, name]):
            raise StoreError(f"study {study.name!r} already has a reviewer named {name!r}")
        code = code or new_code()
        if len(code.replace("-", "").strip()) < 8:
            raise StoreError("an access code needs at least 8 characters")
        if self._match_code(code) is not None:
            raise AuthError("this access code is already in use; choose another")
        with self._write("cli", "add_reviewer", study.id, {"name": name, "role": role}):
            reviewer = self.insert_reviewer(study.id, name, role, code)
        return reviewer, code

    def insert_reviewer(self, study_id: int, name: str, role: str, code: str) -> Reviewer:
        """The reviewer row with its salted code hash (inside the caller's transaction)."""
        salt = secrets.token_hex(16)
        reviewer_id = self.db["reviewers"].insert({
            "study_id": study_id, "name": name, "role": role,
            "code_prefix": code_prefix(code), "code_salt": salt,
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

    def _match_code(self, code: str) -> dict | None:
        for row in self.db["reviewers"].rows_where("code_prefix = ?", [code_prefix(code)]):
            if row["code_hash"] and hmac.compare_digest(
                    row["code_hash"], hash_code(code, row["code_salt"])):
                return row
        return None

    def authenticate(self, code: str, throttle_key: str = "global", max_failures: int = 5,
                     window_s: float = 300.0) -> tuple[Study, Reviewer]:
        """The study and reviewer an access code belongs to.

        After ``max_failures`` wrong codes from ``throttle_key`` within ``window_s`` seconds,
        further attempts are refused until the window passes (codes cannot be guessed fast).
        """
        since = time.time() - window_s
        failures = self.db.execute(
            "SELECT COUNT(*) FROM login_failures WHERE key = ? AND at > ?",
            [throttle_key, since]).fetchone()[0]
        if failures >= max_failures:
            raise AuthError(f"too many wrong codes; try again in {int(window_s // 60)} minutes")
        row = self._match_code(code) if code and code.strip() else None
        if row is None:
            with self._write("anonymous", "login_failed", None, {"key": throttle_key}):
                self.db["login_failures"].insert({"at": time.time(), "key": throttle_key})
            raise AuthError("unknown access code")
        study = _study(self.db["studies"].get(row["study_id"]))
        return study, Reviewer(row["id"], row["study_id"], row["name"], row["role"])

    # ------------------------------------------------------------- signals, rows
    def signal(self, study: Study, signal_index: int) -> np.ndarray:
        row = self.db.execute("SELECT npy FROM signals WHERE study_id = ? AND signal_index = ?",
                              [study.id, int(signal_index)]).fetchone()
        if row is None:
            raise StoreError(f"study {study.name!r} holds no signal {signal_index}")
        return np.load(io.BytesIO(row[0]))

    def prototype_pk(self, study: Study, prototype_id: str) -> int:
        row = self.db.execute("SELECT id FROM prototypes WHERE study_id = ? AND prototype_id = ?",
                              [study.id, prototype_id]).fetchone()
        if row is None:
            raise StoreError(f"study {study.name!r} has no prototype {prototype_id!r}")
        return row[0]


def _study(row: dict) -> Study:
    return Study(row["id"], row["name"], Protocol.from_dict(json.loads(row["protocol_json"])),
                 row["catalog_path"], json.loads(row["catalog_json"] or "{}"))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32))
    return buffer.getvalue()


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
