import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from protoecg.train.metrics import (
    auroc_per_label,
    bootstrap_indices,
    macro_auroc,
    macro_auroc_with_ci,
)
from protoecg.train.predict import predict


def test_auroc_equals_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.random((200, 6)) < 0.3
    scores = np.round(rng.random((200, 6)) + labels * 0.3, 1)  # rounding makes ties
    ours = auroc_per_label(labels, scores)
    for j in range(6):
        assert ours[j] == pytest.approx(roc_auc_score(labels[:, j], scores[:, j]))


def test_labels_without_both_classes_are_left_out():
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.3], [0.8, 0.5], [0.1, 0.2]])
    assert np.isnan(auroc_per_label(labels, scores)[1])
    assert macro_auroc(labels, scores) == 1.0


def test_bootstrap_ci_brackets_the_value_and_is_paired():
    rng = np.random.default_rng(1)
    labels = rng.random((300, 4)) < 0.4
    scores = labels + rng.normal(0, 1.0, size=labels.shape)
    result = macro_auroc_with_ci(labels, scores, n_resamples=200, seed=7)
    assert result["ci"][0] < result["value"] < result["ci"][1]
    assert 0.6 < result["value"] < 0.9 and result["n_resamples"] == 200
    np.testing.assert_array_equal(bootstrap_indices(300, 5, 7), bootstrap_indices(300, 5, 7))


def test_undefined_macro_auroc_says_why():
    result = macro_auroc_with_ci(np.zeros((5, 2)), np.zeros((5, 2)), n_resamples=10)
    assert result["value"] is None and "no label" in result["reason"]


class _ConfidentModel(torch.nn.Module):
    """A model whose one logit is the first sample of lead I: confident far beyond the range
    where a float32 sigmoid still tells values apart (about -104 to 17)."""

    def forward(self, x: torch.Tensor):
        return x[:, 0, :1], {}


@pytest.mark.parametrize("logits", [[20.0, 30.0, 40.0, 50.0], [-200.0, -150.0, -120.0, -110.0]])
def test_predictions_keep_the_order_of_confident_logits(logits):
    # positives at the 2nd and 4th logit: 3 of 4 positive-negative pairs in order
    signals = np.zeros((4, 12, 8), dtype=np.float32)
    signals[:, 0, 0] = logits
    labels = np.array([[0], [1], [0], [1]])
    pred = predict(_ConfidentModel(), signals)
    assert macro_auroc(labels, pred.fusion) == pytest.approx(0.75)
    # what evaluating float32 probabilities gave: every score tied, AUROC 0.5
    saturated = torch.sigmoid(torch.tensor(logits)).numpy()[:, None]
    assert macro_auroc(labels, saturated) == pytest.approx(0.5)
    probabilities = pred.fusion_probabilities
    assert probabilities.shape == (4, 1)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
