"""``protoecg clusters``: fit each branch's time-localized clusters over the training ECGs,
segment every ECG of the run's dataset, and measure what the clusters mean (alignment with
the waves) and how much of the model's decisions they carry (the surrogate).

``clusters.json`` (format 1): ``run``, ``model_sha256``, ``seed``, ``k_range``, ``n_steps``
and ``step_ms`` (the time axis), ``n_fit_ecgs``; ``delineation`` (how many ECGs have the
experts' delineation and how many the fallback, and which the alignment used);
``branches.<name>``: ``n_clusters``, ``bic`` (K -> BIC), ``at_upper_bound`` (the largest K
tried had the lowest BIC), ``legend`` (per cluster its main wave
and that share), ``alignment`` (``alignment.alignment``), ``mean_entropy`` and
``entropy_by_wave`` (nats); ``surrogate`` (``surrogate.surrogate``, on the test fold)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from protoecg.catalog.reader import catalog_dir, has_catalog, read_catalog
from protoecg.clusters.activations import StageError, _stages, stage_activations
from protoecg.clusters.alignment import UNKNOWN, WAVES, alignment, step_waves
from protoecg.clusters.files import read_clusters, write_clusters
from protoecg.clusters.mixture import (
    K_RANGE,
    MAX_FIT_STEPS,
    entropy,
    fit_clustering,
    proportions,
)
from protoecg.clusters.surrogate import surrogate
from protoecg.data.delineation import (
    fallback_delineation,
    has_expert_delineation,
    ludb_delineation,
)
from protoecg.errors import DataError
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.health import decision_thresholds
from protoecg.train.predict import predict
from protoecg.train.run import RunError, load_model, model_sha256, open_run_data
from protoecg.train.runtime import resolve_device

CLUSTERS_FORMAT = 1
CHUNK = 256  # ECGs per forward pass when segmenting


def _clusterable(run_dir: Path, device) -> tuple:
    """(model, meta, config) of a run whose branches have the stages the clusters read."""
    model, meta, config = load_model(run_dir, device)
    if not isinstance(model, ProtoECGNet):
        raise RunError(f"{run_dir}: a black-box run has no prototype branches to cluster")
    for name, branch in model.branches.items():
        try:
            _stages(branch)
        except StageError as exc:
            raise RunError(f"{run_dir}: the {name} branch: {exc}") from None
    return model, meta, config


def _segment(model, clusterings: dict, signals: np.ndarray, device, amp: bool
             ) -> tuple[dict, dict, dict]:
    """Per branch (N, T) sequences, (N, T) entropies and (N, K) proportions."""
    seqs, ents, props = {}, {}, {}
    for start in range(0, len(signals), CHUNK):
        acts = stage_activations(model, signals[start:start + CHUNK], device=device, amp=amp)
        for name, clustering in clusterings.items():
            post = clustering.posteriors(acts[name])
            seqs.setdefault(name, []).append(post.argmax(axis=-1).astype(np.int8))
            ents.setdefault(name, []).append(entropy(post).astype(np.float32))
            props.setdefault(name, []).append(proportions(post))
    return ({n: np.concatenate(v) for n, v in seqs.items()},
            {n: np.concatenate(v) for n, v in ents.items()},
            {n: np.concatenate(v) for n, v in props.items()})


def _waves(dataset, root, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, T) each step's wave and (N,) whether it came from the experts' delineation."""
    waves = np.full((len(dataset), n_steps), UNKNOWN, dtype=np.int8)
    expert = np.zeros(len(dataset), dtype=bool)
    for i, record_id in enumerate(dataset.record_ids):
        if has_expert_delineation(root, record_id):
            delineation, expert[i] = ludb_delineation(root, record_id), True
        else:
            delineation = fallback_delineation(np.asarray(dataset.signals[i]), dataset.fs)
        waves[i] = step_waves(delineation, dataset.n_samples, dataset.fs, n_steps)
    return waves, expert


def _prototype_clusters(run_dir: Path, dataset, sequences: dict, summary: dict
                        ) -> pd.DataFrame:
    """The cluster each time-local prototype window mostly falls in (its share of the window's
    steps, and that cluster's main wave)."""
    columns = ["prototype_id", "branch", "cluster", "cluster_share", "cluster_wave"]
    if not has_catalog(run_dir):
        return pd.DataFrame(columns=columns)
    table = read_catalog(catalog_dir(run_dir)).prototypes
    rows = []
    n = dataset.n_samples
    for p in table.itertuples():
        if p.branch not in sequences or p.window_end - p.window_start >= n:
            continue  # a whole-record prototype covers every cluster
        try:
            index = dataset.index_of(str(p.source_record_id))
        except DataError:  # a catalog of other data: nothing to say
            continue
        seq = sequences[p.branch][index]
        steps = len(seq)
        lo = int(math.floor(p.window_start * steps / n))
        hi = max(lo + 1, int(math.ceil(p.window_end * steps / n)))
        counts = np.bincount(seq[lo:hi], minlength=summary["branches"][p.branch]["n_clusters"])
        k = int(counts.argmax())
        legend = summary["branches"][p.branch]["legend"][k]
        rows.append((p.prototype_id, p.branch, k, float(counts[k] / counts.sum()),
                     legend["wave"]))
    return pd.DataFrame(rows, columns=columns)


