"""A pruned run's lineage, ``pruning.json``: which study and rule changed which prototypes of
which source run. This module alone names, reads and writes the file (torch-free: the review
app lists the runs made from a study with it).

``pruning.json``: ``source_run``, ``source_model_sha256``, ``study``, ``rule``, ``action``,
``selected`` (prototype ids), ``prototypes`` (per selected id what was done and why),
``per_class`` (``branch``, ``prototypes``, ``active``, ``selected``, ``active_after``),
``n_prototypes``, ``n_active``; for forbid ``forbidden`` (the rejected windows), and after
``retrain`` ``moved`` (old id -> new revision).
"""

from __future__ import annotations

from pathlib import Path

from protoecg.files import check_object, read_json, write_json
from protoecg.study.store import Study
from protoecg.train.run import RunError, read_comparison, read_meta

PRUNING_JSON = "pruning.json"
KEYS = ("source_run", "study", "rule", "action", "selected", "prototypes", "per_class")
WHAT = "the lineage of a pruned run, written by `protoecg prune`"


def is_pruned(run_dir: str | Path) -> bool:
    return (Path(run_dir) / PRUNING_JSON).is_file()


def write_pruning(run_dir: str | Path, record: dict) -> None:
    write_json(Path(run_dir) / PRUNING_JSON, record)


def read_pruning(run_dir: str | Path) -> dict:
    """pruning.json, checked for the keys and types its readers use."""
    path = Path(run_dir) / PRUNING_JSON
    if not path.is_file():
        raise RunError(f"{run_dir}: no {PRUNING_JSON} (not made by `protoecg prune`)")
    record = read_json(path, RunError, WHAT, KEYS)
    check_object(record["selected"], f"{path}: selected", RunError, "a list of prototype ids",
                 kind=list)
    for key in ("prototypes", "per_class"):
        check_object(record[key], f"{path}: {key}", RunError, WHAT)
    for code, counts in record["per_class"].items():
        check_object(counts, f"{path}: per_class.{code}", RunError,
                     "the class's prototype counts", ("selected",))
    if record["action"] == "forbid":
        check_object(record.get("forbidden"), f"{path}: forbidden", RunError,
                     "the rejected windows of a forbid", kind=list)
        for window in record["forbidden"]:
            check_object(window, f"{path}: forbidden", RunError, "a rejected window",
                         ("branch", "class_code", "record_id", "window_start"))
    return record


def changed_classes(run_dir: str | Path) -> dict[str, int]:
    """Class -> prototypes disabled or replaced in a pruned run ({} for any other run)."""
    if not is_pruned(run_dir):
        return {}
    return {code: counts["selected"] for code, counts in read_pruning(run_dir)["per_class"]
            .items() if counts["selected"]}


def runs_from(study: Study) -> list[dict]:
    """The pruned runs made from ``study`` that sit beside the run it rated (their
    ``pruning.json`` names the study and that run), with their comparison when one was saved
    (``protoecg compare --save``). A damaged run folder is passed over: this lists, it does
    not check."""
    source = Path(study.catalog_path).parent
    found = []
    if not source.parent.is_dir():
        return found
    for path in sorted(source.parent.glob(f"*/{PRUNING_JSON}")):
        run = path.parent
        try:
            record, meta = read_pruning(run), read_meta(run)
        except RunError:
            continue
        try:
            compare = read_comparison(run)
        except RunError:  # the run is listed; its damaged comparison is not shown
            compare = None
        if record["study"] != study.name or Path(record["source_run"]).resolve() \
                != source.resolve():
            continue
        found.append({"run": str(run), "status": meta.get("status"),
                      "action": record["action"], "rule": record["rule"],
                      "selected": len(record["selected"]),
                      "n_prototypes": record.get("n_prototypes"), "compare": compare})
    return found
