"""The 71 PTB-XL SCP-ECG statements used as labels, and their branch in ProtoECGNet.

``scp_statements.csv`` beside this module was written by us from the statement facts that PTB-XL
publishes (Wagner et al., Scientific Data 2020; CC BY 4.0): description, the diagnostic / form /
rhythm flags, diagnostic class and subclass, the SCP statement category. The ``branch`` column is
ProtoECGNet's split of the labels (Sethi et al. 2025): rhythm 16, morphology 52, global 3.

Aggregations follow the PTB-XL benchmark code (helme/ecg_ptbxl_benchmarking,
``compute_label_aggregations``): ``all`` (71 statements), ``diagnostic`` (44), ``subdiagnostic``
(23 subclasses), ``superdiagnostic`` (5 classes), ``form`` (19) and ``rhythm`` (12, the statements
flagged rhythm, not the 16-label rhythm branch).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from protoecg.errors import LabelError

BRANCHES: tuple[str, ...] = ("rhythm", "morphology", "global")
AGGREGATIONS: tuple[str, ...] = (
    "all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm",
)


@cache
def scp_statements() -> pd.DataFrame:
    """The label table, indexed by SCP code, in PTB-XL's statement order."""
    with resources.files("protoecg.data").joinpath("scp_statements.csv").open() as f:
        table = pd.read_csv(f, keep_default_na=False, dtype={"diagnostic_class": str})
    return table.set_index("code")


def all_codes() -> list[str]:
    """The 71 statement codes in the label order every multi-hot matrix uses."""
    return list(scp_statements().index)


def branch_codes(branch: str) -> list[str]:
    """The codes ProtoECGNet's ``branch`` classifies, in label order."""
    if branch not in BRANCHES:
        raise LabelError(f"unknown branch {branch!r}: expected one of {', '.join(BRANCHES)}")
    table = scp_statements()
    return list(table.index[table["branch"] == branch])


def describe(code: str) -> str:
    """The statement's description, e.g. ``IRBBB`` -> ``incomplete right bundle branch block``."""
    check_codes([code], where="label")
    return str(scp_statements().at[code, "description"])


def check_codes(codes, where: str) -> None:
    """Raise LabelError naming ``where`` if any code is not one of the 71 statements."""
    known = scp_statements().index
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise LabelError(
            f"{where}: unknown SCP statement(s) {', '.join(map(repr, unknown))}; "
            "expected one of the 71 PTB-XL statements (see protoecg/data/scp_statements.csv)"
        )


def multi_hot(code_lists: list[list[str]], where: str = "labels") -> np.ndarray:
    """Multi-hot uint8 matrix (N, 71) in ``all_codes()`` order from lists of codes."""
    index = {c: i for i, c in enumerate(all_codes())}
    out = np.zeros((len(code_lists), len(index)), dtype=np.uint8)
    for row, codes in enumerate(code_lists):
        check_codes(codes, where=f"{where} row {row}")
        out[row, [index[c] for c in codes]] = 1
    return out


def aggregate(labels: np.ndarray, level: str) -> tuple[np.ndarray, list[str]]:
    """Map a (N, 71) multi-hot matrix to one of the PTB-XL benchmark aggregations.

    Returns the (N, K) multi-hot matrix and its K names (sorted, as the benchmark code's
    MultiLabelBinarizer orders them).
    """
    if level not in AGGREGATIONS:
        raise LabelError(
            f"unknown label aggregation {level!r}: expected one of {', '.join(AGGREGATIONS)}"
        )
    table = scp_statements()
    codes = all_codes()
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != len(codes):
        raise LabelError(f"labels: expected shape (N, {len(codes)}), got {labels.shape}")
    if level == "all":
        return labels.astype(np.uint8), codes
    if level in ("diagnostic", "form", "rhythm"):
        keep = [i for i, c in enumerate(codes) if table.at[c, level] == 1]
        return labels[:, keep].astype(np.uint8), [codes[i] for i in keep]
    column = "diagnostic_subclass" if level == "subdiagnostic" else "diagnostic_class"
    groups = sorted({table.at[c, column] for c in codes if table.at[c, "diagnostic"] == 1})
    out = np.zeros((labels.shape[0], len(groups)), dtype=np.uint8)
    for i, c in enumerate(codes):
        if table.at[c, "diagnostic"] == 1:
            out[:, groups.index(table.at[c, column])] |= labels[:, i].astype(np.uint8)
    return out, groups
