"""Ratings as long-form CSV: export the current answers, import answers collected elsewhere
(all or nothing; re-importing an export changes nothing)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

import pandas as pd

from protoecg.study.answers import current_answers, validate_answer
from protoecg.study.codes import new_code
from protoecg.study.store import ReviewStore, StoreError, Study
from protoecg.study.store.records import valid_name

# one row per current answer; `answered_at` survives an import, so export -> import -> export
# gives the same file
CSV_COLUMNS = ("reviewer", "prototype_id", "question", "answer", "answered_at")
REQUIRED_COLUMNS = CSV_COLUMNS[:4]
# OWASP's CSV-injection advice: a cell a spreadsheet would read as a formula (or a DDE call)
# gets a leading apostrophe. Cells that already start with one get another, so that import
# removes exactly one and every stored text comes back as typed.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
BOM = "\ufeff"  # Excel opens a CSV as UTF-8 only with it; import reads files with or without


def neutralise_cell(value):
    """A text cell as it is safe to open in a spreadsheet (numbers pass unchanged)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """The inverse of ``neutralise_cell`` for text read back from an exported file."""
    return value[1:] if value.startswith("'") else value


def export_ratings(store: ReviewStore, study: Study, path: str | Path | IO[str]) -> int:
    """Write the current answers as long-form CSV (to a path or a text buffer); returns the
    number of rows."""
    frame = current_answers(store, study)[list(CSV_COLUMNS)]
    frame = frame.map(neutralise_cell)
    # every cell quoted (OWASP), so a CR or newline inside a comment never splits a row; a
    # byte-order mark first, so a spreadsheet reads the file as UTF-8 (accented comments)
    text = BOM + frame.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)
    if isinstance(path, (str, Path)):
        Path(path).write_text(text, encoding="utf-8")
    else:
        path.write(text)
    return len(frame)


def _value(question: str, answer: str) -> str:
    return answer if question == "comment" else answer.strip()


def _check_new_name(name: str, where: str) -> None:
    try:
        cleaned = valid_name("reviewer", name)
    except StoreError as exc:
        raise StoreError(f"{where}: {exc}") from None
    if cleaned != name:
        raise StoreError(f"{where}: reviewer name {name!r} begins or ends with spaces")


def import_ratings(store: ReviewStore, study: Study, path: str | Path,
                   create_reviewers: bool = False) -> dict:
    """Import long-form answers (``reviewer,prototype_id,question,answer`` at least), all or
    nothing. Answers equal to the current ones are skipped, so re-importing an export changes
    nothing. With ``create_reviewers`` unknown reviewers become raters assigned to what they
    rated (their access codes are returned)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: not a readable CSV ({exc})") from None
    frame = frame.map(restore_cell)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise StoreError(f"{path}: missing column(s) {', '.join(missing)} (expected at least "
                         "reviewer,prototype_id,question,answer)")
    known = {r.name: r for r in store.reviewers(study)}
    pks = {p.prototype_id: p.pk for p in store.prototypes(study)}
    assigned = {(a.reviewer_id, a.prototype_pk) for a in store.assignments(study)}
    new_reviewers = sorted(set(frame["reviewer"]) - set(known))
    seen: dict[tuple[str, str, str], tuple[int, str]] = {}  # -> (first line, answer)
    for line, row in enumerate(frame.itertuples(index=False), start=2):
        where = f"{path} line {line}"
        if row.prototype_id not in pks:
            raise StoreError(f"{where}: unknown prototype_id {row.prototype_id!r}")
        if row.reviewer in known:
            reviewer = known[row.reviewer]
            if reviewer.role != "rater":
                raise StoreError(f"{where}: {row.reviewer!r} is a {reviewer.role}, not a rater")
            if reviewer.removed_at:
                raise StoreError(f"{where}: reviewer {row.reviewer!r} was removed from the "
                                 f"study on {reviewer.removed_at[:10]}")
            if (reviewer.id, pks[row.prototype_id]) not in assigned:
                raise StoreError(f"{where}: reviewer {row.reviewer!r} is not assigned "
                                 f"{row.prototype_id!r}")
        elif not create_reviewers:
            raise StoreError(f"{where}: unknown reviewer {row.reviewer!r} (pass "
                             "--create-reviewers to add the reviewers the file names)")
        else:  # a reviewer this import creates: a name as the app would accept it
            _check_new_name(row.reviewer, where)
        try:
            validate_answer(study, row.question, _value(row.question, row.answer))
        except StoreError as exc:
            raise StoreError(f"{where}: {exc}") from None
        stamp = getattr(row, "answered_at", "")
        if stamp and pd.isna(pd.to_datetime(stamp, errors="coerce", utc=True, format="ISO8601")):
            raise StoreError(f"{where}: answered_at {stamp!r} is not an ISO 8601 time "
                             "(e.g. 2026-11-22T10:30:00Z), or leave it empty")
        key = (row.reviewer, row.prototype_id, row.question)
        value = _value(row.question, row.answer)
        if key in seen and seen[key][1] != value:
            raise StoreError(f"{where}: {row.reviewer!r} answers {row.question!r} of "
                             f"{row.prototype_id!r} differently on line {seen[key][0]} "
                             f"({seen[key][1]!r} vs {value!r}); keep one of them")
        seen.setdefault(key, (line, value))
    codes = {name: new_code() for name in new_reviewers}
    new_assignments = {name: [pks[pid] for pid in sorted(set(
        frame.loc[frame["reviewer"] == name, "prototype_id"]))] for name in new_reviewers}
    batches = []
    for (name, pid), group in frame.groupby(["reviewer", "prototype_id"], sort=False):
        stamps = (group["answered_at"] if "answered_at" in group
                  else [None] * len(group))
        answers = {q: (_value(q, a), stamp)  # a question given twice: the last row counts
                   for q, a, stamp in zip(group["question"], group["answer"], stamps,
                                          strict=True)}
        batches.append((name, pks[pid], [validate_answer(study, q, value, stamp or None)
                                         for q, (value, stamp) in answers.items()]))
    written = store.import_batch(study, codes, new_assignments, batches,
                                 {"file": str(path), "rows": len(frame)})
    return {"rows": len(frame), "revisions_written": written, "reviewers_created": codes}
