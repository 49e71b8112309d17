"""What a prune rule selects in a study, from the study's own answers and catalog snapshot
(no model, no torch: the review app previews rules with this)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from protoecg.audit.files import audit_file, read_audit
from protoecg.clusters.files import read_prototype_clusters, read_summary
from protoecg.errors import ProtoECGError
from protoecg.prune.rules import (
    MODEL_COLUMNS,
    Evidence,
    evaluate,
    model_values_used,
    parse_rule,
    uses_audit,
    uses_clusters,
    uses_purity,
)
from protoecg.study.answers import current_answers
from protoecg.study.store import ReviewStore, Study

ACTIONS = ("disable", "replace", "forbid")
FLAGS = ("bad", "best")


class SelectionError(ProtoECGError):
    """A selection that may not be acted on (a class would lose its last prototype …)."""


class EmptiedClassError(SelectionError):
    """A disable that would leave classes without a prototype (``classes``); the command line
    names its options, the app its own controls."""

    def __init__(self, message: str, classes: list[str]):
        super().__init__(message)
        self.classes = classes


@dataclass
class Selection:
    study: str
    rule: str
    action: str
    selected: list[str]  # prototype ids, in the study's order
    evidence: dict[str, dict]  # selected id -> the answers that decided it
    per_class: dict[str, dict]  # class -> {branch, prototypes, active, selected, active_after}

    @property
    def n_prototypes(self) -> int:
        return sum(c["prototypes"] for c in self.per_class.values())


def audit_path(study: Study) -> Path:
    """Where ``protoecg audit`` writes the audit of the run a study rated (its default)."""
    return audit_file(Path(study.catalog_path).parent)


def load_audit(study: Study, path: str | Path | None = None) -> dict:
    """The audit of the run ``study`` rated (``path`` or the run's ``audit/audit.json``);
    refuses a missing or malformed file and an audit of other weights than the study's
    catalog."""
    path = Path(path) if path else audit_path(study)
    if not path.is_file():
        raise SelectionError(f"{path}: no audit of the rated run; run `protoecg audit --run "
                             f"{path.parent.parent}` first (the rule uses audit.*)")
    audit = read_audit(path, SelectionError)
    sha = audit["model_sha256"]
    if sha != study.catalog_meta.get("model_sha256"):
        raise SelectionError(f"{path}: audits other weights ({str(sha)[:12]}…) than the catalog "
                             f"study {study.name!r} rated; run `protoecg audit` on that run "
                             "again")
    return audit


def audit_of(study: Study) -> dict | None:
    """The audit at the rated run's default place, when there is a usable one for these
    weights; None otherwise (what the researcher page shows beside ratings)."""
    try:
        return load_audit(study)
    except SelectionError:
        return None


def load_prototype_clusters(study: Study) -> dict[str, dict]:
    """The rated run's time-localized clusters per prototype (``clusters.cluster``,
    ``clusters.share``, ``clusters.wave``); refuses a run without clusters or clustered from
    other weights than the study's catalog."""
    run = Path(study.catalog_path).parent
    table = read_prototype_clusters(run)
    if table is None:
        raise SelectionError(f"{run}: no clusters of the rated run; run `protoecg clusters "
                             f"--run {run}` first (the rule uses clusters.*)")
    sha = read_summary(run).get("model_sha256")
    if sha != study.catalog_meta.get("model_sha256"):
        raise SelectionError(f"{run}: its clusters were made from other weights than the "
                             f"catalog study {study.name!r} rated; run `protoecg clusters` "
                             "again")
    return {str(r.prototype_id): {
        "cluster": int(r.cluster), "share": float(r.cluster_share),
        "wave": r.cluster_wave if isinstance(r.cluster_wave, str) else None}
        for r in table.itertuples()}


def clusters_of(study: Study) -> dict[str, dict] | None:
    """The rated run's prototype clusters when there are usable ones for these weights; None
    otherwise, a damaged file included (what the researcher pages show beside ratings; a rule
    with clusters.* reads them through ``select``, which names the damage)."""
    try:
        return load_prototype_clusters(study)
    except ProtoECGError:
        return None


