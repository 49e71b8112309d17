"""The data path runs one way: a package imports only itself, the shared modules and the stages
before it (ARCHITECTURE.md), and no module imports itself through a loop. The files between
stages have one owner each, and no module or function grows past a readable size."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "protoecg"
# The stages in data-path order; packages on one rank are siblings and may not import each
# other. "common" (errors, resources, ecgplot, ecgsvg, the version) is below every stage.
RANKS = {
    "common": 0, "data": 1, "model": 2, "train": 3, "catalog": 4, "pretrain": 2,
    "explain": 5, "study": 5, "audit": 5, "clusters": 5, "agreement": 6, "prune": 7, "commands": 9,
}
COMMON = {"__init__", "errors", "files", "resources", "ecgplot", "ecgsvg"}
ENTRY = {"cli", "__main__"}


def stage_of(module: str) -> str:
    """protoecg.train.trainer -> train; protoecg.errors -> common; protoecg.cli -> commands."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head in COMMON:
        return "common"
    if head in ENTRY:
        return "commands"
    return head


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every protoecg module ``path`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    own = module_name(path).split(".")
    package = own if path.name == "__init__.py" else own[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("protoecg"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], *filter(None, [base])])
            if base.startswith("protoecg"):
                found.add(base)
                # `from protoecg.x import y` may import the submodule protoecg.x.y
                found.update(f"{base}.{alias.name}" for alias in node.names
                             if (PACKAGE.parent / f"{base}.{alias.name}".replace(".", "/")
                                 ).with_suffix(".py").is_file())
    return found


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        here = stage_of(module)
        for target in targets:
            there = stage_of(target)
            if there == here:
                continue
            if here not in RANKS or there not in RANKS:
                bad.append(f"{module} -> {target}: stage {here if here not in RANKS else there!r}"
                           " is not in the data path (add it to RANKS and ARCHITECTURE.md)")
            elif RANKS[there] >= RANKS[here]:
                bad.append(f"{module} ({here}) imports {target} ({there}), which is not "
                           "an earlier stage")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import loops between modules (Tarjan's strongly connected components)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _without_package_faces(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ importing its own modules is not a loop of the data path."""
    return {m: {t for t in ts if not (t == m.rsplit(".", 1)[0] and t in graph)}
            for m, ts in graph.items()}


def test_every_import_runs_down_the_data_path():
    assert layering_violations(import_graph()) == []


def test_no_import_loops():
    assert cycles(_without_package_faces(import_graph())) == []


def test_the_checks_can_fail():
    graph = {
        "protoecg.data.labels": {"protoecg.errors"},
        "protoecg.train.trainer": {"protoecg.catalog.writer"},  # a later stage
        "protoecg.catalog.writer": {"protoecg.train.trainer"},
        "protoecg.study.store": {"protoecg.explain.explanation"},  # a sibling
        "protoecg.errors": {"protoecg.data.labels"},  # common reaching up
        "protoecg.newstage.x": {"protoecg.data.labels"},  # not placed in the data path
    }
    bad = layering_violations(graph)
    assert len(bad) == 4
    assert any("protoecg.train.trainer (train) imports protoecg.catalog.writer" in b for b in bad)
    assert any("'newstage' is not in the data path" in b for b in bad)
    assert sorted(cycles(graph)) == [["protoecg.catalog.writer", "protoecg.train.trainer"],
                                     ["protoecg.data.labels", "protoecg.errors"]]


def test_relative_and_submodule_imports_are_seen(tmp_path):
    graph = import_graph()
    assert "protoecg.train.projection" in graph["protoecg.catalog.writer"]
    assert "protoecg.data.labels" in graph["protoecg.model.protoecgnet"]


def test_architecture_md_draws_the_packages_as_they_are():
    """ARCHITECTURE.md's data path names every stage package with the rank used here."""
    text = (REPO / "ARCHITECTURE.md").read_text()
    drawing = text.split("```", 2)[1]
    drawn = {}
    for line in drawing.splitlines():
        found = re.search(r"^\s*(\d+)\s.*protoecg/(\w+)/", line)
        if found:
            drawn[found.group(2)] = (int(found.group(1)), "(next)" in line)
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - {"commands"}
    drawn.pop("commands", None)
    built = {name for name, (_, upcoming) in drawn.items() if not upcoming}
    assert built == packages
    assert {name: rank for name, (rank, _) in drawn.items()} == {
        name: rank for name, rank in RANKS.items() if name not in ("common", "commands")}


