"""``protoecg data convert-ludb``: write LUDB as a PTB-XL-layout folder."""

from __future__ import annotations

import argparse

from protoecg.data.ludb_convert import convert_ludb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="LUDB folder (with RECORDS and data/)")
    parser.add_argument("dst", help="new PTB-XL-layout folder (must be empty unless --force)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out unreadable or invalid records and report them")


def run(args: argparse.Namespace) -> int:
    result = convert_ludb(args.src, args.dst, force=args.force, skip_bad=args.skip_bad)
    print(f"wrote {result['records']} LUDB records in PTB-XL layout to {result['dest']} "
          f"({result['skipped']} skipped, {result['unmapped_findings']} unmapped findings "
          "listed in unmapped_findings.csv)")
    return 0
