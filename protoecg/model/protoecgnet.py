"""ProtoECGNet (Sethi et al. 2025): three prototype branches and a fusion layer; black-box twin."""

from __future__ import annotations

import torch
from torch import nn

from protoecg.data import labels as label_table
from protoecg.model.backbone import ResNet18Backbone
from protoecg.model.config import ModelConfig
from protoecg.model.prototypes import BranchOutput, PrototypeBranch

# branch -> (2D (12, 7) stem?, globally pooled before the prototypes?)
BRANCH_DESIGN = {"rhythm": (False, True), "morphology": (True, False), "global": (True, False)}


def branch_label_sets(label_names: list[str]) -> dict[str, list[str]]:
    """The labels each branch classifies (branches with no label are left out)."""
    out = {}
    for branch in label_table.BRANCHES:
        codes = [c for c in label_table.branch_codes(branch) if c in label_names]
        if codes:
            out[branch] = codes
    return out


class ProtoECGNet(nn.Module):
    """Rhythm (1D, pooled), morphology (2D, time-local) and global (2D, whole record) branches.

    ``forward`` returns the fusion logits over ``label_names`` and each branch's output. The
    fusion layer reads the concatenated similarities of all prototypes (1,037 in the paper).
    """

    def __init__(self, label_names: list[str], config: ModelConfig):
        super().__init__()
        self.label_names = list(label_names)
        self.config = config
        self.branches = nn.ModuleDict()
        for name, codes in branch_label_sets(self.label_names).items():
            stem, pooled = BRANCH_DESIGN[name]
            self.branches[name] = PrototypeBranch(
                name, codes, config.prototypes_per_class[name], config.prototype_steps[name],
                config.widths, config.latent_dim, lead_mixing_stem=stem, pooled=pooled,
                similarity=config.similarity, dropout=config.dropout,
                prototype_init=config.prototype_init,
                add_on_activation=config.add_on_activation,
                incorrect_class_connection=config.incorrect_class_connection,
                feature_outputs=(len(self.label_names) if self.features_read_all_labels(name)
                                 else None),
            )
        for name, branch in self.branches.items():
            index = torch.tensor([self.label_names.index(c) for c in branch.class_codes])
            self.register_buffer(f"label_index_{name}", index)
        self.fusion = nn.Linear(self.n_prototypes, len(self.label_names))
        self.init_fusion_from_branches()

    def features_read_all_labels(self, name: str) -> bool:
        """Whether branch ``name``'s feature pre-training head predicts every label (else only
        its own branch's)."""
        return self.config.feature_labels.get(name, "branch") == "all"

    @property
    def n_prototypes(self) -> int:
        return sum(b.n_prototypes for b in self.branches.values())

    @property
    def prototype_ids(self) -> list[str]:
        return [pid for b in self.branches.values() for pid in b.prototype_ids]

    def branch_label_index(self, name: str) -> torch.Tensor:
        """Positions of the branch's classes in ``label_names``."""
        return getattr(self, f"label_index_{name}")

    @torch.no_grad()
    def init_fusion_from_branches(self) -> None:
        """Start the fusion layer where the branch classifiers are (block-diagonal), bias 0."""
        self.fusion.weight.zero_()
        self.fusion.bias.zero_()
        offset = 0
        for name, branch in self.branches.items():
            rows = self.branch_label_index(name)
            cols = slice(offset, offset + branch.n_prototypes)
            self.fusion.weight[rows, cols] = branch.classifier.weight
            offset += branch.n_prototypes

    @torch.no_grad()
    def disable(self, prototype_ids: list[str]) -> None:
        """Disable prototypes by id: masked in their branch, zero classifier and fusion weights.
        They keep their place (and id), so the model's shapes and the catalog stay aligned."""
        ids = self.prototype_ids
        unknown = [p for p in prototype_ids if p not in ids]
        if unknown:
            raise KeyError(f"no prototype {unknown[0]!r} in this model")
        offset = 0
        for branch in self.branches.values():
            own = [i for i, pid in enumerate(branch.prototype_ids) if pid in prototype_ids]
            if own:
                branch.disable(own)
                self.fusion.weight[:, [offset + i for i in own]] = 0.0
            offset += branch.n_prototypes

    @property
    def active(self) -> torch.Tensor:
        """(P,) 1 for prototypes in use, 0 for disabled ones, in fusion-column order."""
        return torch.cat([b.active for b in self.branches.values()])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, BranchOutput]]:
        outputs = {name: branch(x) for name, branch in self.branches.items()}
        similarities = torch.cat([o.similarities for o in outputs.values()], dim=1)
        return self.fusion(similarities), outputs


class BlackBoxNet(nn.Module):
    """The black-box twin: the same three backbones, globally pooled, one linear head."""

    def __init__(self, label_names: list[str], config: ModelConfig):
        super().__init__()
        self.label_names = list(label_names)
        self.config = config
        self.backbones = nn.ModuleDict({
            name: ResNet18Backbone(config.widths, lead_mixing_stem=BRANCH_DESIGN[name][0])
            for name in branch_label_sets(self.label_names)
        })
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.widths[-1] * len(self.backbones), len(self.label_names))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        pooled = [backbone(x).mean(dim=2) for backbone in self.backbones.values()]
        return self.head(self.dropout(torch.cat(pooled, dim=1))), {}


def build_model(label_names: list[str], config: ModelConfig, black_box: bool = False):
    return (BlackBoxNet if black_box else ProtoECGNet)(label_names, config)
