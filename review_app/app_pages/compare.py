"""Page (raters of a blind A/B comparison study): one case at a time — the case ECG on paper with
where A and where B matched in it, A's and B's prototypes side by side, and per task "good?"
for A and for B and a preference. Which model is A is never shown (the cards hold letters
only). Answers are saved as revisions, refused over answers changed elsewhere since."""

from __future__ import annotations

import html

import common
import streamlit as st

from protoecg.ecgsvg import Shade, twelve_lead_svg, window_svg
from protoecg.errors import ProtoECGError
from protoecg.study import comparison
from protoecg.study.answers import after_save
from protoecg.study.cards import class_info
from protoecg.study.store import AnswerConflict

GOOD = {"1": "Good", "0": "Not good"}
# the card page's style, with drawings sized for a case and two prototypes
PAGE_STYLE = (common.CARD_PAGE_STYLE + ' .protoecg-record svg { max-height: 46vh; } '
              '.protoecg-neighbour svg { max-height: 40vh; }')
KEYBOARD = common.keyboard_script()
# A and B share the drawing column: a prototype window laid out no wider than this (4 x 3 leads
# for a 1 s window) is drawn at about 3.8 px/mm in a 1440 px window, near paper size.
HALF_WIDTH_MM = 125.0


def _keys(protocol) -> dict[str, str]:
    keys = {q: f"cmp::{q}" for q in comparison.questions_of(protocol)}
    if protocol.comment_enabled:
        keys["comment"] = "cmp::comment"
    return keys


def _load(case_id: str, protocol, given: dict) -> None:
    """A case's own answers into the widgets, once per case shown, and the revisions a save
    from this case is based on."""
    if st.session_state.get("cmp_case") == case_id:
        return
    st.session_state["cmp_based_on"] = {q: rev for q, (_, rev) in given.items()}
    st.session_state.pop("cmp_conflict", None)
    for question, key in _keys(protocol).items():
        value = given.get(question, (None, 0))[0]
        st.session_state[key] = value if question != "comment" else (value or "")
    st.session_state["cmp_case"] = case_id


def _move(delta: int, total: int) -> None:
    st.session_state["cmp_cursor"] = min(max(st.session_state.get("cmp_cursor", 0) + delta, 0),
                                         total - 1)
    st.session_state.pop("cmp_notice", None)


def _save(case_id: str, over_theirs: bool = False) -> None:
    user = common.current_user()
    with common.open_store() as store:
        study = common.current_study(store)
        answers = {q: st.session_state.get(key) or "" for q, key in _keys(study.protocol).items()}
        try:
            comparison.save_comparison(store, common.reviewer_of(user), case_id, answers,
                                       {} if over_theirs else
                                       st.session_state.get("cmp_based_on", {}))
        except AnswerConflict as exc:
            st.session_state["cmp_conflict"] = {"case": case_id, "theirs": exc.theirs,
                                                "mine": {q: answers.get(q) for q in exc.theirs}}
            return
        except ProtoECGError as exc:
            st.session_state["cmp_notice"] = ("error", str(exc))
            return
    st.session_state.pop("cmp_conflict", None)
    st.session_state.pop("cmp_case", None)
    st.session_state["cmp_notice"] = ("success", "Saved.")
    # the case shown next is the next one not yet answered; render() picks it from its queue
    st.session_state["cmp_saved"] = case_id


def _keep_theirs() -> None:
    st.session_state.pop("cmp_conflict", None)
    st.session_state.pop("cmp_case", None)


@st.fragment
def render() -> None:
    reviewer = common.reviewer_of(common.current_user())
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            queue = comparison.comparison_queue(store, reviewer)
            if not queue:
                st.info("This comparison holds no cases yet.")
                return
            if "cmp_cursor" not in st.session_state:
                st.session_state["cmp_cursor"] = next(
                    (i for i, c in enumerate(queue) if not c.complete), 0)
            saved = st.session_state.pop("cmp_saved", None)
            if saved is not None:
                st.session_state["cmp_cursor"] = after_save(
                    queue, next(i for i, c in enumerate(queue) if c.case_id == saved))
            cursor = min(st.session_state["cmp_cursor"], len(queue) - 1)
            item = queue[cursor]
            case_id, card, given = item.case_id, item.card, item.answers
            case = store.signal(study, card["signal_index"])
            sources = {x: store.signal(study, card[x]["source_signal_index"]) for x in "AB"}
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    _load(case_id, study.protocol, given)
    left, right = st.columns([13, 6], gap="medium")
    with left:
        _drawings(case_id, card, case, sources)
    with right:
        _panel(study.protocol, queue, cursor, card)
    st.html(f'<div class="protoecg-element-hidden protoecg-card-end" '
            f'data-card="{html.escape(case_id)}"></div>{KEYBOARD}',
            unsafe_allow_javascript=True)


