"""Page (raters): the rating card, one prototype at a time, answers saved as revisions.

Layout: the ECG on the left (the window enlarged in all 12 leads above the full record with
the window shaded; a whole-record prototype is one standard print), the questions and Save in
a panel on the right that stays in view. The drawings are SVG made on the server
(``protoecg.study.cards``): a few tens of kilobytes per card.
"""

from __future__ import annotations

import html

import common
import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.study import answers as study_answers
from protoecg.study.cards import cached_card_charts, class_info, prefetch
from protoecg.study.store import AnswerConflict

# Keys (keyboard.js beside this page, package data; planted once in the app's page, it
# outlives Streamlit's reruns): 1-9 answer the active question (the first open one; then the
# next), Up/Down change which question is active, Enter saves and moves on, Left goes back.
# Keys typed while the next card loads are kept and applied to the new card once it is drawn;
# a new card opens at the top of the page. Two clicks on a drawing measure it (caliper).
KEYBOARD = common.keyboard_script()


KEYS_HELP = ("**Keys:** 1–5 answer the outlined question · ↑ ↓ choose it · Enter saves and "
             "moves on · ← goes back · Esc closes the zoom")
# The page as every card page (common.CARD_PAGE_STYLE). The window and the print share the
# height left under the card's header lines (HEAD_PX) in proportion to their heights in mm,
# so that both are drawn at one scale: at 1440x900 about 3.6 px/mm (95% of paper size), where
# the print also fills the column's width; a smaller browser window scales them down together
# instead of scrolling.
HEAD_PX = 92


def _card_style(heights_mm: tuple[float, float]) -> str:
    window, record = heights_mm
    both = window + record
    return (f'<style>{common.CARD_PAGE_STYLE} '
            f'.protoecg-window svg {{ max-height: calc((100vh - {HEAD_PX}px) * '
            f'{window / both:.4f}); }} '
            f'.protoecg-record svg {{ max-height: calc((100vh - {HEAD_PX}px) * '
            f'{record / both:.4f}); }} '
            f'.protoecg-whole svg {{ max-height: calc(100vh - {HEAD_PX}px); }}</style>')


def _keys(study) -> dict[str, str]:
    """The answer widgets' keys: the same on every card, so that a card change updates the
    widgets in the browser instead of making new ones (``_show_answers`` loads each card's)."""
    keys = {q.id: f"q::{q.id}" for q in study.protocol.questions}
    keys.update({f.id: f"f::{f.id}" for f in study.protocol.flags})
    if study.protocol.comment_enabled:
        keys["comment"] = "c::comment"
    return keys


def _show_answers(prototype_id: str, study, answers: dict, revisions: dict) -> None:
    """Put a card's own answers (or nothing) into the answer widgets, once per card shown;
    remember the revisions they are, which a save from this card is based on."""
    if st.session_state.get("answers_of") == prototype_id:
        return
    st.session_state["based_on"] = dict(revisions)
    st.session_state.pop("conflict", None)
    st.session_state.update(_form_values(study, answers))
    st.session_state["answers_of"] = prototype_id


def _form_values(study, answers: dict) -> dict:
    """widget key -> what the widget shows for a card's saved answers (nothing, unset flags
    and an empty comment where there are none)."""
    flags = {f.id for f in study.protocol.flags}
    return {key: (answers.get("comment", "") if answer_id == "comment"
                  else bool(answers.get(answer_id, False)) if answer_id in flags
                  else answers.get(answer_id))
            for answer_id, key in _keys(study).items()}


def _move(delta: int, total: int) -> None:
    st.session_state["cursor"] = min(max(st.session_state.get("cursor", 0) + delta, 0),
                                     total - 1)
    st.session_state.pop("notice", None)


def _save(prototype_id: str, over_theirs: bool = False) -> None:
    """Save the card's answers, based on the revisions it showed (``over_theirs``: the rater
    has seen the answers saved elsewhere since and chose to replace them), then go to the next
    card the rater has not answered."""
    user = common.current_user()
    with common.open_store() as store:
        study = common.current_study(store)
        answers = {}
        for question_id, key in _keys(study).items():
            if key in st.session_state and st.session_state[key] is not None:
                answers[question_id] = st.session_state[key]
        missing = [q.id for q in study.protocol.questions
                   if q.required and answers.get(q.id) is None]
        if missing:
            st.session_state["notice"] = ("warning", "Please answer "
                                          + " and ".join(missing) + " (or Skip).")
            return
        reviewer = common.reviewer_of(user)
        try:
            study_answers.save_answers(
                store, reviewer, prototype_id, answers,
                based_on=None if over_theirs else st.session_state.get("based_on", {}))
        except AnswerConflict as exc:
            st.session_state["conflict"] = {"card": prototype_id, "theirs": exc.theirs,
                                            "mine": {q: answers.get(q) for q in exc.theirs}}
            st.session_state.pop("notice", None)
            return
        except ProtoECGError as exc:
            st.session_state["notice"] = ("error", str(exc))
            return
    st.session_state.pop("conflict", None)
    st.session_state.pop("answers_of", None)  # the card shown next loads its revisions afresh
    # the card rendered next is the next unanswered one; render() picks it from the queue it
    # computes anyway (a second queue here would double a card change's database work)
    st.session_state["saved_card"] = prototype_id
    st.session_state["notice"] = ("success", f"Saved {prototype_id}.")


