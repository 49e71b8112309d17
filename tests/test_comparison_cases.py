"""Issue 32: the cases of a blind comparison of two runs, on a real (tiny) LUDB run and its
copy under another name (so both models are the same network: what is checked is the selection,
not which model is better)."""

import shutil

import pytest

from protoecg.explain.comparison import comparison_cases
from protoecg.train.run import RunError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(ludb_catalog, tmp_path_factory):
    first = ludb_catalog.parent
    second = tmp_path_factory.mktemp("copy") / "round2"
    shutil.copytree(first, second)
    return first, second


def test_cases_are_seeded_stratified_and_blind(two_runs):
    first, second = two_runs
    # threshold 0: every test ECG counts as called positive by both (a 1-epoch model calls
    # hardly anything positive; the selection is what this checks); the same network twice
    # shows the same on both sides, so those cases are asked for
    cases, signals = comparison_cases(first, second, per_label=2, threshold=0.0, seed=3,
                                      include_identical=True)
    assert cases["models"] == [first.name, "round2"]
    per_label = {}
    for case in cases["cases"]:
        per_label[case["label"]] = per_label.get(case["label"], 0) + 1
        assert {case["A"], case["B"]} == set(cases["models"])
        for letter in "AB":
            shown = case["shown"][letter]
            assert shown["model"] == case[letter]
            length = signals[case["case_id"]].shape[1]
            assert 0 <= shown["match_start"] < shown["match_end"] <= length
        # the same network under two names: the same prototype on both sides
        assert case["shown"]["A"]["prototype_id"] == case["shown"]["B"]["prototype_id"]
        assert signals[case["case_id"]].shape[0] == 12
    assert per_label == {code: min(2, n) for code, n in cases["eligible"].items() if n}
    assert {c["A"] for c in cases["cases"]} == set(cases["models"])  # both orders drawn
    again, _ = comparison_cases(first, second, per_label=2, threshold=0.0, seed=3,
                                include_identical=True)
    assert again == cases
    other, _ = comparison_cases(first, second, per_label=2, threshold=0.0, seed=4,
                                include_identical=True)
    assert other["cases"] != cases["cases"]


def test_a_case_shows_a_prototype_of_its_label_where_the_model_has_one(two_runs):
    first, second = two_runs
    cases, _ = comparison_cases(first, second, per_label=1, threshold=0.0,
                                include_identical=True)
    from protoecg.train.run import load_model

    model = load_model(first)[0]
    active = {b.class_codes[c] for b in model.branches.values()
              for c, on in zip(b.prototype_class.tolist(), b.active.tolist(), strict=True) if on}
    for case in cases["cases"]:
        if case["label"] in active:  # the label has a prototype in use: one of its own
            assert f"/{case['label']}/" in case["shown"]["A"]["prototype_id"], case


def test_runs_that_cannot_be_compared_are_refused(two_runs, tmp_path):
    first, _ = two_runs
    same_name = tmp_path / first.name
    shutil.copytree(first, same_name)
    with pytest.raises(RunError, match="both runs are named"):
        comparison_cases(first, same_name)
    with pytest.raises(RunError, match="is not predicted by both runs"):
        comparison_cases(first, two_runs[1], labels=["NOT_A_LABEL"])


def test_create_comparison_stores_cards_by_letter_and_the_key_apart(two_runs, tmp_path, capsys):
    import json

    from protoecg.cli import main
    from protoecg.study.store import ReviewStore

    first, second = two_runs
    db = tmp_path / "review.db"
    assert main(["study", "create-comparison", "--db", str(db), "--name", "ab", "--runs",
                 str(first), str(second), "--per-label", "2", "--threshold", "0",
                 "--include-identical"]) == 0
    assert "created comparison study 'ab'" in capsys.readouterr().out
    with ReviewStore(db, "read") as store:
        study = store.study("ab", kind="comparison")
        cards = store.comparison_cards(study)
        key = store.comparison_key(study)
        assert [c["case_id"] for c in cards] == [k[0] for k in key]
        names = {first.name, "round2"}
        for card, (_, _, a, b) in zip(cards, key, strict=True):
            assert {a, b} == names
            assert not names & set(json.dumps(card).split('"'))  # no model name on a card
            case = store.signal(study, card["signal_index"])
            source = store.signal(study, card["A"]["source_signal_index"])
            assert case.shape[0] == source.shape[0] == 12
            assert 0 <= card["A"]["source_start"] < card["A"]["source_end"] <= source.shape[1]


def test_cases_showing_the_same_on_both_sides_are_left_out_and_counted(two_runs):
    first, second = two_runs
    cases, signals = comparison_cases(first, second, per_label=2, threshold=0.0)
    assert cases["cases"] == [] and signals == {}
    n_test = 20  # LUDB's fold 10; threshold 0 calls every label positive on every ECG
    assert set(cases["identical"].values()) == {n_test}
    assert set(cases["eligible"].values()) == {0}


def test_the_f1_rule_calls_positive_what_the_validation_threshold_does(two_runs):
    """The default rule: each model's F1-best validation logit per label; a label the copy and
    the original call positive on the same ECGs, so eligible == identical under it."""
    import numpy as np

    from protoecg.explain.comparison import _evidence, _logit_thresholds
    from protoecg.train.run import load_model, open_run_data

    first, second = two_runs
    cases, _ = comparison_cases(first, second, per_label=1)
    model, meta, config = load_model(first)
    data = open_run_data(meta, config)
    test = data.split_index["test"]
    logits = _evidence(model, data.signals[test], data.dataset.n_samples)[0]
    called = (logits >= _logit_thresholds(model, data, "f1")).sum(axis=0)
    assert cases["identical"] == dict(zip(meta["label_names"], called.tolist(), strict=True))
    assert np.isfinite(_logit_thresholds(model, data, 0.5)).all()


def test_a_selection_with_nothing_to_compare_is_refused_in_one_line(two_runs, tmp_path, capsys):
    from protoecg.cli import main

    first, second = two_runs
    db = tmp_path / "review.db"
    assert main(["study", "create-comparison", "--db", str(db), "--name", "ab", "--runs",
                 str(first), str(second), "--threshold", "0"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "same prototype window" in err[0] and "--include-identical" in err[0]
    assert not db.exists()  # nothing stored
    for bad in ("1", "-0.1", "often"):
        with pytest.raises(SystemExit):
            main(["study", "create-comparison", "--db", str(db), "--name", "ab", "--runs",
                  str(first), str(second), "--threshold", bad])
        assert "--threshold" in capsys.readouterr().err
    assert not db.exists()
