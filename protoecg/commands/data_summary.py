"""``protoecg data summary``: load a dataset and print what it holds."""

from __future__ import annotations

import argparse
import json

from protoecg.data import DATASETS, format_summary, load_dataset, summarize


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="adapter: ptbxl (any folder in PTB-XL layout), ludb or synthetic")
    parser.add_argument("--root", help="dataset folder (not needed for synthetic)")
    parser.add_argument("--fs", type=int, default=100, choices=(100, 500),
                        help="sampling rate in Hz (default 100, as ProtoECGNet)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out unreadable or invalid records and report them")
    parser.add_argument("--cache-dir", help="where the PTB-XL signal cache goes "
                        "(default $PROTOECG_CACHE_DIR or data/cache)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.dataset, args.root, args.fs, skip_bad=args.skip_bad,
                           progress=not args.json, cache_dir=args.cache_dir)
    summary = summarize(dataset)
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0
