"""The store's first layer: opening a review database (create / write / read modes, foreign
files refused before any write), migrating it, and the one kind of write there is: a
``BEGIN IMMEDIATE`` transaction behind the writers' file lock, with its audit row."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from sqlite_utils import Database

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from protoecg.study.schema import MIGRATIONS, STEPS
from protoecg.study.store.records import StoreError, Study

BUSY_TIMEOUT_S = 30.0
STORE_MODES = ("create", "write", "read")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"


class StoreBase:
    """The connection, its migration and its transactions (``ReviewStore`` documents the
    modes)."""

    def __init__(self, path: str | Path, mode: str = "create"):
        self.path = Path(path)
        self.mode = mode
        exists = _check_path(self.path, mode)
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
        # sqlite-utils' public Migrations API only: applied / pending / apply
        try:
            applied = {m.name for m in MIGRATIONS.applied(self.db)}
            pending = MIGRATIONS.pending(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite database ({exc})") from None
        newer = applied - {step.__name__ for step in STEPS}
        if newer:
            raise StoreError(
                f"{self.path}: database schema is newer than this protoecg (it has migration "
                f"{sorted(newer)[0]!r}); upgrade protoecg to open it")
        if not pending:
            return
        if self.mode == "read":
            raise StoreError(f"{self.path}: its schema is older than this protoecg; a command "
                             "that writes (e.g. `protoecg review serve`) upgrades it first")
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self, actor: str, action: str, study_id: int | None, detail: dict
               ) -> Iterator[None]:
        """One transaction with its audit row; rolled back whole on any error."""
        conn = self.db.conn
        with _writer_queue(self.path):
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


def _check_path(path: Path, mode: str) -> bool:
    """Whether the database file exists; StoreError for a folder, a missing file outside
    ``create`` mode, or an empty file (never a review database)."""
    if mode not in STORE_MODES:
        raise ValueError(f"unknown store mode {mode!r}")
    if path.exists() and path.is_dir():
        raise StoreError(f"{path}: is a folder, expected a database file")
    exists = path.is_file()
    if not exists and mode != "create":
        raise StoreError(f"{path}: no such review database (`protoecg study create` makes one)")
    if exists and path.stat().st_size == 0:
        raise StoreError(f"{path}: an empty file, not a review database (give "
                         "`protoecg study create` a path that does not exist yet)")
    return exists


@contextmanager
def _writer_queue(path: Path) -> Iterator[None]:
    """Writers wait their turn on an exclusive lock of ``<db>.lock`` (the kernel wakes the
    next one the moment the lock is free) before taking SQLite's write lock, whose busy
    handler polls with sleeps of up to 100 ms: with 20 raters saving at once that polling,
    not the writes, made the slowest saves. Where ``fcntl`` does not exist, SQLite's busy
    handler alone orders the writers."""
    if fcntl is None or os.environ.get("PROTOECG_NO_WRITER_QUEUE"):
        yield
        return
    try:
        handle = open(f"{path}.lock", "a")  # noqa: SIM115 - closed below
    except OSError:  # a read-only folder: BEGIN IMMEDIATE will say so
        yield
        return
    with handle:  # closing the file releases the lock
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
