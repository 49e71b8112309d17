"""End to end in a real headless Chromium: sign in, rate two prototypes (keyboard, then
mouse), reload, and find both answers in SQLite. Saves a screenshot of the rating card."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from protoecg.catalog.reader import read_catalog
from protoecg.study.answers import reviewer_answers
from protoecg.study.assignment import assign
from protoecg.study.protocol import load_protocol
from protoecg.study.store import ReviewStore
from tests.conftest import PAPER_PROTOCOL, REPO

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("PROTOECG_TEST_ARTIFACTS", REPO / "test-artifacts"))
CODE = "ANA1-RATE-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(ludb_catalog, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    db = tmp_path / "review.db"
    with ReviewStore(db) as store:
        study = store.create_study("pilot", load_protocol(PAPER_PROTOCOL),
                                   read_catalog(ludb_catalog))
        store.add_reviewer(study, "ana", "rater", code=CODE)
        store.add_reviewer(study, "ben", "rater")
        assign(store, study, 2)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "protoecg", "review", "serve", "--db", str(db), "--port",
         str(port)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the review app did not start within 60 s")
    yield url, db
    process.terminate()
    process.wait(10)


def idle(page) -> None:
    """Wait until Streamlit has finished the rerun a click or key started."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)


def test_sign_in_rate_twice_reload_and_find_both_answers(server):
    from playwright.sync_api import expect, sync_playwright

    url, db = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.goto(url)
        page.get_by_label("Access code").fill(CODE)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Representativeness: To what extent")).to_be_visible(
            timeout=30_000)
        expect(page.get_by_text(re.compile(r"^0 of \d+ complete"))).to_be_visible()
        page.wait_for_timeout(1500)  # charts finish drawing
        page.screenshot(path=str(ARTIFACTS / "rating_card.png"), full_page=True)
        card_id = page.get_by_text(re.compile(r" prototype \S+/\S+/\d+ · window")).first
        first = card_id.inner_text()

        # card 1 with the keyboard: 4 (representativeness), 3 (clarity), Enter (save & next)
        page.locator("h2").first.click()  # focus the page, not a widget
        for key in ("4", "3"):
            page.keyboard.press(key)
            idle(page)
        page.keyboard.press("Enter")
        idle(page)
        expect(page.get_by_text(re.compile(r"^1 of \d+ complete"))).to_be_visible(
            timeout=15_000)

        # card 2 with the mouse
        groups = page.locator('div[role="radiogroup"]')
        expect(card_id).not_to_have_text(first)  # the next card
        idle(page)  # ... fully drawn
        groups.nth(0).get_by_text("5 · Strongly agree").click()
        idle(page)
        groups.nth(1).get_by_text("2 · Disagree").click()
        idle(page)
        page.get_by_role("button", name="Save & next").click()
        idle(page)
        page.screenshot(path=str(ARTIFACTS / "after_second_card.png"), full_page=True)
        expect(page.get_by_text(re.compile(r"^2 of \d+ complete"))).to_be_visible(
            timeout=15_000)

        page.reload()
        page.get_by_label("Access code").fill(CODE)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(re.compile(r"^2 of \d+ complete"))).to_be_visible(
            timeout=30_000)
        browser.close()
    with ReviewStore(db) as store:
        study = store.study("pilot")
        answers = reviewer_answers(store, store.reviewer(study, "ana"))
    values = sorted(tuple(sorted(a.items())) for a in answers.values())
    assert values == sorted([(("clarity", 3), ("representativeness", 4)),
                             (("clarity", 2), ("representativeness", 5))])
    assert first  # the card had a class header
    shutil.copy(ARTIFACTS / "rating_card.png", ARTIFACTS / "rating_card_latest.png")
