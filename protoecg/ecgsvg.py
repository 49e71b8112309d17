"""ECGs on clinical paper as SVG strings, for the rating card (no torch, no JavaScript).

The same layouts as ``ecgplot`` (the standard 3 x 4 print with a lead II rhythm strip; one
window of all 12 leads enlarged), drawn the way clinicians read them: 25 mm/s, 10 mm/mV, a pink
grid of 1 mm and 5 mm squares, black trace, 1 mV calibration pulses. The SVG's user unit is one
millimetre of paper, so the drawing keeps the ECG's aspect at any width (``width: 100%``) and
stays crisp when zoomed. A card's charts are a few tens of kilobytes instead of the megabytes of
a Vega-Lite spec whose data rows the browser must parse and lay out on every card.

Each ``<svg>`` carries ``data-mm-per-s`` / ``data-mm-per-unit`` / ``data-units``, so a caliper in
the page can turn two clicks into seconds and millivolts without knowing how it was drawn, and
``data-leads`` (JSON: per lead tracing its name and box in mm, ``[name, x0, y0, x1, y1]``), so
that the caliper measures within one lead: two columns of a print show the same moment, and an
interval between two leads means nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from html import escape

import numpy as np

from protoecg.ecgplot import (
    BACKGROUND,
    DISPLAY_NAME,
    HIGHLIGHT,
    LEADS,
    MAJOR,
    MINOR,
    MM_PER_MV,
    MM_PER_S,
    PRINT_ROWS,
    TRACE,
    WAVE_COLOURS,
    Band,
    cluster_colours,
    mix_colour,
)

# One printed row: 3.5 mV (a lead may reach +-1.75 mV before it meets the next row's, as on
# paper). 35 rather than 40 mm lets the window and the whole print stand one above the other at
# >= 3.5 px/mm in a 900 px high browser window (issue 31).
ROW_MM = 35.0
WINDOW_ROW_MM = 30.0  # one row of the enlarged window: 3 mV
CAL_MM = 10.0  # width of the margin that holds the calibration pulse (0.4 s)
PRINT_HEIGHT_MM = (len(PRINT_ROWS) + 1) * ROW_MM  # the standard print: 3 rows + rhythm strip


@dataclass(frozen=True)
class Shade:
    """A span of the record to shade, in samples (end exclusive)."""

    start: int
    end: int
    label: str = ""


def _path(x_mm: np.ndarray, y_mm: np.ndarray) -> str:
    """One polyline as an SVG path (two decimals: 0.01 mm is 0.4 ms and 1 µV)."""
    if len(x_mm) == 0:
        return ""
    points = np.column_stack([x_mm, y_mm]).round(2)
    text = " ".join(f"{x:g},{y:g}" for x, y in points.tolist())
    return f"M{text.replace(' ', 'L', 1)}" if len(points) > 1 else f"M{text}"


def _svg(width_mm: float, height_mm: float, body: list[str], units: str, label: str,
         leads: list[tuple]) -> str:
    # grid patterns with ids of their own: a page holds several drawings, and a pattern
    # referenced from a hidden one (a collapsed expander) would not paint
    uid = secrets.token_hex(4)
    grid = (
        f'<defs><pattern id="m{uid}" width="1" height="1" patternUnits="userSpaceOnUse">'
        f'<path d="M1,0V1H0" fill="none" stroke="{MINOR}" stroke-width="0.1"/></pattern>'
        f'<pattern id="M{uid}" width="5" height="5" patternUnits="userSpaceOnUse">'
        f'<rect width="5" height="5" fill="url(#m{uid})"/><path d="M5,0V5H0" fill="none" '
        f'stroke="{MAJOR}" stroke-width="0.22"/></pattern></defs>'
        f'<rect width="{width_mm:g}" height="{height_mm:g}" fill="{BACKGROUND}"/>'
        f'<rect width="{width_mm:g}" height="{height_mm:g}" fill="url(#M{uid})" '
        f'stroke="{MAJOR}" stroke-width="0.3"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="protoecg-ecg" role="img" '
            f'aria-label="{escape(label)}" viewBox="0 0 {width_mm:g} {height_mm:g}" '
            f'preserveAspectRatio="xMinYMin meet" style="width:100%;height:auto;display:block" '
            f'data-mm-per-s="{MM_PER_S:g}" data-mm-per-unit="{MM_PER_MV:g}" '
            f'data-units="{escape(units)}" data-leads="{escape(_boxes(leads))}">'
            f'{grid}{"".join(body)}</svg>')


def _boxes(leads: list[tuple]) -> str:
    """The lead tracings' boxes as compact JSON (name, x0, y0, x1, y1 in mm)."""
    return json.dumps([[name, *(round(float(v), 2) for v in box)] for name, *box in leads],
                      separators=(",", ":"))


