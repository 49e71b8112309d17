"""irrCAC's definitions reproduce its published outputs on its own example data.

Data: irrCAC's ``cac.raw4raters`` (12 units x 4 raters, NA = missing), as in the package's
inst/extdata/cac.raw4raters.csv and its README. Expected values: the outputs irrCAC prints in
its README (github.com/kgwet/irrCAC, README.md: pa.coeff.raw, gwet.ac1.raw, fleiss.kappa.raw,
krippen.alpha.raw, conger.kappa.raw, bp.coeff.raw, unweighted) and in its weighting vignette
(inst/doc/weighting.html, 2021 release, weights = "quadratic"). Gwet, K. L. (2014) Handbook of
Inter-Rater Reliability, 4th ed.
"""

import numpy as np
import pytest

from protoecg.agreement.irrcac import coefficients, irrcac_statistics

NA = np.nan
CAC_RAW4RATERS = np.array([
    [1, 1, NA, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [NA, 5, 5, 5], [NA, NA, 1, 1], [NA, NA, 3, NA],
])
CATEGORIES = [1, 2, 3, 4, 5]

PUBLISHED = {  # irrCAC README (unweighted), coefficient values as printed
    "identity": {"percent_agreement": 0.8181818, "gwet": 0.77544, "fleiss_kappa": 0.76117,
                 "krippendorff_alpha": 0.74342, "conger_kappa": 0.76282,
                 "brennan_prediger": 0.77273},
    # irrCAC weighting vignette, weights = "quadratic" (gwet = AC2)
    "quadratic": {"percent_agreement": 0.9753788, "gwet": 0.914, "fleiss_kappa": 0.86494,
                  "krippendorff_alpha": 0.84911, "conger_kappa": 0.85771,
                  "brennan_prediger": 0.90152},
}


@pytest.mark.parametrize("weights", ["identity", "quadratic"])
def test_irrcac_published_outputs_on_cac_raw4raters(weights):
    got = coefficients(CAC_RAW4RATERS, CATEGORIES, weights)
    for key, expected in PUBLISHED[weights].items():
        assert got[key][0] == pytest.approx(expected, abs=5e-5), key


def test_resampled_rows_equal_the_coefficients_of_the_resampled_data():
    rng = np.random.default_rng(3)
    indices = rng.integers(0, len(CAC_RAW4RATERS), size=(20, len(CAC_RAW4RATERS)))
    counts = np.stack([np.bincount(i, minlength=len(CAC_RAW4RATERS)) for i in indices])
    together = coefficients(CAC_RAW4RATERS, CATEGORIES, "quadratic", counts.astype(float))
    for row, idx in enumerate(indices):
        alone = coefficients(CAC_RAW4RATERS[idx], CATEGORIES, "quadratic")
        for key in together:
            np.testing.assert_allclose(together[key][row], alone[key][0], rtol=1e-9,
                                       equal_nan=True)


def test_summary_entries_have_values_and_cis_or_a_reason():
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 12, size=(200, 12))
    stats = irrcac_statistics(CAC_RAW4RATERS, CATEGORIES, indices)
    assert set(stats) == {"percent_agreement", "gwet_ac1", "gwet_ac2_quadratic", "fleiss_kappa",
                          "conger_kappa", "brennan_prediger", "krippendorff_alpha_nominal"}
    assert stats["gwet_ac2_quadratic"]["value"] == pytest.approx(0.9140007, abs=1e-6)
    low, high = stats["gwet_ac1"]["ci"]
    assert low < stats["gwet_ac1"]["value"] <= high
    same = irrcac_statistics(np.array([[3, 3], [3, 3]], dtype=float), CATEGORIES, indices[:, :2]
                             % 2)
    assert same["fleiss_kappa"]["value"] is None and "chance agreement is 1" in \
        same["fleiss_kappa"]["reason"]
    none = irrcac_statistics(np.array([[3, NA], [NA, 2]]), CATEGORIES, indices[:, :2] % 2)
    assert none["gwet_ac1"] == {"value": None, "ci": [None, None],
                                "reason": "no prototype has two or more answers"}
