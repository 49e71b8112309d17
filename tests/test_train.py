"""Training, resume, projection, evaluation and their bad inputs, on tiny synthetic runs."""

import json
import os
import subprocess
import sys

import pytest
import torch

from protoecg.catalog.reader import read_catalog
from protoecg.cli import main
from protoecg.train import trainer as trainer_module
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def train(out, *extra):
    return main(["train", "--dataset", "synthetic", "--preset", "tiny", "--out", str(out),
                 "--quiet", *extra])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert train(out, "--epochs", "2") == 0
    return out


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_folder_is_complete(tiny_run):
    meta = json.loads((tiny_run / "run.json").read_text())
    assert meta["status"] == "complete" and meta["format"] == 1
    assert meta["dataset"] == "synthetic" and meta["synthetic"] is True
    assert set(meta["label_names"]) == {"NORM", "SR", "SBRAD", "STACH", "AFIB", "CLBBB",
                                        "STD_", "STE_"}
    assert meta["dropped_labels"]["PACE"] == "0 training positives < 1"
    stages = [m["stage"] for m in metrics(tiny_run)]
    assert stages == ["prototypes"] * 2 + ["joint"] * 2 + ["projection"] + ["classifier"] * 2 \
        + ["fusion"] * 2
    for name in ("config.json", "model.pt", "projection.json", "checkpoints/last.pt"):
        assert (tiny_run / name).is_file(), name
    first = metrics(tiny_run)[0]
    for term in ("bce", "clustering", "separation", "diversity", "contrastive",
                 "val_macro_auroc"):
        assert term in first


def test_same_seed_same_run(tiny_run, tmp_path):
    assert train(tmp_path / "again", "--epochs", "2") == 0
    a = torch.load(tiny_run / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "again" / "model.pt", weights_only=True)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa
    assert strip(metrics(tiny_run)) == strip(metrics(tmp_path / "again"))