def _trace(paths: list[str], width: float = 0.28) -> str:
    return (f'<path d="{"".join(paths)}" fill="none" stroke="{TRACE}" '
            f'stroke-width="{width:g}" stroke-linejoin="round" stroke-linecap="round"/>')


def _text(x: float, y: float, text: str, size: float = 3.5, color: str = TRACE) -> str:
    return (f'<text x="{x:g}" y="{y:g}" font-size="{size:g}" font-weight="bold" '
            f'font-family="sans-serif" fill="{color}">{escape(text)}</text>')


def _calibration(x0: float, base: float) -> str:
    """A 1 mV x 0.2 s pulse starting at ``x0`` mm on the row's baseline."""
    return _path(np.array([x0, x0 + 1.25, x0 + 1.25, x0 + 6.25, x0 + 6.25, x0 + 7.5]),
                 np.array([base, base, base - 10, base - 10, base, base]))


def twelve_lead_svg(signal: np.ndarray, fs: int, units: str = "mV",
                    shades: tuple[Shade, ...] = (), label: str = "12-lead ECG",
                    bands: tuple[Band, ...] = ()) -> str:
    """The standard print: rows I/aVR/V1/V4, II/aVL/V2/V5, III/aVF/V3/V6 (each lead's own
    quarter of the record in its column) and a full-length lead II rhythm strip; ``shades``
    (prototype windows) shaded over the columns they overlap and over the rhythm strip;
    ``bands`` (the network's time-localized clusters: the researcher's view only) under it."""
    signal = np.asarray(signal, dtype=np.float64)
    n = signal.shape[1]
    column = n / 4
    x_of = CAL_MM + np.arange(n) / fs * MM_PER_S
    rows = len(PRINT_ROWS) + 1
    width, height = CAL_MM + n / fs * MM_PER_S + 1, PRINT_HEIGHT_MM
    body, paths = [], []
    for shade in shades:
        a, b = CAL_MM + shade.start / fs * MM_PER_S, CAL_MM + shade.end / fs * MM_PER_S
        for c in range(4):  # print columns that overlap the window, all three rows
            lo = max(a, CAL_MM + c * column / fs * MM_PER_S)
            hi = min(b, CAL_MM + (c + 1) * column / fs * MM_PER_S)
            if lo < hi:
                body.append(f'<rect x="{lo:.2f}" y="0" width="{hi - lo:.2f}" '
                            f'height="{3 * ROW_MM:g}" fill="{HIGHLIGHT}" fill-opacity="0.16"/>')
        body.append(f'<rect x="{a:.2f}" y="{3 * ROW_MM:g}" width="{b - a:.2f}" '
                    f'height="{ROW_MM:g}" fill="{HIGHLIGHT}" fill-opacity="0.16"/>')
        if shade.label:  # on the rhythm strip, below the lead label
            body.append(_text(a + 0.8, 3 * ROW_MM + 11, shade.label, 4.5, HIGHLIGHT))
    boxes = []
    for r, leads in enumerate(PRINT_ROWS):
        base = (r + 0.5) * ROW_MM
        for c, lead in enumerate(leads):
            lo, hi = int(round(c * column)), int(round((c + 1) * column))
            paths.append(_path(x_of[lo:hi], base - signal[LEADS.index(lead), lo:hi] * MM_PER_MV))
            body.append(_text(x_of[lo] + 1, r * ROW_MM + 5.5, DISPLAY_NAME.get(lead, lead), 5))
            boxes.append((DISPLAY_NAME.get(lead, lead), CAL_MM + lo / fs * MM_PER_S, r * ROW_MM,
                          CAL_MM + hi / fs * MM_PER_S, (r + 1) * ROW_MM))
    base = (rows - 0.5) * ROW_MM
    paths.append(_path(x_of, base - signal[LEADS.index("II")] * MM_PER_MV))
    body.append(_text(x_of[0] + 1, (rows - 1) * ROW_MM + 5.5, "II", 5))
    boxes.append(("II (rhythm strip)", CAL_MM, (rows - 1) * ROW_MM, width - 1, height))
    if units == "mV":
        paths += [_calibration(1.0, (r + 0.5) * ROW_MM) for r in range(rows)]
    body.append(_trace(paths))
    if bands:
        body += _band_body(bands, n / fs, height)
        height += len(bands) * BAND_ROW_MM + 6
    return _svg(width, height, body, units, label, boxes)


# The enlarged window's layouts, as rows of leads: 6 x 2 (limb leads over chest leads), the
# print's 4 x 3, 2 x 6 (limb and chest columns). ``window_svg`` takes the widest that is no
# wider than the whole print, so that the two drawings share one scale on the card.
WINDOW_LAYOUTS = (
    (("I", "II", "III", "AVR", "AVL", "AVF"), ("V1", "V2", "V3", "V4", "V5", "V6")),
    PRINT_ROWS,
    tuple(zip(("I", "II", "III", "AVR", "AVL", "AVF"), ("V1", "V2", "V3", "V4", "V5", "V6"),
              strict=True)),
)
PRINT_WIDTH_MM = CAL_MM + 10 * MM_PER_S + 1  # a 10 s record's print
WINDOW_GAP_MM = 4.0


