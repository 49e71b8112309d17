"""Blind A/B comparison studies (issue 32): the key and the answers, checked together and
decoded to model names.

A comparison study shows each case (an ECG and a label) with the two models' prototypes as A
and B in an order drawn per case; the **key** (``case_id, label, A, B``) says which model each
letter was. Raters answer, per task (e.g. ``prototype``, ``explanation``), ``<task>:A`` and
``<task>:B`` (1 = good, 0 = not) and ``<task>:preference`` (``A``, ``B``, ``both``,
``neither``). ``decode`` turns the letters into model names, so that no letter reaches a
statistic (``agreement/comparison.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from protoecg.catalog.reader import catalog_dir, read_catalog
from protoecg.errors import ProtoECGError
from protoecg.study.store import AuthError, StoreError

KEY_COLUMNS = ("case_id", "label", "A", "B")
ANSWER_COLUMNS = ("reviewer", "case_id", "question", "answer")
LETTERS = ("A", "B")
PREFERENCES = ("A", "B", "both", "neither")


_SPELLINGS = {"1": "1", "1.0": "1", "0": "0", "0.0": "0", "a": "A", "b": "B", "both": "both",
              "neither": "neither"}


def normal_answer(part: str, answer: str) -> str | None:
    """An imported answer as stored: ``1``/``0`` for A or B (a spreadsheet's ``1.0`` too), a
    preference ``A``/``B``/``both``/``neither`` in any case (REDCap exports ``Both``); None when
    it is none of these."""
    value = _SPELLINGS.get(str(answer).strip().lower())
    if part in LETTERS:
        return value if value in ("0", "1") else None
    return value if value in PREFERENCES else None


class ComparisonError(ProtoECGError):
    """A comparison key or answers that do not fit together (one line naming the file, the
    row and what was expected)."""


# ---------------------------------------------------------------- checking the files
def check_key(key: pd.DataFrame, where: str = "key") -> tuple[str, str]:
    """The two model names of a key (sorted), after checking its columns and rows."""
    missing = [c for c in KEY_COLUMNS if c not in key.columns]
    if missing:
        raise ComparisonError(f"{where}: missing column(s) {', '.join(missing)} (expected "
                              f"{','.join(KEY_COLUMNS)})")
    for line, row in _lines(key):
        for column in KEY_COLUMNS:
            if not str(row[column]).strip():
                raise ComparisonError(f"{where} line {line}: empty {column}")
        if row["A"] == row["B"]:
            raise ComparisonError(f"{where} line {line}: case {row['case_id']!r} shows model "
                                  f"{row['A']!r} as both A and B")
    duplicated = key["case_id"][key["case_id"].duplicated()]
    if len(duplicated):
        line = int(duplicated.index[0]) + 2
        raise ComparisonError(f"{where} line {line}: case {duplicated.iloc[0]!r} appears twice")
    models = sorted(set(key["A"]) | set(key["B"]))
    if len(models) != 2:
        raise ComparisonError(f"{where}: names {len(models)} models ({', '.join(models)}); a "
                              "comparison has exactly two, each shown as A or B per case")
    return models[0], models[1]


def decode(key: pd.DataFrame, answers: pd.DataFrame, where: str = "answers",
           key_where: str = "key") -> pd.DataFrame:
    """The answers decoded through the key, one row per answer: ``reviewer, case_id, label,
    task, kind`` (``good`` or ``preference``), ``model`` (the model a yes/no answer is about;
    for a preference the model preferred, or ``both`` / ``neither``) and ``value`` (1 / 0 for
    good, else None). Every bad row is refused with its line: an unknown case, a question that
    is not ``<task>:A|B|preference``, an answer out of range, a reviewer answering a question
    twice, a task some answers' cases lack."""
    check_key(key, key_where)
    missing = [c for c in ANSWER_COLUMNS if c not in answers.columns]
    if missing:
        raise ComparisonError(f"{where}: missing column(s) {', '.join(missing)} (expected "
                              f"{','.join(ANSWER_COLUMNS)})")
    cases = {str(r["case_id"]): r for _, r in key.iterrows()}
    rows, seen = [], {}
    for line, row in _lines(answers):
        case = str(row["case_id"])
        if case not in cases:
            raise ComparisonError(f"{where} line {line}: case {case!r} is not in the key")
        reviewer = str(row["reviewer"]).strip()
        if not reviewer:
            raise ComparisonError(f"{where} line {line}: empty reviewer")
        task, _, part = str(row["question"]).partition(":")
        if not task or part not in (*LETTERS, "preference"):
            raise ComparisonError(f"{where} line {line}: question {row['question']!r}: expected "
                                  "<task>:A, <task>:B or <task>:preference")
        pair = (reviewer, case, str(row["question"]))
        if pair in seen:
            raise ComparisonError(f"{where} line {line}: {reviewer!r} answered {pair[2]!r} on "
                                  f"case {case!r} twice (first on line {seen[pair]})")
        seen[pair] = line
        raw = str(row["answer"]).strip()
        answer = normal_answer(part, raw)
        shown = cases[case]
        if part in LETTERS:
            if answer is None:
                raise ComparisonError(f"{where} line {line}: answer {raw!r} to "
                                      f"{pair[2]!r}: expected 1 (good) or 0 (not)")
            rows.append((reviewer, case, shown["label"], task, "good", shown[part],
                         int(answer)))
        else:
            if answer is None:
                raise ComparisonError(f"{where} line {line}: answer {raw!r} to "
                                      f"{pair[2]!r}: expected A, B, both or neither")
            rows.append((reviewer, case, shown["label"], task, "preference",
                         shown[answer] if answer in LETTERS else answer, None))
    decoded = pd.DataFrame(rows, columns=["reviewer", "case_id", "label", "task", "kind",
                                          "model", "value"])
    tasks = sorted(set(decoded["task"]))
    for task in tasks:  # every case answered at all is answered on every task
        lacking = sorted(set(decoded["case_id"]) - set(decoded[decoded["task"] == task]
                                                        ["case_id"]))
        if lacking:
            raise ComparisonError(f"{where}: task {task!r} has no answer for case "
                                  f"{lacking[0]!r}, which other tasks' answers cover "
                                  f"({len(lacking)} such cases)")
    return decoded


def _lines(frame: pd.DataFrame):
    """(CSV line number, row): the header is line 1."""
    for position, (_, row) in enumerate(frame.iterrows()):
        yield position + 2, row


# ---------------------------------------------------------------- importing a study
MAX_CSV_BYTES = 64 << 20  # a key or answer sheet of a user study is kilobytes


def read_sheet(path: str | Path, what: str) -> pd.DataFrame:
    """A key or answers CSV as text cells (a spreadsheet's byte-order mark allowed), read with
    a size cap; one line naming the file where it cannot be read."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ComparisonError(f"{path}: no such file (expected the {what} CSV)")
        if path.stat().st_size > MAX_CSV_BYTES:
            raise ComparisonError(f"{path}: larger than {MAX_CSV_BYTES >> 20} MiB; expected "
                                  f"the {what} CSV")
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ComparisonError(f"{path}: not UTF-8 text (byte {exc.start}); save the {what} "
                              "CSV as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ComparisonError(f"{path}: not a CSV table ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise ComparisonError(f"{path}: cannot read the {what} CSV ({exc.strerror})") from None


def read_comparison(key_path: str | Path, answers_path: str | Path, protocol) -> dict:
    """A comparison study run elsewhere (REDCap and the like), read and checked before anything
    is stored: the key and answers together (``decode``), every task one of the protocol's."""
    key = read_sheet(key_path, "key")
    answers = read_sheet(answers_path, "answers")
    decoded = decode(key, answers, where=str(answers_path), key_where=str(key_path))
    unknown = sorted(set(decoded["task"]) - set(protocol.task_ids()))
    if unknown:
        line = int(answers.index[answers["question"].str.startswith(f"{unknown[0]}:")][0]) + 2
        raise ComparisonError(f"{answers_path} line {line}: task {unknown[0]!r} is not one of "
                              f"the protocol's ({', '.join(protocol.task_ids())})")
    return {"key": key, "answers": answers, "protocol": protocol,
            "sources": {"key": str(key_path), "answers": str(answers_path)},
            "cases": len(key), "n_answers": len(answers),
            "raters": int(decoded["reviewer"].nunique()), "models": list(check_key(key)),
            "tasks": sorted(set(decoded["task"]))}


def import_comparison(store, name: str, checked: dict):
    """Store what ``read_comparison`` checked as a new comparison study, in one transaction;
    the study."""
    key, answers = checked["key"], checked["answers"]
    return store.import_comparison(
        name, checked["protocol"],
        [(str(r.case_id), str(r.label), str(r.A), str(r.B)) for r in key.itertuples()],
        [(str(r.reviewer).strip(), str(r.case_id), str(r.question),
          normal_answer(str(r.question).partition(":")[2], r.answer))
         for r in answers.itertuples()], checked["sources"])


# ---------------------------------------------------------------- a study from two runs
def comparison_rows(cases: dict, case_signals: dict[str, np.ndarray]
                    ) -> tuple[list[dict], list[np.ndarray]]:
    """The study rows of ``explain.comparison.comparison_cases``' result: per case its key (A,
    B) and its card (by letter only: the case's signal, where each prototype matched in it, the
    prototype's source window and record), and the signals the cards draw (the cases', then
    the prototypes' sources from each run's catalog, each once)."""
    catalogs = {name: read_catalog(catalog_dir(run))
                for name, run in zip(cases["models"], cases["runs"], strict=True)}
    tables = {name: c.prototypes.set_index("prototype_id") for name, c in catalogs.items()}
    signals, index = [], {}

    def signal_of(key, load) -> int:
        if key not in index:
            index[key] = len(signals)
            signals.append(load())
        return index[key]

    rows = []
    for case in cases["cases"]:
        card = {"signal_index": signal_of(("case", case["case_id"]),
                                          lambda c=case: case_signals[c["case_id"]]),
                "record_id": case["record_id"], "fs": cases["fs"], "units": cases["units"]}
        for letter in ("A", "B"):
            shown = case["shown"][letter]
            model = shown["model"]
            source = tables[model].loc[shown["prototype_id"]]
            card[letter] = {
                "prototype_id": shown["prototype_id"],
                "match_start": shown["match_start"], "match_end": shown["match_end"],
                "source_signal_index": signal_of(
                    (model, int(source["signal_index"])),
                    lambda m=model, i=int(source["signal_index"]): catalogs[m].signal(i)),
                "source_record_id": str(source["source_record_id"]),
                "source_start": int(source["window_start"]),
                "source_end": int(source["window_end"])}
        rows.append({"case_id": case["case_id"], "label": case["label"], "A": case["A"],
                     "B": case["B"], "card": card})
    return rows, signals


# ---------------------------------------------------------------- a rater's cases
COMMENT_MAX_CHARS = 5000
PREFERENCE_SHOWN = {"A": "A", "B": "B", "both": "Both equally", "neither": "Neither"}


def questions_of(protocol) -> list[str]:
    """Every question a case asks, in the card's order: per task A, B and the preference."""
    return [f"{task}:{part}" for task in protocol.task_ids() for part in (*LETTERS,
                                                                         "preference")]


@dataclass(frozen=True)
class CaseItem:
    """One case of a rater's queue: what its card shows, the rater's current answers to it
    (question -> (value, revision)) and whether every question is answered."""

    case_id: str
    label: str
    complete: bool
    card: dict
    answers: dict


def comparison_queue(store, reviewer) -> list[CaseItem]:
    """A rater's cases in the study's order (every rater sees every case), each with its card,
    the rater's answers and whether every question is answered (one read of each)."""
    study = store.study_of(reviewer)
    given = store.rater_comparison_answers(reviewer)
    needed = set(questions_of(study.protocol))
    return [CaseItem(card["case_id"], card["label"],
                     needed <= set(given.get(card["case_id"], {})), card,
                     given.get(card["case_id"], {}))
            for card in store.comparison_cards(study)]


def save_comparison(store, reviewer, case_id: str, answers: dict[str, str],
                    based_on: dict[str, int]) -> int:
    """Check and save a rater's answers to one case (every question answered; 1 / 0 for A
    and B, A / B / both / neither for the preference; a comment within its limit)."""
    if reviewer.role != "rater":
        raise AuthError(f"{reviewer.name!r} is a {reviewer.role}; only raters answer")
    study = store.study_of(reviewer)
    missing = [q for q in questions_of(study.protocol) if answers.get(q) in (None, "")]
    if missing:
        raise StoreError("please answer " + ", ".join(missing))
    for question, value in answers.items():
        part = question.partition(":")[2]
        if question == "comment":
            if len(value) > COMMENT_MAX_CHARS:
                raise StoreError(f"the comment has {len(value):,} characters; at most "
                                 f"{COMMENT_MAX_CHARS:,} (shorten it, it is kept in the box)")
        elif part in LETTERS and value not in ("0", "1"):
            raise StoreError(f"{question}: expected 1 (good) or 0 (not), got {value!r}")
        elif part == "preference" and value not in PREFERENCES:
            raise StoreError(f"{question}: expected A, B, both or neither, got {value!r}")
        elif part not in (*LETTERS, "preference") and question != "comment":
            raise StoreError(f"unknown question {question!r}")
    return store.write_comparison_answers(study, reviewer, case_id, answers, based_on)
