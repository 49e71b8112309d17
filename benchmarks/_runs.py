"""What the benchmark scripts that train runs share: the dataset options, running a
``protoecg`` command in-process (stopping the benchmark if it fails) and the paper-size catalog
the review benchmarks rate."""

from __future__ import annotations

import argparse
from pathlib import Path

from protoecg.cli import main as protoecg


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--preset", required=True)


def run(cmd: list[str]) -> None:
    code = protoecg(cmd)
    if code != 0:
        raise SystemExit(f"`protoecg {' '.join(cmd)}` failed with {code}")


_protoecg = run  # for functions whose parameters are named ``run``


def paper_size_catalog(run: Path, ptbxl_subset: Path) -> Path:
    """A paper-size catalog for the review benchmarks: an untrained `paper`-preset model
    (every training stage 0 epochs) projected onto the PTB-XL subset's training ECGs, built
    once into ``run``."""
    if not (run / "catalog" / "catalog.json").is_file():
        run.parent.mkdir(parents=True, exist_ok=True)
        config = run.parent / "untrained.toml"
        config.write_text("[train]\nepochs = { prototypes = 0, joint = 0, classifier = 0, "
                          "fusion = 0 }\n")
        _protoecg(["train", "--dataset", "ptbxl", "--root", str(ptbxl_subset), "--preset",
                   "paper", "--config", str(config), "--out", str(run), "--quiet"])
        _protoecg(["project", "--run", str(run)])
    return run / "catalog"
