"""Blind A/B comparison of two models' explanations (issue 32): the key and the answers checked
together, and the statistics ``summary.json``'s ``comparison`` holds.

A comparison study shows each case (an ECG and a label) with the two models' prototypes as A
and B in an order drawn per case; the **key** (``case_id, label, A, B``) says which model each
letter was. Raters answer, per task (e.g. ``prototype``, ``explanation``), ``<task>:A`` and
``<task>:B`` (1 = good, 0 = not) and ``<task>:preference`` (``A``, ``B``, ``both``,
``neither``). Everything here works on the answers decoded through the key: a letter never
reaches a statistic.

The statistics follow the published study this protocol is modelled on (ProtoSSL's blinded
clinician study, 2026):

* per task and model (and per label): how many answers said good, of how many;
* per task, **participant level**: each rater's proportion of "good" per model; the difference
  is the second model minus the first in alphabetical order of their names; its mean and 95%
  t interval over raters, the two-sided exact Wilcoxon signed-rank test (zero differences
  dropped, as Wilcoxon did; the normal approximation, said so, where ties among the remaining
  differences leave no exact distribution), the paired t test and the sign test over raters;
* per task, the **preferences** decoded to model names, overall and per label;
* **agreement** on the yes/no answers, the units being case x task x model: Fleiss' kappa
  (generalised to units with missing answers, irrCAC's ``fleiss.kappa.raw``; the classical
  Fleiss' kappa where every unit has the same raters) overall and per label, and Gwet's AC1
  beside it with a percentile bootstrap CI over units (kappa misleads when nearly every answer
  is "yes").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from protoecg.agreement import bootstrap, irrcac
from protoecg.errors import ProtoECGError

KEY_COLUMNS = ("case_id", "label", "A", "B")
ANSWER_COLUMNS = ("reviewer", "case_id", "question", "answer")
LETTERS = ("A", "B")
PREFERENCES = ("A", "B", "both", "neither")


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


def decode(key: pd.DataFrame, answers: pd.DataFrame, where: str = "answers") -> pd.DataFrame:
    """The answers decoded through the key, one row per answer: ``reviewer, case_id, label,
    task, kind`` (``good`` or ``preference``), ``model`` (the model a yes/no answer is about;
    for a preference the model preferred, or ``both`` / ``neither``) and ``value`` (1 / 0 for
    good, else None). Every bad row is refused with its line: an unknown case, a question that
    is not ``<task>:A|B|preference``, an answer out of range, a reviewer answering a question
    twice, a task some answers' cases lack."""
    check_key(key)
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
        answer = str(row["answer"]).strip()
        shown = cases[case]
        if part in LETTERS:
            if answer not in ("0", "1"):
                raise ComparisonError(f"{where} line {line}: answer {answer!r} to "
                                      f"{pair[2]!r}: expected 1 (good) or 0 (not)")
            rows.append((reviewer, case, shown["label"], task, "good", shown[part],
                         int(answer)))
        else:
            if answer not in PREFERENCES:
                raise ComparisonError(f"{where} line {line}: answer {answer!r} to "
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


# ---------------------------------------------------------------- statistics
def summarize_comparison(key: pd.DataFrame, answers: pd.DataFrame, n_resamples: int = 1000,
                         seed: int = 42, level: float = 0.95) -> dict:
    """``summary.json``'s ``comparison`` (see the module text) from a key and long-form
    answers, both checked first (``ComparisonError``)."""
    first, second = check_key(key)
    decoded = decode(key, answers)
    good = decoded[decoded["kind"] == "good"]
    preferences = decoded[decoded["kind"] == "preference"]
    tasks = {}
    for task in sorted(set(decoded["task"])):
        mine = good[good["task"] == task]
        tasks[task] = {
            "models": {model: _proportion(mine[mine["model"] == model])
                       for model in (first, second)},
            "by_label": {label: {model: _proportion(part[part["model"] == model])
                                 for model in (first, second)}
                         for label, part in sorted(mine.groupby("label"))},
            "participant_level": participant_level(mine, first, second, level),
            "preferences": _preferences(preferences[preferences["task"] == task],
                                        first, second),
        }
    return {
        "models": [first, second],
        "difference": f"{second} minus {first}",
        "n_cases": int(key["case_id"].nunique()),
        "n_cases_answered": int(decoded["case_id"].nunique()),
        "n_raters": int(decoded["reviewer"].nunique()),
        "labels": sorted(set(key["label"])),
        "tasks": tasks,
        "fleiss_kappa": _kappa_by_label(good, n_resamples, seed, level),
        "bootstrap": {"resamples": n_resamples, "seed": seed, "level": level,
                      "unit": "case x task x model"},
    }


def _proportion(rows: pd.DataFrame) -> dict:
    n = int(len(rows))
    yes = int(rows["value"].sum()) if n else 0
    return {"n_yes": yes, "n_total": n, "proportion": yes / n if n else None}


def _preferences(rows: pd.DataFrame, first: str, second: str) -> dict:
    def counts(part: pd.DataFrame) -> dict:
        tally = part["model"].value_counts()
        return {name: int(tally.get(name, 0)) for name in (first, second, "both", "neither")}

    return {"overall": counts(rows),
            "by_label": {label: counts(part) for label, part in sorted(rows.groupby("label"))}}


def participant_level(good: pd.DataFrame, first: str, second: str, level: float = 0.95) -> dict:
    """Each rater's proportion of "good" per model, and the tests over raters of the
    difference (second minus first) where a rater answered on both models."""
    table = good.pivot_table(index="reviewer", columns="model", values="value", aggfunc="mean")
    if first not in table or second not in table:
        return _no_test(0, "no rater answered on both models")
    paired = table[[first, second]].dropna()
    d = (paired[second] - paired[first]).to_numpy(dtype=float)
    n = len(d)
    out = {"n_raters": n, "proportions": {r: {first: float(a), second: float(b)}
                                          for r, a, b in paired.itertuples()}}
    if n < 2:
        return {**out, **_no_test(n, "fewer than 2 raters answered on both models")}
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))
    out.update(mean_difference=mean, ci95=[mean - half, mean + half] if sd > 0 else None)
    out.update(_wilcoxon(d))
    out["paired_t_p"] = (float(stats.ttest_rel(paired[second], paired[first]).pvalue)
                         if sd > 0 else None)
    nonzero = d[d != 0]
    out["sign_test_p"] = (float(stats.binomtest(int((nonzero > 0).sum()), len(nonzero),
                                                0.5).pvalue) if len(nonzero) else None)
    if sd == 0:
        out["reason"] = "every rater's difference is the same: no interval or t test"
    return out


