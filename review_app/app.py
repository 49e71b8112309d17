"""ProtoECG Review: the clinicians' and researchers' app (render only; logic in protoecg).

Started by ``protoecg review serve --db PATH [--port N]``, which passes the database in
``PROTOECG_REVIEW_DB``.
"""

from __future__ import annotations

import streamlit as st
from screens import common

st.set_page_config(page_title="ProtoECG Review", page_icon="🫀", layout="wide")

if common.database_path() is None:
    st.error("No review database given. Start the app with "
             "`protoecg review serve --db PATH`.")
    st.stop()

user = common.current_user()
# Pages are files (views/*.py, two lines each) so that tests can switch to them; a rater's
# navigation simply does not contain the researcher pages.
if user is None:
    pages = [st.Page("views/signin.py", title="Sign in", default=True)]
elif user["role"] == "rater":
    pages = [st.Page("views/rate.py", title="Rate prototypes", default=True)]
else:
    pages = [st.Page("views/progress.py", title="Progress", default=True),
             st.Page("views/agreement.py", title="Agreement"),
             st.Page("views/disagreements.py", title="Disagreements"),
             st.Page("views/downloads.py", title="Downloads")]

if user is not None:
    with st.sidebar:
        st.markdown(f"**{user['name']}** ({user['role']})  \nstudy *{user['study']}*")
        if st.button("Sign out", key="sign_out"):
            common.sign_out()
            st.rerun()

st.navigation(pages).run()
