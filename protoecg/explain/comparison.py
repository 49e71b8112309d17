"""The cases of a blind A/B comparison of two trained runs (issue 32): seeded, label-stratified
test ECGs that both models call positive for a label; for each case and model the prototype of
that label that contributed most (similarity x fusion weight), where in the case it matched, and
where it comes from; A and B drawn per case.

The result is plain data (JSON-ready, plus the case signals as displayed); the review store
turns it into a comparison study. Work in progress: the store, the command and the card do not
use it yet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from protoecg.data.preprocess import highpass
from protoecg.explain.explanation import catalog_sources
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.run import RunError, load_model, open_run_data


@torch.no_grad()
def _evidence(model: ProtoECGNet, signals: np.ndarray, n_samples: int, batch_size: int = 64
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    """(probabilities (N, L), similarity (N, P), match windows (N, P, 2) in samples,
    prototype ids, their classes) of a model on ``signals``."""
    model.eval()
    probabilities, similarity, windows, ids, classes = [], [], [], [], []
    for branch in model.branches.values():
        ids += branch.prototype_ids
        classes += [branch.class_codes[c] for c in branch.prototype_class.tolist()]
    for start in range(0, len(signals), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size]))
        logits, outputs = model(x)
        probabilities.append(torch.sigmoid(logits).float().numpy())
        sims, wins = [], []
        for name, out in outputs.items():
            branch = model.branches[name]
            scale = n_samples / out.latent.shape[2]
            step = out.similarity_map.argmax(dim=2).numpy()  # (B, P)
            begin = np.round(step * scale).astype(int)
            end = np.minimum(np.round((step + branch.prototype_steps) * scale).astype(int),
                             n_samples)
            sims.append(out.similarities.float().numpy())
            wins.append(np.stack([begin, end], axis=2))
        similarity.append(np.concatenate(sims, axis=1))
        windows.append(np.concatenate(wins, axis=1))
    return (np.concatenate(probabilities), np.concatenate(similarity), np.concatenate(windows),
            ids, classes)


def comparison_cases(run_a: str | Path, run_b: str | Path, per_label: int = 5,
                     labels: list[str] | None = None, seed: int = 42, threshold: float = 0.5,
                     ) -> tuple[dict, dict[str, np.ndarray]]:
    """(cases, case signals by case id) for a blind comparison of two runs on their shared test
    fold. Runs must be two different ProtoECGNet runs on the same dataset and split."""
    runs = [Path(run_a), Path(run_b)]
    names = [r.name for r in runs]
    if names[0] == names[1]:
        raise RunError(f"{runs[1]}: both runs are named {names[0]!r}; a comparison names its "
                       "two models by their run folders, so they must differ")
    loaded = [load_model(r) for r in runs]
    for run, (model, _, _) in zip(runs, loaded, strict=True):
        if not isinstance(model, ProtoECGNet):
            raise RunError(f"{run}: a black-box run has no prototypes to compare")
    metas = [m for _, m, _ in loaded]
    if (metas[0]["dataset"], str(metas[0]["root"])) != (metas[1]["dataset"], str(metas[1]["root"])):
        raise RunError(f"{runs[1]}: trained on {metas[1]['dataset']} at {metas[1]['root']}, the "
                       f"other on {metas[0]['dataset']} at {metas[0]['root']}; a comparison "
                       "needs the same test ECGs")
    data = [open_run_data(meta, config) for _, meta, config in loaded]
    tests = [d.split_index["test"] for d in data]
    records = [[d.dataset.record_ids[i] for i in t] for d, t in zip(data, tests, strict=True)]
    if records[0] != records[1]:
        raise RunError(f"{runs[1]}: its test fold holds other ECGs than {runs[0]}'s")
    n_samples = data[0].dataset.n_samples
    evidence = [_evidence(model, d.signals[t], n_samples)
                for (model, _, _), d, t in zip(loaded, data, tests, strict=True)]
    shared = [code for code in metas[0]["label_names"] if code in metas[1]["label_names"]]
    wanted = shared if labels is None else labels
    unknown = [code for code in wanted if code not in shared]
    if unknown:
        raise RunError(f"label {unknown[0]!r} is not predicted by both runs (shared: "
                       f"{', '.join(shared)})")
    rng = np.random.default_rng(seed)
    sources = [catalog_sources(r) for r in runs]
    cases, eligible = [], {}
    for code in wanted:
        columns = [m["label_names"].index(code) for m in metas]
        positive = np.flatnonzero((evidence[0][0][:, columns[0]] >= threshold)
                                  & (evidence[1][0][:, columns[1]] >= threshold))
        eligible[code] = int(len(positive))
        chosen = np.sort(rng.choice(positive, size=min(per_label, len(positive)),
                                    replace=False)) if len(positive) else []
        for position in chosen:
            order = rng.permutation(2)  # which model is shown as A
            shown = {}
            for letter, k in zip("AB", order, strict=True):
                model = loaded[k][0]
                shown[letter] = _top_prototype(model, evidence[k], columns[k], position, code,
                                               names[k], sources[k])
            cases.append({"case_id": f"{records[0][position]}:{code}",
                          "record_id": records[0][position], "label": code,
                          "A": shown["A"]["model"], "B": shown["B"]["model"], "shown": shown})
    raw = data[0].dataset
    config = loaded[0][2]
    signals = {}
    for case in cases:
        index = raw.index_of(case["record_id"])
        signal = np.asarray(raw.signals[index], dtype=np.float32)[None]
        signals[case["case_id"]] = (highpass(signal, raw.fs, config.data.highpass_hz)[0]
                                    if config.data.highpass_hz else signal[0])
    return ({"models": names, "runs": [str(r) for r in runs], "seed": seed,
             "threshold": threshold, "per_label": per_label, "eligible": eligible,
             "fs": raw.fs, "units": raw.units, "cases": cases}, signals)


def _top_prototype(model: ProtoECGNet, evidence: tuple, column: int, position: int, code: str,
                   name: str, sources: dict) -> dict:
    """The prototype of class ``code`` that contributed most to the label in this case."""
    probabilities, similarity, windows, ids, classes = evidence
    weights = model.fusion.weight.detach().float().numpy()[column]  # (P,)
    own = np.array([c == code for c in classes])
    active = np.concatenate([b.active.bool().numpy() for b in model.branches.values()])
    allowed = own & active
    if not allowed.any():
        allowed = active  # a label with no prototype of its own: the top contributor overall
    contribution = np.where(allowed, weights * similarity[position], -np.inf)
    p = int(np.argmax(contribution))
    return {"model": name, "prototype_id": ids[p], "probability": float(
        probabilities[position, column]), "similarity": float(similarity[position, p]),
        "contribution": float(contribution[p]),
        "match_start": int(windows[position, p, 0]), "match_end": int(windows[position, p, 1]),
        **sources.get(ids[p], {})}
