"""The training stages as data (CaBRNet's habit): which parameters train, with which loss.

One loop (``trainer.py``) reads this table; nothing else knows stage names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str
    trains: tuple[str, ...] = ()  # parameter groups: backbone add_on prototypes classifier fusion
    loss: str = ""  # prototype | classifier | fusion | black_box
    kind: str = "epochs"  # epochs | projection
    monitor: str = "branches"  # validation scores: "branches" (branch classifiers) or "fusion"


PROTOTYPE_STAGES: tuple[Stage, ...] = (
    Stage("prototypes", trains=("prototypes",), loss="prototype"),
    Stage("joint", trains=("backbone", "add_on", "prototypes"), loss="prototype"),
    Stage("projection", kind="projection"),
    Stage("classifier", trains=("classifier",), loss="classifier"),
    Stage("fusion", trains=("fusion",), loss="fusion", monitor="fusion"),
)
BLACK_BOX_STAGES: tuple[Stage, ...] = (
    Stage("black_box", trains=("all",), loss="black_box", monitor="fusion"),
)


def parameter_group(name: str) -> str:
    """The group a parameter of ProtoECGNet / BlackBoxNet belongs to, from its name."""
    if name.startswith("fusion."):
        return "fusion"
    if name.startswith(("backbones.", "head.")):
        return "all"
    part = name.split(".")[2] if name.startswith("branches.") else name.split(".")[0]
    return {"backbone": "backbone", "add_on": "add_on", "prototypes": "prototypes",
            "classifier": "classifier"}.get(part, part)
