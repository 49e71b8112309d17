// The rating card's keys and caliper, planted once in the app's page by
// review_app/app_pages/rate.py (its comments say what the keys do).
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
    stateScale();
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
  // Caliper: two clicks on one lead's tracing give the time and amplitude between them (as
  // with calipers on paper); a third click starts again, and so does a click on another lead
  // (two print columns show the same moment: an interval across them means nothing). Clicks
  // outside every tracing do nothing. The zoom control shows the window chart over the whole
  // page (Esc or the control again closes it).
  const SVGNS = 'http://www.w3.org/2000/svg';
  const calipers = new WeakMap();
  const leadAt = (svg, p) => {
    let boxes = [];
    try { boxes = JSON.parse(svg.dataset.leads || '[]'); } catch (_) { boxes = []; }
    return boxes.find(b => p.x >= b[1] && p.x <= b[3] && p.y >= b[2] && p.y <= b[4]) || null;
  };
  const caliper = (svg, e) => {
    const point = svg.createSVGPoint();
    point.x = e.clientX; point.y = e.clientY;
    const p = point.matrixTransform(svg.getScreenCTM().inverse());
    const lead = leadAt(svg, p);
    if (!lead) return;
    p.lead = lead.join(',');
    let marks = calipers.get(svg) || [];
    if (marks.length >= 2 || (marks.length === 1 && marks[0].lead !== p.lead)) {
      svg.querySelectorAll('.protoecg-caliper').forEach(n => n.remove());
      svg.removeAttribute('data-caliper');
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
      const text = `${lead[0]}: Δt ${ms.toFixed(0)} ms (${(60000 / Math.max(ms, 1)).toFixed(0)}/min)` +
          ` · Δ ${amp >= 0 ? '+' : ''}${amp.toFixed(2)} ${svg.dataset.units}`;
      const label = doc.createElementNS(SVGNS, 'text');
      label.setAttribute('class', 'protoecg-caliper');
      // inside the lead's box, so that the reading never covers another lead's label
      label.setAttribute('x', Math.max(Math.min(a.x, b.x), lead[1] + 0.5));
      label.setAttribute('y', Math.max(Math.min(a.y, b.y) - 1.5, lead[2] + 8));
      label.setAttribute('font-size', 3.6); label.setAttribute('fill', '#d62728');
      label.setAttribute('font-family', 'sans-serif'); label.setAttribute('font-weight', 'bold');
      label.textContent = text;
      svg.appendChild(label);
      svg.setAttribute('data-caliper', text);
    }
  };
  // The scale each drawing is shown at, stated on the card: CSS pixels per millimetre of
  // paper against the 96-dpi millimetre (3.78 px) that "paper size" means on a screen.
  const PAPER_PX_PER_MM = 96 / 25.4;
  const shownScale = (svg) => {
    const r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
    if (!vb || !vb.width || !r.width) return null;
    return Math.min(r.width / vb.width, r.height / vb.height);  // aspect kept: the tighter side
  };
  const stateScale = () => {
    const span = doc.querySelector('.protoecg-scale');
    if (!span) return;
    const parts = [];
    for (const [name, selector] of [['window', '.protoecg-window svg'],
                                    ['record', '.protoecg-record svg, .protoecg-whole svg']]) {
      const svg = doc.querySelector(selector);
      const scale = svg && shownScale(svg);
      if (!scale) continue;
      svg.dataset.pxPerMm = scale.toFixed(2);
      parts.push(`${name} ${Math.round(100 * scale / PAPER_PX_PER_MM)}%`);
    }
    const text = parts.length ? ` · on screen: ${parts.join(', ')} of paper size` : '';
    if (span.textContent !== text) span.textContent = text;
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
  // answers given but not saved: the browser asks before a reload or closing the tab
  window.addEventListener('beforeunload', (e) => {
    if (doc.querySelector('.protoecg-card-end[data-unsaved="1"]')) {
      e.preventDefault();
      e.returnValue = '';
    }
  });
})();
