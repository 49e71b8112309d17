import ast
import time

import numpy as np
import pandas as pd
import pytest

from protoecg.data import labels
from protoecg.data.ptbxl import load_ptbxl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def subset(ptbxl_subset_root, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("subset-cache")
    first = load_ptbxl(ptbxl_subset_root, 100, cache_dir=cache_dir, progress=False)
    start = time.perf_counter()
    second = load_ptbxl(ptbxl_subset_root, 100, cache_dir=cache_dir, progress=False)
    return first, second, time.perf_counter() - start


def test_subset_records_folds_and_units(subset):
    ds, _, _ = subset
    assert len(ds) == 1819 and ds.signals.shape == (1819, 12, 1000)
    assert [ds.fold_counts()[f] for f in range(1, 11)] == [169, 188, 179, 188, 185, 188, 185,
                                                           160, 183, 194]
    assert ds.units == "NU"  # normalised units, reported and never rescaled
    assert ds.source == "ptbxl" and not ds.synthetic
    assert len(ds.split("train")) == 1442 and len(ds.split("test")) == 194


def test_subset_labels_equal_its_scp_codes(subset, ptbxl_subset_root):
    ds, _, _ = subset
    table = pd.read_csv(ptbxl_subset_root / "ptbxl_database.csv")
    expected: dict[str, int] = {}
    for cell in table["scp_codes"]:
        for code in ast.literal_eval(cell):
            expected[code] = expected.get(code, 0) + 1
    assert ds.label_counts() == {c: expected[c] for c in labels.all_codes() if c in expected}
    counts = ds.label_counts()
    assert (counts["SR"], counts["NORM"], counts["NDT"], counts["LVH"]) == (1456, 964, 196, 153)
    assert "PACE" not in counts and len(counts) == 64
    assert ds.record_ids[0] == str(table["ecg_id"].iloc[0])
    assert ds.reports[0] == table["report"].iloc[0]


def test_second_load_comes_from_the_cache(subset):
    first, second, seconds = subset
    assert not first.from_cache and second.from_cache
    assert isinstance(second.signals, np.memmap)
    np.testing.assert_array_equal(first.signals[::97], second.signals[::97])
    assert (first.labels == second.labels).all() and first.record_ids == second.record_ids
    assert seconds < 5  # reading the records takes ~10 s; the cache is a memory map


def test_signals_match_wfdb(subset, ptbxl_subset_root):
    import wfdb

    ds, _, _ = subset
    raw, _ = wfdb.rdsamp(str(ptbxl_subset_root / "records100/00000/00009_lr"))
    np.testing.assert_allclose(ds.signals[ds.index_of("9")], raw.T, atol=1e-6)


def test_aggregations_on_real_labels(subset):
    ds, _, _ = subset
    sup, names = ds.aggregate_labels("superdiagnostic")
    assert names == ["CD", "HYP", "MI", "NORM", "STTC"]
    assert sup[:, names.index("NORM")].sum() == ds.label_counts()["NORM"]
    rhythm, rhythm_names = ds.aggregate_labels("rhythm")
    assert rhythm[:, rhythm_names.index("AFIB")].sum() == ds.label_counts()["AFIB"]


def test_cache_key_follows_the_files(ludb_layout, tmp_path):
    a = load_ptbxl(ludb_layout, 100, cache_dir=tmp_path, progress=False)
    b = load_ptbxl(ludb_layout, 100, cache_dir=tmp_path, progress=False)
    c = load_ptbxl(ludb_layout, 500, cache_dir=tmp_path, progress=False)
    assert (a.from_cache, b.from_cache, c.from_cache) == (False, True, False)
    assert len(list(tmp_path.glob("*.npy"))) == 2  # one array per sampling rate
