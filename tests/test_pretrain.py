"""Pretraining building blocks: each ECG augmentation (shape, dtype, seeded determinism, an
invariant), NT-Xent, the cosine term and the CLIP loss against hand-worked values, and the
hashed report encoder."""

from __future__ import annotations

import json
import math
import zlib

import numpy as np
import pytest
import torch

from protoecg.model.text import HashedTextEncoder, hash_tokens, tokens
from protoecg.pretrain import augment
from protoecg.pretrain.losses import clip_loss, cosine_term, nt_xent, simclr_loss


def batch(seed: int = 0) -> torch.Tensor:
    return torch.randn(4, 12, 1000, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(augment.AUGMENTATIONS))
def test_each_augmentation_keeps_shape_and_dtype_is_seeded_and_leaves_its_input(name):
    function = augment.AUGMENTATIONS[name]
    x = batch()
    original = x.clone()
    a = function(x, torch.Generator().manual_seed(1))
    b = function(x, torch.Generator().manual_seed(1))
    c = function(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, original)
    assert not torch.equal(a, x)


def test_amplitude_scale_keeps_every_sign_and_so_every_zero_crossing():
    x = batch()
    y = augment.amplitude_scale(x, torch.Generator().manual_seed(0))
    assert torch.equal(torch.sign(y), torch.sign(x))
    ratio = y / x
    assert torch.allclose(ratio, ratio[:, :1, :1].expand_as(ratio), rtol=1e-5)  # one factor
    assert ((ratio[:, 0, 0] >= 0.8) & (ratio[:, 0, 0] <= 1.2)).all()


def test_shift_moves_the_signal_and_pads_with_zeros():
    x = batch()
    y = augment.shift(x, torch.Generator().manual_seed(3), max_fraction=0.1)
    for i in range(len(x)):
        k = next(k for k in range(-100, 101)
                 if torch.equal(y[i, :, max(k, 0):1000 + min(k, 0)],
                                x[i, :, max(-k, 0):1000 - max(k, 0)]))
        assert (y[i, :, :k] == 0).all() if k > 0 else (y[i, :, 1000 + k:] == 0).all()


def test_baseline_wander_and_powerline_add_one_common_component_of_bounded_size():
    x = batch()
    for function, bound in ((augment.baseline_wander, 0.1), (augment.powerline_noise, 0.05)):
        added = function(x, torch.Generator().manual_seed(4)) - x
        assert torch.allclose(added, added[:, :1].expand_as(added), atol=1e-6)
        assert added.abs().max() <= bound + 1e-6
    wander = augment.baseline_wander(x, torch.Generator().manual_seed(4)) - x
    # below 0.5 Hz at 100 Hz: consecutive samples differ by at most 2*pi*0.5*0.1/100
    assert wander.diff(dim=2).abs().max() <= 2 * math.pi * 0.5 * 0.1 / 100 + 1e-6


def test_gaussian_noise_has_the_stated_deviation():
    x = torch.zeros(8, 12, 1000)
    noise = augment.gaussian_noise(x, torch.Generator().manual_seed(5), sigma=0.02)
    assert noise.std().item() == pytest.approx(0.02, rel=0.02)


def test_lead_dropout_zeroes_whole_leads_and_keeps_at_least_one():
    x = batch() + 10  # no sample is zero by chance
    y = augment.lead_dropout(x, torch.Generator().manual_seed(6), p=0.99)
    for i in range(len(x)):
        zero = (y[i] == 0).all(dim=1)
        assert torch.equal(y[i][~zero], x[i][~zero])
        assert (~zero).sum() >= 1


def test_view_maker_is_seeded():
    views = augment.ViewMaker(fs=100.0)
    x = batch()
    assert torch.equal(views(x, torch.Generator().manual_seed(7)),
                       views(x, torch.Generator().manual_seed(7)))


# --------------------------------------------------------------------------- losses
def test_nt_xent_against_a_hand_worked_value():
    # views (1,0),(0,1) and their identical twins, temperature 1: each row's logits are
    # 0 to the other ECG's two views and 1 to its twin -> -log(e / (e + 2))
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert nt_xent(z, z.clone(), temperature=1.0).item() == pytest.approx(
        math.log(1 + 2 / math.e), rel=1e-6)
    # a scale of an embedding changes nothing (normalised); temperature 0.5 doubles logits
    assert nt_xent(3 * z, z, temperature=0.5).item() == pytest.approx(
        math.log(1 + 2 / math.e**2), rel=1e-6)


