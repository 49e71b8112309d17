"""ECGs drawn the way clinicians read them, as Vega-Lite specs (plain dicts; no torch).

Paper speed 25 mm/s and gain 10 mm/mV on a pink grid of 1 mm (0.04 s, 0.1 mV) and 5 mm
(0.2 s, 0.5 mV) squares, black trace, aspect ratio kept (one millivolt is as tall as 0.4 s is
wide). ``twelve_lead_chart``: the standard print, rows I/aVR/V1/V4, II/aVL/V2/V5, III/aVF/V3/V6,
each lead's own 2.5 s in its column, a 1 mV x 0.2 s calibration pulse at the start of each row,
and a 10 s lead II rhythm strip; windows (prototype matches) shaded. ``window_chart``: one
window of all 12 leads, enlarged. Signals in normalised units cannot be drawn to a millivolt
scale: the chart says so instead of pretending (and draws no calibration pulse).

The specs are written directly rather than through altair's chart objects: building them is
what a rating card waits for, and altair's per-encoding validation cost ~0.15 s per chart.
``st.vega_lite_chart`` draws them, ``save_png`` renders them offline (vl-convert).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
DISPLAY_NAME = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}
PRINT_ROWS = (("I", "AVR", "V1", "V4"), ("II", "AVL", "V2", "V5"), ("III", "AVF", "V3", "V6"))
MM_PER_S = 25.0
MM_PER_MV = 10.0
MINOR, MAJOR, BACKGROUND, TRACE = "#f5c6c6", "#e07b7b", "#fff7f7", "#111111"
HIGHLIGHT = "#1f77b4"
ROW_MV = 4.0  # height of one printed row
MARGIN_S = 0.4  # left margin that holds the calibration pulse
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"


@dataclass(frozen=True)
class Window:
    """A span of the record to shade, in samples (end exclusive), with a short label."""

    start: int
    end: int
    label: str = ""
    color: str = HIGHLIGHT


@dataclass(frozen=True)
class Band:
    """Time-localized clusters drawn as a band under the ECG: the record cut into equal time
    steps, each coloured by its cluster (a shade of its main wave's colour: the clusters of P,
    QRS, T and the rest are greens, blues, oranges and greys) and as opaque as the assignment
    is certain (1 - entropy / log K)."""

    label: str  # whose clusters, e.g. "morphology"
    names: tuple[str, ...]  # per step: its cluster, e.g. "M3 · QRS"
    waves: tuple[str, ...]  # per step: its cluster's main wave (P, QRS, T or rest)
    certainty: tuple[float, ...]  # per step, in [0, 1]


BAND_MV = 0.9  # height of one band, in the chart's millivolt units (9 mm)
# each wave's colour family: (darkest, lightest); a wave's clusters are spread between them
WAVE_COLOURS = {"P": ("#1b7837", "#a6dba0"), "QRS": ("#08306b", "#9ecae1"),
                "T": ("#a63603", "#fdae6b"), "rest": ("#404040", "#d0d0d0")}


def mix_colour(a: str, b: str, f: float) -> str:
    x = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    y = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(u + (v - u) * f):02x}" for u, v in zip(x, y, strict=True))


def cluster_colours(bands: tuple[Band, ...]) -> dict[str, str]:
    """A colour per cluster name: shades of its wave's family, in name order."""
    wave_of = {}
    for band in bands:
        wave_of.update(zip(band.names, band.waves, strict=True))
    colours = {}
    for wave, (dark, light) in WAVE_COLOURS.items():
        members = sorted(n for n, w in wave_of.items() if w == wave)
        for i, name in enumerate(members):
            colours[name] = mix_colour(dark, light, i / max(1, len(members) - 1))
    for name in wave_of:  # a wave outside the four (none today): grey
        colours.setdefault(name, "#808080")
    return colours


