"""Inter-rater agreement for ordinal ratings from several raters with missing answers, and
the one registry of the statistics a report gives (``STATISTICS``).

Each statistic takes a (units x raters) matrix of answers (NaN where a rater gave none; units are
prototypes) and says which definition it follows. A statistic that is undefined for the data
raises ``Undefined`` with the reason; ``with_ci`` turns that into ``{"value": null, "reason"}``
(never 0 or NaN). Confidence intervals: percentile bootstrap over units (prototypes), seeded;
each registry entry carries its vectorised bootstrap form (``bootstrap.py``) beside its point
function, so a new statistic is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from protoecg.agreement import bootstrap
from protoecg.agreement.scale import category_counts, disagreement_weights


class Undefined(ValueError):
    """The statistic has no value for these data (the message says why)."""


def _finite(value: float, reason: str) -> float:
    if value is None or not np.isfinite(value):
        raise Undefined(reason)
    return float(value)


def krippendorff_alpha(matrix: np.ndarray, values: list[int], level: str) -> float:
    """Krippendorff's alpha (Krippendorff 2011), ``ordinal`` or ``interval`` metric, missing
    answers allowed; by the ``krippendorff`` package."""
    m = np.asarray(matrix, dtype=float)
    pairable = (np.isfinite(m).sum(axis=1) >= 2).sum()
    if pairable < 1:
        raise Undefined("no prototype has two or more answers")
    observed = m[np.isfinite(m)]
    if np.unique(observed).size < 2:
        raise Undefined("every answer is the same (no variation)")
    value = krippendorff.alpha(reliability_data=m.T, level_of_measurement=level,
                               value_domain=list(values))
    return _finite(value, "no variation between pairable answers")


def fleiss_kappa(matrix: np.ndarray, values: list[int]) -> float:
    """Fleiss' kappa (Fleiss 1971; statsmodels) over the units that have the most common
    number of answers (n >= 2): the statistic assumes the same n for every unit."""
    m = np.asarray(matrix, dtype=float)
    counts = np.isfinite(m).sum(axis=1)
    eligible = counts[counts >= 2]
    if eligible.size < 2:
        raise Undefined("fewer than two prototypes with two or more answers")
    n = np.bincount(eligible).argmax()
    rows = m[counts == n]
    table = category_counts(rows, values).astype(int)
    if (table.sum(axis=0) > 0).sum() < 2:
        raise Undefined("every answer is the same (no variation)")
    return _finite(statsmodels_fleiss_kappa(table, method="fleiss"), "no variation")


def icc(matrix: np.ndarray) -> dict[str, float]:
    """Shrout & Fleiss (1979) ICC(1,1), (2,1), (3,1), (1,k), (2,k), (3,k) from the one- and
    two-way ANOVA mean squares, on the units answered by every rater (complete cases)."""
    m = np.asarray(matrix, dtype=float)
    m = m[:, np.isfinite(m).any(axis=0)]
    complete = m[np.isfinite(m).all(axis=1)]
    n, k = complete.shape
    if k < 2:
        raise Undefined("fewer than two raters")
    if n < 2:
        raise Undefined("fewer than two prototypes answered by every rater (ICC needs the "
                        "same raters on each prototype)")
    grand = complete.mean()
    ss_rows = k * ((complete.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((complete.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((complete - grand) ** 2).sum()
    ss_error = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    jms = ss_cols / (k - 1)
    ems = ss_error / ((n - 1) * (k - 1))
    wms = (ss_cols + ss_error) / (n * (k - 1))
    if bms == 0 and ems == 0 and wms == 0:
        raise Undefined("every answer is the same (no variation)")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "icc1_1": (bms - wms) / (bms + (k - 1) * wms),
            "icc2_1": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
            "icc3_1": (bms - ems) / (bms + (k - 1) * ems),
            "icc1_k": (bms - wms) / bms,
            "icc2_k": (bms - ems) / (bms + (jms - ems) / n),
            "icc3_k": (bms - ems) / bms,
        }
    return {key: float(v) for key, v in out.items()}


def cohen_kappa(a: np.ndarray, b: np.ndarray, values: list[int], weights: str = "none") -> float:
    """Cohen's kappa of two raters, unweighted, linear or quadratic (Cohen 1968), as
    scikit-learn's ``cohen_kappa_score`` defines it (checked in the tests)."""
    scale = np.asarray(values, dtype=float)
    q = len(values)
    rows = np.searchsorted(scale, np.asarray(a, dtype=float))
    cols = np.searchsorted(scale, np.asarray(b, dtype=float))
    observed = np.bincount(rows * q + cols, minlength=q * q).reshape(q, q).astype(float)
    total = observed.sum()
    if total < 2:
        raise Undefined("fewer than two prototypes rated by both raters")
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    w = disagreement_weights(values, weights)
    denominator = (w * expected).sum()
    if denominator == 0:
        raise Undefined("no variation in the two raters' answers")
    return float(1 - (w * observed).sum() / denominator)


