"""The ``protoecg`` command: an explicit registry of sub-commands, one module each in
``protoecg.commands``.

The registry below names every command's words, its module and its one-line help. A command's
module (``add_arguments(parser)`` and ``run(args) -> int``) is imported only when that command
runs, so ``protoecg study status`` never pays for torch. Library errors (``ProtoECGError``)
and operating-system errors on the user's files (``OSError``: a folder where a file was
expected, no permission, a full disk) become one line on stderr and exit code 2; a closed pipe
(``protoecg study status | head``) ends quietly; nothing else is caught, so real bugs still show
a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from protoecg import __version__
from protoecg.errors import ProtoECGError


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # the words after `protoecg`
    module: str  # in protoecg.commands
    help: str

    @property
    def words(self) -> str:
        return " ".join(self.path)

    def load(self) -> ModuleType:
        return importlib.import_module(f"protoecg.commands.{self.module}")


# Registered explicitly (no auto-discovery): the order here is the order in --help.
COMMANDS: tuple[Command, ...] = (
    Command(("demo",), "demo",
            "run the main job on the default data (LUDB if found, else synthetic) and print "
            "summaries"),
    Command(("data", "summary"), "data_summary",
            "load a dataset (PTB-XL layout, LUDB or synthetic) and print its records, labels "
            "and folds"),
    Command(("data", "convert-ludb"), "data_convert_ludb",
            "write LUDB (PhysioNet layout) as a PTB-XL-layout folder: records100/records500 "
            "WFDB files, ptbxl_database.csv, scp_statements.csv"),
    Command(("data", "download"), "data_download",
            "download LUDB or PTB-XL from PhysioNet into --dest, resuming partial files and "
            "verifying every SHA-256"),
    Command(("train",), "train",
            "train ProtoECGNet (prototypes -> joint -> projection -> classifier -> fusion) or, "
            "with --black-box, its black-box twin, into a run folder"),
    Command(("pretrain",), "pretrain",
            "pretrain the three branch encoders contrastively on the training folds without "
            "labels (SimCLR views or ECG-report alignment), for train --init"),
    Command(("project",), "project",
            "locate every prototype of a trained ProtoECGNet in the training ECGs and write the "
            "prototype catalog (prototypes.csv, neighbours.csv, signals.npy, catalog.json)"),
    Command(("evaluate",), "evaluate",
            "evaluate a trained run on a fold (default 10, the test fold): macro AUROC with a "
            "95% bootstrap CI, per branch, per class and per PTB-XL aggregation"),
    Command(("explain",), "explain",
            "explain a trained ProtoECGNet's predictions for one ECG: per predicted label the "
            "prototypes that contributed most and where in the ECG they matched (JSON + "
            "picture)"),
    Command(("audit",), "audit",
            "audit a trained ProtoECGNet's explanations: sanity checks (model and label "
            "randomisation), the ECG segment each prototype window covers against expert "
            "rules, and which prototypes drive predictions per class and subgroup"),
    Command(("clusters",), "clusters",
            "time-localized clusters of a trained ProtoECGNet (Boubekki et al.): each branch's "
            "activations clustered along time over the training ECGs, their alignment with "
            "the P, QRS and T waves, and a random-forest surrogate on each ECG's cluster "
            "proportions"),
    Command(("study", "create"), "study_create",
            "create a review study: a protocol (TOML) applied to every prototype of a catalog"),
    Command(("study", "add-reviewer"), "study_add_reviewer",
            "add a reviewer (rater or researcher) to a study and print their access code once"),
    Command(("study", "remove-reviewer"), "study_remove_reviewer",
            "remove a reviewer from a study: their code stops working, their unanswered "
            "assignments are dropped, the answers they gave are kept and counted"),
    Command(("study", "new-code"), "study_new_code",
            "give a reviewer a new access code (a lost or shared one): the old code and their "
            "open sessions stop working"),
    Command(("study", "assign"), "study_assign",
            "assign every prototype to K raters (load-balanced, seeded); re-run after adding "
            "raters: rated assignments stay, unrated ones are spread again"),
    Command(("study", "status"), "study_status",
            "print a study's prototypes, reviewers, answers and completion (per rater too)"),
    Command(("study", "import-ratings"), "study_import_ratings",
            "import long-form answers (reviewer,prototype_id,question,answer[,answered_at]) "
            "from a CSV in one transaction: all rows or none"),
    Command(("study", "create-comparison"), "study_create_comparison",
            "create a blind A/B comparison study of two runs: seeded, label-stratified test "
            "ECGs both call positive, each model's top prototype for the label, A/B per case"),
    Command(("study", "import-comparison"), "study_import_comparison",
            "import a blind A/B comparison study run elsewhere (key case_id,label,A,B and "
            "long-form answers) in one transaction: all rows or none"),
    Command(("study", "export-ratings"), "study_export_ratings",
            "export a study's current answers as long-form CSV (reviewer,prototype_id,question,"
            "answer,answered_at); flags as questions best/bad with answer 1, comments as "
            "comment"),
    Command(("prune",), "prune",
            "pick prototypes by a rule over a study's ratings (bad, best, mean(Q), n(Q), "
            "purity …) and disable or replace them in a new run folder; --dry-run lists them"),
    Command(("retrain",), "retrain",
            "retrain a pruned run's branch classifiers and fusion layer (prototypes and "
            "backbones stay), early stopping on validation"),
    Command(("compare",), "compare",
            "compare two runs on the test fold: macro AUROC before/after and the difference "
            "with a paired bootstrap 95% CI, per branch and per class"),
    Command(("round",), "round",
            "one step to the next review round: prune -> retrain -> project -> compare "
            "(saved) -> the next round's study"),
    Command(("review", "serve"), "review_serve",
            "start the review app (Streamlit) for the studies in a review database"),
    Command(("report",), "report",
            "write a study's rating report: ratings.csv (long form, importable), summary.json "
            "(every agreement statistic with its 95% bootstrap CI) and a self-contained "
            "report.html"),
)

GROUP_HELP = {
    "data": "read, convert, download and summarise ECG datasets",
    "study": "set up prototype-review studies and move their ratings in and out",
    "review": "the review app for clinicians and researchers",
}


def _escape(text: str) -> str:
    """argparse formats help with %: a literal percent sign must be doubled."""
    return text.replace("%", "%%")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported as one ``protoecg: error:`` line (exit 2) like
    every other error, pointing at the command's --help."""

    def error(self, message: str):
        self.exit(2, f"protoecg: error: {message} (see `{self.prog} --help`)\n")


