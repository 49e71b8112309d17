"""The store's studies layer: a study with the catalog rows and signals it froze at creation,
its prototypes, consistent copies of the database and the audit log."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np

from protoecg.catalog.reader import Catalog
from protoecg.study.protocol import Protocol
from protoecg.study.store.base import StoreBase, now
from protoecg.study.store.records import (
    Reviewer,
    StoreError,
    Study,
    StudyPrototype,
    valid_name,
)


class StudyStatements(StoreBase):
    def create_study(self, name: str, protocol: Protocol, catalog: Catalog,
                     previous: Study | None = None,
                     prototype_ids: list[str] | None = None) -> Study:
        """A new study rating the prototypes of ``catalog`` (all, or ``prototype_ids``) under
        ``protocol``; ``previous``: the study this one is the next round of."""
        name = self._new_study_name(name)
        rows, signals = _prototype_rows(catalog, prototype_ids, name)
        with self._write("cli", "create_study", None, {
                "name": name, "catalog": str(catalog.path), "prototypes": len(rows),
                "previous": previous.name if previous else None}):
            study_id = self.db["studies"].insert({
                "name": name, "protocol_id": protocol.id,
                "protocol_json": json.dumps(protocol.to_dict()),
                "catalog_path": str(catalog.path.resolve()),
                "catalog_json": json.dumps(catalog.meta), "created_at": now(),
                "previous_study_id": previous.id if previous else None,
            }).last_pk
            self.db["prototypes"].insert_all({"study_id": study_id, **row} for row in rows)
            self.db["signals"].insert_all(
                {"study_id": study_id, "signal_index": i, "npy": npy_bytes(catalog.signal(i))}
                for i in signals)
        return self.study(name)

    def _new_study_name(self, name: str) -> str:
        """``name`` checked for a new study: valid and not taken."""
        name = valid_name("study", name)
        if self.db["studies"].count_where("name = ?", [name]):
            raise StoreError(f"study {name!r} already exists in {self.path}")
        return name

    def study(self, name: str, kind: str | None = None) -> Study:
        """The study ``name``; with ``kind`` ("rating" or "comparison") a study of another
        kind is refused in the words of what was asked for."""
        rows = list(self.db["studies"].rows_where("name = ?", [name]))
        if not rows:
            names = [r["name"] for r in self.db["studies"].rows]
            raise StoreError(f"no study {name!r} in {self.path}"
                             + (f" (studies: {', '.join(names)})" if names else " (no studies)"))
        study = Study.from_row(rows[0])
        if kind is not None and study.kind != kind:
            what = {"rating": "a prototype rating study",
                    "comparison": "a blind A/B comparison study"}
            raise StoreError(f"study {name!r} is {what.get(study.kind, study.kind)}; "
                             f"{what.get(kind, kind)} is needed here")
        return study

    def study_of(self, reviewer: Reviewer) -> Study:
        """The study a reviewer belongs to (studies never change after creation, so each is
        read and its protocol parsed once per connection: a save no longer re-parses it)."""
        if reviewer.study_id not in self._study_cache:
            self._study_cache[reviewer.study_id] = self.study_by_id(reviewer.study_id)
        return self._study_cache[reviewer.study_id]

    def study_by_id(self, study_id: int) -> Study:
        return Study.from_row(self.db["studies"].get(study_id))

    def studies(self) -> list[Study]:
        return [Study.from_row(r) for r in self.db["studies"].rows_where(order_by="id")]

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

    # --------------------------------------------------------- copies, audit
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


def _prototype_rows(catalog: Catalog, prototype_ids: list[str] | None,
                    study_name: str) -> tuple[list[dict], list[int]]:
    """What a study freezes of its catalog: the ``prototypes`` rows (without their study) of
    the prototypes it rates (all, or ``prototype_ids``) in catalog order, each catalog row
    with its nearest neighbours, and the indices of the signals they show."""
    table = catalog.prototypes
    if prototype_ids is not None:
        unknown = sorted(set(prototype_ids) - set(table["prototype_id"]))
        if unknown:
            raise StoreError(f"{catalog.path}: no prototype {unknown[0]!r}")
        table = table[table["prototype_id"].isin(prototype_ids)]
        if table.empty:
            raise StoreError(f"study {study_name!r} would rate no prototype")
    kept = set(table["prototype_id"])
    rated_neighbours = catalog.neighbours[catalog.neighbours["prototype_id"].isin(kept)]
    neighbours = {pid: rows.drop(columns=["prototype_id"]).to_dict("records")
                  for pid, rows in rated_neighbours.groupby("prototype_id")}
    rows = []
    for position, row in enumerate(table.to_dict("records")):
        snapshot = {**row, "neighbours": neighbours.get(row["prototype_id"], [])}
        rows.append({
            "prototype_id": row["prototype_id"], "branch": row["branch"],
            "class_code": row["class_code"], "class_description": row["class_description"],
            "position": position, "signal_index": int(row["signal_index"]),
            "row_json": json.dumps(snapshot, default=_json_default),
        })
    used = set(table["signal_index"]) | set(rated_neighbours["signal_index"])
    return rows, sorted(int(i) for i in used)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32))
    return buffer.getvalue()


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