def mean_pairwise_kappa(matrix: np.ndarray, values: list[int], weights: str) -> float:
    """Mean over rater pairs (with >= 2 prototypes in common) of their weighted kappa."""
    m = np.asarray(matrix, dtype=float)
    kappas = []
    for i, j in combinations(range(m.shape[1]), 2):
        both = np.isfinite(m[:, i]) & np.isfinite(m[:, j])
        if both.sum() >= 2:
            try:
                kappas.append(cohen_kappa(m[both, i], m[both, j], values, weights))
            except Undefined:
                continue
    if not kappas:
        raise Undefined("no pair of raters shares two or more prototypes with variation")
    return float(np.mean(kappas))


def gwet_ac(matrix: np.ndarray, values: list[int], weights: str = "none") -> float:
    """Gwet's AC1 (``weights="none"``) or AC2 (``linear``/``quadratic`` agreement weights) for
    several raters with missing answers (Gwet 2014, Handbook of Inter-Rater Reliability, 4th
    ed., ch. 2-3)."""
    m = np.asarray(matrix, dtype=float)
    q = len(values)
    w = 1.0 - disagreement_weights(values, weights)  # agreement weights: 1 on the diagonal
    counts = category_counts(m, values)  # r_ik
    r = counts.sum(axis=1)
    rated = r >= 1
    if rated.sum() == 0:
        raise Undefined("no answers")
    pairable = r >= 2
    if pairable.sum() == 0:
        raise Undefined("no prototype has two or more answers")
    weighted = counts @ w.T  # r*_ik
    pa = ((counts[pairable] * (weighted[pairable] - 1)).sum(axis=1)
          / (r[pairable] * (r[pairable] - 1))).mean()
    pi = (counts[rated] / r[rated, None]).mean(axis=0)
    pe = w.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum()
    if pe == 1:
        raise Undefined("chance agreement is 1")
    return float((pa - pe) / (1 - pe))


def percent_agreement(matrix: np.ndarray, tolerance: int = 0) -> float:
    """Share of rater pairs on the same prototype whose answers differ by at most
    ``tolerance`` points (0: exact agreement; 1: within one point), over all such pairs."""
    m = np.asarray(matrix, dtype=float)
    agree = pairs = 0
    for i, j in combinations(range(m.shape[1]), 2):  # vectorised over prototypes
        both = np.isfinite(m[:, i]) & np.isfinite(m[:, j])
        agree += int((np.abs(m[both, i] - m[both, j]) <= tolerance).sum())
        pairs += int(both.sum())
    if pairs == 0:
        raise Undefined("no prototype has two or more answers")
    return agree / pairs


@dataclass(frozen=True)
class Statistic:
    """One entry of the registry: its key in ``summary.json``, the definition it follows (as
    the report prints it), its value on a (units x raters) matrix (``point(matrix, values)``,
    raising ``Undefined``) and its vectorised bootstrap (``resampled(matrix, values, W)`` ->
    (R,) values, NaN where undefined; ``W`` is ``bootstrap.multiplicity``)."""
    name: str
    definition: str
    point: Callable[[np.ndarray, list[int]], float]
    resampled: Callable[[np.ndarray, list[int], np.ndarray], np.ndarray]


