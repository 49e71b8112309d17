"""Per-class prototype counts the training data can fill (``train.positives_per_prototype``).

The paper gives every class of a branch the same number of prototypes (18 per morphology class
on full PTB-XL). On a small training set a rare class cannot fill them: on the PTB-XL subset a
morphology class with 10 training ECGs had 6 prototypes on 10 records, and at most 3 of a
class's prototypes are among the top contributors to any one decision, so the rest drove none
(usage 67%) while each still asks a clinician for a card. With ``N`` positives per prototype a
class keeps ``ceil(positives / N)`` of its prototypes in use, at least 1 and at most the
branch's ``prototypes_per_class``; the others start disabled (``active = 0``: masked before
the classifier and fusion layer, left out of projection, catalog figures and studies). They
keep their place and id, so a preset's run folders keep one shape whatever the data.
"""

from __future__ import annotations

import math

import numpy as np

from protoecg.model.protoecgnet import ProtoECGNet


def fitted_counts(n_positives: int, per_prototype: int, maximum: int) -> int:
    """How many of a class's ``maximum`` prototypes ``n_positives`` training ECGs fill."""
    if per_prototype <= 0:
        return maximum
    return int(min(maximum, max(1, math.ceil(n_positives / per_prototype))))


def disable_unfilled(model: ProtoECGNet, train_labels: np.ndarray, per_prototype: int
                     ) -> dict[str, dict[str, int]]:
    """Disable, per class, the prototypes beyond what its training positives fill (the last
    ones by index). Returns branch -> class -> prototypes in use (``run.json``)."""
    positives = np.asarray(train_labels).sum(axis=0)
    counts: dict[str, dict[str, int]] = {}
    off: list[str] = []
    for name, branch in model.branches.items():
        k = branch.n_prototypes // max(len(branch.class_codes), 1)
        counts[name] = {}
        for c, code in enumerate(branch.class_codes):
            n = int(positives[model.label_names.index(code)])
            keep = fitted_counts(n, per_prototype, k)
            counts[name][code] = keep
            off += branch.base_ids[c * k + keep:(c + 1) * k]
    if off:
        model.disable(off)
    return counts
