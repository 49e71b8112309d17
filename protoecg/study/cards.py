"""The drawings of a rating card, built from a study snapshot (no torch, no catalog folder)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from protoecg.data.labels import scp_statements
from protoecg.ecgplot import paper_note
from protoecg.ecgsvg import Shade, twelve_lead_svg, window_svg
from protoecg.study.store import ReviewStore, Study

CONTEXT_S = 0.25  # seconds drawn either side of a window


def card_charts(store: ReviewStore, study: Study, row: dict, n_neighbours: int = 3) -> dict:
    """SVG drawings (strings) of one card: ``whole`` (the prototype spans the whole record),
    ``window`` (all 12 leads of the prototype's window, enlarged, with context; None for a
    whole-record prototype), ``record`` (the standard print, window shaded), ``neighbours``
    (the nearest other training windows: record, time, drawing), ``note`` (paper scale),
    ``heights_mm`` (the window's and the record's drawing heights, which the card shares its
    height out by so that both are shown at one scale)."""
    fs, units = int(row["fs"]), str(row["units"])
    signal = store.signal(study, int(row["signal_index"]))
    start, end = int(row["window_start"]), int(row["window_end"])
    whole = end - start >= signal.shape[1]
    record = twelve_lead_svg(
        signal, fs, units, () if whole else (Shade(start, end, "prototype"),),
        label=f"record {row['source_record_id']}, 12 leads, 10 s")
    window = None if whole else window_svg(
        signal, fs, start, end, units, margin_s=CONTEXT_S,
        label=f"prototype window {row['window_start_s']:.2f}-{row['window_end_s']:.2f} s")
    neighbours = []
    for n in row.get("neighbours", [])[:n_neighbours]:
        n_signal = store.signal(study, int(n["signal_index"]))
        n_start, n_end = int(n["window_start"]), int(n["window_end"])
        neighbours.append({
            "record_id": str(n["record_id"]), "rank": int(n["rank"]),
            "start_s": n_start / fs, "end_s": n_end / fs,
            "svg": twelve_lead_svg(n_signal, fs, units, label=f"record {n['record_id']}")
            if whole else window_svg(n_signal, fs, n_start, n_end, units,
                                     margin_s=CONTEXT_S, label=f"record {n['record_id']}"),
        })
    return {"whole": whole, "window": window, "record": record, "neighbours": neighbours,
            "note": paper_note(units), "heights_mm": (_height_mm(window), _height_mm(record))}


def _height_mm(svg: str | None) -> float:
    """A drawing's height in mm of paper (its viewBox height; 0 for no drawing)."""
    if svg is None:
        return 0.0
    return float(svg.split('viewBox="', 1)[1].split('"', 1)[0].split()[3])


# --------------------------------------------------------------------------- caching
# Drawing a card takes tens of milliseconds; a rater spends many seconds on each card. So the
# app keeps drawn cards in a process-wide cache and, while the rater looks at one card, draws
# the next in a background thread.
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


SUPERCLASSES = {"NORM": "normal ECG", "MI": "myocardial infarction", "STTC": "ST/T change",
                "CD": "conduction disturbance", "HYP": "hypertrophy"}


def class_info(code: str) -> dict:
    """What a card says about its class, from PTB-XL's statement table: the description and,
    on demand, the kind of statement and where PTB-XL files it."""
    table = scp_statements()
    if code not in table.index:
        return {"code": code, "description": "", "details": []}
    row = table.loc[code]
    kinds = [k for k in ("diagnostic", "form", "rhythm") if str(row[k]) in ("1", "1.0")]
    details = [f"PTB-XL statement ({', '.join(kinds) or 'other'})"]
    if row["diagnostic_class"]:
        details.append(f"diagnostic superclass {row['diagnostic_class']} "
                       f"({SUPERCLASSES.get(row['diagnostic_class'], '')}), subclass "
                       f"{row['diagnostic_subclass']}")
    if row["statement_category"]:
        details.append(f"category: {row['statement_category']}")
    return {"code": code, "description": str(row["description"]), "details": details}
