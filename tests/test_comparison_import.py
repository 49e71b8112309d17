"""Issue 32: a comparison study run elsewhere, imported (`study import-comparison`) and reported
(`protoecg report`): the report's figures are the statistics of the files; bad files are
refused in one line with nothing stored."""

import json

import pandas as pd
import pytest

from protoecg.agreement.comparison import summarize_comparison
from protoecg.study.store import ReviewStore
from tests._cli import assert_one_line_error, exit_code
from tests.test_comparison_statistics import study


@pytest.fixture
def files(tmp_path):
    key, answers = study()
    key.to_csv(tmp_path / "key.csv", index=False, encoding="utf-8-sig")  # as a spreadsheet saves
    answers.to_csv(tmp_path / "answers.csv", index=False)
    return tmp_path / "key.csv", tmp_path / "answers.csv", key, answers


def test_import_then_report_gives_the_statistics_of_the_files(files, tmp_path, capsys):
    key_csv, answers_csv, key, answers = files
    db = tmp_path / "review.db"
    assert exit_code(["study", "import-comparison", "--db", str(db), "--study", "protossl",
                      "--key", str(key_csv), "--answers", str(answers_csv)]) == 0
    out = capsys.readouterr().out
    assert "20 cases, 840 answers by 7 raters, models round1 and round2" in out
    with ReviewStore(db, "read") as store:
        s = store.study("protossl")
        assert s.kind == "comparison" and s.protocol.task_ids() == ["prototype", "explanation"]
        assert store.comparison_key(s)[0] == tuple(key.iloc[0])
        assert len(store.comparison_answers(s)) == 840
    assert exit_code(["report", "--db", str(db), "--study", "protossl", "--out",
                      str(tmp_path / "report"), "--resamples", "200"]) == 0
    printed = capsys.readouterr().out
    assert "prototype: good round1" in printed and "Wilcoxon p" in printed
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    expected = summarize_comparison(key, answers, n_resamples=200)
    assert summary["kind"] == "comparison" and summary["comparison"] == json.loads(
        json.dumps(expected))
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Methods" in page and "7 raters judged 20 cases" in page
    for label in ("AMI", "CRBBB", "CLBBB", "PVC"):
        assert label in page
    assert "null" not in page and "None" not in page
    again = pd.read_csv(tmp_path / "report" / "answers.csv", dtype=str, encoding="utf-8-sig")
    assert len(again) == 840


def test_rating_commands_refuse_a_comparison_study(files, tmp_path, capsys):
    key_csv, answers_csv, _, _ = files
    db = str(tmp_path / "review.db")
    assert exit_code(["study", "import-comparison", "--db", db, "--study", "ab", "--key",
                      str(key_csv), "--answers", str(answers_csv)]) == 0
    capsys.readouterr()
    for command in (["study", "status"], ["study", "assign"],
                    ["study", "export-ratings", "--csv", str(tmp_path / "out.csv")]):
        code = exit_code([*command, "--db", db, "--study", "ab"])
        assert_one_line_error(code, capsys.readouterr().err, "study 'ab' is a blind A/B "
                              "comparison study; a prototype rating study is needed here")
    code = exit_code(["study", "import-comparison", "--db", db, "--study", "ab", "--key",
                      str(key_csv), "--answers", str(answers_csv)])
    assert_one_line_error(code, capsys.readouterr().err, "study 'ab' already exists")


def _write(path, rows, columns):
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return str(path)


ANSWERS = ["reviewer", "case_id", "question", "answer"]


@pytest.mark.parametrize("key_rows, answer_rows, fragment", [
    ([("c1", "AMI", "m1", "m2")], [("ann", "c7", "prototype:A", "1")],
     "line 2: case 'c7' is not in the key"),
    ([("c1", "AMI", "m1", "m2"), ("c2", "PVC", "m2", "m1")],
     [("ann", "c1", "prototype:A", "1"), ("ann", "c2", "explanation:A", "1")],
     "task 'explanation' has no answer for case 'c1'"),
    ([("c1", "AMI", "m1", "m2")], [("ann", "c1", "prototype:B", "yes")],
     "answer 'yes' to 'prototype:B': expected 1 (good) or 0 (not)"),
    ([("c1", "AMI", "m1", "m2")], [("ann", "c1", "prototype:A", "1"),
                                   ("ann", "c1", "prototype:A", "1")],
     "'ann' answered 'prototype:A' on case 'c1' twice"),
    ([("c1", "AMI", "m1", "m2"), ("c2", "PVC", "m1", "m3")], [("ann", "c1", "prototype:A", "1")],
     "names 3 models (m1, m2, m3)"),
    ([("c1", "AMI", "m1", "m2")], [("ann", "c1", "warmth:A", "1")],
     "task 'warmth' is not one of the protocol's (prototype, explanation)"),
])
def test_bad_key_or_answers_are_refused_in_one_line_and_nothing_is_stored(
        tmp_path, capsys, key_rows, answer_rows, fragment):
    key = _write(tmp_path / "key.csv", key_rows, ["case_id", "label", "A", "B"])
    answers = _write(tmp_path / "answers.csv", answer_rows, ANSWERS)
    db = tmp_path / "review.db"
    code = exit_code(["study", "import-comparison", "--db", str(db), "--study", "ab", "--key",
                      key, "--answers", answers])
    assert_one_line_error(code, capsys.readouterr().err, fragment)
    assert not db.exists()  # checked before the database is opened


