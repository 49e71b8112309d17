"""A study's statistics summary (what ``summary.json`` holds): the statistics of
``statistics.py`` per question, branch and class with bootstrap CIs, rater means and leniency,
flags, widest disagreements, comments; for a later round the comparison with the previous one,
and with consensus the final answers. ``report_html.py`` writes it as a page."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from protoecg import __version__
from protoecg.agreement.irrcac import DEFINITIONS as IRRCAC_DEFINITIONS
from protoecg.agreement.irrcac import irrcac_statistics
from protoecg.agreement.statistics import STATISTICS, statistics_with_ci
from protoecg.study.answers import current_answers, status
from protoecg.study.consensus import consensus_table
from protoecg.study.protocol import Question
from protoecg.study.rounds import counterparts
from protoecg.study.store import ReviewStore, Study

BRANCH_STATISTICS = ("krippendorff_alpha_ordinal", "percent_agreement", "within_one_agreement")
ROUND_STATISTICS = ("krippendorff_alpha_ordinal", "percent_agreement")
MIN_GROUP_PROTOTYPES = 2  # agreement within a branch or class needs two rated prototypes
CATALOG_KEYS = ("model_sha256", "dataset", "run", "created", "n_prototypes", "similarity",
                "signal_preprocessing")


def summarize_study(store: ReviewStore, study: Study, n_resamples: int = 1000,
                    seed: int = 42, with_rounds: bool = True,
                    use_consensus: bool = False) -> dict:
    """Everything ``summary.json`` holds (JSON-ready); for a later round also ``rounds``, the
    comparison with the previous round. Agreement is always the raters'; ``use_consensus``
    adds ``final``: per prototype and question the researchers' consensus where there is one,
    else the raters' mean, and the per-class means of those final answers."""
    answers = current_answers(store, study)
    meta = pd.DataFrame([(p.prototype_id, p.branch, p.class_code)
                         for p in store.prototypes(study)],
                        columns=["prototype_id", "branch", "class_code"])
    prototypes = list(meta["prototype_id"])
    # one stream for every resample, drawn in a fixed order (questions, then their groups)
    rng = np.random.default_rng(seed)
    summary = _study_header(store, study, n_resamples, seed, len(prototypes))
    for question in study.protocol.questions:
        matrix, raters = _matrix(answers, question.id, prototypes)
        indices = rng.integers(0, len(prototypes), size=(n_resamples, len(prototypes))) \
            if prototypes else np.zeros((0, 0), int)
        summary["questions"][question.id] = _question_entry(matrix, raters, question.values,
                                                            indices)
        _add_groups(summary, question, matrix, meta, rng, n_resamples)
        _add_raters(summary, question.id, matrix, raters)
        summary["widest_disagreement"].extend(
            _widest_disagreements(question.id, matrix, raters, prototypes))
    summary["widest_disagreement"].sort(key=lambda d: (-d["spread"], d["prototype_id"]))
    comments = answers[answers["question"] == "comment"]
    summary["comments"] = [{"prototype_id": r.prototype_id, "rater": r.reviewer,
                            "comment": str(r.answer)} for r in comments.itertuples()]
    summary["flags"] = _flags(study, answers)
    summary["answers_by_prototype"] = _flagged_answers(study, answers, summary["flags"])
    if with_rounds and study.previous_id is not None:
        summary["rounds"] = compare_rounds(store, study, summary, answers, n_resamples, seed)
    if use_consensus:
        summary["final"] = _final_answers(store, study, answers, meta)
    return summary


def _study_header(store: ReviewStore, study: Study, n_resamples: int, seed: int,
                  n_prototypes: int) -> dict:
    """The summary's identity (study, protocol, catalog, bootstrap, definitions) and its
    empty sections, in the order ``summary.json`` lists them."""
    return {
        "study": study.name, "protoecg_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "protocol": study.protocol.to_dict(), "completion": status(store, study),
        "bootstrap": {"resamples": n_resamples, "seed": seed, "unit": "prototype",
                      "method": "percentile"},
        "definitions": {key: s.definition for key, s in STATISTICS.items()},
        "definitions_irrcac": IRRCAC_DEFINITIONS,
        "catalog": {key: study.catalog_meta.get(key) for key in CATALOG_KEYS}
        | {"path": study.catalog_path, "prototypes_in_study": n_prototypes},
        "questions": {}, "by_branch": {}, "by_class": {}, "raters": {}, "flags": {},
        "widest_disagreement": [], "comments": [],
        # what the catalog measured of its prototypes (issue 29); None: an older catalog
        "prototype_quality": study.catalog_meta.get("prototype_quality"),
        "degenerate_branches_allowed": study.catalog_meta.get("degenerate_branches_allowed"),
    }


def _matrix(answers: pd.DataFrame, question: str, prototypes: list[str]
            ) -> tuple[np.ndarray, list[str]]:
    """Prototypes x raters answers to one question (NaN: no answer) and the raters' names."""
    rows = answers[answers["question"] == question]
    raters = sorted(rows["reviewer"].unique())
    matrix = np.full((len(prototypes), len(raters)), np.nan)
    p_index = {p: i for i, p in enumerate(prototypes)}
    r_index = {r: j for j, r in enumerate(raters)}
    for row in rows.itertuples():
        matrix[p_index[row.prototype_id], r_index[row.reviewer]] = float(row.answer)
    return matrix, raters


