"""Golden values from the published examples, through the functions the report uses."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from protoecg.agreement import statistics as agreement
from protoecg.agreement.statistics import Undefined

FLEISS_1971 = ("444444 222555 233335 555555 222444 113333 333355 113334 114444 555555 144444 "
               "124444 222333 144444 224445 333335 111455 111112 224444 133555 555555 244444 "
               "224555 114444 144445 222224 111155 224444 133333 555555").split()
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6],
                          [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)
ANXIETY_A = [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4]
ANXIETY_B = [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2]
N = np.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders x 12 units
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]).T  # units x raters


def test_fleiss_1971():
    matrix = np.array([[int(c) for c in row] for row in FLEISS_1971], dtype=float)
    assert matrix.shape == (30, 6)
    assert agreement.fleiss_kappa(matrix, [1, 2, 3, 4, 5]) == pytest.approx(0.4302, abs=5e-5)


def test_shrout_fleiss_1979():
    result = agreement.icc(SHROUT_FLEISS)
    expected = {"icc1_1": 0.17, "icc2_1": 0.29, "icc3_1": 0.71, "icc1_k": 0.44,
                "icc2_k": 0.62, "icc3_k": 0.91}
    for key, value in expected.items():
        assert round(result[key], 2) == value, key


def test_weighted_kappa_anxiety_data():
    a, b = np.array(ANXIETY_A, float), np.array(ANXIETY_B, float)
    values = sorted(set(ANXIETY_A) | set(ANXIETY_B))  # the categories used: 1 2 3 4 6
    for weights, expected in (("none", -0.0063), ("linear", 0.1459), ("quadratic", 0.2520)):
        ours = agreement.cohen_kappa(a, b, values, weights)
        assert ours == pytest.approx(expected, abs=5e-5)
        sk = cohen_kappa_score(ANXIETY_A, ANXIETY_B,
                               weights=None if weights == "none" else weights)
        assert ours == pytest.approx(sk, abs=1e-12)
    matrix = np.stack([a, b], axis=1)
    assert agreement.mean_pairwise_kappa(matrix, values, "linear") == pytest.approx(0.1459,
                                                                                    abs=5e-5)


def test_krippendorff_2011():
    values = [1, 2, 3, 4, 5]
    assert agreement.krippendorff_alpha(KRIPPENDORFF_2011, values, "ordinal") == pytest.approx(
        0.8154, abs=5e-5)
    assert agreement.krippendorff_alpha(KRIPPENDORFF_2011, values,
                                        "interval") == pytest.approx(0.8491, abs=5e-5)
    # units with no answers change nothing
    padded = np.vstack([KRIPPENDORFF_2011, np.full((3, 4), np.nan)])
    assert agreement.krippendorff_alpha(padded, values, "ordinal") == pytest.approx(0.8154,
                                                                                    abs=5e-5)


def test_gwet_by_hand():
    # 2 units x 2 raters, categories 1-2: unit 1 agrees on 1, unit 2 disagrees
    m = np.array([[1, 1], [1, 2]], float)
    # pa = (1 + 0) / 2 = .5; pi = (1, 0) and (.5, .5) -> (.75, .25); pe = 1/(2*1) * 2*(.75*.25)
    pe = (0.75 * 0.25 + 0.25 * 0.75) / 1
    assert agreement.gwet_ac(m, [1, 2]) == pytest.approx((0.5 - pe) / (1 - pe))
    perfect = np.array([[1, 1], [2, 2], [3, 3]], float)
    assert agreement.gwet_ac(perfect, [1, 2, 3], "quadratic") == pytest.approx(1.0)


def test_percent_agreement_by_hand():
    m = np.array([[1, 1, 2], [3, 5, np.nan], [4, np.nan, np.nan]], float)
    # pairs: (1,1) (1,2) (1,2) | (3,5) -> exact 1/4, within one 3/4
    assert agreement.percent_agreement(m, 0) == pytest.approx(0.25)
    assert agreement.percent_agreement(m, 1) == pytest.approx(0.75)


def test_undefined_statistics_say_why():
    one_rater = np.array([[1.0], [2.0], [3.0]])
    same = np.full((5, 3), 4.0)
    with pytest.raises(Undefined, match="no prototype has two or more answers"):
        agreement.krippendorff_alpha(one_rater, [1, 2, 3, 4, 5], "ordinal")
    with pytest.raises(Undefined, match="no variation"):
        agreement.krippendorff_alpha(same, [1, 2, 3, 4, 5], "ordinal")
    with pytest.raises(Undefined, match="fewer than two raters"):
        agreement.icc(one_rater)
    result = agreement.with_ci(agreement.STATISTICS["fleiss_kappa"].point, same, [1, 2, 3, 4, 5],
                               np.zeros((10, 5), int))
    assert result["value"] is None and result["ci"] == [None, None]
    assert "no variation" in result["reason"]


def test_bootstrap_ci_brackets_the_value():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, size=200)
    matrix = np.clip(truth[:, None] + rng.integers(-1, 2, size=(200, 3)), 1, 5).astype(float)
    indices = np.random.default_rng(42).integers(0, 200, size=(200, 200))
    result = agreement.with_ci(agreement.STATISTICS["krippendorff_alpha_ordinal"].point, matrix,
                               [1, 2, 3, 4, 5], indices)
    low, high = result["ci"]
    assert low < result["value"] < high and 0.5 < result["value"] < 1
