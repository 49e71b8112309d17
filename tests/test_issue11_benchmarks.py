"""Issue 11's benchmarks on tiny synthetic runs: branch_heads.py trains the feature
pre-training stage only and scores both models on the test fold; compare.py --init-from-twin
trains the twin first and starts ProtoECGNet's backbones from it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_branch_heads_trains_only_the_feature_stage_and_scores_both(tmp_path):
    out = tmp_path / "branch_heads.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "branch_heads.py"), "--dataset",
                           "synthetic", "--root", ".", "--preset", "tiny", "--runs",
                           str(tmp_path / "runs"), "--seed", "3", "--features-epochs", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    stages = {json.loads(line)["stage"] for line in
              (tmp_path / "runs" / "branch_heads_seed3" / "metrics.jsonl").read_text()
              .splitlines()}
    # no prototype, joint or last-layer epochs (the projection row, which always runs, moves
    # prototypes only: the backbones and feature heads scored are the feature stage's)
    assert stages == {"features", "projection"}
    twin = json.loads((tmp_path / "runs" / "twin_seed3" / "run.json").read_text())
    assert twin["black_box"] is True
    result = json.loads(out.read_text())
    row = result["per_seed"]["3"]
    for kind in ("branch_heads", "twin", "probe_own_branch", "probe_all_backbones"):
        assert 0.0 <= row[kind]["macro_auroc"] <= 1.0
    assert result["mean"]["difference"]["mean"] == pytest.approx(
        row["branch_heads"]["macro_auroc"] - row["twin"]["macro_auroc"])
    assert result["mean"]["difference"]["ci"] is None  # one seed: no interval
    assert result["mean"]["partition_cost"]["mean"] == pytest.approx(
        row["probe_own_branch"]["macro_auroc"] - row["probe_all_backbones"]["macro_auroc"])
    assert "| macro AUROC |" in done.stdout


def test_compare_init_from_twin_trains_the_twin_first_and_seeds_protoecgnet_from_it(tmp_path):
    # a --results folder that does not exist yet is made
    runs, results = tmp_path / "runs", tmp_path / "results" / "new"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "compare.py"), "--dataset",
                           "synthetic", "--root", ".", "--preset", "tiny", "--runs", str(runs),
                           "--results", str(results), "--name", "seeded", "--seed", "3",
                           "--init-from-twin"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    twin = runs / "seeded_seed3_black_box"
    proto = json.loads((runs / "seeded_seed3_protoecgnet" / "config.json").read_text())
    assert proto["train"]["backbones_from"] == str(twin) and proto["train"]["seed"] == 3
    # the twin finished before ProtoECGNet started
    assert (twin / "model.pt").stat().st_mtime < \
        (runs / "seeded_seed3_protoecgnet" / "run.json").stat().st_mtime
    result = json.loads((results / "compare_seeded_seed3.json").read_text())
    assert result["init_from_twin"] is True and result["train_seed"] == 3
    assert set(result["models"]) == {"protoecgnet", "black_box"}

    # fusion_probe.py reads that pair, refits the prototype readouts and writes nothing there
    before = sorted(p for p in runs.rglob("*"))
    out = tmp_path / "fusion_probe.json"
    probe = subprocess.run([sys.executable, str(BENCHMARKS / "fusion_probe.py"), "--runs",
                            str(runs), "--name", "seeded", "--seed", "3", "--c", "0.1", "1",
                            "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert probe.returncode == 0, probe.stderr
    assert sorted(p for p in runs.rglob("*")) == before
    row = json.loads(out.read_text())["per_seed"]["3"]
    assert row["protoecgnet"]["macro_auroc"] == pytest.approx(
        result["models"]["protoecgnet"]["evaluation"]["macro_auroc"])
    assert row["twin"]["macro_auroc"] == pytest.approx(
        result["models"]["black_box"]["evaluation"]["macro_auroc"])
    for mode in ("own_branch", "all_prototypes"):
        assert 0.0 <= row[f"probe_{mode}"]["macro_auroc"] <= 1.0
        assert row["chosen"][mode]["c"] in (0.1, 1.0)
    assert "| macro AUROC |" in probe.stdout
    missing = subprocess.run([sys.executable, str(BENCHMARKS / "fusion_probe.py"), "--runs",
                              str(runs), "--name", "seeded", "--seed", "4"],
                             capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"fusion_probe: no finished run at {runs / 'seeded_seed4_protoecgnet'}, "
        f"{runs / 'seeded_seed4_black_box'} (train it with compare.py first)"]
