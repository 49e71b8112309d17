"""Page (researchers of a blind A/B comparison study): how far the raters are, and the report
(summary.json and report.html, the same as `protoecg report` writes)."""

from __future__ import annotations

import json

import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import comparison


def render() -> None:
    st.title("Comparison")
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            raters = [r for r in store.reviewers(study, removed=False) if r.role == "rater"]
            rows = []
            for rater in raters:
                queue = comparison.comparison_queue(store, rater)
                rows.append({"rater": rater.name, "cases": len(queue),
                             "complete": sum(c.complete for c in queue)})
            last_change = store.last_change()
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.caption(f"protocol {study.protocol.id} · {study.protocol.title}. Raters see A and B "
               "only; the models' names appear here and in the report.")
    st.dataframe(rows, hide_index=True, key="comparison_progress")
    if not st.button("Compute the report", key="compute_comparison") \
            and "comparison_report" not in st.session_state:
        return
    try:
        summary, page = common.study_report(common.database_path(), study.name, 1000,
                                            last_change)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.session_state["comparison_report"] = True
    c = summary["comparison"]
    for task, entry in c["tasks"].items():
        level = entry["participant_level"]
        shares = " · ".join(f"{m}: {p['n_yes']} of {p['n_total']} good"
                            for m, p in entry["models"].items())
        mean = level.get("mean_difference")
        st.markdown(f"**{task}** — {shares}; {c['difference']} over {level['n_raters']} "
                    f"raters: {'undefined' if mean is None else f'{mean:+.3f}'}")
    left, right = st.columns(2)
    left.download_button("summary.json", json.dumps(summary, indent=2),
                         file_name=f"{study.name}-summary.json", mime="application/json",
                         key="download_summary")
    right.download_button("report.html", page, file_name=f"{study.name}-report.html",
                          mime="text/html", key="download_report")


render()
