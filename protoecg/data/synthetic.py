"""Synthetic labelled 12-lead ECGs, for fast unit tests and a demo with no dataset at hand.

NOT patient data: every record says so (``source="synthetic"``, ``synthetic=True``, record ids
``SYN…``, report text starting ``SYNTHETIC``). Beats are sums of Gaussian P, Q, R, S and T waves
per lead; the limb leads III, aVR, aVL, aVF are derived from I and II (Einthoven, Goldberger) as
on a real recorder. Classes differ the way real ones do:

- rhythm: SR (60-95 bpm, regular), SBRAD (40-55 bpm), STACH (105-140 bpm), AFIB (80-130 bpm,
  irregularly irregular RR, no P waves, 4-8 Hz fibrillatory baseline);
- morphology: none, CLBBB (QRS about 150 ms, broad notched R in I/V5/V6, deep S in V1-V2),
  STD_ (0.2 mV horizontal ST depression in II and V4-V6), STE_ (0.2 mV ST elevation in V1-V4);
- NORM when the rhythm is SR and there is no morphology finding.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from protoecg.data import labels as label_table
from protoecg.data.dataset import ECGDataset
from protoecg.data.folds import stratified_folds

RHYTHMS = {"SR": (60, 95), "SBRAD": (40, 55), "STACH": (105, 140), "AFIB": (80, 130)}
MORPHOLOGIES = ("", "CLBBB", "STD_", "STE_")
DURATION_S = 10
# Independent leads I, II, V1-V6: amplitudes (mV) of P, Q, R, S, T.
_INDEPENDENT = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
_AMPLITUDE = {
    "P": [0.08, 0.15, 0.05, 0.08, 0.08, 0.08, 0.08, 0.07],
    "Q": [-0.05, -0.08, 0.0, 0.0, 0.0, -0.05, -0.1, -0.1],
    "R": [0.7, 1.1, 0.25, 0.5, 0.8, 1.3, 1.4, 1.1],
    "S": [-0.1, -0.2, -0.9, -1.2, -0.7, -0.35, -0.15, -0.05],
    "T": [0.2, 0.3, -0.05, 0.45, 0.45, 0.4, 0.3, 0.25],
}
_LEAD_INDEX = {lead: i for i, lead in enumerate(_INDEPENDENT)}


def _beat_times(rng: np.random.Generator, rhythm: str) -> tuple[np.ndarray, float]:
    low, high = RHYTHMS[rhythm]
    rate = rng.uniform(low, high)
    mean_rr = 60.0 / rate
    if rhythm == "AFIB":  # irregularly irregular: independent gamma-distributed intervals
        rr = rng.gamma(shape=12.0, scale=mean_rr / 12.0, size=40).clip(0.3, 2.0)
    else:  # respiratory sinus variability, about 2 %
        rr = mean_rr * (1 + 0.02 * np.sin(np.arange(40) * 0.9 + rng.uniform(0, 6)))
    onsets = rng.uniform(-mean_rr, 0) + np.cumsum(rr)
    return onsets[onsets < DURATION_S + 1], mean_rr


def _record(rng: np.random.Generator, rhythm: str, morphology: str, fs: int) -> np.ndarray:
    t = np.arange(DURATION_S * fs) / fs
    onsets, mean_rr = _beat_times(rng, rhythm)
    wide = morphology == "CLBBB"
    qrs_sigma = 0.028 if wide else 0.011
    qt = 0.40 * np.sqrt(mean_rr)  # Bazett: QT grows with the RR interval
    scale = rng.normal(1.0, 0.1, size=len(_INDEPENDENT)).clip(0.7, 1.3)
    amp = {wave: np.array(values) * scale for wave, values in _AMPLITUDE.items()}
    if wide:  # LBBB: broad R in the lateral leads, deep broad S in V1-V2, discordant T
        for lead, r in (("I", 1.0), ("V5", 1.6), ("V6", 1.4)):
            amp["R"][_LEAD_INDEX[lead]] = r
            amp["T"][_LEAD_INDEX[lead]] = -0.25
        for lead in ("V1", "V2"):
            amp["S"][_LEAD_INDEX[lead]] = -1.6
            amp["R"][_LEAD_INDEX[lead]] = 0.1
            amp["T"][_LEAD_INDEX[lead]] = 0.35
    # wave: (offset from QRS onset in s, sigma in s)
    waves = {
        "P": (-0.16, 0.025),
        "Q": (0.0, qrs_sigma * 0.8),
        "R": (0.06 if wide else 0.04, qrs_sigma),
        "S": (0.13 if wide else 0.08, qrs_sigma),
        "T": (qt - 0.12, 0.045 + 0.02 * qt),
    }
    if rhythm == "AFIB":
        waves.pop("P")
    out = np.zeros((len(_INDEPENDENT), t.size))
    for wave, (offset, sigma) in waves.items():
        centres = onsets + offset
        shape = np.exp(-0.5 * ((t[None, :] - centres[:, None]) / sigma) ** 2).sum(axis=0)
        out += amp[wave][:, None] * shape[None, :]
        if wide and wave == "R":  # the notch ("M" shape) of LBBB in the lateral leads
            notch = np.exp(-0.5 * ((t[None, :] - centres[:, None] - 0.05) / sigma) ** 2).sum(0)
            for lead in ("I", "V5", "V6"):
                out[_LEAD_INDEX[lead]] += 0.8 * amp["R"][_LEAD_INDEX[lead]] * notch
    if morphology in ("STD_", "STE_"):
        # from the J point into the T wave; kept at least 80 ms long even at fast rates
        st_start = 0.2 if wide else 0.1
        st_end = max(qt - 0.08, st_start + 0.08)
        segment = np.zeros_like(t)
        for onset in onsets:
            segment += expit((t - onset - st_start) / 0.01)
            segment -= expit((t - onset - st_end) / 0.02)
        leads = ("II", "V4", "V5", "V6") if morphology == "STD_" else ("V1", "V2", "V3", "V4")
        level = -0.2 if morphology == "STD_" else 0.2
        for lead in leads:
            out[_LEAD_INDEX[lead]] += level * segment
    if rhythm == "AFIB":
        f = rng.uniform(4, 8)
        out += 0.04 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6, size=(out.shape[0], 1)))
    wander = 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 6))
    out += wander + rng.normal(0, 0.015, size=out.shape)
    lead_i, lead_ii = out[0], out[1]
    limb = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2,
            lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    return np.vstack([*limb, out[2:]]).astype(np.float32)


def make_synthetic(n_records: int = 200, fs: int = 100, seed: int = 0) -> ECGDataset:
    """``n_records`` synthetic 10 s ECGs at ``fs`` Hz, balanced over rhythm x morphology."""
    if n_records < 1:
        raise ValueError("n_records must be at least 1")
    rng = np.random.default_rng(seed)
    combos = [(r, m) for r in RHYTHMS for m in MORPHOLOGIES]
    picks = [combos[i % len(combos)] for i in rng.permutation(n_records)]
    signals, codes, reports = [], [], []
    for rhythm, morphology in picks:
        signals.append(_record(rng, rhythm, morphology, fs))
        record_codes = [rhythm] + ([morphology] if morphology else [])
        if rhythm == "SR" and not morphology:
            record_codes.append("NORM")
        codes.append(record_codes)
        reports.append("SYNTHETIC ECG (generated, not a patient): " + ", ".join(
            label_table.describe(c) for c in record_codes))
    labels = label_table.multi_hot(codes, where="synthetic")
    ids = [f"SYN{i:05d}" for i in range(1, n_records + 1)]
    return ECGDataset(
        signals=np.stack(signals), labels=labels, label_names=label_table.all_codes(),
        record_ids=ids, patient_ids=list(ids), folds=stratified_folds(labels, seed=seed),
        reports=reports, fs=fs, units="mV", source="synthetic", synthetic=True,
    )
