"""Assignments, the rater's queue, saving answers (append-only), status, CSV import/export."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from protoecg.review.assignment import plan_assignment, queue_order
from protoecg.review.protocol import ProtocolError
from protoecg.review.store import (
    MODEL_SCORE_COLUMNS,
    AuthError,
    Reviewer,
    ReviewStore,
    StoreError,
    Study,
    new_code,
    now,
)

# long form, one row per current answer; `answered_at` survives an import, so export -> import
# -> export gives the same file
CSV_COLUMNS = ("reviewer", "prototype_id", "question", "answer", "answered_at")


@dataclass(frozen=True)
class QueueItem:
    prototype_id: str
    class_code: str
    position: int  # 1-based place in this rater's queue
    complete: bool  # every required question answered


def _group(study: Study, row: dict) -> str:
    return {"class": row["class_code"], "branch": row["branch"]}.get(
        study.protocol.group_by, "")


def assign(store: ReviewStore, study: Study, k: int | None = None) -> dict:
    """(Re)assign the study's prototypes to its raters, K each.

    Assignments that already have an answer are kept; the others are planned afresh, so adding a
    rater spreads the unrated work without touching anything rated.
    """
    k = k or study.protocol.raters_per_prototype
    if k < 1:
        raise StoreError("raters per prototype must be at least 1")
    raters = [r for r in store.reviewers(study) if r.role == "rater"]
    if not raters:
        raise StoreError(f"study {study.name!r} has no raters; add some with "
                         "`protoecg study add-reviewer --role rater`")
    prototypes = {r["prototype_id"]: r["id"] for r in store.db["prototypes"].rows_where(
        "study_id = ?", [study.id], select="id, prototype_id")}
    by_id = {r.id: r.name for r in raters}
    existing = {(by_id.get(r["reviewer_id"]), r["prototype_pk"]): r["id"] for r in
                store.db["assignments"].rows_where("study_id = ?", [study.id])}
    answered = _answered_pairs(store, study)
    pk_to_pid = {pk: pid for pid, pk in prototypes.items()}
    fixed = {(name, pk_to_pid[pk]) for (name, pk) in existing if (name, pk) in answered}
    plan = plan_assignment(list(prototypes), [r.name for r in raters], k, study.protocol.seed,
                           fixed)
    wanted = {(name, prototypes[pid]) for name, pid in plan}
    rater_ids = {r.name: r.id for r in raters}
    remove = [aid for pair, aid in existing.items() if pair not in wanted]
    add = [pair for pair in wanted if pair not in existing]
    with store._write("cli", "assign", study.id, {"k": k, "added": len(add),
                                                   "removed": len(remove)}):
        for aid in remove:
            store.db.execute("DELETE FROM assignments WHERE id = ?", [aid])
        store.db["assignments"].insert_all(
            {"study_id": study.id, "reviewer_id": rater_ids[name], "prototype_pk": pk,
             "created_at": now()} for name, pk in sorted(add))
    return {"raters_per_prototype": min(k, len(raters)), "raters": len(raters),
            "assignments": len(wanted), "added": len(add), "removed": len(remove),
            "kept": len(existing) - len(remove)}


def _answered_pairs(store: ReviewStore, study: Study) -> set[tuple[str, int]]:
    rows = store.db.execute(
        "SELECT DISTINCT r.name, a.prototype_pk FROM ("
        " SELECT reviewer_id, prototype_pk FROM ratings WHERE study_id = :s UNION"
        " SELECT reviewer_id, prototype_pk FROM flags WHERE study_id = :s UNION"
        " SELECT reviewer_id, prototype_pk FROM comments WHERE study_id = :s) a"
        " JOIN reviewers r ON r.id = a.reviewer_id", {"s": study.id}).fetchall()
    return {(name, pk) for name, pk in rows}


def _current(store: ReviewStore, table: str, where: str, params: dict) -> list[tuple]:
    """Latest revision per (reviewer, prototype, question) of one answer table."""
    return store.db.execute(
        f"SELECT t.reviewer_id, t.prototype_pk, t.question, t.value, t.revision, t.created_at"
        f" FROM {table} t JOIN (SELECT reviewer_id, prototype_pk, question,"
        f" MAX(revision) AS revision FROM {table} WHERE {where}"
        f" GROUP BY reviewer_id, prototype_pk, question) m"
        f" USING (reviewer_id, prototype_pk, question, revision)", params).fetchall()


def reviewer_answers(store: ReviewStore, reviewer: Reviewer) -> dict[str, dict]:
    """prototype_id -> {question: current answer} for this reviewer only."""
    names = dict(store.db.execute("SELECT id, prototype_id FROM prototypes WHERE study_id = ?",
                                  [reviewer.study_id]).fetchall())
    out: dict[str, dict] = {}
    for table in ("ratings", "flags", "comments"):
        for _, pk, question, value, _, _ in _current(store, table, "reviewer_id = :r",
                                                     {"r": reviewer.id}):
            out.setdefault(names[pk], {})[question] = bool(value) if table == "flags" \
                else value
    return out


def queue(store: ReviewStore, reviewer: Reviewer) -> list[QueueItem]:
    """The reviewer's assigned prototypes in their review order, with completion."""
    study = store.study_of(reviewer)
    rows = store.db.execute(
        "SELECT p.prototype_id, p.class_code, p.branch FROM assignments a"
        " JOIN prototypes p ON p.id = a.prototype_pk WHERE a.reviewer_id = ?",
        [reviewer.id]).fetchall()
    info = {pid: {"class_code": c, "branch": b} for pid, c, b in rows}
    order = queue_order(reviewer.name, [(pid, _group(study, row)) for pid, row in info.items()],
                        study.protocol.seed, study.protocol.shuffle)
    answers = reviewer_answers(store, reviewer)
    required = [q.id for q in study.protocol.questions if q.required]
    return [QueueItem(pid, info[pid]["class_code"], i + 1,
                      all(q in answers.get(pid, {}) for q in required))
            for i, pid in enumerate(order)]


