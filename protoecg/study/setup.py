"""Setting up a study from files: what `protoecg study create` and the app's set-up page both
call, so that the scripted path and the researcher's page cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from protoecg.catalog.reader import (
    Catalog,
    CatalogError,
    catalog_dir,
    has_catalog,
    read_catalog,
    read_meta,
)
from protoecg.study.protocol import Protocol, load_protocol
from protoecg.study.rounds import active_prototypes, next_round_prototypes
from protoecg.study.store import ReviewStore, StoreError, Study


def check_round_options(previous: str | None, all_prototypes: bool) -> None:
    """``all_prototypes`` only means something for a later round (checkable before any file
    or database is opened)."""
    if all_prototypes and not previous:
        raise StoreError("--all-prototypes: only with --previous STUDY (a first round rates "
                         "every active prototype anyway)")


class DegenerateCatalogError(StoreError):
    """A catalog whose run recorded a degenerate branch (the command line adds how to accept
    it for research)."""


def degenerate_branches(catalog: Catalog) -> list[str]:
    """The branches the catalog's run recorded as degenerate (``latent_health``: their
    prototypes rate every training window alike; ``protoecg.train.health`` has the rule)."""
    health = catalog.meta.get("latent_health")
    if not isinstance(health, dict):
        return []
    return [name for name, figures in health.items()
            if isinstance(figures, dict) and figures.get("degenerate")]


def load_study_files(protocol: str | Path, catalog: str | Path,
                     allow_degenerate: bool = False) -> tuple[Protocol, Catalog]:
    """The protocol file and the catalog folder, checked (one clear error naming the file),
    before any database is opened: a bad file creates or changes nothing. A catalog with a
    degenerate branch is refused (clinicians would rate arbitrary windows) unless
    ``allow_degenerate``, which the study then records in its catalog snapshot."""
    protocol, loaded = load_protocol(protocol), read_catalog(catalog)
    dead = degenerate_branches(loaded)
    if dead and not allow_degenerate:
        figures = loaded.meta["latent_health"][dead[0]]
        raise DegenerateCatalogError(
            f"{loaded.path}: the {', '.join(dead)} branch"
            f"{'es are' if len(dead) > 1 else ' is'} degenerate ({dead[0]}: prototype "
            f"similarity spread {figures.get('spread_median', 0):.3f}, "
            f"{figures.get('dims_varying', 0)} of {figures.get('latent_dims', 0)} latent "
            "dimensions varying): its prototypes cannot tell one window from another, so raters "
            "would judge arbitrary windows; train it again")
    if dead:
        loaded.meta["degenerate_branches_allowed"] = dead
    return protocol, loaded


def create_study_from_files(store: ReviewStore, name: str, protocol: Protocol,
                            catalog: Catalog, previous: str | None = None,
                            all_prototypes: bool = False) -> tuple[Study, int]:
    """A new study over ``catalog`` with ``protocol`` (from ``load_study_files``); with
    ``previous``, the next round of that study (only what it did not rate, unless
    ``all_prototypes``). Returns the study and how many prototypes it rates."""
    check_round_options(previous, all_prototypes)
    name = (name or "").strip()
    if not name:
        raise StoreError("study name is empty")
    before = store.study(previous, kind="rating") if previous else None
    chosen = (next_round_prototypes(store, before, catalog, all_prototypes)
              if before else active_prototypes(catalog))
    study = store.create_study(name, protocol, catalog, before, chosen)
    return study, len(chosen) if chosen is not None else len(catalog.prototypes)


def catalogs_near(study: Study) -> list[tuple[str, str]]:
    """(label, folder) of the catalogs in the runs beside the one ``study`` rated (where a
    pruned or retrained run of the next round lands), its own among them, newest first: what
    the app offers for a new study, so that nobody types a path on the server. Unreadable ones
    are passed over."""
    runs = Path(study.catalog_path).parent.parent
    found = []
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        if not run.is_dir() or not has_catalog(run):
            continue
        try:
            meta = read_meta(catalog_dir(run))
        except CatalogError:
            continue
        label = (f"{run.name}: {meta.get('n_prototypes', '?')} prototypes from "
                 f"{meta.get('dataset', '?')}, made {str(meta.get('created', ''))[:16]}")
        found.append((str(meta.get("created", "")), label, str(catalog_dir(run))))
    return [(label, folder) for _, label, folder in sorted(found, reverse=True)]
