"""``report.html``: a study's statistics summary (``summary.py``) written as one
self-contained page, section by section (charts and drawings inlined as SVG, no network needed
to open it; every text escaped; an undefined statistic shows a dash and why, never a null)."""

from __future__ import annotations

import html

import altair as alt
import numpy as np
import pandas as pd

from protoecg.agreement.formatting import format_statistic
from protoecg.agreement.statistics import STATISTICS
from protoecg.catalog.quality import quality_table
from protoecg.study.store import Study

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
         "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
         "#ccc;padding:4px 8px;text-align:left;vertical-align:top}.ci,.reason{color:#666;"
         "font-size:90%}.chart svg{max-width:100%;height:auto}.ecg svg{width:320px;"
         "height:auto}")


def render_html(summary: dict, study: Study, pictures: dict[str, str] | None = None) -> str:
    """report.html: self-contained (charts and drawings inline), every text escaped; undefined
    statistics show a dash and why, never a null. ``pictures``: prototype id -> SVG of the
    flagged prototypes."""
    questions = study.protocol.questions
    parts = [_heading_html(summary, study), _completion_html(summary["completion"]),
             _quality_html(summary),
             "<h2>Methods</h2><p>" + html.escape(methods_paragraph(summary, study)) + "</p>",
             _questions_html(questions), _agreement_html(summary, questions),
             _irrcac_html(summary, questions),
             _group_html(summary, questions, "By branch", "by_branch", "branch"),
             _group_html(summary, questions, "By class", "by_class", "class")]
    parts += [f"<h2>{html.escape(title)}</h2><div class=chart>{svg}</div>"
              for title, svg in _charts(summary, questions)]
    parts += [_flags_html(summary), _flagged_html(summary, questions, pictures or {}),
              _widest_html(summary), _comments_html(summary)]
    if "final" in summary:
        parts.append(_final_html(summary["final"], questions))
    if "rounds" in summary:
        parts.append(_rounds_html(summary["rounds"], questions))
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Report "
            f"{html.escape(summary['study'])}</title><style>{STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>")


def _heading_html(summary: dict, study: Study) -> str:
    """The title, the protocol and the catalog the study rated (three parts, as one)."""
    cat = summary["catalog"]
    return "\n".join([
        f"<h1>Prototype review report: {html.escape(summary['study'])}</h1>",
        f"<p>protocol <b>{html.escape(study.protocol.title)}</b> "
        f"({html.escape(study.protocol.id)} v{html.escape(study.protocol.version)}) · "
        f"generated {html.escape(summary['created'])} by protoecg "
        f"{html.escape(summary['protoecg_version'])}</p>",
        "<p>catalog <code>" + html.escape(str(cat.get("path"))) + "</code> · dataset "
        + html.escape(str(cat.get("dataset") or "unknown")) + " · model SHA-256 <code>"
        + html.escape(str(cat.get("model_sha256") or "unknown")) + "</code> · "
        + _plural(cat["prototypes_in_study"], "prototype") + " in this study</p>"])


def _completion_html(c: dict) -> str:
    return (f"<h2>Completion</h2><p>{_plural(c['prototypes'], 'prototype')}, "
            f"{_plural(c['raters'], 'rater')}, {_plural(c['assignments'], 'assignment')}, "
            f"{_plural(c['ratings'], 'rating')}, {c['complete']:.1%} of assignments "
            "complete.</p>")


def _questions_html(questions) -> str:
    return "<h2>Questions</h2><ul>" + "".join(
        f"<li><b>{html.escape(q.id)}</b>: {html.escape(q.prompt)} (scale "
        + ", ".join(f"{p.value} = {html.escape(p.label)}" for p in q.scale) + ")</li>"
        for q in questions) + "</ul>"


def _header(questions) -> str:
    """The question columns' heads of a table."""
    return "".join(f"<th>{html.escape(q.id)}</th>" for q in questions)


