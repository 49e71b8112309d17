"""Prototype quality, as a clinician meets it, measured in every catalog (issue 29).

Per branch, over its active prototypes (``catalog.json`` ``prototype_quality``; ``evaluate
--json`` repeats it):

* ``distinct_windows``: how many different windows the cards show;
* ``duplicates``: prototypes whose window overlaps another prototype's of the same class in
  one record (whole-record and pooled prototypes: the same record);
  ``shared_across_classes``: the same across classes of the branch (a rater meets the window
  twice under two names); ``shared_across_branches``: overlapping a prototype's of another
  branch (a whole-record prototype overlaps every window of its record);
* ``edge_windows``: time-local windows that reach into the record's first or last second
  (the backbone's zero padding; LUDB's experts annotate neither end); None for whole-record
  prototypes;
* ``purity_mean`` beside ``prevalence_mean``: ProtoPNet's purity (share of the prototype's
  ``purity_k`` most similar training records that carry its class) and its class's training
  prevalence, the purity a prototype blind to its class would reach; ``purity_above_prevalence``
  the share of prototypes above it;
* ``wave_centred``: the share of time-local windows whose centre lies on the wave their class
  is read from (``protoecg.data.delineation.EXPERT_RULES``: QRS for conduction, infarction,
  hypertrophy; ST-T or T for ischaemia and repolarisation; P for atrial enlargement), by
  expert delineation where the dataset has it and the documented fallback elsewhere, over the
  windows whose class has a rule and whose centre is delineated; ``wave_source`` says which;
* ``usage``: the share of active prototypes among the top 3 contributors (similarity x fusion
  weight) to at least one true-positive validation prediction, a label predicted at its
  F1-best validation threshold (``usage_decisions`` per prototype in ``prototypes.csv``: how
  many such decisions it drives);
* the branch's latent health (``protoecg.train.health``: ``spread_median``, ``share_varying``,
  ``degenerate``).

Each figure has a failure it catches (docs/results/prototype_quality.md): a dead branch shows few
distinct windows and duplicates (every window ties), edge windows (ties fall to window 0) and
chance wave centring. Usage and purity are computed from similarities; a dead branch's
similarities rank prototypes and records by float noise (the demo's dead morphology branch of
commit 7fc3a74 "reached" 71% usage and purity twice its prevalence), so for a degenerate
branch they are undefined. This module reads catalog files only (no torch), so the review
side can compute the same figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from protoecg.catalog.reader import catalog_dir, has_catalog, read_meta
from protoecg.data.delineation import (
    EXPERT_RULES,
    fallback_delineation,
    has_expert_delineation,
    ludb_delineation,
    window_segment,
)

EDGE_S = 1.0  # the first and last second of a record
HEALTH_KEYS = ("spread_median", "share_varying", "dims_varying", "latent_dims", "degenerate")


def prototype_segments(catalog, dataset_name: str, root: str) -> tuple[list[dict], dict]:
    """One row per time-local prototype (window shorter than the record): its segment and
    whether its window holds no wave, from expert delineation where the dataset has it (LUDB,
    or its PTB-XL-layout conversion), else the fallback."""
    table = catalog.prototypes
    n_samples = int(catalog.meta["n_samples"])
    fs = float(catalog.meta["fs"])
    local = table[(table["window_end"] - table["window_start"]) < n_samples]
    rows, fallback_checks = [], []
    ludb = dataset_name == "ludb"
    cache: dict[str, object] = {}
    for row in local.itertuples():
        record = str(row.source_record_id)
        start_s, end_s = float(row.window_start_s), float(row.window_end_s)
        if record not in cache:
            signal = catalog.signal(row.signal_index)
            fallback = fallback_delineation(signal, fs)
            expert_here = ludb or has_expert_delineation(root, record)
            cache[record] = (ludb_delineation(root, record) if expert_here else None, fallback)
        delineation, fallback = cache[record]
        expert = delineation is not None
        guess, guess_empty = window_segment(fallback, start_s, end_s)
        segment, no_wave = (window_segment(delineation, start_s, end_s) if expert
                            else (None, None))
        if segment is not None:
            fallback_checks.append(guess == segment)
            source = "expert"
        else:  # no expert annotation here (another dataset, or LUDB's unannotated edges)
            segment, no_wave, source = guess, guess_empty, "fallback"
        expected = EXPERT_RULES.get(row.class_code)
        rows.append({
            "prototype_id": row.prototype_id, "branch": row.branch,
            "class_code": row.class_code, "record_id": record,
            "window_start_s": start_s, "window_end_s": end_s,
            "segment": segment, "no_wave": no_wave, "source": source,
            "agrees": None if expected is None or segment is None else segment in expected,
        })
    duration = n_samples / fs
    expert = any(d is not None for d, _ in cache.values())
    source = ("expert (LUDB annotation files, majority over the 12 leads), the fallback where "
              "LUDB has no annotation (about the first and last second of each record)"
              if expert else
              "fallback (12-lead slope envelope QRS detection + interval template)")
    about = {"source": source, "n_windows": len(rows),
             "n_expert": sum(r["source"] == "expert" for r in rows),
             "n_fallback": sum(r["source"] == "fallback" for r in rows),
             "n_unannotated": sum(r["segment"] is None for r in rows),
             # prototypes drawn to the record's edges (padding artefacts are a known cause)
             "n_in_first_or_last_second": sum(r["window_start_s"] < 1.0 or
                                              r["window_end_s"] > duration - 1.0
                                              for r in rows)}
    if expert:
        about["fallback_agreement_with_experts"] = (
            float(np.mean(fallback_checks)) if fallback_checks else None)
        about["fallback_checked_windows"] = len(fallback_checks)
    return rows, about



def _overlaps(a: pd.Series, b: pd.Series) -> bool:
    return (str(a.source_record_id) == str(b.source_record_id)
            and int(a.window_start) < int(b.window_end) and int(b.window_start) < int(a.window_end))


def _overlap_flags(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per prototype: overlaps another of its class; overlaps one of another class."""
    same = np.zeros(len(rows), dtype=bool)
    other = np.zeros(len(rows), dtype=bool)
    items = list(rows.itertuples())
    by_record: dict[str, list[int]] = {}
    for i, row in enumerate(items):
        by_record.setdefault(str(row.source_record_id), []).append(i)
    for members in by_record.values():
        for x, i in enumerate(members):
            for j in members[x + 1:]:
                if _overlaps(items[i], items[j]):
                    if items[i].class_code == items[j].class_code:
                        same[i] = same[j] = True
                    else:
                        other[i] = other[j] = True
    return same, other


