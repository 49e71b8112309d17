"""What the review store hands out and takes in: its errors and the records of studies,
reviewers, prototypes, assignments and answers (plain frozen values: the store's layers read
and write them, every other module only passes them on)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from protoecg.errors import ProtoECGError
from protoecg.study.comparison_protocol import ComparisonProtocol
from protoecg.study.protocol import Protocol

ROLES = ("rater", "researcher")
# columns a blinded rater never sees (model scores)
MODEL_SCORE_COLUMNS = ("similarity", "catalog_similarity", "purity")
NAME_MAX_CHARS = 100  # study and reviewer names (they head tables and reports)


class StoreError(ProtoECGError):
    """A request the review store refuses (unknown study, bad answer, newer schema …)."""


class AuthError(StoreError):
    """A wrong, unknown or throttled access code, or a role that may not do this."""


class AnswerConflict(StoreError):
    """A save based on answers that have changed since (another tab, another device, an
    import): nothing was written. ``theirs``: question -> the answer saved since."""

    def __init__(self, message: str, theirs: dict):
        super().__init__(message)
        self.theirs = theirs

    @classmethod
    def changed(cls, theirs: dict, opened: str) -> AnswerConflict:
        """The refusal of a save over ``theirs`` (question -> the answer saved since the
        ``opened`` thing, a card or a case, was opened)."""
        return cls(f"these answers were changed elsewhere since this {opened} was opened "
                   "(another tab, another device or an import): "
                   + ", ".join(f"{q} now {v!r}" for q, v in theirs.items()), theirs)


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    protocol: Protocol | ComparisonProtocol  # the latter for a comparison study
    catalog_path: str
    catalog_meta: dict
    previous_id: int | None = None  # the study this one is the next round of
    kind: str = "rating"  # or "comparison": a blind A/B comparison of two models (issue 32)

    @classmethod
    def from_row(cls, row: dict) -> Study:
        """A ``studies`` row as the store reads it."""
        kind = row.get("kind") or "rating"
        parse = ComparisonProtocol.from_dict if kind == "comparison" else Protocol.from_dict
        return cls(row["id"], row["name"], parse(json.loads(row["protocol_json"])),
                   row["catalog_path"], json.loads(row["catalog_json"] or "{}"),
                   row.get("previous_study_id"), kind)


@dataclass(frozen=True)
class Reviewer:
    id: int
    study_id: int
    name: str
    role: str
    # when a researcher removed them from the study (None: taking part); their answers stay
    removed_at: str | None = None


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
    """One validated answer to write: ``kind`` is a key of ``ratings.ANSWER_TABLES``;
    ``answered_at`` keeps an imported answer's original time (None: now)."""
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


def valid_name(what: str, name: str) -> str:
    """A study's or reviewer's name (``what``), stripped; StoreError when it is empty or too
    long."""
    name = name.strip()
    if not name:
        raise StoreError(f"{what} name is empty")
    if len(name) > NAME_MAX_CHARS:
        raise StoreError(f"{what} name: at most {NAME_MAX_CHARS} characters, got {len(name)}")
    return name
