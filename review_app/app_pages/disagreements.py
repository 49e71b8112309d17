"""Page (researchers): prototypes whose raters disagree, side by side for adjudication."""

from __future__ import annotations

import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import tables


def render() -> None:
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            spread = st.slider("Minimum difference between raters (points)", 1, 4, 2,
                               key="min_spread")
            table = tables.disagreements(store, study, spread)
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


render()
