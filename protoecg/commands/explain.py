"""``protoecg explain``: why the model predicts what it predicts for one ECG."""

from __future__ import annotations

import argparse
import json

from protoecg.commands._options import add_device, at_least, probability
from protoecg.explain.explanation import write_explanation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run folder made by `protoecg train`")
    parser.add_argument("--record", required=True, help="record id in the run's dataset")
    parser.add_argument("--threshold", type=probability, default=0.5,
                        help="probability above which a label counts as predicted")
    parser.add_argument("--top", type=at_least(1), default=3,
                        help="prototypes per label (default 3)")
    parser.add_argument("--out", help="folder for <record>.json and <record>.png "
                        "(default RUN/explanations)")
    parser.add_argument("--no-clusters", action="store_true",
                        help="leave out the band of time-localized clusters under the picture "
                             "(drawn where `protoecg clusters` has run)")
    add_device(parser)
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")


def run(args: argparse.Namespace) -> int:
    from protoecg.clusters.bands import record_bands  # noqa: PLC0415

    # the run's time-localized clusters of this record, where `protoecg clusters` made them
    bands = () if args.no_clusters else record_bands(args.run, args.record)
    explanation, json_path, png_path = write_explanation(
        args.run, args.record, args.out, bands=bands, threshold=args.threshold,
        top_prototypes=args.top, device=args.device)
    if args.json:
        print(json.dumps(explanation))
        return 0
    print(f"record {explanation['record_id']} (true: {' '.join(explanation['true_labels'])})")
    for p in explanation["predictions"]:
        flag = "" if p["above_threshold"] else "  (below threshold)"
        print(f"  {p['label']:<8} p={p['probability']:.2f}  {p['description']}{flag}")
        for q in p["prototypes"]:
            print(f"      {q['prototype_id']:<28} similarity {q['similarity']:+.3f} x weight "
                  f"{q['weight']:+.3f} = {q['contribution']:+.3f}  at "
                  f"{q['window_start_s']:.2f}-{q['window_end_s']:.2f} s")
    if bands:
        print(f"  under the picture: the time-localized clusters of {len(bands)} branches")
    print(f"wrote {json_path} and {png_path}")
    return 0
