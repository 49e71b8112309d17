"""The rating card's SVG drawings: paper scale, calibration pulses on every drawing, the lead
boxes that confine the caliper to one lead, the enlarged window's layout."""

import json
import re
from html import unescape

import numpy as np
import pytest

from protoecg.ecgsvg import (
    CAL_MM,
    PRINT_HEIGHT_MM,
    PRINT_WIDTH_MM,
    Shade,
    twelve_lead_svg,
    window_layout,
    window_svg,
)

LEADS12 = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"}


def view_box(svg: str) -> list[float]:
    return [float(v) for v in re.search(r'viewBox="([^"]+)"', svg).group(1).split()]


def boxes(svg: str) -> list[list]:
    return json.loads(unescape(re.search(r'data-leads="([^"]+)"', svg).group(1)))


def pulses(svg: str) -> int:
    """1 mV x 0.2 s calibration pulses: a path piece that rises 10 mm at x = 2.25 mm."""
    return len(re.findall(r"M1,[\d.]+L2\.25,[\d.]+ 2\.25,[\d.]+", svg))


def record(seconds: float = 10, fs: int = 500) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return np.stack([np.sin(2 * np.pi * (1 + i / 10) * t) * 0.8 for i in range(12)])


def test_the_print_is_paper_scale_with_a_pulse_per_row_and_thirteen_lead_boxes():
    svg = twelve_lead_svg(record(), 500, "mV", (Shade(1000, 1470, "prototype"),))
    assert view_box(svg) == [0, 0, PRINT_WIDTH_MM, PRINT_HEIGHT_MM]  # 25 mm/s: 10 s = 250 mm
    assert 'data-mm-per-s="25"' in svg and 'data-mm-per-unit="10"' in svg
    assert pulses(svg) == 4  # three rows and the rhythm strip
    names = [b[0] for b in boxes(svg)]
    assert set(names) == LEADS12 | {"II (rhythm strip)"} and len(names) == 13
    # the boxes tile the drawing right of the pulse margin without overlapping
    cells = boxes(svg)
    assert sum((x1 - x0) * (y1 - y0) for _, x0, y0, x1, y1 in cells) == pytest.approx(
        (PRINT_WIDTH_MM - CAL_MM - 1) * PRINT_HEIGHT_MM, rel=1e-3)  # 1 mm right margin


def test_no_pulse_where_amplitudes_are_not_millivolts():
    assert pulses(twelve_lead_svg(record(), 500, "NU")) == 0
    assert pulses(window_svg(record(), 500, 1000, 1470, "NU", margin_s=0.25)) == 0


def test_the_window_has_a_pulse_per_row_and_twelve_lead_boxes_inside_the_drawing():
    svg = window_svg(record(), 500, 1000, 1470, "mV", margin_s=0.25)
    width, height = view_box(svg)[2:]
    cells = boxes(svg)
    assert {b[0] for b in cells} == LEADS12 and len(cells) == 12
    assert all(CAL_MM <= x0 < x1 <= width and 0 <= y0 < y1 <= height
               for _, x0, y0, x1, y1 in cells)
    rows = len({y0 for _, _, y0, _, _ in cells})
    assert pulses(svg) == rows


def test_a_one_second_window_is_six_by_two_no_wider_than_the_print():
    svg = window_svg(record(), 500, 1000, 1470, "mV", margin_s=0.25)  # 0.94 s + context
    cells = boxes(svg)
    assert len({y0 for _, _, y0, _, _ in cells}) == 2  # limb leads over chest leads
    assert [b[0] for b in cells[:6]] == ["I", "II", "III", "aVR", "aVL", "aVF"]
    assert view_box(svg)[2] <= PRINT_WIDTH_MM


@pytest.mark.parametrize("seconds, columns", [(0.5, 6), (1.5, 6), (2.0, 4), (3.0, 2),
                                              (9.0, 2)])
def test_the_window_layout_takes_the_most_columns_that_fit_the_print(seconds, columns):
    assert len(window_layout(seconds * 25)[0]) == columns
