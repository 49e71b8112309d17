"""One training loop over the stage table (``stages.py``): staged ProtoECGNet or black-box twin.

Reproducible on the CPU (seeded model, batches and dropout), resumable after an interruption
(``checkpoints/last.pt`` after every epoch: weights, optimiser, schedule, stage, epoch and RNG
states), CUDA with mixed precision, and data-parallel under ``torchrun`` (gloo on CPU, nccl on
GPUs). Per-epoch figures go to ``metrics.jsonl`` and a tqdm bar.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from protoecg import __version__
from protoecg.model import build_model
from protoecg.model.encoders import EncoderPretrainNet
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.config import Config, ConfigError
from protoecg.train.counts import disable_unfilled
from protoecg.train.data import PreparedData
from protoecg.train.health import degenerate_branches, model_health
from protoecg.train.metrics import macro_auroc
from protoecg.train.objective import (
    PRETRAIN_SCOPES,
    ForbiddenWindows,
    LossContext,
    pretrain_loss,
    stage_loss,
)
from protoecg.train.predict import autocast, cpu_has_native_bf16, predict
from protoecg.train.projection import (
    BranchProjection,
    hold,
    init_from_latents,
    project_branch,
    projection_order,
    window_segments,
)
from protoecg.train.run import RUN_FORMAT, RunError, read_run, save_torch, write_json
from protoecg.train.stages import Stage, parameter_groups

# What a stage may start from besides the model as the previous stage left it.
STARTING_POINTS = {
    "previous": lambda model: None,
    "fusion_from_branches": lambda model: model.init_fusion_from_branches(),
}


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: torch.device) -> Distributed:
        """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RunError(f"--device {name}: CUDA is not available on this machine")
    return device


def _finite(value: float) -> float | None:
    """JSON has no NaN: a branch with no validation positive has no AUROC."""
    return None if math.isnan(value) else float(value)


def projection_drops(faithfulness: dict[str, dict]) -> list[float]:
    """Each branch's fall in validation macro AUROC across one projection (a ``faithfulness``
    record: before minus after, negative where it rose), leaving out a branch whose AUROC is
    undefined on the validation fold."""
    return [v["val_auroc_before"] - v["val_auroc_after"] for v in faithfulness.values()
            if v["val_auroc_before"] is not None and v["val_auroc_after"] is not None]


def push_drop(faithfulness: dict[str, dict]) -> float:
    """The largest fall in a branch's validation macro AUROC across one projection (0 when
    none fell; a branch whose AUROC is undefined on the validation fold counts as no fall)."""
    return max([0.0, *projection_drops(faithfulness)])


def _kept_faithful(best_push: dict | None) -> bool:
    """Whether the epoch a stage keeps is within ``train.push_max_drop``: the start and an
    unpushed epoch are (no push of theirs moved anything); a checkpoint from before the limit
    existed had none."""
    return best_push is None or best_push.get("faithful", True)


def seed_backbones(model, source_run: str | Path) -> None:
    """Copy the backbones of a completed black-box twin run or of a pretraining run
    (``protoecg pretrain``) into ``model``'s encoders: a ProtoECGNet's branch backbones or a
    twin's backbones. Nothing else (heads, add-on layers, prototypes, classifiers) is copied."""
    path = Path(source_run) / "model.pt"
    where = f"train.backbones_from / --init {str(source_run)!r}"
    if not path.is_file():
        raise RunError(f"{where}: no completed run there (no model.pt)")
    meta, _ = read_run(source_run)
    pretrained = str(meta.get("schedule", "")).startswith("pretrain_")
    if not pretrained and not meta.get("black_box"):
        raise RunError(f"{where}: neither a black-box twin nor a pretraining run")
    if not pretrained and meta["label_names"] != model.label_names:
        raise RunError(f"{where}: trained on another label set than this run")
    state = torch.load(path, map_location="cpu", weights_only=True)
    targets = ({name: branch.backbone for name, branch in model.branches.items()}
               if isinstance(model, ProtoECGNet) else dict(model.backbones.items()))
    for name, backbone in targets.items():
        prefix = f"backbones.{name}."
        own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        try:
            backbone.load_state_dict(own)
        except RuntimeError as exc:
            raise RunError(f"{where}: its {name} backbone does not fit this model "
                           f"({str(exc).splitlines()[-1][:120]})") from None


