"""Prototype quality and accuracy side by side, per set-up and seed (issue 29's ablation).

Each set-up is a config override of one preset (``NAME=FILE``; ``NAME=`` for the preset as it
is). For every set-up and seed it trains ProtoECGNet as its own process (``protoecg train``),
writes the catalog (``protoecg project``) and evaluates on fold 10 (``protoecg evaluate``),
then reads what a clinician would meet: per branch the latent health (similarity spread,
latent dimensions that vary), distinct windows, duplicates in a class, windows shared across
classes, edge windows, the share of time-local windows centred on their class's wave (LUDB's
expert delineation where the data folder has it), purity beside prevalence and usage, next to
the test macro AUROC and the branch classifiers' AUROC. The black-box twin's test AUROC of
the same seed is read from ``compare_<preset>_seed<N>.json`` where ``compare.py`` stored it
(the twin's code does not change with these set-ups), so each row also shows its distance
from the twin.

    .venv/bin/python benchmarks/prototype_quality.py --dataset ptbxl \\
        --root data/demo/ludb-ptbxl-layout --preset demo --seed 42 1 2 \\
        --setup official= --setup linear=benchmarks/configs/q_linear.toml ...

Writes ``benchmarks/results/prototype_quality_<preset>.json`` and prints the Markdown table.
``--keep`` reuses finished runs (``RUNS/<setup>_seed<N>`` with ``evaluation.json`` and a
catalog).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))
from _runs import timed_process, toml  # noqa: E402  (benchmarks/_runs.py)

BRANCH_FIGURES = ("spread_median", "share_varying", "distinct_windows", "n_active",
                  "duplicates", "shared_across_classes", "shared_across_branches",
                  "edge_windows", "wave_centred",
                  "wave_windows", "wave_expert_windows", "purity_mean", "prevalence_mean",
                  "usage", "degenerate")


def parse_setup(text: str) -> tuple[str, str | None]:
    name, _, path = text.partition("=")
    if not name:
        raise SystemExit(f"--setup {text!r}: expected NAME=FILE (or NAME= for the preset)")
    return name, path or None


def override_file(runs: Path, name: str, path: str | None, seed: int) -> Path:
    """The set-up's override with ``train.seed`` set, written beside the runs."""
    try:
        table = tomllib.loads(Path(path).read_text()) if path else {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"--setup {name}={path}: {error}") from None
    table.setdefault("train", {})["seed"] = seed
    out = runs / f"{name}_seed{seed}.toml"
    out.write_text(toml(table))
    return out


def run_one(args, name: str, path: str | None, seed: int) -> dict:
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    out = runs / f"{name}_seed{seed}"
    timings = {}
    finished = (out / "evaluation.json").is_file() and (out / "catalog" / "catalog.json").is_file()
    if not (args.keep and finished):
        subprocess.run(["rm", "-rf", str(out)], check=True)
        config = override_file(runs, name, path, seed)
        timings["train_s"] = timed_process(["train", "--dataset", args.dataset, "--root",
                                            args.root, "--preset", args.preset, "--config",
                                            str(config), "--out", str(out), "--quiet"])
        timings["project_s"] = timed_process(["project", "--run", str(out)])
        timings["evaluate_s"] = timed_process(["evaluate", "--run", str(out)])
    evaluation = json.loads((out / "evaluation.json").read_text())
    catalog = json.loads((out / "catalog" / "catalog.json").read_text())
    twin = twin_auroc(args.preset, seed)
    heads = branch_heads_auroc(args.preset, seed)
    quality = catalog.get("prototype_quality", {})
    return {
        "setup": name, "config": path, "seed": seed, "run": str(out), "timings": timings,
        "test_macro_auroc": evaluation["macro_auroc"],
        "per_branch_auroc": {b: v["macro_auroc"] for b, v in evaluation["per_branch"].items()},
        "branch_classifiers_auroc": evaluation.get("branch_classifiers", {}).get("macro_auroc"),
        "twin_macro_auroc": twin,
        "difference_from_twin": None if twin is None else evaluation["macro_auroc"] - twin,
        "branch_heads_macro_auroc": heads,
        "difference_from_branch_heads": (None if heads is None
                                         else evaluation["macro_auroc"] - heads),
        "quality": {b: {k: q.get(k) for k in BRANCH_FIGURES} for b, q in quality.items()},
    }


