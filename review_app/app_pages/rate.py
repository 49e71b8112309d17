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

# Keys (planted once in the app's page, it outlives Streamlit's reruns): 1-9 answer the active
# question (the first open one; then the next), Up/Down change which question is active, Enter
# saves and moves on, Left goes back. Keys typed while the next card loads are kept and applied
# to the new card once it is drawn; a new card opens at the top of the page.
KEYBOARD = """<script>
(() => {
  if (window.__protoecgKeys) return;
  window.__protoecgKeys = true;
  const doc = document;
  const state = {card: null, active: 0, pending: null, queue: [], since: 0};
  const button = (text) => [...doc.querySelectorAll('button')]
      .find(b => b.innerText.trim() === text && !b.disabled);
  const groups = () => [...doc.querySelectorAll('div[role="radiogroup"]')];
  const busy = () => !!doc.querySelector('[data-testid="stStatusWidget"]');
  const marker = () => doc.querySelector('.protoecg-card');
  // the card's end marker comes after its questions: once it names the card the first marker
  // names, the questions on the page are this card's (not the last card's, still shown)
  const settled = () => {
    const a = marker(), b = doc.querySelector('.protoecg-card-end');
    return !!(a && b && a.dataset.card === b.dataset.card) && !busy();
  };
  const firstOpen = () => {
    const i = groups().findIndex(g => !g.querySelector('input:checked'));
    return i < 0 ? 0 : i;
  };
  // the active question; null on a new card until its questions are drawn (then the first
  // open one)
  const active = () => {
    if (state.active === null && settled()) state.active = firstOpen();
    return state.active === null ? firstOpen() : state.active;
  };
  const highlight = () => {
    const a = active();
    groups().forEach((g, i) => g.classList.toggle('protoecg-active', i === a));
  };
  const answer = (digit) => {
    const all = groups();
    if (!all.length) return false;
    state.active = Math.min(active(), all.length - 1);
    const group = all[state.active];
    const choice = group.querySelectorAll('label')[digit - 1];
    if (!choice) return false;
    choice.click();
    if (state.active < all.length - 1) state.active += 1;
    highlight();
    return true;
  };
  const toTop = () => {
    window.scrollTo(0, 0);
    doc.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"], ' +
                         'section.main').forEach(e => { e.scrollTop = 0; });
  };
  setInterval(() => {  // follows the card shown; replays keys kept during a change
    const m = marker();
    if (!m) return;  // between two renders of the page
    const card = m.dataset.card;
    if (card !== state.card) {
      if (state.card !== null) toTop();
      doc.body.classList.remove('protoecg-zoom-on');
      state.card = card;
      state.active = null;
    }
    if (state.pending !== null && settled() && Date.now() - state.since > 150) {
      // the change finished (a new card, or the same one when saving was refused)
      if (card !== state.pending || Date.now() - state.since > 400) {
        state.pending = null;
        state.active = null;
        state.since = Date.now();
      }
    }
    // keys kept during the change go in one at a time, each once the app has taken the one
    // before (two answers sent within a few ms of each other can lose the first)
    if (state.pending === null && state.queue.length && settled()
        && Date.now() - state.since > 250) {
      answer(state.queue.shift());
      state.since = Date.now();
    }
    highlight();
  }, 50);
  doc.addEventListener('keydown', (e) => {
    const tag = (e.target.tagName || '').toLowerCase();
    if (tag === 'textarea' || (tag === 'input' && !['radio', 'checkbox']
        .includes(e.target.type))) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[1-9]$/.test(e.key)) {
      e.preventDefault(); e.stopPropagation();
      if (state.pending !== null || state.queue.length) {  // in order, after the kept ones
        state.queue.push(parseInt(e.key, 10)); return;
      }
      answer(parseInt(e.key, 10));
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const n = groups().length;
      if (!n) return;
      state.active = Math.max(0, Math.min(n - 1, active() + (e.key === 'ArrowDown' ? 1 : -1)));
      highlight();
      // ours, not the focused radio group's (which would change its answer)
      e.preventDefault(); e.stopPropagation();
    } else if (e.key === 'Enter' || e.key === 'ArrowLeft') {
      if (state.pending !== null) { e.preventDefault(); return; }
      const target = button(e.key === 'Enter' ? 'Save & next' : 'Back');
      if (target) {
        state.pending = state.card; state.since = Date.now();
        target.click(); e.preventDefault(); e.stopPropagation();
      }
    }
  }, true);  // capture phase: widgets may stop the event from bubbling
  // Caliper: two clicks on a drawing give the time and amplitude between them (as with
  // calipers on paper); a third click starts again. The zoom control shows the window chart
  // over the whole page (Esc or the control again closes it).
  const SVGNS = 'http://www.w3.org/2000/svg';
  const calipers = new WeakMap();
  const caliper = (svg, e) => {
    const point = svg.createSVGPoint();
    point.x = e.clientX; point.y = e.clientY;
    const p = point.matrixTransform(svg.getScreenCTM().inverse());
    let marks = calipers.get(svg) || [];
    if (marks.length >= 2) {
      svg.querySelectorAll('.protoecg-caliper').forEach(n => n.remove());
      marks = [];
    }
    marks.push(p);
    calipers.set(svg, marks);
    const dot = doc.createElementNS(SVGNS, 'circle');
    dot.setAttribute('class', 'protoecg-caliper');
    dot.setAttribute('cx', p.x); dot.setAttribute('cy', p.y); dot.setAttribute('r', 0.9);
    dot.setAttribute('fill', '#d62728');
    svg.appendChild(dot);
    if (marks.length === 2) {
      const [a, b] = marks;
      const line = doc.createElementNS(SVGNS, 'path');
      line.setAttribute('class', 'protoecg-caliper');
      line.setAttribute('d', `M${a.x},${a.y}H${b.x}V${b.y}`);
      line.setAttribute('stroke', '#d62728'); line.setAttribute('stroke-width', 0.35);
      line.setAttribute('fill', 'none'); line.setAttribute('stroke-dasharray', '1 0.6');
      svg.appendChild(line);
      const perS = parseFloat(svg.dataset.mmPerS), perUnit = parseFloat(svg.dataset.mmPerUnit);
      const ms = Math.abs(b.x - a.x) / perS * 1000, amp = (a.y - b.y) / perUnit;
      const text = `Δt ${ms.toFixed(0)} ms (${(60000 / Math.max(ms, 1)).toFixed(0)}/min)` +
          ` · Δ ${amp >= 0 ? '+' : ''}${amp.toFixed(2)} ${svg.dataset.units}`;
      const label = doc.createElementNS(SVGNS, 'text');
      label.setAttribute('class', 'protoecg-caliper');
      label.setAttribute('x', Math.min(a.x, b.x));
      label.setAttribute('y', Math.min(a.y, b.y) - 1.5);
      label.setAttribute('font-size', 3.6); label.setAttribute('fill', '#d62728');
      label.setAttribute('font-family', 'sans-serif'); label.setAttribute('font-weight', 'bold');
      label.textContent = text;
      svg.appendChild(label);
      svg.setAttribute('data-caliper', text);
    }
  };
  doc.addEventListener('click', (e) => {
    const zoom = e.target.closest && e.target.closest('.protoecg-zoom');
    if (zoom) { doc.body.classList.toggle('protoecg-zoom-on'); e.preventDefault(); return; }
    const svg = e.target.closest && e.target.closest('.protoecg-chart svg');
    if (svg) caliper(svg, e);
  });
  doc.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') doc.body.classList.remove('protoecg-zoom-on');
  });
  doc.addEventListener('click', (e) => {  // the mouse on Save & next / Back / Skip
    const group = e.target.closest && e.target.closest('div[role="radiogroup"]');
    if (group && e.isTrusted) {  // an answer by mouse: the keys go on from the next question
      const all = groups();
      state.active = Math.min(all.indexOf(group) + 1, all.length - 1);
    }
    const b = e.target.closest && e.target.closest('button');
    if (b && ['Save & next', 'Back', 'Skip'].includes(b.innerText.trim())) {
      state.pending = state.card; state.since = Date.now();
    }
  }, true);
})();
</script>
"""


