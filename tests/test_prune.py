"""Pruning on a real (tiny, seeded) run: disabled prototypes have no influence, replaced ones
move to an allowed window and become new revisions, retraining is reproducible, compare pairs
its resamples, and bad input changes nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from protoecg.catalog.reader import read_catalog
from protoecg.cli import main
from protoecg.data import labels as label_table
from protoecg.model import build_model
from protoecg.prune.lineage import runs_from
from protoecg.prune.pruning import plan_pruning
from protoecg.resources import protocol_path
from protoecg.study.assignment import assign
from protoecg.study.protocol import load_protocol
from protoecg.study.ratings_csv import import_ratings
from protoecg.study.store import ReviewStore
from protoecg.train.config import load_config
from protoecg.train.reprojection import reproject
from protoecg.train.run import load_model

pytestmark = pytest.mark.slow
RULE = "bad >= 2"


# ------------------------------------------------------------------ model-level facts
def test_a_disabled_prototype_has_no_influence_on_any_output():
    torch.manual_seed(0)
    model = build_model(label_table.all_codes(), load_config("tiny").model).eval()
    x = torch.randn(4, 12, 1000)
    target = "morphology/IRBBB/01"
    model.disable([target])
    branch = model.branches["morphology"]
    index = branch.prototype_ids.index(target)
    offset = sum(b.n_prototypes for name, b in model.branches.items()
                 if list(model.branches).index(name) < list(model.branches).index("morphology"))
    assert branch.active[index] == 0 and torch.all(branch.classifier.weight[:, index] == 0)
    assert torch.all(model.fusion.weight[:, offset + index] == 0)
    with torch.no_grad():
        before_logits, before = model(x)
        branch.prototypes[index] = torch.randn_like(branch.prototypes[index]) * 10
        after_logits, after = model(x)
    assert torch.equal(before_logits, after_logits)
    for name in before:
        assert torch.equal(before[name].logits, after[name].logits)
    assert torch.all(after["morphology"].similarities[:, index] == 0)
    # and a prototype in use does move the outputs when it changes (the check can fail)
    with torch.no_grad():
        branch.prototypes[index + 1] = torch.randn_like(branch.prototypes[index + 1]) * 10
        moved, _ = model(x)
    assert not torch.equal(before_logits, moved)


def test_weights_saved_before_pruning_existed_still_load():
    model = build_model(label_table.all_codes(), load_config("tiny").model)
    old = {k: v for k, v in model.state_dict().items()
           if not k.endswith((".active", ".revision"))}
    again = build_model(label_table.all_codes(), load_config("tiny").model)
    again.load_state_dict(old)
    assert bool(again.active.all()) and again.prototype_ids == model.prototype_ids


def test_replace_never_picks_an_excluded_record_or_an_overlapping_window():
    torch.manual_seed(1)
    model = build_model(label_table.all_codes(), load_config("tiny").model).eval()
    branch = model.branches["morphology"]
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((12, 12, 1000)).astype(np.float32)
    labels = np.ones((12, len(branch.class_codes)), dtype=np.uint8)  # every record eligible
    targets = [0, 1, 2]
    with torch.no_grad():
        table = torch.stack([
            torch.nn.functional.cosine_similarity(  # unconstrained best record of target 0
                branch.latent(torch.from_numpy(signals[i:i + 1]))[0].mean(1),
                branch.prototypes[0].mean(1), dim=0) for i in range(12)])
    favourite = int(table.argmax())
    excluded = {favourite, 3}
    taken = {5: [(10, 3)], 6: [(0, 32)]}  # record 6 wholly taken
    placed = reproject(branch, signals, labels, targets, excluded, taken)
    assert [p.prototype for p in placed] == targets
    spans = {r: list(w) for r, w in taken.items()}
    for p in placed:
        assert p.record not in excluded
        for first, length in spans.get(p.record, []):
            assert p.window + branch.prototype_steps <= first or first + length <= p.window
        spans.setdefault(p.record, []).append((p.window, branch.prototype_steps))
    # the new prototype is exactly the latent of its window
    p = placed[0]
    with torch.no_grad():
        z = branch.latent(torch.from_numpy(signals[p.record:p.record + 1]))[0]
    assert torch.allclose(branch.prototypes[0], z[:, p.window:p.window + 3])


def test_replace_keeps_the_wave_rule():
    """With the segment at each window's centre given, a replaced prototype of a class with an
    expert rule takes only a window on its class's wave (QRS for CLBBB, ST-T/T for STD_): the
    windows it takes without the rule are marked off-wave, and it moves to on-wave ones."""
    from protoecg.data.delineation import SEGMENTS, class_segment_table

    torch.manual_seed(1)
    model = build_model(label_table.all_codes(), load_config("tiny").model).eval()
    branch = model.branches["morphology"]
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((12, 12, 1000)).astype(np.float32)
    labels = np.ones((12, len(branch.class_codes)), dtype=np.uint8)
    k = branch.n_prototypes // len(branch.class_codes)
    targets = [branch.class_codes.index("CLBBB") * k, branch.class_codes.index("STD_") * k]
    n_windows = 32 - branch.prototype_steps + 1
    codes = rng.integers(0, len(SEGMENTS), (12, n_windows))  # random waves, every record
    start = branch.prototypes.detach().clone()
    free = reproject(branch, signals, labels, targets, set(), {})
    for p in free:  # the windows chosen without the rule are made off-wave
        codes[p.record, p.window] = SEGMENTS.index("none")
    with torch.no_grad():
        branch.prototypes.copy_(start)
    ruled = reproject(branch, signals, labels, targets, set(), {}, window_segments=codes)
    allowed = class_segment_table(branch.class_codes)
    for p, before in zip(ruled, free, strict=True):
        assert allowed[int(branch.prototype_class[p.prototype]), codes[p.record, p.window]]
        assert (p.record, p.window) != (before.record, before.window)


# ------------------------------------------------------------- the loop on a real run
@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    """A seeded tiny ProtoECGNet trained on the synthetic set, projected, and a study of it
    whose imported answers flag 3 prototypes bad (two raters each), one in each of three classes
    that keep another prototype."""
    root = tmp_path_factory.mktemp("prune")
    run = root / "run"
    assert main(["train", "--dataset", "synthetic", "--preset", "tiny", "--out", str(run),
                 "--epochs", "1", "--quiet"]) == 0
    assert main(["project", "--run", str(run)]) == 0
    catalog = read_catalog(run / "catalog")
    db = root / "review.db"
    ids = list(catalog.prototypes["prototype_id"])
    flagged = [i for i in ids if i.startswith("morphology/") and i.endswith("/00")][:3]
    rows = []
    for rater in ("Dr A", "Dr B", "Dr C"):
        for pid in ids:
            bad = pid in flagged and rater != "Dr C"
            rows += [(rater, pid, "representativeness", 1 if bad else 4),
                     (rater, pid, "clarity", 2 if bad else 4)]
            if bad:
                rows.append((rater, pid, "bad", 1))
    csv = root / "answers.csv"
    pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question", "answer"]).to_csv(
        csv, index=False)
    with ReviewStore(db) as store:
        study = store.create_study("round1", load_protocol(protocol_path()), catalog)
        import_ratings(store, study, csv, create_reviewers=True)
        assign(store, study, 3)
    return root, run, db, flagged


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(*paths: Path) -> dict:
    return {str(f): _digest(f) for p in paths for f in sorted(Path(p).rglob("*"))
            if f.is_file()} if paths else {}


def test_dry_run_lists_the_selection_and_writes_nothing(projected, capsys):
    root, run, db, flagged = projected
    before = _snapshot(run, db.parent)
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 RULE, "--action", "disable", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"rule selects 3 of {len(read_catalog(run / 'catalog').prototypes)}" in out
    for pid in flagged:
        assert f"{pid}: bad 2, best 0, representativeness=[1.0, 1.0, 4.0]" in out
    assert _snapshot(run, db.parent) == before


def test_disable_retrain_compare(projected, tmp_path, capsys):
    root, run, db, flagged = projected
    pruned = root / "pruned-disable"  # beside the source run, where the app looks
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 RULE, "--action", "disable", "--out", str(pruned)]) == 0
    record = json.loads((pruned / "pruning.json").read_text())
    assert record["selected"] == flagged and record["action"] == "disable"
    assert record["source_run"] == str(run.resolve()) and record["rule"] == RULE
    assert record["prototypes"][flagged[0]]["bad"] == 2
    assert record["prototypes"][flagged[0]]["answers"]["representativeness"] == [1.0, 1.0, 4.0]
    code = flagged[0].split("/")[1]
    assert record["per_class"][code]["selected"] >= 1
    assert record["n_active"] == record["n_prototypes"] - 3
    assert main(["retrain", "--run", str(pruned), "--quiet"]) == 0
    model, meta, _ = load_model(pruned)
    assert meta["status"] == "complete" and meta["schedule"] == "retrain"
    assert meta["source_run"] == str(run.resolve())
    for pid in flagged:  # still disabled after retraining, weights still exactly zero
        branch = model.branches[pid.split("/")[0]]
        i = branch.prototype_ids.index(pid)
        assert branch.active[i] == 0 and torch.all(branch.classifier.weight[:, i] == 0)
    off = [i for i, a in enumerate(model.active.tolist()) if a == 0]
    assert torch.all(model.fusion.weight[:, off] == 0)
    capsys.readouterr()
    assert main(["compare", str(run), str(pruned), "--json", "--resamples", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("before", "after", "delta", "delta_ci", "per_class", "per_branch"):
        assert key in result
    assert result["delta"] == pytest.approx(result["after"] - result["before"])
    assert result["delta_ci"][0] <= result["delta_ci"][1]
    assert result["per_class"][code]["prototypes_changed"] >= 1
    assert main(["compare", str(run), str(pruned), "--save", "--resamples", "200"]) == 0
    with ReviewStore(db) as store:
        found = runs_from(store.study("round1"))
    assert [(Path(r["run"]).name, r["action"], r["selected"], r["status"]) for r in found] == [
        ("pruned-disable", "disable", 3, "complete")]
    assert found[0]["compare"]["delta"] == pytest.approx(result["delta"])
    # same seed, same pruned and retrained model
    again = tmp_path / "again"
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 RULE, "--action", "disable", "--out", str(again)]) == 0
    assert main(["retrain", "--run", str(again), "--quiet"]) == 0
    first = torch.load(pruned / "model.pt")
    second = torch.load(again / "model.pt")
    assert all(torch.equal(first[k], second[k]) for k in first)


def _pruned_retrained_projected(projected, out: Path, action: str) -> Path:
    root, run, db, flagged = projected
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 RULE, "--action", action, "--out", str(out)]) == 0
    assert main(["retrain", "--run", str(out), "--quiet"]) == 0
    assert main(["project", "--run", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def replaced(projected, tmp_path_factory):
    return _pruned_retrained_projected(
        projected, tmp_path_factory.mktemp("replace") / "replaced", "replace")


def test_replace_makes_new_revisions_on_allowed_windows(projected, replaced):
    root, run, db, flagged = projected
    record = json.loads((replaced / "pruning.json").read_text())
    old = read_catalog(run / "catalog").prototypes.set_index("prototype_id")
    rejected = set(old.loc[flagged, "source_record_id"])
    for pid in flagged:
        entry = record["prototypes"][pid]
        assert entry["new_id"] == f"{pid}@2"
        assert entry["new_window"]["record_id"] not in rejected
    assert record["n_active"] == record["n_prototypes"]  # a class keeps its count
    new = read_catalog(replaced / "catalog").prototypes.set_index("prototype_id")
    assert {f"{pid}@2" for pid in flagged} <= set(new.index)
    assert not set(flagged) & set(new.index)
    kept = [pid for pid in old.index if pid not in flagged]
    assert set(kept) <= set(new.index)  # unchanged prototypes keep their ids ...
    same = new.loc[kept, ["source_record_id", "window_start"]]
    assert same.equals(old.loc[kept, ["source_record_id", "window_start"]])  # ... and windows
    for pid in flagged:
        row = new.loc[f"{pid}@2"]
        assert row["source_record_id"] == record["prototypes"][pid]["new_window"]["record_id"]
        assert int(row["revision"]) == 2


@pytest.fixture(scope="module")
def forbidden(projected, tmp_path_factory):
    return _pruned_retrained_projected(
        projected, tmp_path_factory.mktemp("forbid") / "forbidden", "forbid")


def test_forbid_fine_tunes_away_from_rejected_windows_and_never_projects_onto_them(
        projected, forbidden, tmp_path):
    root, run, db, flagged = projected
    record = json.loads((forbidden / "pruning.json").read_text())
    old = read_catalog(run / "catalog").prototypes.set_index("prototype_id")
    assert [w["prototype_id"] for w in record["forbidden"]] == flagged
    assert record["n_active"] == record["n_prototypes"]  # nothing is disabled
    meta = json.loads((forbidden / "run.json").read_text())
    assert meta["schedule"] == "forbid" and meta["stages"] == [
        "forbid", "projection", "classifier", "fusion"]
    terms = [json.loads(line) for line in (forbidden / "metrics.jsonl").read_text().splitlines()]
    assert any("forget" in t for t in terms if t.get("stage") == "forbid")
    new = read_catalog(forbidden / "catalog").prototypes.set_index("prototype_id")
    rejected = {(old.at[pid, "class_code"], old.at[pid, "source_record_id"]) for pid in flagged}
    # no prototype of a class sits in a record rejected for that class
    assert not rejected & set(zip(new["class_code"], new["source_record_id"], strict=True))
    for pid in flagged:  # the rejected ones moved, so they are new revisions
        assert record["prototypes"][pid]["new_id"] == f"{pid}@2"
        assert f"{pid}@2" in new.index and pid not in new.index
    # every prototype whose window changed is a new revision; the others keep id and window
    assert set(record["moved"]) >= set(flagged)
    for pid in old.index:
        if pid in record["moved"]:
            assert record["moved"][pid] in new.index and pid not in new.index
        else:
            assert (new.at[pid, "source_record_id"], new.at[pid, "window_start"]) == (
                old.at[pid, "source_record_id"], old.at[pid, "window_start"])
    # same seed, same model
    again = tmp_path / "again"
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 RULE, "--action", "forbid", "--out", str(again)]) == 0
    assert main(["retrain", "--run", str(again), "--quiet"]) == 0
    first, second = torch.load(forbidden / "model.pt"), torch.load(again / "model.pt")
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_round_two_rates_the_new_revisions_and_the_report_sets_the_rounds_side_by_side(
        projected, replaced, tmp_path, capsys):
    root, run, db, flagged = projected
    work = tmp_path / "review.db"
    shutil.copy(db, work)
    catalog = str(replaced / "catalog")
    # the 1-epoch tiny model's latent spaces are degenerate: accepted, the rounds are tested
    lenient = ["--allow-degenerate"]
    assert main(["study", "create", "--db", str(work), "--protocol", str(protocol_path()),
                 "--catalog", catalog, "--name", "round2", "--previous", "round1",
                 *lenient]) == 0
    assert "(next round of 'round1'): 3 prototypes" in capsys.readouterr().out
    with ReviewStore(work) as store:
        study = store.study("round2")
        ids = [p.prototype_id for p in store.prototypes(study)]
        assert ids == [f"{pid}@2" for pid in flagged]
        assert study.previous_id == store.study("round1").id
    rows = [(rater, pid, question, 4) for rater in ("Dr A", "Dr B") for pid in ids
            for question in ("representativeness", "clarity")]
    answers = tmp_path / "round2.csv"
    pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question", "answer"]).to_csv(
        answers, index=False)
    assert main(["study", "import-ratings", "--db", str(work), "--study", "round2", "--csv",
                 str(answers), "--create-reviewers"]) == 0
    assert main(["report", "--db", str(work), "--study", "round2", "--out",
                 str(tmp_path / "report"), "--resamples", "50"]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    rounds = summary["rounds"]
    assert rounds["previous_study"] == "round1"
    first = rounds["prototypes"][0]
    assert (first["prototype_id"], first["previous_id"]) == (f"{flagged[0]}@2", flagged[0])
    assert first["questions"]["representativeness"]["previous_answers"] == [1.0, 1.0, 4.0]
    assert first["questions"]["representativeness"]["current_answers"] == [4.0, 4.0]
    assert first["bad"] == {"previous": 2, "current": 0}
    change = rounds["questions"]["representativeness"]
    assert change["matched_prototypes"] == 3 and change["mean_change_matched"] == pytest.approx(2)
    html_text = (tmp_path / "report" / "report.html").read_text()
    assert "This round beside round1" in html_text and f"{flagged[0]}@2" in html_text
    # all again on request; and nothing new to rate is refused
    assert main(["study", "create", "--db", str(work), "--protocol", str(protocol_path()),
                 "--catalog", catalog, "--name", "round2-all", "--previous", "round1",
                 "--all-prototypes", *lenient]) == 0
    assert main(["study", "create", "--db", str(work), "--protocol", str(protocol_path()),
                 "--catalog", catalog, "--name", "round3", "--previous", "round2-all",
                 *lenient]) == 2
    assert "nothing new to rate" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    (["--rule", "mean(warmth) < 2"], "unknown question 'warmth' (this study asks: "
                                     "representativeness, clarity)"),
    (["--rule", "bad >="], "column 7: expected a number"),
    (["--study", "nope"], "nope"),
    (["--db", "{root}/missing.db"], "missing.db: no such review database"),
    (["--run", "{root}/unprojected"], "not projected (no catalog/)"),
    (["--run", "{root}/other"], "rated another model"),
    (["--out", "{root}/run"], "already exists"),
    (["--rule", "bad >= 0"], "would disable every prototype of class(es)"),
])
def test_bad_input_is_one_line_and_changes_nothing(projected, change, message, capsys):
    root, run, db, flagged = projected
    if not (root / "unprojected").exists():
        shutil.copytree(run, root / "unprojected", ignore=shutil.ignore_patterns("catalog"))
        assert main(["train", "--dataset", "synthetic", "--preset", "tiny", "--out",
                     str(root / "other"), "--epochs", "1", "--quiet", "--config",
                     str(_seed_config(root))]) == 0
        assert main(["project", "--run", str(root / "other")]) == 0
    args = {"--run": str(run), "--db": str(db), "--study": "round1", "--rule": RULE,
            "--action": "disable", "--out": str(root / "never")}
    args.update(dict(zip(change[::2], [c.format(root=root) for c in change[1::2]],
                         strict=True)))
    before = _snapshot(root)
    capsys.readouterr()
    assert main(["prune", *[x for kv in args.items() for x in kv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("protoecg: error: ") and err.count("\n") == 1
    assert message in err
    assert _snapshot(root) == before
    assert not (root / "never").exists()


def _seed_config(root: Path) -> Path:
    path = root / "seed7.toml"
    path.write_text("[train]\nseed = 7\n")
    return path


def test_plan_is_the_same_object_the_command_uses(projected):
    root, run, db, flagged = projected
    plan = plan_pruning(run, db, "round1", RULE, "disable")
    assert plan.selected == flagged
    assert all(plan.per_class[c]["active_after"] >= 1 for c in plan.per_class
               if plan.per_class[c]["active"])


def test_round_chains_prune_retrain_project_compare_and_the_next_study(projected, tmp_path,
                                                                       capsys):
    root, run, db, flagged = projected
    work = tmp_path / "review.db"
    shutil.copy(db, work)
    out = tmp_path / "next"
    # the 1-epoch tiny model's latent spaces are degenerate: accepted here, where the chain
    # of steps is what is tested
    base = ["round", "--run", str(run), "--db", str(work), "--study", "round1", "--rule", RULE,
            "--action", "disable", "--out", str(out), "--quiet", "--allow-degenerate"]
    assert main([*base, "--next-study", "round1"]) == 2  # a taken name: refused up front
    assert "already exists" in capsys.readouterr().err and not out.exists()
    assert main([*base, "--next-study", "round2", "--comparison-study", "round1"]) == 2
    assert "study 'round1' already exists" in capsys.readouterr().err and not out.exists()
    # threshold 0 and identical cases kept: a comparison study whatever the 1-epoch model learned
    assert main([*base, "--next-study", "round2", "--comparison-study", "r1-vs-r2",
                 "--per-label", "2", "--comparison-threshold", "0", "--include-identical"]) == 0
    printed = capsys.readouterr().out
    assert "difference" in printed and "rates" in printed
    assert "comparison study 'r1-vs-r2'" in printed and "blind" in printed
    with ReviewStore(work, "read") as store:  # round 1 against round 2, blind
        versus = store.study("r1-vs-r2", kind="comparison")
        assert {m for _, _, a, b in store.comparison_key(versus) for m in (a, b)} <= {
            run.name, out.name}
        assert versus.catalog_meta["runs"] == [str(run), str(out)]
    compare = json.loads((out / "compare.json").read_text())
    assert compare["delta"] == pytest.approx(compare["after"] - compare["before"])
    assert (out / "catalog" / "catalog.json").is_file()
    with ReviewStore(work) as store:
        study = store.study("round2")
        assert study.previous_id == store.study("round1").id
        rated = {p.prototype_id for p in store.prototypes(study)}
    assert rated and not rated & set(flagged)  # disabled prototypes are not rated again


def test_pruning_leaves_batch_norm_statistics_as_trained(projected, tmp_path):
    """replace and forbid look at one ECG to size the latent map; that look must not fold the
    ECG into the backbones' batch-norm statistics saved with the pruned model."""
    root, run, db, flagged = projected
    out = tmp_path / "replaced"
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 RULE, "--action", "replace", "--out", str(out)]) == 0
    source, pruned = torch.load(run / "model.pt"), torch.load(out / "model.pt")
    stats = [k for k in source if "running_" in k or "num_batches" in k]
    assert stats and all(torch.equal(source[k], pruned[k]) for k in stats)


