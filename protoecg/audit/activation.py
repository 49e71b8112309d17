"""Dataset-wide activation: which prototypes drive the model's positive predictions, how
often, per class and per patient subgroup, and which prototypes never do.

A positive prediction is a label whose fusion probability reaches the threshold. Its driving
prototypes are those with the largest contribution to it (similarity x fusion weight): the
first is the *driver*; a prototype is *used* when it is among the top three of at least one
positive prediction.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

TOP_USED = 3
AGE_BANDS = ((0, 40, "<40"), (40, 60, "40-59"), (60, 80, "60-79"), (80, 200, ">=80"))


def _sex(value) -> str | None:
    """PTB-XL codes sex 0 = male, 1 = female; LUDB writes M / F."""
    text = str(value).strip().upper()
    return {"0": "male", "0.0": "male", "M": "male", "1": "female", "1.0": "female",
            "F": "female"}.get(text)


def _age_band(value) -> str | None:
    try:
        age = float(value)
    except (TypeError, ValueError):
        return None
    # PTB-XL writes 300 for ages above 89 (de-identification)
    if not np.isfinite(age) or age < 0:
        return None
    return next(label for lo, hi, label in AGE_BANDS if lo <= min(age, 199) < hi)


def subgroups(metadata: pd.DataFrame, record_ids: list[str]) -> dict[str, list[str | None]]:
    """Subgroup of each record per variable present: sex, age band, device."""
    table = metadata.reindex([str(r) for r in record_ids]) if len(metadata) else None
    groups: dict[str, list[str | None]] = {}
    if table is None:
        return groups
    if "sex" in table:
        groups["sex"] = [_sex(v) for v in table["sex"]]
    if "age" in table:
        groups["age_band"] = [_age_band(v) for v in table["age"]]
    if "device" in table:
        groups["device"] = [None if pd.isna(v) or not str(v).strip() else str(v).strip()
                            for v in table["device"]]
    return {k: v for k, v in groups.items() if any(g is not None for g in v)}


def activation_table(probabilities: np.ndarray, similarities: np.ndarray,
                     fusion_weight: np.ndarray, label_names: list[str],
                     prototype_ids: list[str], groups: dict[str, list[str | None]],
                     active: np.ndarray | None = None, threshold: float = 0.5) -> dict:
    """probabilities (N, L), similarities (N, P), fusion_weight (L, P) -> the activation
    figures (see the module text)."""
    n, n_labels = probabilities.shape
    active = np.ones(len(prototype_ids), bool) if active is None else active.astype(bool)
    drivers: list[list[tuple[int, int]]] = [[] for _ in range(n)]  # (label, prototype) per ECG
    top1, used = Counter(), Counter()
    per_class: dict[str, Counter] = {code: Counter() for code in label_names}
    for i, j in zip(*np.nonzero(probabilities >= threshold), strict=True):
        contribution = np.where(active, fusion_weight[j] * similarities[i], -np.inf)
        order = [int(p) for p in np.argsort(-contribution, kind="stable")[:TOP_USED]
                 if contribution[p] > 0]  # a zero or negative contribution drives nothing
        if not order:
            continue
        drivers[i].append((j, order[0]))
        top1[order[0]] += 1
        per_class[label_names[j]][order[0]] += 1
        for p in order:
            used[p] += 1

    def summary(counter: Counter) -> dict:
        total = sum(counter.values())
        return {"n_positive_predictions": total,
                "drivers": [{"prototype_id": prototype_ids[p], "count": c,
                             "share": c / total} for p, c in counter.most_common(TOP_USED)]}

    per_subgroup: dict[str, dict[str, dict]] = {}
    for variable, values in groups.items():
        per_subgroup[variable] = {}
        order = [label for _, _, label in AGE_BANDS]
        for group in sorted({v for v in values if v is not None},
                            key=lambda g: (order.index(g) if g in order else len(order), g)):
            counters: dict[str, Counter] = {}
            members = [i for i in range(n) if values[i] == group]
            for i in members:
                for j, p in drivers[i]:
                    counters.setdefault(label_names[j], Counter())[p] += 1
            per_subgroup[variable][group] = {
                "n_ecgs": len(members),
                "per_class": {code: summary(c) for code, c in sorted(counters.items())}}
    return {
        "threshold": threshold, "n_ecgs": int(n),
        "n_positive_predictions": int(sum(top1.values())),
        "per_class": {code: summary(c) for code, c in per_class.items() if c},
        "per_subgroup": per_subgroup,
        "per_prototype": {prototype_ids[p]: {"driver": int(top1[p]), "top3": int(used[p])}
                          for p in range(len(prototype_ids))},
        "never_used": [prototype_ids[p] for p in range(len(prototype_ids))
                       if active[p] and used[p] == 0],
    }
