"""Session and database helpers shared by the pages (imported as ``common``: Streamlit puts
the app's folder on ``sys.path``)."""

from __future__ import annotations

import os
from contextlib import contextmanager

import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study.store import Reviewer, ReviewStore, Study


def database_path() -> str | None:
    return os.environ.get("PROTOECG_REVIEW_DB") or None


@contextmanager
def open_store():
    """A connection for this script run (sqlite connections stay in their thread)."""
    store = ReviewStore(database_path(), "write")
    try:
        yield store
    finally:
        store.close()


def current_user() -> dict | None:
    return st.session_state.get("user")


def sign_in(study_name: str, reviewer: Reviewer) -> None:
    st.session_state["user"] = {"id": reviewer.id, "study_id": reviewer.study_id,
                                "name": reviewer.name, "role": reviewer.role,
                                "study": study_name}


def sign_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]


def reviewer_of(user: dict) -> Reviewer:
    return Reviewer(user["id"], user["study_id"], user["name"], user["role"])


def current_study(store: ReviewStore) -> Study:
    """The study of the signed-in reviewer."""
    return store.study(current_user()["study"])


def show_error(exc: ProtoECGError) -> None:
    st.error(str(exc))
