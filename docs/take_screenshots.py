"""Screenshots of every page of the review app, and of both kinds of rating card, at
1440x900 and 1280x720, into docs/screenshots/ (the manual shows them).

A study is made in a temporary database from a catalog (default: the demo's, after
`make demo`), with three raters and a researcher. So that the researcher's pages have
something to show, two raters' answers are GENERATED (seeded: a value per prototype, each
rater within one point of it) and one answer is changed; the pictures show the app, not a
study's findings. Then `protoecg review serve` runs it and headless Chromium (Playwright)
signs in as a rater and as the researcher and takes each page as it first appears.

    .venv/bin/python docs/take_screenshots.py [--catalog data/demo/run-demo/catalog]
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CODES = {"ana": "ANA1-SHOT-0001", "ben": "BEN2-SHOT-0002", "cai": "CAI3-SHOT-0003"}
RESEARCHER = "RHEA-SHOT-0009"
SIZES = ((1440, 900), (1280, 720))
PAGES = ("progress", "setup", "agreement", "disagreements", "pruning", "downloads")
WHOLE = ("rhythm/", "global/")


def make_study(db: Path, catalog: str) -> None:
    from protoecg.resources import protocol_path
    from protoecg.study import answers
    from protoecg.study.assignment import assign
    from protoecg.study.setup import create_study_from_files, load_study_files
    from protoecg.study.store import ReviewStore

    protocol, loaded = load_study_files(protocol_path(), catalog)
    with ReviewStore(db) as store:
        study, _ = create_study_from_files(store, "screenshots", protocol, loaded, None)
        for name, code in CODES.items():
            store.add_reviewer(study, name, "rater", code=code)
        store.add_reviewer(study, "rhea", "researcher", code=RESEARCHER)
        assign(store, study, 2)
        rng = random.Random(7)
        value = {p.prototype_id: rng.randint(2, 5) for p in store.prototypes(study)}
        for name in ("ben", "cai"):
            reviewer = store.reviewer(study, name)
            for item in answers.queue(store, reviewer):
                v = value[item.prototype_id]
                answers.save_answers(store, reviewer, item.prototype_id, {
                    "representativeness": min(5, max(1, v + rng.choice((-1, 0, 0, 1)))),
                    "clarity": min(5, max(1, v + rng.choice((-1, 0, 1))))})
        ben = store.reviewer(study, "ben")
        first = answers.queue(store, ben)[0].prototype_id
        answers.save_answers(store, ben, first, {"representativeness": 1, "clarity": 2,
                                                 "comment": "on second look: noise"})


def serve(db: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "protoecg", "review", "serve", "--db", str(db), "--port",
         str(port)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the review app did not start within 90 s")


def idle(page) -> None:
    page.wait_for_timeout(400)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    page.wait_for_timeout(600)


def sign_in(page, url: str, code: str) -> None:
    page.goto(url)
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('[data-testid="stSidebar"], .protoecg-card', state="attached",
                           timeout=60_000)
    idle(page)


def shoot(browser, url: str, width: int, height: int) -> list[Path]:
    taken = []
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("text=Access code", timeout=60_000)
    idle(page)
    taken.append(OUT / f"signin-{width}x{height}.png")
    page.screenshot(path=str(taken[-1]))
    sign_in(page, url, CODES["ana"])
    seen = set()
    for _ in range(80):
        card = page.locator(".protoecg-card").get_attribute("data-card")
        kind = "rate-whole" if card.startswith(WHOLE) else "rate-window"
        if kind not in seen:
            seen.add(kind)
            taken.append(OUT / f"{kind}-{width}x{height}.png")
            page.screenshot(path=str(taken[-1]))
        if len(seen) == 2:
            break
        page.get_by_role("button", name="Skip").click()
        page.wait_for_function("(old) => { const m = document.querySelector('.protoecg-card');"
                               " return m && m.dataset.card !== old; }", arg=card,
                               timeout=60_000)
        idle(page)
    page.close()
    page = browser.new_page(viewport={"width": width, "height": height})
    sign_in(page, url, RESEARCHER)
    session = page.url.split("session=")[1].split("&")[0]
    for name in PAGES:
        # the default page (Progress) has no path of its own
        page.goto(f"{url}/{'' if name == 'progress' else name}?session={session}")
        page.wait_for_selector('[data-testid="stSidebar"]', state="attached", timeout=60_000)
        idle(page)
        if name == "agreement":  # computed on request; a few seconds on two cores
            page.get_by_role("button", name="Compute").click()
            page.wait_for_selector('[data-testid="stDataFrame"]', timeout=300_000)
            idle(page)
        taken.append(OUT / f"{name}-{width}x{height}.png")
        page.screenshot(path=str(taken[-1]))
    page.close()
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default=str(REPO / "data" / "demo" / "run-demo" / "catalog"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "review.db"
        make_study(db, args.catalog)
        process, url = serve(db)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-gpu", "--no-first-run"])
                for width, height in SIZES:
                    for path in shoot(browser, url, width, height):
                        print(path.relative_to(REPO))
                browser.close()
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
