"""Removing a reviewer (their answers kept, counted and marked) and the researcher's view of
changed answers, in the store, the report's Methods and the command line."""

import shutil

import pytest

from protoecg.agreement.report_html import methods_paragraph
from protoecg.agreement.summary import summarize_study
from protoecg.cli import main
from protoecg.study import answers, signin, tables
from protoecg.study.assignment import assign
from protoecg.study.store import AuthError, ReviewStore, StoreError
from tests.test_review_store import pilot_db  # noqa: F401  (the shared pilot study)


@pytest.fixture
def store(pilot_db, tmp_path):  # noqa: F811
    with ReviewStore(shutil.copy(pilot_db, tmp_path / "review.db")) as s:
        yield s


@pytest.fixture
def study(store):
    return store.study("pilot")


def rate_first(store, reviewer, n: int, value: int = 4) -> list[str]:
    """The reviewer answers the first ``n`` cards of their queue; their ids."""
    done = []
    for item in answers.queue(store, reviewer)[:n]:
        answers.save_answers(store, reviewer, item.prototype_id,
                             {"representativeness": value, "clarity": value})
        done.append(item.prototype_id)
    return done


def test_a_removed_rater_keeps_their_answers_and_loses_their_code_and_open_cards(store, study):
    ana = store.reviewer(study, "ana")
    token = signin.start_session(store, ana)
    rated = rate_first(store, ana, 3)
    assigned = len(answers.queue(store, ana))
    before = {(a.prototype_id, a.question): a.value for a in store.latest_answers(ana)}
    dropped = store.remove_reviewer(ana, actor="test")
    assert dropped == assigned - 3
    # the answers stay, under their name, in the statistics' long form too
    assert {(a.prototype_id, a.question): a.value for a in store.latest_answers(ana)} == before
    current = answers.current_answers(store, study)
    assert set(current[current["reviewer"] == "ana"]["prototype_id"]) == set(rated)
    # the rated assignments stay, the open ones are gone
    assert sorted(i.prototype_id for i in answers.queue(store, ana)) == sorted(rated)
    # no way back in: the session ended, the code no longer matches anyone
    with pytest.raises(AuthError):
        signin.resume_session(store, token)
    # a tab left open cannot save either, not even over an answer it gave
    with pytest.raises(StoreError, match="removed from the study on"):
        answers.save_answers(store, ana, rated[0], {"representativeness": 1, "clarity": 1})
    with pytest.raises(StoreError, match="removed from the study on"):
        store.reissue_code(ana)
    with pytest.raises(StoreError, match="removed from the study on"):
        store.remove_reviewer(ana)
    with pytest.raises(StoreError, match=r"already has a reviewer named 'ana' \(removed on"):
        store.add_reviewer(study, "ana", "rater")


def test_a_removed_raters_code_no_longer_signs_in(store, study):
    reviewer, code = store.add_reviewer(study, "eve", "rater")
    assert signin.authenticate(store, code)[1].name == "eve"
    store.remove_reviewer(reviewer)
    with pytest.raises(AuthError, match="unknown access code"):
        signin.authenticate(store, code)


def test_assign_gives_a_removed_raters_open_cards_to_the_others_and_none_to_them(store, study):
    ana = store.reviewer(study, "ana")
    rated = rate_first(store, ana, 2)
    k = study.protocol.raters_per_prototype
    store.remove_reviewer(ana)
    result = assign(store, study, k)
    assert "ana" not in result["per_rater"] and result["raters"] == 3
    per_prototype = {}
    for a in store.assignments(study):
        per_prototype.setdefault(a.prototype_id, set()).add(a.reviewer)
    active = {"ben", "cai", "dee"}
    # every prototype has K raters still taking part; ana keeps only what she answered
    assert all(len(who & active) == min(k, 3) for who in per_prototype.values())
    assert {p for p, who in per_prototype.items() if "ana" in who} == set(rated)


def test_the_only_researcher_cannot_be_removed(store, study):
    rhea = store.reviewer(study, "rhea")
    with pytest.raises(StoreError, match="only researcher"):
        store.remove_reviewer(rhea)
    store.add_reviewer(study, "ravi", "researcher")
    store.remove_reviewer(rhea)
    assert [r.name for r in store.reviewers(study, removed=False)
            if r.role == "researcher"] == ["ravi"]


def test_status_progress_and_methods_mark_the_removed_rater(store, study):
    ana = store.reviewer(study, "ana")
    rate_first(store, ana, 2)
    rate_first(store, store.reviewer(study, "ben"), 2)
    store.remove_reviewer(ana)
    status = answers.status(store, study)
    assert status["raters"] == 3 and status["removed_raters"] == ["ana"]
    progress = tables.rater_progress(status).set_index("rater")
    assert progress.loc["ana", "removed"] != "" and progress.loc["ben", "removed"] == ""
    summary = summarize_study(store, study, n_resamples=50)
    text = methods_paragraph(summary, study)
    assert "3 raters were assigned" in text
    assert "1 further rater removed from the study while it ran (ana)" in text


def test_changed_answers_show_before_and_after_newest_first(store, study):
    ben = store.reviewer(study, "ben")
    card = answers.queue(store, ben)[0].prototype_id
    answers.save_answers(store, ben, card, {"representativeness": 5, "clarity": 5})
    assert tables.answer_changes(store, study).empty
    answers.save_answers(store, ben, card, {"representativeness": 2, "clarity": 5,
                                            "bad": True, "comment": "noisy"})
    answers.save_answers(store, ben, card, {"representativeness": 2, "clarity": 5,
                                            "bad": False, "comment": ""})
    changes = tables.answer_changes(store, study)
    assert list(changes.columns) == list(tables.CHANGE_COLUMNS)
    rows = {(r["question"], r["before"], r["after"]) for _, r in changes.iterrows()}
    assert rows == {("representativeness", "5", "2"), ("bad", "set", "not set"),
                    ("comment", "noisy", "(empty)")}
    assert set(changes["rater"]) == {"ben"} and set(changes["how"]) == {"in the app"}
    assert list(changes["changed at"]) == sorted(changes["changed at"], reverse=True)


def test_commands_remove_a_reviewer_and_give_a_new_code(store, study, capsys):
    db = str(store.path)
    store.close()
    assert main(["study", "new-code", "--db", db, "--study", "pilot", "--name", "ben"]) == 0
    code = capsys.readouterr().out.split("access code: ")[1].split()[0]
    with ReviewStore(db) as again:
        assert signin.authenticate(again, code)[1].name == "ben"
    assert main(["study", "remove-reviewer", "--db", db, "--study", "pilot",
                 "--name", "ben"]) == 0
    out = capsys.readouterr().out
    assert "answers they gave are kept" in out and "study assign" in out
    assert main(["study", "remove-reviewer", "--db", db, "--study", "pilot",
                 "--name", "nobody"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["protoecg: error: study 'pilot' has no reviewer named 'nobody'"]
