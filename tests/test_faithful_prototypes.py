"""Issue 11's switches against prototypes that drift away from every real window: feature
pre-training, prototypes initialised from real latents, periodic push, and the final projection
that then changes (almost) nothing."""

import json

import numpy as np
import pytest
import torch

from protoecg.data import load_dataset
from protoecg.data.synthetic import make_synthetic
from protoecg.model import build_model
from protoecg.model.prototypes import window_similarity
from protoecg.train import losses
from protoecg.train.config import Config, ConfigError, load_config
from protoecg.train.data import prepare
from protoecg.train.objective import LossContext, stage_loss
from protoecg.train.predict import predict
from protoecg.train.reprojection import init_from_latents
from protoecg.train.trainer import Trainer

# The stated tolerance: with a push after every joint epoch, the final projection may move no
# validation output (a branch classifier's probability for a label) by more than this.
PROJECTION_TOLERANCE = 0.01


def write(tmp_path, text):
    path = tmp_path / "override.toml"
    path.write_text(text)
    return path


def records(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def small_data():
    dataset = load_dataset("synthetic", fs=100)
    config = load_config("tiny")
    return prepare(dataset.subset(np.arange(96)), config.data)


def test_switches_add_rows_to_the_schedule(tmp_path):
    names = [s.name for s in load_config("paper").schedule("protoecgnet")]
    assert names == ["prototypes", "joint", "projection", "classifier", "fusion"]
    config = load_config("paper", write(tmp_path, '[model]\nprototype_init = "latent"\n'
                                        '[train]\npush_every = 2\nepochs = { features = 4 }\n'))
    table = config.schedule("protoecgnet")
    assert [s.name for s in table] == ["features", "prototype_init", "prototypes", "joint",
                                       "projection", "classifier", "fusion"]
    features = table[0]
    assert (features.trains, features.scope, features.monitor, features.epochs) == (
        ("backbone", "feature_head"), "features", "features", 4)
    assert table[1].kind == "latent_init"
    assert table[3].push_every == 2 and table[2].push_every == 0


@pytest.mark.parametrize("text, message", [
    ('[model]\nprototype_init = "zeros"\n', "model.prototype_init must be one of 'normal'"),
    ("[train]\npush_every = -1\n", "train.push_every must be >= 0"),
    ("[train]\nepochs = { features = -2 }\n", "train.epochs must be >= 0"),
    ("[train]\nstage_lr_scale = { refine = 0 }\n", "train.stage_lr_scale.refine must be > 0"),
    ("[train]\nstage_lr_scale = { warmup = 0.5 }\n",
     "unknown config key train.stage_lr_scale.'warmup'"),
    ("[train]\nprototypes_in_latent_range = 1\n",
     "'train.prototypes_in_latent_range' must be bool"),
    ('[model]\nadd_on_activation = "tanh"\n',
     "model.add_on_activation must be one of 'sigmoid', 'none', 'batch_norm'"),
    ('[model]\nadd_on_activation = "none"\n[train]\nprototypes_in_latent_range = true\n',
     "need model.add_on_activation = 'sigmoid'"),
    ('[model]\nadd_on_activation = "none"\nprototype_init = "uniform"\n',
     "need model.add_on_activation = 'sigmoid'"),
    ("[model]\nincorrect_class_connection = 0.5\n",
     "model.incorrect_class_connection must be <= 0"),
    ('[model]\nfeature_labels = { global = "own" }\n',
     "model.feature_labels.global must be one of 'branch', 'all', got 'own'"),
    ('[model]\nfeature_labels = "own"\n',
     "model.feature_labels.rhythm must be one of 'branch', 'all', got 'own'"),
    ("[model]\nfeature_labels = 3\n", "'model.feature_labels' must be a table"),
    ('[loss]\nfeature_bce = "1"\n', "'loss.feature_bce' must be float"),
    ("[train]\npush_max_drop = -0.01\n", r"train.push_max_drop must be in \[0, 1\]"),
    ("[train]\npush_max_drop = nan\n", r"train.push_max_drop must be in \[0, 1\]"),
])
def test_bad_switch_values_are_refused_by_name(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", write(tmp_path, text))


def test_one_feature_labels_value_sets_every_branch_as_older_run_folders_say(tmp_path):
    # run folders written before model.feature_labels was per branch hold one string
    raw = load_config("tiny").to_dict()
    raw["model"]["feature_labels"] = "all"
    old_run = Config.from_dict(raw, "run/config.json")
    assert old_run.model.feature_labels == {"rhythm": "all", "morphology": "all", "global": "all"}
    shorthand = load_config("tiny", write(tmp_path, '[model]\nfeature_labels = "branch"\n'))
    assert set(shorthand.model.feature_labels.values()) == {"branch"}


@pytest.mark.parametrize("branch_name", ["rhythm", "morphology", "global"])
def test_latent_init_puts_every_prototype_on_a_real_window_of_its_class(branch_name):
    torch.manual_seed(0)
    data = make_synthetic(n_records=40, fs=100, seed=5)
    present = data.labels.sum(axis=0) > 0
    labels = [c for c, keep in zip(data.label_names, present, strict=True) if keep]
    model = build_model(labels, load_config("tiny").model).eval()
    branch = model.branches[branch_name]
    y = data.labels[:, present][:, model.branch_label_index(branch_name).numpy()]
    chosen = init_from_latents(branch, data.signals, y, np.random.default_rng(1))
    with torch.no_grad():
        similarity = window_similarity(branch.latent(torch.from_numpy(data.signals[chosen])),
                                       branch.prototypes, "cosine")  # (P, P, W)
    classes = branch.prototype_class.numpy()
    for p, record in enumerate(chosen):
        assert y[record, classes[p]] == 1  # an ECG of the prototype's own class
        assert float(similarity[p, p].max()) == pytest.approx(1.0, abs=1e-5)  # its real latent
    for cls in set(classes):  # prototypes of one class come from different ECGs
        members = chosen[classes == cls]
        if y[:, cls].sum() >= len(members):
            assert len(set(members)) == len(members)


def test_feature_pretraining_trains_only_the_backbones_and_their_heads(small_data, tmp_path):
    config = load_config("tiny", write(tmp_path, "[train]\nepochs = { features = 2 }\n"))
    config.train.epochs = {**config.train.epochs, "joint": 0, "prototypes": 0,
                           "classifier": 0, "fusion": 0}
    trainer = Trainer(config, small_data, tmp_path / "run", progress=False)
    trainer._project = lambda index: None  # the stages with 0 epochs move nothing; this would
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(".backbone." in k for k in moved) and any("feature_head" in k for k in moved)
    assert not {k for k in moved if k.endswith(("prototypes", "classifier.weight"))
                or ".add_on." in k or k.startswith("fusion")}
    lines = records(tmp_path / "run")
    assert [r["stage"] for r in lines[:2]] == ["features", "features"]
    assert 0 <= lines[0]["val_macro_auroc"] <= 1


ALL_BRANCHES = '{ rhythm = "all", morphology = "all", global = "all" }'


@pytest.mark.parametrize("heads", [ALL_BRANCHES, '{ global = "all" }'], ids=["all", "global"])
def test_all_label_feature_pretraining_teaches_a_backbone_every_label(small_data, tmp_path,
                                                                      heads):
    """model.feature_labels: a branch set to "all" pre-trains a head over all the run's
    labels, so its backbone also learns the other branches' labels; a branch left at "branch"
    keeps its own-label head. A label's features score is the mean logit of the heads that
    predict it."""
    config = load_config("tiny", write(tmp_path, f"[model]\nfeature_labels = {heads}\n"
                                       "[train]\nepochs = { features = 2 }\n"))
    config.train.epochs = {**config.train.epochs, "joint": 0, "prototypes": 0,
                           "classifier": 0, "fusion": 0}
    trainer = Trainer(config, small_data, tmp_path / "run", progress=False)
    trainer._project = lambda index: None
    trainer.fit()
    model = trainer.model
    n_labels = len(small_data.label_names)
    reads_all = {name: config.model.feature_labels[name] == "all" for name in model.branches}
    for name, branch in model.branches.items():
        rows = n_labels if reads_all[name] else len(branch.class_codes)
        assert branch.feature_head.weight.shape[0] == rows
    own = model.branch_label_index("global").tolist()
    other = [i for i in range(n_labels) if i not in own]
    assert model.branches["global"].feature_head.weight[other].abs().sum() > 0
    x_val = small_data.part("validation")[0]
    pred = predict(model, x_val)
    with torch.no_grad():
        outputs = model.eval()(torch.from_numpy(x_val))[1]
    total, count = torch.zeros(len(x_val), n_labels), torch.zeros(n_labels)
    for name, out in outputs.items():
        index = (torch.arange(n_labels) if reads_all[name]
                 else model.branch_label_index(name))
        total[:, index] += out.feature_logits
        count[index] += 1
    np.testing.assert_allclose(pred.features, (total / count).numpy(), atol=1e-5)


def test_the_feature_term_keeps_the_all_label_heads_in_the_joint_stage(small_data, tmp_path):
    """loss.feature_bce > 0 adds the all-label pre-training heads' BCE to the stages that train
    backbones with the prototypes: it is reported as its own term, the heads stay frozen, at 0
    it is not computed, and a branch whose head reads only its own labels adds nothing to it."""
    heads = {}
    for weight in (0.0, 1.0):
        config = load_config("tiny", write(
            tmp_path, f'[model]\nfeature_labels = {{ global = "all" }}\n'
            f"[loss]\nfeature_bce = {weight}\n"
            "[train]\nepochs = { features = 1, prototypes = 0, joint = 1, classifier = 0, "
            "fusion = 0 }\n"))
        run = tmp_path / f"run{weight}"
        trainer = Trainer(config, small_data, run, progress=False)
        stages = [s.name for s in trainer.stages]
        joint = trainer.stages[stages.index("joint")]
        assert ("feature_bce" in joint.loss) == (weight > 0)
        run_stage = trainer._run_stage

        def watched(index, stage, *args, trainer=trainer, run_stage=run_stage, weight=weight):
            if stage.name == "joint":
                before = {k: v.clone() for k, v in trainer.model.state_dict().items()
                          if "feature_head" in k}
                run_stage(index, stage, *args)
                heads[weight] = all(torch.equal(v, trainer.model.state_dict()[k])
                                    for k, v in before.items())
            else:
                run_stage(index, stage, *args)

        trainer._run_stage = watched
        trainer.fit()
        joint_lines = [r for r in records(run) if r["stage"] == "joint"]
        assert joint_lines and all(("feature_bce" in r) == (weight > 0) for r in joint_lines)
    assert heads == {0.0: True, 1.0: True}
    # the term on one batch: the global head's BCE over all labels, nothing from the others
    model = trainer.model.eval()
    x, y = (torch.from_numpy(a[:8].astype(np.float32)) for a in small_data.part("train"))
    ctx = LossContext.from_labels(model, small_data.part("train")[1], torch.device("cpu"))
    with torch.no_grad():
        logits, outputs = model(x)
        _, terms = stage_loss(joint, model, logits, outputs, y, ctx)
        expected = losses.bce(outputs["global"].feature_logits, y, ctx.pos_weight)
    assert float(terms["feature_bce"]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("switches", [
    '[model]\nprototype_init = "latent"\n[train]\npush_every = 1\n',
    '[model]\nprototype_init = "normal"\n[train]\npush_every = 0\n',  # the official code
], ids=["latent-init-and-push", "official"])
def test_push_and_latent_init_make_the_final_projection_a_small_step(small_data, tmp_path,
                                                                     switches):
    """With prototypes started on real latents and a push after every joint epoch, the model
    that early stopping keeps already has real windows for prototypes: the projection stage
    moves no prototype (cosine 1) and changes no validation output beyond the tolerance. The
    official code's set-up fails both (the control that shows the test can fail)."""
    config = load_config("tiny", write(tmp_path, switches + "epochs = { prototypes = 1, "
                                       "joint = 2, classifier = 0, fusion = 0 }\n"))
    official = "push_every = 0" in switches
    trainer = Trainer(config, small_data, tmp_path / "run", progress=False)
    x_val = small_data.part("validation")[0]
    outputs, project = [], trainer._project

    def observed(index):
        outputs.append(predict(trainer.model, x_val).branches)
        project(index)
        outputs.append(predict(trainer.model, x_val).branches)

    trainer._project = observed
    trainer.fit()
    change = np.abs(outputs[1] - outputs[0]).max()
    lines = records(tmp_path / "run")
    projection = next(r for r in lines if r["stage"] == "projection"
                      and "after_stage" not in r)["faithfulness"]
    if official:
        assert change > PROJECTION_TOLERANCE
        assert all(f["cosine_median"] < 0.9 for f in projection.values())
        return
    assert change <= PROJECTION_TOLERANCE
    assert [r["stage"] for r in lines[:4]] == ["prototype_init", "prototypes", "joint", "joint"]
    assert all(set(r["push_cosine_median"]) == {"rhythm", "morphology", "global"}
               for r in lines[2:4])
    for branch, figures in projection.items():
        assert figures["cosine_p10"] == pytest.approx(1.0, abs=1e-4), branch
    # the joint stage kept a pushed epoch, but the projection stage came after it: evaluate
    # reports the projection stage's figures and names no later push
    from protoecg.train.evaluation import evaluate_run
    result = evaluate_run(tmp_path / "run", fold=10, n_resamples=10)
    assert result["faithfulness"] == projection
    assert "faithfulness_at" not in result and "faithfulness_first_projection" not in result


def test_the_push_a_refine_stage_kept_is_the_runs_projection(small_data, tmp_path):
    """A refine stage ends on a pushed epoch: projection.json, the last projection line of
    metrics.jsonl and evaluate's faithfulness describe that push (its windows, its cosines, the
    validation AUROC across it), not the projection stage's windows the refine replaced; each
    stored prototype is the latent of the window projection.json names."""
    from protoecg.train.evaluation import evaluate_run
    config = load_config("tiny", write(tmp_path, "[train]\nepochs = { prototypes = 1, "
                                       "joint = 2, refine = 2, classifier = 0, fusion = 0 }\n"))
    trainer = Trainer(config, small_data, tmp_path / "run", progress=False)
    trainer.fit()
    lines = records(tmp_path / "run")
    projections = [r for r in lines if r["stage"] == "projection"]
    kept = [r for r in lines if r["stage"] == "refine" and r["best"]][-1]
    assert "after_stage" not in projections[0]
    assert (projections[-1]["after_stage"], projections[-1]["epoch"]) == ("refine",
                                                                          kept["epoch"])
    final = trainer._branch_scores()  # no epochs follow the refine: the kept model's
    for branch, figures in projections[-1]["faithfulness"].items():
        assert figures["cosine_median"] == pytest.approx(kept["push_cosine_median"][branch],
                                                         abs=1e-4)
        if figures["val_auroc_after"] is not None:  # None: no validation label of the branch
            assert figures["val_auroc_after"] == pytest.approx(final[branch], abs=1e-6)
    report = json.loads((tmp_path / "run" / "projection.json").read_text())
    model = trainer.model.eval()
    x_train = small_data.part("train")[0]
    ids = [small_data.dataset.record_ids[i] for i in small_data.split_index["train"]]
    for name, rows in report.items():
        branch = model.branches[name]
        for i, row in enumerate(rows):
            with torch.no_grad():
                latent = branch.latent(torch.from_numpy(x_train[[ids.index(row["record_id"])]]))
            window = latent[0, :, row["window"]:row["window"] + branch.prototype_steps]
            cosine = torch.nn.functional.cosine_similarity(
                window.flatten(), branch.prototypes[i].detach().flatten(), dim=0)
            assert float(cosine) == pytest.approx(1.0, abs=1e-4), (name, row)
    result = evaluate_run(tmp_path / "run", fold=10, n_resamples=10)
    assert result["faithfulness"] == projections[-1]["faithfulness"]
    assert result["faithfulness_at"] == {"after_stage": "refine", "epoch": kept["epoch"]}
    assert result["faithfulness_first_projection"] == projections[0]["faithfulness"]


def _refine_with_drops(small_data, tmp_path, max_drop, unfaithful, scores):
    """A tiny run whose refine stage (4 epochs, a real push after each) reports a fall of 0.2
    in rhythm's validation AUROC across the pushes of the epochs in ``unfaithful`` and the
    validation scores ``scores`` (forced: what a tiny model reaches differs between CPUs)."""
    config = load_config("tiny", write(tmp_path, f"[train]\npush_max_drop = {max_drop}\n"
                                       "patience = 10\nepochs = { prototypes = 1, joint = 1, "
                                       "refine = 4, classifier = 0, fusion = 0 }\n"))
    trainer = Trainer(config, small_data, tmp_path / "run", progress=False)
    push, epochs = trainer._push, []

    def push_with_drop():
        record, after = push()
        epochs.append(len(epochs) + 1)
        if epochs[-1] in unfaithful:
            rhythm = record["faithfulness"]["rhythm"]
            rhythm["val_auroc_before"] = (rhythm["val_auroc_after"] or 0.5) + 0.2
        return record, after

    monitor, forced = trainer._monitor_score, iter(scores)

    def forced_score(stage, pred):
        return next(forced) if stage.name == "refine" else monitor(stage, pred)

    trainer._push = push_with_drop
    trainer._monitor_score = forced_score
    trainer.fit()
    lines = records(tmp_path / "run")
    return ([r for r in lines if r["stage"] == "refine"],
            [r for r in lines if r["stage"] == "projection"][-1])


def test_faithful_selection_keeps_only_a_push_that_cost_no_branch_beyond_the_limit(
        small_data, tmp_path):
    """train.push_max_drop: whatever the scores, the refine stage keeps the one epoch whose
    push lowered no branch's validation AUROC by more than the limit."""
    # what makes the test able to fail: by score alone epoch 1 would be kept
    refine, kept = _refine_with_drops(small_data, tmp_path, 0.05, unfaithful={1, 2, 3},
                                      scores=[0.9, 0.8, 0.85, 0.6])
    assert [r["push_auroc_drop"] > 0.05 for r in refine] == [True, True, True, False]
    assert [r["val_macro_auroc"] for r in refine] == [0.9, 0.8, 0.85, 0.6]
    assert [r["best"] for r in refine] == [True, False, False, True]
    assert (kept["after_stage"], kept["epoch"]) == ("refine", 4)
    rhythm = kept["faithfulness"]["rhythm"]
    assert rhythm["val_auroc_before"] - rhythm["val_auroc_after"] <= 0.05


def test_without_a_faithful_push_the_best_score_is_kept(small_data, tmp_path):
    """Every push over the limit (and the limit off, 1.0): the selection is by score alone."""
    for max_drop in (0.05, 1.0):
        folder = tmp_path / str(max_drop)
        folder.mkdir()
        refine, kept = _refine_with_drops(small_data, folder, max_drop,
                                          unfaithful={1, 2, 3, 4}, scores=[0.7, 0.9, 0.8, 0.9])
        assert kept["epoch"] == 2, max_drop  # the first of equal best scores


def test_push_drop_is_the_largest_fall_over_branches():
    from protoecg.train.early_stopping import push_drop
    assert push_drop({"rhythm": {"val_auroc_before": 0.8, "val_auroc_after": 0.75},
                      "global": {"val_auroc_before": 0.7, "val_auroc_after": 0.72},
                      "morphology": {"val_auroc_before": None, "val_auroc_after": 0.6}}
                     ) == pytest.approx(0.05)
    assert push_drop({"rhythm": {"val_auroc_before": 0.7, "val_auroc_after": 0.9}}) == 0.0


def test_models_saved_before_the_feature_head_still_load(small_data):
    model = build_model(small_data.label_names, load_config("tiny").model)
    state = {k: v for k, v in model.state_dict().items() if "feature_head" not in k}
    fresh = build_model(small_data.label_names, load_config("tiny").model)
    fresh.load_state_dict(state)  # strict: the missing head is filled, nothing else
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())


def test_the_twins_backbones_seed_the_prototype_branches(small_data, tmp_path):
    """train.backbones_from copies a black-box twin's three backbones (and nothing else) into
    the prototype branches; a run that is not a completed twin is refused by name."""
    config = load_config("tiny")
    config.train.epochs = {**config.train.epochs, "black_box": 1}
    twin = Trainer(config, small_data, tmp_path / "twin", black_box=True, progress=False)
    twin.fit()
    twin_state = torch.load(tmp_path / "twin" / "model.pt", weights_only=True)
    seeded_config = load_config("tiny", write(
        tmp_path, f'[train]\nbackbones_from = "{tmp_path / "twin"}"\n'))
    seeded = Trainer(seeded_config, small_data, tmp_path / "seeded", progress=False).model
    plain = Trainer(config, small_data, tmp_path / "plain", progress=False).model
    for name, branch in seeded.branches.items():
        for key, value in branch.backbone.state_dict().items():
            assert torch.equal(value, twin_state[f"backbones.{name}.{key}"]), (name, key)
        assert torch.equal(branch.prototypes, plain.branches[name].prototypes)
        assert torch.equal(branch.add_on[0].weight, plain.branches[name].add_on[0].weight)
    from protoecg.train.run import RunError

    for bad, message in ((tmp_path / "nowhere", "no completed run"),
                         (tmp_path / "seeded", "no completed run")):
        wrong = load_config("tiny", write(tmp_path, f'[train]\nbackbones_from = "{bad}"\n'))
        with pytest.raises(RunError, match=message):
            Trainer(wrong, small_data, tmp_path / "refused", progress=False)


def test_stage_lr_scale_slows_only_its_stage(tmp_path):
    """train.stage_lr_scale multiplies every group's rate in the named stage (here refine,
    after projection) on top of train.lr_scale, and leaves the other stages alone."""
    config = load_config("tiny", write(tmp_path, "[train]\nlr = 1e-3\nepochs = { refine = 3 }\n"
                                       "lr_scale = { backbone = 0.5 }\n"
                                       "stage_lr_scale = { refine = 0.1 }\n"))
    table = {s.name: s for s in config.schedule("protoecgnet")}
    assert {g: o.lr for g, o in table["refine"].optimizer.items()} == pytest.approx(
        {"backbone": 5e-5, "add_on": 1e-4, "prototypes": 1e-4})
    assert {g: o.lr for g, o in table["joint"].optimizer.items()} == pytest.approx(
        {"backbone": 5e-4, "add_on": 1e-3, "prototypes": 1e-3})


@pytest.mark.parametrize("in_range", [True, False])
def test_prototypes_in_latent_range_keeps_every_prototype_in_the_unit_cube(small_data,
                                                                          tmp_path, in_range):
    """With train.prototypes_in_latent_range every prototype stays inside [0, 1]^D (where the
    add-on's sigmoid puts every real latent) through training; without it, the normal
    initialisation and the diversity term leave it (the control that shows the test can
    fail)."""
    config = load_config("tiny", write(tmp_path, f"[train]\nprototypes_in_latent_range = "
                                       f"{str(in_range).lower()}\nepochs = {{ prototypes = 1, "
                                       "joint = 1, classifier = 0, fusion = 0 }\n"))
    trainer = Trainer(config, small_data, tmp_path / "run", progress=False)
    trainer._project = lambda index: None  # look at the prototypes as training left them
    trainer.fit()
    values = torch.cat([b.prototypes.detach().flatten()
                        for b in trainer.model.branches.values()])
    inside = bool(((values >= 0) & (values <= 1)).all())
    assert inside == in_range


@pytest.mark.parametrize("activation", ["sigmoid", "none", "batch_norm"])
def test_add_on_activation_sets_the_latent_range(small_data, tmp_path, activation):
    """'sigmoid' (official) keeps every latent in (0, 1); 'none' lets latents take both signs;
    'batch_norm' centres them: only under the sigmoid is every cosine of two real windows
    positive. A sigmoid model's weights load into a 'none' model (the sigmoid has none)."""
    config = load_config("tiny", write(tmp_path, f'[model]\nadd_on_activation = '
                                       f'"{activation}"\n'))
    torch.manual_seed(0)
    model = build_model(small_data.label_names, config.model).train()  # centred on the batch
    x = torch.as_tensor(small_data.part("train")[0][:8])
    with torch.no_grad():
        latents = [b.latent(x) for b in model.branches.values()]
    values = torch.cat([z.flatten() for z in latents])
    assert bool(((values > 0) & (values < 1)).all()) == (activation == "sigmoid")
    z = latents[1].transpose(1, 2).reshape(-1, latents[1].shape[1])  # morphology windows
    unit = torch.nn.functional.normalize(z, dim=1)
    # in the sigmoid's positive orthant every pair of windows has a positive cosine
    assert (float((unit @ unit.T).min()) > 0) == (activation == "sigmoid")
    if activation != "batch_norm":  # the centring keeps running statistics (buffers)
        other = build_model(small_data.label_names, load_config(
            "tiny", write(tmp_path, '[model]\nadd_on_activation = "none"\n')).model)
        other.load_state_dict(model.state_dict())


@pytest.mark.parametrize("connection", [-0.5, 0.0])
def test_incorrect_class_connection_sets_the_classifiers_start(small_data, tmp_path,
                                                               connection):
    config = load_config("tiny", write(tmp_path, f"[model]\nincorrect_class_connection = "
                                       f"{connection}\n"))
    model = build_model(small_data.label_names, config.model)
    for branch in model.branches.values():
        identity = branch.class_identity().T
        weight = branch.classifier.weight.detach()
        assert torch.equal(weight[identity == 1], torch.ones(int(identity.sum())))
        assert set(weight[identity == 0].tolist()) <= {connection}
