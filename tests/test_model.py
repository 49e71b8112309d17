import pytest
import torch
import torch.nn.functional as F

from protoecg.data.labels import all_codes, branch_codes
from protoecg.model import ModelConfig, build_model
from protoecg.train.config import load_config


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model(all_codes(), load_config("tiny").model)


def test_paper_preset_has_the_official_sizes():
    config = load_config("paper")
    model = build_model(all_codes(), config.model)
    sizes = {name: b.n_prototypes for name, b in model.branches.items()}
    assert sizes == {"rhythm": 16 * 5, "morphology": 52 * 18, "global": 3 * 7}
    assert model.n_prototypes == 1037 and model.fusion.in_features == 1037
    assert model.branches["morphology"].prototypes.shape == (936, 512, 3)
    assert model.branches["global"].prototypes.shape == (21, 512, 32)
    assert model.branches["rhythm"].prototypes.shape == (80, 512, 1)


def test_tiny_keeps_the_papers_shapes(tiny):
    x = torch.randn(2, 12, 1000)
    logits, outputs = tiny(x)
    assert logits.shape == (2, 71)
    assert outputs["morphology"].latent.shape[2] == 32  # T/32 latent steps, as the paper
    assert outputs["morphology"].similarity_map.shape[1:] == (52 * 2, 30)  # 3-step windows
    assert outputs["global"].similarity_map.shape[2] == 1  # whole record
    assert outputs["rhythm"].latent.shape[2] == 1  # globally pooled
    for name, branch in tiny.branches.items():
        assert branch.class_codes == branch_codes(name)
        assert (branch.class_identity().sum(0) >= 1).all()  # every class has a prototype


def test_classifier_starts_at_plus_one_minus_half(tiny):
    branch = tiny.branches["morphology"]
    weight = branch.classifier.weight  # (C, P)
    identity = branch.class_identity().T
    assert (weight[identity == 1] == 1.0).all() and (weight[identity == 0] == -0.5).all()
    rhythm = tiny.branches["rhythm"]
    assert rhythm.prototype_ids[0] == f"rhythm/{rhythm.class_codes[0]}/00"
    assert "rhythm/SR/00" in rhythm.prototype_ids


def test_fusion_starts_where_the_branch_classifiers_are(tiny):
    x = torch.randn(3, 12, 1000)
    tiny.eval()
    with torch.no_grad():
        logits, outputs = tiny(x)
    for name, out in outputs.items():
        torch.testing.assert_close(logits[:, tiny.branch_label_index(name)], out.logits)


def test_one_row_3x3_convolution_is_the_middle_row():
    """Why the 2D branches may run a 1D trunk after the (12, 7) stem."""
    torch.manual_seed(1)
    conv2d = torch.nn.Conv2d(8, 4, 3, padding=1, bias=False)
    x = torch.randn(2, 8, 1, 50)
    two_d = conv2d(x)
    one_d = F.conv1d(x.squeeze(2), conv2d.weight[:, :, 1, :], padding=1)
    torch.testing.assert_close(two_d.squeeze(2), one_d)


def test_black_box_twin_has_the_same_backbones():
    config = ModelConfig(widths=(8, 16, 32, 64), latent_dim=16)
    twin = build_model(all_codes(), config, black_box=True)
    proto = build_model(all_codes(), config)
    for name in ("rhythm", "morphology", "global"):
        a = sum(p.numel() for p in twin.backbones[name].parameters())
        b = sum(p.numel() for p in proto.branches[name].backbone.parameters())
        assert a == b
    logits, _ = twin(torch.randn(2, 12, 1000))
    assert logits.shape == (2, 71)
