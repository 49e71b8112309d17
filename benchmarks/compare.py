"""ProtoECGNet vs its black-box twin on one dataset and split, end to end, timed.

Runs ``protoecg train`` (both models), ``protoecg project`` and ``protoecg evaluate`` as a user
would, and writes ``benchmarks/results/compare_<preset>.json`` plus a Markdown table for the
README. The two models are evaluated on the same test fold with the same bootstrap resamples:
each model's CI, and the difference (ProtoECGNet minus twin) with its paired CI, per branch too;
and ProtoECGNet's faithfulness of projection per branch.

    .venv/bin/python benchmarks/compare.py --dataset ludb --root ../shared/data/ludb --preset ludb
    .venv/bin/python benchmarks/compare.py --dataset ptbxl --root ../shared/data/ptbxl-subset \\
        --preset ptbxl_subset [--config threads1.toml] [--runs data/runs] [--keep] [--seed 7]

``--seed N`` trains both models with ``train.seed = N`` (on top of ``--config``) and writes
``compare_<preset>_seed<N>.json``, so a second seed stands beside the first instead of
replacing it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from _runs import timed_process, toml  # noqa: E402  (benchmarks/_runs.py)

from protoecg.train.comparison import compare_runs  # noqa: E402


def fmt(part: dict) -> str:
    if part.get("macro_auroc") is None:
        return "-"
    low, high = part["macro_auroc_ci"]
    return f"{part['macro_auroc']:.3f} ({low:.3f}-{high:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--runs", default=str(REPO / "runs"), help="where the run folders go")
    parser.add_argument("--keep", action="store_true", help="reuse finished runs")
    parser.add_argument("--config", help="TOML overriding the preset, for both models "
                        "(e.g. [train] threads = 1 to train the two side by side)")
    parser.add_argument("--seed", type=int, help="train.seed for both models (default: the "
                        "preset's); the figures go to compare_<preset>_seed<N>.json")
    args = parser.parse_args()
    runs = Path(args.runs)
    suffix = "" if args.seed is None else f"_seed{args.seed}"
    results: dict = {"dataset": args.dataset, "preset": args.preset, "config": args.config,
                     "seed": args.seed, "models": {}}
    config = args.config
    if args.seed is not None:  # the override plus the seed, in one file beside the runs
        try:
            override = tomllib.loads(Path(config).read_text()) if config else {}
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise SystemExit(f"--config {config}: {error}") from None
        override.setdefault("train", {})["seed"] = args.seed
        runs.mkdir(parents=True, exist_ok=True)
        config = str(runs / f"{args.preset}_seed{args.seed}.toml")
        Path(config).write_text(toml(override))
    extra_config = ["--config", config] if config else []
    for kind, extra in (("protoecgnet", []), ("black_box", ["--black-box"])):
        out = runs / f"{args.preset}{suffix}_{kind}"
        timings = {}
        if not (args.keep and (out / "model.pt").is_file()):
            shutil.rmtree(out, ignore_errors=True)
            timings["train_s"] = timed_process([
                "train", "--dataset", args.dataset, "--root", args.root, "--preset",
                args.preset, "--out", str(out), "--quiet", *extra, *extra_config])
        if kind == "protoecgnet":
            timings["project_s"] = timed_process(["project", "--run", str(out)])
        timings["evaluate_s"] = timed_process(["evaluate", "--run", str(out)])
        evaluation = json.loads((out / "evaluation.json").read_text())
        results["models"][kind] = {"run": str(out), "timings": timings,
                                   "evaluation": evaluation}
    proto = results["models"]["protoecgnet"]
    black = results["models"]["black_box"]
    # ProtoECGNet minus the twin on the same resamples
    results["difference"] = compare_runs(black["run"], proto["run"])
    out_file = REPO / "benchmarks" / "results" / f"compare_{args.preset}{suffix}.json"
    out_file.write_text(json.dumps(results, indent=2) + "\n")
    e_p, e_b = proto["evaluation"], black["evaluation"]
    diff = results["difference"]
    print(f"\n{args.dataset}, preset {args.preset}, fold 10 ({e_p['n_records']} ECGs, "
          f"{e_p['n_labels_evaluated']} labels)\n")
    print("| | ProtoECGNet | black-box twin | difference (paired 95% CI) |\n|---|---|---|---|")
    print(f"| macro AUROC (95% CI) | {fmt(e_p)} | {fmt(e_b)} | {delta(diff)} |")
    for branch in e_p["per_branch"]:
        print(f"| {branch} labels | {fmt(e_p['per_branch'][branch])} | "
              f"{fmt(e_b['per_branch'][branch])} | {delta(diff['per_branch'][branch])} |")
    for level in ("superdiagnostic", "rhythm", "form"):
        if level in e_p["per_aggregation"]:
            print(f"| {level} | {fmt(e_p['per_aggregation'][level])} | "
                  f"{fmt(e_b['per_aggregation'].get(level, {}))} |")
    total_p = sum(proto["timings"].values())
    total_b = sum(black["timings"].values())
    print(f"| wall time | {total_p / 60:.1f} min (train+project+evaluate) | "
          f"{total_b / 60:.1f} min | |")
    faithfulness = e_p.get("faithfulness") or {}
    if faithfulness:
        print("\n| branch | val AUROC before → after projection | median / p10 cosine |\n"
              "|---|---|---|")
        for branch, f in faithfulness.items():
            print(f"| {branch} | {num(f['val_auroc_before'])} → {num(f['val_auroc_after'])} | "
                  f"{f['cosine_median']:.3f} / {f['cosine_p10']:.3f} |")
        if "faithfulness_at" in e_p:  # a refine stage's push replaced the first projection
            at = e_p["faithfulness_at"]
            print(f"\n(the push kept by the {at.get('after_stage')} stage, epoch "
                  f"{at.get('epoch')}; the projection stage before it: " + "; ".join(
                      f"{b} {num(f['val_auroc_before'])} → {num(f['val_auroc_after'])}, "
                      f"cosine {f['cosine_median']:.3f}"
                      for b, f in e_p["faithfulness_first_projection"].items()) + ")")


def num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def delta(part: dict) -> str:
    low, high = part["delta_ci"]
    return f"{part['delta']:+.3f} ({low:+.3f} to {high:+.3f})"


if __name__ == "__main__":
    main()