def _band_layers(bands: tuple[Band, ...], n: int, fs: int, lo: int, hi: int,
                 offsets: list[float], x0: float, top: float, xd: list, yd: list
                 ) -> list[dict]:
    """The bands' rectangles (samples [lo, hi) of an n-sample record, drawn from each of
    ``offsets`` on the time axis) stacked down from ``top``, their letters in the margin, and
    a legend of the four wave colours."""
    rects, names = [], []
    colours = cluster_colours(bands)
    for k, band in enumerate(bands):
        y2 = top - k * BAND_MV
        y = y2 - BAND_MV * 0.8
        steps = len(band.names)
        for step, (name, certain) in enumerate(zip(band.names, band.certainty, strict=True)):
            a, b = max(lo, step * n / steps), min(hi, (step + 1) * n / steps)
            if a >= b:
                continue
            for offset in offsets:
                rects.append({"x": round(offset + (a - lo) / fs, 4),
                              "x2": round(offset + (b - lo) / fs, 4), "y": y, "y2": y2,
                              "cluster": name, "colour": colours[name],
                              "certainty": round(float(certain), 3)})
        names.append({"x": x0 + 0.1, "y": y + 0.1, "text": band.label[:1].upper()})
    rect = {"data": {"values": rects}, "mark": {"type": "rect"},
            "encoding": {"x": _q("x", xd), "x2": {"field": "x2"}, "y": _q("y", yd),
                         "y2": {"field": "y2"},
                         "color": {"field": "colour", "type": "nominal", "scale": None},
                         "opacity": {"field": "certainty", "type": "quantitative",
                                     "scale": {"domain": [0, 1], "range": [0.12, 1]},
                                     "legend": None},
                         "tooltip": [{"field": "cluster"}, {"field": "certainty"}]}}
    # the legend: one invisible point per wave, its colour the family's middle shade
    legend = {"data": {"values": [{"x": x0, "y": top, "wave": w} for w in WAVE_COLOURS]},
              "mark": {"type": "point", "filled": True, "opacity": 0},
              "encoding": {"x": _q("x", xd), "y": _q("y", yd),
                           "color": {"field": "wave", "type": "nominal",
                                     "scale": {"domain": list(WAVE_COLOURS),
                                               "range": [mix_colour(d, lt, 0.4) for d, lt in
                                                         WAVE_COLOURS.values()]},
                                     "legend": {"title": "band colour: main wave",
                                                "orient": "bottom", "direction": "horizontal",
                                                "symbolOpacity": 1, "symbolType": "square"}}}}
    label = _labels(names, xd, yd)
    label["mark"].update(fontSize=10)
    return [rect, legend, label]


def _q(field: str, domain: list[float] | None = None) -> dict:
    encoding = {"field": field, "type": "quantitative", "axis": None}
    if domain is not None:
        encoding["scale"] = {"domain": domain, "nice": False, "zero": False}
    return encoding


def _grid(x0: float, x1: float, y0: float, y1: float, xd: list, yd: list) -> list[dict]:
    """Minor and major grid lines over [x0, x1] s x [y0, y1] mV, as two rule layers."""
    layers = []
    for (x_step, y_step), color, width in (((0.04, 0.1), MINOR, 0.4),
                                           ((0.2, 0.5), MAJOR, 0.9)):
        rows = [{"x": round(float(x), 4), "x2": round(float(x), 4), "y": y0, "y2": y1}
                for x in np.arange(np.ceil(x0 / x_step - 1e-9) * x_step, x1 + 1e-9, x_step)]
        rows += [{"x": x0, "x2": x1, "y": round(float(y), 4), "y2": round(float(y), 4)}
                 for y in np.arange(np.ceil(y0 / y_step - 1e-9) * y_step, y1 + 1e-9, y_step)]
        layers.append({"data": {"values": rows},
                       "mark": {"type": "rule", "color": color, "strokeWidth": width},
                       "encoding": {"x": _q("x", xd), "x2": {"field": "x2"},
                                    "y": _q("y", yd), "y2": {"field": "y2"}}})
    return layers


def _trace(rows: list[dict], xd: list, yd: list) -> dict:
    return {"data": {"values": rows},
            "mark": {"type": "line", "color": TRACE, "strokeWidth": 1.1, "clip": True},
            "encoding": {"x": _q("x", xd), "y": _q("y", yd),
                         "detail": {"field": "segment", "type": "nominal"},
                         "order": {"field": "order", "type": "quantitative"}}}


def _labels(rows: list[dict], xd: list, yd: list, color: str = TRACE, dy: int = 0) -> dict:
    return {"data": {"values": rows},
            "mark": {"type": "text", "align": "left", "baseline": "bottom", "fontSize": 12,
                     "fontWeight": "bold", "color": color, "dy": dy},
            "encoding": {"x": _q("x", xd), "y": _q("y", yd),
                         "text": {"field": "text", "type": "nominal"}}}


def _series(t: np.ndarray, values: np.ndarray, base: float, segment: str) -> list[dict]:
    return [{"x": round(float(a), 4), "y": round(float(base + b), 4), "segment": segment,
             "order": i} for i, (a, b) in enumerate(zip(t, values, strict=True))]


def paper_note(units: str) -> str:
    """The paper scale of a drawing, and a warning where amplitudes are not millivolts."""
    if units == "mV":
        return "25 mm/s, 10 mm/mV"
    return (f"25 mm/s; amplitudes in {units} (normalised units), NOT millivolts: "
            "no voltage can be read off this grid")