def next_item(store: ReviewStore, reviewer: Reviewer) -> QueueItem | None:
    """The first incomplete prototype in the reviewer's queue (None when all are done)."""
    return next((item for item in queue(store, reviewer) if not item.complete), None)


def progress(store: ReviewStore, reviewer: Reviewer) -> tuple[int, int]:
    items = queue(store, reviewer)
    return sum(item.complete for item in items), len(items)


def card(store: ReviewStore, reviewer: Reviewer, prototype_id: str) -> dict:
    """What the reviewer may see of one prototype: the catalog snapshot (model scores removed
    under blinding) and the reviewer's own current answers, never another rater's."""
    study = store.study_of(reviewer)
    pk = store.prototype_pk(study, prototype_id)
    if reviewer.role == "rater":
        _require_assigned(store, reviewer, pk, prototype_id)
    row = json.loads(store.db["prototypes"].get(pk)["row_json"])
    if study.protocol.blind_model_scores and reviewer.role == "rater":
        for column in MODEL_SCORE_COLUMNS:
            row.pop(column, None)
        for neighbour in row.get("neighbours", []):
            neighbour.pop("similarity", None)
    return {"prototype": row, "answers": reviewer_answers(store, reviewer).get(prototype_id, {})}


def _require_assigned(store, reviewer: Reviewer, pk: int, prototype_id: str) -> None:
    if not store.db["assignments"].count_where("reviewer_id = ? AND prototype_pk = ?",
                                               [reviewer.id, pk]):
        raise AuthError(f"reviewer {reviewer.name!r} is not assigned prototype {prototype_id!r}")


def _validate(study: Study, question: str, value):
    """(table, stored value) for one answer; StoreError naming what is wrong."""
    protocol = study.protocol
    if question == "comment":
        if not protocol.comment_enabled:
            raise StoreError(f"protocol {protocol.id} has no comment field")
        if value is not None and not isinstance(value, str):
            raise StoreError(f"comment must be text, got {value!r}")
        return "comments", (value or "").strip()
    if question in {f.id for f in protocol.flags}:
        if value in (True, 1, "1", "true", "yes"):
            return "flags", 1
        if value in (False, 0, "0", "false", "no", None, ""):
            return "flags", 0
        raise StoreError(f"flag {question!r} takes 1 or 0, got {value!r}")
    try:
        q = protocol.question(question)
    except ProtocolError as exc:
        raise StoreError(str(exc)) from None
    try:
        number = int(value)
        if str(value).strip() not in (str(number), f"{number}.0"):
            raise ValueError
    except (TypeError, ValueError):
        raise StoreError(f"answer to {question!r} must be one of {q.values}, got {value!r}"
                         ) from None
    if number not in q.values:
        raise StoreError(f"answer to {question!r} must be one of {q.values} "
                         f"({q.scale[0].label} … {q.scale[-1].label}), got {number}")
    return "ratings", number


