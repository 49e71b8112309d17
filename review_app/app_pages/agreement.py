"""Page (researchers): agreement statistics with their bootstrap CIs, and the report files."""

from __future__ import annotations

import json

import common
import streamlit as st

from protoecg.agreement.formatting import statistics_table
from protoecg.errors import ProtoECGError


def render() -> None:
    st.title("Agreement")
    st.caption("Inter-rater agreement per question with 95% bootstrap confidence intervals "
               "over prototypes, and what each rests on.")
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            last_change = store.last_change()
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    resamples = st.select_slider("Bootstrap resamples", [100, 200, 500, 1000], value=1000,
                                 key="resamples",
                                 help="The study's report uses 1,000 unless told otherwise")
    if not st.button("Compute", key="compute_agreement") and "agreement" not in st.session_state:
        st.info("Press Compute to calculate the statistics on the current answers.")
        return
    summary, page = common.study_report(common.database_path(), study.name, resamples,
                                        last_change)
    st.session_state["agreement"] = True
    st.caption(f"{resamples:,} resamples, seed {summary['bootstrap']['seed']}: the two files "
               "below hold exactly these figures.")
    st.dataframe(statistics_table(summary), hide_index=True, key="agreement_table")
    left, right = st.columns(2)
    left.download_button("summary.json", json.dumps(summary, indent=2), file_name=
                         f"{study.name}-summary.json", mime="application/json",
                         key="download_summary")
    right.download_button("report.html", page, file_name=f"{study.name}-report.html",
                          mime="text/html", key="download_report")


render()
