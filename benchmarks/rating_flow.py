"""Card changes as a rater feels them: the real review app driven in Chromium by Playwright.

Builds (once) a paper-size catalog: an untrained `paper`-preset ProtoECGNet projected onto the
real PTB-XL subset's training ECGs (every class present there gets its 5 / 18 / 7 prototypes;
morphology windows and whole-record rhythm and global prototypes). Creates a study with one
rater, serves it with `protoecg review serve`, signs in (window 1440x900 unless --viewport) and
rates N cards, alternating keyboard (4, 3, Enter) and mouse (two clicks, Save & next). A card
change is timed in the page (performance.now) from the moment Enter or the click is sent to the
moment the new card is ready: its marker, title, ECG drawings and questions are in the page
and Streamlit has finished (no "running" widget). Bytes per card are the websocket frames and
HTTP responses received in that interval. Writes benchmarks/results/rating_flow.json
(1440x900; other sizes rating_flow_<W>x<H>.json).

    .venv/bin/python benchmarks/rating_flow.py [--cards 40] [--viewport 1440x900]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _runs import paper_size_catalog  # benchmarks/_runs.py (run as scripts)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PROTOECG_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"
CHROMIUM = os.environ.get("PROTOECG_CHROMIUM", "/usr/bin/chromium")
CODE = "BNCH-RATE-0001"
# the new card is ready: another card's marker, its end marker (after its questions) naming
# the same card, its drawings, Save enabled, Streamlit idle
READY = """(old) => {
  const m = document.querySelector('.protoecg-card');
  if (!m || m.dataset.card === old) return false;
  const end = document.querySelector('.protoecg-card-end');  // after the card's questions
  if (!end || end.dataset.card !== m.dataset.card) return false;
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  const svgs = document.querySelectorAll('.protoecg-chart svg').length;
  const title = document.querySelector('h3');
  const save = [...document.querySelectorAll('button')]
      .find(b => b.innerText.trim() === 'Save & next');
  if (!svgs || !title || !save || save.disabled) return false;
  window.__ready = performance.now();
  return true;
}"""


# px per mm of paper each drawing of the card is shown at (keyboard.js writes data-px-per-mm)
SCALED = ("() => [...document.querySelectorAll('.protoecg-chart svg')]"
          ".every(s => s.dataset.pxPerMm)")
SCALES = ("() => Object.fromEntries([...document.querySelectorAll('.protoecg-chart svg')]"
          ".map(s => [s.parentElement.classList[1], parseFloat(s.dataset.pxPerMm)]))")


CHECKED = ("() => [...document.querySelectorAll('div[role=radiogroup]')].map(g => "
           "[...g.querySelectorAll('input')].findIndex(i => i.checked))")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(values: list[float]) -> dict:
    return {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 0.95), 1),
            "max": round(max(values), 1), "n": len(values)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "protoecg", "review", "serve", "--db", str(db), "--port",
         str(port)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                      timeout=2).read() == b"ok":
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the review app did not start within 90 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=40, help="card changes to time")
    parser.add_argument("--viewport", default="1440x900")
    parser.add_argument("--run", default=str(REPO / "data" / "bench" / "paper_untrained"),
                        help="where the paper-size catalog's run is (built if absent)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from protoecg.catalog.reader import read_catalog
    from protoecg.resources import protocol_path
    from protoecg.study.assignment import assign
    from protoecg.study.protocol import load_protocol
    from protoecg.study.store import ReviewStore

    width, height = (int(v) for v in args.viewport.split("x"))
    catalog = read_catalog(paper_size_catalog(Path(args.run), SHARED / "ptbxl-subset"))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "review.db"
        with ReviewStore(db) as store:
            study = store.create_study("bench", load_protocol(protocol_path()), catalog)
            store.add_reviewer(study, "rater", "rater", code=CODE)
            assign(store, study, 1)
        port = free_port()
        process = serve(db, port)
        received: list[tuple[float, int]] = []  # (time, bytes) of every frame and response
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run"])
                page = browser.new_page(viewport={"width": width, "height": height})

                def on_socket(ws):
                    ws.on("framereceived", lambda payload: received.append(
                        (time.perf_counter(), len(payload))))
                page.on("websocket", on_socket)

                def on_response(response):
                    try:
                        size = len(response.body())
                    except Exception:  # noqa: BLE001 - redirects and aborted requests
                        size = 0
                    received.append((time.perf_counter(), size))
                page.on("response", on_response)
                page.goto(f"http://127.0.0.1:{port}")
                page.get_by_label("Access code").fill(CODE)
                start = page.evaluate("performance.now()")
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_function(READY, arg="", timeout=60_000, polling="raf")
                first_card_ms = page.evaluate("window.__ready") - start
                changes, sizes, kinds, inputs, scales = [], [], [], [], []
                for k in range(args.cards):
                    old = page.locator(".protoecg-card").get_attribute("data-card")
                    groups = page.locator('div[role="radiogroup"]')
                    keyboard = k % 2 == 0
                    if keyboard:
                        page.locator("h3").first.click()  # the page has the focus
                        for key in ("4", "3"):
                            page.keyboard.press(key)
                    else:  # two clicks a quarter of a second apart, as a hand moves
                        groups.nth(0).locator("label").nth(4).click()
                        page.wait_for_timeout(250)
                        groups.nth(1).locator("label").nth(1).click()
                    try:
                        page.wait_for_function(  # both answers are in before timing
                            "() => document.querySelectorAll('div[role=radiogroup] "
                            "input:checked').length === 2 && !document.querySelector("
                            "'[data-testid=\"stStatusWidget\"]')", timeout=30_000)
                    except Exception:
                        page.screenshot(path=str(RESULTS / "rating_flow_failed.png"))
                        raise SystemExit(f"card {k + 1} ({old}, "
                                         f"{'keyboard' if keyboard else 'mouse'}): the two "
                                         f"answers did not register: {page.evaluate(CHECKED)}"
                                         ) from None
                    page.wait_for_timeout(300)
                    mark = time.perf_counter()
                    start = page.evaluate("performance.now()")
                    if keyboard:
                        page.keyboard.press("Enter")
                    else:
                        page.get_by_role("button", name="Save & next").click()
                    page.wait_for_function(READY, arg=old, timeout=60_000, polling="raf")
                    changes.append(page.evaluate("window.__ready") - start)
                    done = time.perf_counter()
                    sizes.append(sum(n for t, n in received if mark <= t <= done))
                    inputs.append("keyboard" if keyboard else "mouse")
                    new = page.locator(".protoecg-card").get_attribute("data-card")
                    # the scale the drawings are shown at (set by the page's script; read
                    # after the timing, so the reading does not count in it)
                    page.wait_for_function(SCALED, timeout=10_000)
                    scales.append(page.evaluate(SCALES))
                    kinds.append("whole-record" if new.split("/")[0] in ("rhythm", "global")
                                 else "window")
                browser.close()
        finally:
            process.terminate()
            process.wait(20)
    by_kind = {kind: figures([c for c, k in zip(changes, kinds, strict=True) if k == kind])
               for kind in sorted(set(kinds))}
    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores, no GPU",
        "browser": f"Chromium ({CHROMIUM}) via Playwright, headless",
        "viewport": args.viewport, "catalog_prototypes": len(catalog.prototypes),
        "card_change_ms": figures(changes), "card_change_ms_by_card_shown": by_kind,
        "card_change_ms_by_input": {
            how: figures([c for c, i in zip(changes, inputs, strict=True) if i == how])
            for how in ("keyboard", "mouse")},
        "first_card_ms": round(first_card_ms, 1),
        # per drawing (protoecg-window, -record, -whole): the smallest and median scale over
        # the cards timed, in CSS px per mm of paper (3.78 = paper size)
        "drawing_px_per_mm": {
            name: {"min": min(values), "median": round(statistics.median(values), 2)}
            for name in sorted({n for s in scales for n in s})
            for values in [[s[name] for s in scales if name in s]]},
        "bytes_per_card": {"p50": int(statistics.median(sizes)), "max": int(max(sizes))},
        "method": "in-page performance.now() from sending Enter/the click to the new card's "
                  "marker, title and drawings in the page with Streamlit idle; alternating "
                  "keyboard and mouse",
    }
    RESULTS.mkdir(exist_ok=True)
    # the reference size keeps the plain name; other window sizes get their own file
    out = RESULTS / ("rating_flow.json" if args.viewport == "1440x900"
                     else f"rating_flow_{args.viewport}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
