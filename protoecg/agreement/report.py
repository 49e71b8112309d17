"""Study reports: the statistics of ``statistics.py`` per question, branch and class, rater
summaries, flags, widest disagreements; written as ``ratings.csv``, ``summary.json`` and a
self-contained ``report.html`` (charts inlined as SVG, no network needed to open it)."""

from __future__ import annotations

import html
import json
import time
import warnings
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

from protoecg import __version__
from protoecg.agreement.formatting import format_statistic
from protoecg.agreement.irrcac import DEFINITIONS as IRRCAC_DEFINITIONS
from protoecg.agreement.irrcac import irrcac_statistics
from protoecg.agreement.statistics import STATISTICS, statistics_with_ci
from protoecg.catalog.quality import quality_table
from protoecg.study.answers import current_answers, status
from protoecg.study.cards import card_charts
from protoecg.study.consensus import consensus_table
from protoecg.study.ratings_csv import export_ratings
from protoecg.study.rounds import counterparts
from protoecg.study.store import ReviewStore, Study

BRANCH_STATISTICS = ("krippendorff_alpha_ordinal", "percent_agreement", "within_one_agreement")


def _matrix(answers: pd.DataFrame, question: str, prototypes: list[str]
            ) -> tuple[np.ndarray, list[str]]:
    rows = answers[answers["question"] == question]
    raters = sorted(rows["reviewer"].unique())
    matrix = np.full((len(prototypes), len(raters)), np.nan)
    p_index = {p: i for i, p in enumerate(prototypes)}
    r_index = {r: j for j, r in enumerate(raters)}
    for row in rows.itertuples():
        matrix[p_index[row.prototype_id], r_index[row.reviewer]] = float(row.answer)
    return matrix, raters


def _statistics(matrix: np.ndarray, values: list[int], indices: np.ndarray,
                keys=tuple(STATISTICS)) -> dict:
    return statistics_with_ci(matrix, values, indices, tuple(keys))


MIN_GROUP_PROTOTYPES = 2  # agreement within a branch or class needs two rated prototypes


def _too_few(keys, n: int) -> dict:
    reason = (f"{n} rated prototype{'s' if n != 1 else ''} in this group; agreement needs at "
              f"least {MIN_GROUP_PROTOTYPES}")
    return {key: {"value": None, "ci": [None, None], "reason": reason} for key in keys}


