"""The cases of a blind A/B comparison of two trained runs (issue 32): seeded, label-stratified
test ECGs that both models call positive for a label; for each case and model the prototype of
that label that contributed most (similarity x fusion weight), where in the case it matched, and
where it comes from; A and B drawn per case.

"Calls positive" is by default each model's own decision rule: the label's F1-best logit
threshold on the model's validation fold (``health.decision_thresholds``, the rule the catalog's
usage figures use); a fixed probability of 0.5 calls no morphology label positive for a model
whose morphology logits sit far below 0. A case where both models show the same prototype window
matched on the same part of the case asks the rater to compare a thing with itself: such cases
are left out (and counted) unless asked for.

The result is plain data (JSON-ready, plus the case signals as displayed); the review store
turns it into a comparison study (``study.comparison.comparison_rows``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from protoecg.data.preprocess import highpass
from protoecg.explain.explanation import catalog_sources
from protoecg.explain.thresholds import F1, check_threshold
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.health import decision_thresholds
from protoecg.train.predict import predict
from protoecg.train.run import RunError, load_model, open_run_data


@torch.no_grad()
def _evidence(model: ProtoECGNet, signals: np.ndarray, n_samples: int, batch_size: int = 64
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    """(logits (N, L), similarity (N, P), match windows (N, P, 2) in samples, prototype ids,
    their classes) of a model on ``signals``."""
    model.eval()
    logit_rows, similarity, windows, ids, classes = [], [], [], [], []
    for branch in model.branches.values():
        ids += branch.prototype_ids
        classes += [branch.class_codes[c] for c in branch.prototype_class.tolist()]
    for start in range(0, len(signals), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size]))
        logits, outputs = model(x)
        logit_rows.append(logits.float().numpy())
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
    return (np.concatenate(logit_rows), np.concatenate(similarity), np.concatenate(windows),
            ids, classes)


def _logit_thresholds(model: ProtoECGNet, data, threshold: float | str) -> np.ndarray:
    """(L,) the logit at or above which the model calls each label positive."""
    n_labels = data.labels.shape[1]
    if threshold != F1:
        p = float(threshold)
        return np.full(n_labels, -np.inf if p == 0 else np.log(p / (1 - p)))
    validation = data.split_index["validation"]
    logits = predict(model, data.signals[validation]).fusion
    return decision_thresholds(logits, data.labels[validation])


def _same_view(a: dict, b: dict) -> bool:
    """Whether the rater would see the same thing as A and as B: the same prototype window
    matched on the same part of the case."""
    keys = (("source_record_id", "source_start", "source_end") if "source_record_id" in a
            else ("prototype_id",)) + ("match_start", "match_end")
    return all(a.get(k) == b.get(k) for k in keys)


def comparison_cases(run_a: str | Path, run_b: str | Path, per_label: int = 5,
                     labels: list[str] | None = None, seed: int = 42,
                     threshold: float | str = F1, include_identical: bool = False,
                     ) -> tuple[dict, dict[str, np.ndarray]]:
    """(cases, case signals by case id) for a blind comparison of two runs on their shared test
    fold. Runs must be two different ProtoECGNet runs on the same dataset and split.

    ``threshold``: ``"f1"`` (each model's F1-best validation threshold per label) or a
    probability. ``include_identical``: keep cases where both models show the same prototype
    window on the same part of the case (left out by default; counted in ``identical``)."""
    threshold = check_threshold(threshold)
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
    cutoffs = [_logit_thresholds(model, d, threshold)
               for (model, _, _), d in zip(loaded, data, strict=True)]
    shared = [code for code in metas[0]["label_names"] if code in metas[1]["label_names"]]
    wanted = shared if labels is None else labels
    unknown = [code for code in wanted if code not in shared]
    if unknown:
        raise RunError(f"label {unknown[0]!r} is not predicted by both runs (shared: "
                       f"{', '.join(shared)})")
    rng = np.random.default_rng(seed)
    sources = [catalog_sources(r) for r in runs]
    cases, eligible, identical = [], {}, {}
    for code in wanted:
        columns = [m["label_names"].index(code) for m in metas]
        positive = np.flatnonzero((evidence[0][0][:, columns[0]] >= cutoffs[0][columns[0]])
                                  & (evidence[1][0][:, columns[1]] >= cutoffs[1][columns[1]]))
        views = {}
        for position in positive:
            views[position] = [_top_prototype(loaded[k][0], evidence[k], columns[k], position,
                                              code, names[k], sources[k]) for k in range(2)]
        shown_alike = [p for p in positive if _same_view(*views[p])]
        identical[code] = len(shown_alike)
        if not include_identical:
            positive = np.array([p for p in positive if p not in set(shown_alike)], dtype=int)
        eligible[code] = int(len(positive))
        chosen = np.sort(rng.choice(positive, size=min(per_label, len(positive)),
                                    replace=False)) if len(positive) else []
        for position in chosen:
            order = rng.permutation(2)  # which model is shown as A
            shown = {letter: views[position][k] for letter, k in zip("AB", order, strict=True)}
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
             "identical": identical, "include_identical": include_identical,
             "fs": raw.fs, "units": raw.units, "cases": cases}, signals)


def _top_prototype(model: ProtoECGNet, evidence: tuple, column: int, position: int, code: str,
                   name: str, sources: dict) -> dict:
    """The prototype of class ``code`` that contributed most to the label in this case."""
    logits, similarity, windows, ids, classes = evidence
    weights = model.fusion.weight.detach().float().numpy()[column]  # (P,)
    own = np.array([c == code for c in classes])
    active = np.concatenate([b.active.bool().numpy() for b in model.branches.values()])
    allowed = own & active
    if not allowed.any():
        allowed = active  # a label with no prototype of its own: the top contributor overall
    contribution = np.where(allowed, weights * similarity[position], -np.inf)
    p = int(np.argmax(contribution))
    return {"model": name, "prototype_id": ids[p],
            "probability": float(1 / (1 + np.exp(-np.float64(logits[position, column])))),
            "similarity": float(similarity[position, p]),
        "contribution": float(contribution[p]),
        "match_start": int(windows[position, p, 0]), "match_end": int(windows[position, p, 1]),
        **sources.get(ids[p], {})}


def selection_lines(cases: dict) -> list[str]:
    """What the case selection did, in lines for a command's output: labels drawn from, labels
    with no case, cases left out because both models show the same thing."""
    per_label = cases["per_label"]
    used = {label: n for label, n in cases["eligible"].items() if n}
    rule = ("each model's F1-best validation threshold" if cases["threshold"] == F1
            else f"probability {cases['threshold']:g}")
    lines = [f"{len(cases['cases'])} cases of {len(used)} labels "
             f"({', '.join(f'{k} {min(n, per_label)}' for k, n in used.items()) or 'none'}); "
             f"positive by {rule}"]
    alike = sum(cases["identical"].values())
    if alike and not cases["include_identical"]:
        lines.append(f"{alike} test ECGs both call positive were left out: both models show the "
                     "same prototype window there on the same part of the ECG")
    none = [label for label, n in cases["eligible"].items()
            if not n and not cases["identical"].get(label)]
    if none:
        lines.append(f"no test ECG that both call positive for {len(none)} labels: "
                     f"{', '.join(none)}")
    return lines


def no_cases_reason(cases: dict) -> str:
    """Why a selection holds no case (for the one-line refusal)."""
    rule = ("each model's F1-best validation threshold" if cases["threshold"] == F1
            else f"probability {cases['threshold']:g}")
    alike = sum(cases["identical"].values())
    if alike and not cases["include_identical"]:
        return (f"the two models show the same prototype window on the same part of the ECG in "
                f"all {alike} test ECGs both call positive ({rule}); nothing to compare")
    return f"no test ECG that both models call positive ({rule}) for the labels asked"


def selection_detail(cases: dict) -> dict:
    """What the comparison study records of how its cases were drawn."""
    return {key: cases[key] for key in ("runs", "seed", "threshold", "per_label", "eligible",
                                        "identical", "include_identical")}