def cluster_run(run_dir: str | Path, device: str = "cpu", seed: int = 0,
                k_range: tuple[int, int] = K_RANGE, log: Callable[[str], None] = lambda _: None
                ) -> dict:
    """Fit, segment, measure and write ``RUN/clusters/``; the summary (``clusters.json``)."""
    run_dir = Path(run_dir)
    dev = resolve_device(device)
    model, meta, config = _clusterable(run_dir, dev)
    amp = bool(config.train.amp) and dev.type == "cuda"
    data = open_run_data(meta, config)
    split = data.split_index
    probe = stage_activations(model, data.signals[:1], device=dev)
    n_steps = next(iter(probe.values())).shape[1]
    rng = np.random.default_rng(seed)
    n_fit = min(len(split["train"]), math.ceil(MAX_FIT_STEPS / n_steps))
    fit_index = np.sort(rng.choice(split["train"], n_fit, replace=False))
    log(f"fitting clusters on {n_fit} training ECGs x {n_steps} time steps")
    acts = stage_activations(model, data.signals[fit_index], device=dev, amp=amp)
    clusterings = {name: fit_clustering(a, k_range, seed) for name, a in acts.items()}
    del acts
    log("segmenting " + f"{len(data.signals)} ECGs (" + ", ".join(
        f"{n}: {c.n_clusters} clusters" for n, c in clusterings.items()) + ")")
    sequences, entropies, props = _segment(model, clusterings, data.signals, dev, amp)
    waves, expert = _waves(data.dataset, meta.get("root"), n_steps)
    used = expert if expert.any() else np.ones(len(expert), dtype=bool)
    summary = {"format": CLUSTERS_FORMAT, "run": str(run_dir),
               "model_sha256": model_sha256(run_dir), "seed": seed, "k_range": list(k_range),
               "n_steps": n_steps,
               "step_ms": 1000 * data.dataset.n_samples / data.dataset.fs / n_steps,
               "n_fit_ecgs": int(n_fit),
               "delineation": {"expert": int(expert.sum()), "fallback": int((~expert).sum()),
                               "alignment_uses": "expert" if expert.any() else "fallback"},
               "branches": {}}
    for name, clustering in clusterings.items():
        aligned = alignment(sequences[name][used], waves[used], clustering.n_clusters)
        ent = entropies[name][used]
        known = waves[used]
        summary["branches"][name] = {
            "n_clusters": clustering.n_clusters,
            "bic": {str(k): v for k, v in clustering.bic.items()},
            # the largest number tried won: BIC was still falling, more may fit better
            "at_upper_bound": clustering.n_clusters == max(clustering.bic) > min(clustering.bic),
            "legend": aligned["legend"], "alignment": aligned,
            "mean_entropy": float(entropies[name].mean()),
            "max_entropy": float(np.log(clustering.n_clusters)),
            "entropy_by_wave": {w: (float(ent[known == j].mean()) if (known == j).any()
                                    else None) for j, w in enumerate(WAVES)}}
    log("fitting the surrogate (random forest on cluster proportions)")
    x = np.concatenate([props[name] for name in clusterings], axis=1)
    logits = predict(model, data.signals, device=dev, amp=amp).fusion
    thresholds = decision_thresholds(logits[split["validation"]],
                                     data.labels[split["validation"]])
    decisions = (logits >= thresholds).astype(int)
    train, test = split["train"], split["test"]
    summary["surrogate"] = surrogate(x[train], x[test], decisions[train], decisions[test],
                                     data.labels[train], data.labels[test], logits[test], seed)
    prototypes = _prototype_clusters(run_dir, data.dataset, sequences, summary)
    write_clusters(run_dir, clusterings, list(data.dataset.record_ids), sequences, entropies,
                   summary, prototypes)
    return summary


def segment_record(run_dir: str | Path, record_id: str, device: str = "cpu"
                   ) -> dict[str, dict]:
    """Any record of the run's dataset segmented by the saved clusters: per branch its
    ``sequence`` (T,), ``entropy`` (T,) and ``posteriors`` (T, K). Writes nothing."""
    run_dir = Path(run_dir)
    clusterings, _, _, _ = read_clusters(run_dir)
    dev = resolve_device(device)
    model, meta, config = _clusterable(run_dir, dev)
    data = open_run_data(meta, config, record_id=record_id)
    acts = stage_activations(model, data.signals, device=dev)
    out = {}
    for name, clustering in clusterings.items():
        post = clustering.posteriors(acts[name])[0]
        out[name] = {"sequence": post.argmax(axis=-1), "entropy": entropy(post),
                     "posteriors": post}
    return out
