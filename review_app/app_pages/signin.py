"""Page: sign in with the access code from `protoecg study add-reviewer`."""

from __future__ import annotations

import os
import secrets

import common
import streamlit as st

from protoecg.study import signin
from protoecg.study.store import AuthError


def _client() -> str:
    """The client's address: the TCP peer, or (only when the peer is the proxy that
    `review serve --trusted-proxy` names) the last address the proxy put in X-Forwarded-For."""
    peer = getattr(st.context, "ip_address", None) or "local"
    proxy = os.environ.get("PROTOECG_TRUSTED_PROXY")
    if proxy and peer == proxy:
        forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
        return forwarded or peer
    return peer


def _throttle() -> dict[str, str]:
    """Wrong codes count against this browser tab (a few allowed) and its client address
    (many more), so one person's typos lock out only their own tab."""
    session = st.session_state.setdefault("throttle_session", secrets.token_hex(12))
    return {"session": session, "client": _client()}


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
                study, reviewer = signin.authenticate(store, code, throttle=_throttle())
            except AuthError as exc:
                st.error(str(exc))
                return
            token = signin.start_session(store, reviewer)
        common.sign_in(study.name, reviewer, token, study.kind)
        st.rerun()
    elif "signin_notice" in st.session_state:
        st.info(st.session_state.pop("signin_notice"))


render()
