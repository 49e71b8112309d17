"""``protoecg clusters``: time-localized clusters of a trained run (``protoecg.clusters``)."""

from __future__ import annotations

import argparse
import json

from protoecg.commands._options import add_device, at_least
from protoecg.errors import ProtoECGError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="trained ProtoECGNet run folder")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the ECGs fitted on and of the mixture (default 0)")
    parser.add_argument("--min-clusters", type=at_least(1), default=2,
                        help="fewest clusters per branch tried (default 2)")
    parser.add_argument("--max-clusters", type=at_least(1), default=20,
                        help="most clusters per branch tried, every second number from the "
                             "fewest and this one; the number with the lowest BIC is kept "
                             "(default 20)")
    parser.add_argument("--record", metavar="ID", default=None,
                        help="segment one record of the run's dataset with the clusters "
                             "already fitted and print its cluster sequence (writes nothing)")
    add_device(parser)
    parser.add_argument("--json", action="store_true", help="print clusters.json to stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _record(args: argparse.Namespace) -> int:
    from protoecg.clusters.files import read_summary  # noqa: PLC0415
    from protoecg.clusters.runner import segment_record  # noqa: PLC0415 (torch)

    summary = read_summary(args.run)
    segmented = segment_record(args.run, args.record, device=args.device)
    step = summary["step_ms"]
    print(f"record {args.record}: one symbol per {step:.0f} ms step; a cluster's letter is its "
          "main wave (p, q = QRS, t, r = rest), its number the cluster; ? where uncertain "
          "(entropy over half its maximum)")
    for name in [b for b in summary["branches"] if b in segmented]:  # the model's order
        seg = segmented[name]
        legend = summary["branches"][name]["legend"]
        top = 0.5 * summary["branches"][name]["max_entropy"]
        marks = []
        for k, h in zip(seg["sequence"].tolist(), seg["entropy"].tolist(), strict=True):
            wave = (legend[k]["wave"] or "r")[0].lower()
            marks.append("?" if h > top else f"{wave}{k}")
        print(f"  {name:>10}: {' '.join(marks)}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.min_clusters > args.max_clusters:
        raise ProtoECGError(f"--min-clusters {args.min_clusters} is larger than "
                            f"--max-clusters {args.max_clusters}")
    if args.record is not None:
        return _record(args)
    from protoecg.clusters.runner import cluster_run  # noqa: PLC0415 (imports torch)

    quiet = args.quiet or args.json
    summary = cluster_run(args.run, device=args.device, seed=args.seed,
                          k_range=(args.min_clusters, args.max_clusters),
                          log=(lambda _: None) if quiet else print)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for line in summary_lines(summary):
        print(line)
    return 0


def summary_lines(summary: dict) -> list[str]:
    d = summary["delineation"]
    source = ("the experts' delineation" if d["alignment_uses"] == "expert"
              else "the fallback delineation (detected QRS, interval template)")
    lines = [f"clusters of {summary['run']} ({summary['n_steps']} steps of "
             f"{summary['step_ms']:.0f} ms per ECG; waves from {source} of "
             f"{d[d['alignment_uses']]} ECGs)"]
    for name, b in summary["branches"].items():
        a = b["alignment"]
        best = ", ".join(f"{w} cluster {v['cluster']} {100 * v['share']:.0f}% on it"
                         for w, v in a["best"].items())
        bound = ", the most tried" if b.get("at_upper_bound") else ""
        lines.append(f"  {name}: {b['n_clusters']} clusters (lowest BIC{bound}), AMI with the "
                     f"waves {a['ami']:.3f}; {best}; mean entropy {b['mean_entropy']:.2f} of "
                     f"{b['max_entropy']:.2f} nats")
    s = summary["surrogate"]
    kappa = "undefined" if s["kappa"] is None else f"{s['kappa']:.3f}"
    lines.append(f"  surrogate (random forest on cluster proportions, test fold): agrees with "
                 f"the model's decisions on {100 * s['agreement']:.1f}% of {s['n_pairs']} "
                 f"ECG x label pairs (always the majority decision: "
                 f"{100 * s['majority_agreement']:.1f}%), kappa {kappa}; macro AUROC "
                 f"{_f(s['surrogate_auroc'])} against the model's {_f(s['model_auroc'])} "
                 f"({s['n_labels_scored']} labels; difference 95% CI "
                 f"{_interval(s.get('auroc_difference_ci'))})")
    if any(b.get("at_upper_bound") for b in summary["branches"].values()):
        lines.append("  BIC was still falling at the most clusters tried (--max-clusters): "
                     "more clusters fit the activations better, each one less readable")
    lines.append(f"written to {summary['run']}/clusters/")
    return lines


def _interval(ci) -> str:
    return "n/a" if not ci else f"{ci[0]:+.3f} to {ci[1]:+.3f}"


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