def _other_branch_flags(rows: pd.DataFrame) -> dict[str, bool]:
    """Per prototype: its window overlaps a prototype's of another branch (a whole-record
    window overlaps every window of its record): the rater meets that ECG stretch twice."""
    flags = dict.fromkeys(rows["prototype_id"], False)
    items = list(rows.itertuples())
    by_record: dict[str, list] = {}
    for row in items:
        by_record.setdefault(str(row.source_record_id), []).append(row)
    for members in by_record.values():
        for x, a in enumerate(members):
            for b in members[x + 1:]:
                if a.branch != b.branch and _overlaps(a, b):
                    flags[a.prototype_id] = flags[b.prototype_id] = True
    return flags


def prototype_flags(catalog, segments: list[dict] | None = None,
                    prevalence: dict[str, float] | None = None) -> pd.DataFrame:
    """Per prototype (index ``prototype_id``), what the branch figures count, as columns the
    catalog keeps and prune rules read: ``duplicate`` (1: overlaps another prototype of its
    class in one record), ``edge`` (1: a time-local window in the first or last second),
    ``on_wave`` (1 / 0: centred on its class's wave; empty where its class has no rule or the
    centre is not delineated) and ``class_prevalence``."""
    table = catalog.prototypes
    n_samples = int(catalog.meta["n_samples"])
    duration = n_samples / float(catalog.meta["fs"])
    if segments is None:
        segments, _ = prototype_segments(catalog, catalog.meta.get("dataset", ""),
                                         catalog.meta.get("root", ""))
    agrees = {r["prototype_id"]: r["agrees"] for r in segments}
    out = pd.DataFrame(index=pd.Index(table["prototype_id"], name="prototype_id"))
    out["duplicate"] = 0
    for _, rows in table.groupby("branch", sort=False):
        active = rows[rows["active"].astype(int) == 1] if "active" in rows else rows
        same, _ = _overlap_flags(active)
        out.loc[active["prototype_id"], "duplicate"] = same.astype(int)
    local = (table["window_end"] - table["window_start"]) < n_samples
    edge = ((table["window_start_s"] < EDGE_S) | (table["window_end_s"] > duration - EDGE_S))
    out["edge"] = (edge & local).astype(int).to_numpy()
    out["on_wave"] = ["" if agrees.get(p) is None else int(agrees[p])
                      for p in table["prototype_id"]]
    out["class_prevalence"] = [(prevalence or {}).get(c, "") for c in table["class_code"]]
    return out