def test_a_missing_or_unreadable_sheet_is_named(tmp_path, capsys):
    key = _write(tmp_path / "key.csv", [("c1", "AMI", "m1", "m2")], ["case_id", "label", "A", "B"])
    code = exit_code(["study", "import-comparison", "--db", str(tmp_path / "r.db"), "--study",
                      "ab", "--key", key, "--answers", str(tmp_path / "nope.csv")])
    assert_one_line_error(code, capsys.readouterr().err, "nope.csv: no such file")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00bad")
    code = exit_code(["study", "import-comparison", "--db", str(tmp_path / "r.db"), "--study",
                      "ab", "--key", key, "--answers", str(tmp_path / "bin.csv")])
    assert_one_line_error(code, capsys.readouterr().err, "bin.csv")


def test_a_raters_comparison_answers_are_checked_and_never_replaced_unseen(tmp_path):
    """The comparison card's saves, without a browser: every question answered, values in
    range, revisions, and a save over answers changed since refused with theirs."""
    import numpy as np

    from protoecg.study import comparison
    from protoecg.study.comparison_protocol import load_comparison_protocol
    from protoecg.study.store import AnswerConflict, StoreError
    from tests.conftest import REPO

    protocol = load_comparison_protocol(REPO / "study_protocols" /
                                        "protoecgnet_ab_comparison.toml")
    card = {"signal_index": 0, "record_id": "1", "fs": 100, "units": "mV",
            **{x: {"prototype_id": f"morphology/AMI/0{i}", "match_start": 10, "match_end": 40,
                   "source_signal_index": 0, "source_record_id": "2", "source_start": 5,
                   "source_end": 30} for i, x in enumerate("AB")}}
    rows = [{"case_id": f"c{i}", "label": "AMI", "A": "m1", "B": "m2", "card": card}
            for i in range(2)]
    with ReviewStore(tmp_path / "r.db") as store:
        study = store.create_comparison("ab", protocol, rows, [np.zeros((12, 100))], {})
        ann, _ = store.add_reviewer(study, "ann", "rater")
        full = {q: ("A" if q.endswith("preference") else "1")
                for q in comparison.questions_of(protocol)}
        with pytest.raises(StoreError, match="please answer prototype:B, prototype:pref"):
            comparison.save_comparison(store, ann, "c0", {"prototype:A": "1"}, {})
        with pytest.raises(StoreError, match="expected 1 \\(good\\) or 0"):
            comparison.save_comparison(store, ann, "c0", {**full, "prototype:B": "2"}, {})
        assert comparison.save_comparison(store, ann, "c0", full, {}) == 6
        seen = {q: r for q, (_, r) in store.rater_comparison_answers(ann)["c0"].items()}
        # another tab changes prototype:A; this tab, based on what it saw, is refused
        comparison.save_comparison(store, ann, "c0", {**full, "prototype:A": "0"}, seen)
        with pytest.raises(AnswerConflict) as caught:
            comparison.save_comparison(store, ann, "c0", {**full, "prototype:B": "0"}, seen)
        assert caught.value.theirs == {"prototype:A": "0"}
        # the same answer the other tab gave is no conflict (as on rating cards): nothing new
        assert comparison.save_comparison(store, ann, "c0", {**full, "prototype:A": "0"},
                                          seen) == 0
        assert [c.complete for c in comparison.comparison_queue(store, ann)] == [True, False]
        comparison.save_comparison(store, ann, "c1", {**full, "comment": "<b>noisy</b> V1"},
                                   {})
        assert store.comparison_comments(study) == [("ann", "c1", "<b>noisy</b> V1")]
        from protoecg.agreement.report import build_report

        summary, page = build_report(store, study, n_resamples=20)
        assert summary["comments"] == [{"rater": "ann", "case_id": "c1",
                                        "comment": "<b>noisy</b> V1"}]
        assert "&lt;b&gt;noisy&lt;/b&gt; V1" in page and "<b>noisy" not in page
        current = {(r, c, q): a for r, c, q, a in store.comparison_answers(study)}
        assert current[("ann", "c0", "prototype:A")] == "0"
        assert current[("ann", "c0", "prototype:B")] == "1"


def test_redcap_spellings_are_stored_as_the_protocols_answers(files, tmp_path):
    """REDCap exports a preference as its label ("Both", "a") and a spreadsheet may write 1 as
    1.0: imported, they are stored and reported as the canonical answers."""
    key_csv, _, key, answers = files
    spelled = answers.copy()
    prefer = spelled["question"].str.endswith(":preference")
    spelled.loc[prefer, "answer"] = spelled.loc[prefer, "answer"].map(
        {"A": "a", "B": " B", "both": "Both", "neither": "NEITHER"})
    spelled.loc[~prefer, "answer"] = spelled.loc[~prefer, "answer"] + ".0"
    spelled.to_csv(tmp_path / "spelled.csv", index=False)
    db = tmp_path / "review.db"
    assert exit_code(["study", "import-comparison", "--db", str(db), "--study", "ab", "--key",
                      str(key_csv), "--answers", str(tmp_path / "spelled.csv")]) == 0
    with ReviewStore(db, "read") as store:
        stored = pd.DataFrame(store.comparison_answers(store.study("ab")),
                              columns=["reviewer", "case_id", "question", "answer"])
    canonical = answers.astype(str).sort_values(["reviewer", "case_id", "question"])
    assert stored.sort_values(["reviewer", "case_id", "question"]).to_numpy().tolist() == \
        canonical[["reviewer", "case_id", "question", "answer"]].to_numpy().tolist()
    assert summarize_comparison(key, spelled, n_resamples=20) == summarize_comparison(
        key, answers, n_resamples=20)
