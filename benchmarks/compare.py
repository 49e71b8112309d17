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
replacing it. ``--seed`` takes several seeds (``--seed 1 2 3 4 5``; ``--jobs 2`` trains two
seeds at once, ``--threads 1`` each); afterwards, and with ``--summary`` alone, every seed of
the preset found in benchmarks/results (``compare_<preset>.json`` and
``compare_<preset>_seed*.json``) is summarised in ``compare_<preset>_seeds.json``: per seed,
and the mean over seeds of each model's test macro AUROC and of the difference, with a 95%
t-interval over seeds, per branch too. ``--name X --config X.toml`` puts another set-up of the
preset in ``compare_X*.json`` and its own run folders; ``--init-from-twin`` trains the twin
first and starts ProtoECGNet's branch backbones from it (issue 11's suggestion). On a 20-ECG
test fold (LUDB) one seed cannot tell two models apart; the mean over seeds can.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))
from _runs import timed_process, toml  # noqa: E402  (benchmarks/_runs.py)

from protoecg.train.comparison import compare_runs  # noqa: E402
from protoecg.train.config import load_config  # noqa: E402
from protoecg.train.early_stopping import projection_drops  # noqa: E402
from protoecg.train.evaluation import evaluate_scores  # noqa: E402


def fmt(part: dict) -> str:
    if part.get("macro_auroc") is None:
        return "-"
    low, high = part["macro_auroc_ci"]
    return f"{part['macro_auroc']:.3f} ({low:.3f}-{high:.3f})"


def seed_config(args: argparse.Namespace, runs: Path, seed: int | None) -> str | None:
    """The override file both models of one seed train with: ``--config``, plus the seed and
    ``--threads`` where given (written beside the runs)."""
    if seed is None and args.threads is None:
        return args.config
    try:
        override = tomllib.loads(Path(args.config).read_text()) if args.config else {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"--config {args.config}: {error}") from None
    train = override.setdefault("train", {})
    if seed is not None:
        train["seed"] = seed
    if args.threads is not None:
        train["threads"] = args.threads
    runs.mkdir(parents=True, exist_ok=True)
    name = f"{args.name}_seed{seed}" if seed is not None else args.name
    config = runs / f"{name}.toml"
    config.write_text(toml(override))
    return str(config)


def compare_seed(args: argparse.Namespace, seed: int | None, config: str | None) -> dict:
    """Train, project and evaluate both models with one seed and its override file
    (``seed_config``); writes and returns the results."""
    runs = Path(args.runs)
    suffix = "" if seed is None else f"_seed{seed}"
    results: dict = {"dataset": args.dataset, "preset": args.preset, "name": args.name,
                     "config": args.config, "init_from_twin": args.init_from_twin,
                     "seed": seed, "threads": args.threads, "models": {}}
    results["train_seed"] = load_config(args.preset, config).train.seed
    extra_config = ["--config", config] if config else []
    twin = runs / f"{args.name}{suffix}_black_box"
    order = [("protoecgnet", []), ("black_box", ["--black-box"])]
    if args.init_from_twin:  # the twin first: ProtoECGNet's backbones start from its weights
        order = [order[1], ("protoecgnet", ["--init", str(twin)])]
    for kind, extra in order:
        out = runs / f"{args.name}{suffix}_{kind}"
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
    # ProtoECGNet minus the twin on the same resamples
    results["difference"] = compare_runs(results["models"]["black_box"]["run"],
                                         results["models"]["protoecgnet"]["run"])
    out_file = Path(args.results) / f"compare_{args.name}{suffix}.json"
    out_file.write_text(json.dumps(results, indent=2) + "\n")
    return results


def print_table(args: argparse.Namespace, results: dict) -> None:
    proto, black = results["models"]["protoecgnet"], results["models"]["black_box"]
    e_p, e_b = proto["evaluation"], black["evaluation"]
    diff = results["difference"]
    print(f"\n{args.dataset}, preset {args.preset}, seed {results['train_seed']}, fold 10 "
          f"({e_p['n_records']} ECGs, {e_p['n_labels_evaluated']} labels)\n")
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