def summarize_study(store: ReviewStore, study: Study, n_resamples: int = 1000,
                    seed: int = 42, with_rounds: bool = True,
                    use_consensus: bool = False) -> dict:
    """Everything ``summary.json`` holds (JSON-ready); for a later round also ``rounds``, the
    comparison with the previous round. Agreement is always the raters'; ``use_consensus``
    adds ``final``: per prototype and question the researchers' consensus where there is one,
    else the raters' mean, and the per-class means of those final answers."""
    answers = current_answers(store, study)
    meta = pd.DataFrame([(p.prototype_id, p.branch, p.class_code)
                         for p in store.prototypes(study)],
                        columns=["prototype_id", "branch", "class_code"])
    prototypes = list(meta["prototype_id"])
    rng = np.random.default_rng(seed)
    summary: dict = {
        "study": study.name, "protoecg_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "protocol": study.protocol.to_dict(), "completion": status(store, study),
        "bootstrap": {"resamples": n_resamples, "seed": seed, "unit": "prototype",
                      "method": "percentile"},
        "definitions": {key: s.definition for key, s in STATISTICS.items()},
        "definitions_irrcac": IRRCAC_DEFINITIONS,
        "catalog": {key: study.catalog_meta.get(key) for key in (
            "model_sha256", "dataset", "run", "created", "n_prototypes", "similarity",
            "signal_preprocessing")} | {"path": study.catalog_path,
                                        "prototypes_in_study": len(prototypes)},
        "questions": {}, "by_branch": {}, "by_class": {}, "raters": {}, "flags": {},
        "widest_disagreement": [], "comments": [],
        # what the catalog measured of its prototypes (issue 29); None: an older catalog
        "prototype_quality": study.catalog_meta.get("prototype_quality"),
        "degenerate_branches_allowed": study.catalog_meta.get("degenerate_branches_allowed"),
    }
    for question in study.protocol.questions:
        values = question.values
        matrix, raters = _matrix(answers, question.id, prototypes)
        rated = np.isfinite(matrix).any(axis=1)
        indices = rng.integers(0, len(prototypes), size=(n_resamples, len(prototypes))) \
            if prototypes else np.zeros((0, 0), int)
        observed = matrix[np.isfinite(matrix)]
        entry = {
            "n_prototypes": int(rated.sum()), "n_raters": len(raters),
            "n_answers": int(observed.size),
            "mean": float(observed.mean()) if observed.size else None,
            "distribution": {str(v): int((observed == v).sum()) for v in values},
            **_statistics(matrix, values, indices),
            # the same resamples, irrCAC's definitions (what researchers reproduce in R)
            "irrcac": irrcac_statistics(matrix, values, indices),
        }
        summary["questions"][question.id] = entry
        for group, column, target in (("by_branch", "branch", BRANCH_STATISTICS),
                                      ("by_class", "class_code", BRANCH_STATISTICS)):
            for name, part in meta.groupby(column, sort=True):
                keep = np.isin(prototypes, part["prototype_id"])
                sub = matrix[keep]
                sub_obs = sub[np.isfinite(sub)]
                if sub_obs.size == 0:
                    continue
                sub_indices = rng.integers(0, len(sub), size=(n_resamples, len(sub)))
                n_rated = int(np.isfinite(sub).any(axis=1).sum())
                summary[group].setdefault(name, {})[question.id] = {
                    "n_prototypes": n_rated,
                    "n_answers": int(sub_obs.size), "mean": float(sub_obs.mean()),
                    "mean_ci": _mean_ci(sub_obs, values[0], values[-1]),
                    "distribution": {str(v): int((sub_obs == v).sum()) for v in values},
                    **(_statistics(sub, values, sub_indices, target)
                       if n_rated >= MIN_GROUP_PROTOTYPES else _too_few(target, n_rated)),
                }
        for j, rater in enumerate(raters):
            mine = matrix[:, j]
            have = np.isfinite(mine)
            others = np.delete(matrix, j, axis=1)
            with warnings.catch_warnings():  # prototypes no other rater answered -> NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                other_mean = np.nanmean(others, axis=1) if others.shape[1] else \
                    np.full(len(mine), np.nan)
            both = have & np.isfinite(other_mean)
            summary["raters"].setdefault(rater, {})[question.id] = {
                "n": int(have.sum()), "mean": float(mine[have].mean()) if have.any() else None,
                # leniency: how much higher this rater answers than the others on the same
                # prototypes (positive = more lenient)
                "leniency": float((mine[both] - other_mean[both]).mean()) if both.any()
                else None,
            }
        with warnings.catch_warnings():  # unanswered prototypes -> NaN spread
            warnings.simplefilter("ignore", RuntimeWarning)
            spread = np.nanmax(matrix, axis=1) - np.nanmin(matrix, axis=1) \
                if matrix.size else np.array([])
        for i in np.argsort(-np.nan_to_num(spread, nan=-1))[:10]:
            if not np.isfinite(spread[i]) or spread[i] < 1:
                continue
            summary["widest_disagreement"].append({
                "prototype_id": prototypes[i], "question": question.id,
                "spread": int(spread[i]),
                "answers": {r: int(matrix[i, j]) for j, r in enumerate(raters)
                            if np.isfinite(matrix[i, j])}})
    summary["widest_disagreement"].sort(key=lambda d: (-d["spread"], d["prototype_id"]))
    comments = answers[answers["question"] == "comment"]
    summary["comments"] = [{"prototype_id": r.prototype_id, "rater": r.reviewer,
                            "comment": str(r.answer)} for r in comments.itertuples()]
    for flag in study.protocol.flags:
        rows = answers[answers["question"] == flag.id]
        summary["flags"][flag.id] = {
            "label": flag.label, "n_flags": int(len(rows)),
            "n_prototypes": int(rows["prototype_id"].nunique()),
            "prototypes": rows.groupby("prototype_id").size().sort_values(
                ascending=False).to_dict()}
    flagged = {pid for f in summary["flags"].values() for pid in f["prototypes"]}
    summary["answers_by_prototype"] = {  # of the flagged prototypes, for their table
        pid: {q.id: [float(v) for v in part.loc[part["question"] == q.id, "answer"]]
              for q in study.protocol.questions}
        for pid, part in answers.groupby("prototype_id", sort=False) if pid in flagged}
    if with_rounds and study.previous_id is not None:
        summary["rounds"] = compare_rounds(store, study, summary, answers, n_resamples, seed)
    if use_consensus:
        summary["final"] = _final_answers(store, study, answers, meta)
    return summary


