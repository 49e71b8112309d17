"""Throughput of the `paper`-size ProtoECGNet on this machine's CPU (batch 32, fp32).

Measures, as the official implementation was measured (TIPS.md): a "joint" training step
(forward, prototype loss with the paper's weights, backward, Adam) per branch and for all three;
inference; projection per 1,000 training ECGs; forward FLOPs per ECG (torch's FlopCounterMode);
and the share of this machine's measured fp32 matmul rate that training reaches.

Run by hand: ``.venv/bin/python benchmarks/train_throughput.py [--repeats 3]``; writes
``benchmarks/results/train_throughput.json`` and prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from protoecg.data import labels as label_table
from protoecg.model import build_model
from protoecg.train.config import load_config
from protoecg.train.objective import LossContext, stage_loss
from protoecg.train.projection import project_branch

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = {  # TIPS.md: the official code on this kind of machine, ECGs/s and s per 256 ECGs
    "rhythm": {"train": 112, "inference": 397, "projection_256": 0.80},
    "morphology": {"train": 51, "inference": 276, "projection_256": 3.63},
    "global": {"train": 98, "inference": 360, "projection_256": 0.86},
    "all": {"train": 25.9, "inference": 112},
}


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def time_train(model, x, y, repeats: int, steps: int = 3) -> float:
    joint = next(s for s in load_config("paper").schedule("protoecgnet")
                 if s.name == "joint")
    ctx = LossContext.from_labels(model, y.numpy(), torch.device("cpu"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()

    def step():
        logits, outputs = model(x)
        loss, _ = stage_loss(joint, model, logits, outputs, y, ctx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


@torch.no_grad()
def time_inference(model, x, repeats: int, steps: int = 5) -> float:
    model.eval()
    model(x)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            model(x)
        rates.append(steps * len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


def forward_flops(model) -> int:
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 12, 1000))
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--projection-ecgs", type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = load_config("paper")
    rng = np.random.default_rng(0)
    x = torch.randn(32, 12, 1000)
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch "
                   f"{torch.__version__}, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d"), "batch_size": 32, "precision": "fp32",
        "matmul_gflops": round(matmul_gflops(), 1), "branches": {}, "official": OFFICIAL,
    }
    everything = label_table.all_codes()
    for branch in (*label_table.BRANCHES, "all"):
        codes = everything if branch == "all" else label_table.branch_codes(branch)
        model = build_model(codes, config.model)
        y = torch.from_numpy((rng.random((32, len(codes))) < 0.1).astype(np.float32))
        y[:, 0] = 1  # every sample positive somewhere
        entry = {
            "prototypes": model.n_prototypes,
            "train_ecgs_per_s": round(time_train(model, x, y, args.repeats), 1),
            "inference_ecgs_per_s": round(time_inference(model, x, args.repeats), 1),
            "forward_gflops_per_ecg": round(forward_flops(model) / 1e9, 3),
        }
        # training does about 3x the forward work (forward + two backward products)
        entry["train_share_of_matmul_rate"] = round(
            3 * entry["forward_gflops_per_ecg"] * entry["train_ecgs_per_s"]
            / results["matmul_gflops"], 3)
        if branch != "all":
            n = args.projection_ecgs
            signals = rng.standard_normal((n, 12, 1000)).astype(np.float32)
            labels = np.ones((n, len(codes)), dtype=np.float32)
            start = time.perf_counter()
            # as the training stage runs it: projection only, no neighbour ranking (the
            # official code has none); `protoecg project` adds one more pass for neighbours
            project_branch(model.branches[branch], signals, labels, batch_size=64,
                           n_neighbours=0)
            seconds = time.perf_counter() - start
            entry["projection_s_per_256_ecgs"] = round(seconds * 256 / n, 2)
            entry["projection_s_per_1000_ecgs"] = round(seconds * 1000 / n, 2)
        results["branches"][branch] = entry
        print(branch, entry, flush=True)
    out = REPO / "benchmarks" / "results" / "train_throughput.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n| branch | prototypes | train ECG/s (official) | inference ECG/s (official) | "
          "projection s / 1,000 ECGs (official) | forward GFLOP/ECG | share of matmul rate |")
    print("|---|---|---|---|---|---|---|")
    for branch, e in results["branches"].items():
        o = OFFICIAL[branch]
        projection = (f"{e['projection_s_per_1000_ecgs']} ({o['projection_256'] * 1000 / 256:.2f})"
                      if "projection_256" in o else "-")
        print(f"| {branch} | {e['prototypes']} | {e['train_ecgs_per_s']} ({o['train']}) | "
              f"{e['inference_ecgs_per_s']} ({o['inference']}) | {projection} | "
              f"{e['forward_gflops_per_ecg']} | {e['train_share_of_matmul_rate']:.0%} |")
    print(f"\nmatmul rate: {results['matmul_gflops']} GFLOP/s")


if __name__ == "__main__":
    main()
