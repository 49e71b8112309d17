"""The CPU's bfloat16 fast path (``train.cpu_bf16``): the same outputs as fp32 within a stated
tolerance, training that runs and learns under it, and a clear refusal where the CPU would only
emulate bf16."""

import json

import numpy as np
import pytest
import torch
from scipy.special import expit

from protoecg.cli import main
from protoecg.data import load_dataset
from protoecg.model import build_model
from protoecg.train import trainer as trainer_module
from protoecg.train.config import ConfigError, load_config
from protoecg.train.data import prepare
from protoecg.train.predict import cpu_has_native_bf16, predict
from protoecg.train.trainer import Trainer

pytestmark = pytest.mark.slow  # trains a tiny model

# The stated tolerance: bf16 autocast keeps 8 bits of mantissa in the convolutions; the largest
# change it may make to a probability (fusion or branch) or a prototype's similarity.
BF16_TOLERANCE = 0.01

needs_bf16 = pytest.mark.skipif(not cpu_has_native_bf16(),
                                reason="this CPU has no native bfloat16 (AVX512-BF16 or AMX)")


@pytest.fixture(scope="module")
def small_data():
    dataset = load_dataset("synthetic", fs=100)
    config = load_config("tiny")
    return prepare(dataset.subset(np.arange(64)), config.data)


def write(tmp_path, text):
    path = tmp_path / "override.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def trained_tiny(small_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("fp32")
    config = load_config("tiny")
    config.train.epochs.update(prototypes=1, joint=2, classifier=1, fusion=1)
    trainer = Trainer(config, small_data, run, progress=False)
    trainer.fit()
    return trainer.model.eval()


@needs_bf16
@pytest.mark.parametrize("which", ["trained tiny", "untrained ptbxl_subset"])
def test_bf16_predictions_match_fp32_within_tolerance(small_data, trained_tiny, which):
    torch.manual_seed(0)
    model = trained_tiny if which == "trained tiny" else build_model(
        small_data.label_names, load_config("ptbxl_subset").model).eval()
    x = small_data.part("validation")[0]
    fp32 = predict(model, x, device="cpu", evidence=True)
    bf16 = predict(model, x, device="cpu", amp=True, evidence=True)
    assert not np.array_equal(fp32.fusion, bf16.fusion)  # bf16 did run
    for name in ("fusion", "branches"):  # predictions are logits; the tolerance is on probabilities
        difference = expit(getattr(fp32, name)) - expit(getattr(bf16, name))
        assert np.abs(difference).max() <= BF16_TOLERANCE, name
    assert bf16.similarities.dtype == np.float32  # similarities are computed in float32
    assert np.abs(fp32.similarities - bf16.similarities).max() <= BF16_TOLERANCE


@needs_bf16
def test_training_under_cpu_bf16_runs_and_learns(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "synthetic", "--preset", "tiny", "--out", str(out),
                 "--quiet", "--epochs", "2", "--config",
                 str(write(tmp_path, "[train]\ncpu_bf16 = true\n"))]) == 0
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert losses and all(np.isfinite(losses))
    joint = [r for r in records if r["stage"] == "joint"]
    assert joint[-1]["loss"] < joint[0]["loss"] or len(joint) == 1
    assert json.loads((out / "config.json").read_text())["train"]["cpu_bf16"] is True


def test_cpu_bf16_is_refused_where_the_cpu_would_emulate_it(small_data, tmp_path,
                                                            monkeypatch):
    monkeypatch.setattr(trainer_module, "cpu_has_native_bf16", lambda: False)
    config = load_config("tiny", write(tmp_path, "[train]\ncpu_bf16 = true\n"))
    with pytest.raises(ConfigError, match="train.cpu_bf16: this CPU has no native bfloat16"):
        Trainer(config, small_data, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()  # refused before anything was written
    # and off (the default) it trains in fp32 on any CPU
    assert Trainer(load_config("tiny"), small_data, tmp_path / "run2", progress=False).amp \
        is False


@needs_bf16
def test_bf16_projection_picks_windows_that_are_best_in_fp32(small_data, trained_tiny):
    """Ranking windows under bf16 picks, for every prototype, a record whose fp32 similarity is
    within the tolerance of the fp32 best (only near-ties can go another way), and the
    prototypes become the fp32 latents of their windows either way."""
    import copy

    from protoecg.train.projection import _best_windows, _eligible, project_branch
    x, y = small_data.part("train")
    for name, branch in trained_tiny.branches.items():
        labels = y[:, [small_data.label_names.index(c) for c in branch.class_codes]]
        exact, _ = _best_windows(branch, x, 64, torch.device("cpu"))  # (P, N) fp32
        exact = exact.masked_fill(~_eligible(branch, labels).T, float("-inf"))
        fp32_branch, bf16_branch = copy.deepcopy(branch), copy.deepcopy(branch)
        fp32 = project_branch(fp32_branch, x, labels, n_neighbours=0)
        bf16 = project_branch(bf16_branch, x, labels, n_neighbours=0, amp=True)
        rows = torch.arange(branch.n_prototypes)
        chosen = exact[rows, torch.from_numpy(bf16.record)]
        best = exact[rows, torch.from_numpy(fp32.record)]
        assert float((best - chosen).max()) <= BF16_TOLERANCE, name
        with torch.no_grad():  # each prototype is its window's fp32 latent
            z = bf16_branch.latent(torch.from_numpy(x[bf16.record]))
        steps = branch.prototype_steps
        windows = torch.stack([z[p, :, w:w + steps] for p, w in enumerate(bf16.window)])
        assert torch.equal(windows, bf16_branch.prototypes.detach()), name