def _mean_ci(values: np.ndarray, low: float, high: float) -> list[float | None]:
    """95% CI of a mean of answers (normal approximation, kept within the scale's range
    [low, high]; None for fewer than 2 answers)."""
    if values.size < 2:
        return [None, None]
    half = 1.96 * float(values.std(ddof=1)) / np.sqrt(values.size)
    return [float(max(values.mean() - half, low)), float(min(values.mean() + half, high))]


def _final_answers(store: ReviewStore, study: Study, answers: pd.DataFrame,
                   meta: pd.DataFrame) -> dict:
    """Per prototype and question the consensus (where recorded) or else the raters' mean;
    per class the mean of those final answers; how many came from consensus."""
    decided = {(r.prototype_id, r.question): (int(r.value), r.note, r.researcher)
               for r in consensus_table(store, study).itertuples()}
    per_prototype, by_class = {}, {}
    classes = dict(zip(meta["prototype_id"], meta["class_code"], strict=True))
    for question in study.protocol.questions:
        rows = answers[answers["question"] == question.id]
        means = rows.assign(answer=rows["answer"].astype(float)).groupby(
            "prototype_id")["answer"].mean()
        for pid in meta["prototype_id"]:
            if (pid, question.id) in decided:
                value, note, who = decided[(pid, question.id)]
                entry = {"value": value, "source": "consensus", "note": note, "by": who}
            elif pid in means.index:
                entry = {"value": float(means[pid]), "source": "raters' mean"}
            else:
                continue
            per_prototype.setdefault(pid, {})[question.id] = entry
            by_class.setdefault(classes[pid], {}).setdefault(question.id, []).append(
                entry["value"])
    return {"prototypes": per_prototype,
            "by_class": {c: {q: {"mean": float(np.mean(v)), "n_prototypes": len(v)}
                             for q, v in parts.items()} for c, parts in by_class.items()},
            "n_consensus": len(decided)}


ROUND_STATISTICS = ("krippendorff_alpha_ordinal", "percent_agreement")


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def compare_rounds(store: ReviewStore, study: Study, summary: dict, answers: pd.DataFrame,
                   n_resamples: int, seed: int) -> dict:
    """This round beside the previous one: per question the mean rating and agreement of each
    round, the mean change over the prototypes that continue an earlier one; per prototype its
    answers in both rounds (researchers only: raters never see this)."""
    previous = store.study_by_id(study.previous_id)
    before = summarize_study(store, previous, n_resamples, seed, with_rounds=False)
    earlier = current_answers(store, previous)
    pairs = counterparts(store, study)

    def answers_of(frame: pd.DataFrame, pid: str | None, question: str) -> list[float]:
        if pid is None:
            return []
        rows = frame[(frame["prototype_id"] == pid) & (frame["question"] == question)]
        return [float(v) for v in rows["answer"]]

    questions = [q.id for q in study.protocol.questions]
    prototypes = []
    for pid, old in pairs.items():
        entry = {"prototype_id": pid, "previous_id": old, "questions": {}, "bad": {
            "previous": len(answers_of(earlier, old, "bad")),
            "current": len(answers_of(answers, pid, "bad"))}}
        for q in questions:
            was, now = answers_of(earlier, old, q), answers_of(answers, pid, q)
            entry["questions"][q] = {"previous_answers": was, "current_answers": now,
                                     "previous_mean": _mean(was), "current_mean": _mean(now)}
        prototypes.append(entry)
    per_question = {}
    for q in questions:
        changes = [p["questions"][q]["current_mean"] - p["questions"][q]["previous_mean"]
                   for p in prototypes if p["questions"][q]["current_mean"] is not None
                   and p["questions"][q]["previous_mean"] is not None]
        per_question[q] = {
            "previous": {"mean": before["questions"][q]["mean"],
                         **{k: before["questions"][q][k] for k in ROUND_STATISTICS}},
            "current": {"mean": summary["questions"][q]["mean"],
                        **{k: summary["questions"][q][k] for k in ROUND_STATISTICS}},
            "matched_prototypes": len(changes),
            "mean_change_matched": float(np.mean(changes)) if changes else None,
        }
    return {"previous_study": previous.name, "questions": per_question,
            "prototypes": prototypes}


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


def flag_pictures(store: ReviewStore, study: Study, summary: dict) -> dict[str, str]:
    """A small drawing (SVG) of every flagged prototype: its window in 12 leads, or the record
    for a whole-record prototype."""
    flagged = {pid for f in summary["flags"].values() for pid in f["prototypes"]}
    out = {}
    for prototype in store.prototypes(study):
        if prototype.prototype_id in flagged:
            charts = card_charts(store, study, store.prototype_snapshot(prototype.pk),
                                 n_neighbours=0)
            out[prototype.prototype_id] = charts["record"] if charts["whole"] \
                else charts["window"]
    return out