def window_layout(span_mm: float, max_width_mm: float = PRINT_WIDTH_MM) -> tuple:
    """The rows of leads of the enlarged window whose columns are ``span_mm`` wide: the one
    with the most columns that fits in ``max_width_mm`` (else the narrowest)."""
    for rows in WINDOW_LAYOUTS:
        columns = len(rows[0])
        if CAL_MM + columns * span_mm + (columns - 1) * WINDOW_GAP_MM <= max_width_mm:
            return rows
    return WINDOW_LAYOUTS[-1]


def window_svg(signal: np.ndarray, fs: int, start: int, end: int, units: str = "mV",
               margin_s: float = 0.0, label: str = "prototype window",
               max_width_mm: float = PRINT_WIDTH_MM) -> str:
    """All 12 leads of samples [start, end) enlarged (``window_layout``: 6 x 2, 4 x 3 or 2 x 6
    leads, the widest that fits ``max_width_mm``), ``margin_s`` of context either side with the
    window itself shaded, and a 1 mV calibration pulse at the start of each row."""
    signal = np.asarray(signal, dtype=np.float64)
    lo = max(0, int(start - margin_s * fs))
    hi = min(signal.shape[1], int(end + margin_s * fs))
    span_mm = (hi - lo) / fs * MM_PER_S
    gap, row = WINDOW_GAP_MM, WINDOW_ROW_MM
    layout = window_layout(span_mm, max_width_mm)
    n_rows, n_columns = len(layout), len(layout[0])
    height = n_rows * row
    t_mm = np.arange(hi - lo) / fs * MM_PER_S
    body, paths, boxes = [], [], []
    for column in range(n_columns):
        offset = CAL_MM + column * (span_mm + gap)
        if margin_s > 0:
            a = offset + (start - lo) / fs * MM_PER_S
            b = offset + (end - lo) / fs * MM_PER_S
            body.append(f'<rect x="{a:.2f}" y="0" width="{b - a:.2f}" height="{height:g}" '
                        f'fill="{HIGHLIGHT}" fill-opacity="0.12"/>')
    for r, leads in enumerate(layout):
        base = (r + 0.5) * row
        for c, lead in enumerate(leads):
            offset = CAL_MM + c * (span_mm + gap)
            paths.append(_path(offset + t_mm,
                               base - signal[LEADS.index(lead), lo:hi] * MM_PER_MV))
            body.append(_text(offset + 0.8, r * row + 4.5, DISPLAY_NAME.get(lead, lead)))
            boxes.append((DISPLAY_NAME.get(lead, lead), offset, r * row, offset + span_mm,
                          (r + 1) * row))
    if units == "mV":
        paths += [_calibration(1.0, (r + 0.5) * row) for r in range(n_rows)]
    body.append(_trace(paths, 0.22))
    return _svg(CAL_MM + n_columns * span_mm + (n_columns - 1) * gap, height, body, units,
                label, boxes)


BAND_ROW_MM = 7.0  # one band of time-localized clusters under the print


def _band_body(bands: tuple[Band, ...], duration_s: float, top: float) -> list[str]:
    """Cluster bands under the print from ``top`` mm, on the rhythm strip's time axis: one row
    per branch, each step coloured by its cluster (a shade of its main wave's colour) and faint
    where uncertain, and a line naming the colours."""
    colours = cluster_colours(bands)
    body = []
    for k, band in enumerate(bands):
        y, steps = top + k * BAND_ROW_MM + 0.6, len(band.names)
        w = duration_s / steps * MM_PER_S
        for step, (name, certain) in enumerate(zip(band.names, band.certainty, strict=True)):
            body.append(f'<rect x="{CAL_MM + step * w:.2f}" y="{y:g}" width="{w:.2f}" '
                        f'height="{BAND_ROW_MM - 1.2:g}" fill="{colours[name]}" '
                        f'fill-opacity="{0.12 + 0.88 * float(certain):.2f}">'
                        f'<title>{escape(name)}</title></rect>')
        body.append(_text(2.0, y + BAND_ROW_MM - 2.2, band.label[:1].upper(), size=4.0))
    legend = " · ".join(f'<tspan fill="{mix_colour(dark, light, 0.4)}">■</tspan> {wave}'
                        for wave, (dark, light) in WAVE_COLOURS.items())
    body.append(f'<text x="{CAL_MM:g}" y="{top + len(bands) * BAND_ROW_MM + 4.5:g}" '
                f'font-size="3.5" font-family="sans-serif" fill="{TRACE}">network clusters '
                f'(R rhythm, M morphology, G global) by main wave: {legend} (faint: '
                f'uncertain)</text>')
    return body
