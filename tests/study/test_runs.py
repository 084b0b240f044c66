import dataclasses
import json
import re

import pytest
import torch

from fgssl.config import profile, runs_root
from fgssl.methods.checkpoints import method_from_checkpoint
from fgssl.study.runs import (
    Run,
    backbone_for,
    load_or_train,
    pretrain,
    step_seconds,
    training_data,
)
from fgssl.train import Hardware
from fgssl.utils import CHECKPOINT, CheckpointError, atomic_save, load_checkpoint
from tests.fakes import not_a_checkpoint
from tests.images import write_jpeg


def test_load_or_train_trains_once_then_loads():
    first = load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    runs = list(runs_root().glob("ci/synthbirds/simclr-seed0/checkpoint.pt"))
    assert len(runs) == 1
    again = load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name


def test_load_or_train_takes_a_run_as_it_is():
    run = Run.of("simclr", "ci", epochs=1)
    trained = load_or_train(run, progress_bar=False)
    again = load_or_train("simclr", "ci", epochs=1, progress_bar=False, say=None)
    assert trained.history == again.history  # the same run: loaded, not trained again
    with pytest.raises(TypeError, match="takes the run as it is"):
        load_or_train(run, "cpu")
    with pytest.raises(TypeError, match="takes the run as it is"):
        load_or_train(run, seed=1)


def test_random_backbone_is_seeded():
    prof = profile("ci")
    _, a = backbone_for("random", prof, seed=1)
    _, b = backbone_for("random", prof, seed=1)
    _, c = backbone_for("random", prof, seed=2)
    weight = next(a.parameters())
    assert torch.equal(weight, next(b.parameters()))
    assert not torch.equal(weight, next(c.parameters()))


def test_another_network_of_a_method_untrained_or_not():
    prof = profile("ci")
    name, untrained = backbone_for("random", prof, seed=0, features="d")
    assert name == "random-srgan-d" and untrained.input_size == 64
    with pytest.raises(ValueError, match="no method has features 'z': choose one of d, g"):
        backbone_for("random", prof, features="z")
    load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    with pytest.raises(ValueError, match=r"features 'd' are srgan's; .* is a simclr checkpoint"):
        backbone_for(str(runs_root() / "ci" / "synthbirds" / "simclr-seed0"), prof,
                     features="d")


def test_a_label_budget_is_repeated_to_a_full_epoch():
    prof = profile("ci")
    full = training_data(Run.of("supervised", prof))
    budget = training_data(Run.of("supervised", prof, labels=0.25))
    assert len(budget) == len(full) == 192
    unique = sorted(set(budget.indices))
    assert len(unique) == 48  # 2 of the 8 images of each of the 24 species
    labels = [full.labels[i] for i in unique]
    assert sorted(labels) == sorted(list(range(24)) * 2)
    pool = training_data(Run.of("simclr", prof))
    assert len(pool) == prof.n_unlabelled  # SSL learns from the unlabelled pool


def test_a_label_budget_for_a_method_without_labels_is_refused():
    with pytest.raises(ValueError, match="simclr learns without labels, from the unlabelled"):
        pretrain(Run.of("simclr", "ci", labels=0.5))


@pytest.mark.parametrize("description, message", [
    ({"labels": 0.5}, "simclr learns without labels"),
    ({"labels": 2}, r"labels is a fraction of the train split in \(0, 1\], e.g. 0.1; got 2"),
    ({"epochs": 0}, "epochs must be at least 1, got 0"),
    ({"seed": -1}, "seed must be a whole number, 0 or more"),
    ({"lr": 0.0}, "lr must be positive, got 0.0"),
])
def test_a_mistaken_description_is_refused_before_anything_is_announced(description, message):
    said = []
    with pytest.raises(ValueError, match=message):
        load_or_train("simclr", "ci", say=said.append, **description)
    assert said == []  # not "training simclr ...", then the error
    assert not runs_root().exists() or not any(runs_root().rglob("checkpoint.pt"))


