"""Chance-corrected agreement as Gwet's irrCAC defines it for raw ratings with missing answers
(R package irrCAC, ``agree.coeff3.raw.r``; Gwet, Handbook of Inter-Rater Reliability, 4th ed.
2014): percent agreement, Gwet's AC1 / AC2, Fleiss' kappa generalised to missing answers,
Conger's kappa, Brennan-Prediger and Krippendorff's alpha.

These are what researchers reproduce in R; they differ from the project's own definitions in
``statistics.py`` where noted in ``DEFINITIONS`` (e.g. Fleiss' kappa there uses only units with
the modal number of answers; percent agreement there pools rater pairs, here it averages units).
``tests/test_irrcac.py`` reproduces irrCAC's published outputs on its ``cac.raw4raters`` data to
4 decimals.

Every coefficient is written over per-unit counts with unit multiplicities ``W`` (R, n): the
point estimate is ``W = 1``; R bootstrap resamples are R rows of ``W`` evaluated at once.
"""

from __future__ import annotations

import numpy as np

from protoecg.agreement import bootstrap

DEFINITIONS = {
    "percent_agreement": "percent agreement, mean over units with 2+ answers (irrCAC pa)",
    "gwet_ac1": "Gwet's AC1 (irrCAC gwet.ac1.raw)",
    "gwet_ac2_quadratic": "Gwet's AC2, quadratic weights (irrCAC gwet.ac1.raw, quadratic)",
    "fleiss_kappa": "Fleiss' kappa generalised to missing answers (irrCAC fleiss.kappa.raw)",
    "conger_kappa": "Conger's kappa (irrCAC conger.kappa.raw)",
    "brennan_prediger": "Brennan-Prediger coefficient (irrCAC bp.coeff.raw)",
    "krippendorff_alpha_nominal": "Krippendorff's alpha, nominal (irrCAC krippen.alpha.raw)",
}


def _weights(categories: list[int], kind: str) -> np.ndarray:
    x = np.asarray(categories, dtype=float)
    if kind == "identity":
        return np.eye(len(x))
    if kind == "quadratic":  # 1 - (x_k - x_l)^2 / (max - min)^2, irrCAC's quadratic.weights
        span = (x.max() - x.min()) ** 2 or 1.0
        return 1 - (x[:, None] - x[None, :]) ** 2 / span
    raise ValueError(f"unknown weights {kind!r}: expected identity or quadratic")


