import numpy as np

from protoecg.ecgplot import MM_PER_MV, MM_PER_S, Window, twelve_lead_chart, window_chart


def spec(chart):
    assert isinstance(chart, dict) and chart["$schema"].endswith("v6.json")
    return chart


def test_twelve_lead_print_keeps_the_aspect_ratio_and_layout():
    signal = np.sin(np.linspace(0, 60, 1000))[None].repeat(12, 0)
    chart = twelve_lead_chart(signal, 100, "mV", (Window(300, 394, "IRBBB/02"),),
                              title="t", px_per_mm=2.0)
    d = spec(chart)
    # 10 s + 0.4 s margin at 25 mm/s, 4 rows of 4 mV at 10 mm/mV, 2 px per mm
    assert d["width"] == (10.4 * MM_PER_S) * 2.0
    assert d["height"] == (16 * MM_PER_MV) * 2.0
    dumped = str(d)
    for lead in ("aVR", "aVL", "aVF", "V1", "V6"):
        assert f"'{lead}'" in dumped
    assert "25 mm/s, 10 mm/mV" in dumped and "IRBBB/02" in dumped


def test_normalised_units_are_not_drawn_as_millivolts():
    signal = np.zeros((12, 1000))
    signal[:, ::50] = 1.0
    dumped = str(spec(twelve_lead_chart(signal, 100, "NU")))
    assert "NOT millivolts" in dumped
    assert "cal0" not in dumped  # no calibration pulse without a millivolt scale
    assert "cal0" in str(spec(twelve_lead_chart(signal, 100, "mV")))


def test_window_chart_shows_all_twelve_leads():
    signal = np.random.default_rng(0).normal(size=(12, 1000))
    dumped = str(spec(window_chart(signal, 100, 300, 394, "mV", margin_s=0.2)))
    for lead in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"):
        assert f"'text': '{lead}'" in dumped


def test_window_chart_has_a_calibration_pulse_only_in_millivolts():
    signal = np.random.default_rng(0).normal(size=(12, 1000))
    assert "cal5" in str(spec(window_chart(signal, 100, 300, 394, "mV", margin_s=0.2)))
    assert "cal0" not in str(spec(window_chart(signal, 100, 300, 394, "NU", margin_s=0.2)))