STATISTICS: dict[str, Statistic] = {s.name: s for s in (
    Statistic("krippendorff_alpha_ordinal",
              "Krippendorff's alpha, ordinal metric (Krippendorff 2011)",
              lambda m, v: krippendorff_alpha(m, v, "ordinal"),
              lambda m, v, w: bootstrap.krippendorff(m, v, w, "ordinal")),
    Statistic("krippendorff_alpha_interval",
              "Krippendorff's alpha, interval metric (sensitivity)",
              lambda m, v: krippendorff_alpha(m, v, "interval"),
              lambda m, v, w: bootstrap.krippendorff(m, v, w, "interval")),
    Statistic("fleiss_kappa", "Fleiss' kappa (Fleiss 1971), units with the modal n",
              fleiss_kappa, bootstrap.fleiss),
    Statistic("icc2_1", "ICC(2,1), two-way random, absolute, single (Shrout & Fleiss 1979), "
                        "complete cases",
              lambda m, v: icc(m)["icc2_1"], lambda m, v, w: bootstrap.icc(m, w)["icc2_1"]),
    Statistic("icc2_k", "ICC(2,k), two-way random, absolute, mean of k",
              lambda m, v: icc(m)["icc2_k"], lambda m, v, w: bootstrap.icc(m, w)["icc2_k"]),
    Statistic("icc3_k", "ICC(3,k), two-way mixed, consistency, mean of k",
              lambda m, v: icc(m)["icc3_k"], lambda m, v, w: bootstrap.icc(m, w)["icc3_k"]),
    Statistic("weighted_kappa_linear", "mean pairwise Cohen's kappa, linear weights",
              lambda m, v: mean_pairwise_kappa(m, v, "linear"),
              lambda m, v, w: bootstrap.pairwise_kappa(m, v, w, "linear")),
    Statistic("weighted_kappa_quadratic", "mean pairwise Cohen's kappa, quadratic weights",
              lambda m, v: mean_pairwise_kappa(m, v, "quadratic"),
              lambda m, v, w: bootstrap.pairwise_kappa(m, v, w, "quadratic")),
    Statistic("gwet_ac1", "Gwet's AC1 (Gwet 2014)",
              lambda m, v: gwet_ac(m, v, "none"),
              lambda m, v, w: bootstrap.gwet(m, v, w, "none")),
    Statistic("gwet_ac2", "Gwet's AC2, quadratic weights (Gwet 2014)",
              lambda m, v: gwet_ac(m, v, "quadratic"),
              lambda m, v, w: bootstrap.gwet(m, v, w, "quadratic")),
    Statistic("percent_agreement", "share of rater pairs with the same answer",
              lambda m, v: percent_agreement(m, 0),
              lambda m, v, w: bootstrap.percent(m, w, 0)),
    Statistic("within_one_agreement", "share of rater pairs within one point",
              lambda m, v: percent_agreement(m, 1),
              lambda m, v, w: bootstrap.percent(m, w, 1)),
)}


def statistic(name: str) -> Statistic:
    """The registry entry ``name``; KeyError naming the known ones."""
    try:
        return STATISTICS[name]
    except KeyError:
        raise KeyError(f"unknown statistic {name!r} (known: {', '.join(STATISTICS)})") from None


def bootstrap_samples(matrix: np.ndarray, values: list[int], indices: np.ndarray,
                      keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """(R,) resampled values of each statistic in ``keys`` (NaN where undefined in a
    resample), all R resamples (``indices``: (R, n_units)) in one vectorised pass each."""
    m = np.asarray(matrix, dtype=float)
    w = bootstrap.multiplicity(indices, len(m))
    return {key: statistic(key).resampled(m, values, w) for key in keys}


def with_ci(point: Callable[[np.ndarray, list[int]], float], matrix: np.ndarray,
            values: list[int], indices: np.ndarray, level: float = 0.95) -> dict:
    """{"value", "ci": [low, high]} with a percentile bootstrap over units (``indices``:
    (R, n_units) resamples drawn once per question), one evaluation per resample (the
    reference the vectorised ``statistics_with_ci`` is tested against); null with "reason"
    when undefined."""
    try:
        value = point(matrix, values)
    except Undefined as exc:
        return {"value": None, "ci": [None, None], "reason": str(exc)}
    samples = []
    for idx in indices:
        try:
            samples.append(point(matrix[idx], values))
        except Undefined:
            continue
    return bootstrap.percentile_ci(value, np.asarray(samples, dtype=float), len(indices),
                                   level)


def statistics_with_ci(matrix: np.ndarray, values: list[int], indices: np.ndarray,
                       keys: tuple[str, ...] = tuple(STATISTICS), level: float = 0.95
                       ) -> dict[str, dict]:
    """``with_ci`` for several statistics at once, bootstrapped in one vectorised pass
    (equal to the per-resample loop, see ``tests/test_bootstrap.py``)."""
    samples = bootstrap_samples(matrix, values, indices, keys) if len(indices) else {}
    out = {}
    for key in keys:
        try:
            value = statistic(key).point(matrix, values)
        except Undefined as exc:
            out[key] = {"value": None, "ci": [None, None], "reason": str(exc)}
            continue
        out[key] = bootstrap.percentile_ci(value, samples.get(key, np.array([])),
                                           len(indices), level)
    return out
