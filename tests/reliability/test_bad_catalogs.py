"""Broken catalogs given to ``study create``: one ``protoecg: error:`` line naming the file and
what was expected, exit 2, and no database created (issue 12)."""

import pickle

import numpy as np
import pandas as pd
import pytest

from protoecg.cli import main
from protoecg.resources import protocol_path
from tests._cli import assert_one_line_error
from tests._synthetic_catalog import SMALL, write_synthetic_catalog


def edit_csv(name, change):
    def apply(folder):
        table = pd.read_csv(folder / name, keep_default_na=False, dtype=str)
        change(table).to_csv(folder / name, index=False)
    return apply


def write(name, content: bytes):
    def apply(folder):
        (folder / name).write_bytes(content)
    return apply


def truncate_signals(folder):
    raw = (folder / "signals.npy").read_bytes()
    (folder / "signals.npy").write_bytes(raw[: len(raw) // 2])


def pickled_signals(folder):
    with open(folder / "signals.npy", "wb") as f:
        np.save(f, np.array([{"evil": pickle.dumps(1)}], dtype=object), allow_pickle=True)


def nan_signal(folder):
    signals = np.load(folder / "signals.npy")
    signals[0, 3, 10] = np.nan
    np.save(folder / "signals.npy", signals)


def two_dimensional_signals(folder):
    np.save(folder / "signals.npy", np.zeros((4, 1000), dtype=np.float32))


def with_row(table, column, value):
    table = table.copy()
    table.loc[0, column] = value
    return table


CASES = {
    "catalog.json not JSON": (write("catalog.json", b"{not json"), "catalog.json",
                              "not valid JSON"),
    "catalog.json a list": (write("catalog.json", b"[1, 2]"), "catalog.json",
                            "expected a JSON object, got list"),
    "catalog.json not UTF-8": (write("catalog.json", b"\xff\xfe{}"), "catalog.json",
                               "not UTF-8"),
    "catalog.json other format": (write("catalog.json", b'{"format": 99}'), "catalog.json",
                                  "catalog format 99"),
    "prototypes.csv empty": (write("prototypes.csv", b""), "prototypes.csv", "empty file"),
    "prototypes.csv header only": (edit_csv("prototypes.csv", lambda t: t.iloc[:0]),
                                   "prototypes.csv", "no prototypes"),
    "prototypes.csv missing column": (edit_csv("prototypes.csv",
                                               lambda t: t.drop(columns=["class_code"])),
                                      "prototypes.csv", "missing column(s) class_code"),
    "duplicate prototype ids": (edit_csv("prototypes.csv", lambda t: with_row(
        t, "prototype_id", t.loc[1, "prototype_id"])), "prototypes.csv", "more than once"),
    "negative signal_index": (edit_csv("prototypes.csv",
                                       lambda t: with_row(t, "signal_index", "-5")),
                              "prototypes.csv", "signal_index '-5' is not a row"),
    "signal_index beyond the array": (edit_csv("prototypes.csv", lambda t: with_row(
        t, "signal_index", "9999")), "prototypes.csv", "signal_index '9999'"),
    "signal_index not a number": (edit_csv("prototypes.csv", lambda t: with_row(
        t, "signal_index", "x")), "prototypes.csv", "signal_index 'x'"),
    "neighbours.csv empty": (write("neighbours.csv", b""), "neighbours.csv", "empty file"),
    "neighbours.csv bad signal_index": (edit_csv("neighbours.csv", lambda t: with_row(
        t, "signal_index", "-1")), "neighbours.csv", "signal_index '-1'"),
    "signals.npy truncated": (truncate_signals, "signals.npy", "not a readable signal array"),
    "signals.npy pickled": (pickled_signals, "signals.npy", "not a readable signal array"),
    "signals.npy not an array": (write("signals.npy", b"hello"), "signals.npy",
                                 "not a readable signal array"),
    "signals.npy 2-D": (two_dimensional_signals, "signals.npy", "(ECGs, 12, samples)"),
    "NaN in a prototype's signal": (nan_signal, "signals.npy", "NaN"),
    "file missing": (lambda folder: (folder / "neighbours.csv").unlink(), "catalog",
                     "catalog file neighbours.csv missing"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_catalog_gives_one_line_and_creates_nothing(tmp_path, capsys, case):
    damage, where, message = CASES[case]
    catalog = write_synthetic_catalog(tmp_path / "catalog", SMALL)
    damage(catalog)
    db = tmp_path / "review.db"
    code = main(["study", "create", "--db", str(db), "--protocol", str(protocol_path()),
                 "--catalog", str(catalog), "--name", "s1"])
    assert_one_line_error(code, capsys.readouterr().err, where, message)
    assert not db.exists()
