"""``protoecg demo``: the main job on the embedded default data, end to end.

Find LUDB (``--ludb``, ``$PROTOECG_LUDB``, ``../shared/data/ludb`` beside this checkout, or an
earlier download under ``--out``); with none, download it from PhysioNet (the verified,
resumable ``data download``; ``--no-download`` skips that), and only when that fails too (offline)
say so and run the same loop on the SYNTHETIC set. Write LUDB in PTB-XL layout under ``--out``
and read it back through the PTB-XL adapter; then train a ProtoECGNet (``--preset``, default
``demo``: a real model in a few minutes on 2 cores), project its prototypes to a catalog,
evaluate it, and set up a review study with a demo rater and researcher whose access codes are
printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from protoecg.catalog.quality import quality_lines
from protoecg.catalog.writer import write_catalog
from protoecg.data import format_summary, load_dataset, summarize
from protoecg.data.download import download
from protoecg.data.ludb_convert import convert_ludb
from protoecg.errors import DownloadError
from protoecg.resources import protocol_path
from protoecg.study.assignment import assign
from protoecg.study.setup import create_study_from_files, load_study_files
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


def find_or_fetch_ludb(out: Path, allow_download: bool = True,
                       base_url: str | None = None) -> Path | None:
    """A LUDB folder: found, downloaded before under ``out``, or downloaded now (PhysioNet or
    ``base_url``). None when there is none and it cannot be downloaded (the reason printed)."""
    found = default_ludb()
    if found is not None:
        return found
    target = out / "ludb"
    complete = target / ".download-complete"  # every file fetched and its SHA-256 checked
    if complete.is_file():
        return target
    if not allow_download:
        print("No LUDB folder found and --no-download given.")
        return None
    print(f"No LUDB folder found: downloading LUDB (about 100 MB, SHA-256 verified) to "
          f"{target} ...")
    try:
        download("ludb", target, base_url=base_url, progress=True)
    except DownloadError as exc:
        print(f"LUDB could not be downloaded ({exc}).")
        return None
    complete.write_text("")
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ludb", help="LUDB folder (default $PROTOECG_LUDB, "
                        "../shared/data/ludb, or OUT/ludb; downloaded there when absent)")
    parser.add_argument("--out", default=str(Path("data") / "demo"),
                        help="where the demo writes its files (default data/demo under the "
                             "working folder)")
    parser.add_argument("--preset", default="demo",
                        help="model preset for the demo run (default demo: a few minutes on 2 "
                             "cores; ludb: the longer real small run; tiny: seconds, untrained)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download LUDB (use SYNTHETIC ECGs when it is not found)")
    parser.add_argument("--base-url", help="LUDB mirror to download from instead of PhysioNet")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    ludb = Path(args.ludb) if args.ludb else find_or_fetch_ludb(
        out, not args.no_download, args.base_url)
    if ludb is None:
        print("Using SYNTHETIC ECGs instead (a stand-in for real data: the model and its "
              "figures mean nothing clinically).\n")
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
        # an absolute root in run.json: the run reopens its data from any working folder
        dataset = load_dataset("ptbxl", layout.resolve(), fs=100, cache_dir=out / "cache")
        name = "ptbxl"
        print(format_summary(summarize(dataset)))
    run = out / f"run-{args.preset}"
    shutil.rmtree(run, ignore_errors=True)
    config = load_config(args.preset)
    print(f"\ntraining ProtoECGNet (preset {args.preset}: "
          f"{', '.join(s.name for s in config.schedule('protoecgnet'))}) -> {run}")
    Trainer(config, prepare(dataset, config.data), run, dataset_name=name,
            command=["protoecg", "demo"], progress=True).fit()
    catalog = write_catalog(run)
    result = evaluate_run(run, n_resamples=200)
    low, high = result["macro_auroc_ci"]
    print(f"test fold macro AUROC {result['macro_auroc']:.3f} (95% CI {low:.3f}-{high:.3f}) "
          f"over {result['n_labels_evaluated']} labels; catalog -> {catalog}")
    # the untrained `tiny` demo and the synthetic stand-in may have no live latent space: their
    # studies are made anyway and say so; the real demo's is refused like any other
    protocol, loaded = load_study_files(protocol_path(), catalog,
                                        allow_degenerate=args.preset == "tiny"
                                        or name == "synthetic")
    for branch in loaded.meta.get("degenerate_branches_allowed", []):
        print(f"protoecg: warning: the {branch} branch is degenerate; the demo study rates it "
              "anyway (recorded in the study)", file=sys.stderr)
    print("prototype quality:")
    for line in quality_lines(loaded.meta.get("prototype_quality", {})):
        print(f"  {line}")
    db = out / "review.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with ReviewStore(db) as store:
        study, _ = create_study_from_files(store, "demo", protocol, loaded)
        _, rater_code = store.add_reviewer(study, "demo rater", "rater")
        _, researcher_code = store.add_reviewer(study, "demo researcher", "researcher")
        assign(store, study, 1)
    print(f"\nreview study 'demo' in {db}: rater code {rater_code}, researcher code "
          f"{researcher_code}")
    print(f"start the review app with: .venv/bin/protoecg review serve --db {db}")
    return 0
