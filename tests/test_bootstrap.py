"""The vectorised bootstrap equals evaluating each statistic on each resample."""

import numpy as np
import pytest

from protoecg.agreement import bootstrap
from protoecg.agreement import statistics as agreement

VALUES = [1, 2, 3, 4, 5]


def data(seed: int, missing: float):
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=60)
    m = np.clip(truth[:, None] + rng.integers(-1, 2, size=(60, 4)), 1, 5).astype(float)
    m[rng.random(m.shape) < missing] = np.nan
    return m, rng.integers(0, 60, size=(25, 60))


@pytest.mark.parametrize("seed, missing", [(0, 0.0), (1, 0.2), (2, 0.5)])
def test_batched_equals_the_loop(seed, missing):
    m, indices = data(seed, missing)
    keys = tuple(agreement.STATISTICS)
    if missing > 0:  # ICC on complete cases: the column set is fixed by the full data
        keys = tuple(k for k in keys if not k.startswith("icc"))
    batched = agreement.bootstrap_samples(m, VALUES, indices, keys)
    for key in keys:
        function = agreement.STATISTICS[key].point
        for r, idx in enumerate(indices):
            try:
                expected = function(m[idx], VALUES)
            except agreement.Undefined:
                expected = np.nan
            got = batched[key][r]
            if np.isnan(expected):
                assert np.isnan(got), (key, r)
            else:
                assert got == pytest.approx(expected, abs=1e-9), (key, r)


def test_multiplicity():
    w = bootstrap.multiplicity(np.array([[0, 0, 2], [1, 2, 2]]), 3)
    assert w.tolist() == [[2, 0, 1], [0, 1, 2]]


def test_statistics_with_ci_matches_the_loop():
    m, _ = data(3, 0.1)
    indices = np.random.default_rng(5).integers(0, 60, size=(200, 60))
    fast = agreement.statistics_with_ci(m, VALUES, indices, ("krippendorff_alpha_ordinal",
                                                              "gwet_ac2"))
    for key in fast:
        slow = agreement.with_ci(agreement.STATISTICS[key].point, m, VALUES, indices)
        assert fast[key]["value"] == pytest.approx(slow["value"])
        assert fast[key]["ci"] == pytest.approx(slow["ci"])


def test_a_bootstrap_that_cannot_vary_is_no_interval():
    """Issue 31: a class's alpha from 6 answers showed [-0.667, -0.667], as if certain."""
    collapsed = bootstrap.percentile_ci(-0.667, np.full(1000, -0.667), 1000, 0.95)
    assert collapsed["value"] == -0.667 and collapsed["ci"] == [None, None]
    assert "all 1000 resamples give the same value" in collapsed["reason"]
    varied = bootstrap.percentile_ci(0.5, np.linspace(0.4, 0.6, 1000), 1000, 0.95)
    assert varied["ci"][0] < 0.5 < varied["ci"][1]