def test_rules_read_the_runs_audit(projected, tmp_path, capsys):
    """audit.* terms select from `protoecg audit`'s per-prototype rows, next to the ratings;
    a missing audit or one of other weights is one line."""
    root, run, db, flagged = projected
    out = tmp_path / "audit"
    assert main(["audit", "--run", str(run), "--out", str(out), "--no-label-randomisation",
                 "--quiet"]) == 0
    rows = json.loads((out / "audit.json").read_text())["prototypes"]
    segment = next(rows[p]["segment"] for p in flagged if rows[p]["segment"])
    rule = f'bad >= 2 and audit.segment == "{segment}"'
    capsys.readouterr()
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 rule, "--action", "disable", "--dry-run", "--json",
                 "--audit", str(out / "audit.json")]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["selected"] == [p for p in flagged if rows[p]["segment"] == segment]
    assert plan["evidence"][plan["selected"][0]]["audit"] == rows[plan["selected"][0]]
    # no audit at the run's default place
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 rule, "--action", "disable", "--dry-run"]) == 2
    assert "no audit of the rated run; run `protoecg audit --run" in capsys.readouterr().err
    # an audit of other weights
    other = json.loads((out / "audit.json").read_text())
    other["model_sha256"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main(["prune", "--run", str(run), "--db", str(db), "--study", "round1", "--rule",
                 rule, "--action", "disable", "--dry-run", "--audit",
                 str(tmp_path / "other.json")]) == 2
    assert "audits other weights" in capsys.readouterr().err
