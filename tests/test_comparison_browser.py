"""Issue 32: a blind A/B comparison of the demo model (round 1, `protoecg demo`) against its
pruned round 2 (`protoecg round`), rated in Chromium by two raters by keyboard, and its report;
the card never names a model."""

import json
from pathlib import Path

import pandas as pd
import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.study.store import ReviewStore
from tests.test_review_browser import CHROMIUM, browser_page, idle, served

pytestmark = [pytest.mark.slow, pytest.mark.browser]
HALF_WIDTH_MM = 125.0  # review_app/app_pages/compare.py: a prototype window's widest layout
CODES = {"cleo": "CLEO-COMP-0001", "dara": "DARA-COMP-0002", "eli": "ELI3-COMP-0003"}


def flag_most_used(catalog, n: int = 3) -> list[str]:
    """The ``n`` morphology prototypes that drive the most correct decisions, in classes that
    keep another: those whose replacement changes what the model shows."""
    table = catalog.prototypes[catalog.prototypes["active"] == 1]
    morphology = table[table["branch"] == "morphology"]
    kept = morphology.groupby("class_code")["prototype_id"].transform("count") >= 2
    ranked = morphology[kept].sort_values("usage_decisions", ascending=False, kind="stable")
    return list(ranked["prototype_id"][:n])