def twin_auroc(preset: str, seed: int) -> float | None:
    """The twin's test macro AUROC for ``seed`` as ``compare.py`` stored it (its unnamed file
    holds the preset's own seed)."""
    for path in (RESULTS / f"compare_{preset}_seed{seed}.json", RESULTS / f"compare_{preset}.json"):
        if path.is_file():
            stored = json.loads(path.read_text())
            if stored.get("train_seed", seed) == seed:
                return stored["models"]["black_box"]["evaluation"]["macro_auroc"]
    return None


def branch_heads_auroc(preset: str, seed: int) -> float | None:
    """ProtoECGNet's own branch heads (its backbones as plain classifiers, no prototypes) on the
    test fold for ``seed``, as ``branch_heads.py`` stored them (these set-ups do not change
    them: the feature stage reads no add-on, prototype or projection)."""
    path = RESULTS / f"branch_heads_{preset}.json"
    if not path.is_file():
        return None
    found = json.loads(path.read_text())["per_seed"].get(str(seed))
    return None if found is None else found["branch_heads"]["macro_auroc"]


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summarise(rows: list[dict]) -> dict:
    """Per set-up: the mean over seeds of every figure."""
    out = {}
    for name in dict.fromkeys(r["setup"] for r in rows):
        mine = [r for r in rows if r["setup"] == name]
        branches = sorted({b for r in mine for b in r["quality"]})
        out[name] = {
            "seeds": [r["seed"] for r in mine],
            **{key: mean(r[key] for r in mine) for key in (
                "test_macro_auroc", "branch_classifiers_auroc", "twin_macro_auroc",
                "difference_from_twin", "branch_heads_macro_auroc",
                "difference_from_branch_heads")},
            "quality": {b: {k: mean(float(r["quality"][b][k]) for r in mine
                                    if r["quality"].get(b, {}).get(k) is not None)
                            for k in BRANCH_FIGURES} for b in branches},
        }
    return out


def _f(value, digits=2, percent=False) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if percent else f"{value:.{digits}f}"


def table(summary: dict) -> str:
    lines = ["| set-up | seeds | test AUROC | from branch heads | from twin | morphology spread "
             "| distinct / prototypes | duplicates in a class | across classes | edge windows "
             "| on the class's wave | purity (prevalence) | morphology used | rhythm dup. / used "
             "| global dup. / used |",
             "|" + "---|" * 15]
    for name, s in summary.items():
        m = s["quality"].get("morphology", {})
        r = s["quality"].get("rhythm", {})
        g = s["quality"].get("global", {})
        lines.append(
            f"| {name} | {' '.join(map(str, s['seeds']))} | {_f(s['test_macro_auroc'], 3)} "
            f"| {_f(s['difference_from_branch_heads'], 3)} "
            f"| {_f(s['difference_from_twin'], 3)} "
            f"| {_f(m.get('spread_median'))} | {_f(m.get('distinct_windows'), 1)} / "
            f"{_f(m.get('n_active'), 0)} | {_f(m.get('duplicates'), 1)} "
            f"| {_f(m.get('shared_across_classes'), 1)} | {_f(m.get('edge_windows'), 1)} "
            f"| {_f(m.get('wave_centred'), percent=True)} "
            f"| {_f(m.get('purity_mean'))} ({_f(m.get('prevalence_mean'))}) "
            f"| {_f(m.get('usage'), percent=True)} "
            f"| {_f(r.get('duplicates'), 1)} / {_f(r.get('usage'), percent=True)} "
            f"| {_f(g.get('duplicates'), 1)} / {_f(g.get('usage'), percent=True)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--setup", action="append", required=True, type=parse_setup,
                        help="NAME=FILE: a config override of the preset (NAME= : the preset)")
    parser.add_argument("--seed", type=int, nargs="+", default=[42])
    parser.add_argument("--runs", default=str(REPO / "runs" / "quality"))
    parser.add_argument("--keep", action="store_true", help="reuse finished runs")
    parser.add_argument("--only-finished", action="store_true",
                        help="with --keep: summarise the finished runs and train nothing")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    pairs = [(name, path, seed) for name, path in args.setup for seed in args.seed]
    if args.only_finished:
        pairs = [(n, p, s) for n, p, s in pairs
                 if (Path(args.runs) / f"{n}_seed{s}" / "evaluation.json").is_file()]
    rows = [run_one(args, name, path, seed) for name, path, seed in pairs]
    summary = summarise(rows)
    out = Path(args.results) / f"prototype_quality_{args.preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dataset": args.dataset, "preset": args.preset,
                               "command": ["benchmarks/prototype_quality.py", *sys.argv[1:]],
                               "per_run": rows, "summary": summary}, indent=2) + "\n")
    print(table(summary))
    print(f"\n-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