def _drawings(case_id: str, card: dict, case, sources: dict) -> None:
    info = class_info(card["label"])
    fs, units = int(card["fs"]), str(card["units"])
    title = html.escape(f"{card['label']} — {info['description']}")
    n = case.shape[1]
    # a whole-record prototype matched the whole case: no window to shade
    shades = tuple(Shade(card[x]["match_start"], card[x]["match_end"], x) for x in "AB"
                   if card[x]["match_end"] - card[x]["match_start"] < n)
    st.markdown(
        f'<div class="protoecg-hidden protoecg-card" data-card="{html.escape(case_id)}">'
        f'<style>{PAGE_STYLE}</style></div>'
        f'<div class="protoecg-head"><h3 class="protoecg-title">{title}</h3>'
        f'<span class="protoecg-tools">caliper: two clicks on one lead</span></div>'
        f'<p class="protoecg-where">the case ECG, with where A and where B matched in it · '
        f'25 mm/s, 10 mm/mV</p><div class="protoecg-chart protoecg-record">'
        + twelve_lead_svg(case, fs, units, shades, label="case ECG") + "</div>",
        unsafe_allow_html=True)
    columns = st.columns(2, gap="small")
    for column, letter in zip(columns, "AB", strict=True):
        shown, source = card[letter], sources[letter]
        whole = shown["source_end"] - shown["source_start"] >= source.shape[1]
        drawing = (twelve_lead_svg(source, fs, units, label=f"prototype {letter}") if whole
                   else window_svg(source, fs, shown["source_start"], shown["source_end"],
                                   units, label=f"prototype {letter}",
                                   max_width_mm=HALF_WIDTH_MM))
        column.markdown(
            f"**{letter}** · prototype from a training ECG, "
            + ("the whole record" if whole else
               f"{shown['source_start'] / fs:.2f}–{shown['source_end'] / fs:.2f} s")
            + f'<div class="protoecg-chart protoecg-neighbour">{drawing}</div>',
            unsafe_allow_html=True)


def _panel(protocol, queue: list, cursor: int, card: dict) -> None:
    done = sum(c.complete for c in queue)
    st.progress(done / len(queue), text=f"{done} of {len(queue)} complete · case "
                                         f"{cursor + 1} of {len(queue)}")
    keys = _keys(protocol)
    st.caption('<span class="protoecg-hidden protoecg-panel"></span>Keys 1–2 answer the '
               "outlined question (Good, Not good), 1–4 the preference; Enter saves.",
               unsafe_allow_html=True)
    for task in protocol.tasks:
        st.markdown(f"**{html.escape(task.prompt.format(label=card['label']))}**")
        for letter in "AB":
            st.radio(f"{letter}", list(GOOD), format_func=GOOD.get, horizontal=True,
                     key=keys[f"{task.id}:{letter}"])
        st.radio("Which do you prefer?", list(comparison.PREFERENCE_SHOWN),
                 format_func=comparison.PREFERENCE_SHOWN.get, horizontal=True,
                 key=keys[f"{task.id}:preference"])
    if protocol.comment_enabled:
        st.text_area(protocol.comment_label, key=keys["comment"], height=68)
    notice = st.session_state.get("cmp_notice")
    if notice:
        getattr(st, notice[0])(notice[1])
    _conflict(card["case_id"])
    with st.container(horizontal=True, wrap=False):
        st.button("Back", on_click=_move, args=(-1, len(queue)), disabled=cursor == 0,
                  key="back", width="stretch")
        st.button("Skip", on_click=_move, args=(1, len(queue)), key="skip",
                  disabled=cursor == len(queue) - 1, width="stretch")
        st.button("Save & next", type="primary", on_click=_save,
                  args=(card["case_id"],), key="save", width="stretch")
    with st.expander("Instructions", expanded=done == 0):
        st.markdown(protocol.instructions)


def _conflict(case_id: str) -> None:
    conflict = st.session_state.get("cmp_conflict")
    if conflict and conflict["case"] == case_id:
        common.conflict_choice(
            conflict, "These answers were changed in another tab or on another device since "
            "you opened this case.", _keep_theirs, _save, (case_id, True))


render()