def _counts(matrix: np.ndarray, categories: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(n, r, q) one-hot of each rater's answer per unit (all zero where missing), units
    without any answer left out (irrCAC asks for them to be removed), and which units were
    kept."""
    m = np.asarray(matrix, dtype=float)
    onehot = np.stack([(m == c) for c in categories], axis=2).astype(float)
    keep = onehot.sum(axis=(1, 2)) > 0
    return onehot[keep], keep


def coefficients(matrix: np.ndarray, categories: list[int], weights: str = "identity",
                 W: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every coefficient (and the shared ``pa``) for unit multiplicities ``W`` (R, n) (None:
    the data as they are, R = 1); NaN where undefined for a row of ``W``."""
    onehot, keep = _counts(matrix, categories)
    n, r, q = onehot.shape
    W = np.ones((1, n)) if W is None else np.asarray(W, dtype=float)[:, keep]
    keys = ("percent_agreement", "gwet", "fleiss_kappa", "conger_kappa", "brennan_prediger",
            "krippendorff_alpha")
    if n == 0 or r == 0:  # no answer at all
        return {key: np.full(len(W), np.nan) for key in keys}
    w = _weights(categories, weights)
    r_ik = onehot.sum(axis=1)  # (n, q)
    r_i = r_ik.sum(axis=1)  # (n,)
    weighted = r_ik @ w.T  # r*_ik = sum_l w_kl r_il
    sum_q = (r_ik * (weighted - 1)).sum(axis=1)  # agreeing pairs per unit
    two = r_i >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        n2 = W @ two
        pa = (W @ np.where(two, sum_q / np.where(two, r_i * (r_i - 1), 1), 0)) / n2
        # pi_k over all units (AC1, Fleiss)
        pi = (W @ (r_ik / r_i[:, None])) / W.sum(axis=1, keepdims=True)
        t_w = w.sum()
        pe_gwet = t_w / (q * (q - 1)) * (pi * (1 - pi)).sum(axis=1) if q >= 2 else \
            np.full(len(W), 1e-15)
        pe_fleiss = ((pi @ w) * pi).sum(axis=1)
        pe_bp = np.full(len(W), t_w / q**2)
        # Conger: per rater category shares over the units they rated
        n_gk = np.einsum("Ri,igk->Rgk", W, onehot)
        p_gk = n_gk / n_gk.sum(axis=2, keepdims=True)
        p_bar = p_gk.mean(axis=1)  # (R, q)
        s2 = (np.einsum("Rgk,Rgl->Rkl", p_gk, p_gk)
              - r * np.einsum("Rk,Rl->Rkl", p_bar, p_bar)) / (r - 1) if r > 1 else \
            np.zeros((len(W), q, q))
        pe_conger = (w[None] * (np.einsum("Rk,Rl->Rkl", p_bar, p_bar) - s2 / r)).sum(
            axis=(1, 2))
        # Krippendorff: units with 2+ answers only
        total = W @ (r_i * two)
        r_bar = total / n2
        pa_prime = (W @ np.where(two, sum_q / np.where(two, r_i - 1, 1), 0)) / (n2 * r_bar)
        eps = 1 / total
        pa_k = (1 - eps) * pa_prime + eps
        pi_k = (W @ (r_ik * two[:, None])) / total[:, None]
        pe_k = ((pi_k @ w) * pi_k).sum(axis=1)

        def chance(pa_, pe):
            return np.where(np.isclose(pe, 1.0), np.nan, (pa_ - pe) / (1 - pe))

        out = {"percent_agreement": pa, "gwet": chance(pa, pe_gwet),
               "fleiss_kappa": chance(pa, pe_fleiss), "conger_kappa": chance(pa, pe_conger),
               "brennan_prediger": chance(pa, pe_bp),
               "krippendorff_alpha": chance(pa_k, pe_k)}
    return {k: np.where(n2 > 0, v, np.nan) for k, v in out.items()}


def _reported(matrix: np.ndarray, values: list[int], W: np.ndarray | None
              ) -> dict[str, np.ndarray]:
    """The coefficients under the names of ``DEFINITIONS`` (AC2 is Gwet's with quadratic
    weights; the rest unweighted)."""
    plain = coefficients(matrix, values, "identity", W)
    quad = coefficients(matrix, values, "quadratic", W)
    return {"percent_agreement": plain["percent_agreement"], "gwet_ac1": plain["gwet"],
            "gwet_ac2_quadratic": quad["gwet"], "fleiss_kappa": plain["fleiss_kappa"],
            "conger_kappa": plain["conger_kappa"],
            "brennan_prediger": plain["brennan_prediger"],
            "krippendorff_alpha_nominal": plain["krippendorff_alpha"]}


def irrcac_statistics(matrix: np.ndarray, values: list[int], indices: np.ndarray,
                      level: float = 0.95) -> dict[str, dict]:
    """``summary.json``'s ``questions.<id>.irrcac``: each coefficient's value on the scale's
    categories and its percentile bootstrap CI over units (the same resamples as the other
    statistics); ``{value: null, reason}`` where undefined."""
    m = np.asarray(matrix, dtype=float)
    points = _reported(m, values, None)
    samples = (_reported(m, values, bootstrap.multiplicity(indices, len(m)))
               if len(indices) and len(m) else {})
    out = {}
    for key, value in points.items():
        v = float(value[0]) if len(value) else float("nan")
        if not np.isfinite(v):
            reason = ("no prototype has two or more answers" if not len(m)
                      or not (np.isfinite(m).sum(axis=1) >= 2).any()
                      else "chance agreement is 1 (every answer the same)")
            out[key] = {"value": None, "ci": [None, None], "reason": reason}
            continue
        out[key] = bootstrap.percentile_ci(v, samples.get(key, np.array([])), len(indices),
                                           level)
    return out
