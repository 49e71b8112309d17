import numpy as np
import pytest
import wfdb

from protoecg.data.dataset import LEADS
from protoecg.data.ludb import (
    diagnose,
    load_ludb,
    parse_comments,
    resample_to,
    unmapped_counts,
)
from protoecg.errors import DataError, LayoutError

pytestmark = pytest.mark.slow


def test_shapes_at_both_rates(ludb_100, ludb_500):
    assert ludb_500.signals.shape == (200, 12, 5000) and ludb_500.signals.dtype == np.float32
    assert ludb_100.signals.shape == (200, 12, 1000)
    assert ludb_100.fs == 100 and ludb_500.fs == 500
    assert ludb_500.units == "mV" and ludb_500.lead_names == LEADS
    assert ludb_500.record_ids[:3] == ["1", "2", "3"] and len(set(ludb_500.record_ids)) == 200


def test_amplitudes_are_wfdbs_own_reading_in_mv(ludb_root, ludb_500):
    for record in ("1", "77", "200"):
        raw, fields = wfdb.rdsamp(str(ludb_root / "data" / record))
        assert fields["units"] == ["mV"] * 12
        names = [n.upper() for n in fields["sig_name"]]
        i = ludb_500.index_of(record)
        for lead_index, lead in enumerate(LEADS):
            np.testing.assert_allclose(ludb_500.signals[i, lead_index], raw[:, names.index(lead)],
                                       atol=1e-6)


def test_100hz_is_a_proper_resampling(ludb_100, ludb_500):
    # Sample-aligned with the 500 Hz signal: below 40 Hz (the ECG's content) they agree.
    decimated = ludb_500.signals[..., ::5]
    r = [np.corrcoef(decimated[i, 1], ludb_100.signals[i, 1])[0, 1] for i in range(0, 200, 20)]
    assert min(r) > 0.98
    # ... and with an anti-aliasing filter: a 70 Hz tone (above the new Nyquist 50 Hz) is removed
    # instead of folding back to 30 Hz as plain decimation would.
    t = np.arange(5000) / 500
    tone = np.sin(2 * np.pi * 70 * t).astype(np.float32)[None, None]
    assert np.abs(resample_to(tone, 500, 100)[..., 50:-50]).max() < 0.05
    assert np.abs(tone[..., ::5]).max() > 0.9


def test_rhythm_counts_equal_the_headers(ludb_100):
    counts = ludb_100.label_counts()
    assert {c: counts[c] for c in ("SR", "SBRAD", "AFIB", "SARRH", "STACH", "AFLT")} == {
        "SR": 143, "SBRAD": 25, "AFIB": 15, "SARRH": 10, "STACH": 4, "AFLT": 3}


def test_mapped_findings(ludb_100):
    counts = ludb_100.label_counts()
    assert counts["NORM"] == 23  # derived: sinus rhythm + normal/vertical/horizontal axis only
    assert counts["LVH"] == 108 and counts["IRBBB"] == 29 and counts["LAFB"] == 16
    assert counts["1AVB"] == 10 and counts["3AVB"] == 5 and counts["PACE"] == 10
    assert counts["CRBBB"] == 4 and counts["CLBBB"] == 4 and counts["ILBBB"] == 6
    assert counts["IVCD"] == 4 and counts["RVH"] == 3 and counts["RAO/RAE"] == 17
    norm = ludb_100.labels[:, ludb_100.label_names.index("NORM")].astype(bool)
    assert set(ludb_100.metadata["heart_axis"][norm]) <= {"MID", "AXR", "AXL"}
    assert ludb_100.metadata["heart_axis"].value_counts()["LAD"] == 66


def test_unmapped_findings_are_listed_not_dropped(ludb_100):
    assert unmapped_counts(ludb_100) == {
        "Early repolarization syndrome": 9, "Wandering atrial pacemaker": 3,
        "Aberrant conduction": 1, "Sinoatrial blockade, undefined": 1}
    i = int(np.flatnonzero(ludb_100.metadata["unmapped_findings"].str.contains("Aberrant"))[0])
    assert "Aberrant conduction" in ludb_100.reports[i]


def test_parsing_splits_findings_glued_on_one_line():
    comments = ["<age>: 60", "<sex>: M", "<diagnoses>:",
                "Non-specific repolarization abnormalities: posterior wall. #Rhythm: Sinus rhythm.",
                "Electric axis of the heart: horizontal."]
    findings, age, sex = parse_comments(comments)
    assert findings == ["Non-specific repolarization abnormalities: posterior wall",
                        "Rhythm: Sinus rhythm", "Electric axis of the heart: horizontal"]
    assert (age, sex) == (60.0, "M")
    d = diagnose(comments)
    assert d.codes == ["NST_", "SR"] and d.heart_axis == "AXL"  # not NORM: has NST_


def test_norm_is_derived_only_for_sinus_rhythm_and_normal_axis():
    assert "NORM" in diagnose(["<diagnoses>:", "Rhythm: Sinus rhythm.",
                               "Electric axis of the heart: vertical."]).codes
    assert "NORM" not in diagnose(["<diagnoses>:", "Rhythm: Sinus bradycardia.",
                                   "Electric axis of the heart: normal."]).codes
    assert "NORM" not in diagnose(["<diagnoses>:", "Rhythm: Sinus rhythm.",
                                   "Electric axis of the heart: left axis deviation."]).codes
    unknown = diagnose(["<diagnoses>:", "Rhythm: Sinus rhythm.", "Something new."])
    assert "NORM" not in unknown.codes and unknown.unmapped == ["Something new"]


def test_folds_are_deterministic_and_stratified(ludb_root, ludb_100):
    again = load_ludb(ludb_root, 100)
    assert (again.folds == ludb_100.folds).all()
    assert set(ludb_100.fold_counts().values()) <= {19, 20, 21}
    afib = ludb_100.labels[:, ludb_100.label_names.index("AFIB")].astype(bool)
    per_fold = np.bincount(ludb_100.folds[afib], minlength=11)[1:]
    assert per_fold.max() - per_fold.min() <= 1  # 15 AFIB records over 10 folds


def test_not_an_ludb_folder(tmp_path):
    with pytest.raises(LayoutError, match="not an LUDB folder: no RECORDS file"):
        load_ludb(tmp_path)
    with pytest.raises(DataError, match="not 250 Hz"):
        load_ludb(tmp_path, 250)
