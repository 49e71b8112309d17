"""The ``protoecg`` command: a registry of sub-commands, one module each in ``protoecg.commands``.

Each command module defines ``PATH`` (its words, e.g. ``("data", "summary")``), ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Library errors (``ProtoECGError``) become one
line on stderr and exit code 2; nothing else is caught, so real bugs still show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from protoecg import __version__
from protoecg.commands import (
    data_convert_ludb,
    data_download,
    data_summary,
    demo,
    evaluate,
    explain,
    project,
    report,
    review_serve,
    study_add_reviewer,
    study_assign,
    study_create,
    study_export_ratings,
    study_import_ratings,
    study_status,
    train,
)
from protoecg.errors import ProtoECGError

# Registered explicitly (no auto-discovery): the order here is the order in --help.
COMMANDS: tuple[ModuleType, ...] = (
    demo, data_summary, data_convert_ludb, data_download, train, project, evaluate,
    explain, study_create, study_add_reviewer, study_assign, study_status,
    study_import_ratings, study_export_ratings, review_serve, report,
)

GROUP_HELP = {
    "data": "read, convert, download and summarise ECG datasets",
    "study": "set up prototype-review studies and move their ratings in and out",
    "review": "the review app for clinicians and researchers",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="protoecg",
        description="ProtoECG Review: train ProtoECGNet, project its prototypes to a catalog, "
        "and run clinician reviews of them.",
    )
    parser.add_argument("--version", action="version", version=f"protoecg {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for module in COMMANDS:
        *group_words, word = module.PATH
        subparsers = top
        if group_words:
            group = group_words[0]
            if group not in groups:
                group_parser = top.add_parser(group, help=GROUP_HELP[group],
                                              description=GROUP_HELP[group])
                groups[group] = group_parser.add_subparsers(
                    dest=f"{group}_command", metavar="COMMAND", required=True)
            subparsers = groups[group]
        sub = subparsers.add_parser(word, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ProtoECGError as exc:
        print(f"protoecg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("protoecg: interrupted", file=sys.stderr)
        return 130
