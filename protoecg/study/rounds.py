"""Review rounds: a study may be the next round of another, over the catalog of a pruned or
replaced model. By default it rates only what the previous round has not rated (new revisions
such as ``morphology/IRBBB/07@2``); each of its prototypes is paired with its counterpart in the
previous round (the same id, or the earlier revision of a replaced one)."""

from __future__ import annotations

from protoecg.catalog.reader import Catalog
from protoecg.study.store import ReviewStore, StoreError, Study


def base_id(prototype_id: str) -> str:
    """``morphology/IRBBB/07@2`` -> ``morphology/IRBBB/07``."""
    return prototype_id.split("@", 1)[0]


def _active_ids(catalog: Catalog) -> list[str]:
    table = catalog.prototypes
    return [pid for pid, on in zip(table["prototype_id"], table["active"], strict=True)
            if int(on) == 1]


def active_prototypes(catalog: Catalog) -> list[str] | None:
    """The prototypes a first round rates: the catalog's active ones (None when all are:
    a disabled prototype, pruned or one its class's data could not fill, takes part in no
    decision, so no rater is asked about it)."""
    active = _active_ids(catalog)
    if len(active) == len(catalog.prototypes):
        return None
    if not active:
        raise StoreError(f"{catalog.path}: every prototype of this catalog is disabled; "
                         "nothing to rate")
    return active


def next_round_prototypes(store: ReviewStore, previous: Study, catalog: Catalog,
                          include_all: bool = False) -> list[str]:
    """The active prototypes of ``catalog`` that round ``previous`` did not rate (all active
    ones with ``include_all``); disabled prototypes are never rated again."""
    active = _active_ids(catalog)
    if include_all:
        return active
    rated = {p.prototype_id for p in store.prototypes(previous)}
    new = [pid for pid in active if pid not in rated]
    if not new:
        raise StoreError(f"{catalog.path}: every active prototype was rated in study "
                         f"{previous.name!r}; nothing new to rate (pass --all-prototypes to "
                         "rate them all again)")
    return new


def counterparts(store: ReviewStore, study: Study) -> dict[str, str | None]:
    """This round's prototype id -> the previous round's prototype it continues (None: new)."""
    if study.previous_id is None:
        raise StoreError(f"study {study.name!r} is not a later round of another study")
    previous = store.study_by_id(study.previous_id)
    earlier = {p.prototype_id for p in store.prototypes(previous)}
    by_base: dict[str, str] = {}
    for pid in sorted(earlier, key=lambda p: (base_id(p), _revision(p))):
        by_base[base_id(pid)] = pid  # the latest revision rated before
    return {p.prototype_id: p.prototype_id if p.prototype_id in earlier
            else by_base.get(base_id(p.prototype_id))
            for p in store.prototypes(study)}


def _revision(prototype_id: str) -> int:
    return int(prototype_id.split("@", 1)[1]) if "@" in prototype_id else 1