def test_a_trained_method_knows_its_history_and_off_profile_epochs_get_their_own_run():
    trained = load_or_train("simclr", "ci", epochs=2, progress_bar=False)
    assert [r["epoch"] for r in trained.history] == [1, 2]
    run = runs_root() / "ci" / "synthbirds" / "simclr-epochs=2-seed0"
    assert method_from_checkpoint(run).history == trained.history
    assert Run.of("simclr", "ci", epochs=1).folder.name == "simclr-seed0"
    assert Run.of("simclr", "ci", variant="gamma").folder.name == "simclr-variant=gamma-seed0"
    assert Run.of("supervised", "ci", labels=0.1, seed=2).folder.name == \
        "supervised-labels=0.1-seed2"
    assert Run.of("simclr", "ci", size=48).folder.name == "simclr-size=48-seed0"
    assert Run.of("simclr", "ci", size=32).folder.name == "simclr-seed0"  # the profile's own
    dino = Run.of("dino", "cpu", batch_size=256, lr=0.1)  # a batch and a rate of its own
    assert dino.folder.name == "dino-batch=256-lr=0.1-seed0" and dino.planned_batch_size == 256
    assert Run.of("dino", "cpu", batch_size=64, lr=0.3).folder.name == "dino-seed0"  # its own
    assert Run.of("dino", "cpu").planned_batch_size == 64


def test_a_run_saved_before_a_setting_existed_is_not_reused_as_if_it_had_it():
    load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    run = runs_root() / "ci" / "synthbirds" / "simclr-seed0"
    state = load_checkpoint(run / CHECKPOINT)
    del state["config"]["temperature"]  # as if saved before SimCLR had that setting
    atomic_save(state, run / CHECKPOINT)
    with pytest.raises(ValueError, match=r"before simclr had the settings it has now "
                                         r"\(temperature\), so it is not.*delete that folder"):
        load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    saved = load_checkpoint(run / CHECKPOINT)  # kept as it was: nothing lost
    assert saved["config"] == state["config"] and saved["epoch"] == state["epoch"]
    assert method_from_checkpoint(run).config()["temperature"] == 0.2  # still evaluable


def test_a_run_trained_under_an_older_default_is_not_reused_as_today_s_method():
    load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    run = runs_root() / "ci" / "synthbirds" / "simclr-seed0"
    state = load_checkpoint(run / CHECKPOINT)
    state["config"]["jitter"] = 0.5  # as if trained when SimCLR's default jitter was 0.5
    atomic_save(state, run / CHECKPOINT)
    kept = run.with_name("simclr-jitter=0.5-seed0")
    with pytest.raises(ValueError, match=rf"trained with jitter=0.5 \(the default is now "
                                         rf"0.25\), so it is not the simclr asked for: delete "
                                         rf"that folder .* rename it to {kept}"):
        load_or_train("simclr", "ci", epochs=1, progress_bar=False)
    assert load_checkpoint(run / CHECKPOINT)["config"] == state["config"]  # nothing lost
    run.rename(kept)  # what the message suggests: it is then the run with those settings
    reused = load_or_train("simclr", "ci", epochs=1, progress_bar=False, jitter=0.5)
    assert reused.config()["jitter"] == 0.5 and reused.history == state["history"]


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_a_damaged_checkpoint_in_runs_is_named_and_kept(kind):
    run = runs_root() / "ci" / "synthbirds" / "jigsaw-seed0"
    damaged = not_a_checkpoint(kind, run / CHECKPOINT).read_bytes()
    with pytest.raises(CheckpointError, match=f"{run / CHECKPOINT} is empty or damaged"):
        load_or_train("jigsaw", "ci", progress_bar=False)
    assert (run / CHECKPOINT).read_bytes() == damaged  # not overwritten: the user decides


