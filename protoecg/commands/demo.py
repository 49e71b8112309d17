"""``protoecg demo``: the main job on the embedded default data.

For now (data layer): find LUDB (``--ludb``, ``$PROTOECG_LUDB``, or ``../shared/data/ludb`` beside
this checkout), write it in PTB-XL layout under ``--out``, read it back through the PTB-XL
adapter and print the summary. With no LUDB anywhere it says so and summarises the synthetic set.
Later stages (train, project, review) extend this command.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from protoecg.data import format_summary, load_dataset, summarize
from protoecg.data.ludb_convert import convert_ludb

PATH = ("demo",)
HELP = "run the main job on the default data (LUDB if found, else synthetic) and print summaries"

REPO = Path(__file__).resolve().parents[2]


def default_ludb() -> Path | None:
    for candidate in (os.environ.get("PROTOECG_LUDB"), REPO.parent / "shared" / "data" / "ludb"):
        if candidate and (Path(candidate) / "RECORDS").is_file():
            return Path(candidate)
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ludb", help="LUDB folder (default $PROTOECG_LUDB or "
                        "../shared/data/ludb)")
    parser.add_argument("--out", default=str(REPO / "data" / "demo"),
                        help="where the demo writes its files (default data/demo)")


def run(args: argparse.Namespace) -> int:
    ludb = Path(args.ludb) if args.ludb else default_ludb()
    out = Path(args.out)
    if ludb is None:
        print("No LUDB folder found (set --ludb or $PROTOECG_LUDB, or run "
              "`protoecg data download ludb --dest data/ludb`); using SYNTHETIC ECGs.\n")
        print(format_summary(summarize(load_dataset("synthetic", fs=100))))
        return 0
    print(f"LUDB (real ECGs, mV) from {ludb}\n")
    print(format_summary(summarize(load_dataset("ludb", ludb, fs=500))))
    layout = out / "ludb-ptbxl-layout"
    if not (layout / "ptbxl_database.csv").is_file():
        result = convert_ludb(ludb, layout, force=True)
        print(f"\nwrote {result['records']} records in PTB-XL layout to {layout}")
    print("\nthe same ECGs read back through the PTB-XL adapter at 100 Hz:\n")
    dataset = load_dataset("ptbxl", layout, fs=100, cache_dir=out / "cache")
    print(format_summary(summarize(dataset)))
    return 0
