"""The README documents exactly the registered commands, and every argument has help text
(sqlite-utils' and Datasette's docs tests)."""

import argparse
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
