"""``protoecg project``: write a run's prototype catalog (RUN/catalog/)."""

from __future__ import annotations

import argparse
import sys

from protoecg.catalog.quality import quality_lines
from protoecg.catalog.reader import read_catalog
from protoecg.catalog.writer import write_catalog
from protoecg.commands._options import add_device
from protoecg.train.health import health_warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run folder made by `protoecg train`")
    parser.add_argument("--neighbours", type=int, default=5,
                        help="nearest other training windows kept per prototype (default 5)")
    add_device(parser)


def run(args: argparse.Namespace) -> int:
    folder = write_catalog(args.run, args.device, args.neighbours)
    catalog = read_catalog(folder)
    counts = catalog.prototypes.groupby("branch").size().to_dict()
    print(f"catalog of {len(catalog.prototypes)} prototypes "
          f"({', '.join(f'{b} {n}' for b, n in counts.items())}) from "
          f"{catalog.meta['n_signals']} training ECGs -> {folder}")
    for line in quality_lines(catalog.meta.get("prototype_quality", {})):
        print(f"  {line}")
    for line in health_warnings(catalog.meta.get("latent_health", {})):
        print(f"protoecg: warning: {line}", file=sys.stderr)
    return 0
