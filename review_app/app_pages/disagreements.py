"""Page (researchers): adjudication. Prototypes whose raters disagree, each with its card (the
drawings raters saw), every rater's answers and comments side by side, and a form that records
the researchers' consensus (kept apart from the raters' answers, which it never changes)."""

from __future__ import annotations

from pathlib import Path

import common
import streamlit as st

from protoecg.clusters.bands import record_bands
from protoecg.ecgsvg import Shade, twelve_lead_svg
from protoecg.errors import ProtoECGError
from protoecg.prune.selection import clusters_of
from protoecg.study import tables
from protoecg.study.cards import cached_card_charts
from protoecg.study.consensus import consensus_table, record_consensus

# the tables' columns as a reader names them
HEADINGS = {"prototype_id": "prototype", "spread": "largest difference (points)",
            "differ on": "questions apart (points)", "consensus": "consensus recorded"}


def _record_with_clusters(study, row: dict) -> str:
    """The record's print with the rated run's time-localized cluster bands under it, when the
    run has them for these weights ("" otherwise; the researcher's view only: raters never see
    them)."""
    if clusters_of(study) is None:
        return ""
    try:
        bands = record_bands(Path(study.catalog_path).parent, str(row["source_record_id"]))
        if not bands:
            return ""
        with common.open_store() as store:
            signal = store.signal(study, int(row["signal_index"]))
    except ProtoECGError as exc:  # a damaged clusters file: said, and the card drawn without
        common.show_error(exc)
        return ""
    start, end = int(row["window_start"]), int(row["window_end"])
    shades = () if end - start >= signal.shape[1] else (Shade(start, end, "prototype"),)
    return twelve_lead_svg(signal, int(row["fs"]), str(row["units"]), shades,
                           label=f"record {row['source_record_id']}", bands=bands)


def _record(prototype_id: str, questions: list[str], decided: list[str]) -> None:
    """Record the form's answers; a question left open withdraws only a consensus that
    existed (``decided``), it writes nothing otherwise."""
    user = common.current_user()
    note = st.session_state.get(f"note::{prototype_id}", "")
    try:
        with common.open_store() as store:
            for question in questions:
                value = st.session_state.get(f"consensus::{prototype_id}::{question}")
                if value is None and question not in decided:
                    continue
                record_consensus(store, common.reviewer_of(user), prototype_id, question,
                                 value, note)
    except ProtoECGError as exc:
        st.session_state["adjudication_notice"] = ("error", str(exc))
        return
    st.session_state["adjudication_notice"] = ("success",
                                               f"Consensus recorded for {prototype_id}.")


def render() -> None:
    st.title("Disagreements")
    st.caption("Prototypes whose raters differ by at least the chosen number of points on a "
               "question: the card as raters saw it, each rater's answers and comments side by "
               "side, and the consensus you record (stored apart; raters' answers never "
               "change).")
    spread = st.slider("Minimum difference between raters (points)", 1, 4, 2, key="min_spread")
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            table = tables.disagreements(store, study, spread)
            decided = consensus_table(store, study)
            rows = {p.prototype_id: store.prototype_snapshot(p.pk)
                    for p in store.prototypes(study)
                    if p.prototype_id in set(table.get("prototype_id", []))}
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    if table.empty:
        st.info("No prototype has answers that differ that much (yet).")
        return
    questions = [q for q in study.protocol.questions]
    overview = (table.groupby("prototype_id", sort=False)
                .agg({"spread": "max", "differ on": "first"}).reset_index())
    overview["consensus"] = overview["prototype_id"].isin(set(decided["prototype_id"]))
    st.write(f"{len(overview)} prototypes; {int(overview['consensus'].sum())} with a "
             "consensus")
    st.dataframe(overview.rename(columns=HEADINGS), hide_index=True,
                 key="disagreement_overview")
    chosen = st.selectbox("Prototype to adjudicate", list(overview["prototype_id"]),
                          key="adjudicate")
    row = rows[chosen]
    st.subheader(f"{row['class_code']} — {row['class_description']}", anchor=False)
    try:
        charts = cached_card_charts(common.database_path(), study.name, row)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.caption(f"{row['prototype_id']} · record {row['source_record_id']} · "
               f"{row['window_start_s']:.2f}–{row['window_end_s']:.2f} s · {charts['note']}")
    drawings = [charts["record"]] if charts["whole"] else [charts["window"], charts["record"]]
    # with the network's clusters under the record's print, where the run has them
    banded = _record_with_clusters(study, row)
    if banded:
        drawings[-1] = banded
    for svg in drawings:
        st.markdown(f'<div class="protoecg-chart protoecg-adjudicate">{svg}</div>',
                    unsafe_allow_html=True)
    mine = table[table["prototype_id"] == chosen]
    # a dataframe shows comments as plain text: HTML in them is never rendered
    st.dataframe(mine.drop(columns=["prototype_id"]).drop_duplicates("rater")
                 .rename(columns=HEADINGS), hide_index=True, key="adjudication_answers")
    current = decided[decided["prototype_id"] == chosen].set_index("question")
    with st.form(f"consensus_form::{chosen}"):
        for question in questions:
            value = current["value"].get(question)
            st.radio(f"Consensus: {question.prompt}", question.values, horizontal=True,
                     index=question.values.index(int(value)) if value is not None else None,
                     key=f"consensus::{chosen}::{question.id}")
        st.text_area("Note (why)", value=str(current["note"].iloc[0]) if len(current) else "",
                     key=f"note::{chosen}")
        st.form_submit_button("Record consensus", on_click=_record,
                              args=(chosen, [q.id for q in questions], list(current.index)))
    notice = st.session_state.pop("adjudication_notice", None)
    if notice:
        getattr(st, notice[0])(notice[1])


render()