def _unsaved(study, saved: dict) -> bool:
    """Whether the answer widgets hold anything other than the card's saved answers."""
    for key, value in _form_values(study, saved).items():
        shown = st.session_state.get(key)
        if isinstance(value, bool):  # a flag
            shown = bool(shown)
        elif isinstance(value, str):  # the comment
            shown = shown or ""
        if shown != value:
            return True
    return False


def _keep_theirs() -> None:
    """The rater keeps the answers saved elsewhere: the card shows them again."""
    st.session_state.pop("conflict", None)
    st.session_state.pop("answers_of", None)


def _conflict_box(prototype_id: str) -> None:
    conflict = st.session_state.get("conflict")
    if conflict and conflict["card"] == prototype_id:
        common.conflict_choice(
            conflict, "These answers were changed in another tab, on another device or by an "
            "import since you opened this card.", _keep_theirs, _save, (prototype_id, True))


def _drawing(svg: str, css_class: str) -> None:
    # st.markdown, not st.html: st.html's sanitiser drops inline SVG (the drawings are ours,
    # their text escaped)
    st.markdown(f'<div class="protoecg-chart {css_class}">{svg}</div>', unsafe_allow_html=True)


def _scale_caption(question) -> str:
    """The scale's words in one line under the bare numbers (numbers alone keep the five
    choices on one line in a narrow panel)."""
    return " · ".join(f"{p.value} {p.label}" for p in question.scale)


@st.fragment
def render() -> None:
    """The card. A fragment: Save, Back, Skip and the answers rerun only the card, not the
    app around it (navigation, style, footer)."""
    user = common.current_user()
    reviewer = common.reviewer_of(user)
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            items = study_answers.queue(store, reviewer)
            if not items:
                st.info("No prototypes are assigned to you in this study yet. "
                        "Ask the study's researcher to assign you some.")
                return
            if "cursor" not in st.session_state:
                # a reload comes back to the card in the address bar, else the first open one
                wanted = st.query_params.get("card")
                ids = [i.prototype_id for i in items]
                st.session_state["cursor"] = ids.index(wanted) if wanted in ids else next(
                    (i for i, item in enumerate(items) if not item.complete), 0)
            saved = st.session_state.pop("saved_card", None)
            if saved is not None:
                st.session_state["cursor"] = study_answers.after_save(
                    items, next(i for i, x in enumerate(items) if x.prototype_id == saved))
            cursor = min(st.session_state["cursor"], len(items) - 1)
            item = items[cursor]
            card = study_answers.card(store, reviewer, item.prototype_id)
            upcoming = (study_answers.card(store, reviewer, items[cursor + 1].prototype_id)
                        if cursor + 1 < len(items) else None)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    if st.query_params.get("card") != item.prototype_id:
        st.query_params["card"] = item.prototype_id
    row, answers = card["prototype"], card["answers"]
    try:
        charts = cached_card_charts(common.database_path(), study.name, row)
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    # Few elements: each is one message and one update in the browser, and a card change
    # costs about 3 ms per element on this hardware. The marker the page's key handler
    # follows rides with the left column's first element.
    left, right = st.columns([13, 6], gap="medium")
    with left:
        _ecg_column(item.prototype_id, row, charts)
    with right:
        _answer_panel(study, items, cursor, answers, card["revisions"])
    # data-unsaved: the page asks before leaving (a reload, closing the tab) while the form
    # holds answers this card has not saved
    unsaved = ' data-unsaved="1"' if _unsaved(study, answers) else ""
    st.html(f'<div class="protoecg-element-hidden protoecg-card-end" '
            f'data-card="{html.escape(item.prototype_id)}"{unsaved}></div>{KEYBOARD}',
            unsafe_allow_javascript=True)
    if upcoming is not None:  # drawn while this card is being rated (started last, so that
        # drawing it does not hold up sending this one)
        prefetch(common.database_path(), study.name, upcoming["prototype"])


