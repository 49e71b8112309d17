"""report.html of a blind A/B comparison study (issue 32): the methods paragraph written from
the figures, per task the models' share of "good" (a chart per label), the participant-level
tests, the preferences, and agreement. Self-contained, every text escaped."""

from __future__ import annotations

import html

from protoecg.agreement.report_html import STYLE

COLOURS = ("#1f77b4", "#d62728")


def _pct(part: dict) -> str:
    if part["proportion"] is None:
        return "–"
    return f"{part['n_yes']}/{part['n_total']} ({100 * part['proportion']:.0f}%)"


def _p(value) -> str:
    return "–" if value is None else (f"{value:.3f}" if value >= 0.001 else "< 0.001")


def _num(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def methods_paragraph(summary: dict) -> str:
    """Written from the figures, to paste into a paper."""
    c = summary["comparison"]
    first, second = c["models"]
    tasks = ", ".join(f"“{t}”" for t in c["tasks"])
    return (f"{c['n_raters']} raters judged {c['n_cases_answered']} cases (of "
            f"{c['n_cases']}; labels {', '.join(c['labels'])}) in a blinded comparison of two "
            f"models, {first} and {second}: for each case each model's prototype was shown as A "
            f"or B in an order drawn per case, and the raters answered whether each was good "
            f"for the tasks {tasks}, then which they preferred (A, B, both or neither). Per "
            f"task, each rater's proportion of answers “good” was computed per model, and the "
            f"difference ({c['difference']}) was tested over raters with the two-sided exact "
            f"Wilcoxon signed-rank test (zero differences dropped), the paired t test and the "
            f"sign test, with its 95% t interval. Agreement on the good / not answers is "
            f"Fleiss' kappa over case × task × model units, with Gwet's AC1 and its 95% "
            f"percentile bootstrap interval over units ({c['bootstrap']['resamples']} "
            f"resamples, seed {c['bootstrap']['seed']}).")


def _bars(by_label: dict, models: list[str]) -> str:
    """One horizontal bar per label and model: the share of "good" (a chart per task)."""
    rows = []
    for label, parts in by_label.items():
        for k, model in enumerate(models):
            share = parts[model]["proportion"]
            width = 0 if share is None else round(300 * share)
            rows.append(f"<tr><td>{html.escape(label) if k == 0 else ''}</td>"
                        f"<td>{html.escape(model)}</td><td><div style='width:{width}px;"
                        f"height:12px;background:{COLOURS[k]}'></div></td>"
                        f"<td>{_pct(parts[model])}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _task_html(task: str, entry: dict, models: list[str], difference: str) -> str:
    head = "".join(f"<th>{html.escape(m)}</th>" for m in models)
    overall = "".join(f"<td>{_pct(entry['models'][m])}</td>" for m in models)
    level = entry["participant_level"]
    ci = level.get("ci95")
    method = html.escape(str(level.get("wilcoxon_method", "–")))
    tests = (f"<tr><td>raters</td><td>{level['n_raters']}</td></tr>"
             f"<tr><td>mean difference ({html.escape(difference)})</td>"
             f"<td>{_num(level.get('mean_difference'))}"
             + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "") + "</td></tr>"
             f"<tr><td>Wilcoxon signed-rank p ({method})</td>"
             f"<td>{_p(level.get('wilcoxon_p'))}</td></tr>"
             f"<tr><td>paired t test p</td><td>{_p(level.get('paired_t_p'))}</td></tr>"
             f"<tr><td>sign test p</td><td>{_p(level.get('sign_test_p'))}</td></tr>")
    if level.get("reason"):
        tests += f"<tr><td colspan=2>{html.escape(level['reason'])}</td></tr>"
    prefs = entry["preferences"]
    names = [*models, "both", "neither"]
    pref_rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{counts[n]}</td>" for n in names) + "</tr>"
        for label, counts in [("all labels", prefs["overall"]), *prefs["by_label"].items()])
    return (f"<h2>Task: {html.escape(task)}</h2><h3>Answers “good”</h3><table><tr><th></th>"
            f"{head}</tr><tr><td>all labels</td>{overall}</tr></table>"
            f"<h3>Per label</h3>{_bars(entry['by_label'], models)}"
            f"<h3>Over raters</h3><table>{tests}</table>"
            f"<h3>Preferences</h3><table><tr><th>label</th>"
            + "".join(f"<th>{html.escape(n)}</th>" for n in names) + f"</tr>{pref_rows}</table>")


def _agreement_html(kappa: dict) -> str:
    def row(name: str, part: dict) -> str:
        ac1 = part["gwet_ac1"]
        shown = "–" if ac1["value"] is None else f"{ac1['value']:.3f}" + (
            f" [{ac1['ci'][0]:.3f}, {ac1['ci'][1]:.3f}]" if ac1["ci"][0] is not None else "")
        k = part["fleiss_kappa"]
        return (f"<tr><td>{html.escape(name)}</td><td>{part['n_units']}</td>"
                f"<td>{'–' if k is None else f'{k:.3f}'}</td><td>{shown}</td></tr>")

    rows = row("all labels", kappa["overall"]) + "".join(
        row(label, part) for label, part in kappa["by_label"].items())
    return ("<h2>Agreement on good / not</h2><table><tr><th>labels</th><th>units</th>"
            f"<th>Fleiss' kappa</th><th>Gwet's AC1 [95% CI]</th></tr>{rows}</table>")


def render_comparison_html(summary: dict) -> str:
    c = summary["comparison"]
    parts = [f"<h1>Comparison study {html.escape(summary['study'])}</h1>",
             f"<p>protocol {html.escape(summary['protocol']['id'])} v"
             f"{html.escape(str(summary['protocol']['version']))} · models "
             f"{html.escape(' and '.join(c['models']))}</p>",
             "<h2>Methods</h2><p>" + html.escape(methods_paragraph(summary)) + "</p>"]
    parts += [_task_html(task, entry, c["models"], c["difference"])
              for task, entry in c["tasks"].items()]
    parts.append(_agreement_html(c["fleiss_kappa"]))
    comments = summary.get("comments") or []
    if comments:
        rows = "".join(f"<tr><td>{html.escape(x['case_id'])}</td><td>{html.escape(x['rater'])}"
                       f"</td><td>{html.escape(x['comment'])}</td></tr>" for x in comments)
        parts.append("<h2>Comments</h2><table><tr><th>case</th><th>rater</th><th>comment</th>"
                     f"</tr>{rows}</table>")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Comparison "
            f"{html.escape(summary['study'])}</title><style>{STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
