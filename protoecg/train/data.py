"""From a dataset on disk to the arrays the trainer uses: preprocessing, label set, split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from protoecg.data import ECGDataset, load_dataset
from protoecg.data.dataset import SPLITS
from protoecg.data.preprocess import LeadStandardizer, highpass
from protoecg.errors import DataError
from protoecg.train.config import DataConfig


@dataclass
class PreparedData:
    """Preprocessed signals, labels restricted to the run's label set, and the split."""

    dataset: ECGDataset  # raw (signals as loaded), all 71 labels
    signals: np.ndarray  # preprocessed float32 (N, 12, T)
    labels: np.ndarray  # uint8 (N, L) over ``label_names``
    label_names: list[str]
    split_index: dict[str, np.ndarray]  # train / validation / test -> record positions
    dropped_labels: dict[str, str] = field(default_factory=dict)  # code -> why
    standardizer: LeadStandardizer | None = None

    def part(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        index = self.split_index[split]
        return self.signals[index], self.labels[index]


def select_labels(dataset: ECGDataset, config: DataConfig) -> tuple[list[str], dict[str, str]]:
    """Labels with enough positives in the training (and validation) folds, in label order."""
    train = np.isin(dataset.folds, SPLITS["train"])
    validation = np.isin(dataset.folds, SPLITS["validation"])
    train_counts = dataset.labels[train].sum(axis=0)
    val_counts = dataset.labels[validation].sum(axis=0)
    kept, dropped = [], {}
    for i, code in enumerate(dataset.label_names):
        if train_counts[i] < config.min_train_positives:
            dropped[code] = (f"{int(train_counts[i])} training positives "
                             f"< {config.min_train_positives}")
        elif val_counts[i] < config.min_validation_positives:
            dropped[code] = (f"{int(val_counts[i])} validation positives "
                             f"< {config.min_validation_positives}")
        else:
            kept.append(code)
    if not kept:
        raise DataError(f"{dataset.source}: no label has {config.min_train_positives} or more "
                        "training positives; lower data.min_train_positives")
    return kept, dropped


def prepare(dataset: ECGDataset, config: DataConfig, label_names: list[str] | None = None,
            standardizer: LeadStandardizer | None = None,
            require_splits: bool = True) -> PreparedData:
    """Preprocess and pick labels. ``label_names``/``standardizer`` given: reuse a run's own.
    ``require_splits``: the training and validation folds must hold records (for training)."""
    if dataset.fs != config.fs:
        raise DataError(f"{dataset.source}: loaded at {dataset.fs} Hz, config wants {config.fs}")
    dropped: dict[str, str] = {}
    if label_names is None:
        label_names, dropped = select_labels(dataset, config)
    missing = [c for c in label_names if c not in dataset.label_names]
    if missing:
        raise DataError(f"{dataset.source}: labels {missing} of the run are not in the dataset")
    columns = [dataset.label_names.index(c) for c in label_names]
    signals = np.asarray(dataset.signals, dtype=np.float32)
    if config.highpass_hz:
        signals = highpass(signals, dataset.fs, config.highpass_hz)
    if config.standardize:
        if standardizer is None:
            standardizer = LeadStandardizer().fit_dataset(
                ECGDataset(**{**dataset.__dict__, "signals": signals}))
        signals = standardizer.transform(signals)
    split_index = {name: np.flatnonzero(np.isin(dataset.folds, folds))
                   for name, folds in SPLITS.items()}
    labels = dataset.labels[:, columns].astype(np.uint8)
    if config.train_fraction < 1 and len(split_index["train"]):
        split_index["train"] = labelled_subset(split_index["train"], labels,
                                               config.train_fraction, config.subset_seed)
    for name in ("train", "validation") if require_splits else ():
        if len(split_index[name]) == 0:
            raise DataError(f"{dataset.source}: no records in the {name} folds "
                            f"{SPLITS[name]}")
    return PreparedData(dataset, signals, labels, list(label_names), split_index, dropped,
                        standardizer)


def labelled_subset(index: np.ndarray, labels: np.ndarray, fraction: float,
                    seed: int) -> np.ndarray:
    """A seeded multi-label stratified share ``fraction`` of the records ``index`` (Sechidis
    et al.'s iterative stratification), topped up with one positive record for any label the
    share left without one (so every prototype class keeps a window to be projected onto)."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit  # noqa: PLC0415

    y = labels[index]
    n = max(2, int(round(fraction * len(index))))
    if n >= len(index):
        return index
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, train_size=n,
                                                test_size=len(index) - n, random_state=seed)
    chosen, _ = next(splitter.split(np.zeros(len(index)), y))
    keep = set(chosen.tolist())
    rng = np.random.default_rng(seed)
    for column in np.flatnonzero(y.sum(axis=0) > 0):
        if not y[sorted(keep), column].any():
            keep.add(int(rng.choice(np.flatnonzero(y[:, column]))))
    return index[np.array(sorted(keep))]


def load_prepared(name: str, root, config: DataConfig, **kwargs) -> PreparedData:
    return prepare(load_dataset(name, root, config.fs, progress=True), config, **kwargs)
