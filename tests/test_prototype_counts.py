"""Issue 29: per-class prototype counts the training data can fill.

A class keeps ``ceil(positives / train.positives_per_prototype)`` of its prototypes in use
(at least one, at most the branch's count); the rest start disabled, hold no window in
projection, and no first-round study asks a rater about them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from protoecg.catalog.reader import read_catalog
from protoecg.model import build_model
from protoecg.study.setup import create_study_from_files, load_study_files
from protoecg.study.store import ReviewStore
from protoecg.train.config import ConfigError, load_config
from protoecg.train.counts import disable_unfilled, fitted_counts
from protoecg.train.projection import hold, project_branch
from protoecg.train.windows import ProjectionRules
from tests._synthetic_catalog import write_synthetic_catalog

PROTOCOL = "study_protocols/protoecgnet_clinician_review.toml"


@pytest.mark.parametrize(("positives", "per", "maximum", "expected"), [
    (0, 10, 6, 1),     # a class keeps one prototype whatever its data
    (10, 10, 6, 1),
    (11, 10, 6, 2),
    (55, 10, 6, 6),
    (1000, 10, 6, 6),  # never more than the branch's count
    (3, 0, 6, 6),      # 0 = the paper's fixed counts
])
def test_fitted_counts(positives, per, maximum, expected):
    assert fitted_counts(positives, per, maximum) == expected


def _model(per_class: int = 4):
    config = load_config("tiny").model
    config.add_on_activation = "none"
    config.prototypes_per_class = {"rhythm": 2, "morphology": per_class, "global": 2}
    return build_model(["SR", "AFIB", "CLBBB", "STD_", "NORM"], config).eval()


def test_rare_classes_keep_fewer_prototypes_and_the_rest_take_no_part():
    torch.manual_seed(0)
    model = _model()
    labels = np.zeros((40, 5), dtype=np.float32)
    labels[:40, 0] = 1   # SR: 40 positives
    labels[:3, 1] = 1    # AFIB: 3
    labels[:25, 2] = 1   # CLBBB: 25
    labels[:9, 3] = 1    # STD_: 9
    labels[:12, 4] = 1   # NORM: 12
    counts = disable_unfilled(model, labels, per_prototype=10)
    assert counts == {"rhythm": {"SR": 2, "AFIB": 1},
                      "morphology": {"CLBBB": 3, "STD_": 1},
                      "global": {"NORM": 2}}
    morphology = model.branches["morphology"]
    assert morphology.active.tolist() == [1, 1, 1, 0, 1, 0, 0, 0]
    # the disabled ones are the last of their class, ids unchanged
    off = [pid for pid, on in zip(model.prototype_ids, model.active.tolist(), strict=True)
           if not on]
    assert off == ["rhythm/AFIB/01", "morphology/CLBBB/03", "morphology/STD_/01",
                   "morphology/STD_/02", "morphology/STD_/03"]
    # no influence on any output: its classifier and fusion weights are 0, its similarity masked
    x = torch.randn(2, 12, 1000)
    before, _ = model(x)
    with torch.no_grad():
        morphology.prototypes[3] += 5.0
    after, _ = model(x)
    assert torch.equal(before, after)


def test_a_disabled_prototype_holds_no_window():
    """Every prototype of STD_ wants the same window of ECG 0; with three of four disabled the
    one in use takes it, and ``hold`` lends the others' windows to nobody."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _model()
    branch = model.branches["morphology"]
    signals = rng.normal(0, 0.3, (12, 12, 1000)).astype(np.float32)
    labels = np.ones((12, 2), dtype=np.float32)
    with torch.no_grad():
        z = branch.latent(torch.from_numpy(signals[:1]))[0]
        branch.prototypes[:] = z[:, 12:12 + branch.prototype_steps]
    branch.disable([1, 2, 3, 5, 6, 7])
    rules = ProjectionRules("catalog", margin_samples=100)
    result = project_branch(branch, signals, labels, replace=False, n_neighbours=0,
                            rules=rules)
    assert result.active.tolist() == [1, 0, 0, 0, 1, 0, 0, 0]
    # the two prototypes in use never overlap; disabled ones took their best window, unheld
    start, end = result.sample_window(result.window, 1000)
    a, b = 0, 4
    assert not (result.record[a] == result.record[b]
                and start[a] < end[b] and start[b] < end[a])
    occupied: dict = {}
    hold(occupied, result, 1000)
    assert sum(len(v) for v in occupied.values()) == 2


def test_negative_positives_per_prototype_is_refused(tmp_path):
    override = tmp_path / "bad.toml"
    override.write_text("[train]\npositives_per_prototype = -1\n")
    with pytest.raises(ConfigError, match="train.positives_per_prototype must be >= 0"):
        load_config("tiny", override)


def test_a_first_study_rates_only_active_prototypes(tmp_path):
    folder = write_synthetic_catalog(tmp_path / "catalog")
    table = pd.read_csv(folder / "prototypes.csv")
    table["active"] = 1
    table.loc[table["prototype_id"].str.startswith("morphology/STD_/"), "active"] = 0
    table.to_csv(folder / "prototypes.csv", index=False)
    off = set(table.loc[table["active"] == 0, "prototype_id"])
    assert off
    protocol, catalog = load_study_files(PROTOCOL, folder)
    with ReviewStore(tmp_path / "review.db") as store:
        study, n = create_study_from_files(store, "first", protocol, catalog)
        rated = {p.prototype_id for p in store.prototypes(study)}
    assert n == len(table) - len(off) == len(rated)
    assert not rated & off
    assert read_catalog(folder).prototypes["active"].sum() == n
