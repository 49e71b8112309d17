"""Faithfulness of the cluster summary: a random forest on each ECG's cluster proportions,
trained on the training folds, predicting (a) the model's own decisions and (b) the true
labels, scored on the test fold.

(a) is scored as agreement over (ECG, label) pairs, as Boubekki et al. report it, and beside
it what agreement costs nothing: the forest's agreement is set against always giving each
label's majority training decision, and Cohen's kappa per label, averaged over the labels where
it is defined, says how much of the agreement is beyond chance. (Kappa over the pooled pairs
would not: it credits knowing which labels are rare.) With 71 mostly absent labels, a summary
that carries nothing agrees on ~95% of pairs; its kappa is near 0. (b) is the forest's test
macro AUROC beside the model's, on the same labels."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import cohen_kappa_score

from protoecg.train.metrics import bootstrap_indices, bootstrap_macro_auroc, macro_auroc

N_TREES = 300


def _forest(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[RandomForestClassifier, list]:
    """A multi-output forest over the columns of ``y`` that vary in training (the others are
    returned as constants)."""
    varied = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    forest = RandomForestClassifier(N_TREES, random_state=seed, n_jobs=1, min_samples_leaf=2)
    if varied:
        forest.fit(x, y[:, varied] if len(varied) > 1 else y[:, varied[0]])
    return forest, varied


def _probabilities(forest, varied: list, y_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(N, L) the forest's probability of each label (a constant label: its training value)."""
    out = np.tile(y_train.mean(axis=0), (len(x), 1)).astype(np.float64)
    if varied:
        raw = forest.predict_proba(x)
        raw = raw if isinstance(raw, list) else [raw]
        for j, p in zip(varied, raw, strict=True):
            out[:, j] = p[:, 1]
    return out


def surrogate(train_x: np.ndarray, test_x: np.ndarray, train_decisions: np.ndarray,
              test_decisions: np.ndarray, train_labels: np.ndarray, test_labels: np.ndarray,
              model_scores: np.ndarray, seed: int = 0) -> dict:
    """The forest's figures (see the module text). ``*_x`` (N, F) cluster proportions;
    ``*_decisions`` (N, L) the model's 0/1 decisions; ``*_labels`` (N, L) the truth;
    ``model_scores`` (N_test, L) the model's logits."""
    train_decisions = np.asarray(train_decisions, dtype=int)
    test_decisions = np.asarray(test_decisions, dtype=int)
    forest, varied = _forest(train_x, train_decisions, seed)
    predicted = (_probabilities(forest, varied, train_decisions, test_x) >= 0.5).astype(int)
    majority = (train_decisions.mean(axis=0) >= 0.5).astype(int)
    baseline = np.tile(majority, (len(test_x), 1))
    positives = test_decisions == 1
    truth_forest, truth_varied = _forest(train_x, np.asarray(train_labels, dtype=int), seed)
    truth_scores = _probabilities(truth_forest, truth_varied, np.asarray(train_labels), test_x)
    test_labels = np.asarray(test_labels)
    scored = [j for j in range(test_labels.shape[1]) if 0 < test_labels[:, j].sum()
              < len(test_labels)]
    agreement = float((predicted == test_decisions).mean())
    return {
        "agreement": agreement,
        "majority_agreement": float((baseline == test_decisions).mean()),
        **_macro_kappa(test_decisions, predicted),
        "positive_agreement": (float(predicted[positives].mean()) if positives.any()
                               else None),
        "n_pairs": int(test_decisions.size), "n_model_positive": int(positives.sum()),
        "surrogate_auroc": (macro_auroc(test_labels[:, scored], truth_scores[:, scored])
                            if scored else None),
        "model_auroc": (macro_auroc(test_labels[:, scored], np.asarray(model_scores)[:, scored])
                        if scored else None),
        "n_labels_scored": len(scored),
        "auroc_difference_ci": (_difference_ci(test_labels[:, scored], truth_scores[:, scored],
                                               np.asarray(model_scores)[:, scored], seed)
                                if scored else None),
    }


def _difference_ci(labels: np.ndarray, surrogate_scores: np.ndarray, model_scores: np.ndarray,
                   seed: int, n_resamples: int = 1000) -> list[float] | None:
    """95% paired bootstrap interval of the surrogate's macro AUROC minus the model's (the same
    resampled test ECGs for both)."""
    index = bootstrap_indices(len(labels), n_resamples, seed)
    difference = (bootstrap_macro_auroc(labels, surrogate_scores, index)
                  - bootstrap_macro_auroc(labels, model_scores, index))
    difference = difference[np.isfinite(difference)]
    if not len(difference):
        return None
    return [float(v) for v in np.quantile(difference, [0.025, 0.975])]


def _macro_kappa(decisions: np.ndarray, predicted: np.ndarray) -> dict:
    """Cohen's kappa per label between the model's decisions and the forest's, averaged over
    the labels where it is defined (not one value everywhere on both sides)."""
    values = []
    for j in range(decisions.shape[1]):
        a, b = decisions[:, j], predicted[:, j]
        if len(set(a.tolist()) | set(b.tolist())) < 2:
            continue
        value = cohen_kappa_score(a, b)
        if not np.isnan(value):
            values.append(float(value))
    return {"kappa": float(np.mean(values)) if values else None,
            "n_labels_kappa": len(values)}