def _statistics(matrix: np.ndarray, values: list[int], indices: np.ndarray,
                keys=tuple(STATISTICS)) -> dict:
    return statistics_with_ci(matrix, values, indices, tuple(keys))


def _question_entry(matrix: np.ndarray, raters: list[str], values: list[int],
                    indices: np.ndarray) -> dict:
    """One question over the whole study: counts, mean, distribution, every statistic."""
    rated = np.isfinite(matrix).any(axis=1)
    observed = matrix[np.isfinite(matrix)]
    return {
        "n_prototypes": int(rated.sum()), "n_raters": len(raters),
        "n_answers": int(observed.size),
        "mean": float(observed.mean()) if observed.size else None,
        "distribution": {str(v): int((observed == v).sum()) for v in values},
        **_statistics(matrix, values, indices),
        # the same resamples, irrCAC's definitions (what researchers reproduce in R)
        "irrcac": irrcac_statistics(matrix, values, indices),
    }


def _too_few(keys, n: int) -> dict:
    reason = (f"{n} rated prototype{'s' if n != 1 else ''} in this group; agreement needs at "
              f"least {MIN_GROUP_PROTOTYPES}")
    return {key: {"value": None, "ci": [None, None], "reason": reason} for key in keys}


def _add_groups(summary: dict, question: Question, matrix: np.ndarray, meta: pd.DataFrame,
                rng: np.random.Generator, n_resamples: int) -> None:
    """One question per branch and per class: mean with its CI, distribution, agreement
    (undefined below ``MIN_GROUP_PROTOTYPES`` rated prototypes); groups without answers are
    left out."""
    values = question.values
    prototypes = list(meta["prototype_id"])
    for group, column in (("by_branch", "branch"), ("by_class", "class_code")):
        for name, part in meta.groupby(column, sort=True):
            sub = matrix[np.isin(prototypes, part["prototype_id"])]
            sub_obs = sub[np.isfinite(sub)]
            if sub_obs.size == 0:
                continue
            sub_indices = rng.integers(0, len(sub), size=(n_resamples, len(sub)))
            n_rated = int(np.isfinite(sub).any(axis=1).sum())
            summary[group].setdefault(name, {})[question.id] = {
                "n_prototypes": n_rated,
                "n_answers": int(sub_obs.size), "mean": float(sub_obs.mean()),
                "mean_ci": _mean_ci(sub_obs, values[0], values[-1]),
                "distribution": {str(v): int((sub_obs == v).sum()) for v in values},
                **(_statistics(sub, values, sub_indices, BRANCH_STATISTICS)
                   if n_rated >= MIN_GROUP_PROTOTYPES
                   else _too_few(BRANCH_STATISTICS, n_rated)),
            }


def _add_raters(summary: dict, question_id: str, matrix: np.ndarray,
                raters: list[str]) -> None:
    """Each rater's number of answers, mean answer and leniency on one question."""
    for j, rater in enumerate(raters):
        mine = matrix[:, j]
        have = np.isfinite(mine)
        others = np.delete(matrix, j, axis=1)
        with warnings.catch_warnings():  # prototypes no other rater answered -> NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            other_mean = np.nanmean(others, axis=1) if others.shape[1] else \
                np.full(len(mine), np.nan)
        both = have & np.isfinite(other_mean)
        summary["raters"].setdefault(rater, {})[question_id] = {
            "n": int(have.sum()), "mean": float(mine[have].mean()) if have.any() else None,
            # leniency: how much higher this rater answers than the others on the same
            # prototypes (positive = more lenient)
            "leniency": float((mine[both] - other_mean[both]).mean()) if both.any()
            else None,
        }


def _widest_disagreements(question_id: str, matrix: np.ndarray, raters: list[str],
                          prototypes: list[str]) -> list[dict]:
    """Up to 10 prototypes whose answers to one question spread over 1 or more points."""
    with warnings.catch_warnings():  # unanswered prototypes -> NaN spread
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(matrix, axis=1) - np.nanmin(matrix, axis=1) \
            if matrix.size else np.array([])
    out = []
    for i in np.argsort(-np.nan_to_num(spread, nan=-1))[:10]:
        if not np.isfinite(spread[i]) or spread[i] < 1:
            continue
        out.append({
            "prototype_id": prototypes[i], "question": question_id,
            "spread": int(spread[i]),
            "answers": {r: int(matrix[i, j]) for j, r in enumerate(raters)
                        if np.isfinite(matrix[i, j])}})
    return out


def _flags(study: Study, answers: pd.DataFrame) -> dict:
    """Per flag of the protocol: how often it was set, on how many prototypes, and which."""
    out = {}
    for flag in study.protocol.flags:
        rows = answers[answers["question"] == flag.id]
        out[flag.id] = {
            "label": flag.label, "n_flags": int(len(rows)),
            "n_prototypes": int(rows["prototype_id"].nunique()),
            "prototypes": rows.groupby("prototype_id").size().sort_values(
                ascending=False).to_dict()}
    return out