def test_load_or_train_is_exported_at_the_top_level():
    import fgssl

    assert fgssl.load_or_train is load_or_train
    with pytest.raises(AttributeError, match="no attribute 'train_everything'"):
        fgssl.train_everything  # noqa: B018


def test_load_or_train_says_how_long_before_training_and_that_it_loads_a_finished_run():
    said = []
    load_or_train("simclr", "ci", epochs=1, progress_bar=False, say=said.append)
    assert re.fullmatch(r"training simclr \(ci profile, 32 px: the plumbing check\): 1 epoch "
                        r"of 512 images in batches of "
                        r"64, 8 steps at \S+ s each \(timed just now\) = about .+", said[0])
    load_or_train("simclr", "ci", epochs=1, progress_bar=False, say=said.append)
    assert said[1] == (f"simclr: the finished run in {runs_root() / 'ci' / 'synthbirds'}"
                       "/simclr-seed0 is loaded, not trained again")


def test_timing_the_steps_leaves_the_random_state_and_runs_alone():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    seconds, images = step_seconds(Run.of("jigsaw", "ci"))
    assert torch.equal(torch.rand(3), expected) and seconds > 0 and images == 512
    assert not runs_root().exists() or not any(runs_root().rglob("checkpoint.pt"))


def _folder_of_images(root, classes=("a", "b", "c"), per_class=10, unlabelled=0, seed=0):
    for c in classes:
        for k in range(per_class):
            write_jpeg(root / c / f"{k}.jpg", seed=seed + k, size=(40, 40))
    for k in range(unlabelled):
        write_jpeg(root / "unlabelled" / f"{k}.jpg", seed=seed + 1000 + k, size=(40, 40))
    return root


def test_two_folders_get_two_models_and_each_folder_reuses_its_own(tmp_path):
    first = _folder_of_images(tmp_path / "a" / "mine")
    second = _folder_of_images(tmp_path / "b" / "mine", seed=50)
    said = []
    a = load_or_train("simclr", "ci", data="folder", root=first, progress_bar=False,
                      say=said.append)
    b = load_or_train("simclr", "ci", data="folder", root=second, progress_bar=False,
                      say=said.append)
    assert said[1].startswith("training simclr")  # not A's model, handed back as B's
    weight = next(iter(a.backbone.state_dict()))
    assert not torch.equal(a.backbone.state_dict()[weight], b.backbone.state_dict()[weight])
    (tmp_path / "link").symlink_to(first)
    again = load_or_train("simclr", "ci", data="folder", root=tmp_path / "link", progress_bar=False,
                          say=said.append)
    assert said[2].endswith("is loaded, not trained again")
    assert torch.equal(again.backbone.state_dict()[weight], a.backbone.state_dict()[weight])
    runs = sorted(p.parent.parent.name for p in runs_root().glob("ci/*/simclr-seed0/"
                                                                 "checkpoint.pt"))
    assert len(runs) == 2 and all(name.startswith("folder-mine-") for name in runs)


def test_resuming_a_run_of_another_folder_or_size_is_refused(tmp_path):
    first = _folder_of_images(tmp_path / "a")
    second = _folder_of_images(tmp_path / "b", seed=50)
    out = tmp_path / "run"
    pretrain(Run.of("jigsaw", "ci", "folder", first), out, progress_bar=False)
    before = (out / CHECKPOINT).read_bytes()
    with pytest.raises(ValueError, match=rf"{out} was trained on {first}, not on {second}: "
                                         "choose another --out"):
        pretrain(Run.of("jigsaw", "ci", "folder", second, epochs=2), out, progress_bar=False)
    with pytest.raises(ValueError, match=rf"{out} was trained at 32 px, not 48"):
        pretrain(Run.of("jigsaw", "ci", "folder", first, size=48, epochs=2), out,
                 progress_bar=False)
    assert (out / CHECKPOINT).read_bytes() == before