# Each artifact file has one owner module, the only one that names it (and so the only one
# that reads or writes it): others call the owner, whose import the checks above place on the
# data path.
ARTIFACTS = {
    "protoecg.train.run": ("run.json", "config.json", "model.pt", "metrics.jsonl",
                           "projection.json", "evaluation.json", "compare.json", "last.pt",
                           "checkpoints"),
    "protoecg.prune.lineage": ("pruning.json",),
    "protoecg.audit.files": ("audit.json", "label-randomised"),
    "protoecg.clusters.files": ("clusters.npz", "clusters.json", "prototype_clusters.csv"),
    "protoecg.catalog.reader": ("catalog.json", "prototypes.csv", "neighbours.csv",
                                "signals.npy"),
}
OWNER = {name: module for module, names in ARTIFACTS.items() for name in names}
_PATHLIKE = re.compile(r"[\w.\-/]+")


def artifact_names_used(path: Path) -> set[str]:
    """The artifact file names ``path`` spells out as strings (a path piece such as
    ``"model.pt"`` or ``"audit/audit.json"``; prose in messages and docstrings is not a use)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    found = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and _PATHLIKE.fullmatch(node.value)):
            name = node.value.rstrip("/").rsplit("/", 1)[-1]
            if name in OWNER:
                found.add(name)
    return found


def artifact_violations(uses: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, names in uses.items():
        for name in sorted(names):
            owner = OWNER[name]
            if module == owner:
                continue
            bad.append(f"{module} names {name}, which only {owner} may read or write")
            here, there = stage_of(module), stage_of(owner)
            if here in RANKS and there in RANKS and RANKS[there] > RANKS[here]:
                bad.append(f"{module} ({here}) reads {name} of {owner} ({there}), a later "
                           "stage: the file runs back up the data path")
    return bad


def test_every_artifact_is_named_only_by_its_owner():
    files = [*PACKAGE.rglob("*.py"), *(REPO / "review_app").rglob("*.py")]
    uses = {module_name(path): artifact_names_used(path) for path in files}
    assert artifact_violations({m: n for m, n in uses.items() if n}) == []


def test_the_artifact_checks_can_fail(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text('"""Reads pruning.json, says the docstring (prose: not a use)."""\n'
                      'def f(run):\n'
                      '    """model.pt"""\n'
                      '    error = f"{run}: no pruning.json here"  # prose\n'
                      '    return run / "pruning.json", run / "audit/audit.json"\n')
    assert artifact_names_used(source) == {"pruning.json", "audit.json"}
    bad = artifact_violations({
        "protoecg.train.comparison": {"pruning.json"},  # rank 3 reading a rank-7 file
        "protoecg.prune.pruning": {"model.pt"},  # down the path, but not its owner
        "protoecg.train.run": {"model.pt"},  # the owner
    })
    assert bad == [
        "protoecg.train.comparison names pruning.json, which only protoecg.prune.lineage may "
        "read or write",
        "protoecg.train.comparison (train) reads pruning.json of protoecg.prune.lineage "
        "(prune), a later stage: the file runs back up the data path",
        "protoecg.prune.pruning names model.pt, which only protoecg.train.run may read or "
        "write",
    ]


# Rooms of a readable size (issue 30): a module a newcomer can read in one sitting, a function
# that fits on a screen or two.
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def size_violations(paths, root: Path = REPO) -> list[str]:
    bad = []
    for path in paths:
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            bad.append(f"{path.relative_to(root)}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    bad.append(f"{path.relative_to(root)}:{node.lineno} {node.name}: {length} "
                               f"lines (at most {MAX_FUNCTION_LINES})")
    return bad


def test_no_module_or_function_is_too_big():
    assert size_violations(sorted(PACKAGE.rglob("*.py"))) == []


def test_the_size_check_can_fail(tmp_path):
    big = tmp_path / "big.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(85))
    big.write_text("def long():\n" + body + "\n" + "\n" * 400)
    assert size_violations([big], tmp_path) == ["big.py: 486 lines (at most 450)",
                                                 "big.py:1 long: 86 lines (at most 80)"]
