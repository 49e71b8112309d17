"""Every loss term against values worked out by hand on small tensors."""

import math

import pytest
import torch

from protoecg.model.prototypes import window_similarity
from protoecg.train import losses

# 3 prototypes: two of class 0, one of class 1
IDENTITY = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
S = torch.tensor([[0.9, 0.5, 0.2], [0.1, 0.3, 0.8]])
Y = torch.tensor([[1, 0], [1, 1]])


def test_clustering_by_hand():
    # positives: (0, c0) max(.9, .5) = .9; (1, c0) max(.1, .3) = .3; (1, c1) .8 -> -(2.0 / 3)
    assert losses.clustering(S, IDENTITY, Y).item() == pytest.approx(-2.0 / 3)


def test_separation_by_hand():
    # sample 0 lacks class 1 -> its prototype's similarity .2; sample 1 lacks nothing (ignored)
    assert losses.separation(S, IDENTITY, Y).item() == pytest.approx(0.2)
    assert losses.separation(S, IDENTITY, torch.tensor([[0, 0], [0, 1]])).item() == pytest.approx(
        (0.9 + 0.3) / 2)


def test_nearest_window_by_hand():
    # prototype 0 (c0): samples 0 and 1 carry c0 -> max(.9, .1) = .9; prototype 1 (c0):
    # max(.5, .3) = .5; prototype 2 (c1): only sample 1 carries c1 -> .8; -(.9 + .5 + .8) / 3
    assert losses.nearest_window(S, IDENTITY, Y).item() == pytest.approx(-2.2 / 3)
    # a disabled prototype is left out; so is one whose class no sample carries
    assert losses.nearest_window(S, IDENTITY, Y, torch.tensor([1.0, 0.0, 1.0])).item() == \
        pytest.approx(-1.7 / 2)
    only_c0 = torch.tensor([[1, 0], [0, 0]])
    assert losses.nearest_window(S, IDENTITY, only_c0).item() == pytest.approx(-(0.9 + 0.5) / 2)
    assert losses.nearest_window(S, IDENTITY, torch.zeros(2, 2)).item() == 0.0


def test_a_loss_weighted_zero_is_not_computed(tmp_path):
    from protoecg.train.config import load_config
    joint = next(s for s in load_config("paper").schedule("protoecgnet") if s.name == "joint")
    assert "nearest_window" not in joint.loss  # official: off
    path = tmp_path / "on.toml"
    path.write_text("[loss]\nnearest_window = 0.5\ndiversity = 0.0\n")
    joint = next(s for s in load_config("paper", path).schedule("protoecgnet")
                 if s.name == "joint")
    assert joint.loss["nearest_window"] == 0.5 and "diversity" not in joint.loss


def test_clustering_and_separation_without_positives_are_zero():
    none = torch.zeros(2, 2)
    assert losses.clustering(S, IDENTITY, none).item() == 0.0
    assert losses.separation(S, IDENTITY, torch.ones(2, 2)).item() == 0.0


def test_diversity_by_hand():
    prototypes = torch.tensor([[1.0, 0.0], [1.0, 1.0]])[:, :, None]  # (P=2, D=2, L=1)
    cosine = losses.prototype_cosine(prototypes)
    assert cosine[0, 1].item() == pytest.approx(1 / math.sqrt(2))
    # off-diagonal (1/sqrt 2)^2 twice = 1.0, over P^2 = 4
    assert losses.diversity(cosine).item() == pytest.approx(0.25)
    orthogonal = losses.prototype_cosine(torch.eye(3)[:, :, None])
    assert losses.diversity(orthogonal).item() == pytest.approx(0.0)


def test_jaccard_by_hand():
    labels = torch.tensor([[1, 0], [1, 1], [0, 1], [0, 0]])
    jaccard = losses.jaccard_cooccurrence(labels)
    torch.testing.assert_close(jaccard, torch.tensor([[1.0, 1 / 3], [1 / 3, 1.0]]))


