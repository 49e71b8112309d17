"""Issue 32: a blind A/B comparison of a rated model (round 1) against its pruned, retrained
round 2, rated in Chromium by two raters by keyboard, and its report; the card never names a
model."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from protoecg.study.store import ReviewStore
from tests.test_prune import projected  # noqa: F401  (round 1: a rated tiny run)
from tests.test_review_browser import CHROMIUM, browser_page, idle, served

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CODES = {"cleo": "CLEO-COMP-0001", "dara": "DARA-COMP-0002", "eli": "ELI3-COMP-0003"}


@pytest.fixture(scope="module")
def comparison_server(projected, tmp_path_factory):  # noqa: F811
    """Round 1 (a seeded tiny model, rated) against round 2 (its prune by the raters' flags,
    retrained and projected by `protoecg round`), made a comparison study by
    `protoecg study create-comparison`, two raters added."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    from protoecg.cli import main

    _, run, rated_db, _ = projected
    folder = tmp_path_factory.mktemp("comparison")
    first = shutil.copytree(run, folder / "round1-model")
    db = folder / "review.db"
    shutil.copy(rated_db, db)
    second = folder / "round2-model"
    # the 1-epoch tiny model's latent spaces are degenerate: accepted, the loop is what counts
    assert main(["round", "--run", str(first), "--db", str(db), "--study", "round1", "--rule",
                 "bad >= 2", "--action", "disable", "--out", str(second), "--next-study",
                 "round2", "--quiet", "--allow-degenerate"]) == 0
    # threshold 0: a 1-epoch model calls hardly anything positive at 0.5
    assert main(["study", "create-comparison", "--db", str(db), "--name", "ab", "--runs",
                 str(first), str(second), "--per-label", "1", "--threshold", "0"]) == 0
    for name, code in CODES.items():
        assert main(["study", "add-reviewer", "--db", str(db), "--study", "ab", "--name", name,
                     "--role", "rater", "--code", code]) == 0
    cases = {"models": ["round1-model", "round2-model"]}
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
