"""Which epoch a stage keeps: early stopping on the monitored validation score, with two vetoes
that outrank any score.

1. **Live before degenerate.** An epoch after which a branch is degenerate (``health.py``: its
   prototypes rate every validation window alike) is never kept while a live one exists.
2. **Faithful before unfaithful** (``train.push_max_drop``). An epoch whose periodic push
   lowered some branch's validation AUROC by more than the limit is never kept while one within
   it exists; the start of a stage and an unpushed epoch count as faithful (no push of theirs
   moved anything).

So epochs are compared as ``(live, faithful, score)`` tuples. ``patience`` epochs without a
better one end the stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def projection_drops(faithfulness: dict[str, dict]) -> list[float]:
    """Each branch's fall in validation macro AUROC across one projection (a ``faithfulness``
    record: before minus after, negative where it rose), leaving out a branch whose AUROC is
    undefined on the validation fold."""
    return [v["val_auroc_before"] - v["val_auroc_after"] for v in faithfulness.values()
            if v["val_auroc_before"] is not None and v["val_auroc_after"] is not None]


def push_drop(faithfulness: dict[str, dict]) -> float:
    """The largest fall in a branch's validation macro AUROC across one projection (0 when
    none fell; a branch whose AUROC is undefined on the validation fold counts as no fall)."""
    return max([0.0, *projection_drops(faithfulness)])


def kept_faithful(best_push: dict | None) -> bool:
    """Whether the epoch a stage keeps is within ``train.push_max_drop``: the start and an
    unpushed epoch are (no push of theirs moved anything); a checkpoint from before the limit
    existed had none."""
    return best_push is None or best_push.get("faithful", True)


def _copy(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class BestEpoch:
    """The epoch a stage keeps so far, and how many epochs since it."""

    score: float = -math.inf
    state: dict | None = field(default=None, repr=False)  # its weights
    bad_epochs: int = 0
    push: dict | None = None  # its push (the windows its prototypes are), None: unpushed
    live: bool = True

    @classmethod
    def from_checkpoint(cls, state: dict) -> BestEpoch:
        return cls(state["best_score"], state["best_state"], state["bad_epochs"],
                   state.get("best_push"), state.get("best_live", True))

    def to_checkpoint(self) -> dict:
        return {"best_score": self.score, "best_state": self.state,
                "bad_epochs": self.bad_epochs, "best_push": self.push, "best_live": self.live}

    def start(self, score: float, model, live: bool) -> None:
        """The model a stage starts from competes (``keep_start``)."""
        self.score, self.state, self.live = score, _copy(model), live

    def offer(self, model, score: float, *, live: bool, faithful: bool,
              pushed: dict | None, epoch: int) -> bool:
        """Consider the epoch that just ended; whether it is now the one kept."""
        improved = (self.state is None or (live, faithful, score)
                    > (self.live, kept_faithful(self.push), self.score))
        if improved:
            self.score, self.bad_epochs, self.live = score, 0, live
            self.state = _copy(model)
            # the prototypes kept are this push's windows (None: an unpushed epoch)
            self.push = {**pushed, "epoch": epoch, "faithful": faithful} if pushed else None
        else:
            self.bad_epochs += 1
        return improved
