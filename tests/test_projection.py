import copy

import numpy as np
import pytest
import torch

from protoecg.data.synthetic import make_synthetic
from protoecg.model import build_model
from protoecg.model.prototypes import window_similarity
from protoecg.train.config import load_config
from protoecg.train.projection import project_branch


@pytest.fixture(scope="module")
def setting():
    torch.manual_seed(3)
    data = make_synthetic(n_records=48, fs=100, seed=3)
    present = data.labels.sum(axis=0) > 0
    labels = [c for c, keep in zip(data.label_names, present, strict=True) if keep]
    model = build_model(labels, load_config("tiny").model).eval()
    return model, data.signals, data.labels[:, present]


@pytest.mark.parametrize("branch_name", ["morphology", "rhythm", "global"])
def test_projection_names_the_best_window_and_copies_its_latent(setting, branch_name):
    model, signals, labels = setting
    branch = model.branches[branch_name]
    y = labels[:, model.branch_label_index(branch_name).numpy()]
    before = branch.prototypes.detach().clone()
    with torch.no_grad():
        z = branch.latent(torch.from_numpy(signals))
        sim = window_similarity(z, before)  # (N, P, W) before projection
    result = project_branch(branch, signals, y, batch_size=7, replace=True)
    identity = branch.class_identity().numpy()
    eligible = (y @ identity.T) > 0  # (N, P)
    steps = branch.prototype_steps
    for p in range(branch.n_prototypes):
        # the window it names is where the similarity is maximal (over eligible ECGs)
        masked = np.where(eligible[:, p, None], sim[:, p].numpy(), -np.inf)
        n, w = np.unravel_index(np.argmax(masked), masked.shape)
        assert (result.record[p], result.window[p]) == (n, w)
        assert result.similarity[p] == pytest.approx(masked.max(), abs=1e-5)
        # the projected prototype equals the latent of the window it names
        window = z[result.record[p], :, result.window[p]:result.window[p] + steps]
        torch.testing.assert_close(branch.prototypes[p].detach(), window)
        assert y[result.record[p]] @ identity[p] > 0  # the source ECG carries its class
    # after projection its own window matches perfectly; neighbours are other ECGs, ranked
    assert np.all(result.neighbour_record != result.record[:, None])
    for row in result.neighbour_similarity:
        kept = row[np.isfinite(row)]
        assert np.all(np.diff(kept) <= 1e-6)
    assert np.nanmax(result.neighbour_similarity) <= 1.0 + 1e-5


def test_windows_in_samples(setting):
    model, signals, labels = setting
    branch = model.branches["morphology"]
    y = labels[:, model.branch_label_index("morphology").numpy()]
    result = project_branch(branch, signals, y, replace=False)
    start, end = result.sample_window(np.array([0, 29]), 1000)
    # 3 of 32 latent steps = 3 x 31.25 samples at 100 Hz: about 0.94 s
    assert start.tolist() == [0, 906] and end.tolist() == [94, 1000]


def test_distinct_projection_never_puts_two_prototypes_of_a_class_in_one_record(setting):
    """The official code lets twin prototypes land on the same window; with
    ``distinct_records`` the later one takes its next-best record (tiny: 2 per class)."""
    model, signals, labels = setting
    branch_name = "morphology"
    y = labels[:, model.branch_label_index(branch_name).numpy()]
    results = {}
    for distinct in (False, True):
        branch = copy.deepcopy(model.branches[branch_name])
        with torch.no_grad():  # every prototype of a class a twin of the class's first one
            k = branch.n_prototypes // len(branch.class_codes)
            for p in range(branch.n_prototypes):
                branch.prototypes[p] = branch.prototypes[p - p % k]
        results[distinct] = project_branch(branch, signals, y, replace=True,
                                           distinct_records=distinct)
        classes = branch.prototype_class.numpy()
    pairs = [(p, q) for p in range(len(classes)) for q in range(p + 1, len(classes))
             if classes[p] == classes[q]]
    assert pairs  # the check has something to check
    assert any(results[False].record[p] == results[False].record[q] for p, q in pairs)
    eligible = y @ np.eye(y.shape[1])[classes].T > 0  # (N, P)
    for p, q in pairs:
        if eligible[:, p].sum() >= 2:
            assert results[True].record[p] != results[True].record[q]
    # the first prototype of each class keeps its best record; the twin takes the next best
    firsts = [p for p in range(len(classes)) if p % k == 0]
    assert all(results[True].record[p] == results[False].record[p] for p in firsts)


@pytest.mark.parametrize("branch_name", ["morphology", "global"])
def test_projecting_a_projected_model_again_moves_nothing(setting, branch_name):
    """Projection is idempotent, even where windows are near-duplicates whose cosine to each
    other is 1 within float32's resolution (here: every ECG twice, the copy with noise of sd
    1e-4 added); a float32 search let prototypes hop between such windows at every push."""
    model, signals, labels = setting
    branch = copy.deepcopy(model.branches[branch_name])
    y = labels[:, model.branch_label_index(branch_name).numpy()]
    rng = np.random.default_rng(0)
    twins = signals + rng.normal(0, 1e-4, signals.shape).astype(np.float32)
    both, y_both = np.concatenate([signals, twins]), np.concatenate([y, y])
    first = project_branch(branch, both, y_both, batch_size=16, replace=True)
    projected = branch.prototypes.detach().clone()
    for _ in range(3):
        again = project_branch(branch, both, y_both, batch_size=16, replace=True)
        np.testing.assert_array_equal(again.record, first.record)
        np.testing.assert_array_equal(again.window, first.window)
        torch.testing.assert_close(branch.prototypes.detach(), projected, rtol=0, atol=1e-6)


