"""What one training epoch leaves in ``metrics.jsonl`` (one JSON object per epoch) and on the
progress line."""

from __future__ import annotations

import time

from protoecg.train.stages import Stage


def epoch_record(stage: Stage, epoch: int, sums: dict[str, float], n_batches: int,
                 score: float, improved: bool, lr: float, pushed: dict | None, drop: float,
                 health: dict[str, dict] | None, dead: list[str],
                 start_score: float | None, started: float) -> dict:
    """The epoch's line: mean loss terms, the validation score (unless the stage watches its
    training loss), whether it is the epoch kept so far, the learning rate, the push's figures
    (after a periodic push), the branches' latent spread (where the stage changes the latents),
    the score the stage started from (its first epoch, ``keep_start`` stages), seconds."""
    return {"stage": stage.name, "epoch": epoch,
            **{k: v / max(n_batches, 1) for k, v in sums.items()},
            **({} if stage.monitor == "train_loss" else {"val_macro_auroc": score}),
            "best": improved,
            "lr": lr, **({"push_cosine_median": {
                b: round(v["cosine_median"], 4) for b, v in pushed["faithfulness"].items()},
                "push_auroc_drop": round(drop, 4)} if pushed else {}),
            **({"latent_spread": {b: round(f["spread_median"], 4) for b, f in health.items()},
                "degenerate": dead} if health is not None else {}),
            **({"val_macro_auroc_at_start": start_score} if start_score is not None else {}),
            "seconds": round(time.perf_counter() - started, 2)}


def progress_line(stage: Stage, record: dict) -> str:
    seen = ("" if stage.monitor == "train_loss"
            else f"  val macro AUROC {record['val_macro_auroc']:.4f}")
    return (f"{stage.name} epoch {record['epoch']}: loss {record['loss']:.4f}"
            f"{seen}{' *' if record['best'] else ''}")
