"""The researcher tables: progress per rater and class, disagreements, the ratings CSV.

Pure functions over the store (the Streamlit pages only render their results).
"""

from __future__ import annotations

import io

import pandas as pd

from protoecg.data.labels import scp_statements
from protoecg.study.answers import current_answers, queue
from protoecg.study.ratings_csv import export_ratings
from protoecg.study.store import ReviewStore, Study


def rater_progress(study_status: dict) -> pd.DataFrame:
    """One row per rater (assigned, complete, fraction) from ``answers.status``'s result,
    which the caller has already computed."""
    rows = [{"rater": name, "assigned": p["assigned"], "complete": p["complete"],
             "fraction": p["complete"] / p["assigned"] if p["assigned"] else 0.0,
             "removed": (p.get("removed_at") or "")[:10]}
            for name, p in study_status["per_rater"].items()]
    return pd.DataFrame(rows, columns=["rater", "assigned", "complete", "fraction", "removed"])


def class_progress(store: ReviewStore, study: Study) -> pd.DataFrame:
    """One row per class: prototypes, assignments, complete assignments."""
    rows = []
    for reviewer in store.reviewers(study):
        if reviewer.role != "rater":
            continue
        for item in queue(store, reviewer):
            rows.append({"class_code": item.class_code, "prototype_id": item.prototype_id,
                         "complete": item.complete})
    if not rows:
        return pd.DataFrame(columns=["class_code", "class", "prototypes", "assignments",
                                     "complete", "fraction"])
    frame = pd.DataFrame(rows)
    out = frame.groupby("class_code").agg(prototypes=("prototype_id", "nunique"),
                                          assignments=("prototype_id", "size"),
                                          complete=("complete", "sum")).reset_index()
    out["fraction"] = out["complete"] / out["assignments"]
    names = scp_statements()["description"]
    out.insert(1, "class", [names.get(code, "") for code in out["class_code"]])
    return out.sort_values(["fraction", "class_code"], ignore_index=True)


def disagreements(store: ReviewStore, study: Study, min_spread: int = 2) -> pd.DataFrame:
    """Prototypes where raters' answers to a question differ by at least ``min_spread``
    points: one row per prototype and rater, with the largest difference (``spread``), every
    question that differs that much and by how much (``differ on``), and the rater's answers,
    flags and comment side by side (for adjudication)."""
    answers = current_answers(store, study)
    questions = [q.id for q in study.protocol.questions]
    rated = answers[answers["question"].isin(questions)].copy()
    if rated.empty:
        return pd.DataFrame(columns=["prototype_id", "spread", "differ on"])
    rated["answer"] = rated["answer"].astype(int)
    spread = rated.groupby(["prototype_id", "question"])["answer"].agg(lambda s: s.max()
                                                                         - s.min())
    wide = spread[spread >= min_spread].reset_index(name="spread")
    if wide.empty:
        return pd.DataFrame(columns=["prototype_id", "spread", "differ on"])
    rows = []
    for pid, differing in wide.groupby("prototype_id", sort=False):
        by_question = dict(zip(differing["question"], differing["spread"], strict=True))
        differ_on = ", ".join(f"{q} {int(by_question[q])}" for q in questions
                              if q in by_question)  # every question, not one row each
        mine = answers[answers["prototype_id"] == pid]
        for reviewer, group in mine.groupby("reviewer"):
            given = dict(zip(group["question"], group["answer"], strict=True))
            rows.append({"prototype_id": pid, "spread": int(max(by_question.values())),
                         "differ on": differ_on, "rater": reviewer,
                         **{q: given.get(q) for q in questions},
                         **{f.id: bool(given.get(f.id)) for f in study.protocol.flags},
                         "comment": given.get("comment", "")})
    return pd.DataFrame(rows).sort_values(["spread", "prototype_id", "rater"],
                                          ascending=[False, True, True], ignore_index=True)


def ratings_csv_bytes(store: ReviewStore, study: Study) -> bytes:
    """The ratings CSV (as ``protoecg study export-ratings`` writes it), for a download."""
    buffer = io.StringIO()
    export_ratings(store, study, buffer)
    return buffer.getvalue().encode()


PAUSE_S = 600.0  # a gap longer than this between two saves is a break, not time on a card


def rater_pace(store: ReviewStore, study: Study) -> pd.DataFrame:
    """Per rater: cards saved, the median seconds between consecutive saves (their time per
    card; gaps over 10 minutes count as breaks) and the minutes spent rating in all."""
    answers = current_answers(store, study)
    rows = []
    for rater, mine in answers.groupby("reviewer"):
        saves = pd.to_datetime(mine.groupby("prototype_id")["answered_at"].max(),
                               utc=True, format="ISO8601").sort_values()
        gaps = saves.diff().dt.total_seconds().dropna()
        working = gaps[gaps <= PAUSE_S]
        rows.append({"rater": rater, "cards saved": len(saves),
                     "median s per card": round(float(working.median()), 1)
                     if len(working) else None,
                     "minutes rating": round(float(working.sum()) / 60, 1)})
    return pd.DataFrame(rows, columns=["rater", "cards saved", "median s per card",
                                       "minutes rating"])


CHANGE_COLUMNS = ("changed at", "rater", "prototype", "question", "before", "after",
                  "revision", "how", "before given at")


def answer_changes(store: ReviewStore, study: Study) -> pd.DataFrame:
    """Every answer a rater (or an import) replaced, newest first, with the value before and
    after: the revision history as the researcher reads it. Flags read set / not set, an
    emptied comment reads "(empty)"."""
    def shown(kind: str, value) -> str:
        if kind == "flag":
            return "set" if value else "not set"
        if kind == "comment":
            return value if value else "(empty)"
        return str(value)

    rows = [{"changed at": c["changed_at"][:19].replace("T", " "), "rater": c["reviewer"],
             "prototype": c["prototype_id"], "question": c["question"],
             "before": shown(c["kind"], c["before"]), "after": shown(c["kind"], c["after"]),
             "revision": c["revision"],
             "how": {"app": "in the app", "import": "imported"}.get(c["source"], c["source"]),
             "before given at": c["before_at"][:19].replace("T", " ")}
            for c in store.answer_changes(study)]
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))
