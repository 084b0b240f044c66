import json
import warnings

import numpy as np
import pytest

from fgssl.config import profile, runs_root
from fgssl.models.backbones import build_backbone
from fgssl.study import demo, figures, units

SSL = ("simclr-object_crop", "jigsaw", "srgan-d", "srgan-g")
FINETUNED = ("simclr-object_crop", "jigsaw")
RANDOM = ("random", "random-srgan-d")  # untrained: the small CNN, SRGAN's discriminator


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The whole study on the ci profile, run twice: from an empty runs/ by two worker
    processes, and again in this process (where evaluating anything would fail)."""
    base = tmp_path_factory.mktemp("study")
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch.setenv("FGSSL_PROFILE", "ci")
        patch.setenv("FGSSL_DATA", str(base / "data"))
        patch.setenv("FGSSL_RUNS", str(base / "runs"))
        first = demo.run_demo(out=base / "demo", progress_bars=False, log=lambda _: None,
                              workers=2)

        def no_evaluation(*args, **kwargs):
            raise AssertionError("the second run evaluated a model again")
        patch.setattr(units, "evaluate_jobs", no_evaluation)
        patch.setattr(figures, "feature_views", no_evaluation)
        second = demo.run_demo(out=base / "demo", progress_bars=False, log=lambda _: None,
                               workers=1)
    return base / "demo", first, second, [str(w.message) for w in caught]


def test_results_json_has_every_row(study):
    out, results, second, _ = study
    assert json.loads((out / "results.json").read_text()) == second  # the latest run's
    low = results["low_label_fraction"]
    assert results["fractions"] == [1.0, low] and low == 0.5  # ci: 8 labels per class
    expected = {(m, p, f) for m in (*SSL, *RANDOM) for p in ("linear", "knn")
                for f in (1.0, low)}
    expected |= {("supervised", p, 1.0) for p in ("linear", "knn")}  # it saw every label
    expected |= {(m, "finetune", low) for m in (*FINETUNED, "scratch")}
    expected |= {("majority class", "floor", f) for f in (1.0, low)}
    rows = {(r["method"], r["protocol"], r["labels"]): r for r in results["rows"]}
    assert set(rows) == expected and len(results["rows"]) == len(expected)
    for row in results["rows"]:
        assert row["seeds"] == 2 and len(row["top1_values"]) == 2
        assert row["top1_mean"] == pytest.approx(np.mean(row["top1_values"]), abs=1e-4)
        assert 0 <= row["top1_mean"] <= 1 and row["wall_s"] >= 0
    assert rows[("majority class", "floor", 1.0)]["top1_mean"] == pytest.approx(1 / 24,
                                                                                abs=1e-4)
    assert set(results["models"]) == {*SSL, "supervised", *RANDOM}
    assert set(results["not_finetuned"]) == {"srgan-d", "srgan-g", *RANDOM, "supervised"}
    assert "small_cnn" in results["skipped"]["imagenet"]  # no ImageNet weights for it
    assert results["pretraining_seeds"] == [0] and results["evaluation_seeds"] == 2


def test_every_model_is_chosen_on_val_and_fine_tuned_at_the_low_label_point(study):
    _, results, _, _ = study
    for row in results["rows"]:
        if row["protocol"] in ("linear", "knn", "finetune"):
            key = {"linear": "C", "knn": "k", "finetune": "epochs"}[row["protocol"]]
            assert all(key in chosen for chosen in row["chosen_on_val"])


def test_the_outputs_are_written_and_the_table_has_a_line_per_model(study):
    out, _, _, _ = study
    table = (out / "results.md").read_text()
    for name in (*SSL, "supervised", *RANDOM, "scratch", "majority class"):
        assert f"| {name} |" in table
    assert "imagenet skipped" in table
    assert (out / "label_efficiency.png").stat().st_size > 10_000


def test_a_second_run_reuses_checkpoints_and_evaluations(study):
    _, first, second, _ = study
    assert first["workers"] == 2 and second["workers"] == 1
    assert {m["source"] for m in first["models"].values()} == {"trained now", "random init"}
    assert {m["source"] for m in second["models"].values()} == {"reused from runs/",
                                                                "random init"}
    assert second["rows"] == first["rows"]


def test_every_backbone_gets_its_figures_and_their_numbers(study):
    out, results, _, _ = study
    assert set(results["figures"]) == {*SSL, "supervised", *RANDOM}  # not scratch: no model
    for name, numbers in results["figures"].items():
        assert numbers["files"] == [f"{kind}_{name}.png" for kind in figures.FIGURES]
        assert all((out / file).stat().st_size > 5_000 for file in numbers["files"])
        assert 0 <= numbers["pointing"]["part"]["hit_rate"] <= 1
        assert numbers["retrieval"]["map@r"] > 0
    table = (out / "results.md").read_text()
    assert "| simclr-object_crop | " in table.split("in the box (chance) |")[1]


def test_warnings_raised_in_worker_processes_reach_the_caller(study):
    *_, caught = study
    assert any("no VGG19 ImageNet weights" in message for message in caught)  # SRGAN's


def test_seeds_change_the_results_and_the_same_seeds_reproduce_them(tmp_path):
    def run(out, seeds):
        rows = demo.run_demo(out=out, methods=["random"], seeds=seeds, progress_bars=False,
                             log=lambda _: None, workers=1)["rows"]
        return [{k: v for k, v in row.items() if k != "wall_s"} for row in rows]
    rows = run(tmp_path / "a", 3)
    low = [r for r in rows if r["method"] == "random" and r["labels"] < 1.0]
    assert any(len(set(r["top1_values"])) > 1 for r in low)  # other label subsets
    assert run(tmp_path / "b", 3) == rows  # nothing cached in b: recomputed, same numbers


def test_methods_filtering_trains_only_what_is_asked(tmp_path):
    results = demo.run_demo(out=tmp_path / "demo", methods=["jigsaw", "random"], seeds=1,
                            progress_bars=False, log=lambda _: None)
    assert {r["method"] for r in results["rows"]} == {"jigsaw", "random", "majority class"}
    trained = [p.name for p in (runs_root() / "ci" / "synthbirds").iterdir()]
    assert trained == ["jigsaw-seed0"]


def test_scratch_trains_at_all_labels_only_beside_an_end_to_end_entry(tmp_path):
    def plan(methods):
        return demo.plan_demo(profile("ci"), "synthbirds", None, tmp_path / "demo", methods,
                              seeds=1, workers=1, log=lambda _: None).settings
    low = plan(["scratch"]).fractions[-1]
    assert plan(["vicreg", "scratch"]).end_to_end_at == (low,)  # opt in, probed frozen
    assert plan(["pmg", "scratch"]).end_to_end_at == (1.0, low)


def test_pmg_is_opt_in_and_trained_end_to_end_beside_scratch_at_both_budgets(tmp_path,
                                                                             monkeypatch):
    results = demo.run_demo(out=tmp_path / "demo", methods=["pmg", "pmg-imagenet", "scratch"],
                            seeds=1, progress_bars=False, log=lambda _: None, workers=1)
    low = results["low_label_fraction"]
    assert {(r["method"], r["protocol"], r["labels"]) for r in results["rows"]} == {
        *((m, "finetune", f) for m in ("scratch", "pmg") for f in (1.0, low)),
        *(("majority class", "floor", f) for f in (1.0, low))}
    assert "small_cnn" in results["skipped"]["pmg-imagenet"]  # no ImageNet weights for it
    assert results["figures"] == {} and results["models"] == {}  # a model per budget and seed
    table = (tmp_path / "demo" / "results.md").read_text()
    assert "| end to end, 100% labels | end to end, 50% labels |" in table
    assert "| pmg |" in table and "pmg-imagenet skipped" in table

    def pretend_imagenet(name, image_size):  # what cached ImageNet weights would give
        return build_backbone(name, image_size)
    monkeypatch.setattr(demo, "imagenet_backbone", pretend_imagenet)
    monkeypatch.setattr(units, "imagenet_backbone", pretend_imagenet)
    results = demo.run_demo(out=tmp_path / "demo", methods=["pmg-imagenet"], seeds=1,
                            progress_bars=False, log=lambda _: None, workers=1)
    assert {(r["method"], r["labels"]) for r in results["rows"] if r["method"] != "majority class"
            } == {("pmg-imagenet", 1.0), ("pmg-imagenet", low)}
    assert results["models"]["pmg-imagenet"]["source"] == "ImageNet weights"


def test_unknown_methods_and_seeds_are_clear_errors():
    with pytest.raises(ValueError, match="unknown --methods no_such_method: choose from simclr"):
        demo.run_demo(methods=["simclr", "no_such_method"])
    with pytest.raises(ValueError, match="--seeds must be at least 1"):
        demo.run_demo(seeds=0)
    with pytest.raises(ValueError, match="--workers must be at least 1"):
        demo.run_demo(workers=0)


def test_the_same_study_runs_on_a_folder_of_ones_own_images(tmp_path):
    from tests.images import write_jpeg

    for species in ("wren", "robin", "finch"):
        for k in range(30):
            write_jpeg(tmp_path / "mine" / species / f"{k}.jpg", seed=k, size=(40, 36))
    results = demo.run_demo(data="folder", root=str(tmp_path / "mine"), out=tmp_path / "demo",
                            methods=["jigsaw", "random", "scratch"], seeds=2, progress_bars=False,
                            log=lambda _: None)
    assert results["data"] == "folder"
    rows = {(r["method"], r["protocol"], r["labels"]) for r in results["rows"]}
    low = results["low_label_fraction"]
    assert ("jigsaw", "linear", 1.0) in rows and ("scratch", "finetune", low) in rows
    assert all(r["n_test"] == 18 for r in results["rows"] if "n_test" in r)  # 20% of 90


def test_the_study_of_a_second_folder_trains_its_own_models(tmp_path):
    from tests.images import write_jpeg

    for folder, offset in (("first", 0), ("second", 500)):
        for species in ("wren", "robin", "finch"):
            for k in range(20):
                write_jpeg(tmp_path / folder / species / f"{k}.jpg", seed=offset + k,
                           size=(40, 36))
    said = []
    first = demo.run_demo(data="folder", root=str(tmp_path / "first"), methods=["jigsaw"],
                          seeds=1, progress_bars=False, log=said.append, workers=1)
    second = demo.run_demo(data="folder", root=str(tmp_path / "second"), methods=["jigsaw"],
                           seeds=1, progress_bars=False, log=said.append, workers=1, size=40)
    trained = [first["models"]["jigsaw"], second["models"]["jigsaw"]]
    assert [model["source"] for model in trained] == ["trained now", "trained now"]
    assert trained[0]["checkpoint"] != trained[1]["checkpoint"]
    assert "-size=40-" in trained[1]["checkpoint"] and second["image_size"] == 40
    assert second["dataset"]["location"] == str((tmp_path / "second").resolve())
    ci, at_40 = profile("ci"), profile("ci", 40)
    assert (demo.demo_out(ci, "folder", str(tmp_path / "first")) / "results.json").is_file()
    assert (demo.demo_out(at_40, "folder", str(tmp_path / "second")) / "results.json").is_file()
    assert not demo.demo_out(ci, "folder", str(tmp_path / "second")).exists()
    assert sum("no sibling-pair table and no Grad-CAM pointing game" in line
               for line in said) == 2
