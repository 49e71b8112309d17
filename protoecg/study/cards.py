"""The charts of a rating card, built from a study snapshot (no torch, no catalog folder)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from protoecg.ecgplot import Window, twelve_lead_chart, window_chart
from protoecg.study.store import ReviewStore, Study


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
                                       f"{n_start / fs:.2f}-{n_end / fs:.2f} s"),
        })
    return {"window": window, "record": record, "neighbours": neighbours}


# --------------------------------------------------------------------------- caching
# Building a card's three charts takes most of a second (altair); a rater spends many
# seconds on each card. So the app keeps built cards in a process-wide cache and, while the
# rater looks at one card, builds the next in a background thread.
_CACHE: OrderedDict[tuple, dict] = OrderedDict()
_CACHE_SIZE = 256
_LOCK = threading.Lock()
_PENDING: set[tuple] = set()


def cached_card_charts(db_path: str, study_name: str, row: dict) -> dict:
    """``card_charts`` through the cache (keyed by database, study and prototype)."""
    key = (str(db_path), study_name, row["prototype_id"])
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    with ReviewStore(db_path, "read") as store:
        charts = card_charts(store, store.study(study_name), row)
    with _LOCK:
        _CACHE[key] = charts
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return charts


def prefetch(db_path: str, study_name: str, row: dict) -> threading.Thread | None:
    """Build a card's charts in a background thread (no-op if cached or under way)."""
    key = (str(db_path), study_name, row["prototype_id"])
    with _LOCK:
        if key in _CACHE or key in _PENDING:
            return None
        _PENDING.add(key)

    def work():
        try:
            cached_card_charts(db_path, study_name, row)
        except Exception:  # noqa: BLE001 - a failed prefetch is retried when the card is shown
            pass
        finally:
            with _LOCK:
                _PENDING.discard(key)

    thread = threading.Thread(target=work, daemon=True, name="protoecg-card-prefetch")
    thread.start()
    return thread
