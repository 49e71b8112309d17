import numpy as np
import pytest
from scipy.signal import butter

from protoecg.data.preprocess import LeadStandardizer, highpass
from protoecg.data.synthetic import make_synthetic
from protoecg.errors import DataError


def test_highpass_is_first_order_butterworth_at_half_a_hertz():
    b, a = butter(1, 0.5, btype="highpass", fs=100)
    assert len(a) == 2  # first order, as ProtoECGNet's official code


def test_highpass_removes_baseline_wander_and_keeps_qrs_in_place():
    fs = 100
    ds = make_synthetic(n_records=8, fs=fs, seed=2)
    t = np.arange(ds.n_samples) / fs
    wander = 0.8 * np.sin(2 * np.pi * 0.1 * t).astype(np.float32)
    filtered = highpass(ds.signals + wander, fs)
    assert filtered.dtype == np.float32 and filtered.shape == ds.signals.shape
    middle = slice(200, 800)  # away from the edges
    leftover = filtered[..., middle].mean(axis=-1)
    assert np.abs(leftover).max() < 0.15  # was 0.8 mV of drift
    # zero phase (filtfilt): a QRS-like pulse stays on the same sample, a one-way filter moves it
    pulse = np.exp(-0.5 * ((np.arange(1000) - 500) / 3.0) ** 2)[None, None].astype(np.float32)
    assert np.argmax(highpass(pulse, fs)) == 500
    from scipy.signal import lfilter

    b, a = butter(1, 0.5, btype="highpass", fs=fs)
    one_way = lfilter(b, a, np.exp(-0.5 * ((np.arange(1000) - 500) / 20.0) ** 2))
    assert np.argmax(one_way) != 500


def test_highpass_validates_cutoff():
    with pytest.raises(DataError, match="cut-off must be between 0 and 50 Hz"):
        highpass(np.zeros((1, 12, 1000), np.float32), 100, cutoff_hz=60)


def test_standardizer_uses_training_folds_only():
    ds = make_synthetic(n_records=100, fs=100, seed=5)
    scaler = LeadStandardizer().fit_dataset(ds)
    held_out = ~np.isin(ds.folds, range(1, 9))
    ds.signals[held_out] *= 100.0  # validation and test data must not move the statistics
    again = LeadStandardizer().fit_dataset(ds)
    np.testing.assert_allclose(again.mean, scaler.mean)
    np.testing.assert_allclose(again.std, scaler.std)
    train = ds.signals[~held_out]
    z = scaler.transform(train)
    np.testing.assert_allclose(z.mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=(0, 2)), 1, atol=1e-3)
    restored = LeadStandardizer.from_dict(scaler.to_dict())
    np.testing.assert_allclose(restored.transform(train), z)


def test_standardizer_must_be_fitted():
    with pytest.raises(DataError, match="before fit"):
        LeadStandardizer().transform(np.zeros((1, 12, 10)))
