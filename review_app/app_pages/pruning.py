"""Page (researchers): preview what a prune rule selects in this study, and the runs pruned
from it. Applying a rule retrains the model, which whoever trains the models does: the page
hands them the exact step in a collapsed box, out of the researcher's way."""

from __future__ import annotations

import shlex
from pathlib import Path

import common
import pandas as pd
import streamlit as st

from protoecg.audit.segments import SEGMENTS
from protoecg.clusters.bands import record_bands
from protoecg.data import labels as label_table
from protoecg.ecgplot import window_chart
from protoecg.errors import ProtoECGError
from protoecg.prune.lineage import runs_from
from protoecg.prune.rules import RuleError
from protoecg.prune.selection import ACTIONS, EmptiedClassError, audit_of, clusters_of, select

THUMBNAILS = 24  # pictures drawn at most (the table lists every selected prototype)


def _default_rule(study) -> str:
    first = study.protocol.questions[0].id
    return f"bad >= 2 or (mean({first}) < 2.5 and n({first}) >= 3)"


def _show_rule_error(exc: RuleError) -> None:
    st.error(exc.problem)
    st.code(f"{exc.rule}\n{' ' * (exc.column - 1)}^ column {exc.column}", language=None)


def _thumbnail(store, study, row: dict, clustered: bool) -> dict:
    signal = store.signal(study, int(row["signal_index"]))
    start, end = int(row["window_start"]), int(row["window_end"])
    whole = end - start >= signal.shape[1]
    # the network's clusters along the source record, under the prototype's window
    bands = (record_bands(Path(study.catalog_path).parent, str(row["source_record_id"]),
                          (str(row["branch"]),)) if clustered else ())
    # a title wider than its chart makes Streamlit draw an empty plot: keep it short
    return window_chart(signal, int(row["fs"]), start, end, str(row["units"]),
                        px_per_mm=1.2 if whole else 3.0, margin_s=0.0 if whole else 0.25,
                        title=f"record {row['source_record_id']}, "
                              f"{row['window_start_s']:.2f}-{row['window_end_s']:.2f} s",
                        bands=bands)


def _clusters_text(row: dict | None) -> str:
    """Where a prototype's window sits among the network's time-localized clusters."""
    if not row:
        return ""
    wave = f" ({row['wave']})" if row.get("wave") else ""
    return f" · cluster {row['cluster']}{wave} on {row['share']:.0%} of its window"


def _audit_text(row: dict | None) -> str:
    """One line of a prototype's explanation audit, beside its ratings."""
    if not row:
        return ""
    parts = []
    if row.get("segment") is not None:
        parts.append(f"centred on {row['segment']}")
    if row.get("no_wave"):
        parts.append("no wave in its window")
    if row.get("agrees") is False:
        parts.append("not where the expert rules look")
    parts.append(f"drives {row.get('drivers', 0)} positive predictions" if row.get("used")
                 else "never among the top 3 of a positive prediction")
    return " · audit: " + ", ".join(parts)


def _audit_summary(audit: dict | None) -> None:
    if audit is None:
        st.caption("No explanation audit of this run yet. Once the model's explanations are "
                   "audited, this page adds the "
                   "sanity checks, the ECG segment each prototype looks at and how often it "
                   "drives predictions, and the rule values audit.segment, audit.no_wave, "
                   "audit.agrees, audit.used, audit.drivers.")
        return
    with st.expander("Explanation audit of the rated run"):
        st.dataframe(pd.DataFrame([
            {"branch": branch,
             "model randomisation": checks["model_randomisation"]["verdict"],
             "label randomisation": checks["label_randomisation"].get("verdict", "skipped")}
            for branch, checks in audit["sanity"].items()]), hide_index=True)
        segments = pd.DataFrame([
            {"class": code, "prototypes": f"{e['n_annotated']} of {e['n_prototypes']}",
             **{s: e[s] for s in SEGMENTS},
             "expected": "/".join(e["expected"] or []) or "—", "agreement": e["agreement"]}
            for code, e in audit["segments"].items()])
        if not segments.empty:
            st.caption(f"Share of each class's prototype windows centred on each segment "
                       f"({audit['delineation']['source']}).")
            st.dataframe(segments, hide_index=True)
        st.caption(f"{len(audit['activation']['never_used'])} prototypes never among the top 3 "
                   f"of a positive prediction ({audit['split']} ECGs).")


