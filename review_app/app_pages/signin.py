"""Page: sign in with the access code from `protoecg study add-reviewer`."""

from __future__ import annotations

import common
import streamlit as st

from protoecg.study.store import AuthError


def _throttle_key() -> str:
    """Wrong codes are counted per client address (or for everyone, if unknown)."""
    address = getattr(st.context, "ip_address", None)
    return address if isinstance(address, str) and address else "global"


def render() -> None:
    st.title("ProtoECG Review")
    st.write("Rate how well each prototype ECG segment represents its diagnostic class.")
    with st.form("sign_in"):
        code = st.text_input("Access code", type="password", key="access_code",
                             placeholder="XXXX-XXXX-XXXX")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        with common.open_store() as store:
            try:
                study, reviewer = store.authenticate(code, throttle_key=_throttle_key())
            except AuthError as exc:
                st.error(str(exc))
                return
        common.sign_in(study.name, reviewer)
        st.rerun()


render()
