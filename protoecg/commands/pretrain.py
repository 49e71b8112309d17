"""``protoecg pretrain``: contrastive pretraining of the three branch encoders on the training
folds (no labels), for ``protoecg train --init``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from protoecg.commands._options import add_device, at_least
from protoecg.data import DATASETS, load_dataset
from protoecg.model.encoders import METHODS
from protoecg.train.config import load_config, preset_names
from protoecg.train.data import prepare
from protoecg.train.run import RunError, is_run
from protoecg.train.trainer import Trainer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="adapter: ptbxl (any folder in PTB-XL layout), ludb or synthetic")
    parser.add_argument("--root", help="dataset folder (not needed for synthetic)")
    parser.add_argument("--method", required=True, choices=METHODS,
                        help="simclr: two augmented views of each ECG (NT-Xent + the cosine "
                             "term); report: each ECG against its own report text (CLIP loss)")
    parser.add_argument("--preset", default="tiny",
                        help=f"model sizes and data settings, one of {', '.join(preset_names())}"
                             " (default tiny); use the preset you will train with")
    parser.add_argument("--config", help="TOML file overriding preset values ([pretrain] ...)")
    parser.add_argument("--epochs", type=at_least(1),
                        help="pretraining epochs (default train.epochs.pretrain of the preset)")
    parser.add_argument("--out", required=True, help="pretraining run folder to create")
    add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if is_run(out):
        raise RunError(f"{out}: already holds a run; choose another --out")
    config = load_config(args.preset, args.config)
    if args.epochs is not None:
        config.train.epochs = {**config.train.epochs, "pretrain": args.epochs}
    data = prepare(load_dataset(args.dataset, args.root, config.data.fs,
                                progress=not args.quiet), config.data)
    if args.method == "report" and not any(
            str(data.dataset.reports[i]).strip() for i in data.split_index["train"]):
        raise RunError(f"{args.dataset}: no report text in the training folds for --method "
                       "report")
    trainer = Trainer(config, data, out, device=args.device, progress=not args.quiet,
                      dataset_name=args.dataset, schedule=f"pretrain_{args.method}",
                      command=["protoecg", *sys.argv[1:]],
                      extra_meta={"pretrain": args.method})
    trainer.fit()
    print(f"pretrained the rhythm, morphology and global encoders ({args.method}, "
          f"{len(data.split_index['train'])} training ECGs) -> {out}; next: protoecg train ... "
          f"--init {out}")
    return 0
