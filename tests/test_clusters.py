"""Issue 33: time-localized clusters (Boubekki et al.): the clustering recovers known segments
and fails the alignment when it ignores them; entropy; the surrogate on hand-made cases; the
stage on a real (tiny) LUDB run; bad input in one line."""

import numpy as np
import pytest
import torch

from protoecg.clusters.alignment import WAVES, alignment
from protoecg.clusters.mixture import Clustering, entropy, fit_clustering, proportions
from protoecg.clusters.surrogate import surrogate
from tests._cli import assert_one_line_error, exit_code

# one synthetic "beat" of 20 steps: P 3, rest 3, QRS 3, rest 3, T 5, rest 3 (index into WAVES)
BEAT = [0] * 3 + [3] * 3 + [1] * 3 + [3] * 3 + [2] * 5 + [3] * 3


def synthetic(n: int = 40, beats: int = 5, dim: int = 24, seed: int = 0):
    """(activations (N, T, D), waves (N, T)): each wave its own mean in D dimensions, noise."""
    rng = np.random.default_rng(seed)
    waves = np.tile(np.array(BEAT * beats, dtype=np.int8), (n, 1))
    centres = rng.normal(0, 3, size=(len(WAVES), dim))
    features = centres[waves] + rng.normal(0, 1, size=waves.shape + (dim,))
    return features.astype(np.float32), waves


def test_clusters_recover_known_segments_and_line_up_with_them():
    features, waves = synthetic()
    clustering = fit_clustering(features, (2, 8), seed=0)
    assert clustering.n_clusters == 4  # the lowest BIC: the four segments
    assert min(clustering.bic, key=clustering.bic.get) == 4
    post = clustering.posteriors(features)
    aligned = alignment(post.argmax(axis=-1), waves, clustering.n_clusters)
    assert aligned["ami"] > 0.95
    for wave in ("P", "QRS", "T"):
        assert aligned["best"][wave]["share"] > 0.95 and aligned["best"][wave]["mostly"]
    assert sorted(e["wave"] for e in aligned["legend"]) == sorted(WAVES)
    assert np.asarray(aligned["table"]).sum() == waves.size


