"""From one review round to the next: prune by a rule over the study's ratings, retrain, project
the retrained model into a catalog, compare it with the source on the test fold (saved in the
new run), and create the next round's study through ``study/setup`` — the one path by which the
command line and the app create studies.

Everything that can be refused is refused before anything trains: the rule, the run, the study,
and a next-study name already taken. A retrained model with a degenerate branch keeps its run
folder but gets no study (unless ``allow_degenerate``, which the study records).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from protoecg.catalog.reader import Catalog, read_catalog
from protoecg.catalog.writer import write_catalog
from protoecg.explain.comparison import (
    comparison_cases,
    no_cases_reason,
    selection_detail,
    selection_lines,
)
from protoecg.explain.thresholds import F1, check_threshold
from protoecg.prune.lineage import changed_classes
from protoecg.prune.pruning import apply_pruning, plan_pruning, retrain
from protoecg.resources import protocol_path
from protoecg.study.comparison import comparison_rows
from protoecg.study.comparison_protocol import (
    DEFAULT_COMPARISON_PROTOCOL,
    load_comparison_protocol,
)
from protoecg.study.setup import (
    DegenerateCatalogError,
    create_study_from_files,
    degenerate_branches,
)
from protoecg.study.store import ReviewStore, StoreError
from protoecg.train.comparison import compare_runs
from protoecg.train.run import write_comparison


@dataclass
class Round:
    """What one round step made."""

    record: dict  # the pruned run's lineage (pruning.json)
    comparison: dict  # the new run against the source on the test fold (compare.json)
    catalog: Catalog  # the retrained model's catalog
    study: str  # the next study's name
    n_rated: int  # prototypes the next study rates


def next_round(run: str | Path, db: str | Path, study: str, rule: str, action: str,
               out: str | Path, next_study: str, *, device: str = "cpu",
               allow_empty_class: bool = False, audit: str | Path | None = None,
               allow_degenerate: bool = False, progress: bool = True,
               comparison_study: str | None = None, per_label: int = 5,
               comparison_threshold: float | str = F1, include_identical: bool = False,
               log: Callable[[str], None] = lambda _: None) -> Round:
    """Prune ``run`` by ``rule`` over ``study``'s ratings into ``out``, retrain, project,
    compare, and create ``next_study`` (the next round of ``study``) in ``db``; with
    ``comparison_study`` also a blind A/B comparison of the two runs on the same test ECGs
    (``per_label`` cases per label, positive by ``comparison_threshold``, cases where both
    show the same left out unless ``include_identical``: ``explain.comparison``)."""
    plan = plan_pruning(run, db, study, rule, action, allow_empty_class=allow_empty_class,
                        audit=audit)
    with ReviewStore(db, "read") as store:  # refuse a taken name before anything trains
        taken = {s.name for s in store.studies()}
    for name in filter(None, (next_study, comparison_study)):
        if name.strip() in taken:
            raise StoreError(f"study {name.strip()!r} already exists in {db}")
    comparison_threshold = check_threshold(comparison_threshold)
    if comparison_study and Path(run).name == Path(out).name:
        raise StoreError(f"{out}: a comparison names its two models by their run folders; "
                         f"choose another name than {Path(run).name!r}")
    record = apply_pruning(plan, out, device)
    log(f"{action}: {len(record['selected'])} of {record['n_prototypes']} prototypes -> {out}")
    retrain(out, device, progress=progress)
    catalog = read_catalog(write_catalog(out, device))
    comparison = compare_runs(run, out, device=device, changed=changed_classes(out))
    write_comparison(out, comparison)
    dead = degenerate_branches(catalog)
    if dead and not allow_degenerate:
        raise DegenerateCatalogError(
            f"{catalog.path}: the retrained model's {', '.join(dead)} branch is degenerate "
            f"(its prototypes rate every window alike); {out} is kept, the study "
            f"{next_study!r} is not created")
    if dead:
        catalog.meta["degenerate_branches_allowed"] = dead
    with ReviewStore(db, "write") as store:
        protocol = store.study(study, kind="rating").protocol
        _, n_rated = create_study_from_files(store, next_study, protocol,
                                             catalog, previous=study,
                                             all_prototypes=action == "disable")
    if comparison_study:
        _comparison_study(run, out, db, comparison_study, log, per_label=per_label,
                          threshold=comparison_threshold, include_identical=include_identical)
    return Round(record, comparison, catalog, next_study.strip(), n_rated)


def _comparison_study(run, out, db, name: str, log, **selection) -> None:
    """The blind A/B comparison of the source run and the new one (the shipped protocol) on the
    test ECGs where their explanations differ. None to compare is said, not an error: the
    round itself is done by then."""
    cases, signals = comparison_cases(run, out, **selection)
    if not cases["cases"]:
        log(f"no comparison study {name!r}: {no_cases_reason(cases)}")
        return
    rows, drawn = comparison_rows(cases, signals)
    protocol = load_comparison_protocol(protocol_path(DEFAULT_COMPARISON_PROTOCOL))
    with ReviewStore(db, "write") as store:
        store.create_comparison(name, protocol, rows, drawn, selection_detail(cases))
    log(f"comparison study {name!r}: {Path(run).name} against {Path(out).name}, blind")
    for line in selection_lines(cases):
        log(f"  {line}")
