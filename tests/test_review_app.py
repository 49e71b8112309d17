"""The Streamlit app through streamlit.testing.v1.AppTest (server side, no browser)."""

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from protoecg.catalog.reader import read_catalog
from protoecg.study import answers, cards, signin, tables
from protoecg.study.assignment import assign
from protoecg.study.consensus import consensus_table
from protoecg.study.protocol import load_protocol
from protoecg.study.store import AuthError, ReviewStore
from tests.conftest import PAPER_PROTOCOL, REPO

APP = str(REPO / "review_app" / "app.py")
CODES = {"ana": "ANA1-RATE-0001", "ben": "BEN2-RATE-0002", "rhea": "RHEA-RSCH-0003",
         "solo": "SOLO-RATE-0004"}


@pytest.fixture(scope="module", autouse=True)
def _components_scanned_once():
    """AppTest (Streamlit 1.67) scans every installed distribution for Streamlit components
    for each new app (0.3 s each); the installation does not change during the tests, so scan
    once. (A Streamlit without this scanner runs the tests unchanged, only slower.)"""
    try:
        from streamlit.components.v2 import manifest_scanner
        found = manifest_scanner.scan_component_manifests()
    except (ImportError, AttributeError):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests", lambda: list(found))
        yield


@pytest.fixture(scope="module")
def template_db(small_synthetic_catalog, tmp_path_factory):
    """The review database every test starts from, built once (access codes are scrypt-hashed:
    slow on purpose) and copied for each test."""
    path = tmp_path_factory.mktemp("app") / "review.db"
    with ReviewStore(path) as store:
        catalog = read_catalog(small_synthetic_catalog)
        study = store.create_study("pilot", load_protocol(PAPER_PROTOCOL), catalog)
        for name in ("ana", "ben"):
            store.add_reviewer(study, name, "rater", code=CODES[name])
        store.add_reviewer(study, "rhea", "researcher", code=CODES["rhea"])
        assign(store, study, 2)  # two raters: every prototype to both
        empty = store.create_study("empty", load_protocol(PAPER_PROTOCOL), catalog)
        store.add_reviewer(empty, "solo", "rater", code=CODES["solo"])
    return path


@pytest.fixture
def db(template_db, tmp_path, monkeypatch):
    path = shutil.copy(template_db, tmp_path / "review.db")
    monkeypatch.setenv("PROTOECG_REVIEW_DB", str(path))
    return path


def signed_in(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="access_code").input(CODES[name])
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def rate(at: AppTest, representativeness: int, clarity: int, comment: str | None = None):
    at.radio[0].set_value(representativeness)
    at.radio[1].set_value(clarity)
    if comment is not None:
        at.text_area[0].input(comment)
    at.button(key="save").click().run()
    assert not at.exception, at.exception


def stored(db, reviewer):
    with ReviewStore(db) as store:
        study = store.study("pilot")
        return answers.reviewer_answers(store, store.reviewer(study, reviewer))


