import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from fgssl.cli import main
from tests.fakes import not_a_checkpoint
from tests.images import write_jpeg


def _json_last_line(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_data_info_json_has_the_contract_keys(capsys):
    assert main(["data", "info", "synthbirds", "--json"]) == 0
    result = _json_last_line(capsys)
    assert {"name", "num_classes", "splits"} <= set(result)
    assert result["splits"] == {"train": 192, "val": 96, "test": 96, "unlabelled": 512}


def test_data_prepare_folder_then_info(tmp_path, capsys):
    for c in ("x", "y"):
        for k in range(5):
            write_jpeg(tmp_path / "mine" / c / f"{k}.jpg", seed=k)
    assert main(["data", "prepare", "folder", "--root", str(tmp_path / "mine")]) == 0
    assert "train 6, val 2, test 2" in capsys.readouterr().out
    assert main(["data", "info", "folder", "--root", str(tmp_path / "mine"), "--json"]) == 0
    assert _json_last_line(capsys)["num_classes"] == 2
    for k in range(7):
        write_jpeg(tmp_path / "mine" / "unlabelled" / f"{k}.jpg", seed=20 + k)
    assert main(["data", "info", "folder", "--root", str(tmp_path / "mine")]) == 0
    said = capsys.readouterr().out
    assert "labelled: train 6, val 2, test 2" in said
    assert "unlabelled pool (what self-supervised methods train on): 13 = train's 6 without " \
        "labels + 7 unlabelled-only images" in said


@pytest.mark.parametrize("argv, message", [
    (["data", "info", "cub2011"], "unknown dataset 'cub2011': choose one of synthbirds"),
    (["data", "info"], "the following arguments are required: name"),
    (["data", "info", "synthbirds", "--profile", "laptop"], "invalid choice: 'laptop'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["pretrain", "simclr", "--data", "synthbirds", "--size", "8"],
     "argument --size: '8' is not an image size of 16 px or more, e.g. 64"),
])
def test_command_line_mistakes_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_a_folder_given_as_the_dataset_is_told_how_to_read_it(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["pretrain", "simclr", "--data", str(tmp_path / "mine")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"give 'folder' (or 'cub_format', for a CUB-format folder) with --root " \
        f"{tmp_path / 'mine'}" in err


def test_pretraining_on_a_flat_folder_of_unlabelled_images_reports_without_knn(tmp_path,
                                                                                capsys):
    for k in range(12):
        write_jpeg(tmp_path / "flat" / f"{k}.jpg", seed=k, size=(40, 40))
    out = tmp_path / "run"
    assert main(["pretrain", "simclr", "--data", "folder", "--root", str(tmp_path / "flat"),
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "simclr: 1 epochs" in said and "no labelled val images to score kNN on" in said
    assert (out / "checkpoint.pt").is_file()


@pytest.mark.parametrize("images_per_class, message", [
    (0, "{root} has no labelled images, and a probe learns from labels: add class folders "
        "({root}/<class>/<image>)"),
    (1, "{root} has too few labelled images (2 to train on) for val or test images: a probe "
        "chooses its settings on val and is scored on test; add images (10 or more per class)"),
])
@pytest.mark.parametrize("command", ["evaluate", "demo"])
def test_a_folder_too_small_to_probe_is_one_line_before_any_training(
        command, images_per_class, message, tmp_path, capsys):
    if images_per_class:
        root = tmp_path / "mine"
        for species in ("wren", "finch"):
            write_jpeg(root / species / "0.jpg", size=(40, 40))
    else:
        root = tmp_path / "flat"
        write_jpeg(root / "0.jpg", size=(40, 40))
    argv = {"evaluate": ["evaluate", "random"],
            "demo": ["demo", "--methods", "simclr", "random", "--out", str(tmp_path / "d")]}
    assert main([*argv[command], "--data", "folder", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the progress of reading the folder
    assert last == f"fgssl: error: {message.format(root=root)}"
    assert "Traceback" not in err
    assert not (tmp_path / "d").exists()  # the demo stopped before training anything


@pytest.mark.parametrize("variable, fault", [
    ("FGSSL_RUNS", "Not a directory"), ("FGSSL_DATA", "Not a directory"),
    ("--out", "Not a directory"),
    ("FGSSL_RUNS", "Permission denied"),  # simulated: the tests may run as root
])
def test_a_runs_or_data_folder_that_cannot_be_made_is_one_line(variable, fault, tmp_path, capsys,
                                                               monkeypatch):
    (tmp_path / "a_file").write_text("not a folder")
    below = tmp_path / "a_file" / "below"
    if fault == "Permission denied":
        below = tmp_path / "not_mine"
        make_folder = os.mkdir

        def refuse(path, *args, **kwargs):
            if str(path).startswith(str(below)):
                raise PermissionError(13, "Permission denied", str(path))
            make_folder(path, *args, **kwargs)
        monkeypatch.setattr(os, "mkdir", refuse)
    if variable == "--out":
        out = ["--out", str(below)]
    else:
        monkeypatch.setenv(variable, str(below))
        out = [] if variable == "FGSSL_RUNS" else ["--out", str(tmp_path / "run")]
    assert main(["pretrain", "simclr", "--data", "synthbirds", *out]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the data's progress bars, if any
    assert last.startswith(f"fgssl: error: {below}")
    assert f"{fault}; fgssl writes under --out, FGSSL_RUNS (default runs/) and FGSSL_DATA " \
        "(default data/): point them at folders you can write to" in last
    assert "Traceback" not in err
    assert (tmp_path / "a_file").read_text() == "not a folder"


def test_missing_data_is_one_line_with_directions(tmp_path, capsys):
    assert main(["data", "prepare", "stanford_cars", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("fgssl: error: stanford_cars is not in") and "cars_train/" in err


def test_demo_with_chosen_methods_writes_the_results(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--methods", "scratch", "random",
                 "--seeds", "1"]) == 0
    saved = json.loads((out / "results.json").read_text())
    assert {row["method"] for row in saved["rows"]} == {"random", "scratch", "majority class"}
    assert saved["evaluation_seeds"] == 1 and saved["data"] == "synthbirds"
    assert "| random |" in capsys.readouterr().out  # the table, printed at the end


def test_an_unknown_study_entry_is_a_one_line_command_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--methods", "simclr", "no_such_method"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown --methods 'no_such_method': choose one of simclr, simclr-object_crop" in err


@pytest.mark.parametrize("argv, message", [
    (["demo", "--data", "stanford_cars", "--root", "{tmp}"], "stanford_cars is not in"),
    (["demo", "--methods", "imagenet"], "nothing left to evaluate: no ImageNet weights exist"),
])
def test_demo_mistakes_are_one_line(argv, message, tmp_path, capsys):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_demo_refuses_an_unknown_dataset_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--data", "cub2011"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown dataset 'cub2011'" in err


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "fgssl", "data", "info", "nope"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "unknown dataset 'nope'" in done.stderr


def test_pretrain_then_evaluate_with_json(tmp_path, capsys):
    out = tmp_path / "simclr"
    assert main(["pretrain", "simclr", "--data", "synthbirds", "--epochs", "1",
                 "--variant", "jigsaw_shuffle", "--out", str(out)]) == 0
    assert (out / "checkpoint.pt").is_file() and (out / "history.json").is_file()
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", "synthbirds", "--protocol", "knn",
                 "--labels", "0.5", "--json"]) == 0
    result = _json_last_line(capsys)
    for key in ("method", "protocol", "labels", "top1", "mean_per_class_acc", "macro_f1",
                "n_train", "n_test"):
        assert key in result, key
    assert result["method"] == "simclr" and result["protocol"] == "knn"
    assert result["labels"] == 0.5 and result["n_train"] == 96 and result["n_test"] == 96
    assert 0 <= result["top1"] <= 1
    # a second pretrain into the same folder must not silently overwrite it
    assert main(["pretrain", "simclr", "--data", "synthbirds", "--out", str(out)]) == 1
    assert "add --resume" in capsys.readouterr().err


def test_resume_with_nothing_to_resume_says_it_starts_from_the_first_epoch(tmp_path, capsys):
    out = tmp_path / "typo"
    with pytest.warns(UserWarning, match=f"--resume: no checkpoint in {out} yet, so training "
                                         "starts from the first epoch"):
        assert main(["pretrain", "simclr", "--data", "synthbirds", "--epochs", "1", "--out",
                     str(out), "--resume"]) == 0
    assert (out / "checkpoint.pt").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the next --resume continues it, and says nothing
        assert main(["pretrain", "simclr", "--data", "synthbirds", "--epochs", "2", "--out",
                     str(out), "--resume"]) == 0
    assert "simclr: 2 epochs" in capsys.readouterr().out


def test_pretrain_pmg_on_a_label_budget_then_probe_its_backbone(tmp_path, capsys):
    out = tmp_path / "pmg"
    assert main(["pretrain", "pmg", "--data", "synthbirds", "--labels", "0.5", "--batch", "32",
                 "--out", str(out)]) == 0
    assert "pmg: 1 epochs" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--data", "synthbirds", "--json"]) == 0
    result = _json_last_line(capsys)
    assert result["method"] == "pmg" and 0 <= result["top1"] <= 1


@pytest.mark.parametrize("argv, message", [
    (["pretrain", "no_such_method", "--data", "synthbirds"],
     "unknown method 'no_such_method': choose one of simclr, jigsaw, srgan"),
    (["pretrain", "simclr"], "the following arguments are required: --data"),
    (["pretrain", "simclr", "--data", "synthbirds", "--epochs", "0"],
     "argument --epochs: '0' is not a positive whole number, e.g. 10"),
    (["pretrain", "simclr", "--data", "synthbirds", "--lr", "-1"],
     "argument --lr: '-1' is not a positive number"),
    (["pretrain", "simclr", "--data", "synthbirds", "--variant", "mixup"],
     "--variant must be one of standard, gamma"),
    (["pretrain", "jigsaw", "--data", "synthbirds", "--grid", "5"],
     "--grid must be one of 2, 3, 4, got 5"),
    (["pretrain", "jigsaw", "--data", "synthbirds", "--permutations", "1"],
     "--permutations must be at least 2, got 1"),
    (["pretrain", "jigsaw", "--data", "synthbirds", "--permutations", "many"],
     "'many' is not an int"),
    (["pretrain", "simclr", "--data", "synthbirds", "--grid", "2"],
     "--grid is jigsaw's option, not simclr's"),
    (["pretrain", "jigsaw", "--data", "synthbirds", "--scale", "2", "--content", "none"],
     "--scale and --content are srgan's options, not jigsaw's"),
    (["pretrain", "simclr", "--data", "synthbirds", "--seed", "-1"],
     "argument --seed: '-1' is not a whole number of 0 or more, e.g. 0"),
    (["pretrain", "byol", "--data", "synthbirds", "--momentum", "2"],
     "fgssl pretrain: error: --momentum must be from 0 to 1, got 2.0 (see 'fgssl pretrain "
     "--help')"),
    (["evaluate", "random", "--data", "synthbirds", "--seed", "-1"],
     "argument --seed: '-1' is not a whole number of 0 or more"),
    (["evaluate", "random", "--data", "synthbirds", "--labels", "1.5"], "not a fraction"),
    (["evaluate", "random", "--data", "synthbirds", "--protocol", "svm"], "invalid choice"),
])
def test_training_command_mistakes_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("command", [["pretrain", "simclr", "--data", "synthbirds"],
                                     ["demo", "--methods", "random"]])
def test_an_out_folder_that_cannot_be_written_is_refused_by_the_parser(command, tmp_path,
                                                                       capsys, monkeypatch):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit):
        main([*command, "--out", str(tmp_path / "a_file")])
    assert f"argument --out: {tmp_path / 'a_file'} is a file, not a folder" in \
        capsys.readouterr().err
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path and
                        real_access(path, mode))  # as on a read-only mount
    with pytest.raises(SystemExit):
        main([*command, "--out", str(tmp_path / "new" / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"argument --out: cannot write in {tmp_path} (read-only" in err[0]


@pytest.mark.parametrize("command", [["data", "info", "folder"],
                                     ["evaluate", "random", "--data", "folder"]])
def test_a_root_that_is_a_file_is_refused_by_the_parser(command, tmp_path, capsys):
    (tmp_path / "photo.jpg").write_text("")
    with pytest.raises(SystemExit):
        main([*command, "--root", str(tmp_path / "photo.jpg")])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --root:" in err[0] and "is a file, not a folder" in err[0]


def test_evaluate_random_and_a_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", "random", "--data", "synthbirds"]) == 0
    assert "random on synthbirds, linear probe with 192 labels" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "none"), "--data", "synthbirds"]) == 1
    assert "no checkpoint at" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["code", "empty", "truncated", "foreign"])
def test_a_damaged_or_foreign_checkpoint_is_one_line(kind, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the pickled code would leave its mark
    path = not_a_checkpoint(kind, tmp_path / "run" / "checkpoint.pt")
    before = path.read_bytes()
    for argv in (["evaluate", str(path), "--data", "synthbirds"],
                 ["pretrain", "simclr", "--data", "synthbirds", "--out", str(path.parent),
                  "--resume"]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(path) in err[0] and "delete it" in err[0]
        assert "weights_only" not in err[0]
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == \
        ["checkpoint.pt"]
    assert not (tmp_path / "ran").exists()


def _every_file_and_time(folder):
    """Each path under ``folder`` (files and folders), with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in [folder, *folder.rglob("*")]}


def test_a_dataset_folder_is_only_read(tmp_path, capsys):
    images = tmp_path / "mine"
    for c in ("x", "y", "z"):
        for k in range(8):
            write_jpeg(images / c / f"{k}.jpg", seed=k)
    before = _every_file_and_time(images)
    folder = ["--data", "folder", "--root", str(images)]
    assert main(["data", "info", "folder", "--root", str(images)]) == 0
    assert main(["pretrain", "simclr", *folder, "--out", str(tmp_path / "run")]) == 0
    assert main(["evaluate", str(tmp_path / "run"), *folder]) == 0
    assert main(["data", "prepare", "folder", "--root", str(images)]) == 0
    assert _every_file_and_time(images) == before


def test_pretrain_jigsaw_with_its_options(tmp_path, capsys):
    out = tmp_path / "jigsaw"
    assert main(["pretrain", "jigsaw", "--data", "synthbirds", "--epochs", "1",
                 "--permutations", "12", "--grid", "2", "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["permutations"] == 12 and history["config"]["grid"] == 2
    assert "pretext_accuracy" in history["history"][0]


def test_pretrain_srgan_and_evaluate_either_network(tmp_path, capsys):
    out = tmp_path / "srgan"
    assert main(["pretrain", "srgan", "--data", "synthbirds", "--epochs", "1", "--scale", "2",
                 "--content", "features", "--out", str(out)]) == 0
    assert "SR PSNR on val" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["scale"] == 2 and history["config"]["content"] == "features"
    assert {"val_psnr", "val_ssim", "val_psnr_bicubic"} <= set(history["history"][0])
    for features in ("d", "g"):
        assert main(["evaluate", str(out), "--data", "synthbirds", "--features", features,
                     "--protocol", "knn", "--json"]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["method"] == f"srgan-{features}" and 0 <= result["top1"] <= 1
    assert main(["evaluate", "random", "--data", "synthbirds", "--features", "d",
                 "--protocol", "knn", "--json"]) == 0  # SRGAN's discriminator, untrained
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["method"] == "random-srgan-d" and 0 <= result["top1"] <= 1


def test_evaluate_by_fine_tuning(capsys):
    assert main(["evaluate", "random", "--data", "synthbirds", "--protocol", "finetune"]) == 0
    assert "random on synthbirds, fine-tuned with 192 labels: top-1" in capsys.readouterr().out