def methods_paragraph(summary: dict, study: Study) -> str:
    """A methods paragraph written from the figures, to paste into a paper."""
    c, b = summary["completion"], summary["bootstrap"]
    questions = study.protocol.questions
    scale = questions[0].scale if questions else ()
    return (
        f"{_plural(c['raters'], 'rater')} rated {_plural(c['prototypes'], 'prototype')} of "
        f"a ProtoECGNet model (catalog of {summary['catalog'].get('dataset') or 'unknown'} "
        f"training ECGs, model SHA-256 {str(summary['catalog'].get('model_sha256'))[:12]}…) "
        f"under protocol {study.protocol.id} v{study.protocol.version}, answering "
        f"{_plural(len(questions), 'question')} on a {len(scale)}-point scale "
        + (f"({scale[0].value} = {scale[0].label} to {scale[-1].value} = {scale[-1].label}) "
           if scale else "")
        + f"with no answer preselected; {c['complete']:.1%} of the {c['assignments']} "
        f"assignments were complete. Agreement is reported per question as Krippendorff's "
        f"alpha (ordinal and interval), Fleiss' kappa, Gwet's AC1/AC2, the intraclass "
        f"correlation and percent agreement, each with a 95% percentile bootstrap confidence "
        f"interval over prototypes ({b['resamples']} resamples, seed {b['seed']}); a "
        f"statistic undefined for the data is reported as such with the reason. Means per "
        f"class are given with normal-approximation 95% CIs over answers, kept within the "
        f"scale. Flags mark a "
        f"prototype as the best or a bad example of its class.")


