"""The review side keeps its boundaries: the store package is the only place that runs SQL, the
study and agreement packages stay torch-free (they import only the catalog reader and its
quality figures, the label table, the errors and the ECG charts from the rest of protoecg), and
the statistics live in one registry."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from protoecg.agreement.statistics import STATISTICS, Statistic
from tests.conftest import REPO

STORE = REPO / "protoecg" / "study" / "store"  # a package: its modules run the SQL
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "PRAGMA ", "CREATE TABLE")
ALLOWED_FROM_OUTSIDE = {"protoecg", "protoecg.catalog.reader", "protoecg.catalog.quality",
                        "protoecg.data.labels",
                        "protoecg.errors", "protoecg.ecgplot", "protoecg.ecgsvg"}


def sources() -> list[Path]:
    return sorted([*(REPO / "protoecg").rglob("*.py"), *(REPO / "review_app").rglob("*.py")])


def sql_uses(path: Path) -> list[str]:
    """A store's ``.db`` (the sqlite-utils database; ``args.db`` is a file name), ``.execute``
    and SQL in string literals."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (
                node.attr in ("execute", "executescript")
                or node.attr == "db" and not (isinstance(node.value, ast.Name)
                                              and node.value.id == "args")):
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and any(
                node.value.lstrip().upper().startswith(word) for word in SQL_WORDS):
            found.append(f"{path.name}:{node.lineno}: {node.value[:30]!r}")
    return found


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_store_runs_sql():
    offenders = [use for path in sources() if STORE not in path.parents
                 for use in sql_uses(path)]
    assert offenders == []
    assert all(sql_uses(path) for path in STORE.glob("*.py")
               if path.stem not in ("__init__", "records"))  # the check sees SQL where it is


def test_study_and_agreement_stay_torch_free_and_below_training():
    for package, own in (("study", {"protoecg.study"}),
                         ("agreement", {"protoecg.study", "protoecg.agreement"})):
        for path in sorted((REPO / "protoecg" / package).glob("*.py")):
            for name in imports(path):
                assert name.split(".")[0] != "torch", f"{path.name} imports {name}"
                if name.startswith("protoecg"):
                    assert name in ALLOWED_FROM_OUTSIDE or any(
                        name == o or name.startswith(o + ".") for o in own), \
                        f"protoecg/{package}/{path.name} imports {name}"


def test_one_registry_of_statistics():
    assert len(STATISTICS) == 12
    matrix = np.array([[1, 2, 2], [3, 3, 4], [5, 4, 5], [2, 2, 1]], dtype=float)
    indices = np.array([[0, 1, 2, 3], [3, 3, 1, 0]])
    from protoecg.agreement.bootstrap import multiplicity

    for key, statistic in STATISTICS.items():
        assert isinstance(statistic, Statistic) and statistic.name == key
        assert statistic.definition
        assert np.isfinite(statistic.point(matrix, [1, 2, 3, 4, 5]))
        assert statistic.resampled(matrix, [1, 2, 3, 4, 5], multiplicity(indices, 4)).shape \
            == (2,)
