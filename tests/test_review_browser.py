"""The rating flow in a real headless Chromium, against `protoecg review serve` on a study of a
real (tiny) LUDB run: sign in, rate by keyboard and mouse, reload, keys typed during a card
change, the layout at 1440x900 and 1280x720, no developer chrome. Screenshots of a morphology
card and a whole-record card at both sizes go to test-artifacts/."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
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
# one rater per test, so that the tests share one server without sharing a queue
CODES = {"ana": "ANA1-RATE-0001", "ben": "BEN2-RATE-0002", "cai": "CAI3-RATE-0003",
         "dov": "DOV4-RATE-0004", "eve": "EVE5-RATE-0005", "fay": "FAY6-RATE-0006",
         "gus": "GUS7-RATE-0007", "hal": "HAL8-RATE-0008", "ida": "IDA9-RATE-0010",
         "jon": "JON0-RATE-0011", "kim": "KIM1-RATE-0012"}
WHOLE = ("rhythm/", "global/")
RESEARCHER = "RHEA-RSCH-0009"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def catalog_folder(synthetic_catalog):
    # the set-up page refuses the 1-epoch LUDB run's catalog (its branches are degenerate);
    # the written synthetic catalog records no latent health
    return synthetic_catalog


@pytest.fixture(scope="module")
def server(ludb_catalog, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium; .ci/run does)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    db = tmp_path_factory.mktemp("browser") / "review.db"
    with ReviewStore(db) as store:
        study = store.create_study("pilot", load_protocol(PAPER_PROTOCOL),
                                   read_catalog(ludb_catalog))
        for name, code in CODES.items():
            store.add_reviewer(study, name, "rater", code=code)
        store.add_reviewer(study, "rhea", "researcher", code=RESEARCHER)
        assign(store, study, len(CODES))  # every rater gets every prototype
    with served(db) as url:
        yield url, db


@contextmanager
def served(db: Path):
    """`protoecg review serve` on ``db`` (a free port), until the block ends: its address."""
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
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def browser_page(width: int = 1440, height: int = 900):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def idle(page) -> None:
    """Wait until Streamlit has finished the rerun a click or key started."""
    page.wait_for_timeout(250)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)


def card_of(page) -> str:
    return page.locator(".protoecg-card").get_attribute("data-card")


def wait_for_card_change(page, old: str) -> str:
    page.wait_for_function(
        "(old) => { const m = document.querySelector('.protoecg-card');"
        " return m && m.dataset.card !== old &&"
        " !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && document.querySelectorAll('.protoecg-chart svg').length > 0; }",
        arg=old, timeout=30_000)
    idle(page)
    return card_of(page)


def sign_in(page, url: str, name: str) -> str:
    page.goto(url)
    page.get_by_label("Access code").fill(CODES[name])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".protoecg-card", state="attached", timeout=30_000)
    idle(page)
    return card_of(page)


def checked(page) -> list[int | None]:
    return page.evaluate(
        "() => [...document.querySelectorAll('div[role=radiogroup]')].map(g => {"
        " const labels = [...g.querySelectorAll('label')];"
        " const i = labels.findIndex(l => l.querySelector('input:checked'));"
        " return i < 0 ? null : i + 1; })")


def answers_of(db: Path, name: str) -> dict:
    with ReviewStore(db, "read") as store:
        return reviewer_answers(store, store.reviewer(store.study("pilot"), name))


def in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight && r.bottom > 0; }", selector)


def test_keyboard_then_mouse_then_reload_keeps_the_rater_on_the_card(server):
    url, db = server
    with browser_page() as page:
        first = sign_in(page, url, "ana")
        page.locator("h3").first.click()  # focus the page, not a widget
        for key in ("4", "3"):
            page.keyboard.press(key)
            idle(page)
        assert checked(page) == [4, 3]
        page.keyboard.press("Enter")
        second = wait_for_card_change(page, first)
        groups = page.locator('div[role="radiogroup"]')
        groups.nth(0).locator("label").nth(4).click()  # 5
        idle(page)
        groups.nth(1).locator("label").nth(1).click()  # 2
        idle(page)
        page.keyboard.press("ArrowUp")  # keys change an answer already given
        page.keyboard.press("1")
        idle(page)
        assert checked(page) == [1, 2]
        page.get_by_role("button", name="Save & next").click()
        third = wait_for_card_change(page, second)
        page.reload()  # still signed in, on the same card, without the access code
        page.wait_for_selector(".protoecg-card", state="attached", timeout=30_000)
        idle(page)
        assert page.get_by_label("Access code").count() == 0
        assert card_of(page) == third
        assert page.get_by_text("2 of ").count() >= 1
    answers = answers_of(db, "ana")
    assert answers[first] == {"representativeness": 4, "clarity": 3}
    assert answers[second] == {"representativeness": 1, "clarity": 2}


def test_keys_typed_while_the_next_card_loads_apply_to_the_new_card(server):
    url, db = server
    with browser_page() as page:
        first = sign_in(page, url, "ben")
        page.locator("h3").first.click()
        for key in ("3", "3"):
            page.keyboard.press(key)
            idle(page)
        page.keyboard.press("Enter")
        page.keyboard.press("5")  # at once, while the next card is on its way
        page.keyboard.press("1")
        second = wait_for_card_change(page, first)
        page.wait_for_function("() => document.querySelectorAll("
                               "'div[role=radiogroup] input:checked').length === 2",
                               timeout=15_000)
        idle(page)
        assert checked(page) == [5, 1]
        page.keyboard.press("Enter")
        wait_for_card_change(page, second)
    assert answers_of(db, "ben")[second] == {"representativeness": 5, "clarity": 1}


def test_a_new_card_opens_at_the_top_with_its_title_and_ecg_in_view(server):
    url, _ = server
    with browser_page(1440, 900) as page:
        first = sign_in(page, url, "cai")
        # everything a rater needs is in view without scrolling
        for selector in ("h3", ".protoecg-chart svg", 'div[role="radiogroup"]'):
            assert in_viewport(page, selector), selector
        assert page.get_by_role("button", name="Save & next").is_visible()
        save = page.get_by_role("button", name="Save & next").bounding_box()
        assert save["y"] + save["height"] <= 900
        groups = page.locator('div[role="radiogroup"]')
        groups.nth(0).locator("label").nth(2).click()
        idle(page)
        groups.nth(1).locator("label").nth(2).click()
        idle(page)
        page.mouse.move(400, 600)
        page.mouse.wheel(0, 3000)  # the rater scrolled down to read the report
        page.wait_for_timeout(300)
        page.get_by_role("button", name="Save & next").click()
        wait_for_card_change(page, first)
        page.wait_for_timeout(200)
        assert in_viewport(page, "h3") and in_viewport(page, ".protoecg-chart svg")


@pytest.mark.parametrize("width, height", [(1440, 900), (1280, 720)])
def test_nothing_overflows_and_no_developer_chrome(server, width, height):
    url, _ = server
    name = "dov" if width == 1440 else "eve"
    with browser_page(width, height) as page:
        sign_in(page, url, name)
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0 or \
            not page.locator('[data-testid="stAppDeployButton"]').is_visible()
        for selector in ('[data-testid="stMainMenu"]', "#MainMenu"):
            assert page.locator(selector).count() == 0 or \
                not page.locator(selector).first.is_visible()
        for _ in range(3):  # a window card, then (skipping) a whole-record one
            overflow = page.evaluate(
                "(w) => [...document.querySelectorAll('[data-testid=stMain] *')]"
                ".filter(e => { const r = e.getBoundingClientRect();"
                " return r.width > 0 && r.right > w + 1; }).map(e => e.tagName + '.'"
                " + (e.getAttribute('data-testid') || e.className)).slice(0, 5)", width)
            assert overflow == []
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width
            old = card_of(page)
            page.get_by_role("button", name="Skip").click()
            wait_for_card_change(page, old)


def test_screenshots_of_a_window_card_and_a_whole_record_card(server):
    url, _ = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (1280, 720)):
        with browser_page(width, height) as page:
            shot = {}
            card = sign_in(page, url, "fay")
            for _ in range(60):
                kind = "whole" if card.startswith(WHOLE) else "window"
                if kind not in shot:
                    page.wait_for_timeout(300)
                    path = ARTIFACTS / f"rating_card_{kind}_{width}x{height}.png"
                    page.screenshot(path=str(path))
                    shot[kind] = path
                if len(shot) == 2:
                    break
                page.get_by_role("button", name="Skip").click()
                card = wait_for_card_change(page, card)
            assert set(shot) == {"whole", "window"}
    shutil.copy(ARTIFACTS / "rating_card_window_1440x900.png",
                ARTIFACTS / "rating_card_latest.png")


def lead_boxes(page, selector: str) -> list:
    return page.evaluate("(s) => JSON.parse(document.querySelector(s).dataset.leads)", selector)


def screen_point(page, selector: str, x_mm: float, y_mm: float) -> tuple[float, float]:
    """Where a point of a drawing (mm of paper) is on the screen."""
    return tuple(page.evaluate(
        "([s, x, y]) => { const svg = document.querySelector(s); const p = svg.createSVGPoint();"
        " p.x = x; p.y = y; const q = p.matrixTransform(svg.getScreenCTM());"
        " return [q.x, q.y]; }", [selector, x_mm, y_mm]))


def test_caliper_measures_within_one_lead_and_zoom_shows_the_window_over_the_page(server):
    url, _ = server
    with browser_page(1440, 900) as page:
        card = sign_in(page, url, "fay")
        while card.startswith(WHOLE):  # a card with an enlarged window
            page.get_by_role("button", name="Skip").click()
            card = wait_for_card_change(page, card)
        selector = ".protoecg-window svg"
        svg = page.locator(selector)
        box = svg.bounding_box()
        width_mm, height_mm = (float(v) for v in svg.get_attribute("viewBox").split()[2:])
        name, x0, y0, x1, y1 = lead_boxes(page, selector)[1]  # lead II
        x, y = screen_point(page, selector, x0 + 3, (y0 + y1) / 2)
        page.mouse.click(x, y)
        page.mouse.click(x + 100, y - 50)  # 100 px right, 50 px up: still lead II
        reading = svg.get_attribute("data-caliper")
        assert reading.startswith(f"{name}: "), reading
        # the drawing keeps its aspect inside its box (scaled to the tighter side)
        mm_per_px = 1 / min(box["width"] / width_mm, box["height"] / height_mm)
        expected_ms = 100 * mm_per_px / 25 * 1000
        expected_mv = 50 * mm_per_px / 10
        ms = float(reading.split("Δt ")[1].split(" ms")[0])
        mv = float(reading.split("Δ ")[1].split(" ")[0])
        assert abs(ms - expected_ms) <= 2 and abs(mv - expected_mv) <= 0.02, reading
        # a click on another lead starts again there: no interval across two leads
        other, ox0, oy0, ox1, oy1 = lead_boxes(page, selector)[7]
        page.mouse.click(*screen_point(page, selector, ox0 + 3, (oy0 + oy1) / 2))
        assert svg.get_attribute("data-caliper") is None
        assert page.locator(f"{selector} circle.protoecg-caliper").count() == 1
        page.mouse.click(*screen_point(page, selector, ox1 - 3, (oy0 + oy1) / 2))
        assert svg.get_attribute("data-caliper").startswith(f"{other}: ")
        # outside every tracing (the calibration margin) nothing is marked
        page.mouse.click(*screen_point(page, selector, 5, (oy0 + oy1) / 2))
        assert page.locator(f"{selector} circle.protoecg-caliper").count() == 2
        page.get_by_text("Zoom the window").click()
        zoomed = svg.bounding_box()
        assert zoomed["width"] > box["width"] * 1.2  # over the page, larger
        page.keyboard.press("Escape")
        page.wait_for_timeout(100)
        assert abs(svg.bounding_box()["width"] - box["width"]) < 2


def test_the_ecg_is_drawn_at_reading_size_and_no_card_needs_scrolling(server):
    """At 1440x900 every drawing of a window card and of a whole-record card is shown at
    >= 3.5 px per mm of paper, states its scale, and ends above the fold with Save."""
    url, _ = server
    seen = {}
    with browser_page(1440, 900) as page:
        card = sign_in(page, url, "gus")
        for _ in range(40):
            kind = "whole" if card.startswith(WHOLE) else "window"
            if kind not in seen:
                page.wait_for_function("() => [...document.querySelectorAll("
                                       "'.protoecg-chart svg')].every(s => s.dataset.pxPerMm)",
                                       timeout=10_000)
                drawings = page.evaluate(
                    "() => [...document.querySelectorAll('.protoecg-chart svg')]"
                    ".map(s => [s.parentElement.className, parseFloat(s.dataset.pxPerMm),"
                    " s.getBoundingClientRect().bottom])")
                seen[kind] = drawings
                assert len(drawings) == (1 if kind == "whole" else 2), drawings
                for css, px_per_mm, bottom in drawings:
                    assert px_per_mm >= 3.5 and bottom <= 900, (card, css, px_per_mm, bottom)
                save = page.get_by_role("button", name="Save & next").bounding_box()
                assert save["y"] + save["height"] <= 900
                stated = page.locator(".protoecg-scale").inner_text()
                assert "% of paper size" in stated and "record" in stated, stated
            if len(seen) == 2:
                break
            page.get_by_role("button", name="Skip").click()
            card = wait_for_card_change(page, card)
    assert set(seen) == {"whole", "window"}


def test_at_1280x720_the_instructions_and_keys_are_reachable(server):
    url, _ = server
    with browser_page(1280, 720) as page:
        sign_in(page, url, "hal")
        keys = page.get_by_text("1–5 answer the outlined question")
        if not keys.is_visible():  # the expander is open before the first answer
            page.get_by_text("Instructions and keys").click()
            idle(page)
        keys.scroll_into_view_if_needed()
        box = keys.bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= 720
        drawing = page.locator(".protoecg-chart svg").first.bounding_box()
        assert drawing["y"] < 720  # the card is still there beside it


def sign_in_with(page, url: str, code: str) -> None:
    page.goto(url)
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('[data-testid="stSidebar"], .protoecg-card', state="attached",
                           timeout=30_000)
    idle(page)


def shown_code(page, previous: str | None = None) -> str:
    """The access code the page shows once (waiting until it is not ``previous``, the one
    shown before, which a busy page may still be displaying)."""
    page.wait_for_function(
        "(prev) => { const c = document.querySelector('[data-testid=\"stCode\"] code');"
        " return c && c.innerText.trim() && c.innerText.trim() !== prev; }",
        arg=previous or "", timeout=30_000)
    return page.locator('[data-testid="stCode"] code').first.inner_text().strip()


def test_a_researcher_sets_up_a_study_and_adjudicates_in_the_browser(server, catalog_folder):
    url, db = server
    with browser_page(1440, 900) as page:
        sign_in_with(page, url, RESEARCHER)
        page.get_by_role("link", name="Set up").click()
        idle(page)
        # a new study from the catalog folder and the packaged protocol
        page.get_by_label("Study name").fill("second")
        page.get_by_label("another catalog folder").fill(str(catalog_folder))  # not beside it
        page.get_by_role("button", name="Create study").click()
        idle(page)
        lead = shown_code(page)
        with ReviewStore(db, "read") as store:
            study = store.study("second")
            assert [(r.name, r.role) for r in store.reviewers(study)] == [
                ("rhea", "researcher")]
        # sign in to it; add two raters (each code shown once) and assign both to all
        page.get_by_role("button", name="Sign out").click()
        idle(page)
        sign_in_with(page, url, lead)
        page.get_by_role("link", name="Set up").click()
        idle(page)
        codes = {}
        for name in ("gus", "hal"):
            page.get_by_label("Name", exact=True).fill(name)
            page.get_by_role("button", name="Add reviewer").click()
            idle(page)
            codes[name] = shown_code(page, codes.get("gus"))
        assert codes["gus"] != codes["hal"]
        page.get_by_label("Raters per prototype (K)").fill("2")
        page.keyboard.press("Enter")
        idle(page)
        page.get_by_role("button", name="Assign").click()
        idle(page)
        with ReviewStore(db, "read") as store:
            study = store.study("second")
            assert {r.name for r in store.reviewers(study)} == {"rhea", "gus", "hal"}
            assert store.count_assignments(study) == 2 * store.count_prototypes(study)
        page.get_by_role("button", name="Sign out").click()
        idle(page)
        # the two raters disagree on gus's first card (hal opens it by its address)
        target = None
        for name, (a, b) in (("gus", (0, 0)), ("hal", (4, 4))):
            page.goto(url)
            page.get_by_label("Access code").fill(codes[name])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector(".protoecg-card", state="attached", timeout=30_000)
            idle(page)
            if target is None:
                target = card_of(page)
            elif card_of(page) != target:
                token = page.url.split("session=")[1].split("&")[0]
                page.goto(f"{url}/?session={token}&card={urllib.parse.quote(target)}")
                page.wait_for_selector(".protoecg-card", state="attached", timeout=30_000)
                idle(page)
            first = card_of(page)
            assert first == target
            groups = page.locator('div[role="radiogroup"]')
            groups.nth(0).locator("label").nth(a).click()
            idle(page)
            groups.nth(1).locator("label").nth(b).click()
            idle(page)
            page.get_by_role("button", name="Save & next").click()
            wait_for_card_change(page, first)
            page.get_by_role("button", name="Sign out").click()
            idle(page)
        with ReviewStore(db, "read") as store:
            study = store.study("second")
            ratings_before = store.db.execute("SELECT * FROM ratings WHERE study_id = ?",
                                              [study.id]).fetchall()
        assert len(ratings_before) == 4
        # adjudication: the card, both raters' answers, a consensus
        sign_in_with(page, url, lead)
        page.get_by_role("link", name="Disagreements").click()
        idle(page)
        # the card as raters saw it (waited for: a busy machine draws it later)
        page.wait_for_selector(".protoecg-adjudicate svg", timeout=30_000)
        page.locator('div[role="radiogroup"]').nth(0).locator("label").nth(2).click()
        page.get_by_label("Note (why)").fill("typical after discussion")
        page.get_by_role("button", name="Record consensus").click()
        page.get_by_text("Consensus recorded for").wait_for(timeout=30_000)
    with ReviewStore(db, "read") as store:
        study = store.study("second")
        decided = store.latest_consensus(study)
        assert [(d["question"], d["value"], d["note"]) for d in decided] == [
            ("representativeness", 3, "typical after discussion")]
        assert store.db.execute("SELECT * FROM ratings WHERE study_id = ?",
                                [study.id]).fetchall() == ratings_before


def test_two_tabs_on_one_card_the_second_save_is_refused_and_shows_both(server):
    """Issue 31: one rater, two tabs, one card. Tab A saves 5, 5; tab B, opened before, saves
    1, 2: refused, both answers shown; the rater keeps A's."""
    url, db = server
    with browser_page() as tab_a:
        card = sign_in(tab_a, url, "dov")
        # a second window of the same browser (its own session, as another tab that signed
        # in, or another device, would have)
        tab_b = tab_a.context.browser.new_context(
            viewport={"width": 1440, "height": 900}).new_page()
        assert sign_in(tab_b, url, "dov") == card  # nothing saved yet: the same first card
        for page, values in ((tab_a, (5, 5)), (tab_b, (1, 2))):
            groups = page.locator('div[role="radiogroup"]')
            for group, value in enumerate(values):
                groups.nth(group).locator("label").nth(value - 1).click()
                idle(page)
            page.get_by_role("button", name="Save & next").click()
            idle(page)
        warning = tab_b.get_by_text("changed in another tab")
        warning.wait_for(timeout=15_000)
        text = tab_b.locator('[data-testid="stAlert"]').filter(
            has_text="changed in another tab").inner_text()
        assert "saved elsewhere 5, yours 1" in text and "saved elsewhere 5, yours 2" in text
        assert card_of(tab_b) == card and checked(tab_b) == [1, 2]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab_b.screenshot(path=str(ARTIFACTS / "rate-conflict-1440x900.png"))
        assert answers_of(db, "dov")[card] == {"representativeness": 5, "clarity": 5}
        tab_b.get_by_role("button", name="Keep the saved answers").click()
        idle(tab_b)
        assert checked(tab_b) == [5, 5]
    assert answers_of(db, "dov")[card] == {"representativeness": 5, "clarity": 5}