def test_sign_in_rejects_wrong_codes_and_lets_raters_in(db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert [b.label for b in at.button] == ["Sign in"]
    at.text_input(key="access_code").input("WRONG-CODE-000")
    at.button[0].click().run()
    assert "unknown access code" in at.error[0].value
    at = signed_in("ana")
    assert at.session_state["user"]["name"] == "ana"
    title = next(m.value for m in at.markdown if "protoecg-title" in m.value)
    assert title.count(" — ") == 1  # "CODE — description"


def test_no_answer_is_preselected_and_saving_stores_it(db):
    at = signed_in("ana")
    assert [r.value for r in at.radio] == [None, None]  # the official form started at 1
    assert [r.options for r in at.radio][0] == ["1", "2", "3", "4", "5"]
    assert any("1 Strongly disagree · 2 Disagree" in c.value  # the scale's words
               for c in at.caption)
    rate(at, 4, 2)
    assert at.success[0].value.startswith("Saved ")
    answers = stored(db, "ana")
    assert len(answers) == 1
    assert list(answers.values())[0] == {"representativeness": 4, "clarity": 2}
    assert at.session_state["cursor"] == 1


def test_missing_answers_are_asked_for(db):
    at = signed_in("ana")
    at.radio[0].set_value(5)
    at.button(key="save").click().run()
    assert "Please answer clarity" in at.warning[0].value
    assert stored(db, "ana") == {}


def test_revising_keeps_history(db):
    at = signed_in("ana")
    rate(at, 4, 2)
    at.button(key="back").click().run()
    assert [r.value for r in at.radio] == [4, 2]  # the saved answer comes back
    rate(at, 5, 2, comment="classic")
    answers = list(stored(db, "ana").values())[0]
    assert answers == {"representativeness": 5, "clarity": 2, "comment": "classic"}
    with ReviewStore(db) as store:
        history = [r["value"] for r in store.db["ratings"].rows_where(
            "question = 'representativeness'", order_by="revision")]
    assert history == [4, 5]


def test_blinding_between_raters(db):
    at = signed_in("ana")
    rate(at, 1, 1, comment="ANA-SECRET-REMARK")
    ben = signed_in("ben")
    # ben sees every prototype too (K = 2); find ana's prototype in his queue
    with ReviewStore(db) as store:
        study = store.study("pilot")
        target = next(iter(stored(db, "ana")))
        position = [i.prototype_id for i in answers.queue(
            store, store.reviewer(study, "ben"))].index(target)
    ben.session_state["cursor"] = position
    ben.run()
    assert [r.value for r in ben.radio] == [None, None]
    page = json.dumps([e.value for e in ben.text] + [e.value for e in ben.markdown]
                      + [e.value for e in ben.caption] + [t.value for t in ben.text_area])
    assert "ANA-SECRET-REMARK" not in page
    assert "similarity" not in page.lower()


def test_researcher_pages(db):
    with ReviewStore(db) as store:
        study = store.study("pilot")
        ana, ben = store.reviewer(study, "ana"), store.reviewer(study, "ben")
        pid = answers.queue(store, ana)[0].prototype_id
        answers.save_answers(store, ana, pid, {"representativeness": 1, "clarity": 4,
                                               "comment": "<b>bold</b> claim"})
        answers.save_answers(store, ben, pid, {"representativeness": 5, "clarity": 4})
    at = signed_in("rhea")
    assert at.title[0].value == "Study pilot"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Ratings"] == "4" and metrics["Raters"] == "2"
    assert len(at.dataframe) == 2  # per rater, per class
    at.switch_page("app_pages/disagreements.py").run()
    assert at.title[0].value == "Disagreements" and not at.exception
    assert at.dataframe[0].value["prototype"].tolist() == [pid]  # the overview
    table = at.dataframe[1].value
    assert set(table["rater"]) == {"ana", "ben"}
    assert "<b>bold</b> claim" in set(table["comment"])  # as text, not rendered
    assert any("<svg" in m.value for m in at.markdown)  # the card as raters saw it
    with ReviewStore(db, "read") as store:
        raters_before = store.db.execute("SELECT * FROM ratings ORDER BY id").fetchall()
    at.radio(key=f"consensus::{pid}::representativeness").set_value(3)
    at.text_area(key=f"note::{pid}").input("typical after discussion")
    # Record consensus (clarity left open: nothing written for it)
    next(b for b in at.button if b.label == "Record consensus").click().run()
    assert not at.exception and f"Consensus recorded for {pid}." in at.success[0].value
    with ReviewStore(db, "read") as store:
        study = store.study("pilot")
        assert consensus_table(store, study)[["prototype_id", "question", "value", "note"]] \
            .values.tolist() == [[pid, "representativeness", 3, "typical after discussion"]]
        assert store.db.execute("SELECT * FROM ratings ORDER BY id").fetchall() == \
            raters_before  # consensus never changes a rater's answer
    at.switch_page("app_pages/downloads.py").run()
    assert at.title[0].value == "Downloads" and not at.exception
    labels = [b.label for b in at.get("download_button")]
    assert any(label.startswith("consensus.csv") for label in labels)
    at.button(key="prepare_snapshot").click().run()
    assert not at.exception
    assert any(b.label.startswith("review database snapshot")
               for b in at.get("download_button"))


def test_raters_never_reach_researcher_pages(db):
    at = signed_in("ana")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/disagreements.py")


def test_disagreement_view_shows_comments_as_text(db):
    with ReviewStore(db) as store:
        study = store.study("pilot")
        ana, ben = store.reviewer(study, "ana"), store.reviewer(study, "ben")
        pid = answers.queue(store, ana)[0].prototype_id
        answers.save_answers(store, ana, pid, {"representativeness": 1, "clarity": 4,
                                               "comment": "<script>alert(1)</script>"})
        answers.save_answers(store, ben, pid, {"representativeness": 4, "clarity": 4})
        table = tables.disagreements(store, study, 2)
    assert set(table["rater"]) == {"ana", "ben"} and table["spread"].iloc[0] == 3
    assert "<script>alert(1)</script>" in set(table["comment"])
    # two questions apart: one row per rater naming both (issue 31: the table said "clarity,
    # spread 4" on two rows where representativeness also differed by 2)
    with ReviewStore(db) as store:
        study = store.study("pilot")
        answers.save_answers(store, store.reviewer(study, "ben"), pid,
                             {"representativeness": 3, "clarity": 1})
        table = tables.disagreements(store, study, 2)
    assert len(table) == 2 and set(table["rater"]) == {"ana", "ben"}
    assert set(table["differ on"]) == {"representativeness 2, clarity 3"}
    assert set(table["spread"]) == {3}


def test_rater_without_assignments_and_missing_signals(db):
    at = signed_in("solo")
    assert "No prototypes are assigned to you" in at.info[0].value
    with ReviewStore(db) as store:
        store.db.execute("DELETE FROM signals")
        store.db.conn.commit()
    at = signed_in("ana")
    assert any("holds no signal" in e.value for e in at.error)
    assert not at.exception


def test_without_a_database(monkeypatch):
    monkeypatch.delenv("PROTOECG_REVIEW_DB", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert "No review database given" in at.error[0].value


def test_next_card_is_built_in_the_background(db):
    with ReviewStore(db) as store:
        study = store.study("pilot")
        ana = store.reviewer(study, "ana")
        items = answers.queue(store, ana)
        rows = [answers.card(store, ana, i.prototype_id)["prototype"] for i in items[:2]]
    thread = cards.prefetch(str(db), "pilot", rows[1])
    assert thread is not None
    thread.join(60)
    assert cards.prefetch(str(db), "pilot", rows[1]) is None  # already built
    first = cards.cached_card_charts(str(db), "pilot", rows[1])
    assert cards.cached_card_charts(str(db), "pilot", rows[1]) is first
    assert set(first) == {"whole", "window", "record", "neighbours", "note", "heights_mm"}
    assert first["record"].startswith("<svg") and len(first["record"]) < 200_000


def test_agreement_page(db):
    with ReviewStore(db) as store:
        study = store.study("pilot")
        for name, shift in (("ana", 0), ("ben", 1)):
            reviewer = store.reviewer(study, name)
            for k, item in enumerate(answers.queue(store, reviewer)[:12]):
                value = 1 + (k + shift) % 5
                answers.save_answers(store, reviewer, item.prototype_id,
                                     {"representativeness": value, "clarity": 3})
    at = signed_in("rhea")
    at.switch_page("app_pages/agreement.py").run()
    assert "Press Compute" in at.info[0].value
    at.button(key="compute_agreement").click().run(timeout=120)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert "Krippendorff's alpha, ordinal metric (Krippendorff 2011)" in set(table["statistic"])
    clarity = dict(zip(table["statistic"], table["clarity"], strict=True))
    assert clarity["Krippendorff's alpha, ordinal metric (Krippendorff 2011)"].startswith(
        "undefined: every answer is the same")
    # the page's figures are summary.json's for the same answers and resamples (issue 31: the
    # page computed with 200 resamples and said they were the report's 1,000), and each rests
    # on stated counts
    from protoecg.agreement.formatting import statistics_table
    from protoecg.agreement.summary import summarize_study

    assert "1,000 resamples, seed 42" in " ".join(c.value for c in at.caption)
    with ReviewStore(db) as store:
        summary = summarize_study(store, store.study("pilot"), 1000, 42)
    assert statistics_table(summary).equals(table)
    rests = dict(zip(table["statistic"], table["representativeness"], strict=True))
    assert rests["prototypes rated"] == str(summary["questions"]["representativeness"][
        "n_prototypes"]) and rests["raters"] == "2" and rests["answers"] == "24"


def _two_raters_flag_bad(store, study) -> str:
    """ana and ben both rate one prototype they share 1 / 2 and flag it bad; its id."""
    ana, ben = store.reviewer(study, "ana"), store.reviewer(study, "ben")
    shared = [i.prototype_id for i in answers.queue(store, ana)
              if i.prototype_id in {j.prototype_id for j in answers.queue(store, ben)}]
    pid = shared[0]
    for rater in (ana, ben):
        answers.save_answers(store, rater, pid, {"representativeness": 1, "clarity": 2,
                                                 "bad": True})
    return pid


def test_prune_rule_preview(db):
    with ReviewStore(db) as store:
        pid = _two_raters_flag_bad(store, store.study("pilot"))
    at = signed_in("rhea")
    at.switch_page("app_pages/pruning.py").run()
    assert at.title[0].value == "Prune rules" and not at.exception
    at.text_input(key="prune_rule").set_value("bad >= 2 and best == 0")
    at.button(key="FormSubmitter:rule-Preview").click().run()
    assert not at.exception
    assert at.text_input(key="prune_rule").value == "bad >= 2 and best == 0"
    assert any(s.value.startswith("Selects 1 of 16 prototypes") for s in at.subheader)
    table = at.dataframe[0].value
    assert table["selected"].sum() == 1
    assert pid in at.expander[0].label and "bad 2" in at.expander[0].label
    # a rule that does not parse points at its column; nothing is selected or written
    at.text_input(key="prune_rule").set_value("mean(warmth) < 2")
    at.button(key="FormSubmitter:rule-Preview").click().run()
    assert "unknown question 'warmth'" in at.error[0].value
    assert "^ column 6" in at.code[0].value
    # a rule emptying classes: told in the page's own words, not the command line's
    at.text_input(key="prune_rule").set_value("bad >= 0")
    at.button(key="FormSubmitter:rule-Preview").click().run()
    message = at.error[0].value
    assert "would disable every prototype of" in message and "Tick" in message
    assert "--" not in message


def test_an_empty_submit_is_not_a_wrong_code_and_researchers_lift_lockouts(db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.button[0].click().run()  # nothing typed
    assert "enter your access code" in at.error[0].value
    for _ in range(5):
        at.text_input(key="access_code").input("WRONG-CODE-000")
        at.button[0].click().run()
    at.text_input(key="access_code").input(CODES["ana"])
    at.button[0].click().run()
    assert "too many wrong codes; try again in" in at.error[0].value  # this tab only
    researcher = signed_in("rhea")  # another tab, same address: not locked out
    assert [d.value["who"].tolist() for d in researcher.dataframe if "who" in d.value][0] == [
        "session"]
    researcher.button(key="lift_lockouts").click().run()
    assert not any("who" in d.value for d in researcher.dataframe)
    at.text_input(key="access_code").input(CODES["ana"])
    at.button[0].click().run()
    assert at.session_state["user"]["name"] == "ana"


def test_a_reload_keeps_the_rater_signed_in_on_the_same_card_until_signed_out(db):
    at = signed_in("ana")
    rate(at, 4, 2)
    token, card = at.query_params["session"], at.query_params["card"]
    assert "ANA1" not in token  # the token is not the access code
    reloaded = AppTest.from_file(APP, default_timeout=60)
    reloaded.query_params["session"] = token
    reloaded.query_params["card"] = card
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.session_state["user"]["name"] == "ana"
    assert reloaded.session_state["cursor"] == 1 and not reloaded.text_input
    reloaded.button(key="sign_out").click().run()
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["session"] = token
    again.run()
    assert "user" not in again.session_state
    assert "session has ended" in again.info[0].value
    assert again.text_input(key="access_code")


def test_researchers_set_up_studies_in_the_app(db, synthetic_catalog):
    at = signed_in("rhea")
    at.switch_page("app_pages/setup.py").run()
    assert at.title[0].value == "Set up" and not at.exception
    # a reviewer: the code is shown once, the database has them
    at.text_input(key="new_reviewer_name").input("zoe")
    next(b for b in at.button if b.label == "Add reviewer").click().run()
    assert not at.exception
    code = at.code[0].value
    # a new rater has cards at once, the unanswered work spread over every rater (issue 31)
    assert any(s.value.startswith("zoe has ") for s in at.success)
    with ReviewStore(db, "write") as store:  # authenticate records the attempt
        study = store.study("pilot")
        assert store.reviewer(study, "zoe").role == "rater"
        assert answers.queue(store, store.reviewer(study, "zoe"))
        assert signin.authenticate(store, code, throttle={"session": "t"})[1].name == "zoe"
    at.run()
    assert not at.code  # not shown again
    # a bad one: one clear line, nothing written
    at.text_input(key="new_reviewer_name").input("zoe")
    next(b for b in at.button if b.label == "Add reviewer").click().run()
    assert "already has a reviewer named 'zoe'" in at.error[0].value
    # assignment: K = 1 over three raters
    at.number_input(key="raters_per_prototype").set_value(1)
    at.button(key="assign").click().run()
    assert at.success[0].value.startswith("1 rater per prototype: ")
    with ReviewStore(db, "read") as store:
        study = store.study("pilot")
        assert store.count_assignments(study) == store.count_prototypes(study)
    # a new study from a catalog chosen in the list (no path typed: issue 31) and the packaged
    # protocol; the list holds the catalogs of the runs beside the study's
    choices = at.selectbox(key="new_study_catalog_choice").options
    assert len(choices) >= 1 and "prototypes from" in choices[0]
    at.text_input(key="new_study_name").input("second")
    at.selectbox(key="new_study_catalog_choice").set_value(choices[0])
    next(b for b in at.button if b.label == "Create study").click().run()
    assert not at.exception and "created study 'second'" in at.success[0].value
    code = at.code[0].value
    with ReviewStore(db, "write") as store:
        study, who = signin.authenticate(store, code, throttle={"session": "t2"})
        assert (study.name, who.name, who.role) == ("second", "rhea", "researcher")
    # a catalog folder that is not one: one line, no study
    at.text_input(key="new_study_name").input("third")
    at.text_input(key="new_study_catalog").input(str(db.parent / "nowhere"))
    next(b for b in at.button if b.label == "Create study").click().run()
    assert at.error and "nowhere" in at.error[0].value
    with ReviewStore(db, "read") as store:
        assert [s.name for s in store.studies()] == ["pilot", "empty", "second"]


def test_prune_page_shows_the_runs_explanation_audit_beside_the_ratings(db):
    """With `protoecg audit`'s file beside the rated run, the page summarises it and each
    selected prototype's line carries its audit values; the rule can use audit.*."""
    with ReviewStore(db) as store:
        study = store.study("pilot")
        pid = _two_raters_flag_bad(store, study)
        ids = [p.prototype_id for p in store.prototypes(study)]
        folder = Path(study.catalog_path).parent / "audit"
        sha = study.catalog_meta["model_sha256"]
    rows = {i: {"segment": "QRS" if i == pid else "T", "no_wave": False, "agrees": True,
                "used": False, "drivers": 0} for i in ids}
    verdict = {"verdict": "depends on the model", "steps": []}
    audit = {"model_sha256": sha, "split": "test", "prototypes": rows,
             "sanity": {"morphology": {"model_randomisation": verdict,
                                       "label_randomisation": {"skipped": "test"}}},
             "segments": {"IRBBB": {"P": 0.0, "PR": 0.0, "QRS": 1.0, "ST-T": 0.0, "T": 0.0,
                                    "none": 0.0, "n_annotated": 1, "n_prototypes": 2,
                                    "expected": ["QRS"], "agreement": 1.0}},
             "delineation": {"source": "expert (test)"}, "activation": {"never_used": ids}}
    folder.mkdir()
    try:
        (folder / "audit.json").write_text(json.dumps(audit))
        at = signed_in("rhea")
        at.switch_page("app_pages/pruning.py").run()
        assert not at.exception
        assert any(e.label == "Explanation audit of the rated run" for e in at.expander)
        at.text_input(key="prune_rule").set_value('bad >= 2 and audit.segment == "QRS"')
        at.button(key="FormSubmitter:rule-Preview").click().run()
        assert not at.exception
        assert any(s.value.startswith("Selects 1 of 16 prototypes") for s in at.subheader)
        label = next(e.label for e in at.expander if pid in e.label)
        assert "audit: centred on QRS" in label and "never among the top 3" in label
    finally:
        shutil.rmtree(folder)


def test_prune_page_shows_where_a_prototype_sits_among_the_networks_clusters(db):
    """Issue 33: with `protoecg clusters`' folder beside the rated run, each selected
    prototype's line says which cluster its window falls in, its picture carries the band of
    its branch, and the rule can use clusters.*."""
    import numpy as np
    import pandas as pd

    from protoecg.clusters.files import clusters_dir, write_clusters
    from protoecg.clusters.mixture import fit_clustering

    with ReviewStore(db) as store:
        study = store.study("pilot")
        pid = _two_raters_flag_bad(store, study)
        rows = [store.prototype_snapshot(p.pk) for p in store.prototypes(study)]
        run = Path(study.catalog_path).parent
        sha = study.catalog_meta["model_sha256"]
    records = sorted({str(r["source_record_id"]) for r in rows})
    fitted = fit_clustering(np.random.default_rng(0).normal(size=(4, 10, 3)), (2, 2))
    legend = [{"cluster": 0, "wave": "rest", "share": 0.9, "steps": 9},
              {"cluster": 1, "wave": "QRS", "share": 0.8, "steps": 9}]
    summary = {"model_sha256": sha, "n_steps": 20, "step_ms": 500.0, "branches": {b: {
        "n_clusters": 2, "legend": legend, "max_entropy": float(np.log(2))}
        for b in ("rhythm", "morphology", "global")}}
    sequences = {b: np.ones((len(records), 20), dtype=np.int8) for b in summary["branches"]}
    entropies = {b: np.zeros((len(records), 20)) for b in summary["branches"]}
    table = pd.DataFrame([(r["prototype_id"], r["branch"], 1 if r["prototype_id"] == pid
                           else 0, 1.0, "QRS" if r["prototype_id"] == pid else "rest")
                          for r in rows], columns=["prototype_id", "branch", "cluster",
                                                   "cluster_share", "cluster_wave"])
    try:
        write_clusters(run, dict.fromkeys(summary["branches"], fitted), records, sequences,
                       entropies, summary, table)
        at = signed_in("rhea")
        at.switch_page("app_pages/pruning.py").run()
        assert not at.exception
        at.text_input(key="prune_rule").set_value('clusters.wave == "QRS"')
        at.button(key="FormSubmitter:rule-Preview").click().run()
        assert not at.exception
        assert any(s.value.startswith("Selects 1 of 16 prototypes") for s in at.subheader)
        label = next(e.label for e in at.expander if pid in e.label)
        assert "cluster 1 (QRS) on 100% of its window" in label
        charts = [e for kind in ("arrow_vega_lite_chart", "vega_lite_chart")
                  for e in at.get(kind)]
        spec = json.loads(charts[0].proto.spec)
        steps = [v for layer in spec["layer"] if layer.get("mark") == {"type": "rect"}
                 for v in layer["data"]["values"] if "cluster" in v]
        assert steps and {v["cluster"][1:] for v in steps} == {"1 · QRS"}
        # a damaged clusters file: the rule's preview names it in one line, nothing breaks
        (clusters_dir(run) / "clusters.json").write_text("[1, 2]")
        at.button(key="FormSubmitter:rule-Preview").click().run()
        assert not at.exception
        assert any("clusters.json" in e.value for e in at.error)
    finally:
        shutil.rmtree(clusters_dir(run))


def test_researchers_see_the_catalogs_prototype_quality(small_synthetic_catalog, tmp_path,
                                                        monkeypatch):
    """Issue 29: the Progress and Prune pages show the catalog's quality per branch, and a
    study that accepted a degenerate branch says so."""
    from protoecg.catalog.quality import prototype_quality

    catalog = read_catalog(small_synthetic_catalog)
    catalog.meta["prototype_quality"] = prototype_quality(catalog, segments=[])
    catalog.meta["prototype_quality"]["morphology"]["degenerate"] = True
    catalog.meta["degenerate_branches_allowed"] = ["morphology"]
    path = tmp_path / "review.db"
    with ReviewStore(path) as store:
        study = store.create_study("q", load_protocol(PAPER_PROTOCOL), catalog)
        store.add_reviewer(study, "rhea", "researcher", code=CODES["rhea"])
        store.add_reviewer(study, "ana", "rater", code=CODES["ana"])
        assign(store, study, 1)
    monkeypatch.setenv("PROTOECG_REVIEW_DB", str(path))
    at = signed_in("rhea")
    assert any(h.value == "Prototype quality" for h in at.subheader)
    table = next(d.value for d in at.dataframe if "figure" in d.value.columns)
    assert table.columns.tolist() == ["figure", "rhythm", "morphology", "global"]
    assert table.set_index("figure").loc["latent space"].tolist() == ["alive", "degenerate",
                                                                      "alive"]
    assert "degenerate branch (morphology)" in at.warning[0].value
    at.switch_page("app_pages/pruning.py").run()
    assert not at.exception
    assert any("figure" in d.value.columns and "distinct windows" in d.value["figure"].tolist()
               for d in at.dataframe)


def test_the_set_up_page_refuses_a_catalog_with_a_degenerate_branch(db, synthetic_catalog,
                                                                    tmp_path):
    catalog = tmp_path / "dead" / "catalog"
    shutil.copytree(synthetic_catalog, catalog)
    meta = json.loads((catalog / "catalog.json").read_text())
    meta["latent_health"] = {"morphology": {"degenerate": True, "spread_median": 0.0,
                                            "dims_varying": 0, "latent_dims": 128}}
    (catalog / "catalog.json").write_text(json.dumps(meta))
    at = signed_in("rhea")
    at.switch_page("app_pages/setup.py").run()
    at.text_input(key="new_study_name").input("dead")
    at.text_input(key="new_study_catalog").input(str(catalog))
    next(b for b in at.button if b.label == "Create study").click().run()
    assert not at.exception
    assert "morphology branch is degenerate" in at.error[0].value
    with ReviewStore(db, "read") as store:
        assert "dead" not in {s.name for s in store.studies()}


def _card_of(at: AppTest) -> str:
    return at.query_params["card"][0] if isinstance(at.query_params["card"], list) \
        else at.query_params["card"]


def test_a_second_tab_never_overwrites_an_answer_it_did_not_see(db):
    """Two tabs of one rater on one card (issue 31): tab A saves 5, 5; tab B, opened before,
    saves 1, 2 and is refused, shown both answers; it keeps A's or saves its own over them."""
    tab_a, tab_b = signed_in("ana"), signed_in("ana")
    card = _card_of(tab_a)
    assert _card_of(tab_b) == card
    rate(tab_a, 5, 5)
    rate(tab_b, 1, 2)
    assert stored(db, "ana")[card] == {"representativeness": 5, "clarity": 5}  # B wrote nothing
    warning = next(w.value for w in tab_b.warning if "changed in another tab" in w.value)
    assert "saved elsewhere **5**, yours **1**" in warning
    assert "saved elsewhere **5**, yours **2**" in warning
    assert _card_of(tab_b) == card  # still on the card, its answers kept in the form
    assert [r.value for r in tab_b.radio] == [1, 2]
    tab_b.button(key="keep-theirs").click().run()
    assert [r.value for r in tab_b.radio] == [5, 5]  # A's answers shown, nothing written
    assert stored(db, "ana")[card] == {"representativeness": 5, "clarity": 5}
    # the other choice: B's answers over A's, after seeing them
    tab_a.button(key="back").click().run()  # A moved on after saving; back to the card
    assert _card_of(tab_a) == card
    rate(tab_a, 4, 4)
    rate(tab_b, 1, 2)
    tab_b.button(key="save-mine").click().run()
    assert not tab_b.exception, tab_b.exception
    assert stored(db, "ana")[card] == {"representativeness": 1, "clarity": 2}
    with ReviewStore(db) as store:  # every overwrite stays in the history
        history = store.db.execute("SELECT value FROM ratings WHERE question = "
                                   "'representativeness' ORDER BY revision").fetchall()
    assert [v for (v,) in history] == [5, 4, 1]


def test_saving_again_from_the_same_tab_is_no_conflict(db):
    at = signed_in("ana")
    card = _card_of(at)
    rate(at, 3, 3)
    at.button(key="back").click().run()
    assert _card_of(at) == card
    rate(at, 2, 2)
    assert not any("changed in another tab" in w.value for w in at.warning)
    assert stored(db, "ana")[card] == {"representativeness": 2, "clarity": 2}


def test_save_and_next_skips_the_cards_already_answered(db):
    """"Save & next" goes to the next card the rater has not answered, never into one they
    (or an import) already answered, where the number keys would overwrite it."""
    from protoecg.study.answers import queue as rater_queue

    with ReviewStore(db) as store:
        study = store.study("pilot")
        ana = store.reviewer(study, "ana")
        order = [item.prototype_id for item in rater_queue(store, ana)]
        for pid in order[1:3]:  # cards 2 and 3 answered elsewhere (an import, another device)
            answers.save_answers(store, ana, pid, {"representativeness": 3, "clarity": 3})
    at = signed_in("ana")
    assert _card_of(at) == order[0]
    rate(at, 4, 4)
    assert _card_of(at) == order[3]
    assert stored(db, "ana")[order[1]] == {"representativeness": 3, "clarity": 3}


def test_an_over_long_comment_is_refused_visibly_and_kept_in_the_box(db):
    """Issue 31: a comment pasted over the limit left the box empty and the card saved without
    it. Now the save is refused with a message, and the text stays to be shortened."""
    at = signed_in("ana")
    card = _card_of(at)
    long = "ST depression in V4-V6. " * 250  # 6,000 characters
    rate(at, 4, 4, comment=long)
    assert any("at most 5,000 characters, got 6,000" in e.value for e in at.error)
    assert at.text_area[0].value == long
    assert _card_of(at) == card and card not in stored(db, "ana")  # nothing saved
    rate(at, 4, 4, comment=long[:4000])
    assert stored(db, "ana")[card]["comment"] == long[:4000]


def _ana_answers_her_first_card(db) -> str:
    """ana saves 4, 4 on the first card of her queue; its prototype id."""
    with ReviewStore(db) as store:
        ana = store.reviewer(store.study("pilot"), "ana")
        pid = answers.queue(store, ana)[0].prototype_id
        answers.save_answers(store, ana, pid, {"representativeness": 4, "clarity": 4})
    return pid


def test_a_researcher_reissues_a_lost_code(db):
    """Issue 31: a reviewer's code could not be replaced in the app. The old code stops
    working, the new one is shown once, the reviewer's answers stay."""
    pid = _ana_answers_her_first_card(db)
    at = signed_in("rhea")
    at.switch_page("app_pages/setup.py").run()
    at.selectbox(key="reissue_name").set_value("ana")
    next(b for b in at.button if b.label == "New access code").click().run()
    assert not at.exception, at.exception
    code = at.code[0].value
    assert code != CODES["ana"]
    with ReviewStore(db, "write") as store:
        assert signin.authenticate(store, code, throttle={"session": "x"})[1].name == "ana"
        with pytest.raises(AuthError):
            signin.authenticate(store, CODES["ana"], throttle={"session": "y"})
    assert stored(db, "ana")[pid] == {"representativeness": 4, "clarity": 4}


def test_a_researcher_removes_a_rater_in_the_app_and_their_answers_stay(db):
    """Issue 31: a reviewer could not be removed. Removal needs a confirmation; the rater's
    answers stay (marked on the Progress page), their open cards go to the other raters and
    their code no longer signs in."""
    pid = _ana_answers_her_first_card(db)
    at = signed_in("rhea")
    at.switch_page("app_pages/setup.py").run()
    assert "rhea" not in at.selectbox(key="remove_name").options  # not oneself
    at.selectbox(key="remove_name").set_value("ana")
    next(b for b in at.button if b.label == "Remove reviewer").click().run()
    assert "Tick the box" in " ".join(w.value for w in at.warning)
    assert stored(db, "ana")[pid] and _active(db, "ana")  # nothing happened yet
    at.selectbox(key="remove_name").set_value("ana")
    at.checkbox(key="remove_confirm").check()
    next(b for b in at.button if b.label == "Remove reviewer").click().run()
    assert not at.exception, at.exception
    assert "ana was removed" in " ".join(s.value for s in at.success)
    assert not _active(db, "ana")
    assert stored(db, "ana")[pid] == {"representativeness": 4, "clarity": 4}
    with ReviewStore(db, "write") as store:
        with pytest.raises(AuthError):
            signin.authenticate(store, CODES["ana"], throttle={"session": "z"})
        study = store.study("pilot")
        assert [a.prototype_id for a in store.assignments(study) if a.reviewer == "ana"] == [pid]
    at.switch_page("app_pages/progress.py").run()
    per_rater = _table(at, "removed on").set_index("rater")
    assert per_rater.loc["ana", "removed on"] != ""


def _table(at: AppTest, column: str):
    """The page's table that has ``column`` (AppTest does not expose a table's key)."""
    return next(t.value for t in at.dataframe if column in t.value.columns)


def _active(db, name: str) -> bool:
    with ReviewStore(db, "read") as store:
        return name in {r.name for r in store.reviewers(store.study("pilot"), removed=False)}


def test_the_progress_page_shows_every_changed_answer(db):
    """Issue 31: overwrites stayed in the history but no page showed them."""
    with ReviewStore(db) as store:
        study = store.study("pilot")
        ben = store.reviewer(study, "ben")
        pid = answers.queue(store, ben)[0].prototype_id
        answers.save_answers(store, ben, pid, {"representativeness": 5, "clarity": 3})
        answers.save_answers(store, ben, pid, {"representativeness": 1, "clarity": 3})
    at = signed_in("rhea")
    at.switch_page("app_pages/progress.py").run()
    assert not at.exception, at.exception
    changes = _table(at, "before")
    assert len(changes) == 1
    row = changes.iloc[0]
    assert (row["rater"], row["prototype"], row["question"], row["before"], row["after"]) == (
        "ben", pid, "representativeness", "5", "1")


def test_a_rater_removed_while_signed_in_is_signed_out_and_cannot_save(db):
    """The app checks the session on every full run (AppTest runs the whole script on a
    click; in the browser a save from the card's fragment is refused by the store, which
    test_reviewer_removal checks)."""
    at = signed_in("ana")
    assert _card_of(at)
    with ReviewStore(db) as store:
        store.remove_reviewer(store.reviewer(store.study("pilot"), "ana"))
    at.radio[0].set_value(3)
    at.radio[1].set_value(3)
    at.button(key="save").click().run()
    assert not at.exception, at.exception
    assert stored(db, "ana") == {}
    assert at.text_input(key="access_code") is not None  # back at sign-in
    shown = " ".join(e.value for e in [*at.warning, *at.error, *at.info])
    assert "session has ended" in shown, shown


CLI_WORDS = ("protoecg ", " --", "`")


def _page_words(at: AppTest) -> str:
    """Everything a page says in prose (not the one code box a page may hand on)."""
    kinds = ("markdown", "caption", "info", "warning", "error", "success", "title",
             "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_no_page_speaks_command_line(db):
    """Issue 31: the app is for clinicians and researchers; a command line shows only in the
    prune page's box for whoever trains the models (a code block, collapsed)."""
    with ReviewStore(db) as store:
        _two_raters_flag_bad(store, store.study("pilot"))
    at = signed_in("rhea")
    for page in ("progress", "setup", "agreement", "disagreements", "pruning", "downloads"):
        at.switch_page(f"app_pages/{page}.py").run()
        if page == "pruning":
            at.button(key="FormSubmitter:rule-Preview").click().run()
            assert "protoecg round --run" in at.code[-1].value  # the hand-off, exact
        assert not at.exception, (page, at.exception)
        words = _page_words(at)
        assert not [w for w in CLI_WORDS if w in words], (page, words)
    rater = signed_in("ana")
    words = _page_words(rater)
    assert not [w for w in CLI_WORDS if w in words], words
