"""The picture of three ECGs with their time-localized cluster bands in
docs/results/clusters.md: for each record, lead II over the whole record and under it one band
per branch (rhythm, morphology, global) from the run's saved clusters, coloured by the wave each
step's cluster mostly covers (a shade per cluster) and faint where the assignment is uncertain.

    .venv/bin/python docs/clusters_figure.py --run RUN --records 119 96 104 \\
        --out docs/results/clusters/three_ecgs.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run folder with RUN/clusters/")
    parser.add_argument("--records", nargs="+", required=True, help="record ids")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args()
    import vl_convert

    from protoecg.clusters.bands import record_bands
    from protoecg.data.preprocess import highpass
    from protoecg.ecgplot import rhythm_strip_chart
    from protoecg.train.run import load_model, open_run_data

    _, meta, config = load_model(args.run)
    charts = []
    for record in args.records:
        data = open_run_data(meta, config, record_id=record)
        raw = data.dataset
        signal = np.asarray(raw.signals[0], dtype=np.float64)[None]
        if config.data.highpass_hz:
            signal = highpass(signal, raw.fs, config.data.highpass_hz)
        labels = " ".join(c for c, y in zip(meta["label_names"], data.labels[0], strict=True)
                          if y)
        chart = rhythm_strip_chart(signal[0], raw.fs, raw.units,
                                   bands=record_bands(args.run, record),
                                   title=f"record {record}: {labels}")
        charts.append({k: v for k, v in chart.items() if k != "$schema"})
    spec = {"$schema": charts[0].get("$schema", "https://vega.github.io/schema/vega-lite/v6.json"),
            "vconcat": [{k: v for k, v in c.items() if k != "config"} for c in charts],
            "config": charts[0]["config"]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(vl_convert.vegalite_to_png(spec, scale=1.0))
    print(args.out)


if __name__ == "__main__":
    main()
