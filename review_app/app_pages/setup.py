"""Page (researchers): set the study up without the command line: add raters and
researchers (each access code shown once), assign K raters per prototype, and create another
study from a catalog folder and a protocol. The same library calls as `protoecg study …`."""

from __future__ import annotations

import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.resources import protocol_path
from protoecg.study.assignment import assign
from protoecg.study.setup import catalogs_near, create_study_from_files, load_study_files


def _add_reviewer() -> None:
    name = st.session_state.get("new_reviewer_name", "")
    role = st.session_state.get("new_reviewer_role", "rater")
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            reviewer, code = store.add_reviewer(study, name, role)
            # a new rater gets cards at once: the unanswered work is spread again over every
            # rater, K each (answered assignments are kept)
            spread = (assign(store, study, int(st.session_state.get(
                "raters_per_prototype", study.protocol.raters_per_prototype)))
                if role == "rater" else None)
    except ProtoECGError as exc:
        st.session_state["setup_notice"] = ("error", str(exc))
        return
    st.session_state["new_code"] = (reviewer.name, reviewer.role, code)
    st.session_state["new_reviewer_name"] = ""
    if spread is not None:
        st.session_state["setup_notice"] = (
            "success", f"{reviewer.name} has {spread['per_rater'].get(reviewer.name, 0)} "
                       f"prototypes to rate ({spread['added']} assignments added, "
                       f"{spread['removed']} moved from other raters, none with answers).")


def _reissue() -> None:
    name = st.session_state.get("reissue_name")
    user = common.current_user()
    try:
        with common.open_store() as store:
            reviewer = store.reviewer(common.current_study(store), name)
            code = store.reissue_code(reviewer, actor=f"reviewer:{user['id']}")
    except ProtoECGError as exc:
        st.session_state["setup_notice"] = ("error", str(exc))
        return
    st.session_state["new_code"] = (reviewer.name, reviewer.role, code)
    st.session_state["setup_notice"] = ("success", f"{reviewer.name}'s old code no longer "
                                                   "works; their answers are kept.")


def _remove() -> None:
    name = st.session_state.get("remove_name")
    user = common.current_user()
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            reviewer = store.reviewer(study, name)
            dropped = store.remove_reviewer(reviewer, actor=f"reviewer:{user['id']}")
            # their open cards go to the other raters at once (K each, answers kept)
            spread = (assign(store, study, int(st.session_state.get(
                "raters_per_prototype", study.protocol.raters_per_prototype)))
                if reviewer.role == "rater" and dropped
                and store.reviewers(study, removed=False) else None)
    except ProtoECGError as exc:
        st.session_state["setup_notice"] = ("error", str(exc))
        return
    moved = (f" Their {dropped} open prototypes went to the other raters "
             f"({spread['added']} assignments added)." if spread else
             f" Their {dropped} open prototypes wait for another rater." if dropped else "")
    st.session_state["setup_notice"] = (
        "success", f"{reviewer.name} was removed: their code no longer works; the answers "
                   f"they gave are kept and counted.{moved}")


def _remove_confirmed() -> None:
    if not st.session_state.get("remove_name"):
        st.session_state["setup_notice"] = ("warning", "Choose the reviewer to remove.")
    elif not st.session_state.get("remove_confirm"):
        st.session_state["setup_notice"] = ("warning", "Tick the box to confirm the removal.")
    else:
        _remove()
    st.session_state["remove_confirm"] = False


def _assign() -> None:
    k = int(st.session_state.get("raters_per_prototype", 1))
    try:
        with common.open_store() as store:
            result = assign(store, common.current_study(store), k)
    except ProtoECGError as exc:
        st.session_state["setup_notice"] = ("error", str(exc))
        return
    k = result["raters_per_prototype"]
    st.session_state["setup_notice"] = (
        "success", f"{k} rater{'' if k == 1 else 's'} per prototype: "
                   f"{result['assignments']} assignments ({result['added']} added, "
                   f"{result['removed']} removed, {result['kept']} kept).")