def _spec(layers: list[dict], x0, x1, y0, y1, px_per_mm: float, title: str,
          subtitle: list[str]) -> dict:
    return {
        "$schema": SCHEMA,
        "width": (x1 - x0) * MM_PER_S * px_per_mm,
        "height": (y1 - y0) * MM_PER_MV * px_per_mm,
        "title": {"text": title, "subtitle": subtitle, "anchor": "start"},
        "layer": layers,
        "config": {"view": {"fill": BACKGROUND, "stroke": MAJOR}, "axis": {"grid": False}},
    }


def twelve_lead_chart(signal: np.ndarray, fs: int, units: str = "mV",
                      windows: tuple[Window, ...] = (), title: str = "",
                      px_per_mm: float = 3.0, caption: tuple[str, ...] = (),
                      bands: tuple[Band, ...] = ()) -> dict:
    """The standard 3 x 4 print plus a 10 s lead II rhythm strip, windows shaded (their labels
    stacked on the rhythm strip), ``bands`` (time-localized clusters) under the rhythm strip on
    its time axis; ``caption`` lines go under the title."""
    signal = np.asarray(signal, dtype=np.float64)
    n = signal.shape[1]
    duration = n / fs
    column_s = duration / 4
    t = np.arange(n) / fs
    n_rows = len(PRINT_ROWS) + 1
    baselines = [(n_rows - r - 0.5) * ROW_MV for r in range(n_rows)]
    x0, x1, y0, y1 = -MARGIN_S, duration, -len(bands) * BAND_MV, n_rows * ROW_MV
    xd, yd = [x0, x1], [y0, y1]
    traces, labels, shades, names = [], [], [], []
    for r, leads in enumerate(PRINT_ROWS):
        for c, lead in enumerate(leads):
            lo, hi = int(round(c * column_s * fs)), int(round((c + 1) * column_s * fs))
            traces += _series(t[lo:hi], signal[LEADS.index(lead), lo:hi], baselines[r], lead)
            labels.append({"x": c * column_s + 0.05, "y": baselines[r] + ROW_MV * 0.38,
                           "text": DISPLAY_NAME.get(lead, lead)})
    traces += _series(t, signal[LEADS.index("II")], baselines[-1], "rhythm")
    labels.append({"x": 0.05, "y": baselines[-1] + ROW_MV * 0.38, "text": "II"})
    if units == "mV":
        path = [(-0.35, 0), (-0.3, 0), (-0.3, 1), (-0.1, 1), (-0.1, 0), (-0.05, 0)]
        for r, base in enumerate(baselines):
            traces += [{"x": x, "y": base + y, "segment": f"cal{r}", "order": i}
                       for i, (x, y) in enumerate(path)]
    for k, w in enumerate(windows):
        start_s, end_s = w.start / fs, w.end / fs
        shades.append({"x": start_s, "x2": end_s, "y": 0, "y2": ROW_MV, "color": w.color})
        if w.label:
            names.append({"x": start_s, "y": ROW_MV - 0.45 * k - 0.45, "text": w.label,
                          "color": w.color})
        for c in range(4):  # each print column that overlaps the window, all three rows
            a, b = max(start_s, c * column_s), min(end_s, (c + 1) * column_s)
            if a < b:
                shades.append({"x": a, "x2": b, "y": ROW_MV, "y2": n_rows * ROW_MV,
                               "color": w.color})
    layers = _grid(x0, x1, y0, y1, xd, yd)
    if shades:
        layers.append({"data": {"values": shades}, "mark": {"type": "rect", "opacity": 0.18},
                       "encoding": {"x": _q("x", xd), "x2": {"field": "x2"},
                                    "y": _q("y", yd), "y2": {"field": "y2"},
                                    "color": {"field": "color", "type": "nominal",
                                              "scale": None}}})
    layers.append(_trace(traces, xd, yd))
    layers.append(_labels(labels, xd, yd))
    if bands:
        layers += _band_layers(bands, n, fs, 0, n, [0.0], x0, 0.0, xd, yd)
    if names:
        layer = _labels(names, xd, yd)
        layer["mark"].update(fontSize=11, dx=2)
        layer["encoding"]["color"] = {"field": "color", "type": "nominal", "scale": None}
        layers.append(layer)
    return _spec(layers, x0, x1, y0, y1, px_per_mm, title or "12-lead ECG",
                 [paper_note(units), *caption])