def test_a_clustering_that_ignores_the_waves_fails_the_alignment():
    _, waves = synthetic()
    by_place = np.tile(np.arange(waves.shape[1]) * 4 // waves.shape[1], (len(waves), 1))
    aligned = alignment(by_place, waves, 4)
    assert abs(aligned["ami"]) < 0.05
    assert not any(aligned["best"][w]["mostly"] for w in ("P", "T"))
    at_random = np.random.default_rng(1).integers(0, 4, size=waves.shape)
    assert abs(alignment(at_random, waves, 4)["ami"]) < 0.01


def test_steps_without_delineation_are_left_out():
    _, waves = synthetic(n=4)
    waves = waves.copy()
    waves[:, :10] = -1
    aligned = alignment(np.zeros_like(waves), waves, 1)
    assert aligned["unknown_steps"] == 40 and aligned["steps"] == waves.size - 40


def test_entropy_is_zero_for_hard_assignments_and_log_k_when_all_alike():
    hard = np.eye(5)[np.array([[0, 3, 4], [1, 1, 2]])]
    assert np.array_equal(entropy(hard), np.zeros((2, 3)))
    assert np.allclose(entropy(np.full((2, 3, 5), 0.2)), np.log(5))
    assert np.allclose(proportions(hard)[0], [1 / 3, 0, 0, 1 / 3, 1 / 3])


def test_a_saved_clustering_gives_the_same_posteriors():
    features, _ = synthetic(n=10)
    clustering = fit_clustering(features, (3, 5), seed=2)
    again = Clustering.from_arrays(clustering.to_arrays("morphology/"), "morphology/")
    assert np.allclose(again.posteriors(features), clustering.posteriors(features))
    assert again.bic == clustering.bic


def test_k_range_is_checked():
    with pytest.raises(ValueError, match="k_range"):
        fit_clustering(synthetic(n=2)[0], (5, 3))


def _hand_made(n: int, seed: int):
    """Proportions of 2 clusters; label 0 decided exactly by cluster 0's share, label 1 never."""
    rng = np.random.default_rng(seed)
    share = rng.uniform(0, 1, n)
    x = np.stack([share, 1 - share], axis=1)
    decisions = np.stack([share > 0.5, np.zeros(n, dtype=bool)], axis=1).astype(int)
    return x, decisions


def test_the_surrogate_reproduces_a_model_its_clusters_decide():
    x_train, d_train = _hand_made(200, 0)
    x_test, d_test = _hand_made(100, 1)
    scores = np.stack([x_test[:, 0] * 4 - 2, np.full(100, -5.0)], axis=1)
    labels_test = d_test.copy()
    labels_test[:5, 1] = 1  # label 1 present in the truth, so both labels are scored
    result = surrogate(x_train, x_test, d_train, d_test, d_train, labels_test, scores, seed=0)
    assert result["agreement"] > 0.97 and result["kappa"] > 0.93
    assert result["majority_agreement"] < 0.8  # half the label-0 decisions are positive
    assert result["n_pairs"] == 200 and result["n_labels_scored"] == 2
    assert result["model_auroc"] == pytest.approx((1.0 + 0.5) / 2)


def test_a_summary_that_carries_nothing_agrees_only_as_the_majority_does():
    """Proportions unrelated to the decisions: agreement near always-the-majority, kappa near
    0 (the figure that a degenerate summary fails)."""
    rng = np.random.default_rng(3)
    x_train, x_test = rng.uniform(size=(300, 4)), rng.uniform(size=(200, 4))
    d_train = (rng.uniform(size=(300, 3)) < [0.5, 0.1, 0.05]).astype(int)
    d_test = (rng.uniform(size=(200, 3)) < [0.5, 0.1, 0.05]).astype(int)
    result = surrogate(x_train, x_test, d_train, d_test, d_train, d_test,
                       rng.normal(size=(200, 3)), seed=0)
    assert abs(result["kappa"]) < 0.2
    assert result["agreement"] < result["majority_agreement"] + 0.05
    assert abs(result["surrogate_auroc"] - 0.5) < 0.1


def test_a_branch_without_residual_stages_is_refused():
    from protoecg.clusters.activations import StageError, _stages

    with pytest.raises(StageError, match="no residual stages"):
        _stages(torch.nn.Linear(2, 2))


@pytest.mark.slow
def test_clusters_of_a_real_tiny_ludb_run(ludb_catalog, tmp_path, capsys):
    import shutil

    from protoecg.clusters.files import read_clusters, read_prototype_clusters, read_summary
    from protoecg.clusters.runner import segment_record

    run = tmp_path / "run"
    shutil.copytree(ludb_catalog.parent, run)
    assert exit_code(["clusters", "--run", str(run), "--max-clusters", "4", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "AMI with the waves" in printed and "surrogate" in printed
    summary = read_summary(run)
    assert summary["delineation"] == {"expert": 200, "fallback": 0, "alignment_uses": "expert"}
    assert set(summary["branches"]) == {"rhythm", "morphology", "global"}
    for branch in summary["branches"].values():
        assert branch["n_clusters"] in (2, 4) and sorted(branch["bic"]) == ["2", "4"]
        assert 0 <= branch["mean_entropy"] <= branch["max_entropy"] + 1e-6
    clusterings, record_ids, sequences, entropies = read_clusters(run)
    assert len(record_ids) == 200 and sequences["morphology"].shape == (200, summary["n_steps"])
    record = record_ids[7]
    again = segment_record(run, record)
    assert np.array_equal(again["morphology"]["sequence"], sequences["morphology"][7])
    table = read_prototype_clusters(run)
    assert set(table["branch"]) <= {"morphology"} and len(table) > 0
    assert table["cluster_share"].between(0, 1).all()
    assert exit_code(["clusters", "--run", str(run), "--record", record]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and [line.split(":")[0].strip() for line in lines[1:]] == [
        "rhythm", "morphology", "global"]
    # the explanation picture gains the bands
    assert exit_code(["explain", "--run", str(run), "--record", record, "--out",
                      str(tmp_path / "explained")]) == 0
    assert "time-localized clusters of 3 branches" in capsys.readouterr().out
    assert (tmp_path / "explained" / f"{record}.png").stat().st_size > 10_000
    # prune rules select on them
    from protoecg.catalog.reader import read_catalog
    from protoecg.prune.selection import select
    from protoecg.resources import protocol_path
    from protoecg.study.protocol import load_protocol
    from protoecg.study.store import ReviewStore

    catalog = read_catalog(run / "catalog")
    active = set(catalog.prototypes.loc[catalog.prototypes["active"] == 1, "prototype_id"])
    with ReviewStore(tmp_path / "r.db") as store:
        study = store.create_study("s", load_protocol(protocol_path()), catalog)
        chosen = select(store, study, "clusters.share >= 0", "replace")
        assert set(chosen.selected) == set(table["prototype_id"]) & active
        on_rest = select(store, study, 'clusters.wave == "rest"', "replace")
        assert set(on_rest.selected) == set(
            table.loc[table["cluster_wave"] == "rest", "prototype_id"]) & active
    # bad input: one line, nothing written
    assert_one_line_error(exit_code(["clusters", "--run", str(run), "--record", "no-such"]),
                          capsys.readouterr().err, "no-such")
    assert_one_line_error(exit_code(["clusters", "--run", str(run), "--min-clusters", "5",
                                     "--max-clusters", "3"]), capsys.readouterr().err,
                          "--min-clusters 5")


def test_bad_runs_are_refused_in_one_line(tmp_path, capsys):
    assert_one_line_error(exit_code(["clusters", "--run", str(tmp_path / "nope")]),
                          capsys.readouterr().err, "nope")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(exit_code(["clusters", "--run", str(tmp_path / "empty"), "--record",
                                     "1"]), capsys.readouterr().err, "no clusters")


@pytest.mark.slow
def test_a_black_box_run_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "twin"
    assert exit_code(["train", "--dataset", "synthetic", "--preset", "tiny", "--epochs", "1",
                      "--black-box", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert_one_line_error(exit_code(["clusters", "--run", str(out)]), capsys.readouterr().err,
                          "black-box run has no prototype branches")
    assert not (out / "clusters").exists()


def test_rules_read_a_prototypes_cluster():
    from protoecg.prune.rule_tokens import RuleError
    from protoecg.prune.rules import Evidence, evaluate, parse_rule, to_text, uses_clusters

    tree = parse_rule('clusters.wave == "rest" and clusters.share > 0.5')
    assert uses_clusters(tree) and parse_rule(to_text(tree)) == tree
    on_rest = Evidence(clusters={"cluster": 2, "share": 0.8, "wave": "rest"})
    on_qrs = Evidence(clusters={"cluster": 1, "share": 0.9, "wave": "QRS"})
    assert evaluate(tree, on_rest) and not evaluate(tree, on_qrs)
    assert not evaluate(tree, Evidence())  # whole-record or not clustered: undefined, false
    assert not evaluate(parse_rule('clusters.wave != "QRS"'), Evidence())
    assert evaluate(parse_rule("clusters.cluster == 1"), on_qrs)
    with pytest.raises(RuleError, match="unknown wave 'PR'"):
        parse_rule('clusters.wave == "PR"')  # a segment of the audit, not a cluster wave
    with pytest.raises(RuleError, match="cluster values: clusters.wave"):
        parse_rule("clusters.waves == 1")
    with pytest.raises(RuleError, match="compared only with another text"):
        parse_rule("clusters.wave == 1")


def test_bands_under_the_ecg_are_coloured_by_cluster_and_faint_where_uncertain():
    from protoecg.ecgplot import (
        WAVE_COLOURS,
        Band,
        rhythm_strip_chart,
        twelve_lead_chart,
        window_chart,
    )

    signal = np.zeros((12, 1000))
    band = Band("morphology", ("M0 · QRS", "M1 · rest") * 5, ("QRS", "rest") * 5,
                (1.0, 0.2) * 5)
    plain = twelve_lead_chart(signal, 100)
    spec = twelve_lead_chart(signal, 100, bands=(band, band))
    assert spec["height"] > plain["height"]
    rects = [layer for layer in spec["layer"] if layer.get("mark") == {"type": "rect"}][0]
    values = rects["data"]["values"]
    assert len(values) == 20 and {v["cluster"] for v in values} == {"M0 · QRS", "M1 · rest"}
    assert len({v["y2"] for v in values}) == 2  # one band under the other
    assert values[0]["x"] == 0 and values[-1]["x2"] == 10.0  # the record's 10 s
    assert rects["encoding"]["opacity"]["field"] == "certainty"
    colours = {v["cluster"]: v["colour"] for v in values}
    assert colours["M0 · QRS"] == WAVE_COLOURS["QRS"][0]  # its wave's family
    assert colours["M1 · rest"] == WAVE_COLOURS["rest"][0]
    legend = [layer for layer in spec["layer"] if layer["mark"].get("type") == "point"][0]
    assert legend["encoding"]["color"]["scale"]["domain"] == ["P", "QRS", "T", "rest"]
    strip = rhythm_strip_chart(signal, 100, bands=(band,))
    assert sum(len(layer["data"]["values"]) for layer in strip["layer"]
               if layer.get("mark") == {"type": "rect"}) == 10
    window = window_chart(signal, 100, 400, 500, bands=(band,))
    steps = [v for layer in window["layer"] if layer.get("mark") == {"type": "rect"}
             for v in layer["data"]["values"]]
    assert len(steps) == 2  # the one step under the window, under both columns


def test_a_rule_on_clusters_of_a_run_without_them_is_refused(synthetic_catalog, tmp_path):
    from protoecg.prune.selection import SelectionError, select
    from protoecg.resources import protocol_path
    from protoecg.study.protocol import load_protocol
    from protoecg.study.store import ReviewStore

    with ReviewStore(tmp_path / "r.db") as store:
        from protoecg.catalog.reader import read_catalog

        study = store.create_study("s", load_protocol(protocol_path()),
                                   read_catalog(synthetic_catalog))
        with pytest.raises(SelectionError, match="no clusters of the rated run"):
            select(store, study, "clusters.share > 0.5", "disable")


def test_the_researchers_print_carries_the_bands_on_its_time_axis():
    """The researcher's card: the bands sit under the 12-lead print, their steps starting after
    the calibration margin and spanning the record's time at 25 mm/s, as the rhythm strip."""
    import re

    from protoecg.ecgplot import Band
    from protoecg.ecgsvg import BAND_ROW_MM, CAL_MM, PRINT_HEIGHT_MM, twelve_lead_svg

    band = Band("global", ("G0 · P", "G1 · QRS") * 5, ("P", "QRS") * 5, (1.0, 0.0) * 5)
    plain = twelve_lead_svg(np.zeros((12, 1000)), 100)
    banded = twelve_lead_svg(np.zeros((12, 1000)), 100, bands=(band, band))
    height = lambda svg: float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)', svg).group(1))  # noqa: E731
    assert height(plain) == PRINT_HEIGHT_MM
    assert height(banded) == PRINT_HEIGHT_MM + 2 * BAND_ROW_MM + 6
    steps = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="5.8"', banded)
    xs = [float(x) for x, _ in steps]
    assert len(steps) == 20 and min(xs) == CAL_MM and max(xs) == pytest.approx(CAL_MM + 225)
    assert min(float(y) for _, y in steps) > PRINT_HEIGHT_MM
    assert 'fill-opacity="0.12"' in banded and "<title>G1 · QRS</title>" in banded
