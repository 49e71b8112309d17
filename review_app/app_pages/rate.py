"""Page (raters): the rating card, one prototype at a time, answers saved as revisions."""

from __future__ import annotations

import json

import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import answers as study_answers
from protoecg.study.cards import cached_card_charts, prefetch

# 1-5 answers the first unanswered question on the card, Enter saves and moves on, Left goes
# back: clinicians rate dozens of cards, the mouse should be optional.
KEYBOARD_LISTENER = """
(() => {
  if (window.__protoecgKeys) return;  // once per page: it outlives Streamlit's reruns
  window.__protoecgKeys = true;
  const button = (text) => [...document.querySelectorAll('button')]
      .find(b => b.innerText.trim() === text);
  document.addEventListener('keydown', (e) => {
    const tag = (e.target.tagName || '').toLowerCase();
    if (tag === 'textarea' || (tag === 'input' && !['radio', 'checkbox']
        .includes(e.target.type))) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[1-9]$/.test(e.key)) {
      const groups = [...document.querySelectorAll('div[role="radiogroup"]')];
      const open = groups.find(g => !g.querySelector('input:checked'));
      if (!open) return;
      const choice = open.querySelectorAll('label')[parseInt(e.key, 10) - 1];
      if (choice) { choice.click(); e.preventDefault(); }
    } else if (e.key === 'Enter') {
      const save = button('Save & next');
      if (save) { save.click(); e.preventDefault(); e.stopPropagation(); }
    } else if (e.key === 'ArrowLeft') {
      const back = button('Back');
      if (back) { back.click(); e.preventDefault(); }
    }
  }, true);  // capture phase: widgets may stop the event from bubbling
})();
"""
# The listener must live in the app's own page: a script inside Streamlit's iframe dies with
# the iframe at the next rerun, so the iframe only plants it there (once).
KEYBOARD = ("<script>const s = window.parent.document.createElement('script');"
            f"s.textContent = {json.dumps(KEYBOARD_LISTENER)};"
            "window.parent.document.head.appendChild(s);</script>")


def _keys(prototype_id: str, study) -> dict[str, str]:
    base = f"{prototype_id}"
    keys = {q.id: f"q::{base}::{q.id}" for q in study.protocol.questions}
    keys.update({f.id: f"f::{base}::{f.id}" for f in study.protocol.flags})
    if study.protocol.comment_enabled:
        keys["comment"] = f"c::{base}"
    return keys


def _move(delta: int, total: int) -> None:
    st.session_state["cursor"] = min(max(st.session_state.get("cursor", 0) + delta, 0),
                                     total - 1)
    st.session_state.pop("notice", None)


def _save(prototype_id: str, total: int) -> None:
    user = common.current_user()
    with common.open_store() as store:
        study = common.current_study(store)
        answers = {}
        for question_id, key in _keys(prototype_id, study).items():
            if key in st.session_state and st.session_state[key] is not None:
                answers[question_id] = st.session_state[key]
        missing = [q.id for q in study.protocol.questions
                   if q.required and answers.get(q.id) is None]
        if missing:
            st.session_state["notice"] = ("warning", "Please answer "
                                          + " and ".join(missing) + " (or Skip).")
            return
        try:
            study_answers.save_answers(store, common.reviewer_of(user), prototype_id, answers)
        except ProtoECGError as exc:
            st.session_state["notice"] = ("error", str(exc))
            return
    _move(1, total)
    st.session_state["notice"] = ("success", f"Saved {prototype_id}.")


def render() -> None:
    user = common.current_user()
    reviewer = common.reviewer_of(user)
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            items = study_answers.queue(store, reviewer)
            if not items:
                st.info("No prototypes are assigned to you in this study yet. "
                        "Ask the study's researcher to run `protoecg study assign`.")
                return
            if "cursor" not in st.session_state:
                st.session_state["cursor"] = next(
                    (i for i, item in enumerate(items) if not item.complete), 0)
            cursor = min(st.session_state["cursor"], len(items) - 1)
            item = items[cursor]
            card = study_answers.card(store, reviewer, item.prototype_id)
            upcoming = (study_answers.card(store, reviewer, items[cursor + 1].prototype_id)
                        if cursor + 1 < len(items) else None)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    row, answers = card["prototype"], card["answers"]
    done = sum(i.complete for i in items)
    st.progress(done / len(items), text=f"{done} of {len(items)} complete · card "
                                         f"{cursor + 1} of {len(items)}")
    if done == len(items):
        st.success("All your prototypes are rated. Thank you! You can still revise answers.")
    st.header(f"{row['class_code']} — {row['class_description']}")
    st.caption(f"{row['branch']} prototype {row['prototype_id']} · window "
               f"{row['window_start_s']:.2f}–{row['window_end_s']:.2f} s of record "
               f"{row['source_record_id']} ({row['source_dataset']})")
    with st.expander("Instructions"):
        st.text(study.protocol.instructions)
    try:
        charts = cached_card_charts(common.database_path(), study.name, row)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    if upcoming is not None:  # built while this card is being rated
        prefetch(common.database_path(), study.name, upcoming["prototype"])
    left, right = st.columns([3, 2])
    with left:
        st.vega_lite_chart(charts["record"], width="content")
        if row.get("source_report"):
            st.caption("Report of the source record")
            st.text(row["source_report"])
        if charts["neighbours"]:
            with st.expander("Does it look like these? (nearest other training windows)"):
                for neighbour in charts["neighbours"]:
                    st.vega_lite_chart(neighbour["spec"], width="content")
    with right:
        st.vega_lite_chart(charts["window"], width="content")
        keys = _keys(item.prototype_id, study)
        for question in study.protocol.questions:
            current = answers.get(question.id)
            st.radio(question.prompt, question.values,
                     index=question.values.index(current) if current is not None else None,
                     format_func=lambda v, q=question: f"{v} · {q.label_of(v)}",
                     horizontal=True, key=keys[question.id])
        for flag in study.protocol.flags:
            st.checkbox(flag.label, value=bool(answers.get(flag.id, False)),
                        key=keys[flag.id])
        if study.protocol.comment_enabled:
            st.text_area(study.protocol.comment_label, value=answers.get("comment", ""),
                         key=keys["comment"], max_chars=study_answers.COMMENT_MAX_CHARS)
        notice = st.session_state.get("notice")
        if notice:
            getattr(st, notice[0])(notice[1])
        back, skip, save = st.columns(3)
        back.button("Back", on_click=_move, args=(-1, len(items)), disabled=cursor == 0,
                    key="back")
        skip.button("Skip", on_click=_move, args=(1, len(items)), key="skip",
                    disabled=cursor == len(items) - 1)
        save.button("Save & next", type="primary", on_click=_save,
                    args=(item.prototype_id, len(items)), key="save")
        st.caption("Keys: 1–5 answer the next open question · Enter saves · ← goes back")
    st.iframe(KEYBOARD, height=1)


render()
