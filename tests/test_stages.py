"""The stage table is data: rows resolve from the config, bad rows are refused by name, and a new
schedule is a new table that the one training loop runs without new code."""

import json

import numpy as np
import pytest
import torch

from protoecg.data import load_dataset
from protoecg.train import stages
from protoecg.train.config import load_config
from protoecg.train.data import prepare
from protoecg.train.stages import Defaults, StageError, resolve_stage
from protoecg.train.trainer import Trainer


def defaults(**changes):
    base = dict(epochs={"joint": 7}, weights={"clustering": 0.5, "l1": 1e-4}, lr=1e-3,
                lr_scale={"prototypes": 3.0}, weight_decay=0.01)
    return Defaults(**{**base, **changes})


def test_paper_schedule_resolves_from_the_config():
    config = load_config("paper")
    table = config.schedule("protoecgnet")
    assert [s.name for s in table] == ["prototypes", "joint", "projection", "classifier",
                                       "fusion"]
    joint = table[1]
    assert joint.trains == ("backbone", "add_on", "prototypes")
    assert dict(joint.loss) == {"bce": 1.0, "clustering": 0.004, "separation": 0.0004,
                                "diversity": 250.0, "contrastive": 300.0}
    assert joint.epochs == 100
    assert {g: (s.lr, s.weight_decay) for g, s in joint.optimizer.items()} == {
        g: (1e-4, 1.7e-4) for g in joint.trains}
    assert table[2].kind == "projection" and table[2].trains == ()
    fusion = table[4]
    assert (fusion.scope, fusion.starts_from, fusion.monitor) == (
        "model", "fusion_from_branches", "fusion")
    assert dict(fusion.loss) == {"bce": 1.0, "l1": 1e-4}
    assert [s.name for s in config.schedule("black_box")] == ["black_box"]


def test_refine_after_projection_is_a_switch_pushed_every_epoch():
    config = load_config("paper")
    config.train.epochs["refine"] = 4
    config.train.push_every = 0  # the row's own period, not the joint stage's
    table = config.schedule("protoecgnet")
    names = [s.name for s in table]
    assert names == ["prototypes", "joint", "projection", "refine", "classifier", "fusion"]
    refine = table[3]
    assert (refine.epochs, refine.push_every) == (4, 1)
    assert refine.trains == ("backbone", "add_on", "prototypes")
    assert table[1].push_every == 0  # joint follows train.push_every


def test_the_feature_term_joins_only_the_stages_that_train_backbones():
    config = load_config("paper")
    config.loss.feature_bce = 2.0
    config.train.epochs.update(refine=3, unfreeze=1)
    with_term = {s.name for s in config.schedule("protoecgnet") if "feature_bce" in s.loss}
    assert with_term == {"unfreeze_1", "unfreeze_2", "unfreeze_3", "joint", "refine"}
    assert all(s.loss["feature_bce"] == 2.0 for s in config.schedule("protoecgnet")
               if s.name in with_term)
    assert not any("feature_bce" in s.loss for s in config.schedule("forbid"))


def test_row_settings_override_the_defaults():
    stage = resolve_stage({"name": "joint", "trains": ["prototypes", "backbone"],
                           "loss": {"bce": 1.0, "clustering": "clustering", "diversity": 2},
                           "optimizer": {"backbone": {"lr": 1e-5}}}, defaults())
    assert stage.epochs == 7
    assert dict(stage.loss) == {"bce": 1.0, "clustering": 0.5, "diversity": 2.0}
    assert stage.optimizer["prototypes"].lr == pytest.approx(3e-3)
    assert stage.optimizer["backbone"].lr == 1e-5
    assert stage.optimizer["backbone"].weight_decay == 0.01


@pytest.mark.parametrize("row, message", [
    ({"name": "x", "trains": ["heads"]}, "stage 'x': trains 'heads' is not one of backbone"),
    ({"name": "x", "loss": {"focal": 1}}, "stage 'x': loss term (branches scope) 'focal'"),
    ({"name": "x", "scope": "model", "loss": {"clustering": 1}},
     "loss term (model scope) 'clustering' is not one of bce, l1"),
    ({"name": "x", "loss": {"bce": "gamma"}}, "loss weight 'gamma' is not a key of [loss]"),
    ({"name": "x", "kind": "push"}, "kind 'push' is not one of epochs, projection, latent_init"),
    ({"name": "x", "starts_from": "imagenet"}, "starts_from 'imagenet' is not one of"),
    ({"name": "x", "lr": 1}, "stage 'x': unknown key 'lr'"),
])
def test_bad_rows_are_refused_by_name(row, message):
    with pytest.raises(StageError) as info:
        resolve_stage(row, defaults())
    assert message in str(info.value)