def _overlapping_pairs(result, scope):
    """Pairs of prototypes in one scope whose windows overlap in one record."""
    steps = result.steps
    return [(p, q) for p in range(len(scope)) for q in range(p + 1, len(scope))
            if scope[p] == scope[q] and result.record[p] == result.record[q]
            and abs(int(result.window[p]) - int(result.window[q])) < steps]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("distinct", ["class", "branch"])
def test_projection_never_overlaps_windows_nor_touches_the_edges(seed, distinct):
    """Property over random latents (a fresh random branch, random signals and labels per
    seed, prototypes of a class made twins so that they all want one window): no two
    prototypes of a class (or, with "branch", of the branch) on overlapping windows of one
    record, and no time-local window within a second of the record's edges."""
    from protoecg.train.windows import ProjectionRules

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    config = load_config("tiny").model
    config.add_on_activation = "none"
    model = build_model(["CLBBB", "STD_", "STE_", "IRBBB"], config).eval()
    branch = model.branches["morphology"]
    n = 12
    signals = rng.normal(0, 0.3, (n, 12, 1000)).astype(np.float32)
    labels = (rng.random((n, len(branch.class_codes))) < 0.4).astype(np.float32)
    labels[np.arange(len(branch.class_codes)), np.arange(len(branch.class_codes))] = 1
    k = branch.n_prototypes // len(branch.class_codes)
    with torch.no_grad():
        for p in range(branch.n_prototypes):
            branch.prototypes[p] = branch.prototypes[p - p % k]
    rules = ProjectionRules(distinct, margin_samples=100)
    plain = project_branch(copy.deepcopy(branch), signals, labels, replace=True,
                           n_neighbours=0)
    classes = branch.prototype_class.numpy().tolist()
    assert _overlapping_pairs(plain, classes)  # without the rules twins share a window
    result = project_branch(branch, signals, labels, replace=True, n_neighbours=2,
                            rules=rules)
    scope = classes if distinct == "class" else [0] * len(classes)
    assert _overlapping_pairs(result, scope) == []
    start, end = result.sample_window(result.window, 1000)
    assert start.min() >= 100 and end.max() <= 900
    eligible = labels @ np.eye(labels.shape[1])[classes].T > 0
    assert all(eligible[result.record[p], p] for p in range(branch.n_prototypes))
    # each prototype is the latent of the window it names, and projecting again moves nothing
    again = project_branch(branch, signals, labels, replace=True, n_neighbours=0, rules=rules)
    np.testing.assert_array_equal(again.record, result.record)
    np.testing.assert_array_equal(again.window, result.window)


def test_margin_that_leaves_no_window_is_refused(setting):
    from protoecg.errors import DataError
    from protoecg.train.windows import ProjectionRules

    model, signals, labels = setting
    branch = copy.deepcopy(model.branches["morphology"])
    y = labels[:, model.branch_label_index("morphology").numpy()]
    with pytest.raises(DataError, match="leaves no window"):
        project_branch(branch, signals, y, rules=ProjectionRules("none", 480))


def test_allowed_windows_keep_a_second_from_each_edge():
    from protoecg.train.windows import allowed_windows

    allowed = allowed_windows(32, 3, 1000, 100)
    # window w covers samples round(w * 31.25) .. round((w + 3) * 31.25)
    assert np.flatnonzero(allowed).tolist() == list(range(4, 26))
    assert allowed_windows(32, 32, 1000, 100).tolist() == [True]  # whole-record: no margin
    assert allowed_windows(32, 3, 1000, 0).all()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("distinct", ["branch", "catalog"])
def test_catalog_rule_keeps_every_branch_off_the_others_windows(seed, distinct):
    """With "catalog" the branches project whole-record ones first; no prototype's window then
    overlaps another branch's (a whole-record prototype holds its record), nor another's of
    its own branch. Forced: all prototypes twins, labels dense, so they all want one ECG."""
    from protoecg.train.projection import hold, projection_order
    from protoecg.train.windows import ProjectionRules

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    config = load_config("tiny").model
    config.add_on_activation = "none"
    model = build_model(["SR", "AFIB", "CLBBB", "STD_", "NORM"], config).eval()
    n = 24
    signals = rng.normal(0, 0.3, (n, 12, 1000)).astype(np.float32)
    labels = (rng.random((n, 5)) < 0.6).astype(np.float32)
    labels[1:6, :] = np.eye(5)
    labels[0] = 1  # ECG 0 carries every class, and every prototype is one of its windows
    with torch.no_grad():
        for branch in model.branches.values():
            z = branch.latent(torch.from_numpy(signals[:1]))[0]
            first = 12 if z.shape[1] > 12 + branch.prototype_steps else 0  # whole-record: 0
            branch.prototypes[:] = z[:, first:first + branch.prototype_steps]
    rules = ProjectionRules(distinct, margin_samples=100)
    occupied: dict = {}
    spans = []
    assert projection_order(model.branches)[-1] == "morphology"
    for name in projection_order(model.branches):
        branch = model.branches[name]
        y = labels[:, model.branch_label_index(name).numpy()]
        result = project_branch(branch, signals, y, replace=True, n_neighbours=0,
                                rules=rules, occupied=occupied)
        hold(occupied, result, 1000)
        start, end = result.sample_window(result.window, 1000)
        spans += [(name, int(r), int(s), int(e))
                  for r, s, e in zip(result.record, start, end, strict=True)]
    clashes = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:]
               if a[1] == b[1] and a[2] < b[3] and b[2] < a[3]]
    if distinct == "branch":  # each branch apart, but every branch on ECG 0
        assert clashes and all(a[0] != b[0] for a, b in clashes)
    else:
        assert clashes == []
