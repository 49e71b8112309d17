"""Nothing changes that was not asked for (issue 12): commands that only read open the database
read-only and never create one; only ``study create`` creates a database; a file that is not a
review database is refused before anything is written to it; 0 raters per prototype is refused,
not read as "the default". Each case: one ``protoecg: error:`` line, exit 2, files unchanged."""

import hashlib
import sqlite3

import pytest

from protoecg.resources import protocol_path
from tests._cli import assert_one_line_error
from tests._cli import exit_code as main
from tests._synthetic_catalog import SMALL, write_synthetic_catalog


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def files_of(path):
    """The database and its WAL companions, with their contents."""
    return {suffix: digest(path.with_name(path.name + suffix)) for suffix in ("", "-wal", "-shm")}


def one_line_error(capsys, code, *fragments):
    assert_one_line_error(code, capsys.readouterr().err, *fragments)


@pytest.fixture
def study_db(tmp_path, capsys):
    catalog = write_synthetic_catalog(tmp_path / "catalog", SMALL)
    db = tmp_path / "review.db"
    assert main(["study", "create", "--db", str(db), "--protocol", str(protocol_path()),
                 "--catalog", str(catalog), "--name", "s1"]) == 0
    for name in ("Dr A", "Dr B"):
        assert main(["study", "add-reviewer", "--db", str(db), "--study", "s1", "--name", name,
                     "--role", "rater"]) == 0
    assert main(["study", "assign", "--db", str(db), "--study", "s1"]) == 0
    capsys.readouterr()
    # checkpoint the WAL so the file alone holds everything and its bytes can be compared
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


READERS = [
    ["study", "status", "--study", "s1"],
    ["study", "export-ratings", "--study", "s1", "--csv", "{tmp}/out.csv"],
    ["report", "--study", "s1", "--out", "{tmp}/report"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_read_only_commands_never_create_a_database(tmp_path, capsys, command):
    typo = tmp_path / "typo.db"
    args = [a.format(tmp=tmp_path) for a in command]
    one_line_error(capsys, main([*args, "--db", str(typo)]), "typo.db", "no such review database")
    assert not typo.exists() and not list(tmp_path.glob("typo.db*"))


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_read_only_commands_leave_the_database_byte_for_byte(study_db, tmp_path, capsys,
                                                             command):
    before = digest(study_db)
    args = [a.format(tmp=tmp_path) for a in command]
    assert main([*args, "--db", str(study_db)]) == 0, capsys.readouterr().err
    assert digest(study_db) == before


def test_a_foreign_sqlite_file_is_refused_before_any_write(tmp_path, capsys):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO patients (name) VALUES ('x')")
    conn.close()
    before = files_of(other)
    for args in (["study", "status", "--study", "s1"],
                 ["study", "assign", "--study", "s1"],
                 ["study", "create", "--protocol", str(protocol_path()), "--catalog",
                  str(write_synthetic_catalog(tmp_path / "catalog", SMALL)), "--name", "s1"]):
        one_line_error(capsys, main([*args, "--db", str(other)]), "other.sqlite",
                       "not a protoecg review database", "patients")
        assert files_of(other) == before  # still in its own journal mode, nothing added
    with sqlite3.connect(other) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.mark.parametrize("content", [b"", b"not a database at all\n" * 10])
def test_an_empty_or_garbage_file_is_refused_and_left_alone(tmp_path, capsys, content):
    path = tmp_path / "review.db"
    path.write_bytes(content)
    catalog = write_synthetic_catalog(tmp_path / "catalog", SMALL)
    code = main(["study", "create", "--db", str(path), "--protocol", str(protocol_path()),
                 "--catalog", str(catalog), "--name", "s1"])
    one_line_error(capsys, code, "review.db")
    assert path.read_bytes() == content


def test_zero_raters_per_prototype_is_refused_not_read_as_the_default(study_db, capsys):
    before = digest(study_db)
    code = main(["study", "assign", "--db", str(study_db), "--study", "s1",
                 "--raters-per-prototype", "0"])
    one_line_error(capsys, code, "--raters-per-prototype", "at least 1, got 0")
    assert digest(study_db) == before


def test_only_study_create_creates_a_database(tmp_path, capsys):
    missing = tmp_path / "new.db"
    for args in (["study", "add-reviewer", "--study", "s1", "--name", "Dr A", "--role", "rater"],
                 ["study", "assign", "--study", "s1"],
                 ["review", "serve"]):
        one_line_error(capsys, main([*args, "--db", str(missing)]), "no such review database")
        assert not missing.exists()