def rhythm_strip_chart(signal: np.ndarray, fs: int, units: str = "mV", lead: str = "II",
                       bands: tuple[Band, ...] = (), title: str = "",
                       px_per_mm: float = 2.5) -> dict:
    """One lead over the whole record (a rhythm strip) with ``bands`` under it: the compact
    picture of what the network's clusters do along an ECG."""
    signal = np.asarray(signal, dtype=np.float64)
    n = signal.shape[1]
    duration = n / fs
    x0, x1, y0, y1 = -MARGIN_S, duration, -len(bands) * BAND_MV, ROW_MV
    xd, yd = [x0, x1], [y0, y1]
    base = ROW_MV / 2
    traces = _series(np.arange(n) / fs, signal[LEADS.index(lead)], base, lead)
    if units == "mV":
        path = [(-0.35, 0), (-0.3, 0), (-0.3, 1), (-0.1, 1), (-0.1, 0), (-0.05, 0)]
        traces += [{"x": x, "y": base + y, "segment": "cal", "order": i}
                   for i, (x, y) in enumerate(path)]
    layers = _grid(x0, x1, y0, y1, xd, yd) + [
        _trace(traces, xd, yd),
        _labels([{"x": 0.05, "y": base + ROW_MV * 0.3,
                  "text": DISPLAY_NAME.get(lead, lead)}], xd, yd)]
    if bands:
        layers += _band_layers(bands, n, fs, 0, n, [0.0], x0, 0.0, xd, yd)
    return _spec(layers, x0, x1, y0, y1, px_per_mm, title or f"lead {lead}",
                 [paper_note(units)])


def window_chart(signal: np.ndarray, fs: int, start: int, end: int, units: str = "mV",
                 title: str = "", px_per_mm: float = 4.0, margin_s: float = 0.0,
                 bands: tuple[Band, ...] = ()) -> dict:
    """All 12 leads of one window (samples [start, end)) enlarged: limb leads in the left
    column, chest leads in the right, ``margin_s`` of context either side (window shaded), a
    1 mV calibration pulse at the start of each row (millivolts only), ``bands``
    (time-localized clusters of the whole record) under both columns."""
    signal = np.asarray(signal, dtype=np.float64)
    lo = max(0, int(start - margin_s * fs))
    hi = min(signal.shape[1], int(end + margin_s * fs))
    span = (hi - lo) / fs
    gap, row_mv = 0.2, 3.0
    t = np.arange(hi - lo) / fs
    traces, labels, shades = [], [], []
    for index, lead in enumerate(LEADS):
        column, r = divmod(index, 6)
        offset = column * (span + gap)
        base = (6 - r - 0.5) * row_mv
        traces += _series(offset + t, signal[index, lo:hi], base, lead)
        labels.append({"x": offset + 0.01, "y": base + row_mv * 0.3,
                       "text": DISPLAY_NAME.get(lead, lead)})
        if margin_s > 0 and r == 0:
            shades.append({"x": offset + (start - lo) / fs, "x2": offset + (end - lo) / fs})
    if units == "mV":  # a 1 mV pulse at the start of each row, in the left margin
        path = [(-0.35, 0), (-0.3, 0), (-0.3, 1), (-0.1, 1), (-0.1, 0), (-0.05, 0)]
        for r in range(6):
            base = (6 - r - 0.5) * row_mv
            traces += [{"x": x, "y": base + y, "segment": f"cal{r}", "order": i}
                       for i, (x, y) in enumerate(path)]
    x0, x1 = (-MARGIN_S if units == "mV" else 0.0), 2 * span + gap
    y0, y1 = -len(bands) * BAND_MV, 6 * row_mv
    xd, yd = [x0, x1], [y0, y1]
    layers = _grid(x0, x1, y0, y1, xd, yd)
    if shades:
        layers.append({"data": {"values": shades},
                       "mark": {"type": "rect", "opacity": 0.12, "color": HIGHLIGHT},
                       "encoding": {"x": _q("x", xd), "x2": {"field": "x2"}}})
    layers.append(_trace(traces, xd, yd))
    layers.append(_labels(labels, xd, yd))
    if bands:
        layers += _band_layers(bands, signal.shape[1], fs, lo, hi, [0.0, span + gap], x0, 0.0,
                               xd, yd)
    return _spec(layers, x0, x1, y0, y1, px_per_mm,
                 title or f"{start / fs:.2f}-{end / fs:.2f} s", [paper_note(units)])


def save_png(spec: dict, path: str | Path, scale: float = 1.0) -> None:
    """Render a spec to PNG offline (vl-convert)."""
    import vl_convert

    Path(path).write_bytes(vl_convert.vegalite_to_png(spec, scale=scale))