def _store_answers(store: ReviewStore, study: Study, reviewer_id: int, pk: int,
                   answers: dict, source: str, answered_at: dict | None = None) -> int:
    """Insert a new revision for each answer that differs from the current one (inside the
    caller's transaction). Returns how many revisions were written."""
    written = 0
    for question, value in answers.items():
        table, stored = _validate(study, question, value)
        current = store.db.execute(
            f"SELECT value, revision FROM {table} WHERE reviewer_id = ? AND prototype_pk = ?"
            f" AND question = ? ORDER BY revision DESC LIMIT 1",
            [reviewer_id, pk, question]).fetchone()
        if current is None and table != "ratings" and stored in (0, ""):
            continue  # an unset flag or empty comment is not an answer
        if current is not None and current[0] == stored:
            continue
        store.db.execute(
            f"INSERT INTO {table} (study_id, reviewer_id, prototype_pk, question, value,"
            f" revision, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [study.id, reviewer_id, pk, question, stored,
             (current[1] + 1) if current else 1, source,
             (answered_at or {}).get(question) or now()])
        written += 1
    return written


def save_answers(store: ReviewStore, reviewer: Reviewer, prototype_id: str, answers: dict,
                 source: str = "app") -> int:
    """Save a reviewer's answers to one assigned prototype, as one transaction.

    ``answers``: question id -> scale value, flag id -> bool, ``comment`` -> text. Unchanged
    answers write nothing; changed ones add a revision (history is never overwritten).
    """
    if reviewer.role != "rater":
        raise AuthError(f"{reviewer.name!r} is a {reviewer.role}; only raters answer")
    study = store.study_of(reviewer)
    pk = store.prototype_pk(study, prototype_id)
    _require_assigned(store, reviewer, pk, prototype_id)
    for question, value in answers.items():  # validate everything before writing anything
        _validate(study, question, value)
    with store._write(f"reviewer:{reviewer.id}", "save_answers", study.id,
                      {"prototype_id": prototype_id, "questions": sorted(answers)}):
        return _store_answers(store, study, reviewer.id, pk, answers, source)


def current_answers(store: ReviewStore, study: Study) -> pd.DataFrame:
    """The study's current answers in long form (researchers and statistics only)."""
    reviewers = {r.id: r.name for r in store.reviewers(study)}
    names = dict(store.db.execute("SELECT id, prototype_id FROM prototypes WHERE study_id = ?",
                                  [study.id]).fetchall())
    rows = []
    for table in ("ratings", "flags", "comments"):
        for rid, pk, question, value, revision, at in _current(
                store, table, "study_id = :s", {"s": study.id}):
            if table == "flags" and value == 0:
                continue  # a cleared flag is no answer
            if table == "comments" and value == "":
                continue
            rows.append({"reviewer": reviewers[rid], "prototype_id": names[pk],
                         "question": question, "answer": value, "revision": revision,
                         "answered_at": at})
    frame = pd.DataFrame(rows, columns=[*CSV_COLUMNS[:4], "revision", "answered_at"])
    return frame.sort_values(["reviewer", "prototype_id", "question"], kind="stable",
                             ignore_index=True)


