"""Throughput of the `paper`-size ProtoECGNet on this machine's CPU (batch 32, fp32 or bf16).

Measures, the way the official implementation was measured side by side (TIPS.md): a "joint"
training step (forward, prototype loss with the paper's weights, backward, Adam) per branch and
for all three; inference; projection per 1,000 training ECGs; forward FLOPs per ECG (torch's
FlopCounterMode); and the share of this machine's measured matmul rate (fp32, or bf16 with
``--amp`` on the CPU) that training reaches. Only this project's figures: a comparison with
the official code counts only when both are measured in one run (the side-by-side table in the
README quotes TIPS.md).

Run by hand: ``.venv/bin/python benchmarks/train_throughput.py [--repeats 3] [--amp] [--device
cuda]``; ``--amp`` is bfloat16 autocast on the CPU (``train.cpu_bf16``; projection ranks windows
under it too) and float16 autocast on CUDA (``train.amp``). Writes
``benchmarks/results/train_throughput[_bf16|_cuda_{fp32,amp}].json`` and prints a Markdown table
for the README.
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
from protoecg.train.predict import autocast, cpu_has_native_bf16
from protoecg.train.projection import project_branch

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


def matmul_gflops(n: int = 2048, repeats: int = 5, device: torch.device = CPU,
                  dtype: torch.dtype = torch.float32) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":  # kernels run asynchronously: time what has finished
        torch.cuda.synchronize(device)


def time_train(model, x, y, repeats: int, steps: int = 3, amp: bool = False) -> float:
    device = x.device
    joint = next(s for s in load_config("paper").schedule("protoecgnet")
                 if s.name == "joint")
    ctx = LossContext.from_labels(model, y.cpu().numpy(), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    model.train()

    def step():
        with autocast(device, amp):
            logits, outputs = model(x)
            loss, _ = stage_loss(joint, model, logits, outputs, y, ctx)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    step()  # warm-up
    rates = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        rates.append(steps * len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


@torch.no_grad()
def time_inference(model, x, repeats: int, steps: int = 5, amp: bool = False) -> float:
    model.eval()
    with autocast(x.device, amp):
        model(x)
    rates = []
    for _ in range(repeats):
        _sync(x.device)
        start = time.perf_counter()
        for _ in range(steps):
            with autocast(x.device, amp):
                model(x)
        _sync(x.device)
        rates.append(steps * len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


def forward_flops(model) -> int:
    model.eval()
    x = torch.randn(1, 12, 1000, device=next(model.parameters()).device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--projection-ecgs", type=int, default=256)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision: bfloat16 autocast on the CPU (needs native bf16: "
                             "AVX512-BF16 or AMX), float16 on CUDA")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.amp and device.type == "cpu" and not cpu_has_native_bf16():
        parser.error("--amp on the CPU needs native bfloat16 (AVX512-BF16 or AMX): "
                     "emulated bf16 is slower than fp32")
    torch.manual_seed(0)
    config = load_config("paper")
    rng = np.random.default_rng(0)
    x = torch.randn(32, 12, 1000, device=device)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{platform.machine()} CPU, {os.cpu_count()} cores")
    results: dict = {
        "machine": f"{name}, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "device": str(device), "date": time.strftime("%Y-%m-%d"), "batch_size": 32,
        "precision": ("fp32" if not args.amp else "float16 autocast" if device.type == "cuda"
                      else "bfloat16 autocast"),
        "matmul_gflops": round(matmul_gflops(device=device), 1), "branches": {},
    }
    # the share of the matmul rate is taken against the rate in the precision trained in
    rate_key = "matmul_gflops"
    if args.amp and device.type == "cpu":
        rate_key = "matmul_gflops_bf16"
        results[rate_key] = round(matmul_gflops(device=device, dtype=torch.bfloat16), 1)
    everything = label_table.all_codes()
    for branch in (*label_table.BRANCHES, "all"):
        codes = everything if branch == "all" else label_table.branch_codes(branch)
        model = build_model(codes, config.model).to(device)
        y = torch.from_numpy((rng.random((32, len(codes))) < 0.1).astype(np.float32))
        y[:, 0] = 1  # every sample positive somewhere
        y = y.to(device)
        entry = {
            "prototypes": model.n_prototypes,
            "train_ecgs_per_s": round(time_train(model, x, y, args.repeats, amp=args.amp), 1),
            "inference_ecgs_per_s": round(time_inference(model, x, args.repeats, amp=args.amp),
                                          1),
            "forward_gflops_per_ecg": round(forward_flops(model) / 1e9, 3),
        }
        # training does about 3x the forward work (forward + two backward products)
        entry["train_share_of_matmul_rate"] = round(
            3 * entry["forward_gflops_per_ecg"] * entry["train_ecgs_per_s"]
            / results[rate_key], 3)
        if branch != "all":
            n = args.projection_ecgs
            signals = rng.standard_normal((n, 12, 1000)).astype(np.float32)
            labels = np.ones((n, len(codes)), dtype=np.float32)
            start = time.perf_counter()
            # as the training stage runs it: projection only, no neighbour ranking (the
            # official code has none); `protoecg project` adds one more pass for neighbours
            project_branch(model.branches[branch], signals, labels, batch_size=64,
                           n_neighbours=0, device=device, amp=args.amp)
            _sync(device)
            seconds = time.perf_counter() - start
            entry["projection_s_per_256_ecgs"] = round(seconds * 256 / n, 2)
            entry["projection_s_per_1000_ecgs"] = round(seconds * 1000 / n, 2)
        results["branches"][branch] = entry
        print(branch, entry, flush=True)
    suffix = (("_bf16" if args.amp else "") if device.type == "cpu"
              else f"_{device.type}_{'amp' if args.amp else 'fp32'}")
    out = REPO / "benchmarks" / "results" / f"train_throughput{suffix}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{results['date']}, {results['machine']}, {results['precision']}, batch 32")
    print("\n| branch | prototypes | train ECG/s | inference ECG/s | projection s / 1,000 ECGs | "
          "forward GFLOP/ECG | share of matmul rate |")
    print("|---|---|---|---|---|---|---|")
    for branch, e in results["branches"].items():
        projection = e.get("projection_s_per_1000_ecgs", "-")
        print(f"| {branch} | {e['prototypes']} | {e['train_ecgs_per_s']} | "
              f"{e['inference_ecgs_per_s']} | {projection} | "
              f"{e['forward_gflops_per_ecg']} | {e['train_share_of_matmul_rate']:.0%} |")
    print(f"\nmatmul rate: {results['matmul_gflops']} GFLOP/s fp32"
          + (f", {results[rate_key]} GFLOP/s bf16" if rate_key != "matmul_gflops" else ""))


if __name__ == "__main__":
    main()
