"""Reports through the same code path as `protoecg report`: golden data imported into a real
study (on the synthetic catalog), then summarised."""

import json
import os
import re
import tomllib

import numpy as np
import pandas as pd
import pytest

from protoecg.agreement.summary import summarize_study
from protoecg.catalog.reader import read_catalog
from protoecg.cli import main
from protoecg.study.protocol import load_protocol, parse_protocol
from protoecg.study.ratings_csv import import_ratings
from protoecg.study.store import ReviewStore
from tests.conftest import PAPER_PROTOCOL
from tests.test_agreement import FLEISS_1971, SHROUT_FLEISS


def study_with(tmp_path, catalog, protocol, matrix, question):
    """A study whose first len(matrix) prototypes carry ``matrix`` (units x raters)."""
    db = tmp_path / "review.db"
    store = ReviewStore(db)
    study = store.create_study("golden", protocol, read_catalog(catalog))
    prototypes = [r["prototype_id"] for r in store.db["prototypes"].rows_where(
        order_by="position")][: len(matrix)]
    rows = [(f"rater{j}", pid, question, str(int(v)))
            for i, pid in enumerate(prototypes) for j, v in enumerate(matrix[i])]
    path = tmp_path / "golden.csv"
    pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question", "answer"]).to_csv(
        path, index=False)
    import_ratings(store, study, path, create_reviewers=True)
    return store, study, db


def test_fleiss_1971_through_a_study(tmp_path, synthetic_catalog):
    matrix = np.array([[int(c) for c in row] for row in FLEISS_1971])
    store, study, db = study_with(tmp_path, synthetic_catalog, load_protocol(PAPER_PROTOCOL),
                                  matrix, "representativeness")
    with store:
        summary = summarize_study(store, study, n_resamples=200)
    q = summary["questions"]["representativeness"]
    assert (q["n_prototypes"], q["n_raters"], q["n_answers"]) == (30, 6, 180)
    assert q["fleiss_kappa"]["value"] == pytest.approx(0.4302, abs=5e-5)
    low, high = q["fleiss_kappa"]["ci"]
    assert low < 0.4302 < high
    # clarity has no answers: undefined, with the reason, never 0 or NaN
    c = summary["questions"]["clarity"]
    assert c["krippendorff_alpha_ordinal"]["value"] is None
    assert "no prototype has two or more answers" in c["krippendorff_alpha_ordinal"]["reason"]


def test_shrout_fleiss_through_a_study(tmp_path, synthetic_catalog):
    raw = tomllib.loads(PAPER_PROTOCOL.read_text())
    raw["questions"] = [{"id": "score", "prompt": "Score 1-10",
                         "scale": [{"value": v, "label": f"{v}"} for v in range(1, 11)]}]
    store, study, db = study_with(tmp_path, synthetic_catalog, parse_protocol(raw), SHROUT_FLEISS,
                                  "score")
    with store:
        summary = summarize_study(store, study, n_resamples=200)
    q = summary["questions"]["score"]
    assert round(q["icc2_1"]["value"], 2) == 0.29
    assert round(q["icc2_k"]["value"], 2) == 0.62
    assert round(q["icc3_k"]["value"], 2) == 0.91


def test_report_command_writes_the_three_files(tmp_path, synthetic_catalog, capsys):
    matrix = np.array([[int(c) for c in row] for row in FLEISS_1971])[:, :3]
    store, study, db = study_with(tmp_path, synthetic_catalog, load_protocol(PAPER_PROTOCOL),
                                  matrix, "representativeness")
    store.close()
    out = tmp_path / "report"
    assert main(["report", "--db", str(db), "--study", "golden", "--out", str(out), "--json",
                 "--resamples", "100"]) == 0
    summary = json.loads(capsys.readouterr().out)
    q = summary["questions"]["representativeness"]
    for key in ("krippendorff_alpha_ordinal", "krippendorff_alpha_interval", "fleiss_kappa",
                "icc2_1", "icc2_k", "weighted_kappa_linear", "gwet_ac2", "percent_agreement",
                "within_one_agreement"):
        assert set(q[key]) >= {"value", "ci"}, key
        assert q[key]["value"] is None or -1 <= q[key]["value"] <= 1
    assert (q["n_prototypes"], q["n_raters"], q["n_answers"]) == (30, 3, 90)
    assert set(summary["by_branch"]) and set(summary["raters"]) == {"rater0", "rater1",
                                                                     "rater2"}
    assert json.loads((out / "summary.json").read_text())["study"] == "golden"
    exported = pd.read_csv(out / "ratings.csv")
    assert len(exported) == 90
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert not re.search(r'<(script|link)[^>]+(src|href)=["\']https?:', page)  # offline
    assert "Fleiss" in page and "Krippendorff" in page


