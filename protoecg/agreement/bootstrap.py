"""Vectorised bootstrap machinery for the agreement statistics.

Every statistic in ``statistics.py`` is a function of sums over prototypes (units) of per-unit
quantities (category counts, coincidences, rater-pair confusions, ANOVA sums). A bootstrap
resample is a multiplicity vector over units, so all R resamples are one matrix product
``W (R x n) @ features (n x f)``: 1,000 resamples cost about as much as a few evaluations of the
statistic. Each function below takes ``(matrix, values, W)`` and returns the (R,) resampled
values, NaN where the statistic is undefined in a resample; ``statistics.py`` pairs each with
its point function in the registry. ``tests/test_bootstrap.py`` checks each against the
per-resample loop.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from protoecg.agreement.scale import category_counts, disagreement_weights


def multiplicity(indices: np.ndarray, n: int) -> np.ndarray:
    """(R, n): how often each unit occurs in each resample."""
    r = len(indices)
    flat = (indices + n * np.arange(r)[:, None]).ravel()
    return np.bincount(flat, minlength=r * n).reshape(r, n).astype(float)


def krippendorff(m: np.ndarray, values: list[int], w: np.ndarray, level: str) -> np.ndarray:
    c = category_counts(m, values)
    mu = c.sum(axis=1)
    q = len(values)
    pair = mu >= 2
    coincide = np.zeros((len(m), q, q))
    coincide[pair] = (c[pair, :, None] * (c[pair, None, :] - np.eye(q)[None])
                      / (mu[pair, None, None] - 1))
    o = (w @ coincide.reshape(len(m), -1)).reshape(-1, q, q)  # (R, q, q)
    marg = o.sum(axis=2)
    n = marg.sum(axis=1)
    if level == "interval":
        v = np.asarray(values, float)
        delta = np.broadcast_to((v[:, None] - v[None, :]) ** 2, o.shape)
    else:  # ordinal (Krippendorff 2011): squared sum of marginals between the two ranks
        s = np.cumsum(marg, axis=1)
        lo, hi = np.minimum.outer(np.arange(q), np.arange(q)), np.maximum.outer(
            np.arange(q), np.arange(q))
        between = s[:, hi] - np.where(lo > 0, s[:, np.maximum(lo - 1, 0)], 0.0)
        delta = (between - (marg[:, :, None] + marg[:, None, :]) / 2) ** 2
    observed = (o * delta).sum(axis=(1, 2))
    expected = (marg[:, :, None] * marg[:, None, :] * delta).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1 - (n - 1) * observed / expected
    return np.where((expected > 0) & (n > 0), alpha, np.nan)


def fleiss(m: np.ndarray, values: list[int], w: np.ndarray) -> np.ndarray:
    c = category_counts(m, values)
    mu = c.sum(axis=1).astype(int)
    sizes = [k for k in np.unique(mu) if k >= 2]
    out = np.full(len(w), np.nan)
    if not sizes:
        return out
    eligible = w @ (mu >= 2)
    per_size = np.stack([w @ (mu == k) for k in sizes], axis=1)  # units per size
    mode = np.argmax(per_size, axis=1)  # ties -> smallest size, as np.bincount().argmax()
    for s_index, k in enumerate(sizes):
        mask = (mu == k).astype(float)
        units = per_size[:, s_index]
        totals = w @ (c * mask[:, None])  # (R, q)
        squares = w @ ((c**2).sum(axis=1) * mask)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = totals / (units[:, None] * k)
            p_bar = (squares - units * k) / (units * k * (k - 1))
            pe = (p**2).sum(axis=1)
            kappa = (p_bar - pe) / (1 - pe)
        varied = (totals > 0).sum(axis=1) >= 2
        pick = (mode == s_index) & (eligible >= 2) & varied
        out[pick] = kappa[pick]
    return out


def icc(m: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    m = m[:, np.isfinite(m).any(axis=0)]
    complete = np.isfinite(m).all(axis=1)
    k = m.shape[1]
    x = np.where(complete[:, None], np.nan_to_num(m), 0.0)
    n = w @ complete
    total = w @ x.sum(axis=1)
    squares = w @ (x**2).sum(axis=1)
    rows = w @ (x.sum(axis=1) ** 2)
    cols = w @ x  # (R, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        correction = total**2 / (n * k)
        ss_total = squares - correction
        ss_rows = rows / k - correction
        ss_cols = (cols**2).sum(axis=1) / n - correction
        ss_error = ss_total - ss_rows - ss_cols
        bms, jms = ss_rows / (n - 1), ss_cols / (k - 1)
        ems = ss_error / ((n - 1) * (k - 1))
        out = {"icc2_1": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
               "icc2_k": (bms - ems) / (bms + (jms - ems) / n),
               "icc3_k": (bms - ems) / bms}
    valid = (n >= 2) & (k >= 2)
    return {key: np.where(valid, v, np.nan) for key, v in out.items()}


def pairwise_kappa(m: np.ndarray, values: list[int], w: np.ndarray, kind: str) -> np.ndarray:
    q = len(values)
    scale = np.asarray(values, float)
    weights = disagreement_weights(values, kind).ravel()
    total_kappa = np.zeros(len(w))
    defined = np.zeros(len(w))
    for i, j in combinations(range(m.shape[1]), 2):
        both = np.isfinite(m[:, i]) & np.isfinite(m[:, j])
        if both.sum() < 2:
            continue
        cell = np.full(len(m), -1)
        cell[both] = (np.searchsorted(scale, m[both, i]) * q
                      + np.searchsorted(scale, m[both, j]))
        onehot = np.zeros((len(m), q * q))
        onehot[both, cell[both]] = 1
        conf = w @ onehot  # (R, q*q)
        total = conf.sum(axis=1)
        rows = conf.reshape(-1, q, q).sum(axis=2)
        cols = conf.reshape(-1, q, q).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = (rows[:, :, None] * cols[:, None, :]).reshape(-1, q * q) / total[:, None]
            denominator = expected @ weights
            kappa = 1 - (conf @ weights) / denominator
        ok = (total >= 2) & (denominator != 0)
        total_kappa += np.where(ok, kappa, 0.0)
        defined += ok
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined > 0, total_kappa / defined, np.nan)


def gwet(m: np.ndarray, values: list[int], w: np.ndarray, kind: str) -> np.ndarray:
    q = len(values)
    agree = 1.0 - disagreement_weights(values, kind)
    c = category_counts(m, values)
    r = c.sum(axis=1)
    pair, rated = r >= 2, r >= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(pair, (c * (c @ agree.T - 1)).sum(axis=1) / (r * (r - 1)), 0.0)
        share = np.where(rated[:, None], c / r[:, None], 0.0)
        pa = (w @ a) / (w @ pair)
        pi = (w @ share) / (w @ rated)[:, None]
        pe = agree.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum(axis=1)
        ac = (pa - pe) / (1 - pe)
    return np.where((w @ pair > 0) & (pe != 1), ac, np.nan)


def percent(m: np.ndarray, w: np.ndarray, tolerance: int) -> np.ndarray:
    agree = np.zeros(len(m))
    pairs = np.zeros(len(m))
    for i, j in combinations(range(m.shape[1]), 2):
        both = np.isfinite(m[:, i]) & np.isfinite(m[:, j])
        pairs += both
        agree += both & (np.abs(np.nan_to_num(m[:, i]) - np.nan_to_num(m[:, j])) <= tolerance)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (w @ agree) / (w @ pairs)
    return np.where(w @ pairs > 0, share, np.nan)


def percentile_ci(value: float, samples: np.ndarray, n_resamples: int, level: float) -> dict:
    """{"value", "ci": [low, high]} from the resampled values (the finite ones); the CI is
    null, with the reason, when fewer than half of the resamples are defined."""
    finite = np.asarray(samples, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size < 0.5 * max(n_resamples, 1):
        return {"value": value, "ci": [None, None],
                "reason": f"CI: only {finite.size} of {n_resamples} resamples defined"}
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    if low == high and np.ptp(finite) == 0:
        # every resample gives the same value: too few units for the bootstrap to vary, not
        # a certain estimate (issue 31: a class's alpha from 6 answers showed [-0.667, -0.667])
        return {"value": value, "ci": [None, None],
                "reason": f"CI: all {finite.size} resamples give the same value (too few "
                          "units to resample)"}
    return {"value": value, "ci": [float(low), float(high)]}
