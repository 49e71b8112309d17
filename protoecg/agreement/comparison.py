"""Blind A/B comparison of two models' explanations (issue 32): the statistics
``summary.json``'s ``comparison`` holds.

The key and the answers are checked and decoded to model names by ``study/comparison.py``;
everything here works on the decoded answers: a letter never reaches a statistic.

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
from protoecg.study.comparison import check_key, decode


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