def mean_over_seeds(values: list[float], level: float = 0.95,
                    bounds: tuple[float, float] = (-1.0, 1.0)) -> dict:
    """Mean, standard deviation and the t-interval of the mean over seeds (None where fewer
    than two seeds give the figure), the interval cut to ``bounds`` (an AUROC or a difference
    of two cannot leave [-1, 1]; pass (0, 1) for an AUROC)."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    out = {"mean": float(x.mean()) if len(x) else None, "n_seeds": int(len(x)),
           "sd": None, "ci": None}
    if len(x) >= 2:
        sd = float(x.std(ddof=1))
        half = float(stats.t.ppf((1 + level) / 2, len(x) - 1)) * sd / np.sqrt(len(x))
        out.update(sd=sd, ci=[max(bounds[0], out["mean"] - half),
                              min(bounds[1], out["mean"] + half)])
    return out


# what each summarised figure can range over
BOUNDS = {"protoecgnet": (0.0, 1.0), "black_box": (0.0, 1.0), "delta": (-1.0, 1.0)}


def summarise_seeds(per_seed: list[dict]) -> dict:
    """Compare results of several seeds (as ``compare_seed`` writes them) -> per seed and the
    mean over seeds of each model's test macro AUROC and of the paired difference, overall and
    per branch, and ProtoECGNet's worst projection drop and lowest median cosine per seed."""
    if not per_seed:
        raise ValueError("no compare results to summarise")
    rows = {}
    for results in per_seed:
        e_p = results["models"]["protoecgnet"]["evaluation"]
        e_b = results["models"]["black_box"]["evaluation"]
        diff = results["difference"]
        faith = e_p.get("faithfulness") or {}
        drops = projection_drops(faith)
        rows[str(train_seed(results))] = {
            "protoecgnet": e_p["macro_auroc"], "black_box": e_b["macro_auroc"],
            "delta": diff["delta"], "delta_ci": diff["delta_ci"],
            "per_branch": {b: {"protoecgnet": d["after"], "black_box": d["before"],
                               "delta": d["delta"]} for b, d in diff["per_branch"].items()},
            "projection_drop_max": max(drops) if drops else None,
            "cosine_median_min": min((f["cosine_median"] for f in faith.values()),
                                     default=None),
            "wall_s": {kind: round(sum(m["timings"].values()), 1)
                       for kind, m in results["models"].items()},
        }
    branches = list(dict.fromkeys(b for r in rows.values() for b in r["per_branch"]))
    return {
        "seeds": list(rows), "per_seed": rows,
        "mean": {key: mean_over_seeds([r[key] for r in rows.values()], bounds=BOUNDS[key])
                 for key in BOUNDS},
        "per_branch": {b: {key: mean_over_seeds([r["per_branch"][b][key] for r in rows.values()
                                                 if b in r["per_branch"]], bounds=BOUNDS[key])
                           for key in BOUNDS}
                       for b in branches},
    }


def train_seed(results: dict) -> int:
    """The seed both models of a compare result trained with (results written before
    ``train_seed`` was recorded: ``--seed``, else the preset's, as no ``--config`` set one)."""
    if results.get("train_seed") is not None:
        return results["train_seed"]
    if results.get("seed") is not None:
        return results["seed"]
    return load_config(results["preset"], results.get("config")).train.seed


def seed_files(preset: str, results_dir: Path = RESULTS) -> list[Path]:
    """Every seed's compare results of ``preset``: the preset's own seed, then ``--seed`` runs."""
    files = [results_dir / f"compare_{preset}.json"]
    files += sorted(results_dir.glob(f"compare_{preset}_seed[0-9]*.json"),
                    key=lambda p: int(p.stem.rsplit("_seed", 1)[1]))
    return [f for f in files if f.is_file()]


def print_summary(summary: dict) -> None:
    print(f"\nmean over {len(summary['seeds'])} seeds ({', '.join(summary['seeds'])}); "
          "95% t-interval over seeds\n")
    print("| | ProtoECGNet | black-box twin | difference |\n|---|---|---|---|")
    for name, part in [("macro AUROC", summary["mean"])] + [
            (f"{b} labels", p) for b, p in summary["per_branch"].items()]:
        print(f"| {name} | {seed_mean(part['protoecgnet'])} | {seed_mean(part['black_box'])} "
              f"| {seed_mean(part['delta'], signed=True)} |")


def _pick(branch: str | None):
    return (lambda r: r["per_branch"][branch]) if branch else (lambda r: r["macro_auroc"])


def figure_over_seeds(per_seed: dict, kind: str, branch: str | None = None) -> dict:
    """Mean over seeds of one model's (``kind``'s) test macro AUROC, or of one branch's, in
    per-seed rows of ``{kind: {"macro_auroc": ..., "per_branch": {...}}}``."""
    pick = _pick(branch)
    return mean_over_seeds([pick(r[kind]) for r in per_seed.values()], bounds=(0.0, 1.0))


