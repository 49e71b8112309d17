import numpy as np
import pytest
from scipy.signal import find_peaks

from protoecg.data import summarize
from protoecg.data.dataset import LEADS
from protoecg.data.synthetic import make_synthetic


@pytest.fixture(scope="module")
def synth():
    return make_synthetic(n_records=160, fs=100, seed=3)


def codes_of(ds, i):
    return {c for c, on in zip(ds.label_names, ds.labels[i], strict=True) if on}


def r_peaks(signal_ii, fs):
    peaks, _ = find_peaks(signal_ii, height=0.5, distance=int(0.25 * fs))
    return peaks / fs


def test_marked_as_synthetic_everywhere(synth):
    assert synth.synthetic and synth.source == "synthetic"
    assert all(r.startswith("SYNTHETIC") for r in synth.reports)
    assert all(i.startswith("SYN") for i in synth.record_ids)
    assert summarize(synth)["synthetic"] is True
    assert synth.signals.shape == (160, 12, 1000) and synth.units == "mV"


def test_deterministic(synth):
    again = make_synthetic(n_records=160, fs=100, seed=3)
    np.testing.assert_array_equal(again.signals, synth.signals)
    assert (again.folds == synth.folds).all()
    assert not np.array_equal(make_synthetic(n_records=160, seed=4).signals, synth.signals)


def test_limb_leads_obey_einthoven_and_goldberger(synth):
    s = synth.signals[:, [LEADS.index(x) for x in ("I", "II", "III", "AVR", "AVL", "AVF")]]
    i, ii, iii, avr, avl, avf = (s[:, k] for k in range(6))
    np.testing.assert_allclose(iii, ii - i, atol=1e-5)
    np.testing.assert_allclose(avr, -(i + ii) / 2, atol=1e-5)
    np.testing.assert_allclose(avl, i - ii / 2, atol=1e-5)
    np.testing.assert_allclose(avf, ii - i / 2, atol=1e-5)


def test_classes_differ_the_way_real_ones_do(synth):
    ii = LEADS.index("II")
    rate, irregularity = {}, {}
    for rhythm in ("SR", "SBRAD", "STACH", "AFIB"):
        rates, cvs = [], []
        for i in range(len(synth)):
            codes = codes_of(synth, i)
            if rhythm in codes and "CLBBB" not in codes:
                rr = np.diff(r_peaks(synth.signals[i, ii], synth.fs))
                rates.append(60 / rr.mean())
                cvs.append(rr.std() / rr.mean())
        rate[rhythm], irregularity[rhythm] = np.median(rates), np.median(cvs)
    assert rate["SBRAD"] < 60 < rate["SR"] < 100 < rate["STACH"]
    assert irregularity["AFIB"] > 3 * irregularity["SR"]


def test_wide_qrs_and_st_shifts():
    ds = make_synthetic(n_records=64, fs=500, seed=1)
    v5, v2 = LEADS.index("V5"), LEADS.index("V2")

    def width(i):  # duration the V5 complex spends above half its peak, per beat
        x = ds.signals[i, v5]
        return (x > 0.5 * x.max()).sum() / ds.fs / len(r_peaks(ds.signals[i, LEADS.index("II")],
                                                                 ds.fs))

    wide = [width(i) for i in range(len(ds)) if "CLBBB" in codes_of(ds, i)]
    narrow = [width(i) for i in range(len(ds)) if codes_of(ds, i) & {"NORM"}]
    assert np.median(wide) > 2 * np.median(narrow)

    def st_level(i, lead):  # 90 ms after each R peak of lead II, minus the PR baseline
        peaks = r_peaks(ds.signals[i, LEADS.index("II")], ds.fs)
        x = ds.signals[i, lead]
        idx = lambda t: int(np.clip(t * ds.fs, 0, x.size - 1))  # noqa: E731
        return np.median([x[idx(t + 0.09)] - x[idx(t - 0.06)] for t in peaks])

    def mean_st(codes, lead):
        return np.mean([st_level(i, lead) for i in range(len(ds)) if codes_of(ds, i) == codes])

    for rhythm in ("SR", "SBRAD", "STACH"):
        plain = {rhythm, "NORM"} if rhythm == "SR" else {rhythm}
        assert mean_st({rhythm, "STE_"}, v2) > mean_st(plain, v2) + 0.1, rhythm
        assert mean_st({rhythm, "STD_"}, v5) < mean_st(plain, v5) - 0.1, rhythm
