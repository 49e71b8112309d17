"""ProtoECG Review: the clinicians' and researchers' app (render only; logic in protoecg).

Started by ``protoecg review serve --db PATH [--port N]``, which passes the database in
``PROTOECG_REVIEW_DB``.
"""

from __future__ import annotations

import common
import streamlit as st

st.set_page_config(page_title="ProtoECG Review", page_icon="🫀", layout="wide")
st.html(common.STYLE)

if common.database_path() is None:
    st.error("No review database given. Start the app with "
             "`protoecg review serve --db PATH`.")
    st.stop()

user = common.checked_user()
# One file per page (app_pages/*.py), so that tests can switch to them; a rater's navigation
# simply does not contain the researcher pages. Not named pages/: Streamlit would run that
# folder the old way (without this gate) on a server's first script run.
if user is None:
    pages = [st.Page("app_pages/signin.py", title="Sign in", default=True)]
elif user["role"] == "rater" and user.get("kind") == "comparison":
    pages = [st.Page("app_pages/compare.py", title="Compare", default=True)]
elif user["role"] == "rater":
    pages = [st.Page("app_pages/rate.py", title="Rate prototypes", default=True)]
elif user.get("kind") == "comparison":
    pages = [st.Page("app_pages/comparison_results.py", title="Comparison", default=True)]
else:
    pages = [st.Page("app_pages/progress.py", title="Progress", default=True),
             st.Page("app_pages/setup.py", title="Set up"),
             st.Page("app_pages/agreement.py", title="Agreement"),
             st.Page("app_pages/disagreements.py", title="Disagreements"),
             st.Page("app_pages/pruning.py", title="Prune rules"),
             st.Page("app_pages/downloads.py", title="Downloads")]

if user is not None and user["role"] != "rater":
    with st.sidebar:
        st.markdown(f"**{user['name']}** ({user['role']})  \nstudy *{user['study']}*")
        if st.button("Sign out", key="sign_out"):
            common.sign_out()
            st.rerun()

# raters have one page and no sidebar: the card gets the whole width
st.navigation(pages, position="sidebar" if len(pages) > 1 else "hidden").run()

if user is not None and user["role"] == "rater":
    name, sign_out = st.columns([6, 1], vertical_alignment="center")
    name.caption(f"ProtoECG Review · study {user['study']} · signed in as {user['name']}")
    if sign_out.button("Sign out", key="sign_out", type="tertiary"):
        common.sign_out()
        st.rerun()
