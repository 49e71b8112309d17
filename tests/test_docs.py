"""The README documents exactly the registered commands, and every argument has help text
(sqlite-utils' and Datasette's docs tests); the README stays a manual, docs/cli.md is the
commands' --help as generated, and every page of docs/ is indexed and every local link resolves."""

import argparse
import importlib.util
import re

import pytest

from protoecg.cli import COMMANDS, build_parser, main
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def readme_commands() -> set[str]:
    """The command words of the README's command table (rows "| `protoecg WORDS ...` | ...")."""
    section = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    found = set()
    for cell in re.findall(r"^\| `protoecg ([^`]+)`", section, flags=re.M):
        words = []
        for token in cell.split():
            if not re.fullmatch(r"[a-z][a-z-]*", token):
                break
            words.append(token)
        found.add(" ".join(words))
    return found


def test_readme_command_table_matches_the_registry():
    registered = {command.words for command in COMMANDS}
    assert readme_commands() == registered


def _leaf_parsers(parser: argparse.ArgumentParser, words=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaf_parsers(sub, (*words, name))
            return
    yield " ".join(words), parser


@pytest.mark.parametrize("words, parser", list(_leaf_parsers(build_parser())))
def test_every_argument_has_help(words, parser):
    missing = [action.dest for action in parser._actions
               if not isinstance(action, argparse._HelpAction) and not action.help]
    assert not missing, f"`protoecg {words}`: arguments without help: {missing}"


def test_every_help_prints(capsys):
    """--help of the program, of each group and of each command (a stray % used to crash it)."""
    paths = [(), *sorted({c.path[:1] for c in COMMANDS if len(c.path) > 1}),
             *(c.path for c in COMMANDS)]
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            main([*path, "--help"])
        assert exit_info.value.code == 0, path
        assert "usage: protoecg" in capsys.readouterr().out


README_MAX_LINES = 300


def test_readme_is_a_manual_of_at_most_300_lines():
    lines = README.count("\n") + (not README.endswith("\n"))
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move results to "
        "docs/results/<topic>.md and long manual text to docs/manuals/<topic>.md")


def _generate_cli():
    spec = importlib.util.spec_from_file_location("generate_cli", REPO / "docs" / "generate_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_the_commands_help(monkeypatch):
    """docs/cli.md is exactly what `--help` prints, whatever the terminal's width."""
    monkeypatch.setenv("COLUMNS", "37")
    generated = _generate_cli().render()
    assert "## `protoecg study create`" in generated
    assert (REPO / "docs" / "cli.md").read_text() == generated, (
        "docs/cli.md is out of date with the commands' --help: regenerate it with "
        "`.venv/bin/python docs/generate_cli.py` and commit it")


def _markdown_pages() -> list:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def test_docs_index_lists_every_page():
    docs = REPO / "docs"
    index = (docs / "index.md").read_text()
    missing = [str(page.relative_to(docs)) for page in sorted(docs.rglob("*.md"))
               if page.name != "index.md" and f"({page.relative_to(docs)})" not in index]
    assert not missing, f"docs/index.md does not link {missing}"
    assert "(docs/index.md)" in README


def test_every_local_link_resolves():
    broken = []
    for page in _markdown_pages():
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, f"links to missing files: {broken}"