@pytest.fixture(scope="module")
def comparison_server(ludb_root, tmp_path_factory):
    """`protoecg demo` (LUDB, the demo preset); two simulated raters flag its three most-used
    morphology prototypes; `protoecg round` replaces them, retrains, projects and opens the
    comparison study "ab" of round 1 against round 2; three raters added."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    from protoecg.cli import main

    folder = tmp_path_factory.mktemp("comparison")
    demo = folder / "demo"
    assert main(["demo", "--ludb", str(ludb_root), "--out", str(demo)]) == 0
    first, db = demo / "run-demo", demo / "review.db"
    catalog = read_catalog(first / "catalog")
    flagged = flag_most_used(catalog)
    rows = []
    for rater in ("Dr A", "Dr B"):
        for pid in catalog.prototypes.loc[catalog.prototypes["active"] == 1, "prototype_id"]:
            bad = pid in flagged
            rows += [(rater, pid, "representativeness", 1 if bad else 4),
                     (rater, pid, "clarity", 2 if bad else 4)] + ([(rater, pid, "bad", 1)]
                                                                   if bad else [])
    answers = folder / "round1-answers.csv"
    pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question", "answer"]).to_csv(
        answers, index=False)
    assert main(["study", "import-ratings", "--db", str(db), "--study", "demo", "--csv",
                 str(answers), "--create-reviewers"]) == 0
    second = demo / "run-round2"
    assert main(["round", "--run", str(first), "--db", str(db), "--study", "demo", "--rule",
                 "bad >= 2", "--action", "replace", "--out", str(second), "--next-study",
                 "round2", "--comparison-study", "ab", "--per-label", "2", "--quiet"]) == 0
    with ReviewStore(db, "read") as store:
        made = {s.name for s in store.studies()}
    if "ab" not in made:  # what training made left nothing to compare: every case kept
        assert main(["study", "create-comparison", "--db", str(db), "--name", "ab", "--runs",
                     str(first), str(second), "--per-label", "1", "--threshold", "0",
                     "--include-identical"]) == 0
    for name, code in CODES.items():
        assert main(["study", "add-reviewer", "--db", str(db), "--study", "ab", "--name", name,
                     "--role", "rater", "--code", code]) == 0
    cases = {"models": [first.name, second.name], "folder": folder}
    with served(db) as url:
        yield url, db, cases


def case_of(page) -> str:
    return page.locator(".protoecg-card").get_attribute("data-card")


def test_two_raters_compare_by_keyboard_blind_and_the_report_counts_them(comparison_server):
    from protoecg.agreement.comparison import summarize_comparison

    url, db, cases = comparison_server
    models = cases["models"]
    keys = {"cleo": ["1", "2", "1", "1", "1", "3"], "dara": ["2", "1", "2", "2", "2", "4"]}
    for name, presses in keys.items():
        with browser_page(1440, 900) as page:
            page.goto(url)
            page.get_by_label("Access code").fill(CODES[name])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector(".protoecg-card", state="attached", timeout=30_000)
            idle(page)
            text = page.locator("body").inner_text()
            assert not any(m in text for m in models), "a model's name on the rater's page"
            if name == "cleo":  # A and B near paper size, side by side, above the fold
                scales = page.evaluate(
                    "() => [...document.querySelectorAll('.protoecg-neighbour svg')].map(e => {"
                    " const r = e.getBoundingClientRect();"
                    " return [r.width / e.viewBox.baseVal.width, r.left, r.bottom,"
                    " e.viewBox.baseVal.width]; })")
                assert len(scales) == 2 and scales[0][1] < scales[1][1]
                for px_per_mm, _, bottom, width_mm in scales:
                    if width_mm > HALF_WIDTH_MM:  # a whole-record prototype: the 10 s print
                        continue
                    assert px_per_mm >= 3.5 and bottom <= 900, scales
            for _ in range(2):  # two cases by keyboard
                first = case_of(page)
                page.locator("h3").first.click()
                for key in presses:
                    page.keyboard.press(key)
                    idle(page)
                page.keyboard.press("Enter")
                page.wait_for_function(
                    "(old) => { const m = document.querySelector('.protoecg-card');"
                    " return m && m.dataset.card !== old; }", arg=first, timeout=30_000)
                idle(page)
    with ReviewStore(db, "read") as store:
        study = store.study("ab", kind="comparison")
        cleo = store.reviewer(study, "cleo")
        from protoecg.study.comparison import comparison_queue

        complete = [c.complete for c in comparison_queue(store, cleo)]
        assert len(complete) >= 3 and complete[:2] == [True, True] and not any(complete[2:])
        key = pd.DataFrame(store.comparison_key(study), columns=["case_id", "label", "A", "B"])
        answers = pd.DataFrame(store.comparison_answers(study),
                               columns=["reviewer", "case_id", "question", "answer"])
    assert len(answers) == 2 * 2 * 6  # raters x cases x questions
    mine = answers[(answers["reviewer"] == "cleo")].set_index(["case_id", "question"])["answer"]
    first_case = key["case_id"][0]
    assert mine[(first_case, "prototype:A")] == "1" and mine[(first_case, "prototype:B")] == "0"
    assert mine[(first_case, "prototype:preference")] == "A"
    assert mine[(first_case, "explanation:preference")] == "both"
    summary = summarize_comparison(key, answers, n_resamples=50)
    assert summary["n_raters"] == 2 and summary["n_cases_answered"] == 2
    for task in ("prototype", "explanation"):
        assert sum(p["n_total"] for p in summary["tasks"][task]["models"].values()) == 8
    # its report, as a researcher makes it
    from protoecg.cli import main

    out = cases["folder"] / "report"
    assert main(["report", "--db", str(db), "--study", "ab", "--out", str(out),
                 "--resamples", "50"]) == 0
    written = json.loads((out / "summary.json").read_text())["comparison"]
    assert written["n_raters"] == 2 and set(written["tasks"]["prototype"]["models"]) == set(
        models)
    html = (out / "report.html").read_text()
    assert all(m in html for m in models)  # the researcher's report names them


def test_save_and_next_skips_a_case_answered_elsewhere(comparison_server):
    from protoecg.study.comparison import comparison_queue, questions_of, save_comparison

    url, db, _ = comparison_server
    with ReviewStore(db) as store:
        study = store.study("ab", kind="comparison")
        eli = store.reviewer(study, "eli")
        cases = [c.case_id for c in comparison_queue(store, eli)]
        answered = {q: ("neither" if q.endswith("preference") else "0")
                    for q in questions_of(study.protocol)}
        save_comparison(store, eli, cases[1], answered, {})
    with browser_page(1440, 900) as page:
        page.goto(url)
        page.get_by_label("Access code").fill(CODES["eli"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector(".protoecg-card", state="attached", timeout=30_000)
        idle(page)
        assert case_of(page) == cases[0]
        page.locator("h3").first.click()
        for key in ("1", "1", "1", "1", "1", "1"):
            page.keyboard.press(key)
            idle(page)
        page.keyboard.press("Enter")
        page.wait_for_function("(old) => { const m = document.querySelector('.protoecg-card');"
                               " return m && m.dataset.card !== old; }", arg=cases[0],
                               timeout=30_000)
        idle(page)
        assert case_of(page) == cases[2]  # case 2 was answered: skipped
    with ReviewStore(db, "read") as store:
        eli = store.reviewer(store.study("ab"), "eli")
        kept = store.rater_comparison_answers(eli)[cases[1]]
        assert {q: v for q, (v, _) in kept.items()} == answered
