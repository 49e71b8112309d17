"""Assigning prototypes to raters: K raters each, load-balanced, seeded, stable.

Every choice is a pure function of (seed, names), via SHA-256 ranks instead of a shared random
stream, so that the same study assigns the same way on any machine, and adding prototypes or
raters later never reorders what was already there. ``assign`` applies a plan to a study.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter

from protoecg.study.store import ReviewStore, StoreError, Study


@functools.lru_cache(maxsize=65536)
def rank(*parts: object) -> str:
    """A stable pseudo-random sort key for the given names (memoised: a rater's queue is
    ordered again on every card change)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def plan_assignment(prototypes: list[str], raters: list[str], k: int, seed: int,
                    fixed: set[tuple[str, str]] = frozenset()) -> set[tuple[str, str]]:
    """(rater, prototype) pairs: every prototype to ``min(k, len(raters))`` distinct raters.

    ``fixed`` pairs (assignments that already have answers) are kept; the remaining places go,
    prototype by prototype in a seeded order, to the raters with the fewest assignments so far
    (ties broken by a seeded rank), so loads differ by at most one where ``fixed`` allows.
    """
    k = min(k, len(raters))
    pairs = {(r, p) for r, p in fixed if r in raters and p in prototypes}
    load = Counter(r for r, _ in pairs)
    have: dict[str, set[str]] = {}
    for r, p in pairs:
        have.setdefault(p, set()).add(r)
    for prototype in sorted(prototypes, key=lambda p: rank(seed, "prototype", p)):
        taken = have.setdefault(prototype, set())
        while len(taken) < k:
            choice = min((r for r in raters if r not in taken),
                         key=lambda r: (load[r], rank(seed, prototype, r)))
            taken.add(choice)
            load[choice] += 1
            pairs.add((choice, prototype))
    return pairs


def queue_order(rater: str, items: list[tuple], seed: int, shuffle: bool = True
                ) -> list[str]:
    """A rater's prototypes in review order: grouped (items are (prototype_id, group) or
    (prototype_id, group, decisions)), groups and items within a group in a seeded order of
    their own for this rater, except that prototypes driving more of the model's correct
    decisions come first (a group by its busiest prototype), so a rater's minutes go to the
    prototypes that explain the most predictions."""
    decisions = {item[0]: (item[2] if len(item) > 2 else 0) for item in items}
    busiest: dict[str, int] = {}
    for item in items:
        busiest[item[1]] = max(busiest.get(item[1], 0), decisions[item[0]])
    if not shuffle:
        return [item[0] for item in sorted(items, key=lambda item: (item[1], item[0]))]
    return [item[0] for item in sorted(items, key=lambda item: (
        -busiest[item[1]], rank(seed, rater, "group", item[1]),
        -decisions[item[0]], rank(seed, rater, item[0])))]


def assign(store: ReviewStore, study: Study, k: int | None = None) -> dict:
    """(Re)assign the study's prototypes to its raters, K each.

    Assignments that already have an answer are kept; the others are planned afresh, so adding a
    rater spreads the unrated work without touching anything rated.
    """
    if k is None:  # not `k or ...`: 0 is a mistake to refuse, not "the default"
        k = study.protocol.raters_per_prototype
    if k < 1:
        raise StoreError(f"--raters-per-prototype: must be at least 1, got {k}")
    # removed raters take no new work; their answered assignments stay (outside the plan)
    raters = [r for r in store.reviewers(study, removed=False) if r.role == "rater"]
    if not raters:
        raise StoreError(f"study {study.name!r} has no raters; add some with "
                         "`protoecg study add-reviewer --role rater`")
    pks = {p.prototype_id: p.pk for p in store.prototypes(study)}
    rater_ids = {r.name: r.id for r in raters}
    names = {r.id: r.name for r in raters}
    existing = {(names[a.reviewer_id], a.prototype_id): a.id
                for a in store.assignments(study) if a.reviewer_id in names}
    answered = store.answered_pairs(study)
    fixed = {pair for pair in existing if pair in answered}
    wanted = plan_assignment(list(pks), list(rater_ids), k, study.protocol.seed, fixed)
    remove = [aid for pair, aid in existing.items() if pair not in wanted]
    add = sorted(((name, pks[pid]) for name, pid in wanted if (name, pid) not in existing))
    store.replace_assignments(study, remove, [(rater_ids[name], pk) for name, pk in add],
                              {"k": k, "added": len(add), "removed": len(remove)})
    return {"raters_per_prototype": min(k, len(raters)), "raters": len(raters),
            "assignments": len(wanted), "added": len(add), "removed": len(remove),
            "kept": len(existing) - len(remove),
            "per_rater": {name: sum(1 for who, _ in wanted if who == name)
                          for name in rater_ids}}
