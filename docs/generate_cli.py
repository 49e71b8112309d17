"""Write docs/cli.md: the --help of `protoecg`, of each command group and of every command.

    .venv/bin/python docs/generate_cli.py          # rewrite docs/cli.md
    .venv/bin/python docs/generate_cli.py --check  # exit 1 if docs/cli.md is out of date

The text comes from `protoecg.cli.build_parser()` (every command's arguments loaded), so it is
exactly what `--help` prints, formatted at a fixed width of 100 columns whatever the terminal
(argparse otherwise reads $COLUMNS) and under the program name `protoecg`.
tests/test_docs.py regenerates it in memory and fails when docs/cli.md differs.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI_MD = REPO / "docs" / "cli.md"
WIDTH = 100

HEADER = """\
# Command-line reference

Generated from `--help` by `.venv/bin/python docs/generate_cli.py`; do not edit by hand
(`tests/test_docs.py` fails when this file and the commands' `--help` differ). The README's
command table says what each command is for; this page lists every option.
"""


def _parsers(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
             ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The program, each group and each command, depth first in registry order."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*words, name))


def _help(parser: argparse.ArgumentParser) -> str:
    formatter = functools.partial(argparse.HelpFormatter, width=WIDTH)
    parser.formatter_class = formatter  # the parser's own, so usage and help share the width
    return parser.format_help().rstrip() + "\n"


def render() -> str:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from protoecg.cli import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)  # argparse also reads it while it names sub-commands
    try:
        parts = [HEADER]
        for words, parser in _parsers(build_parser()):
            title = " ".join(("protoecg", *words))
            parts.append(f"\n## `{title}`\n\n```text\n{_help(parser)}```\n")
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if argv == ["--check"]:
        if CLI_MD.read_text() != text:
            print(f"{CLI_MD} is out of date: run .venv/bin/python docs/generate_cli.py",
                  file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: generate_cli.py [--check]", file=sys.stderr)
        return 2
    CLI_MD.write_text(text)
    print(f"wrote {CLI_MD.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
