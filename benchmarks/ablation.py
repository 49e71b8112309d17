"""Issue 11's ablation: which change keeps prototypes faithful (projection costs nothing) and
accurate, each alone and all together, on one dataset, seeded and trained the same way.

Variants are config overrides on the preset (TOML tables, as ``--config`` takes them):

- ``official``: the official code's set-up (normal prototype initialisation, no pre-training,
  no periodic push, clustering 0.004 / separation 0.0004);
- ``latent_init``: prototypes start as latents of random training windows of their class;
- ``push``: projection after every joint epoch (ProtoPNet's push), before validation;
- ``pretrain``: the backbones first train as plain classifiers (``features`` stage);
- ``clustering``: ProtoPNet's loss weights (clustering 0.8, separation 0.08);
- ``all``: the four together;
- ``all_log_l2``: the four together with ProtoPNet's similarity (log of inverse squared L2
  distance) instead of cosine: in a sigmoid latent space every pair of real windows has a high
  cosine, so real-window prototypes separate classes poorly under cosine.

For each: faithfulness of the final projection per branch (validation macro AUROC just before
and after it, median and 10th-percentile cosine of prototypes to their windows), test macro AUROC
with its bootstrap 95% CI, and the training time. Writes benchmarks/results/ablation_<preset>.json
and prints the Markdown table of the README.

    python benchmarks/ablation.py --dataset ludb --root ../shared/data/ludb --preset ludb \\
        --runs data/ablation-ludb [--reuse] [--threads 1] [--only official all]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _runs import add_dataset_arguments, run  # benchmarks/_runs.py (run as scripts)

RESULTS = Path(__file__).resolve().parent / "results"
OFFICIAL = {"model": {"prototype_init": "normal"},
            "train": {"push_every": 0, "epochs": {"features": 0}},
            "loss": {"clustering": 0.004, "separation": 0.0004}}
CHANGES = {
    "latent_init": {"model": {"prototype_init": "latent"}},
    "push": {"train": {"push_every": 1}},
    "pretrain": {"train": {"epochs": {"features": 20}}},
    "clustering": {"loss": {"clustering": 0.8, "separation": 0.08}},
}


def merge(base: dict, change: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in change.items():
        if isinstance(value, dict):
            out[key] = merge(out.get(key, {}), value)
        else:
            out[key] = value
    return out


def variants(features_epochs: int = 20) -> dict[str, dict]:
    changes = {**CHANGES, "pretrain": {"train": {"epochs": {"features": features_epochs}}}}
    out = {"official": OFFICIAL}
    for name, change in changes.items():
        out[name] = merge(OFFICIAL, change)
    together = OFFICIAL
    for change in changes.values():
        together = merge(together, change)
    out["all"] = together
    out["all_log_l2"] = merge(together, {"model": {"similarity": "log_l2"}})
    # the official loss weights with the three other switches, pushing every 5th joint epoch
    # (ProtoPNet's habit) rather than after each: on LUDB "all" cost the global branch
    out["pretrain_latent_push5"] = merge(OFFICIAL, {
        **changes["pretrain"], **changes["latent_init"]} | {
        "train": {"epochs": {"features": features_epochs}, "push_every": 5}})
    return out


def toml(table: dict, prefix: str = "") -> str:
    """The few shapes the variants use: tables of scalars and inline tables of numbers."""
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


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(results: dict) -> str:
    branches = list(next(iter(results["variants"].values()))["faithfulness"])
    head = "| variant | test macro AUROC (95% CI) | " + " | ".join(
        f"{b}: val AUROC before → after, median cosine" for b in branches) + " | train |"
    rows = [head, "|" + "---|" * (len(branches) + 3)]
    for name, v in results["variants"].items():
        low, high = v["test"]["macro_auroc_ci"]
        cells = [f"{fmt(f['val_auroc_before'])} → {fmt(f['val_auroc_after'])}, "
                 f"{f['cosine_median']:.2f}" for f in v["faithfulness"].values()]
        rows.append(f"| {name} | {v['test']['macro_auroc']:.3f} ({low:.3f}–{high:.3f}) | "
                    + " | ".join(cells) + f" | {v['train_s'] / 60:.1f} min |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_dataset_arguments(parser)
    parser.add_argument("--runs", required=True, help="folder for the run folders")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per run (1: two runs can share 2 cores)")
    parser.add_argument("--only", nargs="+", choices=list(variants()), help="these variants")
    parser.add_argument("--features-epochs", type=int, default=20,
                        help="epochs of the feature pre-training stage where it is on "
                             "(default 20; 8 for the PTB-XL subset)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a finished run whose config.json matches the variant")
    args = parser.parse_args()
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    out_file = RESULTS / f"ablation_{args.preset}.json"
    results = json.loads(out_file.read_text()) if out_file.is_file() else {}
    defined = variants(args.features_epochs)
    results.update({"dataset": args.dataset, "preset": args.preset,
                    "threads": args.threads, "variants_defined": defined})
    results.setdefault("variants", {})
    for name, override in defined.items():
        if args.only and name not in args.only:
            continue
        override = merge(override, {"train": {"threads": args.threads}})
        config = runs / f"{name}.toml"
        config.write_text(toml(override))
        out = runs / name
        started = time.perf_counter()
        if not (args.reuse and (out / "model.pt").is_file()):
            run(["train", "--dataset", args.dataset, "--root", args.root, "--preset",
                 args.preset, "--config", str(config), "--out", str(out), "--quiet"])
            train_s = time.perf_counter() - started
        else:
            train_s = results["variants"].get(name, {}).get("train_s") or sum(
                json.loads(line).get("seconds", 0)
                for line in (out / "metrics.jsonl").read_text().splitlines())
        run(["evaluate", "--run", str(out)])  # writes RUN/evaluation.json
        test = json.loads((out / "evaluation.json").read_text())
        results["variants"][name] = {
            "run": str(out), "override": override, "train_s": round(train_s, 1),
            "faithfulness": test["faithfulness"],
            "test": {k: test[k] for k in ("macro_auroc", "macro_auroc_ci", "n_records",
                                          "n_labels_evaluated")},
            "per_branch": {b: v.get("macro_auroc") for b, v in test["per_branch"].items()},
        }
        out_file.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    sys.exit(main())