def _ecg_column(prototype_id: str, row: dict, charts: dict) -> None:
    """The card's left column: class and source, the drawings, the source report and the
    nearest other windows. Its first element carries the marker the key handler follows."""
    info = class_info(row["class_code"])
    title = html.escape(f"{row['class_code']} — "
                        f"{info['description'] or row['class_description']}")
    # the scale the drawings are shown at is filled in by the page's script (keyboard.js),
    # which sees the size they were given
    where = html.escape(f"prototype {row['prototype_id']} · record "
                        f"{row['source_record_id']} ({row['source_dataset']}) · "
                        f"{row['window_start_s']:.2f}–{row['window_end_s']:.2f} s · "
                        f"{charts['note']}")
    tools = ("" if charts["whole"] else '<span class="protoecg-zoom" role="button" '
             'tabindex="0">⤢ Zoom the window</span> · ') + "caliper: two clicks on one lead"
    st.markdown(
        f'<div class="protoecg-hidden protoecg-card" '
        f'data-card="{html.escape(prototype_id)}">{_card_style(charts["heights_mm"])}</div>'
        f'<div class="protoecg-head"><h3 class="protoecg-title">{title}</h3>'
        f'<span class="protoecg-tools">{tools}</span></div>'
        f'<p class="protoecg-where">{where}<span class="protoecg-scale"></span></p>',
        unsafe_allow_html=True, help="; ".join(info["details"]) or None)
    if charts["whole"]:
        _drawing(charts["record"], "protoecg-whole")
    else:
        st.markdown(
            f'<div class="protoecg-chart protoecg-window">{charts["window"]}</div>'
            f'<div class="protoecg-chart protoecg-record">{charts["record"]}</div>',
            unsafe_allow_html=True)
    if row.get("source_report"):
        with st.expander("Report of the source record"):
            st.text(row["source_report"])
    if charts["neighbours"] and st.toggle("Compare with the nearest other training windows",
                                          key="show_neighbours"):
        for n in charts["neighbours"]:
            st.caption(f"#{n['rank']}: record {n['record_id']}, "
                       f"{n['start_s']:.2f}–{n['end_s']:.2f} s")
            _drawing(n["svg"], "protoecg-neighbour")


def _answer_panel(study, items: list, cursor: int, answers: dict, revisions: dict) -> None:
    """The card's right column: progress, the questions, flags and comment, Back / Skip /
    Save & next, the instructions."""
    item = items[cursor]
    done = sum(i.complete for i in items)
    st.progress(done / len(items), text=f"{done} of {len(items)} complete · card "
                                         f"{cursor + 1} of {len(items)}")
    if done == len(items):
        st.success("All your prototypes are rated. Thank you! You can still revise answers.")
    keys = _keys(study)
    _show_answers(item.prototype_id, study, answers, revisions)
    questions = study.protocol.questions
    shared = len({q.scale for q in questions}) == 1  # one scale: its words said once
    # the panel marker (it keeps this column in view) rides with the first caption
    st.caption('<span class="protoecg-hidden protoecg-panel"></span>'
               + html.escape(_scale_caption(questions[0]) if shared else ""),
               unsafe_allow_html=True)
    for question in questions:
        st.radio(question.prompt, question.values, horizontal=True, key=keys[question.id])
        if not shared:
            st.caption(_scale_caption(question))
    for flag in study.protocol.flags:
        st.checkbox(flag.label, key=keys[flag.id])
    if study.protocol.comment_enabled:
        # no max_chars: the browser would drop a longer paste unseen (issue 31); the save
        # refuses it with a message and the text stays in the box to shorten
        st.text_area(study.protocol.comment_label, key=keys["comment"], height=68,
                     help=f"At most {study_answers.COMMENT_MAX_CHARS:,} characters")
    notice = st.session_state.get("notice")
    if notice:
        getattr(st, notice[0])(notice[1])
    _conflict_box(item.prototype_id)
    with st.container(horizontal=True, wrap=False):
        st.button("Back", on_click=_move, args=(-1, len(items)), disabled=cursor == 0,
                  key="back", width="stretch")
        st.button("Skip", on_click=_move, args=(1, len(items)), key="skip",
                  disabled=cursor == len(items) - 1, width="stretch")
        st.button("Save & next", type="primary", on_click=_save,
                  args=(item.prototype_id,), key="save", width="stretch")
    # shown before the first card, as the protocol asks; one click away afterwards
    with st.expander("Instructions and keys", expanded=done == 0 and not answers):
        paragraphs = [" ".join(p.split())  # the protocol's text is hard-wrapped
                      for p in study.protocol.instructions.split("\n\n")]
        st.markdown("\n\n".join([*paragraphs, KEYS_HELP]))


render()