def test_an_over_long_comment_pasted_is_refused_visibly_and_kept(server):
    """Issue 31: a comment pasted over the 5,000-character limit left the box empty and the
    card saved without it."""
    url, db = server
    long = "ST depression in V4-V6. " * 250  # 6,000 characters
    with browser_page() as page:
        card = sign_in(page, url, "eve")
        groups = page.locator('div[role="radiogroup"]')
        for group in range(2):
            groups.nth(group).locator("label").nth(3).click()
            idle(page)
        box = page.locator("textarea")
        box.click()
        page.keyboard.insert_text(long)  # as a paste arrives
        page.get_by_role("button", name="Save & next").click()
        idle(page)
        page.get_by_text("at most 5,000 characters, got 6,000").wait_for(timeout=15_000)
        assert card_of(page) == card
        assert len(page.locator("textarea").input_value()) == 6000
    assert card not in answers_of(db, "eve")


def test_a_reload_with_unsaved_answers_asks_first(server):
    """Issue 31: a refresh dropped the answers given on the open card without a warning."""
    url, _ = server
    with browser_page() as page:
        sign_in(page, url, "fay")
        asked = []

        def on_dialog(dialog):
            asked.append(dialog.type)
            dialog.dismiss()  # stay: the answers are still there

        page.on("dialog", on_dialog)
        groups = page.locator('div[role="radiogroup"]')
        groups.nth(0).locator("label").nth(1).click()
        idle(page)
        page.wait_for_selector('.protoecg-card-end[data-unsaved="1"]', state="attached",
                               timeout=15_000)
        try:
            page.reload(timeout=5_000)
        except Exception:  # the dismissed prompt cancels the navigation
            pass
        assert asked == ["beforeunload"]
        assert checked(page)[0] == 2
        # saved answers: nothing to ask
        groups.nth(1).locator("label").nth(1).click()
        idle(page)
        page.get_by_role("button", name="Save & next").click()
        idle(page)
        page.wait_for_selector('.protoecg-card-end:not([data-unsaved])', state="attached",
                               timeout=15_000)
        page.reload()
        page.wait_for_selector(".protoecg-card", state="attached", timeout=30_000)
        assert asked == ["beforeunload"]


