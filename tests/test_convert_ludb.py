import numpy as np
import pandas as pd
import pytest

from protoecg.cli import main
from protoecg.data.ludb_convert import PTBXL_COLUMNS
from protoecg.data.ptbxl import load_ptbxl

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fs", [100, 500])
def test_round_trip_through_the_ptbxl_adapter(ludb_layout, ludb_100, ludb_500, fs, tmp_path):
    direct = ludb_100 if fs == 100 else ludb_500
    via = load_ptbxl(ludb_layout, fs, cache_dir=tmp_path, progress=False)
    assert via.record_ids == direct.record_ids
    assert via.units == "mV" and via.signals.shape == direct.signals.shape
    # 16-bit samples at gain 1000/mV: within half a quantisation step (0.5 µV)
    assert np.abs(via.signals - direct.signals).max() <= 0.5e-3 + 1e-6
    assert (via.labels == direct.labels).all() and (via.folds == direct.folds).all()
    assert via.reports == direct.reports


def test_layout_has_ptbxls_columns_and_files(ludb_layout, ptbxl_meta_root):
    table = pd.read_csv(ludb_layout / "ptbxl_database.csv")
    official = pd.read_csv(ptbxl_meta_root / "ptbxl_database.csv", nrows=1)
    assert tuple(table.columns) == PTBXL_COLUMNS == tuple(official.columns)
    assert table["filename_lr"].iloc[0] == "records100/00000/00001_lr"
    assert (ludb_layout / "records500/00000/00200_hr.hea").is_file()
    statements = pd.read_csv(ludb_layout / "scp_statements.csv", index_col=0)
    theirs = pd.read_csv(ptbxl_meta_root / "scp_statements.csv", index_col=0)
    assert list(statements.index) == list(theirs.index)
    assert statements["diagnostic"].sum() == 44
    unmapped = pd.read_csv(ludb_layout / "unmapped_findings.csv")
    assert len(unmapped) == 14 and "Aberrant conduction" in set(unmapped["finding"])


def test_refuses_a_non_empty_destination(ludb_root, tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("precious")
    assert main(["data", "convert-ludb", str(ludb_root), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "folder is not empty" in err and "--force" in err
    assert (tmp_path / "keep.txt").read_text() == "precious"
