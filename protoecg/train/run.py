"""The run folder: everything needed to resume, evaluate, project and reproduce a run.

```
RUN/
  run.json          format version, dataset + root, label set, preprocessing, status, versions,
                    and (ProtoECGNet) ``latent_health`` per branch over the training windows
  config.json       the resolved configuration (preset + overrides)
  metrics.jsonl     one line per epoch: stage, epoch, losses, validation macro AUROC, seconds
  checkpoints/last.pt   model + optimiser + scheduler + stage/epoch + RNG states (for --resume)
  model.pt          final weights (written when training completes)
  projection.json   where the last projection put each prototype (the projection stage's,
                    or the push a refine stage kept)
  evaluation.json   written by `protoecg evaluate`
  catalog/          written by `protoecg project`
```
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import torch

from protoecg import __version__
from protoecg.data import load_dataset
from protoecg.data.preprocess import LeadStandardizer
from protoecg.errors import ProtoECGError
from protoecg.model import build_model
from protoecg.train.config import Config
from protoecg.train.data import PreparedData, prepare

RUN_FORMAT = 1


class RunError(ProtoECGError):
    """A run folder that is missing, incomplete, from another version, or inconsistent."""


def write_json(path: Path, data) -> None:
    """Atomic JSON write (a crash never leaves half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def save_torch(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def read_run(run_dir: str | Path) -> tuple[dict, Config]:
    """run.json and the config of a run folder, checked for format and presence."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise RunError(f"{run_dir}: not a run folder (run.json missing); "
                       "make one with `protoecg train --out RUN`")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise RunError(f"{meta_path}: not valid JSON ({exc})") from None
    if meta.get("format") != RUN_FORMAT:
        raise RunError(f"{meta_path}: run folder format {meta.get('format')!r} (protoecg "
                       f"{meta.get('protoecg_version', '?')}); this protoecg {__version__} reads "
                       f"format {RUN_FORMAT}")
    try:
        config = Config.from_dict(json.loads((run_dir / "config.json").read_text()),
                                  str(run_dir / "config.json"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{run_dir / 'config.json'}: unreadable ({exc})") from None
    return meta, config


def model_sha256(run_dir: str | Path) -> str:
    digest = hashlib.sha256()
    with open(Path(run_dir) / "model.pt", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(run_dir: str | Path, device: str | torch.device = "cpu"):
    """(model, run meta, config) of a completed run; RunError if it does not fit its config."""
    run_dir = Path(run_dir)
    meta, config = read_run(run_dir)
    path = run_dir / "model.pt"
    if not path.is_file():
        raise RunError(f"{run_dir}: no model.pt (training has not finished; "
                       "`protoecg train ... --resume` continues it)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError) as exc:
        # truncated, not torch's, or holding objects that weights_only refuses
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise RunError(f"{path}: not a readable model checkpoint ({reason}); train again or "
                       "restore it") from None
    model = build_model(meta["label_names"], config.model, black_box=meta["black_box"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise RunError(f"{path}: checkpoint does not match {run_dir / 'config.json'} "
                       f"({first[:160]})") from None
    return model.to(device), meta, config


def open_run_data(meta: dict, config: Config, *, record_id: str | None = None,
                  progress: bool = False) -> PreparedData:
    """The run's data as it trained on it: its dataset (from ``run.json``), its label set, its
    preprocessing and standardiser, its split. With ``record_id``: that one record only."""
    dataset = load_dataset(meta["dataset"], meta["root"], meta["fs"], progress=progress)
    if record_id is not None:
        dataset = dataset.subset([dataset.index_of(record_id)])
    standardizer = (LeadStandardizer.from_dict(meta["standardizer"])
                    if meta.get("standardizer") else None)
    return prepare(dataset, config.data, meta["label_names"], standardizer,
                   require_splits=record_id is None)