def find_command(argv: Sequence[str]) -> Command | None:
    """The registered command whose words start ``argv`` (None for bare --help and the like)."""
    words = []
    for token in argv:
        if token.startswith("-"):
            break
        words.append(token)
    for command in COMMANDS:
        if tuple(words[:len(command.path)]) == command.path:
            return command
    return None


def build_parser(load: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The whole command tree; the arguments of the commands in ``load`` (all when None)."""
    load = COMMANDS if load is None else load
    parser = _Parser(
        prog="protoecg",
        description="ProtoECG Review: train ProtoECGNet, project its prototypes to a catalog, "
        "and run clinician reviews of them.",
    )
    parser.add_argument("--version", action="version", version=f"protoecg {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for command in COMMANDS:
        *group_words, word = command.path
        subparsers = top
        if group_words:
            group = group_words[0]
            if group not in groups:
                group_parser = top.add_parser(group, help=GROUP_HELP[group],
                                              description=GROUP_HELP[group])
                groups[group] = group_parser.add_subparsers(
                    dest=f"{group}_command", metavar="COMMAND", required=True)
            subparsers = groups[group]
        sub = subparsers.add_parser(word, help=_escape(command.help),
                                    description=command.help)  # not %-formatted
        if command in load:
            module = command.load()
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = find_command(argv)
    args = build_parser([command] if command else []).parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ProtoECGError as exc:
        print(f"protoecg: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`| head`): stop writing, and keep Python's exit-time flush of
        # stdout from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"protoecg: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("protoecg: interrupted", file=sys.stderr)
        return 130
