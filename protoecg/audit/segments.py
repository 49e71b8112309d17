"""Where prototypes look: the ECG segment (P, PR, QRS, ST-T, T) each prototype window covers,
per class, against the expert rules (``protoecg.data.delineation`` holds the delineation, the
segment rules and the class -> wave table)."""

from __future__ import annotations

from collections import Counter

from protoecg.data.delineation import EXPERT_RULES, SEGMENTS


def segment_table(rows: list[dict]) -> dict[str, dict]:
    """Per class: share of its prototype windows centred on each segment (over the windows
    whose centre is annotated), the counts, the expert rule and the share that agrees with it.

    ``rows``: one per prototype with ``class_code``, ``segment`` (None = unannotated)."""
    table: dict[str, dict] = {}
    for code in sorted({r["class_code"] for r in rows}):
        mine = [r for r in rows if r["class_code"] == code]
        counted = [r["segment"] for r in mine if r["segment"] is not None]
        counts = Counter(counted)
        n = len(counted)
        expected = EXPERT_RULES.get(code)
        entry = {s: (counts[s] / n if n else None) for s in SEGMENTS}
        entry.update({
            "n_prototypes": len(mine), "n_annotated": n,
            "counts": {s: counts[s] for s in SEGMENTS},
            "expected": list(expected) if expected else None,
            "agreement": (sum(counts[s] for s in expected) / n) if expected and n else None,
        })
        entry["n_fallback"] = sum(r.get("source") == "fallback" and r["segment"] is not None
                                  for r in mine)
        table[code] = entry
    return table
