"""Issue 29: the prototype quality figures against a hand-made catalog.

Each figure is checked on windows placed by hand, including the case a degenerate branch
produces (every prototype of a class on one window at the record's start), which must fail
it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from protoecg.catalog.quality import catalog_quality, prototype_quality, quality_lines
from protoecg.catalog.reader import read_catalog
from protoecg.data.delineation import (
    NO_SEGMENT,
    SEGMENTS,
    class_segment_table,
    window_segment_codes,
)


def _edit(source, tmp_path, rows: dict[str, dict], name="catalog"):
    """A copy of the synthetic catalog with some prototypes' columns set by hand."""
    out = tmp_path / name
    shutil.copytree(source, out)
    table = pd.read_csv(out / "prototypes.csv", dtype={"source_record_id": str})
    for pid, values in rows.items():
        index = table.index[table["prototype_id"] == pid][0]
        for column, value in values.items():
            table.loc[index, column] = value
        if "window_start" in values:
            table.loc[index, "window_start_s"] = values["window_start"] / 100
            table.loc[index, "window_end_s"] = values["window_end"] / 100
    table.to_csv(out / "prototypes.csv", index=False, lineterminator="\n")
    return read_catalog(out)


def _record(catalog, pid):
    return catalog.prototypes.set_index("prototype_id").loc[pid]


def _apart(catalog, record_index: int) -> dict[str, dict]:
    """Every morphology prototype in a record of its own (not ``record_index``), mid-record."""
    from protoecg.data.synthetic import make_synthetic

    ids = make_synthetic(32, fs=100, seed=0).record_ids
    others = [r for r in range(32) if r != record_index]
    pids = [p for p in catalog.prototypes["prototype_id"] if p.startswith("morphology/")]
    return {pid: _window((ids[r],), r, 400) for pid, r in zip(pids, others, strict=False)}


def _window(record_of, signal_index, start, width=93):
    return {"source_record_id": record_of[0], "signal_index": signal_index,
            "window_start": start, "window_end": start + width}


def test_duplicates_distinct_and_edge_windows_by_hand(synthetic_catalog, tmp_path):
    base = read_catalog(synthetic_catalog)
    first = _record(base, "morphology/CLBBB/00")
    same = (str(first["source_record_id"]),)
    index = int(first["signal_index"])
    # CLBBB/00-02: 00 and 01 overlap in one record (a duplicate pair), 02 in the same record
    # but apart; STD_/00 overlaps CLBBB/00 (shared across classes); STE_/00 at the start
    catalog = _edit(synthetic_catalog, tmp_path, {
        **_apart(base, index),
        "morphology/CLBBB/00": _window(same, index, 300),
        "morphology/CLBBB/01": _window(same, index, 350),
        "morphology/CLBBB/02": _window(same, index, 600),
        "morphology/STD_/00": _window(same, index, 320),
        "morphology/STE_/00": _window(same, index, 0),
        "morphology/STE_/01": _window(same, index, 950 - 93 + 50),  # ends at 10 s
    })
    q = prototype_quality(catalog, segments=[])
    morphology = q["morphology"]
    assert morphology["duplicates"] == 2
    assert morphology["shared_across_classes"] == 3  # STD_/00 with CLBBB/00 and /01
    assert morphology["edge_windows"] == 2
    assert morphology["distinct_windows"] == 18  # every window differs
    assert q["rhythm"]["edge_windows"] is None  # whole-record prototypes have no edge


def test_a_degenerate_projection_fails_every_window_figure(synthetic_catalog, tmp_path):
    """What a dead branch does: every prototype of the branch on window 0 of one record."""
    base = read_catalog(synthetic_catalog)
    first = _record(base, "morphology/CLBBB/00")
    same = (str(first["source_record_id"]),)
    rows = {pid: _window(same, int(first["signal_index"]), 0)
            for pid in base.prototypes["prototype_id"] if pid.startswith("morphology/")}
    catalog = _edit(synthetic_catalog, tmp_path, rows)
    morphology = prototype_quality(catalog, segments=[])["morphology"]
    assert morphology["distinct_windows"] == 1
    assert morphology["duplicates"] == 18
    assert morphology["shared_across_classes"] == 18
    assert morphology["edge_windows"] == 18


