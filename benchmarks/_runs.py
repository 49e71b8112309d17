"""What the benchmark scripts that train runs share: the dataset options and running a
``protoecg`` command in-process, stopping the benchmark if it fails."""

from __future__ import annotations

import argparse

from protoecg.cli import main as protoecg


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--preset", required=True)


def run(cmd: list[str]) -> None:
    code = protoecg(cmd)
    if code != 0:
        raise SystemExit(f"`protoecg {' '.join(cmd)}` failed with {code}")