def _preview(store, study, rule: str, action: str, allow_empty: bool,
             audit: dict | None, clusters: dict | None) -> None:
    try:
        selection = select(store, study, rule, action, allow_empty)
    except RuleError as exc:
        _show_rule_error(exc)
        return
    except EmptiedClassError as exc:  # in this page's words, not the command line's
        st.error(f"The rule would disable every prototype of {', '.join(exc.classes)}. Tick "
                 "“Allow disabling a class's last prototype”, or choose the action replace.")
        return
    except ProtoECGError as exc:
        common.show_error(exc)
        return
    total = selection.n_prototypes
    share = len(selection.selected) / total if total else 0.0
    st.subheader(f"Selects {len(selection.selected)} of {total} prototypes ({share:.0%})")
    per_class = pd.DataFrame([
        {"class": code, "name": label_table.describe(code), "branch": c["branch"],
         "prototypes": c["prototypes"], "selected": c["selected"],
         "active after": c["active_after"]}
        for code, c in sorted(selection.per_class.items()) if c["selected"]])
    if per_class.empty:
        st.info("The rule selects no prototype with the answers so far.")
        return
    st.dataframe(per_class, hide_index=True)
    rows = {p.prototype_id: p for p in store.prototypes(study)}
    audit_rows = (audit or {}).get("prototypes", {})
    for k, pid in enumerate(selection.selected):
        evidence = selection.evidence[pid]
        answers = "; ".join(f"{q}: {', '.join(f'{v:g}' for v in values) or '—'}"
                            for q, values in evidence["answers"].items())
        with st.expander(f"{pid} · bad {evidence['bad']} · best {evidence['best']} · "
                         f"{answers}{_audit_text(audit_rows.get(pid))}"
                         f"{_clusters_text((clusters or {}).get(pid))}", expanded=k < 3):
            if k < THUMBNAILS:
                row = store.prototype_snapshot(rows[pid].pk)
                st.vega_lite_chart(_thumbnail(store, study, row, clusters is not None),
                                   width="content")
            else:
                st.caption("picture left out (only the first 24 are drawn)")
    # applying a rule retrains the model (hours, a GPU at paper size): the person who runs the
    # training does it; the page hands them the exact step, out of the researcher's way
    done = {"disable": "switched off", "replace": "replaced by other windows",
            "forbid": "kept off these windows"}.get(action, action)
    st.caption(f"Applying the rule makes a new model: the prototypes it selects are {done}, "
               "and the model is retrained and compared with this one. Whoever trains the "
               "models does this step; hand them the line below.")
    with st.expander("The step for whoever trains the models"):
        st.code(_round_step(study, rule, action, allow_empty), language=None)


def _round_step(study, rule: str, action: str, allow_empty: bool) -> str:
    """The one line that applies the rule: this study's run, database and names filled in."""
    run = Path(study.catalog_path).parent
    words = ["protoecg", "round", "--run", str(run), "--db", str(common.database_path()),
             "--study", study.name, "--rule", rule, "--action", action,
             "--out", str(run.with_name(f"{run.name}-{action}")),
             "--next-study", f"{study.name}-next"]
    return shlex.join(words + (["--allow-empty-class"] if allow_empty else []))


def _runs(study) -> None:
    runs = runs_from(study)
    st.subheader("Runs pruned from this study")
    if not runs:
        st.caption("None yet beside the rated run.")
        return
    table = []
    for r in runs:
        c = r["compare"] or {}
        ci = c.get("delta_ci")
        table.append({
            "run": r["run"], "status": r["status"], "action": r["action"], "rule": r["rule"],
            "prototypes changed": f"{r['selected']} of {r['n_prototypes']}",
            "macro AUROC before": c.get("before"), "after": c.get("after"),
            "difference": c.get("delta"),
            "95% CI of the difference": f"{ci[0]:+.4f} to {ci[1]:+.4f}" if ci else "—"})
    st.dataframe(pd.DataFrame(table), hide_index=True)


def render() -> None:
    st.title("Prune rules")
    st.caption("Which prototypes a rule selects from this study's current answers. Values: "
               "bad and best (how many raters set the flag), mean / median / min / max / n of "
               "a question, purity (share of the prototype's 6 most similar training records "
               "with its class), prevalence (its class's share of the training ECGs), usage "
               "(correct decisions it drives), duplicate / edge / on_wave (1 when its window "
               "overlaps another of its class, lies within 1 s of the record's edge, is centred "
               "on its class's wave), audit.segment / audit.no_wave / audit.agrees / audit.used "
               "/ audit.drivers (from the model's explanation audit), clusters.cluster / "
               "clusters.share / clusters.wave (the network's time-localized cluster that "
               "most of the window falls in, the share it covers, and the wave it mostly "
               "covers: P, QRS, T or rest); comparisons, and / or / not, parentheses.")
    try:
        with common.open_store() as store:
            study = common.current_study(store)
            with st.form("rule"):
                rule = st.text_input("Rule", value=_default_rule(study), key="prune_rule")
                action = st.radio("Action", ACTIONS, horizontal=True, key="prune_action")
                allow_empty = st.checkbox("Allow disabling a class's last prototype",
                                          key="prune_allow_empty")
                st.form_submit_button("Preview")
            audit = audit_of(study)  # read once for the summary and the prototypes' lines
            clusters = clusters_of(study)
            common.quality_section(study)
            _audit_summary(audit)
            _preview(store, study, rule, action, allow_empty, audit, clusters)
            _runs(study)
    except ProtoECGError as exc:
        common.show_error(exc)


render()
