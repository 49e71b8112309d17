import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from protoecg.cli import COMMANDS, build_parser, main
from tests.conftest import REPO


def command_words():
    return [command.words for command in COMMANDS]


@pytest.mark.parametrize("words", command_words())
def test_every_command_has_help_and_is_in_the_readme(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*words.split(), "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert len(help_text.strip().splitlines()) > 2
    assert "%%" not in help_text  # a percent sign escaped twice shows as "95%%"
    readme = (REPO / "README.md").read_text()
    assert f"protoecg {words}" in readme, f"README.md does not document `protoecg {words}`"


@pytest.mark.parametrize("words", ["", "study", "review", "data"])
def test_the_command_and_its_groups_have_help(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*words.split(), "--help"])
    assert exit_info.value.code == 0
    assert "usage: protoecg" in capsys.readouterr().out


def test_summary_json_has_the_documented_keys(capsys):
    assert main(["data", "summary", "--dataset", "synthetic", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("n_records", "fs", "n_leads", "n_samples", "label_counts", "fold_counts"):
        assert key in summary
    assert (summary["n_records"], summary["fs"], summary["n_leads"], summary["n_samples"]) == (
        200, 100, 12, 1000)
    assert all(v > 0 for v in summary["label_counts"].values())
    assert sum(summary["fold_counts"].values()) == 200


def test_unknown_choices_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "summary", "--dataset", "mitbih"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'mitbih'" in capsys.readouterr().err


def test_console_script_is_installed():
    bin_dir = REPO / ".venv" / "bin"
    script = bin_dir / "protoecg"
    if not script.exists():
        pytest.skip("not running from the project's .venv")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"protoecg \d+\.\d+\.\d+\n", out.stdout)


@pytest.mark.slow
def test_demo_runs_on_ludb(ludb_root, tmp_path):
    # a relative --out, as `make demo` gives it: the run must still reopen its data from
    # anywhere (run.json's root is absolute)
    result = subprocess.run(
        [sys.executable, "-m", "protoecg", "demo", "--ludb", str(ludb_root), "--out",
         "demo-out", "--preset", "tiny"], capture_output=True, text=True, timeout=600,
        cwd=tmp_path,
    )
    out = tmp_path / "demo-out"
    assert result.returncode == 0, result.stderr
    assert "records      200" in result.stdout and "units mV" in result.stdout
    assert "read back through the PTB-XL adapter" in result.stdout
    assert (out / "ludb-ptbxl-layout" / "ptbxl_database.csv").is_file()
    assert (out / "ludb-ptbxl-layout" / "delineation" / "1.ii").is_file()  # the experts'
    assert "test fold macro AUROC" in result.stdout and "prototype quality:" in result.stdout
    assert (out / "run-tiny" / "catalog" / "prototypes.csv").is_file()
    assert Path(json.loads((out / "run-tiny" / "run.json").read_text())["root"]).is_absolute()
    code = result.stdout.split("rater code ")[1].split(",")[0]
    from protoecg.study import signin
    from protoecg.study.store import ReviewStore

    with ReviewStore(out / "review.db") as store:
        study, rater = signin.authenticate(store, code)
        assert (study.name, rater.role) == ("demo", "rater")
        # the untrained tiny model is degenerate: its study says it was accepted anyway
        assert study.catalog_meta["degenerate_branches_allowed"]


def test_parser_builds():
    assert build_parser().prog == "protoecg"
