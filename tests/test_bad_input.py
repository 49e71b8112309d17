"""Every bad-input case gets one line naming the file or field and what was expected, exit 2."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import wfdb

from protoecg.cli import main
from protoecg.data.dataset import LEADS
from tests._cli import assert_one_line_error

pytestmark = pytest.mark.slow
RECORD = "records100/00000/00002_lr"


def summary(capsys, root, *extra) -> tuple[int, str, str]:
    code = main(["data", "summary", "--dataset", "ptbxl", "--root", str(root), "--json", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def rewrite(layout, *, digital=None, fs=100, names=LEADS, units="mV"):
    """Replace record 2 of the small layout with a record built from ``digital`` (T, leads)."""
    if digital is None:
        digital, _ = wfdb.rdsamp(str(layout / RECORD), return_res=16)
        digital = np.round(digital * 1000).astype(np.int16)
    n = digital.shape[1]
    wfdb.wrsamp("00002_lr", fs=fs, units=[units] * n, sig_name=list(names), d_signal=digital,
                fmt=["16"] * n, adc_gain=[1000.0] * n, baseline=[0] * n,
                write_dir=str(layout / "records100/00000"))


def good_digital(layout) -> np.ndarray:
    signal, _ = wfdb.rdsamp(str(layout / RECORD))
    return np.round(signal * 1000).astype(np.int16)


def test_missing_record(small_layout, capsys):
    os.remove(small_layout / f"{RECORD}.hea")
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "record header not found")


def test_truncated_signal_file(small_layout, capsys):
    os.truncate(small_layout / f"{RECORD}.dat", 4000)
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.dat", "truncated signal file", "expected 24000")


def test_garbage_header(small_layout, capsys):
    (small_layout / f"{RECORD}.hea").write_text("this is not a header\n")
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "unreadable WFDB header")


def test_wrong_lead_count(small_layout, capsys):
    rewrite(small_layout, digital=good_digital(small_layout)[:, :8], names=LEADS[:8])
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "expected 12 leads, found 8")


def test_wrong_lead_names(small_layout, capsys):
    rewrite(small_layout, digital=good_digital(small_layout), names=[*LEADS[:11], "V7"])
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "expected leads I II III", "V7")


def test_leads_in_another_order_are_reordered(small_layout, ludb_100, tmp_path):
    from protoecg.data.ptbxl import load_ptbxl

    digital = good_digital(small_layout)
    order = list(range(11, -1, -1))
    rewrite(small_layout, digital=digital[:, order], names=[LEADS[i].lower() for i in order])
    ds = load_ptbxl(small_layout, 100, cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(ds.signals[1], ludb_100.signals[1], atol=0.51e-3)


def test_wrong_sampling_rate(small_layout, capsys):
    rewrite(small_layout, digital=good_digital(small_layout), fs=250)
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "expected sampling rate 100 Hz, found 250 Hz")


def test_wrong_length(small_layout, capsys):
    rewrite(small_layout, digital=good_digital(small_layout)[:900])
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "expected 1000 samples", "found 900")


def test_nan_samples(small_layout, capsys):
    digital = good_digital(small_layout)
    digital[100:200, LEADS.index("V2")] = -32768  # WFDB's invalid-sample code reads back as NaN
    rewrite(small_layout, digital=digital)
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "NaN samples in lead(s) V2")


def test_flat_line(small_layout, capsys):
    digital = good_digital(small_layout)
    digital[:, LEADS.index("V3")] = 7
    rewrite(small_layout, digital=digital)
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, f"{RECORD}.hea", "flat-line signal", "V3")


def test_mixed_units(small_layout, capsys):
    rewrite(small_layout, digital=good_digital(small_layout), units="uV")
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, "units 'uV' differ from 'mV'")


def edit_table(layout, column, row, value):
    table = pd.read_csv(layout / "ptbxl_database.csv")
    table[column] = table[column].astype(object)
    table.loc[row, column] = value
    table.to_csv(layout / "ptbxl_database.csv", index=False)


def test_malformed_scp_codes(small_layout, capsys):
    edit_table(small_layout, "scp_codes", 2, "{'NORM': 100.0")
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, "ptbxl_database.csv, ecg_id 3", "scp_codes must be a Python "
                          "dict literal", "\"{'NORM': 100.0\"")


def test_label_not_in_the_table(small_layout, capsys):
    edit_table(small_layout, "scp_codes", 0, "{'SR': 0.0, 'XYZ': 100.0}")
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, "ecg_id 1, scp_codes", "unknown SCP statement(s) 'XYZ'")


def test_bad_fold(small_layout, capsys):
    edit_table(small_layout, "strat_fold", 1, 11)
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, "strat_fold must be an integer 1-10", "ecg_id 2 has '11'")


def test_missing_column(small_layout, capsys):
    table = pd.read_csv(small_layout / "ptbxl_database.csv").drop(columns=["strat_fold"])
    table.to_csv(small_layout / "ptbxl_database.csv", index=False)
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, "ptbxl_database.csv: missing column(s) strat_fold")


def test_not_a_ptbxl_folder(ludb_root, tmp_path, capsys):
    code, _, err = summary(capsys, ludb_root)
    assert_one_line_error(code, err, "not a PTB-XL folder: ptbxl_database.csv missing")
    code, _, err = summary(capsys, tmp_path / "absent")
    assert_one_line_error(code, err, "absent: not a folder")
    code = main(["data", "summary", "--dataset", "ptbxl"])
    assert_one_line_error(code, capsys.readouterr().err, "needs --root")


def test_not_an_ludb_folder(ptbxl_subset_root, capsys):
    code = main(["data", "summary", "--dataset", "ludb", "--root", str(ptbxl_subset_root)])
    assert_one_line_error(code, capsys.readouterr().err, "not an LUDB folder")


def test_skip_bad_skips_and_reports(small_layout, capsys):
    digital = good_digital(small_layout)
    digital[:, 0] = -32768
    rewrite(small_layout, digital=digital)
    os.truncate(small_layout / "records100/00000/00001_lr.dat", 100)
    edit_table(small_layout, "scp_codes", 2, "not a dict")
    code, out, _ = summary(capsys, small_layout, "--skip-bad")
    assert code == 0
    result = json.loads(out)
    assert result["n_records"] == 1 and result["n_skipped"] == 3
    assert [s["record_id"] for s in result["skipped"]] == ["1", "2", "3"]
    assert "truncated" in result["skipped"][0]["reason"]
    assert "NaN" in result["skipped"][1]["reason"]
    assert "scp_codes" in result["skipped"][2]["reason"]
    # a skipped-bad load never poisons the strict cache: without the flag it still fails
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, "scp_codes must be a Python dict literal")
    edit_table(small_layout, "scp_codes", 2, "{'SR': 0.0}")
    code, _, err = summary(capsys, small_layout)
    assert_one_line_error(code, err, "truncated signal file")
    main(["data", "summary", "--dataset", "ptbxl", "--root", str(small_layout), "--skip-bad"])
    human = capsys.readouterr().out
    assert "records      2  (2 skipped)" in human and "skipped      1: " in human
