"""Prototypes onto real training windows during training: the projection stage, the periodic
push inside a stage (``push_every``), the latent initialisation, and their records. The
selection rules are ``projection.py``'s; the faithfulness figures (each branch's validation
AUROC just before and after, each prototype's cosine to the window it became) go to
``metrics.jsonl`` beside ``projection.json``."""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm import tqdm

from protoecg.train.metrics import macro_auroc
from protoecg.train.projection import (
    BranchProjection,
    hold,
    project_branch,
    projection_order,
    window_segments,
)
from protoecg.train.reprojection import init_from_latents
from protoecg.train.run import append_metrics, write_projection


def _finite(value: float) -> float | None:
    """JSON has no NaN: a branch with no validation positive has no AUROC."""
    return None if math.isnan(value) else float(value)


class Projections:
    """The projections a ``Trainer`` makes (a mixin: it reads the trainer's model, data,
    config, device and run folder): the latent initialisation of prototypes, the projection
    stage, the periodic push inside a stage, and what each writes (projection.json and its
    metrics line)."""

    @property
    def projection_rules(self):
        return self.config.projection_rules(self.data.dataset.fs)

    def _window_segments(self, name: str):
        """The segment at each training window's centre (``train.projection_wave``), computed
        once per branch: the training signals never change."""
        if not self.config.train.projection_wave:
            return None
        cache = self.__dict__.setdefault("_segments", {})
        if name not in cache:
            x_train, _ = self.data.part("train")
            cache[name] = window_segments(self.model.branches[name], x_train,
                                          self.data.dataset.fs, self.device)
        return cache[name]

    def _branch_scores(self, pred=None) -> dict[str, float]:
        """Validation macro AUROC of each branch classifier (the branch's own labels), from
        ``pred`` (the validation predictions) when already made."""
        _, y = self.data.part("validation")
        pred = self._validation_predictions() if pred is None else pred
        return {name: macro_auroc(y[:, idx], pred.branches[:, idx])
                for name in self.model.branches
                for idx in [self.model.branch_label_index(name).cpu().numpy()]}

    def _branch_labels(self, name: str, y: np.ndarray) -> np.ndarray:
        return y[:, self.model.branch_label_index(name).cpu().numpy()]

    def _latent_init(self, index: int) -> None:
        """Prototypes from the latents of random training windows of their class."""
        x_train, y_train = self.data.part("train")
        rng = np.random.default_rng(self.config.train.seed)
        for name, branch in self.model.branches.items():
            init_from_latents(branch, x_train, self._branch_labels(name, y_train), rng,
                              self.device, self.projection_rules)
        if self.dist.main:
            append_metrics(self.run_dir, {"stage": "prototype_init", "from": "latent"})
            self._checkpoint(index + 1, 0, None, None)

    def _project_prototypes(self) -> dict[str, tuple[BranchProjection, torch.Tensor]]:
        """Every branch's prototypes onto their nearest training windows; per branch where
        they went and each prototype's cosine to the window it became (how far it moved)."""
        x_train, y_train = self.data.part("train")
        out = {}
        occupied: dict[int, list[tuple[int, int]]] = {}  # rules.distinct = "catalog"
        for name in projection_order(self.model.branches):
            branch = self.model.branches[name]
            before = branch.prototypes.detach().flatten(1).float().clone()
            forbidden = self.ctx.forbidden.get(name)
            result = project_branch(branch, x_train, self._branch_labels(name, y_train),
                                    self.config.train.eval_batch_size, self.device,
                                    n_neighbours=0, replace=True,
                                    rules=self.projection_rules,
                                    window_segments=self._window_segments(name),
                                    occupied=occupied,
                                    excluded=forbidden.exclusions if forbidden else (),
                                    amp=self.amp)
            hold(occupied, result, x_train.shape[-1])
            cosine = torch.nn.functional.cosine_similarity(
                before, branch.prototypes.detach().flatten(1).float(), dim=1).cpu()
            out[name] = (result, cosine)
        return {name: out[name] for name in self.model.branches}

    def _push(self) -> tuple[dict, object]:
        """Periodic projection inside a stage: the branches' validation AUROC just before and
        after it, where each prototype went and its cosine to the window it became (1.0 = the
        push moved nothing), as the projection stage records them; and the validation
        predictions after it (the epoch's validation score reads them)."""
        before = self._branch_scores()
        projected = self._project_prototypes()
        after = self._validation_predictions()
        return self._projection_record(before, projected, self._branch_scores(after)), after

    def _projection_record(self, before: dict[str, float], projected: dict,
                           after: dict[str, float]) -> dict:
        """``{"report": projection.json's rows, "faithfulness": per branch}``."""
        train_ids = self.data.split_index["train"]
        report, faithfulness = {}, {}
        for name, (result, cosine) in projected.items():
            cosine = cosine.numpy()
            report[name] = [
                {"prototype_id": pid,
                 "record_id": self.data.dataset.record_ids[train_ids[result.record[i]]],
                 "window": int(result.window[i]), "similarity": float(result.similarity[i])}
                for i, pid in enumerate(self.model.branches[name].prototype_ids)]
            faithfulness[name] = {
                "val_auroc_before": _finite(before[name]),
                "val_auroc_after": _finite(after[name]),
                "cosine_median": float(np.median(cosine)),
                "cosine_p10": float(np.quantile(cosine, 0.1))}
        return {"report": report, "faithfulness": faithfulness}

    def _write_projection(self, record: dict, **where) -> None:
        """projection.json and the metrics line of the projection the model's prototypes now
        come from (``where``: the stage and epoch of a push whose state the stage kept)."""
        if not self.dist.main:
            return
        report, faithfulness = record["report"], record["faithfulness"]
        write_projection(self.run_dir, report)
        append_metrics(self.run_dir, {"stage": "projection", **where, "prototypes": sum(
            len(v) for v in report.values()), "faithfulness": faithfulness})
        if self.progress:
            at = f" (the push kept by {where['after_stage']})" if where else ""
            tqdm.write(f"projection{at}: " + "; ".join(
                f"{b} val AUROC {v['val_auroc_before']:.3f} -> {v['val_auroc_after']:.3f}, "
                f"median cosine {v['cosine_median']:.2f}" for b, v in faithfulness.items()))

    def _project(self, index: int) -> None:
        before = self._branch_scores()
        projected = self._project_prototypes()
        self._write_projection(self._projection_record(before, projected,
                                                       self._branch_scores()))
        if self.dist.main:
            self._checkpoint(index + 1, 0, None, None)
