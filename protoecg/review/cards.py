"""The charts of a rating card, built from a study snapshot (no torch, no catalog folder)."""

from __future__ import annotations

from protoecg.ecgplot import Window, twelve_lead_chart, window_chart
from protoecg.review.store import ReviewStore, Study


def card_charts(store: ReviewStore, study: Study, row: dict, n_neighbours: int = 3) -> dict:
    """Vega-Lite specs (dicts): ``window`` (all 12 leads of the prototype's window, enlarged),
    ``record`` (the full 10 s in the standard print, window shaded), ``neighbours`` (the
    nearest other training windows)."""
    fs, units = int(row["fs"]), str(row["units"])
    signal = store.signal(study, int(row["signal_index"]))
    start, end = int(row["window_start"]), int(row["window_end"])
    whole = end - start >= signal.shape[1]
    window = window_chart(signal, fs, start, end, units, margin_s=0.0 if whole else 0.25,
                          px_per_mm=2.0 if whole else 5.0,
                          title=f"Prototype window {row['window_start_s']:.2f}-"
                                f"{row['window_end_s']:.2f} s, all 12 leads")
    record = twelve_lead_chart(
        signal, fs, units, () if whole else (Window(start, end, "prototype"),),
        title=f"Record {row['source_record_id']} ({row['source_dataset']}), full 10 s",
        px_per_mm=2.5)
    neighbours = []
    for n in row.get("neighbours", [])[:n_neighbours]:
        n_signal = store.signal(study, int(n["signal_index"]))
        n_start, n_end = int(n["window_start"]), int(n["window_end"])
        neighbours.append({
            "record_id": str(n["record_id"]), "rank": int(n["rank"]),
            "spec": window_chart(n_signal, fs, n_start, n_end, units,
                                 margin_s=0.0 if whole else 0.25,
                                 px_per_mm=1.2 if whole else 2.0,
                                 title=f"#{n['rank']}: record {n['record_id']}, "
                                       f"{n_start / fs:.2f}-{n_end / fs:.2f} s").to_dict(),
        })
    return {"window": window.to_dict(), "record": record.to_dict(), "neighbours": neighbours}
