"""Issue 29: a degenerate branch is caught, never served.

A branch forced degenerate (its add-on maps every input to one latent) is detected by
``train.health``; a catalog recording one is refused by ``study create`` (and accepted with
``--allow-degenerate``, recorded in the study); early stopping never keeps a degenerate epoch
while a live one exists."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from protoecg.data.synthetic import make_synthetic
from protoecg.model import build_model
from protoecg.study.setup import load_study_files
from protoecg.study.store import ReviewStore, StoreError
from protoecg.train.config import load_config
from protoecg.train.health import (
    MIN_SPREAD,
    branch_health,
    degenerate_branches,
    health_warnings,
    model_health,
)
from tests._cli import assert_one_line_error, exit_code

PROTOCOL = "study_protocols/protoecgnet_clinician_review.toml"


@pytest.fixture(scope="module")
def model_and_signals():
    torch.manual_seed(0)
    data = make_synthetic(n_records=24, fs=100, seed=0)
    present = data.labels.sum(axis=0) > 0
    labels = [c for c, keep in zip(data.label_names, present, strict=True) if keep]
    config = load_config("tiny").model
    config.add_on_activation = "none"  # a linear add-on: random latents vary
    model = build_model(labels, config).eval()
    return model, data.signals


def _kill(branch) -> None:
    """Force a branch degenerate: its add-on's last layer ignores its input (the demo's dead
    branch had every sigmoid unit at 0 or 1 for every ECG)."""
    with torch.no_grad():
        last = branch.add_on[2]
        last.weight.zero_()
        last.bias.copy_(torch.linspace(-1, 1, last.bias.numel()))


def _vivid(branch) -> None:
    """Force a live latent space: an untrained ResNet maps these synthetic ECGs to nearly one
    point (its output is dominated by a constant), so the backbone is replaced by a seeded
    strided convolution of the signal (32 latent steps per 10 s, as the ResNet's)."""
    torch.manual_seed(1)
    width = branch.add_on[0].in_channels
    branch.backbone = torch.nn.Conv1d(12, width, kernel_size=32, stride=31, bias=False).eval()
    with torch.no_grad():  # no constant for the pooled rhythm latent to be dominated by
        branch.add_on[0].bias.zero_()
        branch.add_on[2].bias.zero_()


def _set_prototypes_to_windows(branch, signals) -> None:
    """Prototypes = latents of real windows (what projection makes them)."""
    with torch.no_grad():
        z = branch.latent(torch.from_numpy(signals[:branch.n_prototypes]))
        steps = branch.prototype_steps
        for p in range(branch.n_prototypes):
            first = (3 * p) % (z.shape[2] - steps + 1)
            branch.prototypes[p] = z[p % len(z), :, first:first + steps]


@pytest.mark.parametrize("name", ["rhythm", "morphology", "global"])
def test_a_branch_forced_degenerate_is_detected_and_a_live_one_is_not(model_and_signals, name):
    import copy

    model, signals = model_and_signals
    live = copy.deepcopy(model.branches[name])
    _vivid(live)
    _set_prototypes_to_windows(live, signals)
    figures = branch_health(live, signals)
    assert not figures["degenerate"], figures
    assert figures["spread_median"] > 5 * MIN_SPREAD, figures
    assert figures["dims_varying"] == figures["latent_dims"]

    dead = copy.deepcopy(model.branches[name])
    _vivid(dead)
    _kill(dead)
    _set_prototypes_to_windows(dead, signals)  # projected onto a dead latent: cosine 1.000
    figures = branch_health(dead, signals)
    assert figures["degenerate"]
    assert figures["dims_varying"] == 0
    assert figures["spread_median"] == pytest.approx(0, abs=1e-9)
    assert figures["similarity_p10_median"] == pytest.approx(1.0)  # the vacuous "faithfulness"


def test_the_warning_names_the_branch(model_and_signals):
    import copy

    model, signals = model_and_signals
    model = copy.deepcopy(model)
    for branch in model.branches.values():
        _vivid(branch)
        _set_prototypes_to_windows(branch, signals)
    _kill(model.branches["morphology"])
    health = model_health(model, signals)
    assert degenerate_branches(health) == ["morphology"]
    (line,) = health_warnings(health)
    assert line.startswith("the morphology branch is degenerate: 0 of")


def _catalog_with_health(source, tmp_path, dead: bool):
    out = tmp_path / ("dead" if dead else "live") / "catalog"
    shutil.copytree(source, out)
    meta = json.loads((out / "catalog.json").read_text())
    figures = {"latent_dims": 64, "dims_varying": 64, "share_varying": 1.0,
               "spread_median": 0.4, "degenerate": False, "n_windows": 100}
    meta["latent_health"] = {"rhythm": figures, "global": figures,
                             "morphology": {**figures, "dims_varying": 0, "share_varying": 0.0,
                                            "spread_median": 0.0, "degenerate": dead}}
    (out / "catalog.json").write_text(json.dumps(meta))
    return out


def test_study_create_refuses_a_catalog_with_a_degenerate_branch(synthetic_catalog, tmp_path,
                                                                 capsys):
    catalog = _catalog_with_health(synthetic_catalog, tmp_path, dead=True)
    db = tmp_path / "review.db"
    with pytest.raises(StoreError, match="morphology branch is degenerate"):
        load_study_files(PROTOCOL, catalog)
    code = exit_code(["study", "create", "--db", str(db), "--protocol", PROTOCOL,
                      "--catalog", str(catalog), "--name", "s"])
    assert_one_line_error(code, capsys.readouterr().err, "morphology branch is degenerate",
                          "--allow-degenerate")
    assert not db.exists()  # refused before any database was made

    # for research: accepted, and the study records it
    assert exit_code(["study", "create", "--db", str(db), "--protocol", PROTOCOL,
                      "--catalog", str(catalog), "--name", "s", "--allow-degenerate"]) == 0
    assert "degenerate morphology branch" in capsys.readouterr().err
    with ReviewStore(db, "read") as store:
        assert store.study("s").catalog_meta["degenerate_branches_allowed"] == ["morphology"]


def test_study_create_accepts_a_live_catalog(synthetic_catalog, tmp_path):
    catalog = _catalog_with_health(synthetic_catalog, tmp_path, dead=False)
    _, loaded = load_study_files(PROTOCOL, catalog)
    assert "degenerate_branches_allowed" not in loaded.meta


@pytest.mark.slow
def test_early_stopping_never_keeps_a_degenerate_epoch(tmp_path, monkeypatch):
    """Forced: every joint epoch but the first is declared degenerate, and the later epochs
    score higher; the stage must still keep the first (live) epoch."""
    from protoecg.train import trainer as trainer_module
    from protoecg.train.data import prepare

    data = prepare(make_synthetic(n_records=48, fs=100, seed=1), load_config("tiny").data)
    config = load_config("tiny")
    config.train.epochs = {**config.train.epochs, "prototypes": 0, "joint": 3,
                           "classifier": 0, "fusion": 0}
    trainer = trainer_module.Trainer(config, data, tmp_path / "run", progress=False)
    calls = {"joint": 0}
    live = {"spread_median": 0.5, "share_varying": 1.0, "degenerate": False}

    def health(self):
        calls["joint"] += 1
        dead = calls["joint"] > 1
        return {name: {**live, "degenerate": dead and name == "global",
                       "spread_median": 0.0 if dead and name == "global" else 0.5}
                for name in self.model.branches}

    scores = iter([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    monkeypatch.setattr(trainer_module.Trainer, "_validation_health", health)
    monkeypatch.setattr(trainer_module.Trainer, "_monitor_score",
                        lambda self, stage, pred: next(scores) if stage.name == "joint" else 0.5)
    trainer.fit()
    joint = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
             .splitlines() if '"stage": "joint"' in line]
    assert [r["degenerate"] for r in joint] == [[], ["global"], ["global"]]
    assert [r["best"] for r in joint] == [True, False, False]
    assert np.isfinite(joint[0]["val_macro_auroc"])


def test_decision_thresholds_pick_the_f1_best_logit():
    from protoecg.train.health import decision_thresholds

    logits = np.array([[-30.0, 1.0], [-25.0, 2.0], [-28.0, 3.0], [-40.0, 4.0]])
    labels = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    thresholds = decision_thresholds(logits, labels)
    # label 0: every logit is far below 0 (no positive at p = 0.5), yet -30 separates it
    assert thresholds[0] == -30.0
    assert thresholds[1] == np.inf  # no positive: never predicted


def test_usage_counts_the_top_contributors_of_true_positives(model_and_signals):
    """Forced: the fusion layer reads only prototype 0 for label 0 and prototypes 1-3 for
    label 1; every ECG carries label 1 and none label 0, so every ECG is a true positive of
    label 1 alone, driven by prototypes 1-3 (their best-window similarity is positive)."""
    import copy

    from protoecg.train.health import decision_usage

    model, signals = model_and_signals
    model = copy.deepcopy(model)
    for branch in model.branches.values():
        _vivid(branch)
        _set_prototypes_to_windows(branch, signals)
    with torch.no_grad():
        model.fusion.weight.zero_()
        model.fusion.bias.zero_()
        model.fusion.weight[0, 0] = 5.0
        model.fusion.weight[1, 1:4] = 5.0
    labels = np.zeros((len(signals), len(model.label_names)))
    labels[:, 1] = 1
    usage = decision_usage(model, signals, labels)
    assert (usage[1:4] == len(signals)).all()
    assert usage[0] == 0 and usage[4:].sum() == 0  # label 0 is never a true positive
