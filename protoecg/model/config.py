"""Model hyper-parameters (the ``[model]`` table of a preset)."""

from __future__ import annotations

from dataclasses import dataclass, field

# "latent": drawn as "normal", then set by the schedule's ``latent_init`` stage to the latents
# of random training windows of each prototype's class
PROTOTYPE_INITS = ("normal", "uniform", "latent")
# the add-on's last activation: "sigmoid" (official code, ProtoPNet) keeps every latent in
# [0, 1]^D, where any two real windows have a positive cosine; "none" leaves the last 1x1
# convolution linear, so real windows of different classes can point apart; "batch_norm"
# centres every latent dimension on the training batches (no scale or shift learned), so
# cosine compares windows' deviations from the average window (issue 11)
ADD_ON_ACTIVATIONS = ("sigmoid", "none", "batch_norm")
# what a branch's feature pre-training head predicts: "branch" (its own branch's labels, as the
# official code) or "all" (every label of the run: its backbone learns from all labels, as the
# black-box twin's do; issue 11)
FEATURE_LABELS = ("branch", "all")


@dataclass
class ModelConfig:
    """Sizes of ProtoECGNet. Defaults are the official code's (the ``paper`` preset)."""

    widths: tuple[int, int, int, int] = (64, 128, 256, 512)  # ResNet-18 stage widths
    latent_dim: int = 512  # add-on output channels = prototype depth
    prototypes_per_class: dict[str, int] = field(
        default_factory=lambda: {"rhythm": 5, "morphology": 18, "global": 7})
    # prototype length in latent steps (T/32 = 32 steps for 10 s at 100 Hz); rhythm is pooled
    prototype_steps: dict[str, int] = field(
        default_factory=lambda: {"rhythm": 1, "morphology": 3, "global": 32})
    similarity: str = "cosine"  # or "log_l2" (ProtoPNet)
    # "normal" (official code: standard normal), "uniform" (ProtoPNet: [0, 1), the same
    # positive orthant as the sigmoid latent space the prototypes are projected into) or
    # "latent" (random training windows' latents of the prototype's class; issue 11)
    prototype_init: str = "normal"
    add_on_activation: str = "sigmoid"
    # the branch classifier's starting weight from other classes' prototypes (ProtoPNet's
    # "incorrect class connection"; own class +1). The joint stage keeps the classifier fixed,
    # so with -0.5 every sample of another class pushes a prototype's similarity down
    incorrect_class_connection: float = -0.5
    dropout: float = 0.35
    feature_labels: dict[str, str] = field(
        default_factory=lambda: {"rhythm": "branch", "morphology": "branch", "global": "branch"})

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
