"""The store's ratings layer: assignments, answers (append-only revisions; the current answer
is the highest), all-or-nothing import batches, and the researchers' consensus, kept apart
from the raters' answers."""

from __future__ import annotations

from collections.abc import Iterable

from protoecg.study.store.base import now
from protoecg.study.store.records import (
    Answer,
    AnswerConflict,
    Assignment,
    Reviewer,
    StoredAnswer,
    Study,
    StudyPrototype,
)
from protoecg.study.store.reviewers import ReviewerStatements

# kind of answer -> its table (ratings hold scale values, flags 1/0, comments text)
ANSWER_TABLES = {"rating": "ratings", "flag": "flags", "comment": "comments"}
_USAGE_KEY = '"usage_decisions": '  # as json.dumps writes the snapshot rows


class RatingStatements(ReviewerStatements):
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

    def answer_changes(self, study: Study) -> list[dict]:
        """Every answer that replaced an earlier one (revision 2 and later), newest first:
        who, which prototype and question, the value before and after, where the new one came
        from (``app``, ``import``) and when (the researcher's view of overwrites)."""
        out = []
        for kind, table in ANSWER_TABLES.items():
            rows = self.db.execute(
                f"SELECT r.name, p.prototype_id, t.question, o.value, t.value, t.revision,"
                f" t.source, t.created_at, o.created_at FROM {table} t"
                f" JOIN {table} o ON o.reviewer_id = t.reviewer_id AND"
                f" o.prototype_pk = t.prototype_pk AND o.question = t.question AND"
                f" o.revision = t.revision - 1"
                f" JOIN reviewers r ON r.id = t.reviewer_id"
                f" JOIN prototypes p ON p.id = t.prototype_pk"
                f" WHERE t.study_id = ? AND t.revision > 1", [study.id]).fetchall()
            out.extend(dict(zip(("reviewer", "prototype_id", "question", "before", "after",
                                 "revision", "source", "changed_at", "before_at"),
                                row, strict=True), kind=kind) for row in rows)
        return sorted(out, key=lambda change: change["changed_at"], reverse=True)

    def write_answers(self, study: Study, reviewer: Reviewer, prototype_pk: int,
                      answers: Iterable[Answer], source: str, detail: dict,
                      based_on: dict[str, int] | None = None) -> int:
        """Write one reviewer's validated answers to one prototype as one transaction: a new
        revision for each answer that differs from the current one. Returns how many.
        ``based_on`` (question -> the revision the rater saw, 0 for none): an answer that
        would replace a newer revision than that is a conflict, and nothing is written."""
        answers = list(answers)
        with self._write(f"reviewer:{reviewer.id}", "save_answers", study.id, detail):
            self._refuse_removed(reviewer)  # a tab left open after the removal
            if based_on is not None:
                self._refuse_conflicts(reviewer.id, prototype_pk, answers, based_on)
            return self._write_revisions(study.id, reviewer.id, prototype_pk, answers, source)

    def _refuse_conflicts(self, reviewer_id: int, pk: int, answers: list[Answer],
                          based_on: dict[str, int]) -> None:
        theirs = {}
        for answer in answers:
            current = self._current(answer, reviewer_id, pk)
            if current is not None and current[1] > based_on.get(answer.question, 0) \
                    and current[0] != answer.value:
                theirs[answer.question] = current[0]
        if theirs:
            raise AnswerConflict.changed(theirs, "card")

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

    def _current(self, answer: Answer, reviewer_id: int, pk: int) -> tuple | None:
        """(value, revision) of the reviewer's current answer to ``answer``'s question."""
        return self.db.execute(
            f"SELECT value, revision FROM {ANSWER_TABLES[answer.kind]} WHERE reviewer_id = ?"
            f" AND prototype_pk = ? AND question = ? ORDER BY revision DESC LIMIT 1",
            [reviewer_id, pk, answer.question]).fetchone()

    def _write_revisions(self, study_id: int, reviewer_id: int, pk: int,
                         answers: Iterable[Answer], source: str) -> int:
        """Insert a new revision for each answer that differs from the current one (inside
        the caller's transaction). An unset flag or empty comment is no answer."""
        written = 0
        for answer in answers:
            table = ANSWER_TABLES[answer.kind]
            current = self._current(answer, reviewer_id, pk)
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