def evidence_of(store: ReviewStore, study: Study, audit: dict[str, dict] | None = None,
                clusters: dict[str, dict] | None = None) -> dict[str, tuple[Evidence, dict]]:
    """Each prototype's evidence (flags, answers per question, purity, its audit and clusters
    rows) and its snapshot row."""
    questions = [q.id for q in study.protocol.questions]
    answers = current_answers(store, study)
    by_prototype = dict(tuple(answers.groupby("prototype_id", sort=False)))
    nobody = answers.iloc[:0]
    out = {}
    for prototype in store.prototypes(study):
        row = store.prototype_snapshot(prototype.pk)
        mine = by_prototype.get(prototype.prototype_id, nobody)
        flags = Counter(mine.loc[mine["question"].isin(FLAGS), "question"])
        per_question = {q: tuple(float(v) for v in mine.loc[mine["question"] == q, "answer"])
                        for q in questions}
        purity = row.get("purity")
        out[prototype.prototype_id] = (Evidence(
            bad=flags["bad"], best=flags["best"], answers=per_question,
            purity=math.nan if purity is None else float(purity),
            model={name: _number(row.get(column)) for name, column in MODEL_COLUMNS.items()
                   if name != "purity"},
            audit=None if audit is None else audit.get(prototype.prototype_id),
            clusters=None if clusters is None else clusters.get(prototype.prototype_id)), row)
    return out


def select(store: ReviewStore, study: Study, rule: str, action: str,
           allow_empty_class: bool = False, audit: str | Path | None = None) -> Selection:
    """The prototypes of ``study`` that ``rule`` selects for ``action``; refuses a selection
    that would disable a class's last active prototype unless ``allow_empty_class``. A rule
    with ``audit.*`` reads ``audit`` (default: the rated run's ``audit/audit.json``)."""
    if action not in ACTIONS:
        raise SelectionError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    tree = parse_rule(rule, [q.id for q in study.protocol.questions])
    rows = load_audit(study, audit)["prototypes"] if uses_audit(tree) else None
    clustered = load_prototype_clusters(study) if uses_clusters(tree) else None
    evidence = evidence_of(store, study, rows, clustered)
    for name in sorted(model_values_used(tree) - {"purity"}):
        if all(math.isnan(e.model.get(name, math.nan)) for e, _ in evidence.values()):
            raise SelectionError(f"study {study.name!r}: its catalog has no {name} (written "
                                 "before the prototype quality figures existed); re-run "
                                 "`protoecg project` and create the study again, or leave "
                                 f"{name} out of the rule")
    if uses_purity(tree) and all(math.isnan(e.purity) for e, _ in evidence.values()):
        raise SelectionError(f"study {study.name!r}: its catalog has no purity (written before "
                             "pruning existed); re-run `protoecg project` and create the study "
                             "again, or leave purity out of the rule")
    selected, per_class = [], {}
    for pid, (e, row) in evidence.items():
        active = int(row.get("active", 1)) == 1
        chosen = active and evaluate(tree, e)
        if chosen:
            selected.append(pid)
        counts = per_class.setdefault(row["class_code"], {
            "branch": row["branch"], "prototypes": 0, "active": 0, "selected": 0})
        counts["prototypes"] += 1
        counts["active"] += active
        counts["selected"] += chosen
    for counts in per_class.values():
        counts["active_after"] = counts["active"] - (counts["selected"]
                                                     if action == "disable" else 0)
    emptied = sorted(c for c, n in per_class.items() if n["active"] and not n["active_after"])
    if emptied and not allow_empty_class:
        raise EmptiedClassError(f"the rule would disable every prototype of class(es) "
                                f"{', '.join(emptied)}; pass --allow-empty-class to allow it, "
                                "or use --action replace", emptied)
    chosen = {pid: {"bad": evidence[pid][0].bad, "best": evidence[pid][0].best,
                    "answers": {q: list(v) for q, v in evidence[pid][0].answers.items()},
                    "purity": None if math.isnan(evidence[pid][0].purity)
                    else evidence[pid][0].purity,
                    **{name: evidence[pid][0].model[name]
                       for name in sorted(model_values_used(tree) - {"purity"})},
                    **({"audit": dict(evidence[pid][0].audit or {})} if rows is not None
                       else {}),
                    **({"clusters": dict(evidence[pid][0].clusters or {})}
                       if clustered is not None else {})}
              for pid in selected}
    return Selection(study.name, rule, action, selected, chosen, per_class)


def _number(value) -> float:
    """A snapshot cell as a number (empty, missing or NaN: undefined)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number
