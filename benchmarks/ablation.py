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
  cosine, so real-window prototypes separate classes poorly under cosine;
- ``pretrain_refine10`` / ``pretrain_refine30``: pre-training, then after projection 10 (30)
  epochs of backbones, add-on layers and prototypes with a push after each (``refine``);
  ``pretrain_latent_refine30`` and ``pretrain_clustering_refine30`` add one more change each;
  ``*_slow``: the refine stage at a tenth of the learning rate (``train.stage_lr_scale``);
  ``pretrain_clustering_diversity_refine30_slow``: diversity and contrastive weights / 10;
  ``*nodiversity*``: both at 0 (``distinct``: with ``train.distinct_projection``);
- ``*in_range*``: prototypes clamped into the latent space's range after every step
  (``train.prototypes_in_latent_range``);
- ``pretrain_no_sigmoid`` / ``pretrain_centred``: pre-training with the add-on's last
  activation left out (``model.add_on_activation = "none"``) or replaced by a centring batch
  norm (``"batch_norm"``): in the sigmoid's positive orthant every two real windows have a
  positive cosine, so a prototype that must be dissimilar to other classes' windows leaves the
  data (median cosine ~0 to its nearest window) and projection costs accuracy;
- ``pretrain_nearest_window_1`` / ``_10``: pre-training with every prototype pulled towards
  its nearest real window of its class in the batch (``loss.nearest_window`` = 1 or 10; Li et
  al. 2018): ProtoPNet's clustering pulls only a class's best prototype per sample;
  ``pretrain_nearest_window_10_nodiversity`` with diversity and contrastive weights 0;
  ``pretrain_nearest_window_10_bf16`` the same as ``_10`` under ``train.cpu_bf16`` (the
  CPU's bfloat16 path: does it train as well, and how much faster);
- ``pretrain_incorrect0``: pre-training with the branch classifiers' connections from other
  classes' prototypes at 0 instead of ProtoPNet's -0.5 (``model.incorrect_class_connection``):
  with -0.5 and the classifier fixed in the joint stage, every ECG of another class pushes a
  prototype's similarity down, and most morphology classes are rare;
- ``pretrain_incorrect0_push``: and a push after every joint epoch (``push``: prototypes are
  real windows at every validation); ``pretrain_incorrect0_nearest_window_10``: and
  ``loss.nearest_window = 10``; ``pretrain_incorrect0_refine30_slow``: and 30 refine epochs at
  a tenth of the rate after projection (prototypes end as real windows; defined, not yet run
  to the end);
- ``all_incorrect0``: the four switches together (the ``ludb`` preset's set-up) with
  connections 0;
- ``pretrain_morphology_steps8``: morphology prototypes 8 latent steps long (2.5 s) instead of
  3 (0.9 s);
- ``pretrain_clustering_diversity_nearest_window_refine30_slow``: the GPU sweep's best with
  ``loss.nearest_window = 10``;
- ``long_pretrain_clustering_refine30_slow``: the paper's 100 joint epochs (patience 15);
- ``twin``: the black-box twin (``train --black-box``), trained in the same sweep so the table
  stands beside it; ``twin_seeded_refine10`` starts ProtoECGNet's backbones from that twin
  (``train.backbones_from``, backbone learning rate x 0.1, 20 joint epochs, refine 10) and runs
  after it.

For each: faithfulness of the projection the final prototypes come from per branch (the refine
stage's kept push where the variant refines, with the projection stage's figures beside it;
validation macro AUROC just before and after it, median and 10th-percentile cosine of
prototypes to their windows), test macro AUROC
with its bootstrap 95% CI, and the training time. Writes benchmarks/results/ablation_<preset>.json
and prints the Markdown table of the README.

    python benchmarks/ablation.py --dataset ludb --root ../shared/data/ludb --preset ludb \\
        --runs data/ablation-ludb [--reuse] [--threads 1] [--only official all]

On a GPU, ``--device cuda --jobs 4`` trains four variants at once (separate processes; the
figures go to ``ablation_<preset>_cuda.json``, apart from the CPU table).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _runs import add_dataset_arguments, run, timed_process, toml  # benchmarks/_runs.py

RESULTS = Path(__file__).resolve().parent / "results"
# every variant states the official value of each switch, so a preset that sets one (the
# ptbxl_subset preset's connections at 0, nearest-window pull and refine stage) does not change
# what a variant name means
OFFICIAL = {"model": {"prototype_init": "normal", "incorrect_class_connection": -0.5,
                      "feature_labels": {"global": "branch"}},
            "train": {"push_every": 0, "epochs": {"features": 0, "refine": 0},
                      "stage_lr_scale": {"refine": 1.0}, "push_max_drop": 1.0},
            "loss": {"clustering": 0.004, "separation": 0.0004, "nearest_window": 0.0,
                     "feature_bce": 0.0}}
# the early-stopping patience a preset's rows were trained with, where the preset has since
# changed it (ptbxl_subset: 6 until it rose to 10 with its refine stage); variants that set
# their own keep it
SWEEP_PATIENCE = {"ptbxl_subset": 6}
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
    pretrain = merge(OFFICIAL, changes["pretrain"])
    out["pretrain_refine10"] = merge(pretrain, {"train": {"epochs": {"refine": 10}}})
    refine30 = merge(pretrain, {"train": {"epochs": {"refine": 30}, "patience": 10}})
    out["pretrain_refine30"] = refine30
    out["pretrain_latent_refine30"] = merge(refine30, changes["latent_init"])
    out["pretrain_clustering_refine30"] = merge(refine30, changes["clustering"])
    slow = {"train": {"stage_lr_scale": {"refine": 0.1}}}
    out["pretrain_refine30_slow"] = merge(refine30, slow)
    out["pretrain_clustering_refine30_slow"] = merge(out["pretrain_clustering_refine30"], slow)
    out["pretrain_clustering_diversity_refine30_slow"] = merge(
        out["pretrain_clustering_refine30_slow"], {"loss": {"diversity": 25.0,
                                                            "contrastive": 30.0}})
    out["long_pretrain_clustering_refine30_slow"] = merge(
        out["pretrain_clustering_refine30_slow"], {"train": {"epochs": {"joint": 100},
                                                             "patience": 15}})
    in_range = {"train": {"prototypes_in_latent_range": True}}
    out["in_range"] = merge(OFFICIAL, in_range)
    out["latent_in_range"] = merge(out["in_range"], changes["latent_init"])
    out["pretrain_in_range_refine30_slow"] = merge(out["pretrain_refine30_slow"], in_range)
    out["pretrain_clustering_diversity_in_range_refine30_slow"] = merge(
        out["pretrain_clustering_diversity_refine30_slow"], in_range)
    out["pretrain_latent_clustering_diversity_in_range_refine30_slow"] = merge(
        out["pretrain_clustering_diversity_in_range_refine30_slow"], changes["latent_init"])
    no_diversity = merge(out["pretrain_clustering_refine30_slow"],
                         {"loss": {"diversity": 0.0, "contrastive": 0.0}})
    out["pretrain_clustering_nodiversity_refine30_slow"] = no_diversity
    out["pretrain_clustering_nodiversity_distinct_refine30_slow"] = merge(
        no_diversity, {"train": {"distinct_projection": True}})
    out["pretrain_clustering_nodiversity_in_range_refine30_slow"] = merge(no_diversity,
                                                                          in_range)
    out["pretrain_latent_clustering_nodiversity_refine30_slow"] = merge(
        no_diversity, changes["latent_init"])
    # not yet run: the best schedule above with ProtoPNet's similarity, under which a prototype
    # inside the data's range can still be far from other classes' windows
    out["pretrain_clustering_diversity_log_l2_refine30_slow"] = merge(
        out["pretrain_clustering_diversity_refine30_slow"], {"model": {"similarity": "log_l2"}})
    out["pretrain_no_sigmoid"] = merge(pretrain, {"model": {"add_on_activation": "none"}})
    out["pretrain_centred"] = merge(pretrain, {"model": {"add_on_activation": "batch_norm"}})
    for weight in (1, 10):
        out[f"pretrain_nearest_window_{weight}"] = merge(
            pretrain, {"loss": {"nearest_window": float(weight)}})
    out["pretrain_nearest_window_10_nodiversity"] = merge(
        out["pretrain_nearest_window_10"], {"loss": {"diversity": 0.0, "contrastive": 0.0}})
    out["pretrain_nearest_window_10_bf16"] = merge(out["pretrain_nearest_window_10"],
                                                   {"train": {"cpu_bf16": True}})
    out["pretrain_incorrect0"] = merge(pretrain, {"model": {"incorrect_class_connection": 0.0}})
    out["pretrain_incorrect0_push"] = merge(out["pretrain_incorrect0"], CHANGES["push"])
    out["pretrain_incorrect0_nearest_window_10"] = merge(
        out["pretrain_incorrect0"], {"loss": {"nearest_window": 10.0}})
    out["pretrain_incorrect0_refine30_slow"] = merge(
        out["pretrain_refine30_slow"], {"model": {"incorrect_class_connection": 0.0}})
    out["pretrain_incorrect0_nearest_window_10_refine30_slow"] = merge(
        out["pretrain_incorrect0_refine30_slow"], {"loss": {"nearest_window": 10.0}})
    out["all_incorrect0"] = merge(together, {"model": {"incorrect_class_connection": 0.0}})
    out["pretrain_morphology_steps8"] = merge(pretrain, {"model": {"prototype_steps": {
        "rhythm": 1, "morphology": 8, "global": 32}}})
    out["pretrain_clustering_diversity_nearest_window_refine30_slow"] = merge(
        out["pretrain_clustering_diversity_refine30_slow"], {"loss": {"nearest_window": 10.0}})
    out[TWIN] = {}
    out["twin_seeded_refine10"] = merge(OFFICIAL, {"train": {
        "backbones_from": SEEDED_FROM_TWIN, "lr_scale": {"backbone": 0.1},
        "epochs": {"joint": 20, "refine": 10}}})
    return out


TWIN = "twin"  # the black-box twin: trained with --black-box, no override
SEEDED_FROM_TWIN = "@twin"  # replaced by the sweep's twin run folder; such variants run after it


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(results: dict) -> str:
    branches = next((v["faithfulness"] for v in results["variants"].values()
                     if v["faithfulness"]), {})  # {}: only the twin was run
    head = "| variant | test macro AUROC (95% CI) | " + " | ".join(
        f"{b}: val AUROC before → after, median cosine" for b in branches) + " | train |"
    rows = [head, "|" + "---|" * (len(branches) + 3)]
    for name, v in results["variants"].items():
        low, high = v["test"]["macro_auroc_ci"]
        cells = [f"{fmt(f['val_auroc_before'])} → {fmt(f['val_auroc_after'])}, "
                 f"{f['cosine_median']:.2f}" for f in v["faithfulness"].values()] \
            or ["(no prototypes)"] * len(branches)
        rows.append(f"| {name} | {v['test']['macro_auroc']:.3f} ({low:.3f}–{high:.3f}) | "
                    + " | ".join(cells) + f" | {v['train_s'] / 60:.1f} min |")
    return "\n".join(rows)


def train_variant(name: str, override: dict, args: argparse.Namespace, runs: Path) -> float:
    """Train one variant as its own ``protoecg train`` process; returns the wall time."""
    config = runs / f"{name}.toml"
    config.write_text(toml(override))
    cmd = ["train", "--dataset", args.dataset, "--root", args.root, "--preset", args.preset,
           "--config", str(config), "--out", str(runs / name), "--device", args.device,
           "--quiet", *(["--black-box"] if name == TWIN else [])]
    return timed_process(cmd, log=runs / f"{name}.log")


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
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="variants trained at once, each its own process (default 1)")
    args = parser.parse_args()
    runs = Path(args.runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.device == "cpu" else f"_{args.device.split(':')[0]}"
    out_file = RESULTS / f"ablation_{args.preset}{suffix}.json"
    results = json.loads(out_file.read_text()) if out_file.is_file() else {}
    defined = variants(args.features_epochs)
    results.update({"dataset": args.dataset, "preset": args.preset, "device": args.device,
                    "threads": args.threads, "jobs": args.jobs, "variants_defined": defined})
    results.setdefault("variants", {})
    chosen = {name: merge(override, {"train": {"threads": args.threads}})
              for name, override in defined.items() if not args.only or name in args.only}
    if args.preset in SWEEP_PATIENCE:
        chosen = {name: merge({"train": {"patience": SWEEP_PATIENCE[args.preset]}}, override)
                  for name, override in chosen.items()}
    seeded = {n for n, o in chosen.items()
              if o.get("train", {}).get("backbones_from") == SEEDED_FROM_TWIN}
    if seeded and not (TWIN in chosen or (runs / TWIN / "model.pt").is_file()):
        raise SystemExit(f"{', '.join(sorted(seeded))} start from the twin: add {TWIN} to --only")
    for name in seeded:
        chosen[name] = merge(chosen[name], {"train": {"backbones_from": str(runs / TWIN)}})
    train_s: dict[str, float] = {}

    def train(name: str) -> None:
        if args.reuse and (runs / name / "model.pt").is_file():
            train_s[name] = results["variants"].get(name, {}).get("train_s") or sum(
                json.loads(line).get("seconds", 0)
                for line in (runs / name / "metrics.jsonl").read_text().splitlines())
        else:
            train_s[name] = train_variant(name, chosen[name], args, runs)
        print(f"trained {name} in {train_s[name] / 60:.1f} min", flush=True)

    # the twin-seeded variants need the twin's weights, so they wait for the first wave
    for wave in ([n for n in chosen if n not in seeded], sorted(seeded)):
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            list(pool.map(train, wave))
    for name in chosen:
        out = runs / name
        run(["evaluate", "--run", str(out), "--device", args.device])  # RUN/evaluation.json
        test = json.loads((out / "evaluation.json").read_text())
        results["variants"][name] = {
            "run": str(out), "override": chosen[name], "train_s": round(train_s[name], 1),
            "faithfulness": test.get("faithfulness") or {},
            # a refine stage's kept push replaced the projection stage's windows: both shown
            **{k: test[k] for k in ("faithfulness_at", "faithfulness_first_projection")
               if k in test},
            "test": {k: test[k] for k in ("macro_auroc", "macro_auroc_ci", "n_records",
                                          "n_labels_evaluated")},
            "per_branch": {b: v.get("macro_auroc") for b, v in test["per_branch"].items()},
        }
        out_file.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    sys.exit(main())