def test_a_folder_whose_images_changed_is_said_in_one_line(tmp_path):
    mine = _folder_of_images(tmp_path / "mine")
    load_or_train("jigsaw", "ci", data="folder", root=mine, progress_bar=False, say=None)
    write_jpeg(mine / "a" / "0.jpg", seed=77, size=(40, 40))  # same name, other pixels
    run = Run.of("jigsaw", "ci", "folder", mine).folder
    with pytest.raises(ValueError, match=rf"the images in {mine} have changed since {run} was "
                                         rf"trained on them: delete {run} to train again, or "
                                         "rename it to keep it"):
        load_or_train("jigsaw", "ci", data="folder", root=mine, progress_bar=False, say=None)


def test_runs_an_earlier_fgssl_kept_under_the_word_folder_are_not_reused(tmp_path):
    mine = _folder_of_images(tmp_path / "mine")
    legacy = runs_root() / "ci" / "folder" / "jigsaw-seed0"
    pretrain(Run.of("jigsaw", "ci", "folder", _folder_of_images(tmp_path / "other", seed=9)),
             legacy, progress_bar=False)
    with pytest.warns(UserWarning, match=r"ci/folder holds runs of an earlier fgssl.*not "
                                         r"reused; runs of .*mine are now kept in"):
        said = []
        load_or_train("jigsaw", "ci", data="folder", root=mine, progress_bar=False, say=said.append)
    assert said[0].startswith("training jigsaw")


def test_ssl_pretrains_on_the_labelled_train_images_and_the_unlabelled_ones(tmp_path):
    mine = _folder_of_images(tmp_path / "mine", unlabelled=40)
    run = Run.of("simclr", "ci", "folder", mine)
    pretrain(run, tmp_path / "run", progress_bar=False)
    saved = json.loads((tmp_path / "run" / "history.json").read_text())
    assert saved["provenance"]["images"] == 21 + 40  # train's 21 without labels + 40
    assert saved["provenance"]["data"]["location"] == str(mine.resolve())
    supervised = training_data(Run.of("supervised", "ci", "folder", mine))
    assert len(supervised) == 21 and set(supervised.labels) == {0, 1, 2}  # labelled only


def test_a_folder_of_unlabelled_images_only_pretrains_and_refuses_what_needs_labels(tmp_path):
    for k in range(40):
        write_jpeg(tmp_path / "flat" / f"{k}.jpg", seed=k, size=(40, 40))
    simclr = load_or_train("simclr", "ci", data="folder", root=tmp_path / "flat",
                           progress_bar=False, say=None)
    assert len(simclr.history) == 1 and "knn_top1" not in simclr.history[0]  # no labels to vote
    with pytest.raises(ValueError, match=r"flat has no labelled images, and supervised learns "
                                         r"from labels: add class folders"):
        load_or_train("supervised", "ci", data="folder", root=tmp_path / "flat",
                      progress_bar=False)


@pytest.mark.parametrize("name", ["simclr", "supervised"])
def test_the_notebook_gpu_schedule_trains_here_at_its_size_on_its_data_path(name):
    """The gpu profile's code path without a GPU: ResNet-18 with its standard stem at 96 px,
    the images held as uint8 on the device and augmented there, no mixed precision."""
    tiny = dataclasses.replace(profile("gpu"), n_unlabelled=16, train_per_class=1,
                               val_per_class=1, test_per_class=1)
    run = Run.of(name, tiny, epochs=1, batch_size=8)
    method, history = pretrain(run, run.folder, progress_bar=False,
                               hardware=Hardware(data_path="gpu", amp=False))
    stem = method.backbone.net
    assert stem.conv1.stride == (2, 2) and isinstance(stem.maxpool, torch.nn.MaxPool2d)
    assert len(history) == 1 and torch.isfinite(torch.tensor(history[-1]["loss"]))
    saved = load_checkpoint(run.folder / CHECKPOINT, keys=("provenance",))["provenance"]
    assert saved["image_size"] == 96 and saved["images"] == (16 if name == "simclr" else 24)
    assert run.folder.parent.parent.name == "gpu"