@pytest.mark.slow
def test_report_of_a_populated_study_reads_as_a_paper_supplement(ludb_catalog, tmp_path):
    """3 raters on a real LUDB catalog (58 prototypes): no null, NaN or raw JSON anywhere,
    undefined statistics say why, the flagged prototypes come with their drawings, answers
    and comments, the catalog's identity is in summary.json; consensus changes only the final
    answers. A full-page screenshot goes to test-artifacts/ when Chromium is there."""
    from protoecg.agreement.report import write_report
    from protoecg.study.assignment import assign
    from protoecg.study.consensus import record_consensus
    from tests.test_review_browser import ARTIFACTS, CHROMIUM

    catalog = read_catalog(ludb_catalog)
    rng = np.random.default_rng(0)
    with ReviewStore(tmp_path / "review.db") as store:
        study = store.create_study("supplement", load_protocol(PAPER_PROTOCOL), catalog)
        raters = [store.add_reviewer(study, name, "rater")[0]
                  for name in ("Dr A", "Dr B", "Dr C")]
        rhea = store.add_reviewer(study, "rhea", "researcher")[0]
        assign(store, study, 3)
        ids = [p.prototype_id for p in store.prototypes(study)]
        from protoecg.study.answers import save_answers
        for k, rater in enumerate(raters):
            for i, pid in enumerate(ids):
                base = 2 + (i % 3)
                given = {"representativeness": int(np.clip(base + rng.integers(-1, 2), 1, 5)),
                         "clarity": int(np.clip(base + rng.integers(-1, 2), 1, 5))}
                if i % 11 == 0 and k < 2:
                    given["bad"] = True
                if i % 13 == 1:
                    given["best"] = True
                if i % 17 == 0:
                    given["comment"] = '<script>alert(1)</script> {"raw": 1} wide QRS'
                save_answers(store, rater, pid, given)
        record_consensus(store, rhea, ids[0], "representativeness", 5, "agreed on review")
        summary = write_report(store, study, tmp_path / "report", 200, use_consensus=True)
    page = (tmp_path / "report" / "report.html").read_text()
    assert summary["catalog"]["model_sha256"] == catalog.meta["model_sha256"]
    assert summary["catalog"]["prototypes_in_study"] == 58
    text = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)  # the drawings' path data aside
    for word in ("null", "NaN", "None", "nan "):
        assert word not in text, word
    # "undefined" only in sentences that say a reason is given (the methods, the dash)
    assert text.count("undefined") == len(re.findall(r"undefined[^.<]*reason", text)) >= 1
    assert '{"' not in text and "<script>" not in text  # no raw JSON, nothing unescaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the comment, as text
    assert " 1 raters" not in text and "3 raters" in text
    single = [b for b, parts in summary["by_branch"].items()
              if parts["representativeness"]["n_prototypes"] == 1]
    assert single, "the tiny LUDB catalog has a one-prototype branch"
    alpha = summary["by_branch"][single[0]]["representativeness"]["krippendorff_alpha_ordinal"]
    assert alpha["value"] is None and "1 rated prototype" in alpha["reason"]
    flagged = page[page.index("<h2>Flagged prototypes</h2>"):page.index("<h2>Widest")]
    assert flagged.count("<svg") >= len(summary["flags"]["bad"]["prototypes"]) > 0
    assert "Methods</h2><p>3 raters were assigned 58 prototypes" in page
    # the Methods paragraph's counts are the tables' (issue 31: it said "3 raters rated 89
    # prototypes" over a table resting on 70 prototypes and 2 raters)
    methods = page[page.index("Methods</h2>"):page.index("</p>", page.index("Methods</h2>"))]
    for question, entry in summary["questions"].items():
        raters = f"{entry['n_raters']} rater{'' if entry['n_raters'] == 1 else 's'}"
        assert (f"{question}: {entry['n_answers']} answers by {raters} on "
                f"{entry['n_prototypes']} prototypes") in methods
    final = summary["final"]["prototypes"][ids[0]]["representativeness"]
    assert final == {"value": 5, "source": "consensus", "note": "agreed on review",
                     "by": "rhea"}
    assert summary["final"]["n_consensus"] == 1
    if os.path.exists(CHROMIUM):
        from playwright.sync_api import sync_playwright

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            view = browser.new_page(viewport={"width": 1280, "height": 900})
            view.goto((tmp_path / "report" / "report.html").as_uri())
            view.screenshot(path=str(ARTIFACTS / "report_full.png"), full_page=True)
            browser.close()
