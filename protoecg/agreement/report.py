"""Study reports, as `protoecg report` writes them and the app offers them: ``ratings.csv``,
``summary.json`` (the statistics, ``summary.py``) and a self-contained ``report.html``
(``report_html.py``) with drawings of the flagged prototypes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from protoecg import __version__
from protoecg.agreement.comparison import summarize_comparison
from protoecg.agreement.comparison_html import render_comparison_html
from protoecg.agreement.report_html import render_html
from protoecg.agreement.summary import summarize_study
from protoecg.study.cards import card_charts
from protoecg.study.comparison import ANSWER_COLUMNS, KEY_COLUMNS
from protoecg.study.ratings_csv import export_ratings
from protoecg.study.store import ReviewStore, Study


def write_report(store: ReviewStore, study: Study, out: str | Path, n_resamples: int = 1000,
                 seed: int = 42, use_consensus: bool = False) -> dict:
    """Write ratings.csv, summary.json and report.html into ``out``; return the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if study.kind == "comparison":
        return _write_comparison(store, study, out, n_resamples, seed)
    export_ratings(store, study, out / "ratings.csv")
    summary, page = build_report(store, study, n_resamples, seed, use_consensus)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.html").write_text(page)
    return summary


def build_report(store: ReviewStore, study: Study, n_resamples: int = 1000, seed: int = 42,
                 use_consensus: bool = False) -> tuple[dict, str]:
    """(summary, report.html) in memory: what `protoecg report` writes and the app offers."""
    if study.kind == "comparison":
        summary = summarize_comparison_study(store, study, n_resamples, seed)
        return summary, render_comparison_html(summary)
    summary = summarize_study(store, study, n_resamples, seed, use_consensus=use_consensus)
    return summary, render_html(summary, study, flag_pictures(store, study, summary))


def summarize_comparison_study(store: ReviewStore, study: Study, n_resamples: int = 1000,
                               seed: int = 42) -> dict:
    """``summary.json`` of a comparison study: its identity and ``comparison``."""
    key = pd.DataFrame(store.comparison_key(study), columns=list(KEY_COLUMNS))
    answers = pd.DataFrame(store.comparison_answers(study), columns=list(ANSWER_COLUMNS))
    return {"study": study.name, "kind": "comparison", "protoecg_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "protocol": study.protocol.to_dict(),
            "comparison": summarize_comparison(key, answers, n_resamples, seed),
            "comments": [{"rater": r, "case_id": c, "comment": text}
                         for r, c, text in store.comparison_comments(study)]}


def _write_comparison(store: ReviewStore, study: Study, out: Path, n_resamples: int,
                      seed: int) -> dict:
    """A comparison study's report folder: answers.csv (the current answers, long form, as
    imported), key.csv, summary.json and report.html."""
    pd.DataFrame(store.comparison_answers(study), columns=list(ANSWER_COLUMNS)).to_csv(
        out / "answers.csv", index=False, encoding="utf-8-sig")
    pd.DataFrame(store.comparison_key(study), columns=list(KEY_COLUMNS)).to_csv(
        out / "key.csv", index=False, encoding="utf-8-sig")
    summary, page = build_report(store, study, n_resamples, seed)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.html").write_text(page)
    return summary


def flag_pictures(store: ReviewStore, study: Study, summary: dict) -> dict[str, str]:
    """A small drawing (SVG) of every flagged prototype: its window in 12 leads, or the record
    for a whole-record prototype."""
    flagged = {pid for f in summary["flags"].values() for pid in f["prototypes"]}
    out = {}
    for prototype in store.prototypes(study):
        if prototype.prototype_id in flagged:
            charts = card_charts(store, study, store.prototype_snapshot(prototype.pk),
                                 n_neighbours=0)
            out[prototype.prototype_id] = charts["record"] if charts["whole"] \
                else charts["window"]
    return out
