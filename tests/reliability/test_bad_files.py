"""Bad protocol files, model checkpoints and label cells: one ``protoecg: error:`` line naming
the file or field, exit 2, nothing created or changed (issue 12)."""

import shutil

import pytest

from protoecg.cli import main
from protoecg.data.ptbxl import parse_scp_codes
from protoecg.errors import LabelError
from protoecg.resources import protocol_path
from tests._cli import assert_one_line_error
from tests._synthetic_catalog import SMALL, write_synthetic_catalog


def one_line(capsys, code, *fragments):
    assert_one_line_error(code, capsys.readouterr().err, *fragments)


PROTOCOL_DAMAGE = {
    "not UTF-8": (lambda text: text.encode("utf-16"), "not UTF-8 text"),
    "scale value beyond int64": (
        lambda text: text.replace("value = 5", "value = 99999999999999999999").encode(),
        "value must be between -1000 and 1000, got 99999999999999999999"),
    "scale value too large": (
        lambda text: text.replace("value = 1,", "value = 100000,", 1).encode(),
        "value must be between -1000 and 1000"),
}


@pytest.mark.parametrize("case", list(PROTOCOL_DAMAGE))
def test_bad_protocol_files(tmp_path, capsys, case):
    damage, message = PROTOCOL_DAMAGE[case]
    protocol = tmp_path / "protocol.toml"
    protocol.write_bytes(damage(protocol_path().read_text()))
    catalog = write_synthetic_catalog(tmp_path / "catalog", SMALL)
    db = tmp_path / "review.db"
    code = main(["study", "create", "--db", str(db), "--protocol", str(protocol), "--catalog",
                 str(catalog), "--name", "s1"])
    one_line(capsys, code, "protocol.toml", message)
    assert not db.exists()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "not a checkpoint"])
def test_a_damaged_model_checkpoint_gives_one_line(tmp_path, capsys, damage):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "synthetic", "--preset", "tiny", "--out", str(run),
                 "--epochs", "1", "--quiet"]) == 0
    capsys.readouterr()
    raw = (run / "model.pt").read_bytes()
    (run / "model.pt").write_bytes(raw[: len(raw) // 3] if damage == "truncated"
                                   else b"PK\x03\x04 not torch")
    kept = tmp_path / "kept"
    shutil.copytree(run, kept)
    one_line(capsys, main(["evaluate", "--run", str(run)]), "model.pt",
             "not a readable model checkpoint")
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in kept.iterdir())


@pytest.mark.parametrize("cell", ["{[1]: 0}", "{{}: 1}", "[" * 200 + "]" * 200, "{1: 2}"])
def test_scp_codes_cells_that_are_not_label_dicts(cell):
    with pytest.raises(LabelError, match="scp_codes must be a Python dict literal"):
        parse_scp_codes(cell, "ptbxl_database.csv line 2")
