"""Every file a stage hands the next, damaged, through every command that reads it: one line
naming the file, exit 2, and nothing written (issue 30). The owner module of each file checks
it once where it is read (``protoecg/files.py``), so no command meets a half-read value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests._cli import assert_one_line_error, exit_code
from tests.conftest import PAPER_PROTOCOL

pytestmark = pytest.mark.slow


def _truncated(data: bytes) -> bytes:
    return data[: max(1, len(data) // 2)]


def _not_utf8(data: bytes) -> bytes:
    return b"\xff\xfe" + data


def _wrong_type(_: bytes) -> bytes:
    return b"[1, 2, 3]\n"


def _without(key: str):
    def damage(data: bytes) -> bytes:
        table = json.loads(data)
        del table[key]
        return json.dumps(table).encode()
    damage.__name__ = f"without_{key}"
    return damage


def _row_without(key: str):
    def damage(data: bytes) -> bytes:
        table = json.loads(data)
        del next(iter(table.values()))[0][key]
        return json.dumps(table).encode()
    damage.__name__ = f"row_without_{key}"
    return damage


def _torch_list(_: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save([1, 2, 3], buffer)
    return buffer.getvalue()


def _garbage(_: bytes) -> bytes:
    return b"not a checkpoint at all\n" * 10


def _list_line(data: bytes) -> bytes:
    return data + b"[1, 2]\n"


JSON_DAMAGES = (_truncated, _not_utf8, _wrong_type)
TORCH_DAMAGES = (_truncated, _torch_list, _garbage)

# command line (RUN: the damaged run; PRUNED: the damaged pruned run; SOURCE: an intact run;
# OUT: a path that must stay absent) per file
READERS = {
    "run.json": ("evaluate", "project", "explain", "audit", "compare", "resume"),
    "config.json": ("evaluate", "project", "explain", "audit", "compare", "resume"),
    "model.pt": ("evaluate", "project", "explain", "audit", "compare"),
    "metrics.jsonl": ("evaluate",),
    "projection.json": ("project",),
    "catalog/catalog.json": ("evaluate", "explain", "audit", "study create"),
    "audit/audit.json": ("evaluate",),
    "pruning.json": ("retrain", "compare pruned"),
    "checkpoints/last.pt": ("resume",),
    "clusters/clusters.json": ("explain", "clusters record"),
    "clusters/clusters.npz": ("explain", "clusters record"),
}
DAMAGES = {
    "run.json": (*JSON_DAMAGES, _without("label_names")),
    "config.json": (*JSON_DAMAGES, _without("model")),
    "model.pt": TORCH_DAMAGES,
    "metrics.jsonl": (_truncated, _not_utf8, _list_line),
    "projection.json": (*JSON_DAMAGES, _row_without("similarity")),
    "catalog/catalog.json": JSON_DAMAGES,
    "audit/audit.json": (*JSON_DAMAGES, _without("sanity")),
    "pruning.json": (*JSON_DAMAGES, _without("per_class")),
    "checkpoints/last.pt": TORCH_DAMAGES,
    "clusters/clusters.json": (*JSON_DAMAGES, _without("branches")),
    "clusters/clusters.npz": (_truncated, _garbage),
}
CASES = [(name, damage, command) for name, commands in READERS.items()
         for damage in DAMAGES[name] for command in commands]


def _argv(command: str, run: Path, source: Path, out: Path, record: str) -> list[str]:
    return {
        "evaluate": ["evaluate", "--run", str(run), "--resamples", "10"],
        "project": ["project", "--run", str(run)],
        "explain": ["explain", "--run", str(run), "--record", record, "--out", str(out)],
        "audit": ["audit", "--run", str(run), "--out", str(out), "--no-label-randomisation"],
        "compare": ["compare", str(source), str(run), "--resamples", "10"],
        "compare pruned": ["compare", str(source), str(run), "--resamples", "10"],
        "resume": ["train", "--dataset", "ludb", "--root", "unused", "--preset", "tiny",
                   "--out", str(run), "--resume", "--quiet"],
        "retrain": ["retrain", "--run", str(run), "--quiet"],
        "clusters record": ["clusters", "--run", str(run), "--record", record],
        "study create": ["study", "create", "--db", str(out / "review.db"), "--name", "s1",
                         "--catalog", str(run / "catalog"), "--protocol", str(PAPER_PROTOCOL)],
    }[command]


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(ludb_catalog, tmp_path_factory):
    """An intact projected run (SOURCE), a copy to damage with an audit beside its catalog
    (RUN), and a pruned run made from it by hand (PRUNED: status pruned, a pruning.json)."""
    from protoecg.train.run import model_sha256

    base = tmp_path_factory.mktemp("damaged")
    source = ludb_catalog.parent
    run = base / "run"
    shutil.copytree(source, run, ignore=shutil.ignore_patterns("audit"))
    (run / "audit").mkdir()
    (run / "audit" / "audit.json").write_text(json.dumps({
        "format": 1, "model_sha256": model_sha256(run), "prototypes": {},
        "sanity": {"rhythm": {"model_randomisation": {"verdict": "depends on the model"}}}}))
    # time-localized clusters beside it (2 clusters per branch: the files are what is tested)
    assert exit_code(["clusters", "--run", str(run), "--max-clusters", "2", "--quiet"]) == 0
    (run / "checkpoints").mkdir(exist_ok=True)
    meta = json.loads((run / "run.json").read_text())
    torch.save({"stage_index": 0, "epoch": 0, "model": {}, "optimizer": None, "rng": {}},
               run / "checkpoints" / "last.pt")
    pruned = base / "pruned"
    shutil.copytree(run, pruned)
    (pruned / "run.json").write_text(json.dumps({**meta, "status": "pruned",
                                                 "source_run": str(source)}))
    (pruned / "pruning.json").write_text(json.dumps({
        "source_run": str(source), "study": "s1", "rule": "bad >= 1", "action": "disable",
        "selected": [], "prototypes": {}, "per_class": {"NORM": {"selected": 0}}}))
    record = pd.read_csv(source / "catalog" / "prototypes.csv", dtype=str)["source_record_id"]
    return {"source": source, "run": run, "pruned": pruned, "base": base,
            "record": str(record.iloc[0])}


@pytest.mark.parametrize("name, damage, command", CASES,
                         ids=[f"{n}-{d.__name__.strip('_')}-{c.replace(' ', '_')}"
                              for n, d, c in CASES])
def test_a_damaged_file_is_one_line_and_changes_nothing(runs, name, damage, command, capsys):
    run = runs["pruned"] if name == "pruning.json" or command == "retrain" else runs["run"]
    if command == "resume":  # a run still training: the command reads its checkpoint
        meta_path = run / "run.json"
        meta = json.loads(meta_path.read_text())
        meta_path.write_text(json.dumps({**meta, "status": "training"}))
    target = run / name
    original = target.read_bytes()
    out = runs["base"] / "out"
    shutil.rmtree(out, ignore_errors=True)
    if command == "study create":
        out.mkdir()
    try:
        target.write_bytes(damage(original))
        before = _tree(run)
        code = exit_code(_argv(command, run, runs["source"], out, runs["record"]))
        err = capsys.readouterr().err
        assert_one_line_error(code, err, name.rsplit("/", 1)[-1] if command != "resume"
                              or name != "run.json" else "run.json")
        assert _tree(run) == before, "the command wrote into the run folder"
        assert not out.exists() or not any(out.iterdir()), "the command wrote its output"
    finally:
        target.write_bytes(original)
        if command == "resume":
            meta_path.write_text(json.dumps(meta))