def test_unknown_schedule():
    with pytest.raises(StageError, match="unknown schedule 'prune'"):
        load_config("tiny").schedule("prune")


def test_config_refuses_unknown_stage_epochs(tmp_path):
    override = tmp_path / "c.toml"
    override.write_text("[train]\nepochs = { warmup = 3 }\n")
    with pytest.raises(Exception, match="unknown config key train.epochs.'warmup'"):
        load_config("tiny", override)


@pytest.fixture(scope="module")
def small_data():
    dataset = load_dataset("synthetic", fs=100)
    config = load_config("tiny")
    return config, prepare(dataset.subset(np.arange(80)), config.data)


def test_a_new_schedule_is_a_table(small_data, tmp_path, monkeypatch):
    """Retraining only the last layers (as after pruning): a table, run by the same loop."""
    config, data = small_data
    monkeypatch.setitem(stages.SCHEDULES, "last_layers", (
        {"name": "classifier", "trains": ("classifier",), "loss": {"bce": 1.0, "l1": "l1"},
         "epochs": 2, "optimizer": {"classifier": {"lr": 5e-3}}},
        {"name": "fusion", "trains": ("fusion",), "scope": "model", "loss": {"bce": 1.0},
         "epochs": 1, "starts_from": "fusion_from_branches", "monitor": "fusion"},
    ))
    trainer = Trainer(config, data, tmp_path / "run", schedule="last_layers", progress=False)
    frozen = {k: v.clone() for k, v in trainer.model.state_dict().items()
              if ".backbone." in k or k.endswith("prototypes")}
    trainer.fit()
    after = trainer.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items())  # only last layers moved
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["epoch"]) for r in lines] == [
        ("classifier", 1), ("classifier", 2), ("fusion", 1)]
    assert lines[0]["lr"] == 5e-3
    assert set(lines[0]) >= {"bce", "l1", "loss"} and "l1" not in lines[2]
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (meta["schedule"], meta["stages"]) == ("last_layers", ["classifier", "fusion"])


def test_groups_with_their_own_settings_get_their_own_optimizer_group(small_data, tmp_path):
    config, data = small_data
    trainer = Trainer(config, data, tmp_path / "run", progress=False)
    stage = resolve_stage({"name": "joint", "trains": ("backbone", "prototypes"),
                           "loss": {"bce": 1.0}, "optimizer": {"prototypes": {"lr": 0.5}}},
                          defaults(lr=1e-3, lr_scale={}))
    optimizer = trainer._optimizer(stage)
    assert sorted(g["lr"] for g in optimizer.param_groups) == [1e-3, 0.5]
    prototypes = [p for n, p in trainer.model.named_parameters() if n.endswith("prototypes")]
    group = next(g for g in optimizer.param_groups if g["lr"] == 0.5)
    assert {id(p) for p in group["params"]} == {id(p) for p in prototypes}
    assert not any(p.requires_grad for n, p in trainer.model.named_parameters()
                   if "classifier" in n or n.startswith("fusion"))


@pytest.mark.parametrize("keep_start", [True, False])
def test_a_stage_that_only_makes_things_worse_can_leave_the_model_as_it_found_it(
        small_data, tmp_path, monkeypatch, keep_start):
    """keep_start: the starting model competes in early stopping. A fusion layer trained with
    an absurd learning rate ends worse than the branch classifiers it starts from: with
    keep_start the model keeps its starting fusion layer; without, it keeps a damaged one."""
    config, data = small_data
    monkeypatch.setitem(stages.SCHEDULES, "bad_fusion", (
        {"name": "fusion", "trains": ("fusion",), "scope": "model", "loss": {"bce": 1.0},
         "epochs": 2, "optimizer": {"fusion": {"lr": 50.0}}, "keep_start": keep_start,
         "starts_from": "fusion_from_branches", "monitor": "fusion"},
    ))
    trainer = Trainer(config, data, tmp_path / "run", schedule="bad_fusion", progress=False)
    trainer.model.init_fusion_from_branches()
    start = {k: v.clone() for k, v in trainer.model.fusion.state_dict().items()}
    trainer.fit()
    kept = all(torch.equal(v, trainer.model.fusion.state_dict()[k]) for k, v in start.items())
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert kept is keep_start
    assert ("val_macro_auroc_at_start" in lines[0]) is keep_start
    if keep_start:
        assert all(r["val_macro_auroc"] <= lines[0]["val_macro_auroc_at_start"] for r in lines)
