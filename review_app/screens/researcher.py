"""Researcher pages: progress, agreement, disagreements (adjudication), downloads."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.review import report, views
from protoecg.review.ratings import status
from screens import common


def _study(store):
    return store.study(common.current_user()["study"])


def progress() -> None:
    try:
        with common.open_store() as store:
            study = _study(store)
            summary = status(store, study)
            per_rater = views.rater_progress(summary)
            per_class = views.class_progress(store, study)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.title(f"Study {study.name}")
    st.caption(f"protocol {study.protocol.id} · {study.protocol.title}")
    if summary["prototypes"] == 0:
        st.info("This study holds no prototypes.")
        return
    cols = st.columns(5)
    cols[0].metric("Prototypes", summary["prototypes"])
    cols[1].metric("Raters", summary["raters"])
    cols[2].metric("Assignments", summary["assignments"])
    cols[3].metric("Ratings", summary["ratings"])
    cols[4].metric("Complete", f"{summary['complete']:.0%}")
    if summary["assignments"] == 0:
        st.info("No assignments yet: run `protoecg study assign`.")
        return
    st.subheader("Per rater")
    st.dataframe(per_rater, hide_index=True, key="per_rater")
    st.subheader("Per class")
    chart = alt.Chart(per_class).mark_bar().encode(
        x=alt.X("fraction:Q", title="complete", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("class_code:N", sort="x", title=None),
        tooltip=["class_code", "prototypes", "assignments", "complete"])
    st.altair_chart(chart, width="stretch")
    st.dataframe(per_class, hide_index=True, key="per_class")


def disagreements() -> None:
    try:
        with common.open_store() as store:
            study = _study(store)
            spread = st.slider("Minimum difference between raters (points)", 1, 4, 2,
                               key="min_spread")
            table = views.disagreements(store, study, spread)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.title("Disagreements")
    st.caption("Prototypes whose raters differ by at least the chosen number of points on a "
               "question, with each rater's answers and comments side by side.")
    if table.empty:
        st.info("No prototype has answers that differ that much (yet).")
        return
    st.write(f"{table['prototype_id'].nunique()} prototypes")
    for (prototype_id, question, gap), group in table.groupby(
            ["prototype_id", "question", "spread"], sort=False):
        with st.expander(f"{prototype_id} · {question} · spread {gap}"):
            # a dataframe shows comments as plain text: HTML in them is never rendered
            st.dataframe(group.drop(columns=["prototype_id", "question", "spread"]),
                         hide_index=True)


def downloads() -> None:
    try:
        with common.open_store() as store:
            study = _study(store)
            data = views.ratings_csv_bytes(store, study)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.title("Downloads")
    st.download_button("ratings.csv (long form, importable)", data,
                       file_name=f"{study.name}-ratings.csv", mime="text/csv",
                       key="download_ratings")


@st.cache_data(max_entries=16, show_spinner="Computing agreement statistics …")
def _summary(db_path: str, study_name: str, resamples: int, answers_revision: int) -> tuple:
    """(summary, report.html) for the study; recomputed when answers change."""
    with common.open_store() as store:
        study = store.study(study_name)
        summary = report.summarize_study(store, study, resamples)
        return summary, report.render_html(summary, study)


def agreement_page() -> None:
    st.title("Agreement")
    st.caption("Inter-rater agreement per question with 95% bootstrap confidence intervals "
               "over prototypes (the same figures as `protoecg report`).")
    try:
        with common.open_store() as store:
            study = _study(store)
            revision = store.db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    resamples = st.select_slider("Bootstrap resamples", [100, 200, 500, 1000], value=200,
                                 key="resamples")
    if not st.button("Compute", key="compute_agreement") and "agreement" not in st.session_state:
        st.info("Press Compute to calculate the statistics on the current answers.")
        return
    summary, page = _summary(common.database_path(), study.name, resamples, revision)
    st.session_state["agreement"] = True
    rows = []
    for key, definition in summary["definitions"].items():
        row = {"statistic": definition}
        for question, stats in summary["questions"].items():
            s = stats[key]
            if s["value"] is None:
                row[question] = f"undefined: {s.get('reason', '')}"
            elif s["ci"][0] is None:
                row[question] = f"{s['value']:.3f}"
            else:
                row[question] = f"{s['value']:.3f} [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}]"
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="agreement_table")
    left, right = st.columns(2)
    left.download_button("summary.json", json.dumps(summary, indent=2), file_name=
                         f"{study.name}-summary.json", mime="application/json",
                         key="download_summary")
    right.download_button("report.html", page, file_name=f"{study.name}-report.html",
                          mime="text/html", key="download_report")