def test_purity_beside_prevalence_and_usage(synthetic_catalog, tmp_path):
    base = read_catalog(synthetic_catalog)
    ids = list(base.prototypes["prototype_id"])
    rows = {pid: {"purity": 0.5, "usage_decisions": 0} for pid in ids}
    for pid in ids[:3]:  # three rhythm prototypes drive decisions, one far above prevalence
        rows[pid] = {"purity": 1.0, "usage_decisions": 4}
    catalog = _edit(synthetic_catalog, tmp_path, rows)
    prevalence = dict.fromkeys(["SR", "SBRAD", "STACH", "AFIB"], 0.6)
    q = prototype_quality(catalog, prevalence, segments=[])["rhythm"]
    assert q["purity_mean"] == pytest.approx((3 * 1.0 + 9 * 0.5) / 12)
    assert q["prevalence_mean"] == pytest.approx(0.6)
    assert q["purity_above_prevalence"] == pytest.approx(3 / 12)  # 0.5 < 0.6: blind
    assert q["usage"] == pytest.approx(3 / 12)
    # a catalog written before usage existed says so instead of 0%
    assert "usage" not in prototype_quality(base, segments=[])["rhythm"] or \
        prototype_quality(base, segments=[])["rhythm"]["usage"] is None


def test_wave_centred_share_counts_only_classes_with_a_rule():
    rows = [{"prototype_id": f"morphology/CLBBB/{k:02d}", "agrees": k < 3, "source": "expert"}
            for k in range(4)]
    rows.append({"prototype_id": "morphology/PRC(S)/00", "agrees": None, "source": "expert"})

    class Catalog:  # the least a catalog needs for this figure
        meta = {"n_samples": 1000, "fs": 100}
        prototypes = pd.DataFrame({
            "prototype_id": [r["prototype_id"] for r in rows], "branch": "morphology",
            "class_code": ["CLBBB"] * 4 + ["PRC(S)"], "source_record_id": [str(k) for k in
                                                                        range(5)],
            "window_start": 300, "window_end": 393, "window_start_s": 3.0,
            "window_end_s": 3.93, "active": 1, "purity": 0.5})

    q = prototype_quality(Catalog(), segments=rows)["morphology"]
    assert q["wave_centred"] == pytest.approx(3 / 4)
    assert q["wave_windows"] == 4 and q["wave_expert_windows"] == 4


def test_window_segment_codes_find_the_qrs_on_a_real_ecg(ludb_100):
    """On LUDB record 1 (lead-II QRS centres from the experts), a window centred on a QRS is
    coded QRS by the fallback, and the class table maps CLBBB to QRS only."""
    from protoecg.data.delineation import fallback_delineation

    signal = np.asarray(ludb_100.signals[0])
    qrs = [w for w in fallback_delineation(signal, 100).waves["all"] if w.kind == "QRS"]
    centre = (qrs[3].onset + qrs[3].offset) / 2
    codes = window_segment_codes(signal[None], 100, np.array([centre - 40]),
                                 np.array([centre + 40]))
    assert SEGMENTS[codes[0, 0]] == "QRS"
    table = class_segment_table(["CLBBB", "PRC(S)"])
    assert table[0].tolist() == [s == "QRS" for s in SEGMENTS] + [False]
    assert table[1].all() and table.shape[1] == NO_SEGMENT + 1


def test_catalog_quality_reads_what_the_catalog_recorded(synthetic_catalog, tmp_path):
    out = tmp_path / "run" / "catalog"
    shutil.copytree(synthetic_catalog, out)
    assert catalog_quality(tmp_path / "run") is None  # written before the figures existed
    meta = json.loads((out / "catalog.json").read_text())
    quality = prototype_quality(read_catalog(out), segments=[])
    meta["prototype_quality"] = quality
    (out / "catalog.json").write_text(json.dumps(meta))
    assert catalog_quality(tmp_path / "run") == json.loads(json.dumps(quality))
    assert catalog_quality(tmp_path / "nothing") is None
    lines = quality_lines(quality)
    assert lines[1].startswith("morphology: ") and "duplicates in a class" in lines[1]


