"""``protoecg data download``: fetch LUDB or PTB-XL from PhysioNet (resumable, verified)."""

from __future__ import annotations

import argparse

from protoecg.data.download import SOURCES, download


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=sorted(SOURCES), help="which dataset to download")
    parser.add_argument("--dest", required=True, help="folder to download into")
    parser.add_argument("--base-url", help="mirror to use instead of PhysioNet "
                        "(same layout, with SHA256SUMS.txt at its root)")
    parser.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    report = download(args.dataset, args.dest, base_url=args.base_url, workers=args.workers,
                      progress=not args.quiet)
    counts = report.as_dict()
    print(f"{args.dataset}: {counts['downloaded']} downloaded, {counts['resumed']} resumed, "
          f"{counts['already_present']} already present and verified, in {args.dest}")
    return 0
