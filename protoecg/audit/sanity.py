"""Sanity checks of prototype explanations (Adebayo et al. 2018, applied to "this looks like that").

An explanation that does not change when the model's weights or the training labels are
randomised explains the input, not the model. For every test ECG and branch we compare:

* the **similarity map** ``E[c, t]``: for each class c of the branch, the highest similarity
  of its (active) prototypes at latent window t (for one-window branches: each class's best
  similarity). Figure: Spearman rank correlation between the trained and the randomised map,
  median over ECGs. A map of fewer than ``MIN_MAP_SIZE`` entries (the global branch: 3 classes,
  one window) is compared across ECGs instead: per entry, the correlation of the ECGs' ranking
  by that class's evidence, median over entries (does the ranking of ECGs by the branch's
  evidence survive?). A rank correlation over 3 values per ECG takes only the values
  {-1, -0.5, 0.5, 1} and is 1 whenever both models order the classes the same way for every
  ECG: a randomised model whose class order is a constant that happens to match the trained
  model's usual order passes as "unchanged" though its evidence no longer follows the ECG
  (``tests/test_audit.py`` shows both cases).
* the **top prototypes** (model randomisation only): the k prototypes contributing most
  (similarity x classifier weight) to the class the trained branch scores highest. Figure:
  share of the trained model's top k still in the randomised model's top k, mean over ECGs,
  beside its chance level k / P.

*Model randomisation* re-initialises the branch's layers cumulatively from the top
(classifier, prototypes, add-on, the backbone's residual stages last to first, its stem) and
reports the figures after each step. *Label randomisation* compares with the same
configuration trained on training and validation labels permuted across records.

The verdict: explanations **depend** on the model (or the labels) when, after the last
randomisation step, the median rank correlation is below ``MAX_RANK_CORRELATION`` and the top-k
overlap below ``MAX_TOP_OVERLAP`` (the overlap is not asked where chance alone reaches that
level, i.e. a branch with hardly more prototypes than k); otherwise the check **fails**.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from scipy.stats import rankdata

from protoecg.model.protoecgnet import ProtoECGNet

MAX_RANK_CORRELATION = 0.5
MAX_TOP_OVERLAP = 0.5
TOP_K = 3
# a map with fewer entries per ECG (the global branch's 3 classes x 1 window) is ranked across
# ECGs instead: a per-ECG rank correlation over a handful of values is a coarse lattice
MIN_MAP_SIZE = 8

# explain(model, signals) -> per branch (maps (N, C, W), contributions (N, C, P))
Explainer = Callable[[ProtoECGNet, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]


@torch.no_grad()
def prototype_explanations(model: ProtoECGNet, signals: np.ndarray, batch_size: int = 64,
                           device: str | torch.device = "cpu"
                           ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per branch: the class similarity maps (N, C, W) and each prototype's contribution to
    each class of the branch (N, C, P) = similarity x classifier weight."""
    was_training = model.training
    model.eval()
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in model.branches}
    for start in range(0, len(signals), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size],
                                                  dtype=np.float32)).to(device)
        _, outputs = model(x)
        for name, out in outputs.items():
            branch = model.branches[name]
            active = branch.active.bool()
            smap = out.similarity_map.float().masked_fill(~active[None, :, None], -torch.inf)
            n_classes = len(branch.class_codes)
            per_class = torch.full((smap.shape[0], n_classes, smap.shape[2]), -torch.inf,
                                   device=smap.device)
            index = branch.prototype_class[None, :, None].expand_as(smap)
            per_class = per_class.scatter_reduce(1, index, smap, reduce="amax")
            per_class = torch.nan_to_num(per_class, neginf=0.0)
            contribution = out.similarities.float()[:, None, :] * branch.classifier.weight[None]
            parts[name].append((per_class.cpu().numpy(), contribution.cpu().numpy()))
    model.train(was_training)
    return {name: (np.concatenate([p[0] for p in chunks]), np.concatenate([p[1] for p in chunks]))
            for name, chunks in parts.items()}


def rank_correlations(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Spearman rank correlation per ECG between two (N, ...) explanation arrays; NaN where
    either is constant (no ranking to compare)."""
    a = rankdata(reference.reshape(len(reference), -1), axis=1)
    b = rankdata(other.reshape(len(other), -1), axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(axis=1) / denominator, np.nan)


def top_overlap(reference: np.ndarray, other: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Per ECG: share of the reference's top-k prototypes (by contribution to the class the
    reference scores highest) that are in the other's top k for that same class."""
    classes = reference.sum(axis=2).argmax(axis=1)  # (N,) the reference's top class
    rows = np.arange(len(reference))
    ref = reference[rows, classes]  # (N, P)
    oth = other[rows, classes]
    k = min(k, ref.shape[1])
    top_ref = np.argsort(-ref, axis=1, kind="stable")[:, :k]
    top_oth = np.argsort(-oth, axis=1, kind="stable")[:, :k]
    return np.array([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_oth, strict=True)])