def _wilcoxon(d: np.ndarray) -> dict:
    """Two-sided Wilcoxon signed-rank test, zero differences dropped: exact where the
    remaining absolute differences have no ties, else the normal approximation (said so)."""
    nonzero = d[d != 0]
    if not len(nonzero):
        return {"wilcoxon_p": None, "wilcoxon_method": "no non-zero difference"}
    ties = len(np.unique(np.abs(nonzero))) < len(nonzero)
    method = "approx" if ties else "exact"
    result = stats.wilcoxon(nonzero, zero_method="wilcox", method=method,
                            alternative="two-sided")
    return {"wilcoxon_p": float(result.pvalue),
            "wilcoxon_method": "exact" if method == "exact" else
            "normal approximation (ties among the differences)"}


def _no_test(n: int, reason: str) -> dict:
    return {"n_raters": n, "mean_difference": None, "ci95": None, "wilcoxon_p": None,
            "paired_t_p": None, "sign_test_p": None, "reason": reason}


def good_matrix(good: pd.DataFrame) -> np.ndarray:
    """Units (case x task x model) by raters: 1 / 0, NaN where a rater did not answer."""
    table = good.pivot_table(index=["case_id", "task", "model"], columns="reviewer",
                             values="value", aggfunc="first")
    return table.to_numpy(dtype=float)


def _kappa_by_label(good: pd.DataFrame, n_resamples: int, seed: int, level: float) -> dict:
    out = {"overall": _agreement(good_matrix(good), n_resamples, seed, level)}
    out["by_label"] = {label: _agreement(good_matrix(part), n_resamples, seed, level)
                       for label, part in sorted(good.groupby("label"))}
    return out


def _agreement(matrix: np.ndarray, n_resamples: int, seed: int, level: float) -> dict:
    """Fleiss' kappa and Gwet's AC1 (with its bootstrap CI over units) of one yes/no matrix."""
    n = len(matrix)
    point = irrcac.coefficients(matrix, [0, 1])
    kappa, ac1 = float(point["fleiss_kappa"][0]), float(point["gwet"][0])
    out = {"n_units": n, "n_raters": int(matrix.shape[1]) if matrix.ndim == 2 else 0,
           "fleiss_kappa": kappa if np.isfinite(kappa) else None}
    if not np.isfinite(kappa):
        out["fleiss_kappa_reason"] = ("every answer is the same: chance agreement is 1"
                                      if n else "no answers")
    if not np.isfinite(ac1):
        out["gwet_ac1"] = {"value": None, "ci": [None, None],
                           "reason": "no unit has two or more answers"}
        return out
    indices = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    samples = irrcac.coefficients(matrix, [0, 1], "identity",
                                  bootstrap.multiplicity(indices, n))["gwet"]
    out["gwet_ac1"] = bootstrap.percentile_ci(ac1, samples, n_resamples, level)
    return out
