"""A rater's side of a study: their queue, the blinded card, validating and saving answers
(append-only revisions), and how far the study has come."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from protoecg.study.assignment import queue_order
from protoecg.study.protocol import ProtocolError
from protoecg.study.store import (
    MODEL_SCORE_COLUMNS,
    Answer,
    AuthError,
    Reviewer,
    ReviewStore,
    StoreError,
    Study,
    StudyPrototype,
)

# a comment is a clinician's note, not a document: longer ones are refused, never truncated
COMMENT_MAX_CHARS = 5000
# long form, one row per current answer (the CSV's columns plus the revision)
ANSWER_COLUMNS = ("reviewer", "prototype_id", "question", "answer", "revision", "answered_at")


@dataclass(frozen=True)
class QueueItem:
    prototype_id: str
    class_code: str
    position: int  # 1-based place in this rater's queue
    complete: bool  # every required question answered


def _group(study: Study, prototype: StudyPrototype) -> str:
    return {"class": prototype.class_code, "branch": prototype.branch}.get(
        study.protocol.group_by, "")


def reviewer_answers(store: ReviewStore, reviewer: Reviewer) -> dict[str, dict]:
    """prototype_id -> {question: current answer} for this reviewer only."""
    out: dict[str, dict] = {}
    for a in store.latest_answers(reviewer):
        out.setdefault(a.prototype_id, {})[a.question] = _as_given(a)
    return out


def _as_given(answer) -> bool | int | str:
    """A stored answer as the rater gave it (a flag as a bool)."""
    return bool(answer.value) if answer.kind == "flag" else answer.value


def queue(store: ReviewStore, reviewer: Reviewer) -> list[QueueItem]:
    """The reviewer's assigned prototypes in their review order, with completion."""
    study = store.study_of(reviewer)
    info = {p.prototype_id: p for p in store.assigned_prototypes(reviewer)}
    order = queue_order(reviewer.name,
                        [(pid, _group(study, p), p.decisions) for pid, p in info.items()],
                        study.protocol.seed, study.protocol.shuffle)
    answers = reviewer_answers(store, reviewer)
    required = [q.id for q in study.protocol.questions if q.required]
    return [QueueItem(pid, info[pid].class_code, i + 1,
                      all(q in answers.get(pid, {}) for q in required))
            for i, pid in enumerate(order)]


def next_item(store: ReviewStore, reviewer: Reviewer) -> QueueItem | None:
    """The first incomplete prototype in the reviewer's queue (None when all are done)."""
    return next((item for item in queue(store, reviewer) if not item.complete), None)


def next_unanswered(items: list[QueueItem], after: int) -> int | None:
    """The position of the first incomplete card after position ``after`` in a queue, else
    the first incomplete one before it; None when every card is complete ("Save & next" never
    walks into a card the rater already answered)."""
    order = [*range(after + 1, len(items)), *range(0, after)]
    return next((i for i in order if not items[i].complete), None)


def after_save(items: list, position: int) -> int:
    """Where "Save & next" goes from ``position`` in a queue (rating cards or comparison
    cases, anything with ``complete``): the next item not yet answered, else the one after."""
    following = next_unanswered(items, position)
    return following if following is not None else min(position + 1, len(items) - 1)


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
    row = store.prototype_snapshot(pk)
    if study.protocol.blind_model_scores and reviewer.role == "rater":
        for column in MODEL_SCORE_COLUMNS:
            row.pop(column, None)
        for neighbour in row.get("neighbours", []):
            neighbour.pop("similarity", None)
    answers, revisions = {}, {}
    for a in store.latest_answers(reviewer):
        if a.prototype_id == prototype_id:
            answers[a.question] = _as_given(a)
            revisions[a.question] = a.revision
    # revisions: what a save from this card is based on (a newer one since is a conflict)
    return {"prototype": row, "answers": answers, "revisions": revisions}


def _require_assigned(store: ReviewStore, reviewer: Reviewer, pk: int,
                      prototype_id: str) -> None:
    if not store.is_assigned(reviewer, pk):
        raise AuthError(f"reviewer {reviewer.name!r} is not assigned prototype {prototype_id!r}")