def prototype_quality(catalog, prevalence: dict[str, float] | None = None,
                      health: dict[str, dict] | None = None,
                      segments: list[dict] | None = None) -> dict[str, dict]:
    """The figures of the module text, per branch. ``prevalence``: class -> training
    prevalence; ``health``: ``train.health.model_health``'s figures; ``segments``:
    ``prototype_segments``' rows (computed here when None)."""
    table = catalog.prototypes
    n_samples = int(catalog.meta["n_samples"])
    fs = float(catalog.meta["fs"])
    duration = n_samples / fs
    if segments is None:
        segments, _ = prototype_segments(catalog, catalog.meta.get("dataset", ""),
                                         catalog.meta.get("root", ""))
    segment_of = {r["prototype_id"]: r for r in segments}
    out = {}
    everyone = table[table["active"].astype(int) == 1] if "active" in table else table
    elsewhere = _other_branch_flags(everyone)
    for branch, rows in table.groupby("branch", sort=False):
        active = rows[rows["active"].astype(int) == 1] if "active" in rows else rows
        same, other = _overlap_flags(active)
        local = (active["window_end"] - active["window_start"]) < n_samples
        edge = ((active["window_start_s"] < EDGE_S)
                | (active["window_end_s"] > duration - EDGE_S)) & local
        figures: dict = {
            "n_prototypes": int(len(rows)), "n_active": int(len(active)),
            "distinct_windows": int(active[["source_record_id", "window_start", "window_end"]]
                                    .astype(str).drop_duplicates().shape[0]),
            "duplicates": int(same.sum()), "shared_across_classes": int(other.sum()),
            "shared_across_branches": int(sum(elsewhere[p] for p in active["prototype_id"])),
            "time_local": bool(local.any()),
            "edge_windows": int(edge.sum()) if local.any() else None,
        }
        purity = (active["purity"].astype(float).to_numpy() if "purity" in active
                  else np.array([]))
        if np.isfinite(purity).any():
            figures["purity_mean"] = float(np.nanmean(purity))
            base = np.array([(prevalence or {}).get(c, np.nan) for c in active["class_code"]])
            if np.isfinite(base).any():
                figures["prevalence_mean"] = float(np.nanmean(base))
                figures["purity_above_prevalence"] = float(np.mean(purity > base))
        ruled = [segment_of[p] for p in active["prototype_id"]
                 if p in segment_of and segment_of[p]["agrees"] is not None]
        figures["wave_centred"] = (float(np.mean([r["agrees"] for r in ruled]))
                                   if ruled else None)
        figures["wave_windows"] = len(ruled)
        figures["wave_expert_windows"] = sum(r["source"] == "expert" for r in ruled)
        if "usage_decisions" in active:
            decisions = pd.to_numeric(active["usage_decisions"], errors="coerce")
            figures["usage"] = (float((decisions > 0).mean())
                                if decisions.notna().all() and len(active) else None)
        if health and branch in health:
            figures.update({k: health[branch][k] for k in HEALTH_KEYS if k in health[branch]})
            if health[branch].get("degenerate"):
                # similarities that rate every window alike still rank prototypes and records
                # by float noise: the demo's dead morphology branch "reached" 71% usage and
                # purity twice its prevalence. Undefined, not passed
                for key in ("usage", "purity_mean", "purity_above_prevalence"):
                    figures[key] = None
                figures["undefined_because"] = "degenerate branch"
        out[branch] = figures
    return out


