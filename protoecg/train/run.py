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
import os
import pickle
import shutil
from pathlib import Path

from protoecg import __version__
from protoecg.data import load_dataset
from protoecg.data.preprocess import LeadStandardizer
from protoecg.errors import ProtoECGError
from protoecg.files import append_jsonl, check_object, read_json, read_jsonl, write_json
from protoecg.train.config import Config
from protoecg.train.data import PreparedData, prepare

RUN_FORMAT = 1
# The run folder's files: this module alone names, reads and writes them.
RUN_JSON = "run.json"
CONFIG_JSON = "config.json"
MODEL_PT = "model.pt"
METRICS_JSONL = "metrics.jsonl"
PROJECTION_JSON = "projection.json"
EVALUATION_JSON = "evaluation.json"
COMPARE_JSON = "compare.json"
CHECKPOINTS = "checkpoints"
LAST_PT = "last.pt"
# what every reader of run.json relies on
RUN_KEYS = ("format", "status", "dataset", "root", "fs", "label_names", "black_box")
CONFIG_SECTIONS = ("data", "model", "train", "loss")


class RunError(ProtoECGError):
    """A run folder that is missing, incomplete, from another version, or inconsistent."""



def is_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` already holds a run (its run.json)."""
    return (Path(run_dir) / RUN_JSON).exists()


def has_model(run_dir: str | Path) -> bool:
    """Whether the run finished training (its final weights are there)."""
    return (Path(run_dir) / MODEL_PT).is_file()


def create_run_dir(run_dir: str | Path) -> None:
    (Path(run_dir) / CHECKPOINTS).mkdir(parents=True, exist_ok=True)


def write_meta(run_dir: str | Path, meta: dict) -> None:
    write_json(Path(run_dir) / RUN_JSON, meta)


def write_config(run_dir: str | Path, config: Config) -> None:
    write_json(Path(run_dir) / CONFIG_JSON, config.to_dict())


def copy_config(source: str | Path, run_dir: str | Path) -> None:
    """The resolved config of ``source`` into ``run_dir`` (a run derived from it)."""
    read_config(source)  # checked before it is passed on
    shutil.copy(Path(source) / CONFIG_JSON, Path(run_dir) / CONFIG_JSON)


def read_meta(run_dir: str | Path) -> dict:
    """run.json, checked for presence, type, format and the keys every reader uses."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_JSON
    if not path.is_file():
        raise RunError(f"{run_dir}: not a run folder ({RUN_JSON} missing); "
                       "make one with `protoecg train --out RUN`")
    meta = read_json(path, RunError, "the run's metadata written by `protoecg train`")
    if meta.get("format") != RUN_FORMAT:
        raise RunError(f"{path}: run folder format {meta.get('format')!r} (protoecg "
                       f"{meta.get('protoecg_version', '?')}); this protoecg {__version__} reads "
                       f"format {RUN_FORMAT}")
    check_object(meta, str(path), RunError, "the run's metadata written by `protoecg train`",
                 RUN_KEYS)
    check_object(meta["label_names"], f"{path}: label_names", RunError, "the run's labels",
                 kind=list)
    return meta


def read_config(run_dir: str | Path) -> Config:
    path = Path(run_dir) / CONFIG_JSON
    table = read_json(path, RunError, "the run's resolved configuration", CONFIG_SECTIONS)
    return Config.from_dict(table, str(path))


def read_run(run_dir: str | Path) -> tuple[dict, Config]:
    """run.json and the config of a run folder, checked for format and presence."""
    return read_meta(run_dir), read_config(run_dir)


def model_sha256(run_dir: str | Path) -> str:
    digest = hashlib.sha256()
    with open(Path(run_dir) / MODEL_PT, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(run_dir: str | Path, state_dict: dict) -> None:
    save_torch(Path(run_dir) / MODEL_PT, state_dict)


def read_weights(run_dir: str | Path) -> dict:
    """The final weights (a state dict) of a completed run."""
    run_dir = Path(run_dir)
    path = run_dir / MODEL_PT
    if not path.is_file():
        raise RunError(f"{run_dir}: no {MODEL_PT} (training has not finished; "
                       "`protoecg train ... --resume` continues it)")
    import torch  # here: the review side reads run folders without torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError) as exc:
        # truncated, not torch's, or holding objects that weights_only refuses
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0][:120]
        raise RunError(f"{path}: not a readable model checkpoint ({reason}); train again or "
                       "restore it") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise RunError(f"{path}: expected a model's state dict (names -> tensors), got "
                       f"{type(state).__name__}; train again or restore it")
    return state


def load_model(run_dir: str | Path, device="cpu"):
    """(model, run meta, config) of a completed run; RunError if it does not fit its config."""
    run_dir = Path(run_dir)
    meta, config = read_run(run_dir)
    state = read_weights(run_dir)
    from protoecg.model import build_model

    model = build_model(meta["label_names"], config.model, black_box=meta["black_box"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise RunError(f"{run_dir / MODEL_PT}: checkpoint does not match "
                       f"{run_dir / CONFIG_JSON} ({first[:160]})") from None
    return model.to(device), meta, config


def save_torch(path: Path, obj) -> None:
    import torch

    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------ checkpoints
def checkpoint_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINTS / LAST_PT


def save_checkpoint(run_dir: str | Path, state: dict) -> None:
    save_torch(checkpoint_path(run_dir), state)


def read_checkpoint(run_dir: str | Path) -> dict:
    """The last checkpoint (the trainer's own pickle: RNG states need more than tensors)."""
    path = checkpoint_path(run_dir)
    if not path.is_file():
        raise RunError(f"{run_dir}: nothing to resume (no {CHECKPOINTS}/{LAST_PT})")
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError,
            AttributeError, ImportError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise RunError(f"{path}: not a readable checkpoint ({reason})") from None
    return check_object(state, str(path), RunError, "a training checkpoint",
                        ("stage_index", "epoch", "model", "optimizer", "rng"))


# ---------------------------------------------------------------------- metrics
def reset_metrics(run_dir: str | Path) -> None:
    (Path(run_dir) / METRICS_JSONL).write_text("")


def append_metrics(run_dir: str | Path, record: dict) -> None:
    append_jsonl(Path(run_dir) / METRICS_JSONL, record)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Every line of metrics.jsonl ([] when the run has none)."""
    path = Path(run_dir) / METRICS_JSONL
    if not path.is_file():
        return []
    return read_jsonl(path, RunError, "one JSON object per epoch, written by `protoecg train`")


# ------------------------------------------------------------------- projection
def write_projection(run_dir: str | Path, report: dict) -> None:
    write_json(Path(run_dir) / PROJECTION_JSON, report)


def has_projection(run_dir: str | Path) -> bool:
    return (Path(run_dir) / PROJECTION_JSON).is_file()


def read_projection(run_dir: str | Path) -> dict[str, list[dict]]:
    """projection.json: branch -> one row per prototype (prototype_id, record_id, window,
    similarity)."""
    path = Path(run_dir) / PROJECTION_JSON
    what = "branch -> where each prototype was projected, written by `protoecg train`"
    report = read_json(path, RunError, what)
    for branch, rows in report.items():
        check_object(rows, f"{path}: {branch}", RunError, what, kind=list)
        for row in rows:
            check_object(row, f"{path}: {branch}", RunError, what,
                         ("prototype_id", "record_id", "window", "similarity"))
    return report


# ------------------------------------------------------- evaluation, comparison
def evaluation_path(run_dir: str | Path, fold: int = 10) -> Path:
    return Path(run_dir) / (EVALUATION_JSON if fold == 10 else f"evaluation_fold{fold}.json")


def write_evaluation(run_dir: str | Path, result: dict, fold: int = 10) -> None:
    write_json(evaluation_path(run_dir, fold), result)


def read_evaluation(run_dir: str | Path, fold: int = 10) -> dict | None:
    """What `protoecg evaluate` wrote for ``fold`` (None when it has not run)."""
    path = evaluation_path(run_dir, fold)
    if not path.is_file():
        return None
    return read_json(path, RunError, "the figures of `protoecg evaluate`", ("macro_auroc",))


def write_comparison(run_dir: str | Path, result: dict) -> None:
    write_json(Path(run_dir) / COMPARE_JSON, result)


def read_comparison(run_dir: str | Path) -> dict | None:
    """What `protoecg compare --save` wrote into this run (None when nothing was saved)."""
    path = Path(run_dir) / COMPARE_JSON
    if not path.is_file():
        return None
    return read_json(path, RunError, "the figures of `protoecg compare --save`",
                     ("before", "after", "delta", "delta_ci"))


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