def render_html(summary: dict, study: Study, pictures: dict[str, str] | None = None) -> str:
    """report.html: self-contained (charts and drawings inline), every text escaped; undefined
    statistics show a dash and why, never a null."""
    pictures = pictures or {}
    questions = study.protocol.questions
    cat = summary["catalog"]
    parts = [f"<h1>Prototype review report: {html.escape(summary['study'])}</h1>",
             f"<p>protocol <b>{html.escape(study.protocol.title)}</b> "
             f"({html.escape(study.protocol.id)} v{html.escape(study.protocol.version)}) · "
             f"generated {html.escape(summary['created'])} by protoecg "
             f"{html.escape(summary['protoecg_version'])}</p>",
             "<p>catalog <code>" + html.escape(str(cat.get("path"))) + "</code> · dataset "
             + html.escape(str(cat.get("dataset") or "unknown")) + " · model SHA-256 <code>"
             + html.escape(str(cat.get("model_sha256") or "unknown")) + "</code> · "
             + _plural(cat["prototypes_in_study"], "prototype") + " in this study</p>"]
    c = summary["completion"]
    parts.append(f"<h2>Completion</h2><p>{_plural(c['prototypes'], 'prototype')}, "
                 f"{_plural(c['raters'], 'rater')}, {_plural(c['assignments'], 'assignment')}, "
                 f"{_plural(c['ratings'], 'rating')}, {c['complete']:.1%} of assignments "
                 "complete.</p>")
    parts.append(_quality_html(summary))
    parts.append("<h2>Methods</h2><p>" + html.escape(methods_paragraph(summary, study))
                 + "</p>")
    parts.append("<h2>Questions</h2><ul>" + "".join(
        f"<li><b>{html.escape(q.id)}</b>: {html.escape(q.prompt)} (scale "
        + ", ".join(f"{p.value} = {html.escape(p.label)}" for p in q.scale) + ")</li>"
        for q in questions) + "</ul>")
    header = "".join(f"<th>{html.escape(q.id)}</th>" for q in questions)
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
    parts.append(f"<h2>Agreement</h2><p>Value [95% CI: percentile bootstrap over prototypes, "
                 f"{b['resamples']} resamples, seed {b['seed']}]. A dash means undefined for "
                 f"these data, with the reason.</p><table><tr><th>statistic</th>{header}</tr>"
                 f"<tr><td>data</td>{counts}</tr>{rows}</table>")

    def group_table(title: str, key: str, column: str) -> str:
        body = "".join(
            f"<tr><td>{html.escape(name)}</td>" + "".join(
                f"<td>{_mean_cell(parts_[q.id])}; α "
                f"{format_statistic(parts_[q.id]['krippendorff_alpha_ordinal'], 'html')}</td>"
                if q.id in parts_ and "krippendorff_alpha_ordinal" in parts_[q.id]
                else (f"<td>{_mean_cell(parts_[q.id])}</td>" if q.id in parts_
                      else "<td>— <span class=reason>(no answers)</span></td>")
                for q in questions) + "</tr>"
            for name, parts_ in summary[key].items())
        return (f"<h2>{title}</h2><table><tr><th>{column}</th>{header}</tr>{body}</table>")

    irr_rows = "".join(
        f"<tr><td>{html.escape(definition)}</td>" + "".join(
            f"<td>{format_statistic(summary['questions'][q.id]['irrcac'][key], 'html')}</td>"
            for q in questions) + "</tr>"
        for key, definition in summary["definitions_irrcac"].items())
    parts.append(
        "<h2>Agreement as irrCAC defines it</h2><p>The same answers and resamples through "
        "Gwet's irrCAC definitions for raw ratings with missing answers (Gwet 2014; R package "
        "irrCAC), for comparison with studies that report them. They differ from the table "
        "above where the definitions differ: irrCAC's Fleiss' kappa uses every prototype with "
        "two or more answers (above: only those with the most common number of answers), and "
        "its percent agreement averages prototypes (above: it pools rater pairs); its "
        f"Krippendorff's alpha here is nominal (above: ordinal).</p><table><tr><th>"
        f"coefficient</th>{header}</tr>{irr_rows}</table>")
    parts.append(group_table("By branch", "by_branch", "branch"))
    parts.append(group_table("By class", "by_class", "class"))
    for title, svg in _charts(summary, questions):
        parts.append(f"<h2>{html.escape(title)}</h2><div class=chart>{svg}</div>")
    flag_rows = "".join(f"<tr><td>{html.escape(f['label'])}</td><td>{f['n_flags']}</td>"
                        f"<td>{f['n_prototypes']}</td></tr>" for f in summary["flags"].values())
    parts.append("<h2>Flags</h2><table><tr><th>flag</th><th>flags</th><th>prototypes</th></tr>"
                 f"{flag_rows}</table>")
    parts.append(_flagged_html(summary, questions, pictures))
    wide = "".join(
        f"<tr><td>{html.escape(d['prototype_id'])}</td><td>{html.escape(d['question'])}</td>"
        f"<td>{d['spread']}</td><td>"
        + html.escape(" · ".join(f"{r}: {v}" for r, v in d["answers"].items())) + "</td></tr>"
        for d in summary["widest_disagreement"][:20])
    parts.append("<h2>Widest disagreements</h2><table><tr><th>prototype</th><th>question</th>"
                 f"<th>spread</th><th>answers</th></tr>{wide}</table>")
    comments = "".join(f"<tr><td>{html.escape(x['prototype_id'])}</td><td>"
                       f"{html.escape(x['rater'])}</td><td>{html.escape(x['comment'])}</td></tr>"
                       for x in summary["comments"])
    parts.append("<h2>Comments</h2>" + (
        f"<table><tr><th>prototype</th><th>rater</th><th>comment</th></tr>{comments}</table>"
        if comments else "<p>No comments.</p>"))
    if "final" in summary:
        parts.append(_final_html(summary["final"], questions))
    if "rounds" in summary:
        parts.append(_rounds_html(summary["rounds"], questions))
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
             "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
             "#ccc;padding:4px 8px;text-align:left;vertical-align:top}.ci,.reason{color:#666;"
             "font-size:90%}.chart svg{max-width:100%;height:auto}.ecg svg{width:320px;"
             "height:auto}")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Report "
            f"{html.escape(summary['study'])}</title><style>{style}</style></head><body>"
            + "\n".join(parts) + "</body></html>")


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


def write_report(store: ReviewStore, study: Study, out: str | Path, n_resamples: int = 1000,
                 seed: int = 42, use_consensus: bool = False) -> dict:
    """Write ratings.csv, summary.json and report.html into ``out``; return the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    export_ratings(store, study, out / "ratings.csv")
    summary, page = build_report(store, study, n_resamples, seed, use_consensus)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.html").write_text(page)
    return summary


def build_report(store: ReviewStore, study: Study, n_resamples: int = 1000, seed: int = 42,
                 use_consensus: bool = False) -> tuple[dict, str]:
    """(summary, report.html) in memory: what `protoecg report` writes and the app offers."""
    summary = summarize_study(store, study, n_resamples, seed, use_consensus=use_consensus)
    return summary, render_html(summary, study, flag_pictures(store, study, summary))


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
