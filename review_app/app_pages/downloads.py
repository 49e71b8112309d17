"""Page (researchers): every file of the study in one place: the raters' answers, the
consensus, the agreement summary and report, and a snapshot of the whole database."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import tables
from protoecg.study.consensus import consensus_csv_bytes


def _snapshot_bytes(store) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return store.snapshot(Path(folder) / "snapshot.db").read_bytes()


def render() -> None:
    st.title("Downloads")
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            ratings = tables.ratings_csv_bytes(store, study)
            consensus = consensus_csv_bytes(store, study)
            last_change = store.last_change()
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    name = study.name
    st.subheader("Answers", anchor=False)
    st.download_button("ratings.csv — the raters' current answers (long form, importable)",
                       ratings, file_name=f"{name}-ratings.csv", mime="text/csv",
                       key="download_ratings")
    st.download_button("consensus.csv — researchers' consensus where raters disagreed",
                       consensus, file_name=f"{name}-consensus.csv", mime="text/csv",
                       key="download_consensus")
    st.subheader("Agreement", anchor=False)
    resamples = st.select_slider("Bootstrap resamples", [100, 200, 500, 1000], value=1000,
                                 key="download_resamples")
    use_consensus = st.checkbox("Final answers use the recorded consensus (agreement stays "
                                "the raters')", key="use_consensus")
    wanted = (resamples, last_change, use_consensus)
    if st.button("Prepare summary.json and report.html", key="prepare_report") or \
            st.session_state.get("report_ready") == wanted:
        summary, page = common.study_report(common.database_path(), name, resamples,
                                            last_change, use_consensus)
        st.session_state["report_ready"] = wanted
        st.download_button("summary.json", json.dumps(summary, indent=2),
                           file_name=f"{name}-summary.json", mime="application/json",
                           key="download_summary")
        st.download_button("report.html", page, file_name=f"{name}-report.html",
                           mime="text/html", key="download_report")
    st.subheader("Database", anchor=False)
    st.caption("A consistent copy of the whole review database (SQLite's online backup), taken "
               "while raters keep working: every study, answer, revision and audit row.")
    if st.button("Prepare a snapshot", key="prepare_snapshot"):
        try:
            with common.open_store() as store:
                st.session_state["snapshot"] = _snapshot_bytes(store)
        except ProtoECGError as exc:
            common.show_error(exc)
    if "snapshot" in st.session_state:
        data = st.session_state["snapshot"]
        st.download_button(f"review database snapshot ({len(data) / 1e6:.1f} MB)", data,
                           file_name=f"{name}-snapshot.db", mime="application/vnd.sqlite3",
                           key="download_snapshot")


render()