def _agreement_html(summary: dict, questions) -> str:
    """Every statistic of the registry per question, with its data and CI."""
    rows = "".join(
        f"<tr><td>{html.escape(summary['definitions'][key])}</td>"
        + "".join(f"<td>{format_statistic(summary['questions'][q.id][key], 'html')}</td>"
                  for q in questions)
        + "</tr>" for key in STATISTICS)
    counts = "".join(f"<td>{_plural(summary['questions'][q.id]['n_prototypes'], 'prototype')}"
                     f", {_plural(summary['questions'][q.id]['n_raters'], 'rater')}, "
                     f"{_plural(summary['questions'][q.id]['n_answers'], 'answer')}</td>"
                     for q in questions)
    b = summary["bootstrap"]
    return (f"<h2>Agreement</h2><p>Value [95% CI: percentile bootstrap over prototypes, "
            f"{b['resamples']} resamples, seed {b['seed']}]. A dash means undefined for "
            f"these data, with the reason.</p><table><tr><th>statistic</th>"
            f"{_header(questions)}</tr><tr><td>data</td>{counts}</tr>{rows}</table>")


def _irrcac_html(summary: dict, questions) -> str:
    irr_rows = "".join(
        f"<tr><td>{html.escape(definition)}</td>" + "".join(
            f"<td>{format_statistic(summary['questions'][q.id]['irrcac'][key], 'html')}</td>"
            for q in questions) + "</tr>"
        for key, definition in summary["definitions_irrcac"].items())
    return (
        "<h2>Agreement as irrCAC defines it</h2><p>The same answers and resamples through "
        "Gwet's irrCAC definitions for raw ratings with missing answers (Gwet 2014; R package "
        "irrCAC), for comparison with studies that report them. They differ from the table "
        "above where the definitions differ: irrCAC's Fleiss' kappa uses every prototype with "
        "two or more answers (above: only those with the most common number of answers), and "
        "its percent agreement averages prototypes (above: it pools rater pairs); its "
        f"Krippendorff's alpha here is nominal (above: ordinal).</p><table><tr><th>"
        f"coefficient</th>{_header(questions)}</tr>{irr_rows}</table>")


def _group_html(summary: dict, questions, title: str, key: str, column: str) -> str:
    """Per branch or class: each question's mean with its CI and, where defined, alpha."""
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>" + "".join(
            f"<td>{_mean_cell(parts_[q.id])}; α "
            f"{format_statistic(parts_[q.id]['krippendorff_alpha_ordinal'], 'html')}</td>"
            if q.id in parts_ and "krippendorff_alpha_ordinal" in parts_[q.id]
            else (f"<td>{_mean_cell(parts_[q.id])}</td>" if q.id in parts_
                  else "<td>— <span class=reason>(no answers)</span></td>")
            for q in questions) + "</tr>"
        for name, parts_ in summary[key].items())
    return (f"<h2>{title}</h2><table><tr><th>{column}</th>{_header(questions)}</tr>{body}"
            "</table>")


def _flags_html(summary: dict) -> str:
    flag_rows = "".join(f"<tr><td>{html.escape(f['label'])}</td><td>{f['n_flags']}</td>"
                        f"<td>{f['n_prototypes']}</td></tr>" for f in summary["flags"].values())
    return ("<h2>Flags</h2><table><tr><th>flag</th><th>flags</th><th>prototypes</th></tr>"
            f"{flag_rows}</table>")


def _widest_html(summary: dict) -> str:
    wide = "".join(
        f"<tr><td>{html.escape(d['prototype_id'])}</td><td>{html.escape(d['question'])}</td>"
        f"<td>{d['spread']}</td><td>"
        + html.escape(" · ".join(f"{r}: {v}" for r, v in d["answers"].items())) + "</td></tr>"
        for d in summary["widest_disagreement"][:20])
    return ("<h2>Widest disagreements</h2><table><tr><th>prototype</th><th>question</th>"
            f"<th>spread</th><th>answers</th></tr>{wide}</table>")


