"""When a model "calls a label positive" for a comparison's case selection: by name (``f1``,
each model's F1-best validation threshold per label) or a fixed probability. Torch-free, so
the command line checks the option before anything loads."""

from __future__ import annotations

from protoecg.errors import ProtoECGError

F1 = "f1"


class ThresholdError(ProtoECGError):
    """A threshold that is neither ``f1`` nor a probability in [0, 1)."""


def check_threshold(value: float | str) -> float | str:
    """``"f1"`` or a probability in [0, 1) (0: every test ECG counts as called positive)."""
    if value == F1:
        return F1
    try:
        p = float(value)
    except (TypeError, ValueError):
        p = float("nan")
    if not 0 <= p < 1:
        raise ThresholdError(f"threshold {value!r}: expected {F1!r} (each model's F1-best "
                             "validation threshold per label) or a probability from 0 up to, "
                             "not including, 1")
    return p