def status(store: ReviewStore, study: Study) -> dict:
    reviewers = store.reviewers(study)
    n_prototypes = store.db["prototypes"].count_where("study_id = ?", [study.id])
    n_assign = store.db["assignments"].count_where("study_id = ?", [study.id])
    answers = current_answers(store, study)
    required = {q.id for q in study.protocol.questions if q.required}
    rated = answers[answers["question"].isin(required)]
    per_pair = rated.groupby(["reviewer", "prototype_id"])["question"].nunique()
    complete = int((per_pair == len(required)).sum())
    per_rater = {}
    for r in reviewers:
        if r.role == "rater":
            done, total = progress(store, r)
            per_rater[r.name] = {"complete": done, "assigned": total}
    return {
        "study": study.name, "protocol": study.protocol.id, "prototypes": n_prototypes,
        "reviewers": len(reviewers), "raters": sum(r.role == "rater" for r in reviewers),
        "assignments": n_assign,
        "ratings": int(answers["question"].isin(required).sum()),
        "flags": int((~answers["question"].isin(required | {"comment"})).sum()),
        "comments": int((answers["question"] == "comment").sum()),
        "complete": complete / n_assign if n_assign else 0.0,
        "per_rater": per_rater, "schema_version": store.schema_version,
    }


def export_ratings(store: ReviewStore, study: Study, path: str | Path) -> int:
    """Write the current answers as long-form CSV; returns the number of rows."""
    frame = current_answers(store, study)[list(CSV_COLUMNS)]
    frame.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return len(frame)


def import_ratings(store: ReviewStore, study: Study, path: str | Path,
                   create_reviewers: bool = False) -> dict:
    """Import long-form answers (``reviewer,prototype_id,question,answer`` at least), all or
    nothing. Answers equal to the current ones are skipped, so re-importing an export changes
    nothing. With ``create_reviewers`` unknown reviewers become raters assigned to what they
    rated (their access codes are returned)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in ("reviewer", "prototype_id", "question", "answer")
               if c not in frame.columns]
    if missing:
        raise StoreError(f"{path}: missing column(s) {', '.join(missing)} (expected at least "
                         "reviewer,prototype_id,question,answer)")
    known = {r.name: r for r in store.reviewers(study)}
    pks = dict(store.db.execute("SELECT prototype_id, id FROM prototypes WHERE study_id = ?",
                                [study.id]).fetchall())
    assigned = {(r, p) for r, p in store.db.execute(
        "SELECT reviewer_id, prototype_pk FROM assignments WHERE study_id = ?", [study.id])}
    new_reviewers = sorted(set(frame["reviewer"]) - set(known))
    for line, row in enumerate(frame.itertuples(index=False), start=2):
        where = f"{path} line {line}"
        if row.prototype_id not in pks:
            raise StoreError(f"{where}: unknown prototype_id {row.prototype_id!r}")
        if row.reviewer in known:
            reviewer = known[row.reviewer]
            if reviewer.role != "rater":
                raise StoreError(f"{where}: {row.reviewer!r} is a {reviewer.role}, not a rater")
            if (reviewer.id, pks[row.prototype_id]) not in assigned:
                raise StoreError(f"{where}: reviewer {row.reviewer!r} is not assigned "
                                 f"{row.prototype_id!r}")
        elif not create_reviewers:
            raise StoreError(f"{where}: unknown reviewer {row.reviewer!r} (pass "
                             "--create-reviewers to add the reviewers the file names)")
        try:
            value = row.answer if row.question == "comment" else row.answer.strip()
            _validate(study, row.question, value)
        except StoreError as exc:
            raise StoreError(f"{where}: {exc}") from None
    codes: dict[str, str] = {}
    written = 0
    with store._write("cli", "import_ratings", study.id, {"file": str(path),
                                                           "rows": len(frame)}):
        for name in new_reviewers:
            codes[name] = new_code()
            known[name] = store.insert_reviewer(study.id, name, "rater", codes[name])
            for pid in sorted(set(frame.loc[frame["reviewer"] == name, "prototype_id"])):
                store.db["assignments"].insert({"study_id": study.id,
                                                "reviewer_id": known[name].id,
                                                "prototype_pk": pks[pid],
                                                "created_at": now()})
        for (name, pid), group in frame.groupby(["reviewer", "prototype_id"], sort=False):
            answers = {q: (a if q == "comment" else a.strip())
                       for q, a in zip(group["question"], group["answer"], strict=True)}
            stamps = (dict(zip(group["question"], group["answered_at"], strict=True))
                      if "answered_at" in group else None)
            written += _store_answers(store, study, known[name].id, pks[pid], answers,
                                      "import", stamps)
    return {"rows": len(frame), "revisions_written": written,
            "reviewers_created": codes}
