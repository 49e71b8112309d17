"""Commands that neither train nor project never import torch: the CLI imports a command's
module only when that command runs (each command runs here in its own interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from protoecg.resources import protocol_path

PROBE = ("import sys\n"
         "from protoecg.cli import main\n"
         "try:\n"
         "    code = main(sys.argv[1:])\n"
         "except SystemExit as exc:\n"
         "    code = exc.code\n"
         "print('TORCH-LOADED' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
         "sys.exit(code)\n")


def run_command(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def study_db(synthetic_catalog, tmp_path_factory):
    folder = tmp_path_factory.mktemp("startup")
    db = str(folder / "review.db")
    for args in (
        ["study", "create", "--db", db, "--protocol", str(protocol_path()),
         "--catalog", str(synthetic_catalog), "--name", "s1"],
        ["study", "add-reviewer", "--db", db, "--study", "s1", "--name", "Dr A",
         "--role", "rater"],
        ["study", "add-reviewer", "--db", db, "--study", "s1", "--name", "Dr B",
         "--role", "rater"],
        ["study", "assign", "--db", db, "--study", "s1", "--raters-per-prototype", "2"],
    ):
        result = run_command(*args, cwd=folder)
        assert result.returncode == 0, result.stderr
        assert "NO-TORCH" in result.stderr, f"`protoecg {' '.join(args[:2])}` imported torch"
    return folder, db


@pytest.mark.parametrize("args", [
    ["--help"],
    ["study", "--help"],
    ["study", "status", "--db", "{db}", "--study", "s1", "--json"],
    ["study", "export-ratings", "--db", "{db}", "--study", "s1", "--csv", "{folder}/out.csv"],
    ["report", "--db", "{db}", "--study", "s1", "--out", "{folder}/report",
     "--resamples", "20"],
])
def test_study_and_report_commands_never_import_torch(study_db, args):
    folder, db = study_db
    args = [a.format(db=db, folder=folder) for a in args]
    result = run_command(*args, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "NO-TORCH" in result.stderr, f"`protoecg {' '.join(args[:2])}` imported torch"


def test_a_training_command_does_import_torch(tmp_path):
    """The probe can tell: a command that needs torch shows it (bad input, still imported)."""
    result = run_command("project", "--run", str(tmp_path / "missing"), cwd=tmp_path)
    assert result.returncode == 2
    assert "TORCH-LOADED" in result.stderr
