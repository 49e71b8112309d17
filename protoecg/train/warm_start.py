"""Warm starts: a run's encoders from another run (``train.backbones_from`` / ``--init``)."""

from __future__ import annotations

from pathlib import Path

from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.run import RunError, has_model, read_run, read_weights


def seed_backbones(model, source_run: str | Path) -> None:
    """Copy the backbones of a completed black-box twin run or of a pretraining run
    (``protoecg pretrain``) into ``model``'s encoders: a ProtoECGNet's branch backbones or a
    twin's backbones. Nothing else (heads, add-on layers, prototypes, classifiers) is copied."""
    where = f"train.backbones_from / --init {str(source_run)!r}"
    if not has_model(source_run):
        raise RunError(f"{where}: no completed run there (no final weights)")
    meta, _ = read_run(source_run)
    pretrained = str(meta.get("schedule", "")).startswith("pretrain_")
    if not pretrained and not meta.get("black_box"):
        raise RunError(f"{where}: neither a black-box twin nor a pretraining run")
    if not pretrained and meta["label_names"] != model.label_names:
        raise RunError(f"{where}: trained on another label set than this run")
    state = read_weights(source_run)
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
