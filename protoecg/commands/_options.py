"""Arguments several commands share: the device, and a prune rule over a study."""

from __future__ import annotations

import argparse

from protoecg.commands._study import add_db
from protoecg.prune.selection import ACTIONS


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda, cuda:N or auto (default cpu)")


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    """The run a study rated, the study, the rule and what to do with what it selects."""
    parser.add_argument("--run", required=True, help="projected run folder the study rated")
    add_db(parser)
    parser.add_argument("--rule", required=True,
                        help="which prototypes to act on, e.g. \"bad >= 2 or "
                             "(mean(representativeness) < 2.5 and n(representativeness) >= 3)\""
                             " (values: bad, best, purity, mean/median/min/max/n(QUESTION))")
    parser.add_argument("--action", required=True, choices=ACTIONS,
                        help="disable: no influence on any prediction, id kept; replace: "
                             "re-project onto the next-best allowed window (new revision)")
    parser.add_argument("--allow-empty-class", action="store_true",
                        help="allow disabling the last active prototype of a class")
    add_device(parser)
