"""The soft clustering of time steps: standardised activations, PCA, a Gaussian mixture (full
covariances: after the PCA rotation a cluster's spread is not along the axes) whose number of
clusters is the one with the lowest BIC (Schwarz's criterion) over a
stated range; each step's posterior over the clusters and its entropy. Fitted parameters are
plain arrays (``to_arrays``/``from_arrays``), so a saved clustering needs no pickle.

Numpy and scikit-learn only: tests fit it to synthetic activations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

MAX_FIT_STEPS = 40_000  # time steps the mixture is fitted on (a seeded sample of them)
N_COMPONENTS = 16  # PCA dimensions kept before the mixture


@dataclass
class Clustering:
    """One branch's fitted clustering."""

    mean: np.ndarray  # (D,) of the activations
    scale: np.ndarray  # (D,) their standard deviations (1 where constant)
    components: np.ndarray  # (Q, D) PCA axes
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, Q)
    variances: np.ndarray  # (K, Q, Q) covariances
    bic: dict[int, float]  # K -> BIC of every K tried

    @property
    def n_clusters(self) -> int:
        return len(self.weights)

    def _mixture(self) -> GaussianMixture:
        mixture = GaussianMixture(self.n_clusters, covariance_type="full")
        mixture.weights_, mixture.means_ = self.weights, self.means
        mixture.covariances_ = self.variances
        # as scikit-learn computes it: the Cholesky factor of each precision matrix
        eye = np.eye(self.means.shape[1])
        mixture.precisions_cholesky_ = np.stack([
            solve_triangular(cholesky(c, lower=True), eye, lower=True).T
            for c in self.variances])
        return mixture

    def project(self, features: np.ndarray) -> np.ndarray:
        """(..., D) activations -> (..., Q) the mixture's space."""
        return ((features - self.mean) / self.scale) @ self.components.T

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        """(N, T, D) activations -> (N, T, K) each step's probability of each cluster."""
        n, t, _ = features.shape
        flat = self.project(features.reshape(n * t, -1))
        return self._mixture().predict_proba(flat).reshape(n, t, self.n_clusters)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        ks = sorted(self.bic)
        return {f"{prefix}{name}": value for name, value in (
            ("mean", self.mean), ("scale", self.scale), ("components", self.components),
            ("weights", self.weights), ("means", self.means), ("variances", self.variances),
            ("bic_k", np.array(ks)), ("bic", np.array([self.bic[k] for k in ks])))}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> Clustering:
        get = {name: np.asarray(arrays[f"{prefix}{name}"]) for name in (
            "mean", "scale", "components", "weights", "means", "variances", "bic_k", "bic")}
        return cls(get["mean"], get["scale"], get["components"], get["weights"], get["means"],
                   get["variances"], dict(zip(get["bic_k"].tolist(), get["bic"].tolist(),
                                              strict=True)))


K_RANGE = (2, 20)  # numbers of clusters tried by default, every K_STEP-th
K_STEP = 2


def fit_clustering(features: np.ndarray, k_range: tuple[int, int] = K_RANGE, seed: int = 0,
                   max_steps: int = MAX_FIT_STEPS, k_step: int = K_STEP) -> Clustering:
    """Fit on (N, T, D) activations of training ECGs: K = low, low + k_step, ... up to high
    (inclusive, high always tried) on a seeded sample of at most ``max_steps`` steps, the one
    with the lowest BIC kept."""
    low, high = k_range
    if not 1 <= low <= high or k_step < 1:
        raise ValueError(f"k_range {k_range}, step {k_step}: expected 1 <= low <= high, "
                         "step >= 1")
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    rng = np.random.default_rng(seed)
    if len(flat) > max_steps:
        flat = flat[rng.choice(len(flat), max_steps, replace=False)]
    mean = flat.mean(axis=0)
    scale = flat.std(axis=0)
    scale[scale < 1e-8] = 1.0
    standard = (flat - mean) / scale
    q = int(min(N_COMPONENTS, standard.shape[1], max(1, len(standard) - 1)))
    pca = PCA(q, random_state=seed).fit(standard)
    reduced = pca.transform(standard) + pca.mean_ @ pca.components_.T  # no centring: see project
    best, bic = None, {}
    top = min(high, len(reduced))
    for k in sorted(set(range(low, top + 1, k_step)) | {top}):
        mixture = GaussianMixture(k, covariance_type="full", random_state=seed,
                                  reg_covar=1e-4).fit(reduced)
        bic[k] = float(mixture.bic(reduced))
        if best is None or bic[k] < bic[best[0]]:
            best = (k, mixture)
    _, mixture = best
    return Clustering(mean, scale, pca.components_, mixture.weights_, mixture.means_,
                      mixture.covariances_, bic)


def entropy(posteriors: np.ndarray) -> np.ndarray:
    """(..., K) -> (...) each step's assignment entropy in nats (0: one cluster for certain;
    log K at most: every cluster alike)."""
    p = np.clip(posteriors, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=-1)


def proportions(posteriors: np.ndarray) -> np.ndarray:
    """(N, T, K) -> (N, K) each ECG's share of time in each cluster (soft counts)."""
    return posteriors.mean(axis=1)