def quality_lines(quality: dict[str, dict]) -> list[str]:
    """One line per branch: what a researcher checks before a study."""
    lines = []
    for branch, f in quality.items():
        parts = [f"{f['distinct_windows']} distinct windows for {f['n_active']} prototypes",
                 f"{f['duplicates']} duplicates in a class"]
        if f.get("edge_windows") is not None:
            parts.append(f"{f['edge_windows']} in the first or last second")
        if f.get("wave_centred") is not None:
            parts.append(f"{f['wave_centred']:.0%} on their class's wave")
        if f.get("purity_mean") is not None and f.get("prevalence_mean") is not None:
            parts.append(f"purity {f['purity_mean']:.2f} (prevalence {f['prevalence_mean']:.2f})")
        if f.get("usage") is not None:
            parts.append(f"{f['usage']:.0%} used")
        if f.get("spread_median") is not None:
            parts.append(f"similarity spread {f['spread_median']:.2f}")
        if isinstance(f.get("sanity"), dict) and f["sanity"].get("model_randomisation"):
            parts.append(f"model randomisation: {f['sanity']['model_randomisation']}")
        lines.append(f"{branch}: " + ", ".join(parts)
                     + (" -- DEGENERATE" if f.get("degenerate") else ""))
    return lines


def catalog_quality(run_dir: str | Path) -> dict[str, dict] | None:
    """The ``prototype_quality`` a run's catalog recorded (None: no catalog, or one written
    before the figures existed; CatalogError: a damaged one)."""
    if not has_catalog(run_dir):
        return None
    quality = read_meta(catalog_dir(run_dir)).get("prototype_quality")
    return quality if isinstance(quality, dict) else None


# what each figure is called where researchers read it (the app's pages and report.html)
QUALITY_COLUMNS = (
    ("n_active", "prototypes in use"),
    ("distinct_windows", "distinct windows"),
    ("duplicates", "overlapping another of their class"),
    ("shared_across_classes", "overlapping another class's"),
    ("edge_windows", "within 1 s of the record's edge"),
    ("wave_centred", "centred on their class's wave"),
    ("purity_mean", "purity"),
    ("prevalence_mean", "class prevalence"),
    ("usage", "driving a correct decision"),
    ("spread_median", "similarity spread"),
)
_PERCENT = {"wave_centred", "usage"}


def quality_rows(quality: dict[str, dict] | None) -> list[dict]:
    """One row per branch, the figures formatted under their readers' names; an empty list
    for a catalog written before the figures existed. A degenerate branch says so."""
    rows = []
    for branch, figures in (quality or {}).items():
        row = {"branch": branch}
        for key, title in QUALITY_COLUMNS:
            value = figures.get(key)
            if value is None:
                row[title] = "–"
            elif key in _PERCENT:
                row[title] = f"{value:.0%}"
            elif isinstance(value, float):
                row[title] = f"{value:.2f}"
            else:
                row[title] = str(value)
        row["latent space"] = "degenerate" if figures.get("degenerate") else "alive"
        rows.append(row)
    return rows


def quality_table(quality: dict[str, dict] | None) -> list[dict]:
    """``quality_rows`` turned: one row per figure, one column per branch (fits a page at
    any width)."""
    rows = quality_rows(quality)
    if not rows:
        return []
    figures = [key for key in rows[0] if key != "branch"]
    return [{"figure": figure, **{row["branch"]: row[figure] for row in rows}}
            for figure in figures]