def difference_over_seeds(per_seed: dict, a: str, b: str, branch: str | None = None) -> dict:
    """Mean over seeds of ``a``'s figure minus ``b``'s, seeds where either is undefined left
    out."""
    pick = _pick(branch)
    return mean_over_seeds([None if pick(r[a]) is None or pick(r[b]) is None
                            else pick(r[a]) - pick(r[b]) for r in per_seed.values()])


def seed_table_rows(summary: dict, columns: list[tuple[str, bool]]) -> list[str]:
    """Markdown rows, the macro AUROC and then each branch's labels, of the figures
    ``columns`` name in a summary's ``mean`` and ``per_branch`` (each (key, signed))."""
    parts = [("macro AUROC", summary["mean"])] + [
        (f"{b} labels", part) for b, part in summary["per_branch"].items()]
    return ["| " + " | ".join([name] + [seed_mean(part[key], signed) for key, signed in columns])
            + " |" for name, part in parts]


def fold_scores(y: np.ndarray, scores: np.ndarray, labels: list[str]) -> dict:
    """Test-fold macro AUROC with its CI and per branch, as the seed summaries keep them."""
    result = evaluate_scores(y, scores, labels)
    return {"macro_auroc": result["macro_auroc"], "macro_auroc_ci": result["macro_auroc_ci"],
            "per_branch": {b: v["macro_auroc"] for b, v in result["per_branch"].items()},
            "n_records": int(len(y))}


def seed_mean(part: dict, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if part["mean"] is None:
        return "-"
    if part["ci"] is None:
        return f"{part['mean']:{sign}.3f}"
    low, high = part["ci"]
    return f"{part['mean']:{sign}.3f} ({low:{sign}.3f} to {high:{sign}.3f})"


def num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def delta(part: dict) -> str:
    low, high = part["delta_ci"]
    return f"{part['delta']:+.3f} ({low:+.3f} to {high:+.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--runs", default=str(REPO / "runs"), help="where the run folders go")
    parser.add_argument("--keep", action="store_true", help="reuse finished runs")
    parser.add_argument("--config", help="TOML overriding the preset, for both models "
                        "(e.g. [train] threads = 1 to train the two side by side)")
    parser.add_argument("--seed", type=int, nargs="+", help="train.seed for both models "
                        "(default: the preset's); the figures go to "
                        "compare_<preset>_seed<N>.json, one file per seed")
    parser.add_argument("--jobs", type=int, default=1,
                        help="seeds trained at once, each its own processes (default 1)")
    parser.add_argument("--threads", type=int, help="train.threads for every run")
    parser.add_argument("--name", help="names the run folders and result files instead of "
                        "the preset (a set-up given by --config beside the preset's own)")
    parser.add_argument("--init-from-twin", action="store_true",
                        help="train the twin first and start ProtoECGNet's branch backbones "
                        "from its weights (protoecg train --init TWIN_RUN)")
    parser.add_argument("--results", default=str(RESULTS),
                        help="folder of the result files (default benchmarks/results)")
    parser.add_argument("--summary", action="store_true",
                        help="only summarise the seeds already in --results")
    args = parser.parse_args()
    args.name = args.name or args.preset
    if not args.summary:
        # every seed's override written first: a bad --config stops here, before anything trains
        configs = {seed: seed_config(args, Path(args.runs), seed)
                   for seed in args.seed or [None]}
        try:  # made before training, so a results folder that cannot be made stops nothing late
            Path(args.results).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SystemExit(f"--results {args.results}: cannot make the folder "
                             f"({exc.strerror})") from None
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for results in pool.map(lambda s: compare_seed(args, s, configs[s]), configs):
                print_table(args, results)
    files = seed_files(args.name, Path(args.results))
    if args.summary and not files:
        raise SystemExit(f"--summary: no compare_{args.name}.json or compare_{args.name}_seed<N>"
                         f".json in {args.results}")
    if args.summary or len(files) > 1:
        summary = summarise_seeds([json.loads(f.read_text()) for f in files])
        summary.update(dataset=args.dataset, preset=args.preset, name=args.name,
                       files=[f.name for f in files])
        (Path(args.results) / f"compare_{args.name}_seeds.json").write_text(
            json.dumps(summary, indent=2) + "\n")
        print_summary(summary)


if __name__ == "__main__":
    main()