KEYS_HELP = ("**Keys:** 1–5 answer the outlined question · ↑ ↓ choose it · Enter saves and "
             "moves on · ← goes back · Esc closes the zoom")
# raters have no sidebar, so no header either; the panel sits at the top of the window
CARD_STYLE = ('<style>[data-testid="stHeader"] { display: none; } '
              'div[data-testid="stMainBlockContainer"] { padding-top: 0.75rem !important; } '
              'div[data-testid="stColumn"]:has(.protoecg-panel) { top: 0.5rem; '
              'max-height: calc(100vh - 1rem); }</style>')


def _keys(study) -> dict[str, str]:
    """The answer widgets' keys: the same on every card, so that a card change updates the
    widgets in the browser instead of making new ones (``_show_answers`` loads each card's)."""
    keys = {q.id: f"q::{q.id}" for q in study.protocol.questions}
    keys.update({f.id: f"f::{f.id}" for f in study.protocol.flags})
    if study.protocol.comment_enabled:
        keys["comment"] = "c::comment"
    return keys


def _show_answers(prototype_id: str, study, answers: dict) -> None:
    """Put a card's own answers (or nothing) into the answer widgets, once per card shown."""
    if st.session_state.get("answers_of") == prototype_id:
        return
    for answer_id, key in _keys(study).items():
        if answer_id == "comment":
            st.session_state[key] = answers.get("comment", "")
        elif answer_id in {f.id for f in study.protocol.flags}:
            st.session_state[key] = bool(answers.get(answer_id, False))
        else:
            st.session_state[key] = answers.get(answer_id)
    st.session_state["answers_of"] = prototype_id


