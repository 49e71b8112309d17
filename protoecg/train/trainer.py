"""One training loop over the stage table (``stages.py``): staged ProtoECGNet or black-box twin.

Reproducible on the CPU (seeded model, batches and dropout), resumable after an interruption
(``checkpoints/last.pt`` after every epoch: weights, optimiser, schedule, stage, epoch and RNG
states), CUDA with mixed precision, and data-parallel under ``torchrun`` (gloo on CPU, nccl on
GPUs). Per-epoch figures go to ``metrics.jsonl`` and a tqdm bar.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from protoecg import __version__
from protoecg.model import build_model
from protoecg.model.encoders import EncoderPretrainNet
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.config import Config, ConfigError
from protoecg.train.counts import disable_unfilled
from protoecg.train.data import PreparedData
from protoecg.train.early_stopping import BestEpoch, kept_faithful, push_drop
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
from protoecg.train.pushes import Projections
from protoecg.train.records import epoch_record, progress_line
from protoecg.train.run import (
    RUN_FORMAT,
    RunError,
    append_metrics,
    create_run_dir,
    read_checkpoint,
    read_meta,
    reset_metrics,
    save_checkpoint,
    save_model,
    write_config,
    write_meta,
)
from protoecg.train.runtime import Distributed, resolve_device, seed_everything
from protoecg.train.stages import Stage, parameter_groups
from protoecg.train.warm_start import seed_backbones

# What a stage may start from besides the model as the previous stage left it.
STARTING_POINTS = {
    "previous": lambda model: None,
    "fusion_from_branches": lambda model: model.init_fusion_from_branches(),
}


class Trainer(Projections):
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
        create_run_dir(self.run_dir)
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
        write_meta(self.run_dir, meta)
        write_config(self.run_dir, self.config)

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
                reset_metrics(self.run_dir)
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
        best, start_score = BestEpoch(), None
        # an epoch in which a branch is degenerate is never kept while a live one exists
        watch = self._watches_latents(stage)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            best = BestEpoch.from_checkpoint(state)
        elif stage.keep_start and epochs > 0:
            start_score = self.validation_score(stage)
            best.start(start_score, self.model,
                       not watch or not degenerate_branches(self._validation_health()))
        network = self.model
        if self.dist.world_size > 1:
            network = DistributedDataParallel(self.model, find_unused_parameters=True)
        training = self.data.part("train")  # a copy: made once per stage
        for epoch in range(start_epoch, epochs):
            if best.bad_epochs >= self.config.train.patience:
                break
            started = time.perf_counter()
            sums, n_batches = self._train_epoch(stage, index, epoch, training, network,
                                                optimizer, scaler)
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            pushed = after_push = None
            if stage.push_every and (epoch + 1) % stage.push_every == 0:
                # before validation: the best epoch kept is a pushed one
                pushed, after_push = self._push()
            if stage.monitor == "train_loss":
                score = -sums.get("loss", 0.0) / max(n_batches, 1)
            elif after_push is not None:  # the push's validation predictions are this epoch's
                score = self._monitor_score(stage, after_push)
            else:
                score = self.validation_score(stage)
            drop = push_drop(pushed["faithfulness"]) if pushed else 0.0
            health = self._validation_health() if watch else None
            dead = degenerate_branches(health) if watch else []
            improved = best.offer(self.model, score, live=not dead,
                                  faithful=drop <= self.config.train.push_max_drop,
                                  pushed=pushed, epoch=epoch + 1)
            record = epoch_record(stage, epoch + 1, sums, n_batches, score, improved, lr,
                                  pushed, drop, health, dead,
                                  start_score if epoch == 0 else None, started)
            if self.dist.main:
                append_metrics(self.run_dir, record)
                if self.progress:
                    tqdm.write(progress_line(stage, record))
                self._checkpoint(index, epoch + 1, optimizer, scheduler, best)
        self._end_stage(index, stage, best, watch)

    def _train_epoch(self, stage: Stage, index: int, epoch: int, training, network, optimizer,
                     scaler) -> tuple[dict[str, float], int]:
        """One pass over the training folds (``training``: their signals and labels): the sums
        of every loss term over the batches, and the number of batches."""
        x_train, y_train = training
        pretraining = stage.scope in PRETRAIN_SCOPES
        if pretraining:  # the training folds' reports (their text only)
            reports = [self.data.dataset.reports[i] for i in self.data.split_index["train"]]
            # augmentations from their own seeded stream (same seed, same views)
            views = torch.Generator().manual_seed(self.config.train.seed * 1000
                                                  + index * 100 + epoch + 1)
        # the add-on ends in a sigmoid, so every real latent lies in [0, 1]^D
        clamp = (self.config.train.prototypes_in_latent_range
                 and isinstance(self.model, ProtoECGNet) and "prototypes" in stage.trains)
        self._train_mode(stage)
        sums: dict[str, float] = {}
        batches = self._batches(len(x_train), index, epoch)
        bar = tqdm(batches, desc=f"{stage.name} {epoch + 1}/{stage.epochs}", unit="batch",
                   disable=not (self.progress and self.dist.main), leave=False)
        for batch in bar:
            idx = batch.numpy()
            x = torch.from_numpy(x_train[idx]).to(self.device, non_blocking=True)
            y = torch.from_numpy(y_train[idx].astype(np.float32)).to(self.device)
            with autocast(self.device, self.amp):
                if pretraining:
                    loss, terms = pretrain_loss(
                        stage, network, x, [reports[i] for i in idx], views,
                        self.config.pretrain, self.data.dataset.fs)
                else:
                    logits, outputs = network(x)
            if not pretraining:
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
        return {key: float(value) for key, value in sums.items()}, len(batches)

    def _end_stage(self, index: int, stage: Stage, best: BestEpoch, watch: bool) -> None:
        """Early stopping: the model becomes the epoch the stage kept, whose push (if any) is
        where its prototypes now come from."""
        if best.state is not None:
            self.model.load_state_dict(best.state)
        if watch and not best.live and self.progress and self.dist.main:
            tqdm.write(f"{stage.name}: every epoch left a branch degenerate (its prototypes "
                       "rate every validation window alike); kept the best-scoring one")
        if best.push is not None:  # the kept prototypes are that push's windows: say which
            self._write_projection(best.push, after_stage=stage.name, epoch=best.push["epoch"])
            if not kept_faithful(best.push) and self.progress and self.dist.main:
                tqdm.write(f"{stage.name}: no push lowered every branch's validation AUROC by "
                           f"<= {self.config.train.push_max_drop} (train.push_max_drop); "
                           "kept the best-scoring one")
        if self.dist.main:
            self._checkpoint(index + 1, 0, None, None)

    # ------------------------------------------------------- checkpoints / resume
    def _checkpoint(self, stage_index, epoch, optimizer, scheduler,
                    best: BestEpoch | None = None) -> None:
        save_checkpoint(self.run_dir, {
            "stage_index": stage_index, "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer else None,
            "scheduler": scheduler.state_dict() if scheduler else None,
            **(best or BestEpoch()).to_checkpoint(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()},
        })

    def _resume_state(self) -> dict | None:
        state = read_checkpoint(self.run_dir)
        try:
            self.model.load_state_dict(state["model"])
        except (RuntimeError, TypeError, AttributeError):
            raise RunError(f"{self.run_dir}: its last checkpoint does not match the run's "
                           "configuration") from None
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        return state

    def _finish(self) -> dict:
        if not self.dist.main:
            return {}
        save_model(self.run_dir, self.model.state_dict())
        meta = read_meta(self.run_dir)
        if isinstance(self.model, ProtoECGNet):
            # what every later stage reads to refuse a dead branch: the training windows'
            x_train, _ = self.data.part("train")
            meta["latent_health"] = model_health(self.model, x_train,
                                                 self.config.train.eval_batch_size,
                                                 self.device, self.amp)
        meta["status"] = "complete"
        meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_meta(self.run_dir, meta)
        return meta
