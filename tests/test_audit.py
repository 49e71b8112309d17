"""The explanation audit: segment assignment, the fallback delineation, sanity checks that can
fail, activation counts, and the `protoecg audit` command on a real tiny LUDB run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from protoecg.audit import sanity
from protoecg.audit.activation import activation_table, subgroups
from protoecg.audit.segments import segment_table
from protoecg.data.delineation import (
    SEGMENTS,
    Delineation,
    Wave,
    fallback_delineation,
    ludb_delineation,
    parse_wave_annotation,
    qrs_centres,
    segment_at,
    window_segment,
)
from tests._cli import assert_one_line_error, exit_code

# ------------------------------------------------------------------ segments
BEAT = [Wave(100, 150, "P"), Wave(180, 230, "QRS"), Wave(300, 400, "T"),
        Wave(600, 650, "P"), Wave(680, 730, "QRS"), Wave(800, 900, "T")]


@pytest.mark.parametrize(("sample", "segment"), [
    (50, None), (100, "P"), (149, "P"), (165, "PR"), (200, "QRS"), (260, "ST-T"),
    (350, "T"), (500, "none"), (640, "P"), (900, "T"), (950, None),
])
def test_segment_at_each_kind_of_instant(sample, segment):
    assert segment_at(BEAT, sample) == segment


def test_window_segment_takes_the_leads_majority_and_finds_empty_windows():
    other = [Wave(w.onset + 40, w.offset + 40, w.kind) for w in BEAT]  # a lead 40 samples late
    delineation = Delineation(fs=100.0, waves={"I": BEAT, "II": BEAT, "III": other},
                              source="test")
    assert window_segment(delineation, 1.9, 2.1) == ("QRS", False)  # centre 200: 2 of 3 say QRS
    assert window_segment(delineation, 4.5, 5.3) == ("none", True)  # 450-530: no wave anywhere
    assert window_segment(delineation, 0.0, 0.2) == (None, None)  # before every annotation


def test_parse_wave_annotation_reads_brackets_and_tolerates_a_missing_one():
    waves = parse_wave_annotation(["(", "p", ")", "N", ")", "(", "t"], [1, 5, 9, 20, 25, 30, 40])
    assert waves == [Wave(1, 9, "P"), Wave(20, 25, "QRS"), Wave(30, 40, "T")]


def test_segment_assignment_on_a_ludb_record_with_known_annotation(ludb_root):
    """LUDB record 1, lead II (500 Hz): QRS 644-682, T 776-878, P 1250-1302, QRS 1324-1374,
    T 1458-1572, P 1911-1955 (read from its 'ii' file)."""
    delineation = ludb_delineation(ludb_root, "1")
    assert delineation.fs == 500 and len(delineation.waves) == 12
    lead_ii = delineation.waves["II"]
    assert lead_ii[:3] == [Wave(644, 682, "QRS"), Wave(776, 878, "T"), Wave(1250, 1302, "P")]
    expected = {600: None, 660: "QRS", 720: "ST-T", 800: "T", 1000: "none", 1280: "P",
                1310: "PR", 1400: "ST-T", 1500: "T"}
    assert {s: segment_at(lead_ii, s) for s in expected} == expected
    # a 0.1 s window centred on that QRS, by the majority of all 12 leads
    assert window_segment(delineation, 1.27, 1.37) == ("QRS", False)


def test_fallback_delineation_finds_the_experts_qrs_complexes(ludb_100, ludb_root):
    errors = []
    for position in range(0, 40, 4):
        record = ludb_100.record_ids[position]
        expert = ludb_delineation(ludb_root, record).waves["II"]
        found = qrs_centres(ludb_100.signals[position], 100.0) / 100.0
        for wave in expert:
            if wave.kind == "QRS":
                errors.append(np.abs(found - (wave.onset + wave.offset) / 2 / 500).min())
    assert np.mean(np.array(errors) < 0.05) >= 0.9, np.median(errors)


def test_fallback_delineation_of_a_flat_signal_has_no_waves():
    assert fallback_delineation(np.zeros((12, 1000)), 100.0).waves == {"all": []}


def test_segment_table_shares_and_expert_agreement():
    rows = [{"class_code": "CLBBB", "segment": s} for s in ("QRS", "QRS", "ST-T", None)]
    rows += [{"class_code": "PRC(S)", "segment": "T"}]
    table = segment_table(rows)
    assert table["CLBBB"]["QRS"] == pytest.approx(2 / 3)
    assert table["CLBBB"]["ST-T"] == pytest.approx(1 / 3)
    assert set(SEGMENTS) <= set(table["CLBBB"])
    assert (table["CLBBB"]["n_annotated"], table["CLBBB"]["n_prototypes"]) == (3, 4)
    assert table["CLBBB"]["expected"] == ["QRS"]
    assert table["CLBBB"]["agreement"] == pytest.approx(2 / 3)
    assert table["PRC(S)"]["expected"] is None and table["PRC(S)"]["agreement"] is None


# ------------------------------------------------------------------ sanity checks
def test_rank_correlation_against_hand_values():
    a = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
    b = np.array([[10.0, 20.0, 30.0, 40.0], [4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    rho = sanity.rank_correlations(a, b)
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(-1.0)
    assert np.isnan(rho[2])  # a constant map has no ranking


def test_top_overlap_against_hand_values():
    # one ECG, 2 classes, 4 prototypes; the reference scores class 1 highest
    reference = np.array([[[0, 0, 0, 0], [4.0, 3.0, 2.0, 1.0]]])
    other = np.array([[[9, 9, 9, 9], [4.0, 1.0, 2.0, 3.0]]])
    assert sanity.top_overlap(reference, other, k=2)[0] == pytest.approx(0.5)  # {0,1} vs {0,3}
    assert sanity.top_overlap(reference, reference, k=2)[0] == 1.0


def test_verdict_fails_when_explanations_do_not_change():
    maps = np.random.default_rng(0).random((10, 4, 6))
    contributions = np.random.default_rng(1).random((10, 4, 40))
    same = sanity.compare((maps, contributions), (maps.copy(), contributions.copy()))
    assert same["rank_correlation_median"] == pytest.approx(1.0)
    assert sanity.verdict(same, "model").startswith("fails")


def test_a_small_map_is_compared_across_ecgs_not_by_a_class_order_shared_by_every_ecg():
    """The global branch's map has 3 entries per ECG (3 classes, one window). A randomised
    model whose evidence no longer follows the ECG but whose class order is a constant (class
    0 > 1 > 2) that matches the trained model's usual order gives a per-ECG rank correlation
    of 1: "unchanged", a false failure. Ranked across ECGs per class, it is ~0 (depends), and
    a model whose evidence truly did not change still fails."""
    rng = np.random.default_rng(0)
    prior = np.array([2.0, 1.0, 0.0])[None, :, None]
    trained = prior + 0.3 * rng.random((200, 3, 1))  # the ECG moves each class a little
    randomised = prior + 0.3 * rng.random((200, 3, 1))  # the same order, evidence unrelated
    contributions = rng.random((200, 3, 6))
    per_ecg = sanity.rank_correlations(trained, randomised)
    assert np.median(per_ecg) == pytest.approx(1.0)  # what the per-ECG figure would say
    figures = sanity.compare((trained, contributions), (randomised, contributions.copy()))
    assert figures["pooled_over_ecgs"] and abs(figures["rank_correlation_median"]) < 0.2
    unchanged = sanity.compare((trained, contributions),
                               (trained * 2 + 1, contributions.copy()))  # monotone: same ranks
    assert unchanged["rank_correlation_median"] == pytest.approx(1.0)
    assert sanity.verdict(unchanged, "model").startswith("fails")


@pytest.fixture(scope="module")
def tiny_model(ludb_catalog):
    from protoecg.train.run import load_model, open_run_data

    model, meta, config = load_model(ludb_catalog.parent)
    data = open_run_data(meta, config)
    return model, data.signals[data.split_index["test"]][:12]


def test_randomising_a_trained_model_changes_its_explanations(tiny_model):
    model, signals = tiny_model
    result = sanity.model_randomisation(model, signals, seed=0)
    for branch, checks in result.items():
        steps = [s["randomised_down_to"] for s in checks["steps"]]
        assert steps[:3] == ["classifier", "prototypes", "add_on"] and steps[-1] == "backbone.stem"
        # randomising the classifier alone leaves the similarity maps as they were
        assert checks["steps"][0]["rank_correlation_median"] == pytest.approx(1.0)
        assert checks["verdict"] == "depends on the model", (branch, checks["steps"][-1])


def test_an_explanation_that_ignores_the_model_fails_the_check(tiny_model):
    """The identity case: 'explanations' computed from the input alone (its local energy per
    window) cannot change when the weights are randomised, and the check must say so."""
    model, signals = tiny_model

    def input_energy(m, x):
        energy = np.abs(x).sum(axis=1).reshape(len(x), 1, 20, -1).mean(axis=3)  # (N, 1, 20)
        maps = np.repeat(energy, 2, axis=1)
        contributions = np.repeat(energy[:, :, :10], 2, axis=1)
        return {name: (maps, contributions) for name in m.branches}

    result = sanity.model_randomisation(model, signals, explain=input_energy)
    for checks in result.values():
        assert checks["verdict"].startswith("fails"), checks["steps"][-1]


def test_label_permutation_keeps_real_label_rows_and_touches_only_the_given_rows():
    labels = np.eye(6, dtype=np.uint8)[[0, 1, 2, 3, 4, 5, 0, 1]]
    index = np.arange(6)
    permuted = sanity.permuted_labels(labels, index, seed=3)
    assert not np.array_equal(permuted[:6], labels[:6])
    assert sorted(map(tuple, permuted[:6])) == sorted(map(tuple, labels[:6]))
    np.testing.assert_array_equal(permuted[6:], labels[6:])
    np.testing.assert_array_equal(permuted, sanity.permuted_labels(labels, index, seed=3))


# ------------------------------------------------------------------ activation
def test_activation_counts_drivers_subgroups_and_never_used():
    probabilities = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.1]])
    similarities = np.array([[1.0, 0.5, 0.0, 0.2, 0.1],
                             [0.2, 0.9, 0.1, 0.1, 0.1],
                             [1.0, 1.0, 1.0, 1.0, 1.0]])
    weights = np.array([[1.0, 1.0, -1.0, 0.0, 0.0],   # label A reads prototypes 0, 1
                        [0.0, 0.0, 0.0, 1.0, 2.0]])   # label B reads 3, 4
    ids = [f"p{k}" for k in range(5)]
    groups = {"sex": ["female", "male", "male"]}
    table = activation_table(probabilities, similarities, weights, ["A", "B"], ids, groups)
    assert table["n_positive_predictions"] == 3  # ECG 0: A; ECG 1: A and B; ECG 2: none
    assert [d["prototype_id"] for d in table["per_class"]["A"]["drivers"]][:2] == ["p0", "p1"]
    assert table["per_class"]["B"]["drivers"][0]["prototype_id"] == "p4"
    assert table["per_prototype"]["p0"] == {"driver": 1, "top3": 2}
    assert table["per_subgroup"]["sex"]["male"]["per_class"]["A"]["drivers"][0][
        "prototype_id"] == "p1"
    assert table["never_used"] == ["p2"]  # its only weight is negative: it drives nothing
    masked = activation_table(probabilities, similarities, weights, ["A", "B"], ids, groups,
                              active=np.array([1, 1, 1, 1, 0]))
    assert masked["never_used"] == ["p2"]  # a disabled prototype is not 'never used'
    assert masked["per_class"]["B"]["drivers"][0]["prototype_id"] == "p3"


def test_subgroups_read_ptbxl_and_ludb_codings():
    import pandas as pd

    metadata = pd.DataFrame({"sex": [0, 1, "F", "?"], "age": [35, 300, 61, None],
                             "device": ["CS100", "", "AT-6", None]},
                            index=pd.Index(["a", "b", "c", "d"], name="record_id"))
    groups = subgroups(metadata, ["a", "b", "c", "d"])
    assert groups["sex"] == ["male", "female", "female", None]
    assert groups["age_band"] == ["<40", ">=80", "60-79", None]
    assert groups["device"] == ["CS100", None, "AT-6", None]


# ------------------------------------------------------------------ the command
@pytest.mark.slow
def test_audit_command_writes_the_documented_json(ludb_catalog, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(ludb_catalog.parent, run)
    out = tmp_path / "audit"
    code = exit_code(["audit", "--run", str(run), "--out", str(out), "--label-epochs", "1",
                      "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert result == json.loads((out / "audit.json").read_text())
    assert (out / "report.md").read_text().startswith("# Audit of")
    for branch in ("rhythm", "morphology", "global"):
        for check in ("model_randomisation", "label_randomisation"):
            assert "verdict" in result["sanity"][branch][check]
        assert "rank_correlation_median" in result["sanity"][branch]["label_randomisation"]
    assert result["segments"], "the tiny run has morphology prototypes"
    for entry in result["segments"].values():
        assert set(SEGMENTS) <= set(entry)
    assert result["delineation"]["source"].startswith("expert")
    assert set(result["prototypes"]) == set(
        __import__("pandas").read_csv(run / "catalog" / "prototypes.csv")["prototype_id"])
    # the label-randomised model trained beside the audit, on permuted labels
    label_run = json.loads((out / "label-randomised" / "run.json").read_text())
    assert label_run["status"] == "complete" and "label randomisation" in label_run["command"][-1]


def test_audit_refuses_a_run_without_catalog_and_an_out_that_is_a_file(ludb_catalog, tmp_path,
                                                                          capsys):
    run = tmp_path / "run"
    shutil.copytree(ludb_catalog.parent, run, ignore=shutil.ignore_patterns("catalog"))
    code = exit_code(["audit", "--run", str(run), "--no-label-randomisation"])
    assert_one_line_error(code, capsys.readouterr().err, "no catalog")
    assert not (run / "audit").exists()
    afile = tmp_path / "file"
    afile.write_text("x")
    code = exit_code(["audit", "--run", str(ludb_catalog.parent), "--out", str(afile)])
    assert_one_line_error(code, capsys.readouterr().err, "not a folder")
    assert afile.read_text() == "x"
    code = exit_code(["audit", "--run", str(ludb_catalog.parent), "--out",
                      str(tmp_path / "never"), "--label-run", str(tmp_path / "missing"),
                      "--quiet"])
    assert_one_line_error(code, capsys.readouterr().err, "a completed label-randomised run")
    assert not (tmp_path / "never").exists()
    code = exit_code(["audit", "--run", str(tmp_path / "missing")])
    assert_one_line_error(code, capsys.readouterr().err, "not a run folder")


def test_label_randomisation_compares_maps_only_and_fails_for_the_same_model(tiny_model):
    model, signals = tiny_model
    result = sanity.label_randomisation(model, model, signals)
    for checks in result.values():
        assert checks["top_k_overlap"] is None and "do not correspond" in checks["top_k_note"]
        assert checks["rank_correlation_median"] == pytest.approx(1.0)
        assert checks["verdict"].startswith("fails: explanations barely change after "
                                            "randomising the labels")


@pytest.mark.slow
def test_sanity_verdicts_are_read_only_for_the_audited_model(ludb_catalog, tmp_path):
    import json

    from protoecg.audit.files import sanity_verdicts
    from protoecg.train.run import model_sha256

    run = tmp_path / "run"
    shutil.copytree(ludb_catalog.parent, run)
    assert sanity_verdicts(run) is None  # not audited
    (run / "audit").mkdir(exist_ok=True)
    audit = {"model_sha256": model_sha256(run), "sanity": {
        "rhythm": {"model_randomisation": {"verdict": "depends on the model"},
                   "label_randomisation": {"verdict": "barely changes"}}}}
    (run / "audit" / "audit.json").write_text(json.dumps(audit))
    assert sanity_verdicts(run) == {"rhythm": {"model_randomisation": "depends on the model",
                                               "label_randomisation": "barely changes"}}
    audit["model_sha256"] = "0" * 64  # another model's audit says nothing about this one
    (run / "audit" / "audit.json").write_text(json.dumps(audit))
    assert sanity_verdicts(run) is None
