"""Issue 32's comparison statistics against scipy and statsmodels on known data, and the key and
answers that do not fit together refused in one line."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from protoecg.agreement.comparison import good_matrix, summarize_comparison
from protoecg.study.comparison import ComparisonError, decode

MODELS = ("round1", "round2")


def study(n_raters: int = 7, n_cases: int = 20, seed: int = 0):
    """A ProtoSSL-sized study (7 raters, 20 cases of 4 labels): round2's prototypes good more
    often; A/B drawn per case."""
    rng = np.random.default_rng(seed)
    labels = ["AMI", "CRBBB", "CLBBB", "PVC"]
    key = []
    for c in range(n_cases):
        a, b = MODELS if rng.random() < 0.5 else MODELS[::-1]
        key.append({"case_id": f"c{c:02d}", "label": labels[c % 4], "A": a, "B": b})
    key = pd.DataFrame(key)
    rows = []
    for r in range(n_raters):
        for _, case in key.iterrows():
            for task in ("prototype", "explanation"):
                good = {}
                for letter in ("A", "B"):
                    p = (0.55 if case[letter] == "round1" else 0.85) + 0.03 * (r - 3)
                    good[letter] = int(rng.random() < p)
                    rows.append((f"r{r}", case["case_id"], f"{task}:{letter}", str(good[letter])))
                pref = ("both" if good["A"] and good["B"] else "A" if good["A"] else
                        "B" if good["B"] else "neither")
                rows.append((f"r{r}", case["case_id"], f"{task}:preference", pref))
    return key, pd.DataFrame(rows, columns=["reviewer", "case_id", "question", "answer"])


def test_proportions_and_preferences_are_counted_through_the_key():
    key = pd.DataFrame({"case_id": ["c1", "c2"], "label": ["AMI", "PVC"],
                        "A": ["m1", "m2"], "B": ["m2", "m1"]})
    answers = pd.DataFrame([
        ("ann", "c1", "prototype:A", "1"), ("ann", "c1", "prototype:B", "0"),
        ("ann", "c1", "prototype:preference", "A"),
        ("ann", "c2", "prototype:A", "1"), ("ann", "c2", "prototype:B", "1"),
        ("ann", "c2", "prototype:preference", "B"),
        ("bob", "c1", "prototype:A", "0"), ("bob", "c1", "prototype:B", "0"),
        ("bob", "c1", "prototype:preference", "neither"),
    ], columns=["reviewer", "case_id", "question", "answer"])
    out = summarize_comparison(key, answers, n_resamples=50)
    task = out["tasks"]["prototype"]
    # c1: A = m1; c2: A = m2. m1 good: ann c1 (1), ann c2 as B (1), bob c1 (0)
    assert task["models"]["m1"] == {"n_yes": 2, "n_total": 3, "proportion": 2 / 3}
    assert task["models"]["m2"] == {"n_yes": 1, "n_total": 3, "proportion": 1 / 3}
    assert task["by_label"]["PVC"]["m2"] == {"n_yes": 1, "n_total": 1, "proportion": 1.0}
    # ann preferred A on c1 (m1) and B on c2 (m1): letters never reach the counts
    assert task["preferences"]["overall"] == {"m1": 2, "m2": 0, "both": 0, "neither": 1}
    assert out["models"] == ["m1", "m2"] and out["difference"] == "m2 minus m1"


def test_participant_level_tests_equal_scipys_on_the_raters_proportions():
    key, answers = study()
    out = summarize_comparison(key, answers, n_resamples=100)
    decoded = decode(key, answers)
    for task in ("prototype", "explanation"):
        good = decoded[(decoded["kind"] == "good") & (decoded["task"] == task)]
        per = good.pivot_table(index="reviewer", columns="model", values="value")
        d = (per["round2"] - per["round1"]).to_numpy()
        level = out["tasks"][task]["participant_level"]
        assert level["n_raters"] == 7
        assert level["mean_difference"] == pytest.approx(d.mean())
        half = stats.t.ppf(0.975, 6) * d.std(ddof=1) / math.sqrt(7)
        assert level["ci95"] == pytest.approx([d.mean() - half, d.mean() + half])
        assert level["paired_t_p"] == pytest.approx(
            stats.ttest_rel(per["round2"], per["round1"]).pvalue)
        nonzero = d[d != 0]
        assert level["sign_test_p"] == pytest.approx(
            stats.binomtest(int((nonzero > 0).sum()), len(nonzero)).pvalue)
        method = "exact" if level["wilcoxon_method"] == "exact" else "approx"
        assert level["wilcoxon_p"] == pytest.approx(
            stats.wilcoxon(nonzero, method=method).pvalue)


def test_the_exact_wilcoxon_p_of_seven_raters_all_better_is_1_over_64():
    """7 raters, every difference positive and distinct: the exact two-sided p is 2 / 2^7."""
    key = pd.DataFrame({"case_id": [f"c{i}" for i in range(7)], "label": ["X"] * 7,
                        "A": ["m1"] * 7, "B": ["m2"] * 7})
    rows = []
    for r in range(7):  # rater r: m2 good on all 7 cases, m1 on r of them
        for i in range(7):
            rows += [(f"r{r}", f"c{i}", "t:A", str(int(i < r))), (f"r{r}", f"c{i}", "t:B", "1"),
                     (f"r{r}", f"c{i}", "t:preference", "B")]
    answers = pd.DataFrame(rows, columns=["reviewer", "case_id", "question", "answer"])
    level = summarize_comparison(key, answers, n_resamples=20)["tasks"]["t"]["participant_level"]
    assert level["wilcoxon_method"] == "exact"
    assert level["wilcoxon_p"] == pytest.approx(2 / 2**7)
    assert level["sign_test_p"] == pytest.approx(2 / 2**7)


def test_fleiss_kappa_equals_statsmodels_where_every_unit_has_every_rater():
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    key, answers = study()
    out = summarize_comparison(key, answers, n_resamples=200)
    decoded = decode(key, answers)
    good = decoded[decoded["kind"] == "good"]
    matrix = good_matrix(good)
    assert matrix.shape == (20 * 2 * 2, 7) and not np.isnan(matrix).any()
    table, _ = aggregate_raters(matrix.astype(int))
    assert out["fleiss_kappa"]["overall"]["fleiss_kappa"] == pytest.approx(
        fleiss_kappa(table, method="fleiss"))
    for label, part in good.groupby("label"):
        table, _ = aggregate_raters(good_matrix(part).astype(int))
        assert out["fleiss_kappa"]["by_label"][label]["fleiss_kappa"] == pytest.approx(
            fleiss_kappa(table, method="fleiss"))
    # Gwet's AC1 for two categories and complete data, by its formula
    pa = np.mean([(np.sum(row == 1) * (np.sum(row == 1) - 1)
                   + np.sum(row == 0) * (np.sum(row == 0) - 1)) / (7 * 6) for row in matrix])
    pi = matrix.mean()
    pe = 2 * pi * (1 - pi)
    ac1 = out["fleiss_kappa"]["overall"]["gwet_ac1"]
    assert ac1["value"] == pytest.approx((pa - pe) / (1 - pe))
    assert ac1["ci"][0] < ac1["value"] < ac1["ci"][1]


def test_kappa_is_undefined_when_every_answer_is_yes_and_ac1_says_why_it_is_not():
    key = pd.DataFrame({"case_id": ["c1", "c2", "c3"], "label": ["X"] * 3,
                        "A": ["m1"] * 3, "B": ["m2"] * 3})
    rows = [(r, c, f"t:{x}", "1") for r in ("a", "b") for c in ("c1", "c2", "c3")
            for x in ("A", "B")]
    rows += [(r, c, "t:preference", "both") for r in ("a", "b") for c in ("c1", "c2", "c3")]
    answers = pd.DataFrame(rows, columns=["reviewer", "case_id", "question", "answer"])
    out = summarize_comparison(key, answers, n_resamples=50)["fleiss_kappa"]["overall"]
    assert out["fleiss_kappa"] is None and "every answer is the same" in \
        out["fleiss_kappa_reason"]
    assert out["gwet_ac1"]["value"] == pytest.approx(1.0)  # AC1 stays defined


KEY = pd.DataFrame({"case_id": ["c1", "c2"], "label": ["AMI", "PVC"],
                    "A": ["m1", "m2"], "B": ["m2", "m1"]})


def answers_of(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["reviewer", "case_id", "question", "answer"])


@pytest.mark.parametrize("key, answers, message", [
    (KEY, answers_of(("ann", "c9", "prototype:A", "1")),
     "answers line 2: case 'c9' is not in the key"),
    (KEY, answers_of(("ann", "c1", "prototype:A", "1"), ("ann", "c2", "explanation:A", "1")),
     "task 'explanation' has no answer for case 'c1'"),
    (KEY, answers_of(("ann", "c1", "prototype:A", "2")),
     "answers line 2: answer '2' to 'prototype:A': expected 1 (good) or 0 (not)"),
    (KEY, answers_of(("ann", "c1", "prototype:preference", "maybe")),
     "expected A, B, both or neither"),
    (KEY, answers_of(("ann", "c1", "prototype:A", "1"), ("ann", "c1", "prototype:A", "0")),
     "answers line 3: 'ann' answered 'prototype:A' on case 'c1' twice (first on line 2)"),
    (KEY, answers_of(("ann", "c1", "prototype:C", "1")),
     "expected <task>:A, <task>:B or <task>:preference"),
    (KEY.assign(B=["m2", "m3"]), answers_of(("ann", "c1", "prototype:A", "1")),
     "key: names 3 models (m1, m2, m3)"),
    (KEY.assign(B=["m1", "m1"]), answers_of(("ann", "c1", "prototype:A", "1")),
     "key line 2: case 'c1' shows model 'm1' as both A and B"),
    (KEY.drop(columns="label"), answers_of(("ann", "c1", "prototype:A", "1")),
     "key: missing column(s) label"),
])
def test_a_key_and_answers_that_disagree_are_refused_in_one_line(key, answers, message):
    with pytest.raises(ComparisonError) as caught:
        summarize_comparison(key, answers, n_resamples=10)
    assert message in str(caught.value) and "\n" not in str(caught.value)