def test_the_agreement_page_equals_its_summary_json_and_the_methods_equal_the_tables(
        server, tmp_path):
    """Issue 31: the page computed with other resamples than the report it offered, and the
    report's Methods paragraph counted other raters and prototypes than its tables. In the
    browser: the figures the page offers are summarize_study's for the same resamples, and the
    report.html it offers states in its Methods the counts its agreement table rests on."""
    import json
    import re

    from protoecg.agreement.summary import summarize_study
    from protoecg.study.answers import queue, save_answers

    url, db = server
    with ReviewStore(db) as store:
        study = store.study("pilot")
        for k, name in enumerate(("ida", "jon")):  # two raters on the first 12 cards
            rater = store.reviewer(study, name)
            for i, item in enumerate(queue(store, rater)[:12]):
                save_answers(store, rater, item.prototype_id,
                             {"representativeness": 2 + (i + k) % 4, "clarity": 1 + i % 5})
    with browser_page(1440, 900) as page:
        sign_in_with(page, url, RESEARCHER)
        page.get_by_role("link", name="Agreement", exact=True).click()
        idle(page)
        page.get_by_role("button", name="Compute").click()
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=120_000)
        idle(page)
        stated = page.get_by_text("resamples, seed").first.inner_text()
        resamples = int(re.search(r"([\d,]+) resamples", stated).group(1).replace(",", ""))
        with page.expect_download() as download:
            page.get_by_role("button", name="summary.json").click()
        offered = json.loads(Path(download.value.path()).read_text())
        with page.expect_download() as download:
            page.get_by_role("button", name="report.html").click()
        report = tmp_path / "report.html"
        report.write_text(Path(download.value.path()).read_text())
        page.goto(report.as_uri())
        methods = page.locator("h2:text('Methods') + p").inner_text()
        data_row = page.evaluate(
            "() => { const h = [...document.querySelectorAll('h2')].find(e => e.innerText"
            " === 'Agreement'); let t = h.nextElementSibling; while (t.tagName !== 'TABLE')"
            " t = t.nextElementSibling; const head = [...t.rows[0].cells].map(c => c.innerText);"
            " const data = [...t.rows[1].cells].map(c => c.innerText);"
            " return Object.fromEntries(head.slice(1).map((q, i) => [q, data[i + 1]])); }")
    with ReviewStore(db, "read") as store:
        expected = summarize_study(store, store.study("pilot"), n_resamples=resamples)
    assert resamples == offered["bootstrap"]["resamples"] == 1000
    assert offered["questions"] == expected["questions"]
    for question, entry in offered["questions"].items():
        # the table's "data" row and the Methods sentence: the same three counts
        prototypes, raters, answers_ = (int(n) for n in re.findall(r"\d+", data_row[question]))
        assert (prototypes, raters, answers_) == (entry["n_prototypes"], entry["n_raters"],
                                                  entry["n_answers"])
        said = re.search(rf"{question}: (\d+) answers? by (\d+) raters? on (\d+) prototypes?",
                         methods)
        assert said, methods
        assert (int(said.group(3)), int(said.group(2)), int(said.group(1))) == (
            prototypes, raters, answers_)


