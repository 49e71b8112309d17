"""``protoecg train``: train ProtoECGNet (or its black-box twin) into a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from protoecg.commands._options import add_device, at_least
from protoecg.data import DATASETS, load_dataset
from protoecg.train.config import load_config, preset_names
from protoecg.train.data import prepare
from protoecg.train.health import health_warnings
from protoecg.train.run import RunError, is_run, open_run_data, read_run
from protoecg.train.trainer import Trainer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="adapter: ptbxl (any folder in PTB-XL layout), ludb or synthetic")
    parser.add_argument("--root", help="dataset folder (not needed for synthetic)")
    parser.add_argument("--preset", required=True, help=f"one of {', '.join(preset_names())}")
    parser.add_argument("--config", help="TOML file overriding preset values")
    parser.add_argument("--out", required=True, help="run folder to create (or to --resume)")
    add_device(parser)
    parser.add_argument("--epochs", type=at_least(1),
                        help="override the epoch count of every stage the preset runs "
                             "(quick runs; a stage the preset leaves out at 0 stays out)")
    parser.add_argument("--black-box", action="store_true",
                        help="train the black-box twin (same backbones, no prototypes)")
    parser.add_argument("--init", default=None, metavar="PRE",
                        help="start the encoders (backbones) from a `protoecg pretrain` run "
                             "or a black-box twin run (sets train.backbones_from)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.resume:
        meta, config = read_run(out)
        if meta["black_box"] != args.black_box:
            raise RunError(f"{out}: run was made {'with' if meta['black_box'] else 'without'} "
                           "--black-box; resume it the same way")
        if config.name != args.preset:
            raise RunError(f"{out}: run was made with preset {config.name!r}, not {args.preset!r}")
        if meta["status"] == "complete":
            print(f"{out}: training already complete")
            return 0
    else:
        if is_run(out):
            raise RunError(f"{out}: already holds a run; pass --resume to continue it or "
                           "choose another --out")
        config = load_config(args.preset, args.config)
        if args.epochs is not None:
            config.cap_epochs(args.epochs)
        if args.init is not None:
            config.train.backbones_from = args.init
    if args.resume:  # the run's own data, labels and standardiser
        data = open_run_data(meta, config, progress=not args.quiet)
    else:
        data = prepare(load_dataset(args.dataset, args.root, config.data.fs,
                                    progress=not args.quiet), config.data)
    trainer = Trainer(config, data, out, device=args.device, black_box=args.black_box,
                      progress=not args.quiet, dataset_name=args.dataset,
                      command=["protoecg", *sys.argv[1:]])
    meta = trainer.fit(resume=args.resume)
    if trainer.dist.main:
        for line in health_warnings(meta.get("latent_health", {})):
            print(f"protoecg: warning: {line}", file=sys.stderr)
        kind = "black-box twin" if args.black_box else "ProtoECGNet"
        print(f"trained {kind} on {len(data.label_names)} labels "
              f"({len(data.dropped_labels)} left out, see run.json) -> {out}")
    return 0