def compare(reference: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray],
            k: int = TOP_K, slots_correspond: bool = True) -> dict:
    """The figures of one comparison (see the module text); without ``slots_correspond``
    (two separately trained models) the top-k overlap is not computed."""
    pooled = reference[0][0].size < MIN_MAP_SIZE
    if pooled:  # e.g. the global branch: rank the ECGs per map entry instead
        n = len(reference[0])
        rho = rank_correlations(reference[0].reshape(n, -1).T, other[0].reshape(n, -1).T)
    else:
        rho = rank_correlations(reference[0], other[0])
    n_prototypes = reference[1].shape[2]
    finite = rho[np.isfinite(rho)]
    figures = {
        "rank_correlation_median": float(np.median(finite)) if finite.size else None,
        "rank_correlation_p90": float(np.quantile(finite, 0.9)) if finite.size else None,
        "pooled_over_ecgs": bool(pooled),
        "top_k": min(k, n_prototypes),
        "n_ecgs": int(len(rho)), "n_constant": int((~np.isfinite(rho)).sum()),
    }
    if not slots_correspond:
        return {**figures, "top_k_overlap": None, "top_k_chance": None,
                "top_k_note": "not compared: prototype slots of two separately trained "
                              "models do not correspond"}
    return {**figures,
            "top_k_overlap": float(top_overlap(reference[1], other[1], k).mean()),
            "top_k_chance": min(k, n_prototypes) / n_prototypes}


def verdict(figures: dict, what: str) -> str:
    """``depends on the <what>`` or ``fails: ...`` from the last comparison's figures (the
    top-k overlap counts where it is defined and chance alone stays below its limit)."""
    rho = figures["rank_correlation_median"]
    if rho is None:
        return f"fails: the similarity maps are constant after randomising the {what}"
    overlap = figures.get("top_k_overlap")
    # with as few prototypes as k, any top k overlaps fully: only the maps can tell
    informative = overlap is not None and figures["top_k_chance"] < MAX_TOP_OVERLAP
    if rho < MAX_RANK_CORRELATION and (not informative or overlap < MAX_TOP_OVERLAP):
        return f"depends on the {what}"
    shown = f", top-{figures['top_k']} overlap {overlap:.2f}" if informative else ""
    return (f"fails: explanations barely change after randomising the {what} "
            f"(rank correlation {rho:.2f}{shown})")


def cascade_layers(model: ProtoECGNet, branch: str) -> list[tuple[str, Callable[[], None]]]:
    """The branch's layers top down, each with the function that re-initialises it."""
    b = model.branches[branch]

    def reset(module: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            # batch norm's reset_parameters also resets its running statistics
            for m in module.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        return run

    def reset_prototypes() -> None:
        with torch.no_grad():
            b.prototypes.copy_(torch.randn_like(b.prototypes))

    backbone = b.backbone
    stages = list(backbone.trunk.layers)
    steps = [("classifier", reset(b.classifier)), ("prototypes", reset_prototypes),
             ("add_on", reset(b.add_on))]
    steps += [(f"backbone.stage{k + 1}", reset(stages[k])) for k in reversed(range(len(stages)))]

    def reset_stem() -> None:
        reset(backbone.conv1)()
        reset(backbone.bn1)()
    steps.append(("backbone.stem", reset_stem))
    return steps


def model_randomisation(model: ProtoECGNet, signals: np.ndarray, seed: int = 0,
                        explain: Explainer = prototype_explanations, k: int = TOP_K) -> dict:
    """Cascading randomisation of each branch (the others kept trained): per branch the
    figures after each step, top down, and the verdict after the last."""
    reference = explain(model, signals)
    result = {}
    for branch in model.branches:
        torch.manual_seed(seed)
        randomised = copy.deepcopy(model)
        steps = []
        for layer, reset in cascade_layers(randomised, branch):
            reset()
            figures = compare(reference[branch], explain(randomised, signals)[branch], k)
            steps.append({"randomised_down_to": layer, **figures})
        result[branch] = {"steps": steps, "verdict": verdict(steps[-1], "model")}
    return result


def label_randomisation(model: ProtoECGNet, permuted: ProtoECGNet, signals: np.ndarray,
                        explain: Explainer = prototype_explanations, k: int = TOP_K) -> dict:
    """Per branch: the figures of the trained model against the same configuration trained on
    permuted labels, and the verdict. Only the class similarity maps are compared: prototype
    *k* of a class is an arbitrary slot in two separately trained models (and its classifier
    weights start from the same class-identity pattern), so a top-k overlap of slots would
    measure that pattern, not the explanation."""
    reference, other = explain(model, signals), explain(permuted, signals)
    result = {}
    for branch in model.branches:
        figures = compare(reference[branch], other[branch], k, slots_correspond=False)
        result[branch] = {**figures, "verdict": verdict(figures, "labels")}
    return result


def permuted_labels(labels: np.ndarray, index: np.ndarray, seed: int) -> np.ndarray:
    """A copy of ``labels`` whose rows at ``index`` are permuted among themselves (seeded):
    each record keeps a real label combination, no longer its own."""
    out = labels.copy()
    rng = np.random.default_rng(seed)
    out[index] = labels[rng.permutation(index)]
    return out