def _comments_html(summary: dict) -> str:
    comments = "".join(f"<tr><td>{html.escape(x['prototype_id'])}</td><td>"
                       f"{html.escape(x['rater'])}</td><td>{html.escape(x['comment'])}</td></tr>"
                       for x in summary["comments"])
    return "<h2>Comments</h2>" + (
        f"<table><tr><th>prototype</th><th>rater</th><th>comment</th></tr>{comments}</table>"
        if comments else "<p>No comments.</p>")


def _mean_cell(part: dict) -> str:
    low, high = part.get("mean_ci", [None, None])
    ci = f" [{low:.2f}–{high:.2f}]" if low is not None else ""
    return f"mean {part['mean']:.2f}{ci} (n={part['n_answers']})"


def _flagged_html(summary: dict, questions, pictures: dict[str, str]) -> str:
    """Every flagged prototype with its picture, flags, the raters' answers and comments."""
    if not any(f["prototypes"] for f in summary["flags"].values()):
        return "<h2>Flagged prototypes</h2><p>No prototype was flagged.</p>"
    comments: dict[str, list[str]] = {}
    for x in summary["comments"]:
        comments.setdefault(x["prototype_id"], []).append(f"{x['rater']}: {x['comment']}")
    answers = summary.get("answers_by_prototype", {})
    rows = []
    for flag in summary["flags"].values():
        for pid, n in flag["prototypes"].items():
            given = answers.get(pid, {})
            cells = "".join(f"<td>{html.escape(_answers(given.get(q.id, [])))}</td>"
                            for q in questions)
            rows.append(
                f"<tr><td>{html.escape(flag['label'])} ({n})</td><td>{html.escape(pid)}<div "
                f"class=ecg>{pictures.get(pid, '')}</div></td>{cells}<td>"
                + "<br>".join(html.escape(t) for t in comments.get(pid, [])) + "</td></tr>")
    head = "".join(f"<th>{html.escape(q.id)}</th>" for q in questions)
    return ("<h2>Flagged prototypes</h2><table><tr><th>flag (raters)</th><th>prototype</th>"
            f"{head}<th>comments</th></tr>" + "".join(rows) + "</table>")


def _final_html(final: dict, questions) -> str:
    decided = [(pid, q.id, e) for pid, parts in final["prototypes"].items()
               for q in questions if (e := parts.get(q.id)) and e["source"] == "consensus"]
    rows = "".join(f"<tr><td>{html.escape(pid)}</td><td>{html.escape(q)}</td><td>{e['value']}"
                   f"</td><td>{html.escape(e.get('by', ''))}</td><td>"
                   f"{html.escape(e.get('note', ''))}</td></tr>" for pid, q, e in decided)
    return ("<h2>Consensus (researchers' adjudication)</h2><p>Agreement above is the raters' "
            "own; the final answer of a prototype is the consensus where one was recorded, "
            f"else the raters' mean ({_plural(len(decided), 'consensus answer')}).</p>"
            "<table><tr><th>prototype</th><th>question</th><th>consensus</th><th>by</th>"
            f"<th>note</th></tr>{rows}</table>")