def _move(delta: int, total: int) -> None:
    st.session_state["cursor"] = min(max(st.session_state.get("cursor", 0) + delta, 0),
                                     total - 1)
    st.session_state.pop("notice", None)


def _save(prototype_id: str, total: int) -> None:
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
        try:
            study_answers.save_answers(store, common.reviewer_of(user), prototype_id, answers)
        except ProtoECGError as exc:
            st.session_state["notice"] = ("error", str(exc))
            return
    _move(1, total)
    st.session_state["notice"] = ("success", f"Saved {prototype_id}.")


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
                        "Ask the study's researcher to run `protoecg study assign`.")
                return
            if "cursor" not in st.session_state:
                # a reload comes back to the card in the address bar, else the first open one
                wanted = st.query_params.get("card")
                ids = [i.prototype_id for i in items]
                st.session_state["cursor"] = ids.index(wanted) if wanted in ids else next(
                    (i for i, item in enumerate(items) if not item.complete), 0)
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
    info = class_info(row["class_code"])
    done = sum(i.complete for i in items)
    # Few elements: each is one message and one update in the browser, and a card change
    # costs about 3 ms per element on this hardware. The marker the page's key handler
    # follows rides with the left column's first element.
    left, right = st.columns([13, 6], gap="medium")
    with left:
        title = html.escape(f"{row['class_code']} — "
                            f"{info['description'] or row['class_description']}")
        where = html.escape(f"{row['branch']} prototype {row['prototype_id']} · record "
                            f"{row['source_record_id']} ({row['source_dataset']}) · "
                            f"{row['window_start_s']:.2f}–{row['window_end_s']:.2f} s · "
                            f"{charts['note']}")
        st.markdown(
            f'<div class="protoecg-hidden protoecg-card" '
            f'data-card="{html.escape(item.prototype_id)}">{CARD_STYLE}</div>'
            f'<h3 class="protoecg-title">{title}</h3><p class="protoecg-where">{where}</p>',
            unsafe_allow_html=True, help="; ".join(info["details"]) or None)
        if charts["whole"]:
            _drawing(charts["record"], "protoecg-whole")
        else:
            st.markdown(
                f'<div class="protoecg-chart protoecg-window">{charts["window"]}</div>'
                '<div class="protoecg-tools"><span class="protoecg-zoom" role="button" '
                'tabindex="0">⤢ Zoom the window</span> · caliper: click two points on a '
                f'tracing</div><div class="protoecg-chart protoecg-record">{charts["record"]}'
                '</div>', unsafe_allow_html=True)
        if row.get("source_report"):
            with st.expander("Report of the source record"):
                st.text(row["source_report"])
        if charts["neighbours"] and st.toggle("Compare with the nearest other training windows",
                                              key="show_neighbours"):
            for n in charts["neighbours"]:
                st.caption(f"#{n['rank']}: record {n['record_id']}, "
                           f"{n['start_s']:.2f}–{n['end_s']:.2f} s")
                _drawing(n["svg"], "protoecg-neighbour")
    with right:
        st.progress(done / len(items), text=f"{done} of {len(items)} complete · card "
                                             f"{cursor + 1} of {len(items)}")
        if done == len(items):
            st.success("All your prototypes are rated. Thank you! You can still revise answers.")
        keys = _keys(study)
        _show_answers(item.prototype_id, study, answers)
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
            st.text_area(study.protocol.comment_label,
                         key=keys["comment"], max_chars=study_answers.COMMENT_MAX_CHARS,
                         height=68)
        notice = st.session_state.get("notice")
        if notice:
            getattr(st, notice[0])(notice[1])
        with st.container(horizontal=True, wrap=False):
            st.button("Back", on_click=_move, args=(-1, len(items)), disabled=cursor == 0,
                      key="back", width="stretch")
            st.button("Skip", on_click=_move, args=(1, len(items)), key="skip",
                      disabled=cursor == len(items) - 1, width="stretch")
            st.button("Save & next", type="primary", on_click=_save,
                      args=(item.prototype_id, len(items)), key="save", width="stretch")
        # shown before the first card, as the protocol asks; one click away afterwards
        with st.expander("Instructions and keys", expanded=done == 0 and not answers):
            paragraphs = [" ".join(p.split())  # the protocol's text is hard-wrapped
                          for p in study.protocol.instructions.split("\n\n")]
            st.markdown("\n\n".join([*paragraphs, KEYS_HELP]))
    st.html(f'<div class="protoecg-element-hidden protoecg-card-end" '
            f'data-card="{html.escape(item.prototype_id)}"></div>{KEYBOARD}',
            unsafe_allow_javascript=True)
    if upcoming is not None:  # drawn while this card is being rated (started last, so that
        # drawing it does not hold up sending this one)
        prefetch(common.database_path(), study.name, upcoming["prototype"])


render()