def test_save_and_next_skips_the_cards_already_answered(server):
    """Issue 31: Save & next walked into answered (or imported) cards and the number keys then
    overwrote them. Cards 2 and 3 of the queue answered elsewhere: saving card 1 goes to
    card 4, and cards 2 and 3 keep their answers."""
    from protoecg.study.answers import queue, save_answers

    url, db = server
    with ReviewStore(db) as store:
        kim = store.reviewer(store.study("pilot"), "kim")
        ids = [item.prototype_id for item in queue(store, kim)]
        for pid in ids[1:3]:
            save_answers(store, kim, pid, {"representativeness": 2, "clarity": 2},
                         source="import")
    with browser_page() as page:
        first = sign_in(page, url, "kim")
        assert first == ids[0]
        page.locator("h3").first.click()
        for key in ("5", "5"):
            page.keyboard.press(key)
            idle(page)
        page.keyboard.press("Enter")
        assert wait_for_card_change(page, first) == ids[3]
        for key in ("1", "1"):  # typed on card 4, not on an answered one
            page.keyboard.press(key)
            idle(page)
    answers = answers_of(db, "kim")
    assert answers[ids[0]] == {"representativeness": 5, "clarity": 5}
    assert answers[ids[1]] == answers[ids[2]] == {"representativeness": 2, "clarity": 2}