def _flagged_answers(study: Study, answers: pd.DataFrame, flags: dict) -> dict:
    """The raters' answers to every question of each flagged prototype (for its table)."""
    flagged = {pid for f in flags.values() for pid in f["prototypes"]}
    return {pid: {q.id: [float(v) for v in part.loc[part["question"] == q.id, "answer"]]
                  for q in study.protocol.questions}
            for pid, part in answers.groupby("prototype_id", sort=False) if pid in flagged}


def _mean_ci(values: np.ndarray, low: float, high: float) -> list[float | None]:
    """95% CI of a mean of answers (normal approximation, kept within the scale's range
    [low, high]; None for fewer than 2 answers)."""
    if values.size < 2:
        return [None, None]
    half = 1.96 * float(values.std(ddof=1)) / np.sqrt(values.size)
    return [float(max(values.mean() - half, low)), float(min(values.mean() + half, high))]


def _final_answers(store: ReviewStore, study: Study, answers: pd.DataFrame,
                   meta: pd.DataFrame) -> dict:
    """Per prototype and question the consensus (where recorded) or else the raters' mean;
    per class the mean of those final answers; how many came from consensus."""
    decided = {(r.prototype_id, r.question): (int(r.value), r.note, r.researcher)
               for r in consensus_table(store, study).itertuples()}
    per_prototype, by_class = {}, {}
    classes = dict(zip(meta["prototype_id"], meta["class_code"], strict=True))
    for question in study.protocol.questions:
        rows = answers[answers["question"] == question.id]
        means = rows.assign(answer=rows["answer"].astype(float)).groupby(
            "prototype_id")["answer"].mean()
        for pid in meta["prototype_id"]:
            if (pid, question.id) in decided:
                value, note, who = decided[(pid, question.id)]
                entry = {"value": value, "source": "consensus", "note": note, "by": who}
            elif pid in means.index:
                entry = {"value": float(means[pid]), "source": "raters' mean"}
            else:
                continue
            per_prototype.setdefault(pid, {})[question.id] = entry
            by_class.setdefault(classes[pid], {}).setdefault(question.id, []).append(
                entry["value"])
    return {"prototypes": per_prototype,
            "by_class": {c: {q: {"mean": float(np.mean(v)), "n_prototypes": len(v)}
                             for q, v in parts.items()} for c, parts in by_class.items()},
            "n_consensus": len(decided)}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def compare_rounds(store: ReviewStore, study: Study, summary: dict, answers: pd.DataFrame,
                   n_resamples: int, seed: int) -> dict:
    """This round beside the previous one: per question the mean rating and agreement of each
    round, the mean change over the prototypes that continue an earlier one; per prototype its
    answers in both rounds (researchers only: raters never see this)."""
    previous = store.study_by_id(study.previous_id)
    before = summarize_study(store, previous, n_resamples, seed, with_rounds=False)
    earlier = current_answers(store, previous)
    questions = [q.id for q in study.protocol.questions]
    prototypes = [_round_pair(pid, old, questions, earlier, answers)
                  for pid, old in counterparts(store, study).items()]
    per_question = {}
    for q in questions:
        changes = [p["questions"][q]["current_mean"] - p["questions"][q]["previous_mean"]
                   for p in prototypes if p["questions"][q]["current_mean"] is not None
                   and p["questions"][q]["previous_mean"] is not None]
        per_question[q] = {
            "previous": {"mean": before["questions"][q]["mean"],
                         **{k: before["questions"][q][k] for k in ROUND_STATISTICS}},
            "current": {"mean": summary["questions"][q]["mean"],
                        **{k: summary["questions"][q][k] for k in ROUND_STATISTICS}},
            "matched_prototypes": len(changes),
            "mean_change_matched": float(np.mean(changes)) if changes else None,
        }
    return {"previous_study": previous.name, "questions": per_question,
            "prototypes": prototypes}


def _round_pair(pid: str, old: str | None, questions: list[str], earlier: pd.DataFrame,
                answers: pd.DataFrame) -> dict:
    """One prototype of this round beside the one it continues (None: a new one): the
    answers and means of both, and their bad flags."""
    entry = {"prototype_id": pid, "previous_id": old, "questions": {}, "bad": {
        "previous": len(_answers_of(earlier, old, "bad")),
        "current": len(_answers_of(answers, pid, "bad"))}}
    for q in questions:
        was, now = _answers_of(earlier, old, q), _answers_of(answers, pid, q)
        entry["questions"][q] = {"previous_answers": was, "current_answers": now,
                                 "previous_mean": _mean(was), "current_mean": _mean(now)}
    return entry


def _answers_of(frame: pd.DataFrame, pid: str | None, question: str) -> list[float]:
    if pid is None:
        return []
    rows = frame[(frame["prototype_id"] == pid) & (frame["question"] == question)]
    return [float(v) for v in rows["answer"]]
