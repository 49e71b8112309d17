"""Page (researchers): the study's ratings as CSV."""

from __future__ import annotations

import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import tables


def render() -> None:
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            data = tables.ratings_csv_bytes(store, study)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    st.title("Downloads")
    st.download_button("ratings.csv (long form, importable)", data,
                       file_name=f"{study.name}-ratings.csv", mime="text/csv",
                       key="download_ratings")


render()