def _rounds_html(rounds: dict, questions) -> str:
    head = "".join(f"<th>{html.escape(q.id)}</th>" for q in questions)

    def cell(side: dict) -> str:
        mean = "—" if side["mean"] is None else f"{side['mean']:.2f}"
        return (f"mean {mean}; α {format_statistic(side['krippendorff_alpha_ordinal'], 'html')}"
                f"; agreement {format_statistic(side['percent_agreement'], 'html')}")

    rows = "".join(
        f"<tr><td>{label}</td>" + "".join(
            f"<td>{cell(rounds['questions'][q.id][side])}</td>" for q in questions) + "</tr>"
        for label, side in ((html.escape(rounds["previous_study"]) + " (previous)", "previous"),
                            ("this round", "current")))
    def shift(entry: dict) -> str:
        value = entry["mean_change_matched"]
        text = "—" if value is None else f"{value:+.2f}"
        return f"<td>{text} over {entry['matched_prototypes']} prototypes</td>"

    change = "".join(shift(rounds["questions"][q.id]) for q in questions)
    per = "".join(
        f"<tr><td>{html.escape(p['prototype_id'])}</td>"
        f"<td>{html.escape(p['previous_id'] or 'new')}</td>"
        + "".join(f"<td>{_answers(p['questions'][q.id]['previous_answers'])} → "
                  f"{_answers(p['questions'][q.id]['current_answers'])}</td>" for q in questions)
        + f"<td>{p['bad']['previous']} → {p['bad']['current']}</td></tr>"
        for p in rounds["prototypes"])
    return (f"<h2>This round beside {html.escape(rounds['previous_study'])}</h2>"
            f"<table><tr><th>round</th>{head}</tr>{rows}<tr><td>mean change on the same "
            f"prototypes</td>{change}</tr></table><table><tr><th>prototype</th><th>continues"
            f"</th>{head}<th>bad flags</th></tr>{per}</table>")


def _answers(values: list[float]) -> str:
    return ", ".join(f"{v:g}" for v in values) if values else "—"


def _svg(chart: alt.Chart) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_json())


def _charts(summary: dict, questions) -> list[tuple[str, str]]:
    out = []
    rows = [{"question": q.id, "answer": int(v), "label": q.label_of(int(v)), "n": n}
            for q in questions for v, n in summary["questions"][q.id]["distribution"].items()]
    if rows:
        out.append(("Answer distributions", _svg(alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
            x=alt.X("answer:O", title="answer"), y=alt.Y("n:Q", title="answers"),
            column=alt.Column("question:N", title=None),
            tooltip=["label", "n"]).properties(width=220, height=160))))
    low = min(q.values[0] for q in questions) if questions else 1
    high = max(q.values[-1] for q in questions) if questions else 5
    rows = [{"class": f"{c} (n={v['n_answers']})", "question": q, "mean": v["mean"],
             "low": v["mean_ci"][0] if v["mean_ci"][0] is not None else v["mean"],
             "high": v["mean_ci"][1] if v["mean_ci"][1] is not None else v["mean"]}
            for c, parts in summary["by_class"].items() for q, v in parts.items()]
    if rows:
        axis = alt.Scale(domain=[low, high])  # the scale's own range, not from 0
        base = alt.Chart(pd.DataFrame(rows))
        means = (base.mark_rule(color="#555").encode(
            x=alt.X("low:Q", scale=axis, title="mean answer, 95% CI"), x2="high:Q",
            y=alt.Y("class:N", sort="-x", title=None))
            + base.mark_point(filled=True, size=45).encode(
                x=alt.X("mean:Q", scale=axis), y=alt.Y("class:N", sort="-x")))
        out.append(("Mean answer per class (n answers; 95% CI)",
                    _svg(means.properties(width=260).facet(
                        column=alt.Column("question:N", title=None)))))
    rows = [{"rater": r, "question": q, "mean": v["mean"], "leniency": v["leniency"]}
            for r, parts in summary["raters"].items() for q, v in parts.items()
            if v["mean"] is not None]
    if rows:
        frame = pd.DataFrame(rows)
        cells = alt.Chart(frame).mark_rect().encode(
            x="question:N", y="rater:N",
            color=alt.Color("mean:Q", scale=alt.Scale(domain=[1, 5], scheme="blues")))
        # leniency is undefined where no other rater answered the same prototypes: "—"
        frame["shown"] = [f"{v:+.2f}" if v is not None and np.isfinite(v) else "—"
                          for v in frame["leniency"]]
        labels = alt.Chart(frame).mark_text().encode(
            x="question:N", y="rater:N", text="shown:N")
        heat = (cells + labels).properties(width=120 * len(questions),
                                           height=28 * len(summary["raters"]))
        out.append(("Raters: mean answer (colour) and leniency against the others (text)",
                    _svg(heat)))
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def methods_paragraph(summary: dict, study: Study) -> str:
    """A methods paragraph written from the figures, to paste into a paper."""
    c, b = summary["completion"], summary["bootstrap"]
    questions = study.protocol.questions
    scale = questions[0].scale if questions else ()
    return (
        f"{_plural(c['raters'], 'rater')} were assigned "
        f"{_plural(c['prototypes'], 'prototype')} of a ProtoECGNet model (catalog of "
        f"{summary['catalog'].get('dataset') or 'unknown'} "
        f"training ECGs, model SHA-256 {str(summary['catalog'].get('model_sha256'))[:12]}…) "
        f"under protocol {study.protocol.id} v{study.protocol.version}, answering "
        f"{_plural(len(questions), 'question')} on a {len(scale)}-point scale "
        + (f"({scale[0].value} = {scale[0].label} to {scale[-1].value} = {scale[-1].label}) "
           if scale else "")
        + f"with no answer preselected; {c['complete']:.1%} of the {c['assignments']} "
        f"assignments were complete. {_removed(c)}{_resting_on(summary)} Agreement is "
        f"reported per "
        f"question as Krippendorff's "
        f"alpha (ordinal and interval), Fleiss' kappa, Gwet's AC1/AC2, the intraclass "
        f"correlation and percent agreement, each with a 95% percentile bootstrap confidence "
        f"interval over prototypes ({b['resamples']} resamples, seed {b['seed']}); a "
        f"statistic undefined for the data is reported as such with the reason. Means per "
        f"class are given with normal-approximation 95% CIs over answers, kept within the "
        f"scale. Flags mark a "
        f"prototype as the best or a bad example of its class.")



