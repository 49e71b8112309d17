"""What the benchmark scripts that train runs share: the dataset options, running a
``protoecg`` command in-process or as its own timed process (stopping the benchmark if it
fails), config overrides as TOML and the paper-size catalog the review benchmarks rate."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
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


def timed_process(cmd: list[str], log: Path | None = None) -> float:
    """Run ``protoecg CMD`` as its own process (its own torch threads and device state, so
    runs can go side by side and be timed from outside); returns its wall time in seconds.
    ``log``: where its output goes (default: this terminal)."""
    argv = [sys.executable, "-m", "protoecg", *cmd]
    started = time.perf_counter()
    if log is None:
        code = subprocess.run(argv).returncode
    else:
        with log.open("w") as out:
            code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:  # protoecg has said why in one line (in the log, if there is one)
        where = f": see {log}" if log else ""
        raise SystemExit(f"`protoecg {' '.join(cmd)}` failed with {code}{where}")
    return time.perf_counter() - started


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


def toml(table: dict, prefix: str = "") -> str:
    """A config override as TOML, in the few shapes the benchmarks write: tables of scalars
    and inline tables of numbers."""
    lines, nested = [], []
    for key, value in table.items():
        if isinstance(value, dict) and all(not isinstance(v, dict) for v in value.values()) \
                and prefix:
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        elif isinstance(value, dict):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    text = (f"[{prefix}]\n" if prefix and lines else "") + "".join(f"{x}\n" for x in lines)
    for key, value in nested:
        text += toml(value, f"{prefix}.{key}" if prefix else key)
    return text
