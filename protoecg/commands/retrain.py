"""``protoecg retrain``: retrain a pruned run's branch classifiers and fusion layer."""

from __future__ import annotations

import argparse

from protoecg.commands._options import add_device
from protoecg.prune.pruning import retrain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="pruned run folder made by `protoecg prune`")
    add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    retrain(args.run, args.device, progress=not args.quiet)
    print(f"retrained the last layers of {args.run}; compare with its source: protoecg compare "
          f"SOURCE_RUN {args.run}")
    return 0
