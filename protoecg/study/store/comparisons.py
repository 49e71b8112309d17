"""The store's comparison layer (issue 32): blind A/B comparison studies, their cases, the key
kept apart from them, and the raters' answers as revisions."""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from protoecg.study.codes import new_code
from protoecg.study.comparison_protocol import ComparisonProtocol
from protoecg.study.store.base import now
from protoecg.study.store.ratings import RatingStatements
from protoecg.study.store.records import (
    AnswerConflict,
    Reviewer,
    StoreError,
    Study,
)
from protoecg.study.store.studies import npy_bytes


class ComparisonStatements(RatingStatements):
    def import_comparison(self, name: str, protocol: ComparisonProtocol,
                          key: Iterable[tuple[str, str, str, str]],
                          answers: Iterable[tuple[str, str, str, str]], detail: dict) -> Study:
        """One all-or-nothing import of a comparison study run elsewhere: the study, its cases
        and key (``case_id, label, A model, B model``), a rater per reviewer named in the
        answers (an access code nobody is shown; a new one can be issued), and the answers
        (``reviewer, case_id, question, answer``, checked by the caller) as revision 1."""
        name = self._new_study_name(name)
        with self._write("cli", "import_comparison", None, {"name": name, **detail}):
            study_id, cases = self._insert_comparison(
                name, protocol, ((case_id, label, a, b, None) for case_id, label, a, b in key),
                {})
            raters = {}
            for reviewer, case_id, question, answer in answers:
                if reviewer not in raters:
                    raters[reviewer] = self._insert_reviewer(study_id, reviewer, "rater",
                                                             new_code()).id
                self.db["comparison_answers"].insert({
                    "study_id": study_id, "reviewer_id": raters[reviewer],
                    "case_pk": cases[case_id], "question": question, "value": answer,
                    "revision": 1, "source": "import", "created_at": now()})
        return self.study(name)

    def create_comparison(self, name: str, protocol: ComparisonProtocol, cases: list[dict],
                          signals: list[np.ndarray], detail: dict) -> Study:
        """A new comparison study made here (``study/comparison.py`` builds its rows): per case
        ``case_id``, ``label``, ``A`` and ``B`` (the models, kept in the key) and ``card`` (what
        the card shows, by letter); ``signals`` the ECGs the cards draw, by index."""
        name = self._new_study_name(name)
        with self._write("cli", "create_comparison", None, {"name": name, **detail}):
            study_id, _ = self._insert_comparison(
                name, protocol, ((c["case_id"], c["label"], c["A"], c["B"], c["card"])
                                 for c in cases), detail)
            self.db["signals"].insert_all(
                {"study_id": study_id, "signal_index": i, "npy": npy_bytes(signal)}
                for i, signal in enumerate(signals))
        return self.study(name)

    def _insert_comparison(self, name: str, protocol: ComparisonProtocol,
                           cases: Iterable[tuple], detail: dict) -> tuple[int, dict[str, int]]:
        """The study row, its cases (``case_id, label, A model, B model, card or None``) and
        the key apart, inside the caller's transaction; (study id, case_id -> case pk)."""
        study_id = self.db["studies"].insert({
            "name": name, "protocol_id": protocol.id,
            "protocol_json": json.dumps(protocol.to_dict()), "catalog_path": "",
            "catalog_json": json.dumps(detail), "created_at": now(),
            "kind": "comparison"}).last_pk
        pks = {}
        for position, (case_id, label, model_a, model_b, card) in enumerate(cases):
            pks[case_id] = self.db["comparison_cases"].insert({
                "study_id": study_id, "case_id": case_id, "label": label,
                "position": position,
                "row_json": None if card is None else json.dumps(card)}).last_pk
            self.db["comparison_key"].insert({"case_pk": pks[case_id], "model_a": model_a,
                                              "model_b": model_b})
        return study_id, pks

    def comparison_cards(self, study: Study) -> list[dict]:
        """What each case's card shows (no model names): case_id, label and the card's rows,
        in case order."""
        self._require_comparison(study)
        return [{"case_id": case_id, "label": label, **json.loads(row or "{}")}
                for case_id, label, row in self.db.execute(
                    "SELECT case_id, label, row_json FROM comparison_cases WHERE study_id = ?"
                    " ORDER BY position", [study.id]).fetchall()]

    def comparison_key(self, study: Study) -> list[tuple[str, str, str, str]]:
        """The key of a comparison study: (case_id, label, A model, B model) in case order.
        For reports only: a rater's page never calls it."""
        self._require_comparison(study)
        return [tuple(row) for row in self.db.execute(
            "SELECT c.case_id, c.label, k.model_a, k.model_b FROM comparison_cases c"
            " JOIN comparison_key k ON k.case_pk = c.id WHERE c.study_id = ?"
            " ORDER BY c.position", [study.id]).fetchall()]

    def comparison_answers(self, study: Study) -> list[tuple[str, str, str, str]]:
        """The current answers of a comparison study: (reviewer, case_id, question, answer);
        comments left out (they are no statistic's)."""
        self._require_comparison(study)
        return [tuple(row) for row in self.db.execute(
            "SELECT r.name, c.case_id, a.question, a.value FROM comparison_answers a"
            " JOIN (SELECT reviewer_id, case_pk, question, MAX(revision) AS revision"
            " FROM comparison_answers WHERE study_id = :s GROUP BY reviewer_id, case_pk,"
            " question) m USING (reviewer_id, case_pk, question, revision)"
            " JOIN reviewers r ON r.id = a.reviewer_id"
            " JOIN comparison_cases c ON c.id = a.case_pk WHERE a.question != 'comment'"
            " ORDER BY r.name, c.position, a.question", {"s": study.id}).fetchall()]

    def comparison_comments(self, study: Study) -> list[tuple[str, str, str]]:
        """The current non-empty comments of a comparison study: (reviewer, case_id, text),
        in case order."""
        self._require_comparison(study)
        return [tuple(row) for row in self.db.execute(
            "SELECT r.name, c.case_id, a.value FROM comparison_answers a"
            " JOIN (SELECT reviewer_id, case_pk, MAX(revision) AS revision"
            " FROM comparison_answers WHERE study_id = :s AND question = 'comment'"
            " GROUP BY reviewer_id, case_pk) m USING (reviewer_id, case_pk, revision)"
            " JOIN reviewers r ON r.id = a.reviewer_id"
            " JOIN comparison_cases c ON c.id = a.case_pk"
            " WHERE a.question = 'comment' AND a.value != ''"
            " ORDER BY c.position, r.name", {"s": study.id}).fetchall()]

    def rater_comparison_answers(self, reviewer: Reviewer) -> dict[str, dict[str, tuple]]:
        """A rater's current answers: case_id -> question -> (value, revision)."""
        out: dict[str, dict[str, tuple]] = {}
        for case_id, question, value, revision in self.db.execute(
                "SELECT c.case_id, a.question, a.value, a.revision FROM comparison_answers a"
                " JOIN (SELECT case_pk, question, MAX(revision) AS revision"
                " FROM comparison_answers WHERE reviewer_id = :r GROUP BY case_pk, question) m"
                " USING (case_pk, question, revision) JOIN comparison_cases c"
                " ON c.id = a.case_pk WHERE a.reviewer_id = :r", {"r": reviewer.id}):
            out.setdefault(case_id, {})[question] = (value, revision)
        return out

    def write_comparison_answers(self, study: Study, reviewer: Reviewer, case_id: str,
                                 answers: dict[str, str], based_on: dict[str, int]) -> int:
        """One rater's checked answers to one case, as new revisions where they differ, in one
        transaction. ``based_on`` (question -> the revision the card showed, 0 for none): an
        answer changed since (another tab, another device) to something else than this save
        gives is a conflict, nothing written; the same answer is not (as on rating cards)."""
        row = self.db.execute("SELECT id FROM comparison_cases WHERE study_id = ? AND "
                              "case_id = ?", [study.id, case_id]).fetchone()
        if row is None:
            raise StoreError(f"study {study.name!r} has no case {case_id!r}")
        pk, written, theirs = row[0], 0, {}
        with self._write(f"reviewer:{reviewer.id}", "save_comparison", study.id,
                         {"case_id": case_id, "questions": sorted(answers)}):
            self._refuse_removed(reviewer)
            current = {q: (v, r) for q, v, r in self.db.execute(
                "SELECT question, value, revision FROM comparison_answers WHERE"
                " reviewer_id = ? AND case_pk = ? ORDER BY revision", [reviewer.id, pk])}
            for question, mine in answers.items():
                value, revision = current.get(question, (None, 0))
                if revision > based_on.get(question, 0) and (value or "") != (mine or ""):
                    theirs[question] = value
            if theirs:
                raise AnswerConflict.changed(theirs, "case")
            for question, value in answers.items():
                old, revision = current.get(question, (None, 0))
                if old == value or (old is None and value == ""):
                    continue
                self.db["comparison_answers"].insert({
                    "study_id": study.id, "reviewer_id": reviewer.id, "case_pk": pk,
                    "question": question, "value": value, "revision": revision + 1,
                    "source": "app", "created_at": now()})
                written += 1
        return written

    @staticmethod
    def _require_comparison(study: Study) -> None:
        if study.kind != "comparison":
            raise StoreError(f"study {study.name!r} rates prototypes; it is not a comparison "
                             "study")
