"""Session and database helpers shared by the pages (imported as ``common``: Streamlit puts
the app's folder on ``sys.path``)."""

from __future__ import annotations

import html
import os
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import signin
from protoecg.study.store import AuthError, Reviewer, ReviewStore, Study

# The app's face: no developer chrome for clinicians (the serve command also sets
# client.toolbarMode), little padding, ECG drawings that fit the window, the rating panel in
# view while the page scrolls, the question that the number keys answer outlined.
STYLE = """<div class="protoecg-element-hidden"><style>
div[data-testid="stElementContainer"]:has(.protoecg-element-hidden) { display: none; }
.protoecg-hidden { display: none; }
[data-testid="stAppDeployButton"], [data-testid="stMainMenu"], #MainMenu,
[data-testid="stToolbarActions"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"], .block-container {
  padding-top: 2.75rem !important; padding-bottom: 1rem !important; }
.protoecg-chart svg { max-width: 100%; height: auto; }
.protoecg-window svg { max-height: 44vh; }
.protoecg-record svg { max-height: 36vh; }
.protoecg-whole svg { max-height: 78vh; }
.protoecg-neighbour svg { max-height: 30vh; }
.protoecg-adjudicate svg { max-height: 45vh; }
div[data-testid="stColumn"]:has(.protoecg-panel) {
  position: sticky; top: 2.75rem; align-self: flex-start;
  max-height: calc(100vh - 3rem); overflow-y: auto; }
.protoecg-chart svg { cursor: crosshair; }
.protoecg-head { display: flex; justify-content: space-between; align-items: baseline;
  gap: 1rem; }
h3.protoecg-title { margin: 0; padding: 0.1rem 0 0 0; font-size: 1.4rem; }
p.protoecg-where { font-size: 0.85rem; opacity: 0.7; margin: 0; }
.protoecg-window { margin-bottom: 0.25rem; }
.protoecg-tools { font-size: 0.8rem; color: #6b6b6b; white-space: nowrap; }
.protoecg-zoom { color: #1f77b4; cursor: pointer; text-decoration: underline; }
.protoecg-zoom-on .protoecg-window { position: fixed; inset: 0.5rem; z-index: 999990;
  background: #fff; padding: 0.5rem; overflow: auto; box-shadow: 0 0 0 100vmax rgba(0,0,0,.45); }
.protoecg-zoom-on .protoecg-window svg { max-height: calc(100vh - 3rem); }
.protoecg-zoom-on .protoecg-tools { position: fixed; top: 0.7rem; right: 1.2rem;
  z-index: 999991; background: #fff; padding: 0.2rem 0.6rem; border-radius: 4px; }
div[role="radiogroup"].protoecg-active {
  outline: 2px solid #1f77b4; outline-offset: 4px; border-radius: 4px; }
</style></div>"""


@st.cache_data(max_entries=16, show_spinner="Computing agreement statistics …")
def study_report(db_path: str, study_name: str, resamples: int, last_change: int,
                 use_consensus: bool = False) -> tuple:
    """(summary, report.html) for the study, as `protoecg report` writes them; recomputed
    when anything is written (``last_change`` is part of the cache key)."""
    from protoecg.agreement import report  # researchers only: raters never wait for altair

    with ReviewStore(db_path, "read") as store:
        return report.build_report(store, store.study(study_name), resamples,
                                   use_consensus=use_consensus)


# A card page (rating card, comparison case): raters have no sidebar, so no header either;
# the card starts at the top and runs nearly edge to edge, its answer panel in view.
CARD_PAGE_STYLE = ('[data-testid="stHeader"] { display: none; } '
                   'div[data-testid="stMainBlockContainer"] { padding: 0.75rem 1.25rem 0.5rem '
                   '1.25rem !important; max-width: none; } '
                   'div[data-testid="stColumn"]:has(.protoecg-panel) { top: 0.5rem; '
                   'max-height: calc(100vh - 1rem); }')


