"""The audit as a Markdown document (``report.md``: tables a researcher can paste into a
supplement)."""

from __future__ import annotations

from protoecg.audit.segments import SEGMENTS


def _f(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_report(result: dict) -> str:
    """The audit as a Markdown document (tables a researcher can paste into a supplement)."""
    lines = [f"# Audit of `{result['run']}`", "",
             f"Dataset `{result['dataset']}`, model sha256 `{result['model_sha256'][:12]}`, "
             f"{result['created']}.", "", "## Sanity checks (Adebayo et al. 2018)", "",
             f"{result['n_sanity_ecgs']} test ECGs. Explanations depend on the model (labels) "
             f"when, after randomisation, the median rank correlation of the similarity maps is "
             f"below {result['thresholds']['max_rank_correlation']} and, for model "
             f"randomisation, the top-k prototype overlap below "
             f"{result['thresholds']['max_top_k_overlap']} (where chance alone stays below it; "
             "prototype slots of two separately trained models do not correspond, so label "
             "randomisation compares the maps only).", "",
             "| branch | test | rank correlation (median) | top-k overlap (chance) | verdict |",
             "|---|---|---|---|---|"]
    for branch, checks in result["sanity"].items():
        last = checks["model_randomisation"]["steps"][-1]
        lines.append(f"| {branch} | model randomisation (all layers) | "
                     f"{_f(last['rank_correlation_median'])} | {_f(last['top_k_overlap'])} "
                     f"({_f(last['top_k_chance'])}) | "
                     f"{checks['model_randomisation']['verdict']} |")
        lab = checks["label_randomisation"]
        if "skipped" in lab:
            lines.append(f"| {branch} | label randomisation | — | — | skipped |")
        else:
            lines.append(f"| {branch} | label randomisation | "
                         f"{_f(lab['rank_correlation_median'])} | not compared | "
                         f"{lab['verdict']} |")
    lines += _steps(result)
    lines += _segments(result)
    lines += _activation(result)
    return "\n".join(lines) + "\n"


def _steps(result: dict) -> list[str]:
    lines = []
    steps = next(iter(result["sanity"].values()))["model_randomisation"]["steps"]
    lines += ["", "Cascading model randomisation, step by step (rank correlation / top-k "
              "overlap):", "",
              "| branch | " + " | ".join(s["randomised_down_to"] for s in steps) + " |",
              "|---" * (1 + len(steps)) + "|"]
    for branch, checks in result["sanity"].items():
        lines.append(f"| {branch} | " + " | ".join(
            f"{_f(s['rank_correlation_median'])} / {_f(s['top_k_overlap'])}"
            for s in checks["model_randomisation"]["steps"]) + " |")
    return lines


def _segments(result: dict) -> list[str]:
    d = result["delineation"]
    lines = ["", "## Where prototypes look", "",
              f"Delineation: {d['source']}. {d['n_windows']} time-local prototype windows: "
              f"{d['n_expert']} placed by expert delineation, {d['n_fallback']} by the fallback, "
              f"{d['n_unannotated']} before the first or after the last detected wave; "
              f"{d['n_in_first_or_last_second']} lie (partly) in the first or last second of "
              "their record."]
    if d.get("fallback_agreement_with_experts") is not None:
        lines.append(f" The fallback delineation agrees with the experts on "
                     f"{d['fallback_agreement_with_experts']:.0%} of "
                     f"{d['fallback_checked_windows']} windows.")
    lines += ["", "| class | prototypes | " + " | ".join(SEGMENTS) +
              " | expected | agreement |", "|---" * (4 + len(SEGMENTS)) + "|"]
    for code, entry in result["segments"].items():
        by_fallback = f" ({entry['n_fallback']} by fallback)" if entry.get("n_fallback") else ""
        lines.append(f"| {code} | {entry['n_annotated']} of {entry['n_prototypes']}"
                     f"{by_fallback} | " +
                     " | ".join(_f(entry[s]) for s in SEGMENTS) +
                     f" | {'/'.join(entry['expected']) if entry['expected'] else '—'} | "
                     f"{_f(entry['agreement'])} |")
    no_wave = [r["prototype_id"] for r in result["segment_windows"] if r["no_wave"]]
    lines += ["", f"Windows with no wave at all: {', '.join(no_wave) if no_wave else 'none'}."]
    return lines


def _activation(result: dict) -> list[str]:
    lines = ["", "## Activation", "",
              f"{result['n_ecgs']} ECGs ({result['split']}), "
              f"{result['activation']['n_positive_predictions']} positive predictions "
              f"(probability ≥ {result['thresholds']['positive_prediction']}).", "",
              "| class | positive predictions | drivers (share) |", "|---|---|---|"]
    for code, entry in result["activation"]["per_class"].items():
        lines.append(f"| {code} | {entry['n_positive_predictions']} | " + ", ".join(
            f"{d['prototype_id']} ({d['share']:.0%})" for d in entry["drivers"]) + " |")
    never = result["activation"]["never_used"]
    lines += ["", f"Never among the top 3 of a positive prediction ({len(never)}): "
              + (", ".join(never) if never else "none") + "."]
    for variable, groups in result["activation"]["per_subgroup"].items():
        lines += ["", f"By {variable.replace('_', ' ')}:", "",
                  "| group | ECGs | classes predicted | top driver of the most predicted class |",
                  "|---|---|---|---|"]
        for group, entry in groups.items():
            classes = entry["per_class"]
            if classes:
                code = max(classes, key=lambda c: classes[c]["n_positive_predictions"])
                top = classes[code]["drivers"][0]
                text = f"{code}: {top['prototype_id']} ({top['share']:.0%})"
            else:
                text = "—"
            lines.append(f"| {group} | {entry['n_ecgs']} | {len(classes)} | {text} |")
    return lines
