"""The config overrides the benchmark scripts write (benchmarks/_runs.py) read back as the
tables they came from, and compare.py's --seed refuses a bad --config in one line."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from _runs import toml  # noqa: E402
from ablation import variants  # noqa: E402


@pytest.mark.parametrize("name", sorted(variants(8)))
def test_every_ablation_variant_round_trips_through_toml(name):
    override = variants(8)[name]
    assert tomllib.loads(toml(override)) == override


def test_a_seed_joins_the_override_without_a_second_train_table(tmp_path):
    override = {"model": {"incorrect_class_connection": 0.0},
                "train": {"threads": 1, "epochs": {"features": 8}}}
    override["train"]["seed"] = 7
    text = toml(override)
    assert text.count("[train]") == 1
    assert tomllib.loads(text)["train"] == {"threads": 1, "seed": 7, "epochs": {"features": 8}}


def test_compare_seed_with_an_unreadable_config_says_so_in_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nseed = 1\n")
    done = subprocess.run([sys.executable, str(BENCHMARKS / "compare.py"), "--dataset",
                           "synthetic", "--root", ".", "--preset", "tiny", "--runs",
                           str(tmp_path / "runs"), "--seed", "3", "--config", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"--config {bad}:"), done.stderr
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written