def test_report_html_and_summary_carry_the_quality(synthetic_catalog, tmp_path):
    from protoecg.agreement.report import write_report
    from protoecg.study.protocol import load_protocol
    from protoecg.study.store import ReviewStore

    catalog = read_catalog(synthetic_catalog)
    catalog.meta["prototype_quality"] = prototype_quality(catalog, segments=[])
    with ReviewStore(tmp_path / "r.db") as store:
        study = store.create_study("q", load_protocol(
            "study_protocols/protoecgnet_clinician_review.toml"), catalog)
        write_report(store, study, tmp_path / "report", n_resamples=10)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["prototype_quality"]["morphology"]["n_active"] == 18
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<h2>Prototype quality</h2>" in page and "centred on their class" in page


def test_usage_and_purity_are_undefined_for_a_degenerate_branch(synthetic_catalog, tmp_path):
    """A dead branch's similarities rank by float noise: its usage and purity would pass."""
    base = read_catalog(synthetic_catalog)
    rows = {pid: {"purity": 0.9, "usage_decisions": 5} for pid in base.prototypes["prototype_id"]}
    catalog = _edit(synthetic_catalog, tmp_path, rows)
    live = {"spread_median": 0.4, "share_varying": 1.0, "degenerate": False}
    health = {"rhythm": live, "global": live,
              "morphology": {"spread_median": 0.0, "share_varying": 0.0, "degenerate": True}}
    q = prototype_quality(catalog, {"CLBBB": 0.1, "STD_": 0.1, "STE_": 0.1, "SR": 0.5},
                          health, segments=[])
    assert q["rhythm"]["usage"] == 1.0 and q["rhythm"]["purity_mean"] == pytest.approx(0.9)
    m = q["morphology"]
    assert m["usage"] is None and m["purity_mean"] is None and m["degenerate"]
    assert m["undefined_because"] == "degenerate branch"
    assert quality_lines(q)[1].endswith("-- DEGENERATE")


def test_the_queue_shows_the_busiest_prototypes_first(synthetic_catalog, tmp_path):
    """Issue 29: a rater meets the prototypes that drive the most correct decisions first (a
    class by its busiest prototype); without usage the seeded order is what it always was."""
    from protoecg.study import answers
    from protoecg.study.assignment import assign, queue_order
    from protoecg.study.protocol import load_protocol
    from protoecg.study.store import ReviewStore

    items = [("a", "X", 0), ("b", "X", 0), ("c", "Y", 0), ("d", "Y", 0)]
    plain = queue_order("r", [i[:2] for i in items], seed=1)
    assert queue_order("r", items, seed=1) == plain  # no usage: unchanged
    busy = [("a", "X", 0), ("b", "X", 2), ("c", "Y", 9), ("d", "Y", 0)]
    assert queue_order("r", busy, seed=1) == ["c", "d", "b", "a"]

    base = read_catalog(synthetic_catalog)
    ids = list(base.prototypes["prototype_id"])
    catalog = _edit(synthetic_catalog, tmp_path, {
        pid: {"usage_decisions": 7 if pid == "morphology/STE_/03" else 0} for pid in ids})
    with ReviewStore(tmp_path / "q.db") as store:
        study = store.create_study("q", load_protocol(
            "study_protocols/protoecgnet_clinician_review.toml"), catalog)
        store.add_reviewer(study, "ana", "rater", code="ANA1-RATE-0001")
        assign(store, study, 1)
        first = answers.queue(store, store.reviewer(study, "ana"))[0]
    assert first.prototype_id == "morphology/STE_/03"


def test_generated_ecgs_have_no_expert_delineation_and_use_the_fallback(synthetic_catalog):
    """The synthetic demo's catalog has no data folder (root None): the fallback places it."""
    from protoecg.catalog.quality import prototype_segments
    from protoecg.data.delineation import has_expert_delineation

    assert not has_expert_delineation(None, "1")
    catalog = read_catalog(synthetic_catalog)
    rows, about = prototype_segments(catalog, "synthetic", None)
    assert rows and {r["source"] for r in rows} == {"fallback"}
    assert about["n_expert"] == 0
    assert prototype_quality(catalog)["morphology"]["wave_windows"] > 0