def test_contrastive_by_hand():
    cosine = torch.tensor([[1.0, 0.5, 0.2], [0.5, 1.0, 0.4], [0.2, 0.4, 1.0]])
    classes = torch.tensor([0, 0, 1])
    never = torch.eye(2)  # the two classes never co-occur
    pos, neg = losses.contrastive_targets(never, classes)
    # pos = A J A^T: 1 for the 5 same-class pairs (incl. diagonal); neg: the 4 cross pairs
    torch.testing.assert_close(pos * 5, torch.tensor([[1.0, 1, 0], [1, 1, 0], [0, 0, 1]]),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(neg * 4, torch.tensor([[0.0, 0, 1], [0, 0, 1], [1, 1, 0]]),
                               atol=1e-5, rtol=1e-5)
    # mean S over pos = (1 + .5 + .5 + 1 + 1) / 5 = .8; over neg = (.2 + .4 + .2 + .4) / 4 = .3
    expected = -(0.8 - 0.3) / math.sqrt(3)
    assert losses.contrastive(cosine, pos, neg).item() == pytest.approx(expected, rel=1e-5)
    third = 1 / 3
    pos, neg = losses.contrastive_targets(torch.tensor([[1.0, third], [third, 1.0]]), classes)
    # cross pairs now weigh 1/3 in pos and 2/3 in neg: pos sum 5 + 4/3, neg sum 8/3
    cross = (0.2 + 0.4 + 0.2 + 0.4)
    pos_mean = (4.0 + third * cross) / (5 + 4 * third)
    neg_mean = (2 * third * cross) / (4 * 2 * third)
    assert losses.contrastive(cosine, pos, neg).item() == pytest.approx(
        -(pos_mean - neg_mean) / math.sqrt(3), rel=1e-5)


def test_positive_weights_by_hand():
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]])
    # n = [3, 2, 0], total positives 5 -> [(5-3)/3, (5-2)/2, 1 (no positive)]
    assert losses.positive_weights(labels).tolist() == pytest.approx([2 / 3, 1.5, 1.0])


def test_bce_with_pos_weight_by_hand():
    logits = torch.zeros(1, 2)
    labels = torch.tensor([[1, 0]])
    # element 0: pos_weight 3 * log 2; element 1: log 2; mean over the two
    value = losses.bce(logits, labels, torch.tensor([3.0, 1.0])).item()
    assert value == pytest.approx((3 * math.log(2) + math.log(2)) / 2)


def test_l1_by_hand():
    weight = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    assert losses.l1(weight).item() == pytest.approx(3.5)
    assert losses.l1(weight, torch.tensor([[0.0, 1.0], [1.0, 0.0]])).item() == pytest.approx(2.5)


def test_window_similarity_by_hand():
    latent = torch.tensor([[[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]]])  # (1, D=2, T=4)
    one_step = torch.tensor([[[1.0], [0.0]]])  # (P=1, D=2, L=1)
    cos = window_similarity(latent, one_step)[0, 0]
    assert cos.tolist() == pytest.approx([1.0, 0.0, 1 / math.sqrt(2), 0.0], abs=1e-6)
    two_steps = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # (P=1, D=2, L=2)
    cos = window_similarity(latent, two_steps)[0, 0]
    # window 0 equals the prototype; window 1 = [[0, 1], [1, 1]]: dot 1, norms sqrt 3, sqrt 2
    assert cos[:2].tolist() == pytest.approx([1.0, 1 / math.sqrt(6)], abs=1e-6)
    log_l2 = window_similarity(latent, two_steps, "log_l2")[0, 0]
    assert log_l2[0].item() == pytest.approx(math.log(1 / 1e-4), rel=1e-4)
    # window 1: squared distance 1 + 1 + 1 + 0 = 3 -> log(4 / 3.0001)
    assert log_l2[1].item() == pytest.approx(math.log(4 / 3.0001), rel=1e-4)


def test_window_similarity_matches_a_python_loop():
    torch.manual_seed(0)
    latent, prototypes = torch.rand(3, 8, 12), torch.rand(5, 8, 3)
    fast = window_similarity(latent, prototypes)
    for b in range(3):
        for p in range(5):
            for w in range(10):
                expected = torch.nn.functional.cosine_similarity(
                    latent[b, :, w:w + 3].flatten(), prototypes[p].flatten(), dim=0)
                assert fast[b, p, w].item() == pytest.approx(expected.item(), abs=1e-5)


def test_forget_is_the_mean_highest_similarity_to_a_rejected_window_of_the_own_class():
    # 2 rejected windows (class 0, class 1) x 4 prototypes (classes 0, 0, 1, 2)
    similarity = torch.tensor([[0.9, 0.2, 0.5, 0.7],
                               [0.1, 0.3, 0.4, 0.8]])
    cls = torch.tensor([0, 0, 1, 2])
    same = cls[None] == torch.tensor([0, 1])[:, None]
    # prototype 0: 0.9, prototype 1: 0.2, prototype 2: 0.4; prototype 3 has no rejected window
    assert losses.forget(similarity, same).item() == pytest.approx((0.9 + 0.2 + 0.4) / 3)
    assert losses.forget(similarity, torch.zeros_like(same)).item() == 0.0
