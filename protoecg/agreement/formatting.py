"""How a statistic and its confidence interval are written, in the HTML report and in the
app's agreement page alike."""

from __future__ import annotations

import html

import pandas as pd


def format_statistic(stat: dict, markup: str = "text") -> str:
    """``0.430 [0.312 – 0.541]``: the value and its 95% CI; ``0.430 [CI: …]`` with the
    reason when the CI is undefined; ``undefined: reason`` (``markup="html"``: a dash and the
    reason, escaped) when the value is."""
    if markup not in ("text", "html"):
        raise ValueError(f"markup must be 'text' or 'html', got {markup!r}")
    as_html = markup == "html"
    if stat.get("value") is None:
        if as_html:
            reason = html.escape(stat.get("reason", "undefined"))
            return f"— <span class=reason>({reason})</span>"
        return f"undefined: {stat.get('reason', '')}"
    low, high = stat["ci"]
    ci = f"{low:.3f} – {high:.3f}" if low is not None else stat.get("reason", "")
    if as_html:
        return f"{stat['value']:.3f} <span class=ci>[{html.escape(ci)}]</span>"
    return f"{stat['value']:.3f} [{ci}]"


def statistics_table(summary: dict) -> pd.DataFrame:
    """One row per statistic (its definition), one column per question, cells as
    ``format_statistic`` writes them (from ``summary.summarize_study``'s result)."""
    rows = []
    # first what every statistic below rests on
    for key, title in (("n_prototypes", "prototypes rated"), ("n_raters", "raters"),
                       ("n_answers", "answers")):
        rows.append({"statistic": title, **{question: str(stats.get(key, "–"))
                                            for question, stats in summary["questions"].items()}})
    for key, definition in summary["definitions"].items():
        row = {"statistic": definition}
        for question, stats in summary["questions"].items():
            row[question] = format_statistic(stats[key])
        rows.append(row)
    return pd.DataFrame(rows, columns=["statistic", *summary["questions"]])