def _create_study() -> None:
    user = common.current_user()
    try:
        chosen = (st.session_state.get("new_study_catalog", "").strip()
                  or dict(st.session_state.get("catalog_choices", [])).get(
                      st.session_state.get("new_study_catalog_choice"), ""))
        if not chosen:
            raise ProtoECGError("choose the catalog the new study rates")
        protocol, catalog = load_study_files(
            st.session_state.get("new_study_protocol") or protocol_path(), chosen)
        with common.open_store() as store:
            study, count = create_study_from_files(
                store, st.session_state.get("new_study_name", ""), protocol, catalog,
                st.session_state.get("new_study_previous") or None)
            researcher, code = store.add_reviewer(study, user["name"], "researcher")
    except (ProtoECGError, OSError) as exc:
        st.session_state["setup_notice"] = ("error", str(exc))
        return
    st.session_state["setup_notice"] = ("success", f"created study {study.name!r}: {count} "
                                                   "prototypes")
    st.session_state["new_code"] = (f"{researcher.name} (study {study.name})",
                                    "researcher", code)


def render() -> None:
    st.title("Set up")
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            reviewers = store.reviewers(study)
            others = [s.name for s in store.studies() if s.kind == "rating"]
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    notice = st.session_state.pop("setup_notice", None)
    if notice:
        getattr(st, notice[0])(notice[1])
    shown = st.session_state.pop("new_code", None)
    if shown:  # once: it is stored hashed and cannot be shown again
        st.success(f"Access code for {shown[0]} ({shown[1]}). Copy it now and give it to them "
                   "in person or by a secure channel; it is not shown again.")
        st.code(shown[2], language=None)
    st.subheader(f"Reviewers of study {study.name}", anchor=False)
    st.dataframe([{"name": r.name, "role": r.role,
                   "taking part": f"removed on {r.removed_at[:10]}" if r.removed_at else "yes"}
                  for r in reviewers], hide_index=True, key="reviewers_table")
    active = [r.name for r in reviewers if not r.removed_at]
    with st.form("add_reviewer", clear_on_submit=False):
        st.text_input("Name", key="new_reviewer_name", max_chars=100)
        st.radio("Role", ["rater", "researcher"], horizontal=True, key="new_reviewer_role")
        st.form_submit_button("Add reviewer", on_click=_add_reviewer)
    with st.form("reissue_code"):
        st.selectbox("Reviewer who needs a new access code (a lost or shared one)",
                     active, key="reissue_name")
        st.form_submit_button("New access code", on_click=_reissue)
    with st.form("remove_reviewer"):
        st.selectbox("Reviewer to remove from the study (their answers are kept)",
                     [name for name in active if name != common.current_user()["name"]],
                     key="remove_name", index=None, placeholder="Choose a reviewer")
        st.checkbox("Yes, remove them: their code stops working and their open cards go to "
                    "the other raters", key="remove_confirm")
        st.form_submit_button("Remove reviewer", on_click=_remove_confirmed)
    st.subheader("Assignment", anchor=False)
    st.caption("Each prototype goes to K raters, loads balanced; assignments that already have "
               "answers are kept.")
    st.number_input("Raters per prototype (K)", min_value=1, max_value=20,
                    value=study.protocol.raters_per_prototype, key="raters_per_prototype")
    st.button("Assign", on_click=_assign, key="assign")
    st.subheader("A new study", anchor=False)
    st.caption("From a model's prototype catalog and a protocol; you become its researcher "
               "(a new code).")
    choices = catalogs_near(study)
    st.session_state["catalog_choices"] = choices
    with st.form("new_study"):
        st.text_input("Study name", key="new_study_name", max_chars=100)
        st.selectbox("Catalog (the runs beside this study's)", [label for label, _ in choices],
                     key="new_study_catalog_choice")
        st.text_input("…or another catalog folder on this server (optional)",
                      key="new_study_catalog", placeholder="runs/RUN/catalog")
        st.text_input("Protocol file", key="new_study_protocol",
                      placeholder=f"{protocol_path().name} (the paper's, if left empty)")
        st.selectbox("Next round of (optional)", ["", *others], key="new_study_previous")
        st.form_submit_button("Create study", on_click=_create_study)


render()
