"""The config overrides the benchmark scripts write (benchmarks/_runs.py) read back as the
tables they came from, compare.py's --seed refuses a bad --config in one line, and its summary
over seeds gives the mean difference with a t-interval."""

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


def _compare_result(seed, proto, twin, branches):
    """A compare result as compare.py writes it, with only the fields the summary reads."""
    evaluation = {"faithfulness": {"rhythm": {"val_auroc_before": 0.80, "val_auroc_after": 0.79,
                                              "cosine_median": 0.99}}}
    return {"preset": "demo", "seed": seed, "train_seed": seed,
            "models": {"protoecgnet": {"evaluation": {**evaluation, "macro_auroc": proto},
                                       "timings": {"train_s": 60.0}},
                       "black_box": {"evaluation": {"macro_auroc": twin},
                                     "timings": {"train_s": 20.0}}},
            "difference": {"delta": proto - twin, "delta_ci": [-0.1, 0.1], "per_branch": {
                b: {"after": p, "before": t, "delta": p - t} for b, (p, t) in branches.items()}}}


def test_the_seed_summary_gives_the_mean_difference_with_a_t_interval():
    from compare import summarise_seeds

    summary = summarise_seeds([
        _compare_result(1, 0.70, 0.75, {"rhythm": (0.6, 0.7)}),
        _compare_result(2, 0.80, 0.75, {"rhythm": (0.8, 0.7)}),
        _compare_result(3, 0.78, 0.74, {"rhythm": (0.7, 0.7)})])
    assert summary["seeds"] == ["1", "2", "3"]
    delta = summary["mean"]["delta"]
    assert delta["mean"] == pytest.approx((-0.05 + 0.05 + 0.04) / 3)
    assert delta["sd"] == pytest.approx(0.055075705, rel=1e-6)
    # t(0.975, 2) = 4.3027: half-width 4.3027 * sd / sqrt(3)
    half = 4.302653 * 0.055075705 / 3 ** 0.5
    assert delta["ci"] == pytest.approx([delta["mean"] - half, delta["mean"] + half], rel=1e-5)
    assert summary["per_branch"]["rhythm"]["delta"]["mean"] == pytest.approx(0.0)
    assert summary["per_seed"]["1"]["projection_drop_max"] == pytest.approx(0.01)
    assert summary["per_seed"]["2"]["wall_s"] == {"protoecgnet": 60.0, "black_box": 20.0}


def test_one_seed_has_a_mean_but_no_interval():
    from compare import summarise_seeds

    summary = summarise_seeds([_compare_result(5, 0.7, 0.6, {"global": (0.9, 0.8)})])
    assert summary["mean"]["delta"]["mean"] == pytest.approx(0.1)
    assert summary["mean"]["delta"]["ci"] is None and summary["mean"]["delta"]["sd"] is None


def test_seed_files_put_the_presets_own_seed_first_then_seeds_in_order(tmp_path):
    from compare import seed_files

    for name in ("compare_demo_seed10.json", "compare_demo_seed2.json", "compare_demo.json",
                 "compare_demo_seeds.json", "compare_ludb_seed3.json"):
        (tmp_path / name).write_text("{}")
    assert [f.name for f in seed_files("demo", tmp_path)] == [
        "compare_demo.json", "compare_demo_seed2.json", "compare_demo_seed10.json"]


def test_a_t_interval_over_seeds_stays_within_what_an_auroc_can_be():
    from compare import mean_over_seeds

    part = mean_over_seeds([1.0, 0.75, 1.0], bounds=(0.0, 1.0))
    assert part["ci"][1] == 1.0 and part["ci"][0] < part["mean"] < 1.0


def test_a_summary_of_no_seeds_says_so_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(BENCHMARKS / "compare.py"), "--dataset", "ludb",
                           "--root", ".", "--preset", "demo", "--results", str(tmp_path),
                           "--summary"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"--summary: no compare_demo.json or compare_demo_seed<N>.json in {tmp_path}"]
    assert not list(tmp_path.iterdir())


def test_the_ownfeatures_config_restores_the_ptbxl_preset_before_its_global_change():
    """benchmarks/configs/ptbxl_ownfeatures.toml undoes exactly the ptbxl_subset preset's three
    later switches (the stored compare_ptbxl_subset*.json were made without them)."""
    from protoecg.train.config import load_config
    now = load_config("ptbxl_subset").to_dict()
    before = load_config("ptbxl_subset", BENCHMARKS / "configs" / "ptbxl_ownfeatures.toml")
    before = before.to_dict()
    assert now["model"]["feature_labels"]["global"] == "all"
    assert before["model"]["feature_labels"] == {b: "branch" for b in
                                                 ("rhythm", "morphology", "global")}
    assert (before["loss"]["feature_bce"], before["train"]["push_max_drop"]) == (0.0, 1.0)
    changed = {(part, key) for part in now for key in now[part] if isinstance(now[part], dict)
               and now[part][key] != before[part][key]}
    assert changed == {("model", "feature_labels"), ("loss", "feature_bce"),
                       ("train", "push_max_drop")}