def _removed(completion: dict) -> str:
    """The raters removed from the study while it ran, whose answers are kept and counted."""
    removed = completion.get("removed_raters") or []
    if not removed:
        return ""
    return (f"{_plural(len(removed), 'further rater')} removed from the study while it ran "
            f"({', '.join(removed)}); the answers they had given are kept and counted. ")


def _resting_on(summary: dict) -> str:
    """What the agreement tables rest on, from the same counts as the tables: the raters who
    answered, their answers and the prototypes answered, per question."""
    parts = [f"{q}: {_plural(e['n_answers'], 'answer')} by {_plural(e['n_raters'], 'rater')} "
             f"on {_plural(e['n_prototypes'], 'prototype')}"
             for q, e in summary["questions"].items()]
    return ("The statistics rest on the answers given (" + "; ".join(parts) + ")."
            if parts else "No answers were given.")


def _quality_html(summary: dict) -> str:
    """The catalog's prototype quality per branch (``catalog.quality``), or why it is absent."""
    rows = quality_table(summary.get("prototype_quality"))
    if not rows:
        return ("<h2>Prototype quality</h2><p>Not measured: the catalog was written before "
                "prototype quality was.</p>")
    columns = list(rows[0])
    allowed = summary.get("degenerate_branches_allowed")
    warning = (f"<p><b>This study rates a degenerate branch ({html.escape(', '.join(allowed))})"
               ": its prototypes cannot tell one window from another.</b></p>" if allowed
               else "")
    return ("<h2>Prototype quality</h2>" + warning
            + "<p>Per branch, from the catalog: distinct windows, windows overlapping another "
              "prototype's, windows within a second of the record's edge, windows centred on "
              "the wave their class is read from, purity beside class prevalence, prototypes "
              "driving at least one correct validation decision, and the spread of each "
              "prototype's similarity to the training windows (near 0: a degenerate "
              "branch).</p><table><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in columns)
                      + "</tr>" for r in rows) + "</table>")