def test_resume_after_an_interruption_gives_the_same_model(tiny_run, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = trainer_module.Trainer.validation_score

    def interrupted(self, stage):
        calls["n"] += 1
        if calls["n"] == 4:  # during the joint stage's second epoch
            raise KeyboardInterrupt
        return original(self, stage)

    monkeypatch.setattr(trainer_module.Trainer, "validation_score", interrupted)
    assert train(tmp_path / "cut", "--epochs", "2") == 130
    assert not (tmp_path / "cut" / "model.pt").exists()
    monkeypatch.setattr(trainer_module.Trainer, "validation_score", original)
    assert train(tmp_path / "cut", "--resume") == 0
    a = torch.load(tiny_run / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_project_writes_the_catalog(tiny_run, capsys):
    assert main(["project", "--run", str(tiny_run)]) == 0
    assert "catalog of" in capsys.readouterr().out
    catalog = read_catalog(tiny_run / "catalog")
    table = catalog.prototypes
    assert len(table) == json.loads((tiny_run / "run.json").read_text())["n_prototypes"]
    assert table["prototype_id"].is_unique
    morphology = table[table.branch == "morphology"]
    assert ((morphology.window_end - morphology.window_start) == 94).all()  # 0.94 s
    assert (table[table.branch != "morphology"].window_end == 1000).all()
    assert (table["catalog_similarity"] > 0.999).all()  # projected: the window is itself
    for row in table.itertuples():  # the source record carries the prototype's class
        assert row.class_code in row.source_labels.split()
    assert catalog.signals.shape[1:] == (12, 1000)
    assert len(catalog.neighbours) > 0 and catalog.neighbours["rank"].min() == 1
    assert table["model_sha256"].nunique() == 1 and len(table["model_sha256"].iloc[0]) == 64


def test_catalog_reads_without_torch(tiny_run):
    main(["project", "--run", str(tiny_run)])
    code = ("import sys; from protoecg.catalog.reader import read_catalog; "
            f"c = read_catalog({str(tiny_run / 'catalog')!r}); "
            "assert 'torch' not in sys.modules, 'torch imported'; print(len(c.prototypes))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_evaluate_json(tiny_run, capsys):
    assert main(["evaluate", "--run", str(tiny_run), "--json", "--resamples", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("macro_auroc", "macro_auroc_ci", "per_branch", "per_class"):
        assert key in result
    low, high = result["macro_auroc_ci"]
    assert low <= result["macro_auroc"] <= high
    assert set(result["per_branch"]) == {"rhythm", "morphology", "global"}
    assert result["per_class"]["AFIB"]["positives"] > 0
    assert (tiny_run / "evaluation.json").is_file()


def test_faithfulness_of_projection_is_measured(tiny_run, capsys):
    """Validation AUROC just before/after projection and each prototype's cosine to the
    window it became, per branch, in metrics.jsonl and in evaluate --json."""
    records = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    projection = next(r for r in records if r["stage"] == "projection")
    faithfulness = projection["faithfulness"]
    assert set(faithfulness) == {"rhythm", "morphology", "global"}
    for figures in faithfulness.values():
        assert set(figures) == {"val_auroc_before", "val_auroc_after", "cosine_median",
                                "cosine_p10"}
        assert -1 <= figures["cosine_p10"] <= figures["cosine_median"] <= 1
        for key in ("val_auroc_before", "val_auroc_after"):
            assert figures[key] is None or 0 <= figures[key] <= 1
    # the last joint epoch's model is the one projected: its branch score is "before"
    assert main(["evaluate", "--run", str(tiny_run), "--json", "--resamples", "50"]) == 0
    assert json.loads(capsys.readouterr().out)["faithfulness"] == faithfulness


def test_black_box_twin(tmp_path, capsys):
    out = tmp_path / "bb"
    assert train(out, "--epochs", "2", "--black-box") == 0
    assert [m["stage"] for m in metrics(out)] == ["black_box"] * 2
    capsys.readouterr()
    assert main(["evaluate", "--run", str(out), "--json", "--resamples", "200"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "black_box"
    assert main(["project", "--run", str(out)]) == 2
    assert "black-box run has no prototypes" in capsys.readouterr().err


def one_line_error(capsys, code, *fragments):
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_bad_inputs(tiny_run, tmp_path, capsys):
    one_line_error(capsys, train(tmp_path / "x", "--preset", "huge"), "unknown preset 'huge'")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nwidth = [1, 2, 3, 4]\n")
    one_line_error(capsys, train(tmp_path / "x", "--config", str(bad)),
                   "bad.toml: unknown config key 'model.width'")
    bad.write_text("[data]\nmin_train_positives = 100000\n")
    one_line_error(capsys, train(tmp_path / "x", "--config", str(bad)),
                   "no label has 100000 or more training positives")
    bad.write_text("[data]\nmin_train_positives = 0\n")
    one_line_error(capsys, train(tmp_path / "x", "--config", str(bad)),
                   "data.min_train_positives must be >= 1")
    one_line_error(capsys, train(tiny_run), "already holds a run; pass --resume")
    one_line_error(capsys, main(["evaluate", "--run", str(tmp_path / "none")]),
                   "not a run folder (run.json missing)")


def copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("catalog", "checkpoints"))
    return dst


def test_run_from_another_version(tiny_run, tmp_path, capsys):
    run = copy_run(tiny_run, tmp_path / "old")
    meta = json.loads((run / "run.json").read_text())
    meta["format"] = 99
    (run / "run.json").write_text(json.dumps(meta))
    one_line_error(capsys, main(["evaluate", "--run", str(run)]), "run folder format 99")


def test_checkpoint_that_does_not_match_its_config(tiny_run, tmp_path, capsys):
    run = copy_run(tiny_run, tmp_path / "changed")
    config = json.loads((run / "config.json").read_text())
    config["model"]["latent_dim"] = 24
    (run / "config.json").write_text(json.dumps(config))
    one_line_error(capsys, main(["evaluate", "--run", str(run)]),
                   "model.pt: checkpoint does not match")


def test_distributed_training_on_two_cpu_processes(tmp_path):
    """torchrun with the gloo backend, two CPU processes, a tiny run."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", "29517", "-m", "protoecg", "train", "--dataset", "synthetic",
         "--preset", "tiny", "--out", str(out), "--epochs", "1", "--quiet"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    meta = json.loads((out / "run.json").read_text())
    assert meta["world_size"] == 2 and meta["status"] == "complete"
    assert len([m for m in metrics(out) if m["stage"] == "joint"]) == 1


def test_explain_names_prototypes_and_windows(tiny_run, tmp_path, capsys):
    main(["project", "--run", str(tiny_run)])
    capsys.readouterr()
    code = main(["explain", "--run", str(tiny_run), "--record", "SYN00007", "--json",
                 "--out", str(tmp_path), "--threshold", "0.0", "--top", "2"])
    assert code == 0
    explanation = json.loads(capsys.readouterr().out)
    assert explanation["record_id"] == "SYN00007" and explanation["true_labels"]
    labels = json.loads((tiny_run / "run.json").read_text())["label_names"]
    assert len(explanation["predictions"]) == len(labels)  # threshold 0: every label
    probabilities = [p["probability"] for p in explanation["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True)
    for prediction in explanation["predictions"]:
        contributions = [q["contribution"] for q in prediction["prototypes"]]
        assert len(contributions) == 2 and contributions[0] >= contributions[1]
        for q in prediction["prototypes"]:
            assert q["contribution"] == pytest.approx(q["similarity"] * q["weight"], rel=1e-5)
            assert 0 <= q["window_start"] < q["window_end"] <= 1000
            assert "source_record_id" in q  # from the catalog
    assert (tmp_path / "SYN00007.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "SYN00007.json").read_text()) == explanation


def test_explain_unknown_record(tiny_run, capsys):
    code = main(["explain", "--run", str(tiny_run), "--record", "SYN99999"])
    one_line_error(capsys, code, "record 'SYN99999' is not in this synthetic dataset")