def test_cosine_term_and_plain_simclr():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert cosine_term(a, b).item() == pytest.approx(1.0)
    assert cosine_term(a, 5 * a).item() == pytest.approx(0.0, abs=1e-7)
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    assert simclr_loss(z1, z2, 0.2, cosine_weight=0).item() == pytest.approx(
        nt_xent(z1, z2, 0.2).item())
    assert simclr_loss(z1, z2, 0.2, cosine_weight=0.5).item() == pytest.approx(
        nt_xent(z1, z2, 0.2).item() + 0.5 * cosine_term(z1, z2).item(), rel=1e-6)


def test_clip_loss_against_a_hand_worked_value():
    # ECG i = report i = e_i, temperature 1: each row and column is softmax over (1, 0)
    e = torch.eye(2)
    assert clip_loss(e, e.clone(), temperature=1.0).item() == pytest.approx(
        math.log(1 + 1 / math.e), rel=1e-6)
    # swapped reports: the right pair now scores 0 and the wrong one 1
    assert clip_loss(e, e.flip(0), temperature=1.0).item() == pytest.approx(
        math.log(1 + math.e), rel=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        clip_loss(torch.zeros(2, 3), torch.zeros(3, 3))


# --------------------------------------------------------------------------- text
def test_report_tokens_and_stable_hashes():
    assert tokens("Sinusrhythmus. QRS") == [
        "w:sinusrhythmus", "c:<si", "c:sin", "c:inu", "c:nus", "c:usr", "c:srh", "c:rhy",
        "c:hyt", "c:yth", "c:thm", "c:hmu", "c:mus", "c:us>", "w:qrs", "c:<qr", "c:qrs",
        "c:rs>"]
    assert hash_tokens("qrs", 1000)[0] == zlib.crc32(b"w:qrs") % 1000


def test_hashed_text_encoder_embeds_reports_and_empty_ones():
    torch.manual_seed(0)
    encoder = HashedTextEncoder(dim=16, buckets=512, width=8)
    out = encoder(["sinus rhythm, normal ECG", "", "sinus rhythm, normal ECG"])
    assert out.shape == (3, 16)
    assert torch.equal(out[0], out[2]) and not torch.equal(out[0], out[1])
    out.sum().backward()  # it trains
    assert encoder.embedding.weight.grad.abs().sum() > 0
    assert np.isfinite(out.detach().numpy()).all()


# --------------------------------------------------------------------------- the stage
@pytest.fixture(scope="module")
def guarded_data():
    """The synthetic set with every validation and test ECG made NaN and its report a marker:
    a pretraining batch that ever held one would give a NaN loss or show the marker."""
    from protoecg.data import load_dataset
    from protoecg.train.config import load_config
    from protoecg.train.data import prepare

    dataset = load_dataset("synthetic", fs=100)
    data = prepare(dataset.subset(np.arange(120)), load_config("tiny").data)
    held_out = np.concatenate([data.split_index["validation"], data.split_index["test"]])
    assert len(held_out) > 0
    data.signals = data.signals.copy()
    data.signals[held_out] = np.nan
    reports = list(data.dataset.reports)
    for i in held_out:
        reports[i] = "HELD-OUT"
    data.dataset.reports = reports
    return data


@pytest.mark.parametrize("method", ["simclr", "report"])
def test_pretraining_never_sees_a_validation_or_test_ecg(guarded_data, tmp_path, method,
                                                         monkeypatch):
    from protoecg.model.text import HashedTextEncoder
    from protoecg.train.config import load_config
    from protoecg.train.trainer import Trainer

    seen = []
    original = HashedTextEncoder.forward
    monkeypatch.setattr(HashedTextEncoder, "forward",
                        lambda self, reports: seen.extend(reports) or original(self, reports))
    config = load_config("tiny")
    config.train.epochs = {**config.train.epochs, "pretrain": 2}
    trainer = Trainer(config, guarded_data, tmp_path / "pre", progress=False,
                      schedule=f"pretrain_{method}")
    trainer.fit()
    lines = [json.loads(x) for x in (tmp_path / "pre" / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in lines] == ["pretrain", "pretrain"]
    assert all(math.isfinite(r["loss"]) for r in lines) and "val_macro_auroc" not in lines[0]
    state = torch.load(tmp_path / "pre" / "model.pt", weights_only=True)
    assert all(torch.isfinite(v.float()).all() for v in state.values())
    if method == "report":
        assert seen and "HELD-OUT" not in seen


def test_init_loads_exactly_the_encoder_weights(guarded_data, tmp_path):
    from protoecg.cli import main
    from protoecg.train.config import load_config
    from protoecg.train.trainer import Trainer

    assert main(["pretrain", "--dataset", "synthetic", "--method", "simclr", "--preset", "tiny",
                 "--epochs", "1", "--out", str(tmp_path / "pre"), "--quiet"]) == 0
    pre = torch.load(tmp_path / "pre" / "model.pt", weights_only=True)
    config = load_config("tiny")
    plain = Trainer(config, guarded_data, tmp_path / "plain", progress=False).model
    config.train.backbones_from = str(tmp_path / "pre")
    seeded = Trainer(config, guarded_data, tmp_path / "seeded", progress=False).model
    twin = Trainer(config, guarded_data, tmp_path / "twin", black_box=True,
                   progress=False).model
    for name, branch in seeded.branches.items():
        for key, value in branch.backbone.state_dict().items():
            assert torch.equal(value, pre[f"backbones.{name}.{key}"]), (name, key)
            assert torch.equal(twin.backbones[name].state_dict()[key],
                               pre[f"backbones.{name}.{key}"])
        # everything that is not an encoder starts as without --init
        for key, value in branch.state_dict().items():
            if not key.startswith("backbone."):
                assert torch.equal(value, plain.branches[name].state_dict()[key]), key
    assert torch.equal(seeded.fusion.weight, plain.fusion.weight)


# --------------------------------------------------------------------------- label budgets
def test_labelled_subset_is_seeded_stratified_and_keeps_a_positive_per_label():
    from protoecg.train.data import labelled_subset

    rng = np.random.default_rng(0)
    labels = (rng.random((400, 6)) < [0.5, 0.3, 0.2, 0.1, 0.05, 0.0]).astype(np.uint8)
    labels[399, 5] = 1  # one record alone carries label 5
    index = np.arange(1000, 1400)  # positions in a larger dataset
    share = labelled_subset(index, np.concatenate([np.zeros((1000, 6), np.uint8), labels]),
                            0.1, seed=3)
    again = labelled_subset(index, np.concatenate([np.zeros((1000, 6), np.uint8), labels]),
                            0.1, seed=3)
    np.testing.assert_array_equal(share, again)
    assert set(share) <= set(index) and len(share) in (40, 41)  # 10%, plus the top-up
    assert 1399 in share  # label 5's only positive was added
    chosen = labels[share - 1000]
    # stratified: each common label's prevalence within 5 points of the whole set's
    for column in range(4):
        assert abs(chosen[:, column].mean() - labels[:, column].mean()) < 0.05


def test_train_fraction_leaves_validation_and_test_folds_whole(guarded_data):
    from protoecg.data import load_dataset
    from protoecg.train.config import load_config
    from protoecg.train.data import prepare

    config = load_config("tiny")
    dataset = load_dataset("synthetic", fs=100).subset(np.arange(120))
    whole = prepare(dataset, config.data)
    config.data.train_fraction = 0.5
    half = prepare(dataset, config.data)
    assert len(half.split_index["train"]) < len(whole.split_index["train"])
    assert set(half.split_index["train"]) <= set(whole.split_index["train"])
    for split in ("validation", "test"):
        np.testing.assert_array_equal(half.split_index[split], whole.split_index[split])


@pytest.mark.parametrize("black_box", [False, True], ids=["protoecgnet", "twin"])
def test_progressive_unfreezing_trains_the_last_stages_first(guarded_data, tmp_path, black_box):
    """train.epochs.unfreeze adds rows that train the last residual stage, then the last two,
    then three; the first stage and the stem (and their batch-norm statistics) stay as they
    were until the row that trains everything (here 0 epochs)."""
    from protoecg.train.config import load_config
    from protoecg.train.trainer import Trainer

    config = load_config("tiny")
    config.train.epochs = {**dict.fromkeys(config.train.epochs, 0), "unfreeze": 1}
    trainer = Trainer(config, guarded_data, tmp_path / "run", progress=False,
                      black_box=black_box)
    trainer._project = lambda index: None  # nothing to project: the prototypes row is off
    names = [s.name for s in trainer.stages if s.name.startswith("unfreeze")]
    assert names == (["unfreeze_twin_1", "unfreeze_twin_2", "unfreeze_twin_3"] if black_box
                         else ["unfreeze_1", "unfreeze_2", "unfreeze_3"])
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    for part, should_move in (("trunk.layers.3.", True), ("trunk.layers.2.", True),
                              ("trunk.layers.1.", True), ("trunk.layers.0.", False),
                              (".conv1.weight", False), (".bn1.running_mean", False)):
        keys = {k for k in before if "backbone" in k and part in k
                and (part != ".conv1.weight" or ".trunk." not in k)
                and (part != ".bn1.running_mean" or ".trunk." not in k)}
        assert keys, part
        assert bool(keys & moved) is should_move, part
