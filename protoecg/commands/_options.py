"""Arguments several commands share: the device, a prune rule over a study, and value types
that refuse out-of-range numbers at the command line (argparse says which option and why)."""

from __future__ import annotations

import argparse

from protoecg.commands._study import add_db
from protoecg.explain.thresholds import ThresholdError, check_threshold
from protoecg.prune.selection import ACTIONS


def at_least(low: int):
    """An integer option that must be >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def probability(text: str) -> float:
    """A float option in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value:g}")
    return value


def comparison_threshold(text: str) -> float | str:
    """``f1`` or a probability in [0, 1): when a model calls a label positive."""
    try:
        return check_threshold(text)
    except ThresholdError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_case_selection(parser: argparse.ArgumentParser, threshold_flag: str = "--threshold",
                       when: str = "") -> None:
    """The options of a comparison's case selection: cases per label, when a model calls a
    label positive, and whether cases both models show alike are kept (``when``: a prefix for
    their help, e.g. "with --comparison-study: ")."""
    parser.add_argument("--per-label", type=at_least(1), default=5,
                        help=f"{when}cases per label, test ECGs both models call positive "
                             "(default 5)")
    parser.add_argument(threshold_flag, type=comparison_threshold, default="f1",
                        help=f"{when}when a model calls a label positive: f1 (default: each "
                             "model's F1-best threshold per label on its validation fold) or "
                             "a probability, e.g. 0.5")
    parser.add_argument("--include-identical", action="store_true",
                        help=f"{when}keep cases where both models show the same prototype "
                             "window on the same part of the ECG (left out by default: "
                             "nothing to compare)")


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
                             " (values: bad, best, purity, mean/median/min/max/n(QUESTION), "
                             "audit.segment, audit.no_wave, audit.agrees, audit.used, "
                             "audit.drivers)")
    parser.add_argument("--action", required=True, choices=ACTIONS,
                        help="disable: no influence on any prediction, id kept; replace: "
                             "re-project onto the next-best allowed window (new revision); "
                             "forbid: fine-tune away from the rejected windows, then project "
                             "again (prototypes that move become new revisions)")
    parser.add_argument("--allow-empty-class", action="store_true",
                        help="allow disabling the last active prototype of a class")
    parser.add_argument("--audit", default=None,
                        help="audit.json the rule's audit.* values come from (default: "
                             "RUN/audit/audit.json, written by `protoecg audit --run RUN`)")
    add_device(parser)
