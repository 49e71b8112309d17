"""ECGs drawn the way clinicians read them, as altair charts (no torch needed).

Paper speed 25 mm/s and gain 10 mm/mV on a pink grid of 1 mm (0.04 s, 0.1 mV) and 5 mm
(0.2 s, 0.5 mV) squares, black trace, aspect ratio kept (one millivolt is as tall as 0.4 s is
wide). ``twelve_lead_chart``: the standard print, rows I/aVR/V1/V4, II/aVL/V2/V5, III/aVF/V3/V6,
each lead's own 2.5 s in its column, a 1 mV x 0.2 s calibration pulse at the start of each row,
and a 10 s lead II rhythm strip; windows (prototype matches) shaded. ``window_chart``: one
window of all 12 leads, enlarged. Signals in normalised units cannot be drawn to a millivolt
scale: the chart says so instead of pretending (and draws no calibration pulse).
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

# 12 leads x 10 s at 500 Hz is 60,000 points: more than altair's default guard of 5,000 rows,
# which exists for browsers drawing scatter plots, not for line traces of this size.
alt.data_transformers.disable_max_rows()

LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
DISPLAY_NAME = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}
PRINT_ROWS = (("I", "AVR", "V1", "V4"), ("II", "AVL", "V2", "V5"), ("III", "AVF", "V3", "V6"))
MM_PER_S = 25.0
MM_PER_MV = 10.0
MINOR, MAJOR, BACKGROUND, TRACE = "#f5c6c6", "#e07b7b", "#fff7f7", "#111111"
HIGHLIGHT = "#1f77b4"
ROW_MV = 4.0  # height of one printed row
MARGIN_S = 0.4  # left margin that holds the calibration pulse


@dataclass(frozen=True)
class Window:
    """A span of the record to shade, in samples (end exclusive), with a short label."""

    start: int
    end: int
    label: str = ""
    color: str = HIGHLIGHT


def _grid(x0: float, x1: float, y0: float, y1: float, x_scale, y_scale,
          mv_per_unit: float = 1.0) -> alt.Chart:
    """Minor and major grid lines over [x0, x1] s x [y0, y1] mV."""
    rows = []
    for step, kind in ((0.04, "minor"), (0.2, "major")):
        for x in np.arange(np.ceil(x0 / step) * step, x1 + 1e-9, step):
            rows.append({"x": x, "x2": x, "y": y0, "y2": y1, "kind": kind})
    for step, kind in ((0.1 * mv_per_unit, "minor"), (0.5 * mv_per_unit, "major")):
        for y in np.arange(np.ceil(y0 / step) * step, y1 + 1e-9, step):
            rows.append({"x": x0, "x2": x1, "y": y, "y2": y, "kind": kind})
    frame = pd.DataFrame(rows)
    return alt.Chart(frame).mark_rule().encode(
        x=alt.X("x:Q", scale=x_scale, axis=None), x2="x2:Q",
        y=alt.Y("y:Q", scale=y_scale, axis=None), y2="y2:Q",
        color=alt.Color("kind:N", scale=alt.Scale(domain=["minor", "major"],
                                                  range=[MINOR, MAJOR]), legend=None),
        strokeWidth=alt.condition(alt.datum.kind == "major", alt.value(0.9), alt.value(0.4)),
    )


def _scales(x0, x1, y0, y1, px_per_mm):
    width = (x1 - x0) * MM_PER_S * px_per_mm
    height = (y1 - y0) * MM_PER_MV * px_per_mm
    x = alt.Scale(domain=[x0, x1], nice=False, zero=False)
    y = alt.Scale(domain=[y0, y1], nice=False, zero=False)
    return width, height, x, y


def _trace(frame: pd.DataFrame, x_scale, y_scale) -> alt.Chart:
    return alt.Chart(frame).mark_line(color=TRACE, strokeWidth=1.1, clip=True).encode(
        x=alt.X("x:Q", scale=x_scale, axis=None),
        y=alt.Y("y:Q", scale=y_scale, axis=None),
        detail="segment:N", order="order:Q",
    )


def _note(units: str) -> str:
    if units == "mV":
        return "25 mm/s, 10 mm/mV"
    return (f"25 mm/s; amplitudes in {units} (normalised units), NOT millivolts: "
            "no voltage can be read off this grid")


def twelve_lead_chart(signal: np.ndarray, fs: int, units: str = "mV",
                      windows: tuple[Window, ...] = (), title: str = "",
                      px_per_mm: float = 3.0, caption: tuple[str, ...] = ()) -> alt.LayerChart:
    """The standard 3 x 4 print plus a 10 s lead II rhythm strip, windows shaded (their labels
    stacked on the rhythm strip); ``caption`` lines go under the title."""
    signal = np.asarray(signal, dtype=np.float64)
    n = signal.shape[1]
    duration = n / fs
    column_s = duration / 4
    t = np.arange(n) / fs
    rows, labels, pulses, shades = [], [], [], []
    n_rows = len(PRINT_ROWS) + 1
    baselines = [(n_rows - r - 0.5) * ROW_MV for r in range(n_rows)]
    for r, leads in enumerate(PRINT_ROWS):
        for c, lead in enumerate(leads):
            lo, hi = int(round(c * column_s * fs)), int(round((c + 1) * column_s * fs))
            values = signal[LEADS.index(lead), lo:hi]
            for i, (tt, v) in enumerate(zip(t[lo:hi], values, strict=True)):
                rows.append({"x": tt, "y": baselines[r] + v, "segment": f"{lead}", "order": i})
            labels.append({"x": c * column_s + 0.05, "y": baselines[r] + ROW_MV * 0.38,
                           "text": DISPLAY_NAME.get(lead, lead)})
    ii = signal[LEADS.index("II")]
    for i, (tt, v) in enumerate(zip(t, ii, strict=True)):
        rows.append({"x": tt, "y": baselines[-1] + v, "segment": "rhythm", "order": i})
    labels.append({"x": 0.05, "y": baselines[-1] + ROW_MV * 0.38, "text": "II"})
    if units == "mV":
        for r, base in enumerate(baselines):
            path = [(-0.35, 0), (-0.3, 0), (-0.3, 1), (-0.1, 1), (-0.1, 0), (-0.05, 0)]
            for i, (x, y) in enumerate(path):
                pulses.append({"x": x, "y": base + y, "segment": f"cal{r}", "order": i})
    for k, w in enumerate(windows):
        start_s, end_s = w.start / fs, w.end / fs
        shades.append({"x": start_s, "x2": end_s, "y": 0, "y2": ROW_MV, "label": w.label,
                       "label_y": ROW_MV - 0.45 * k, "color": w.color})  # rhythm strip
        for c in range(4):  # each print column that overlaps the window, all three rows
            a, b = max(start_s, c * column_s), min(end_s, (c + 1) * column_s)
            if a < b:
                shades.append({"x": a, "x2": b, "y": ROW_MV, "y2": n_rows * ROW_MV,
                               "label": "", "label_y": 0.0, "color": w.color})
    x0, x1, y0, y1 = -MARGIN_S, duration, 0.0, n_rows * ROW_MV
    width, height, xs, ys = _scales(x0, x1, y0, y1, px_per_mm)
    layers = [_grid(x0, x1, y0, y1, xs, ys)]
    if shades:
        frame = pd.DataFrame(shades)
        layers.append(alt.Chart(frame).mark_rect(opacity=0.18).encode(
            x=alt.X("x:Q", scale=xs, axis=None), x2="x2:Q",
            y=alt.Y("y:Q", scale=ys, axis=None), y2="y2:Q",
            color=alt.Color("color:N", scale=None)))
        named = frame[frame["label"] != ""]
        if not named.empty:
            layers.append(alt.Chart(named).mark_text(align="left", baseline="top", dx=2, dy=2,
                                                     fontSize=11, fontWeight="bold").encode(
                x=alt.X("x:Q", scale=xs, axis=None), y=alt.Y("label_y:Q", scale=ys, axis=None),
                text="label:N",
                color=alt.Color("color:N", scale=None)))
    for bound in range(1, 4):  # lead change markers between print columns
        labels.append({"x": bound * column_s, "y": 0, "text": ""})
    layers.append(_trace(pd.DataFrame(rows), xs, ys))
    if pulses:
        layers.append(_trace(pd.DataFrame(pulses), xs, ys))
    layers.append(alt.Chart(pd.DataFrame(labels)).mark_text(
        align="left", baseline="bottom", fontSize=12, fontWeight="bold", color=TRACE).encode(
        x=alt.X("x:Q", scale=xs, axis=None), y=alt.Y("y:Q", scale=ys, axis=None),
        text="text:N"))
    return alt.layer(*layers).properties(
        width=width, height=height,
        title=alt.TitleParams(title or "12-lead ECG", subtitle=[_note(units), *caption],
                              anchor="start"),
    ).configure_view(fill=BACKGROUND, stroke=MAJOR).configure_axis(grid=False)


def window_chart(signal: np.ndarray, fs: int, start: int, end: int, units: str = "mV",
                 title: str = "", px_per_mm: float = 4.0, margin_s: float = 0.0
                 ) -> alt.LayerChart:
    """All 12 leads of one window (samples [start, end)) enlarged: limb leads in the left
    column, chest leads in the right, ``margin_s`` of context either side (window shaded)."""
    signal = np.asarray(signal, dtype=np.float64)
    lo = max(0, int(start - margin_s * fs))
    hi = min(signal.shape[1], int(end + margin_s * fs))
    span = (hi - lo) / fs
    gap = 0.2
    row_mv = 3.0
    rows, labels, shades = [], [], []
    for index, lead in enumerate(LEADS):
        column, r = divmod(index, 6)
        offset = column * (span + gap)
        base = (6 - r - 0.5) * row_mv
        for i, v in enumerate(signal[index, lo:hi]):
            rows.append({"x": offset + i / fs, "y": base + v, "segment": lead, "order": i})
        labels.append({"x": offset + 0.01, "y": base + row_mv * 0.3,
                       "text": DISPLAY_NAME.get(lead, lead)})
        if margin_s > 0 and r == 0:
            shades.append({"x": offset + (start - lo) / fs, "x2": offset + (end - lo) / fs})
    x0, x1 = 0.0, 2 * span + gap
    y0, y1 = 0.0, 6 * row_mv
    width, height, xs, ys = _scales(x0, x1, y0, y1, px_per_mm)
    layers = [_grid(x0, x1, y0, y1, xs, ys)]
    if shades:
        layers.append(alt.Chart(pd.DataFrame(shades)).mark_rect(
            opacity=0.12, color=HIGHLIGHT).encode(x=alt.X("x:Q", scale=xs, axis=None),
                                                  x2="x2:Q"))
    layers.append(_trace(pd.DataFrame(rows), xs, ys))
    layers.append(alt.Chart(pd.DataFrame(labels)).mark_text(
        align="left", baseline="bottom", fontSize=12, fontWeight="bold", color=TRACE).encode(
        x=alt.X("x:Q", scale=xs, axis=None), y=alt.Y("y:Q", scale=ys, axis=None),
        text="text:N"))
    return alt.layer(*layers).properties(
        width=width, height=height,
        title=alt.TitleParams(title or f"{start / fs:.2f}-{end / fs:.2f} s",
                              subtitle=_note(units), anchor="start"),
    ).configure_view(fill=BACKGROUND, stroke=MAJOR).configure_axis(grid=False)
