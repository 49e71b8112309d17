"""Bad command options and unusable output paths: one ``protoecg: error:`` line naming the
option or file and what was expected, exit 2, and nothing already stored changed (issue 12)."""

import hashlib
import os
import sqlite3
import subprocess
import sys

import pytest

from protoecg.resources import protocol_path
from tests._cli import assert_one_line_error
from tests._cli import exit_code as main
from tests._synthetic_catalog import SMALL, write_synthetic_catalog
from tests.conftest import REPO, SHARED_DATA


def tree_digest(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def workspace(tmp_path, capsys):
    catalog = write_synthetic_catalog(tmp_path / "catalog", SMALL)
    db = tmp_path / "review.db"
    assert main(["study", "create", "--db", str(db), "--protocol", str(protocol_path()),
                 "--catalog", str(catalog), "--name", "s1"]) == 0
    assert main(["study", "add-reviewer", "--db", str(db), "--study", "s1", "--name", "Dr A",
                 "--role", "rater"]) == 0
    assert main(["study", "assign", "--db", str(db), "--study", "s1"]) == 0
    (tmp_path / "a-file").write_text("keep me\n")
    (tmp_path / "a-folder").mkdir()
    capsys.readouterr()
    return tmp_path


CASES = {
    # option values out of range
    "evaluate --resamples 0": (["evaluate", "--run", "{w}/run", "--resamples", "0"],
                               ["--resamples", "at least 1, got 0"]),
    "evaluate --resamples -5": (["evaluate", "--run", "{w}/run", "--resamples", "-5"],
                                ["--resamples", "at least 1, got -5"]),
    "report --resamples 0": (["report", "--db", "{w}/review.db", "--study", "s1", "--out",
                              "{w}/rep", "--resamples", "0"], ["--resamples"]),
    "compare --resamples x": (["compare", "{w}/a", "{w}/b", "--resamples", "x"],
                              ["--resamples", "expected an integer, got 'x'"]),
    "explain --threshold 2": (["explain", "--run", "{w}/run", "--record", "1", "--threshold",
                               "2"], ["--threshold", "must be in [0, 1], got 2"]),
    "explain --threshold -0.1": (["explain", "--run", "{w}/run", "--record", "1",
                                  "--threshold", "-0.1"], ["--threshold", "in [0, 1]"]),
    "explain --top 0": (["explain", "--run", "{w}/run", "--record", "1", "--top", "0"],
                        ["--top", "at least 1"]),
    "train --epochs -1": (["train", "--dataset", "synthetic", "--preset", "tiny", "--out",
                           "{w}/run", "--epochs", "-1"], ["--epochs", "at least 1, got -1"]),
    "train --epochs 0": (["train", "--dataset", "synthetic", "--preset", "tiny", "--out",
                          "{w}/run", "--epochs", "0"], ["--epochs", "at least 1, got 0"]),
    "assign --raters-per-prototype -1": (["study", "assign", "--db", "{w}/review.db",
                                          "--study", "s1", "--raters-per-prototype", "-1"],
                                         ["--raters-per-prototype", "at least 1"]),
    "unknown command": (["bogus"], ["invalid choice: 'bogus'"]),
    "missing option": (["evaluate"], ["required: --run", "protoecg evaluate --help"]),
    # output paths that cannot be written
    "export --csv a folder": (["study", "export-ratings", "--db", "{w}/review.db", "--study",
                               "s1", "--csv", "{w}/a-folder"], ["a-folder"]),
    "export --csv in a missing folder": (["study", "export-ratings", "--db", "{w}/review.db",
                                          "--study", "s1", "--csv", "{w}/nowhere/r.csv"],
                                         ["nowhere"]),
    "train --out an existing file": (["train", "--dataset", "synthetic", "--preset", "tiny",
                                      "--out", "{w}/a-file", "--quiet"], ["a-file"]),
    "report --out an existing file": (["report", "--db", "{w}/review.db", "--study", "s1",
                                       "--out", "{w}/a-file"], ["a-file"]),
    "convert-ludb into an existing file": (["data", "convert-ludb", "{ludb}", "{w}/a-file"],
                                           ["a-file"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_option_gives_one_line_and_changes_nothing(workspace, capsys, case):
    argv, fragments = CASES[case]
    before = tree_digest(workspace)
    ludb = SHARED_DATA / "ludb"  # a real source, so that only the destination is wrong
    code = main([a.format(w=workspace, ludb=ludb) for a in argv])
    assert_one_line_error(code, capsys.readouterr().err, *fragments)
    assert tree_digest(workspace) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files anyway")
def test_a_read_only_database_gives_one_line(workspace, capsys):
    db = workspace / "review.db"
    before = db.read_bytes()
    for path in workspace.glob("review.db*"):
        path.chmod(0o444)
    try:
        code = main(["study", "add-reviewer", "--db", str(db), "--study", "s1", "--name",
                     "Dr B", "--role", "rater"])
    finally:
        for path in workspace.glob("review.db*"):
            path.chmod(0o644)
    assert_one_line_error(code, capsys.readouterr().err, "review.db")
    assert db.read_bytes() == before


def test_a_closed_pipe_ends_quietly(workspace):
    """``protoecg study status | head -c 1``: the reader goes away after one byte."""
    command = (f"{sys.executable} -m protoecg study status --db {workspace}/review.db "
               f"--study s1 | head -c 1 >/dev/null")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr


class _ReadOnlyDisk:
    """A connection whose disk refuses writes, as SQLite reports a read-only file or folder
    (root ignores file modes, so the chmod test above cannot run as root)."""

    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, *args):
        if sql.startswith("BEGIN IMMEDIATE"):
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_database_that_cannot_be_written_is_named_and_unchanged(workspace):
    from protoecg.study.store import ReviewStore, StoreError

    db = workspace / "review.db"
    with ReviewStore(db, "write") as store:
        study = store.study("s1")
        before = [r["name"] for r in store.db["reviewers"].rows]
        store.db.conn = _ReadOnlyDisk(store.db.conn)
        with pytest.raises(StoreError, match="review.db: cannot write to the review database "
                                             r"\(attempt to write a readonly database\)"):
            store.add_reviewer(study, "Dr B", "rater")
        store.db.conn = store.db.conn._conn
        assert [r["name"] for r in store.db["reviewers"].rows] == before
