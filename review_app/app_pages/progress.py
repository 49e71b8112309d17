"""Page (researchers): how far the study has come, per rater and per class."""

from __future__ import annotations

import altair as alt
import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import signin, tables
from protoecg.study.answers import status


def lockouts() -> None:
    """Sign-in lockouts now in force (a tab or a client address after wrong codes)."""
    with common.open_store() as store:
        locked = signin.lockouts(store)
    if not locked:
        return
    st.subheader("Sign-in lockouts")
    st.caption("Browser tabs or client addresses that entered too many wrong access codes; "
               "they may try again when the time runs out, or at once if you lift it.")
    st.dataframe([{"who": entry["key"].split(":", 1)[0], "wrong codes": entry["wrong_codes"],
                   "minutes left": round(entry["seconds_left"] / 60, 1)} for entry in locked],
                 hide_index=True, key="lockouts")
    if st.button("Lift all lockouts", key="lift_lockouts"):
        with common.open_store() as store:
            signin.clear_lockouts(store, common.current_user()["name"])
        st.rerun()


def render() -> None:
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            summary = status(store, study)
            per_rater = tables.rater_progress(summary)
            per_class = tables.class_progress(store, study)
            pace = tables.rater_pace(store, study)
            changes = tables.answer_changes(store, study)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.title(f"Study {study.name}")
    st.caption(f"protocol {study.protocol.id} · {study.protocol.title}")
    lockouts()
    if summary["prototypes"] == 0:
        st.info("This study holds no prototypes.")
        return
    cols = st.columns(5)
    cols[0].metric("Prototypes", summary["prototypes"])
    cols[1].metric("Raters", summary["raters"])
    cols[2].metric("Assignments", summary["assignments"])
    cols[3].metric("Ratings", summary["ratings"])
    cols[4].metric("Complete", f"{summary['complete']:.0%}")
    common.quality_section(study)
    if summary["assignments"] == 0:
        st.info("No assignments yet: assign raters on the Set up page.")
        return
    st.subheader("Per rater")
    per_rater = per_rater.merge(pace, on="rater", how="left")
    per_rater["fraction"] = (per_rater["fraction"] * 100).round(1)
    st.dataframe(per_rater.rename(columns={"fraction": "% complete", "removed": "removed on"}),
                 hide_index=True, key="per_rater")
    if summary["removed_raters"]:
        st.caption("A removed rater can no longer sign in; the answers they gave are kept and "
                   "counted in the statistics.")
    st.subheader("Per class")
    chart = alt.Chart(per_class).mark_bar().encode(
        x=alt.X("fraction:Q", title="complete", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("class_code:N", sort="x", title=None),
        tooltip=["class_code", "prototypes", "assignments", "complete"])
    st.altair_chart(chart, width="stretch")
    shown = per_class.assign(fraction=(per_class["fraction"] * 100).round(1))
    st.dataframe(shown.rename(columns={"class_code": "code", "fraction": "% complete"}),
                 hide_index=True, key="per_class")
    st.subheader("Changed answers")
    if changes.empty:
        st.caption("No rater has changed an answer yet.")
    else:
        st.caption(f"{len(changes)} answers replaced an earlier answer (by the rater in the "
                   "app, or by an import), newest first. Every earlier answer stays in the "
                   "history; the statistics use the latest.")
        st.dataframe(changes, hide_index=True, key="answer_changes")


render()