def validate_answer(study: Study, question: str, value, answered_at: str | None = None
                    ) -> Answer:
    """The answer as it is stored (its kind and value); StoreError naming what is wrong."""
    protocol = study.protocol
    if question == "comment":
        if not protocol.comment_enabled:
            raise StoreError(f"protocol {protocol.id} has no comment field")
        if value is not None and not isinstance(value, str):
            raise StoreError(f"comment must be text, got {value!r}")
        text = value or ""
        if len(text) > COMMENT_MAX_CHARS:
            raise StoreError(f"comment: at most {COMMENT_MAX_CHARS:,} characters, got "
                             f"{len(text):,} (shorten it; nothing was saved)")
        # kept exactly as typed (leading tabs, '=' and all); only a blank one is no comment
        return Answer("comment", question, text if text.strip() else "", answered_at)
    if question in {f.id for f in protocol.flags}:
        if value in (True, 1, "1", "true", "yes"):
            return Answer("flag", question, 1, answered_at)
        if value in (False, 0, "0", "false", "no", None, ""):
            return Answer("flag", question, 0, answered_at)
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
    return Answer("rating", question, number, answered_at)


def save_answers(store: ReviewStore, reviewer: Reviewer, prototype_id: str, answers: dict,
                 source: str = "app", based_on: dict[str, int] | None = None) -> int:
    """Save a reviewer's answers to one assigned prototype, as one transaction.

    ``answers``: question id -> scale value, flag id -> bool, ``comment`` -> text. Unchanged
    answers write nothing; changed ones add a revision (history is never overwritten).
    ``based_on``: the revisions the rater saw (a card's ``revisions``); an answer changed since
    elsewhere raises ``AnswerConflict`` and nothing is written.
    """
    if reviewer.role != "rater":
        raise AuthError(f"{reviewer.name!r} is a {reviewer.role}; only raters answer")
    study = store.study_of(reviewer)
    pk = store.prototype_pk(study, prototype_id)
    _require_assigned(store, reviewer, pk, prototype_id)
    # validate everything before writing anything
    valid = [validate_answer(study, question, value) for question, value in answers.items()]
    return store.write_answers(study, reviewer, pk, valid, source,
                               {"prototype_id": prototype_id, "questions": sorted(answers)},
                               based_on)


def current_answers(store: ReviewStore, study: Study) -> pd.DataFrame:
    """The study's current answers in long form (researchers and statistics only); cleared
    flags and empty comments are no answers."""
    rows = [{"reviewer": a.reviewer, "prototype_id": a.prototype_id, "question": a.question,
             "answer": a.value, "revision": a.revision, "answered_at": a.answered_at}
            for a in store.latest_answers(study)
            if not (a.kind == "flag" and a.value == 0) and not (a.kind == "comment"
                                                                and a.value == "")]
    frame = pd.DataFrame(rows, columns=list(ANSWER_COLUMNS))
    return frame.sort_values(["reviewer", "prototype_id", "question"], kind="stable",
                             ignore_index=True)


def status(store: ReviewStore, study: Study) -> dict:
    """How far the study has come: counts, the share of complete assignments, per rater."""
    reviewers = store.reviewers(study)
    n_prototypes = store.count_prototypes(study)
    n_assign = store.count_assignments(study)
    answers = current_answers(store, study)
    required = {q.id for q in study.protocol.questions if q.required}
    rated = answers[answers["question"].isin(required)]
    per_pair = rated.groupby(["reviewer", "prototype_id"])["question"].nunique()
    complete = int((per_pair == len(required)).sum())
    return {
        "study": study.name, "protocol": study.protocol.id, "prototypes": n_prototypes,
        "reviewers": sum(not r.removed_at for r in reviewers),
        "raters": sum(r.role == "rater" and not r.removed_at for r in reviewers),
        # removed raters' answers are kept and counted; the report says so
        "removed_raters": [r.name for r in reviewers if r.role == "rater" and r.removed_at],
        "assignments": n_assign,
        "ratings": int(answers["question"].isin(required).sum()),
        "flags": int((~answers["question"].isin(required | {"comment"})).sum()),
        "comments": int((answers["question"] == "comment").sum()),
        "complete": complete / n_assign if n_assign else 0.0,
        "per_rater": _completion_per_rater(store, study, reviewers, per_pair, len(required)),
        "schema_version": store.schema_version,
    }


def _completion_per_rater(store: ReviewStore, study: Study, reviewers: list[Reviewer],
                          per_pair: pd.Series, n_required: int) -> dict[str, dict]:
    """Rater -> assigned prototypes and those with every required question answered (what
    ``progress`` counts from a rater's queue), from the study's assignments and its answered
    questions per (rater, prototype) without building every rater's queue."""
    done = set(per_pair.index[per_pair == n_required])
    per_rater = {r.name: {"complete": 0, "assigned": 0, "removed_at": r.removed_at}
                 for r in reviewers if r.role == "rater"}
    for assignment in store.assignments(study):
        counts = per_rater.get(assignment.reviewer)
        if counts is not None:
            counts["assigned"] += 1
            # no required question: every assigned prototype is complete, as in the queue
            counts["complete"] += (not n_required
                                   or (assignment.reviewer, assignment.prototype_id) in done)
    return per_rater
