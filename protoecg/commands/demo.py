"""``protoecg demo``: the main job on the embedded default data, end to end.

Find LUDB (``--ludb``, ``$PROTOECG_LUDB``, or ``../shared/data/ludb`` beside this checkout), write
it in PTB-XL layout under ``--out`` and read it back through the PTB-XL adapter; then train a
ProtoECGNet (``--preset``, default ``tiny`` so that the demo takes about a minute; ``ludb`` is
the real small run), project its prototypes to a catalog, evaluate it, and set up a review study
with a demo rater and researcher whose access codes are printed. With no LUDB anywhere it says
so and runs the same loop on the SYNTHETIC set.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from protoecg.catalog.reader import read_catalog
from protoecg.catalog.writer import write_catalog
from protoecg.data import format_summary, load_dataset, summarize
from protoecg.data.ludb_convert import convert_ludb
from protoecg.resources import protocol_path
from protoecg.study.assignment import assign
from protoecg.study.protocol import load_protocol
from protoecg.study.store import ReviewStore
from protoecg.train.config import load_config
from protoecg.train.data import prepare
from protoecg.train.evaluation import evaluate_run
from protoecg.train.trainer import Trainer

# a checkout with ../shared beside it; from an installed package, the working folder's
REPO = Path(__file__).resolve().parents[2]


def default_ludb() -> Path | None:
    for candidate in (os.environ.get("PROTOECG_LUDB"), REPO.parent / "shared" / "data" / "ludb",
                      Path.cwd().parent / "shared" / "data" / "ludb"):
        if candidate and (Path(candidate) / "RECORDS").is_file():
            return Path(candidate)
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ludb", help="LUDB folder (default $PROTOECG_LUDB or "
                        "../shared/data/ludb)")
    parser.add_argument("--out", default=str(Path("data") / "demo"),
                        help="where the demo writes its files (default data/demo under the "
                             "working folder)")
    parser.add_argument("--preset", default="tiny",
                        help="model preset for the demo run (default tiny; ludb: the real "
                             "small run, ~5 min)")


def run(args: argparse.Namespace) -> int:
    ludb = Path(args.ludb) if args.ludb else default_ludb()
    out = Path(args.out)
    if ludb is None:
        print("No LUDB folder found (set --ludb or $PROTOECG_LUDB, or run "
              "`protoecg data download ludb --dest data/ludb`); using SYNTHETIC ECGs.\n")
        dataset, name = load_dataset("synthetic", fs=100), "synthetic"
        print(format_summary(summarize(dataset)))
    else:
        print(f"LUDB (real ECGs, mV) from {ludb}\n")
        print(format_summary(summarize(load_dataset("ludb", ludb, fs=500))))
        layout = out / "ludb-ptbxl-layout"
        if not (layout / "ptbxl_database.csv").is_file():
            result = convert_ludb(ludb, layout, force=True)
            print(f"\nwrote {result['records']} records in PTB-XL layout to {layout}")
        print("\nthe same ECGs read back through the PTB-XL adapter at 100 Hz:\n")
        dataset = load_dataset("ptbxl", layout, fs=100, cache_dir=out / "cache")
        name = "ptbxl"
        print(format_summary(summarize(dataset)))
    run = out / f"run-{args.preset}"
    shutil.rmtree(run, ignore_errors=True)
    config = load_config(args.preset)
    print(f"\ntraining ProtoECGNet (preset {args.preset}) -> {run}")
    Trainer(config, prepare(dataset, config.data), run, dataset_name=name,
            command=["protoecg", "demo"], progress=False).fit()
    catalog = write_catalog(run)
    result = evaluate_run(run, n_resamples=200)
    low, high = result["macro_auroc_ci"]
    print(f"test fold macro AUROC {result['macro_auroc']:.3f} (95% CI {low:.3f}-{high:.3f}) "
          f"over {result['n_labels_evaluated']} labels; catalog -> {catalog}")
    db = out / "review.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with ReviewStore(db) as store:
        study = store.create_study("demo", load_protocol(protocol_path()),
            read_catalog(catalog))
        _, rater_code = store.add_reviewer(study, "demo rater", "rater")
        _, researcher_code = store.add_reviewer(study, "demo researcher", "researcher")
        assign(store, study, 1)
    print(f"\nreview study 'demo' in {db}: rater code {rater_code}, researcher code "
          f"{researcher_code}")
    print(f"start the review app with: .venv/bin/protoecg review serve --db {db}")
    return 0