class Trainer:
    def __init__(self, config: Config, data: PreparedData, run_dir: str | Path, *,
                 device: str = "cpu", black_box: bool = False, progress: bool = True,
                 dataset_name: str = "", command: list[str] | None = None,
                 schedule: str | None = None, initial_state: dict | None = None,
                 extra_meta: dict | None = None,
                 forbidden: dict[str, ForbiddenWindows] | None = None):
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.device = resolve_device(device)
        self.black_box = black_box
        self.progress = progress
        self.dist = Distributed.from_environment(self.device)
        self.schedule = schedule or ("black_box" if black_box else "protoecgnet")
        self.stages = config.schedule(self.schedule)
        if config.train.cpu_bf16 and self.device.type == "cpu" and not cpu_has_native_bf16():
            raise ConfigError("train.cpu_bf16: this CPU has no native bfloat16 instructions "
                              "(AVX512-BF16 or AMX), where bf16 is slower than fp32: set it "
                              "to false")
        # mixed precision: float16 on CUDA (train.amp), bfloat16 on the CPU (train.cpu_bf16)
        self.amp = (config.train.amp if self.device.type == "cuda"
                    else config.train.cpu_bf16 and self.device.type == "cpu")
        self.dataset_name = dataset_name or data.dataset.source
        self.command = command or []
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        seed_everything(config.train.seed)
        # contrastive pretraining trains encoders with projection heads, not a classifier
        self.pretraining = self.schedule.startswith("pretrain_")
        if self.pretraining:
            self.model = EncoderPretrainNet(
                config.model, self.schedule.removeprefix("pretrain_"),
                config.pretrain.projection_dim, config.pretrain.text_buckets)
        else:
            self.model = build_model(data.label_names, config.model, black_box)
        if initial_state is not None:  # e.g. a pruned model whose last layers retrain
            self.model.load_state_dict(initial_state)
        elif config.train.backbones_from and not self.pretraining:
            seed_backbones(self.model, config.train.backbones_from)
        # labels only: ``part`` would copy every training signal as well
        train_labels = data.labels[data.split_index["train"]]
        # prototypes a rare class cannot fill start disabled (a retrained model keeps its own)
        self.prototype_counts = None
        if (initial_state is None and not self.pretraining and not black_box
                and config.train.positives_per_prototype):
            self.prototype_counts = disable_unfilled(self.model, train_labels,
                                                     config.train.positives_per_prototype)
        self.model.to(self.device)
        self.extra_meta = extra_meta or {}
        self.ctx = LossContext.from_labels(self.model, train_labels, self.device)
        # windows raters rejected (prune --action forbid): the forget term and the projection
        # read them
        self.ctx.forbidden = {name: windows.to(self.device)
                              for name, windows in (forbidden or {}).items()}

    # ----------------------------------------------------------------- set-up
    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "checkpoints").mkdir(exist_ok=True)
        dataset = self.data.dataset
        meta = {
            "format": RUN_FORMAT, "protoecg_version": __version__,
            "torch_version": torch.__version__, "status": "training",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": self.command,
            "dataset": self.dataset_name, "root": dataset.root, "fs": dataset.fs,
            "units": dataset.units, "synthetic": dataset.synthetic,
            "black_box": self.black_box, "schedule": self.schedule,
            "stages": [stage.name for stage in self.stages],
            "label_names": self.data.label_names,
            "dropped_labels": self.data.dropped_labels,
            "standardizer": self.data.standardizer.to_dict() if self.data.standardizer else None,
            "split_sizes": {k: int(len(v)) for k, v in self.data.split_index.items()},
            "n_prototypes": getattr(self.model, "n_prototypes", 0),
            "prototype_counts": self.prototype_counts,
            "device": str(self.device), "world_size": self.dist.world_size,
            **self.extra_meta,
        }
        write_json(self.run_dir / "run.json", meta)
        write_json(self.run_dir / "config.json", self.config.to_dict())

    # ------------------------------------------------------------ stage mechanics
    def _optimizer(self, stage: Stage) -> torch.optim.Optimizer:
        """Adam over the stage's groups (everything else frozen), with each group's settings;
        groups that share settings share one optimiser parameter group."""
        by_settings: dict = {}
        for name, param in self.model.named_parameters():
            groups = ("all",) if "all" in stage.trains else parameter_groups(name)
            group = next((g for g in groups if g in stage.trains), None)
            param.requires_grad_(group is not None)
            if group is not None:
                by_settings.setdefault(stage.optimizer[group], []).append(param)
        return torch.optim.Adam([
            {"params": params, "lr": settings.lr, "weight_decay": settings.weight_decay}
            for settings, params in by_settings.items()])

    def _train_mode(self, stage: Stage) -> None:
        """Frozen backbones keep their batch-norm statistics (eval mode) while the rest trains."""
        self.model.train()
        if "all" in stage.trains or "backbone" in stage.trains:
            return
        backbones = ([b.backbone for b in self.model.branches.values()]
                     if isinstance(self.model, ProtoECGNet)
                     else list(getattr(self.model, "backbones", {}).values()))
        for backbone in backbones:
            # a part that does not train keeps its batch-norm statistics as they are
            for k, stage_layers in enumerate(backbone.trunk.layers):
                stage_layers.train(f"backbone.stage{k + 1}" in stage.trains)
            stem = "backbone.stem" in stage.trains
            backbone.conv1.train(stem)
            backbone.bn1.train(stem)
        if isinstance(self.model, ProtoECGNet) and not {"add_on", "prototypes"} & set(
                stage.trains):
            for branch in self.model.branches.values():
                branch.dropout.eval()

    def _batches(self, n: int, stage_index: int, epoch: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(self.config.train.seed * 1000 + stage_index * 100
                                          + epoch)
        order = torch.randperm(n, generator=g)
        if self.dist.world_size > 1:  # each rank its own share (padded like DistributedSampler)
            per_rank = math.ceil(n / self.dist.world_size)
            order = torch.cat([order, order[: per_rank * self.dist.world_size - n]])
            order = order[self.dist.rank::self.dist.world_size]
        size = self.config.train.batch_size
        batches = list(order.split(size))
        if len(batches) > 1 and len(batches[-1]) < 2:  # batch norm needs two samples
            batches.pop()
        return batches

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

    def _watches_latents(self, stage: Stage) -> bool:
        """Whether ``stage`` changes what the prototypes compare (backbone, add-on or the
        prototypes themselves): its epochs are checked for degenerate branches."""
        return (isinstance(self.model, ProtoECGNet) and stage.scope not in PRETRAIN_SCOPES
                and stage.scope != "features" and stage.monitor != "train_loss"
                and any(group in ("add_on", "prototypes") or group.startswith("backbone")
                        for group in stage.trains))

    def _validation_health(self) -> dict[str, dict]:
        """Each branch's liveness over the validation windows (``health.py``)."""
        x, _ = self.data.part("validation")
        return model_health(self.model, x, self.config.train.eval_batch_size, self.device,
                            self.amp)

    def _validation_predictions(self):
        x, _ = self.data.part("validation")
        return predict(self.model, x, self.config.train.eval_batch_size, self.device, self.amp)

    def validation_score(self, stage: Stage) -> float:
        return self._monitor_score(stage, self._validation_predictions())

    def _monitor_score(self, stage: Stage, pred) -> float:
        """Validation macro AUROC of what ``stage`` monitors, from predictions already made."""
        _, y = self.data.part("validation")
        scores = {"branches": pred.branches, "features": pred.features,
                  "fusion": pred.fusion}[stage.monitor]
        return macro_auroc(y, scores)

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: bool = False) -> dict:
        state = self._resume_state() if resume else None
        if state is None:
            if self.dist.main:
                self._write_run_files()
                (self.run_dir / "metrics.jsonl").write_text("")
            start_stage, start_epoch = 0, 0
        else:
            start_stage, start_epoch = state["stage_index"], state["epoch"]
        # resuming inside a stage (its optimiser saved) vs. at a stage boundary
        mid_stage = state is not None and state["optimizer"] is not None
        for index in range(start_stage, len(self.stages)):
            stage = self.stages[index]
            resume_here = mid_stage and index == start_stage
            if stage.kind == "projection":
                self._project(index)
                continue
            if stage.kind == "latent_init":
                self._latent_init(index)
                continue
            if not resume_here:
                STARTING_POINTS[stage.starts_from](self.model)
            self._run_stage(index, stage, state if resume_here else None,
                            start_epoch if resume_here else 0)
        return self._finish()

    def _run_stage(self, index: int, stage: Stage, state: dict | None, start_epoch: int) -> None:
        epochs = stage.epochs
        optimizer = self._optimizer(stage)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
        scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.device.type == "cuda")
        best_score, best_state, bad_epochs = -math.inf, None, 0
        start_score, best_push = None, None
        # an epoch in which a branch is degenerate is never kept while a live one exists
        watch = self._watches_latents(stage)
        best_live = True
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            best_score, best_state = state["best_score"], state["best_state"]
            bad_epochs = state["bad_epochs"]
            best_push = state.get("best_push")
            best_live = state.get("best_live", True)
        elif stage.keep_start and epochs > 0:
            best_score = start_score = self.validation_score(stage)
            best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            best_live = not watch or not degenerate_branches(self._validation_health())
        network = self.model
        if self.dist.world_size > 1:
            network = DistributedDataParallel(self.model, find_unused_parameters=True)
        x_train, y_train = self.data.part("train")
        pretraining = stage.scope in PRETRAIN_SCOPES
        if pretraining:  # the training folds' reports (their text only)
            reports = [self.data.dataset.reports[i] for i in self.data.split_index["train"]]
        # the add-on ends in a sigmoid, so every real latent lies in [0, 1]^D
        clamp = (self.config.train.prototypes_in_latent_range
                 and isinstance(self.model, ProtoECGNet) and "prototypes" in stage.trains)
        for epoch in range(start_epoch, epochs):
            if bad_epochs >= self.config.train.patience:
                break
            started = time.perf_counter()
            self._train_mode(stage)
            sums: dict[str, float] = {}
            batches = self._batches(len(x_train), index, epoch)
            if pretraining:  # augmentations from their own seeded stream (same seed, same views)
                views = torch.Generator().manual_seed(self.config.train.seed * 1000
                                                      + index * 100 + epoch + 1)
            bar = tqdm(batches, desc=f"{stage.name} {epoch + 1}/{epochs}", unit="batch",
                       disable=not (self.progress and self.dist.main), leave=False)
            for batch in bar:
                idx = batch.numpy()
                x = torch.from_numpy(x_train[idx]).to(self.device, non_blocking=True)
                y = torch.from_numpy(y_train[idx].astype(np.float32)).to(self.device)
                if pretraining:
                    with autocast(self.device, self.amp):
                        loss, terms = pretrain_loss(
                            stage, network, x, [reports[i] for i in idx], views,
                            self.config.pretrain, self.data.dataset.fs)
                else:
                    with autocast(self.device, self.amp):
                        logits, outputs = network(x)
                    loss, terms = stage_loss(stage, self.model, logits, outputs, y, self.ctx)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                if clamp:  # projected gradient: prototypes stay where real latents can be
                    with torch.no_grad():
                        for branch in self.model.branches.values():
                            branch.prototypes.clamp_(0.0, 1.0)
                # summed on the device: one host sync per epoch, not one per term and step
                for key, value in {"loss": loss, **terms}.items():
                    sums[key] = sums.get(key, 0.0) + value.detach().float()
                if self.progress and self.dist.main:
                    bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
            sums = {key: float(value) for key, value in sums.items()}
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            pushed = after_push = None
            if stage.push_every and (epoch + 1) % stage.push_every == 0:
                # before validation: the best epoch kept is a pushed one
                pushed, after_push = self._push()
            if stage.monitor == "train_loss":
                score = -sums.get("loss", 0.0) / max(len(batches), 1)
            elif after_push is not None:  # the push's validation predictions are this epoch's
                score = self._monitor_score(stage, after_push)
            else:
                score = self.validation_score(stage)
            drop = push_drop(pushed["faithfulness"]) if pushed else 0.0
            faithful = drop <= self.config.train.push_max_drop
            dead = degenerate_branches(health := self._validation_health()) if watch else []
            live = not dead
            # a live epoch outranks every degenerate one, a faithful one every unfaithful one,
            # whatever their scores
            improved = (best_state is None or (live, faithful, score)
                        > (best_live, _kept_faithful(best_push), best_score))
            if improved:
                best_score, bad_epochs, best_live = score, 0, live
                best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                # the prototypes kept are this push's windows (None: an unpushed epoch)
                best_push = ({**pushed, "epoch": epoch + 1, "faithful": faithful}
                             if pushed else None)
            else:
                bad_epochs += 1
            record = {"stage": stage.name, "epoch": epoch + 1,
                      **{k: v / max(len(batches), 1) for k, v in sums.items()},
                      **({} if stage.monitor == "train_loss" else {"val_macro_auroc": score}),
                      "best": improved,
                      "lr": lr, **({"push_cosine_median": {
                          b: round(v["cosine_median"], 4)
                          for b, v in pushed["faithfulness"].items()},
                          "push_auroc_drop": round(drop, 4)} if pushed else {}),
                      **({"latent_spread": {b: round(f["spread_median"], 4)
                                            for b, f in health.items()},
                          "degenerate": dead} if watch else {}),
                      **({"val_macro_auroc_at_start": start_score}
                         if start_score is not None and epoch == 0 else {}),
                      "seconds": round(time.perf_counter() - started, 2)}
            if self.dist.main:
                with open(self.run_dir / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
                if self.progress:
                    seen = ("" if stage.monitor == "train_loss"
                            else f"  val macro AUROC {score:.4f}")
                    tqdm.write(f"{stage.name} epoch {epoch + 1}: loss {record['loss']:.4f}"
                               f"{seen}{' *' if improved else ''}")
                self._checkpoint(index, epoch + 1, optimizer, scheduler, best_score,
                                 best_state, bad_epochs, best_push, best_live)
        if best_state is not None:  # early stopping: keep the best epoch of the stage
            self.model.load_state_dict(best_state)
        if watch and not best_live and self.progress and self.dist.main:
            tqdm.write(f"{stage.name}: every epoch left a branch degenerate (its prototypes "
                       "rate every validation window alike); kept the best-scoring one")
        if best_push is not None:  # the kept prototypes are that push's windows: say which
            self._write_projection(best_push, after_stage=stage.name, epoch=best_push["epoch"])
            if not _kept_faithful(best_push) and self.progress and self.dist.main:
                tqdm.write(f"{stage.name}: no push lowered every branch's validation AUROC by "
                           f"<= {self.config.train.push_max_drop} (train.push_max_drop); "
                           "kept the best-scoring one")
        if self.dist.main:
            self._checkpoint(index + 1, 0, None, None, -math.inf, None, 0)

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
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"stage": "prototype_init", "from": "latent"}) + "\n")
            self._checkpoint(index + 1, 0, None, None, -math.inf, None, 0)

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
        write_json(self.run_dir / "projection.json", report)
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"stage": "projection", **where, "prototypes": sum(
                len(v) for v in report.values()), "faithfulness": faithfulness}) + "\n")
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
            self._checkpoint(index + 1, 0, None, None, -math.inf, None, 0)

    # ------------------------------------------------------- checkpoints / resume
    def _checkpoint(self, stage_index, epoch, optimizer, scheduler, best_score, best_state,
                    bad_epochs, best_push: dict | None = None, best_live: bool = True) -> None:
        save_torch(self.run_dir / "checkpoints" / "last.pt", {
            "stage_index": stage_index, "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer else None,
            "scheduler": scheduler.state_dict() if scheduler else None,
            "best_score": best_score, "best_state": best_state, "bad_epochs": bad_epochs,
            "best_push": best_push, "best_live": best_live,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()},
        })

    def _resume_state(self) -> dict | None:
        path = self.run_dir / "checkpoints" / "last.pt"
        if not path.is_file():
            raise RunError(f"{self.run_dir}: nothing to resume (no checkpoints/last.pt)")
        state = torch.load(path, map_location="cpu", weights_only=False)
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError:
            raise RunError(f"{path}: checkpoint does not match the run's config.json") from None
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        return state

    def _finish(self) -> dict:
        if not self.dist.main:
            return {}
        save_torch(self.run_dir / "model.pt", self.model.state_dict())
        meta = json.loads((self.run_dir / "run.json").read_text())
        if isinstance(self.model, ProtoECGNet):
            # what every later stage reads to refuse a dead branch: the training windows'
            x_train, _ = self.data.part("train")
            meta["latent_health"] = model_health(self.model, x_train,
                                                 self.config.train.eval_batch_size,
                                                 self.device, self.amp)
        meta["status"] = "complete"
        meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_json(self.run_dir / "run.json", meta)
        return meta