def keyboard_script() -> str:
    """The rating cards' key and caliper handler (``app_pages/keyboard.js``, package data) as
    the script the card pages plant once in the app's page."""
    path = Path(__file__).resolve().parent / "app_pages" / "keyboard.js"
    return f"<script>\n{path.read_text(encoding='utf-8')}</script>\n"


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


def sign_in(study_name: str, reviewer: Reviewer, token: str, kind: str = "rating") -> None:
    """Remember the reviewer for this browser tab; the session token in the address bar
    brings them back after a reload or in a new tab."""
    st.session_state["user"] = {"id": reviewer.id, "study_id": reviewer.study_id,
                                "name": reviewer.name, "role": reviewer.role,
                                "study": study_name, "token": token, "kind": kind}
    st.query_params["session"] = token


def checked_user() -> dict | None:
    """The signed-in reviewer, their session checked against the store on every full run
    (one read): a reviewer removed, or given a new code, while their tab is open is signed
    out at their next step instead of working on in a session that no longer exists."""
    user = current_user()
    if user is None:
        return resume_session()
    with open_store() as store:
        try:
            signin.resume_session(store, user.get("token") or "")
        except AuthError as exc:
            for key in list(st.session_state):
                del st.session_state[key]
            st.query_params.clear()
            st.session_state["signin_notice"] = str(exc)
            return None
    return user


def resume_session() -> dict | None:
    """The reviewer of the session token in the address bar, if it is still live."""
    token = st.query_params.get("session")
    if not token:
        return None
    with open_store() as store:
        try:
            study, reviewer = signin.resume_session(store, token)
        except AuthError as exc:
            st.query_params.clear()
            st.session_state["signin_notice"] = str(exc)
            return None
    sign_in(study.name, reviewer, token, study.kind)
    return current_user()


def sign_out() -> None:
    user = current_user()
    if user and user.get("token"):
        with open_store() as store:
            signin.end_session(store, user["token"])
    for key in list(st.session_state):
        del st.session_state[key]
    st.query_params.clear()


def reviewer_of(user: dict) -> Reviewer:
    return Reviewer(user["id"], user["study_id"], user["name"], user["role"])


def current_study(store: ReviewStore) -> Study:
    """The study of the signed-in reviewer."""
    return store.study(current_user()["study"])


def show_error(exc: ProtoECGError) -> None:
    st.error(str(exc))


def quality_section(study: Study) -> None:
    """The rated catalog's prototype quality per branch (researchers' pages)."""
    from protoecg.catalog.quality import quality_table  # noqa: PLC0415

    rows = quality_table(study.catalog_meta.get("prototype_quality"))
    st.subheader("Prototype quality")
    if not rows:
        st.caption("This catalog was made before prototype quality was measured.")
        return
    st.caption("Per branch, what raters will meet: how many different windows the cards show, "
               "windows that overlap another prototype's, windows at the very start or end of "
               "a record, windows centred on the wave their class is read from, purity beside "
               "the class's prevalence, prototypes that drive at least one correct decision, "
               "and whether the model tells windows apart at all (similarity spread).")
    allowed = study.catalog_meta.get("degenerate_branches_allowed")
    if allowed:
        st.warning(f"This study rates a degenerate branch ({', '.join(allowed)}): its "
                   "prototypes cannot tell one window from another.")
    st.dataframe(rows, hide_index=True, key="prototype_quality")


def conflict_choice(conflict: dict, message: str, keep, save, save_args: tuple) -> None:
    """A save refused over answers changed elsewhere (rating cards and comparison cases): each
    answer saved since beside the rater's, and the rater chooses which to keep."""
    lines = "\n".join(f"- {html.escape(str(q))}: saved elsewhere **{_shown(v)}**, yours "
                      f"**{_shown(conflict['mine'].get(q))}**"
                      for q, v in conflict["theirs"].items())
    st.warning(f"{message} Nothing was saved.\n\n" + lines)
    with st.container(horizontal=True, wrap=False):
        st.button("Keep the saved answers", on_click=keep, key="keep-theirs", width="stretch")
        st.button("Save mine instead", on_click=save, args=save_args, key="save-mine",
                  width="stretch")


def _shown(value) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "set" if value else "not set"
    return str(value)
