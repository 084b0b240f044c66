import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from fgssl.evaluate import protocol
from fgssl.evaluate.protocol import evaluate_backbone
from fgssl.models.backbones import build_backbone


class _Logged(Dataset):
    """A split that writes down every image read, in order."""

    def __init__(self, inner: Dataset, split: str, log: list[tuple[str, int]]) -> None:
        self.inner, self.split, self.log = inner, split, log
        self.labels = inner.labels

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int):
        self.log.append((self.split, index))
        return self.inner[index]


@pytest.mark.parametrize("name", protocol.PROTOCOLS)
def test_the_test_split_is_read_once_after_every_choice_was_made(monkeypatch, name):
    log: list[tuple[str, int]] = []
    dataset = protocol.catalog.dataset
    monkeypatch.setattr(protocol.catalog, "dataset", lambda data, split, *args, **kwargs:
                        _Logged(dataset(data, split, *args, **kwargs), split, log))
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn")
    result = protocol.evaluate_backbone(backbone, "synthbirds", "ci", name, labels=0.5)
    test_reads = [i for split, i in log if split == "test"]
    assert sorted(test_reads) == list(range(result["n_test"]))  # every test image, once
    first_test = next(k for k, (split, _) in enumerate(log) if split == "test")
    assert all(split == "test" for split, _ in log[first_test:])  # nothing chosen after it
    assert {split for split, _ in log[:first_test]} == {"train", "val"}
    assert result["n_train"] == 96 and 0 <= result["top1"] <= 1  # half of 8 per class x 24


def test_finetune_protocol_reports_its_val_chosen_epoch_and_leaves_the_backbone():
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn")
    before = [p.clone() for p in backbone.parameters()]
    result = protocol.evaluate_backbone(backbone, "synthbirds", "ci", "finetune")
    assert result["protocol"] == "finetune" and result["epochs"] >= 1
    assert all(torch.equal(a, b) for a, b in zip(before, backbone.parameters(), strict=True))
    assert np.isfinite(result["val_top1"]) and result["majority_floor"] > 0


def test_many_jobs_make_every_choice_before_test_and_read_it_once_per_model(monkeypatch):
    log: list[tuple[str, int]] = []
    dataset = protocol.catalog.dataset
    monkeypatch.setattr(protocol.catalog, "dataset", lambda data, split, *args, **kwargs:
                        _Logged(dataset(data, split, *args, **kwargs), split, log))
    torch.manual_seed(0)
    jobs = [protocol.Job(p, f, s) for p in ("linear", "knn") for f in (1.0, 0.5)
            for s in (0, 1)] + [protocol.Job("finetune", 0.5, 0)]
    results = protocol.evaluate_jobs(build_backbone("small_cnn"), "synthbirds", "ci", jobs)
    assert [(r["protocol"], r["labels"], r["seed"]) for r in results] == [tuple(j) for j in jobs]
    first_test = next(k for k, (split, _) in enumerate(log) if split == "test")
    assert all(split == "test" for split, _ in log[first_test:])
    test_reads = np.bincount([i for split, i in log if split == "test"])
    assert set(test_reads) == {2}  # the frozen features once, the fine-tuned model once
    assert results[0]["n_train"] == 192 and results[2]["n_train"] == 96


def test_the_frozen_features_are_kept_for_the_next_look_at_the_backbone_and_reused(
        monkeypatch):
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn")
    jobs = [protocol.Job("linear", 1.0, 0), protocol.Job("knn", 0.5, 1)]
    kept: dict = {}
    first = protocol.evaluate_jobs(backbone, "synthbirds", "ci", jobs, features=kept)
    assert set(kept) == {"train", "val", "test"}
    test = protocol.catalog.dataset("synthbirds", "test", size=32)
    np.testing.assert_array_equal(kept["test"][0],
                                  protocol.extract_features(backbone, test)[0])

    def no_extraction(*args, **kwargs):
        raise AssertionError("features extracted again")
    monkeypatch.setattr(protocol, "extract_features", no_extraction)
    again = protocol.evaluate_jobs(backbone, "synthbirds", "ci", jobs, features=kept)
    assert [{k: v for k, v in r.items() if k != "val_top1"} for r in again] == \
        [{k: v for k, v in r.items() if k != "val_top1"} for r in first]
    assert [r["val_top1"] for r in again] == [r["val_top1"] for r in first]


def test_a_recipe_chooses_the_head_and_epochs_and_its_training_reports_progress():
    steps: list[tuple[int, int]] = []
    recipe = protocol.Recipe("pmg", 1.0, "pmg")
    (result,) = protocol.evaluate_jobs(build_backbone("small_cnn"), "synthbirds", "ci",
                                       [protocol.Job("finetune", 0.5, 0)], recipe=recipe,
                                       on_step=lambda done, total: steps.append((done, total)))
    assert result["epochs"] == 1  # ci: PMG's one epoch
    total = steps[-1][1]
    assert steps == [(done, total) for done in range(1, total + 1)]
    with pytest.raises(ValueError, match="unknown head"):
        protocol.evaluate_jobs(build_backbone("small_cnn"), "synthbirds", "ci",
                               [protocol.Job("finetune", 0.5, 0)],
                               recipe=protocol.Recipe("mlp"))


class _SizeWitness(torch.nn.Module):
    """A small CNN that notes the size of every batch it is shown."""

    def __init__(self, input_size: int | None) -> None:
        super().__init__()
        self.inner, self.input_size, self.seen = build_backbone("small_cnn"), input_size, set()
        self.feature_dim = self.inner.feature_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.seen.add(tuple(images.shape[-2:]))
        return self.inner(images)


@pytest.mark.parametrize("declared, expected", [(None, 32), (48, 48)])
def test_images_come_at_the_size_the_backbone_reads(declared, expected):
    torch.manual_seed(0)
    backbone = _SizeWitness(declared)
    protocol.evaluate_backbone(backbone, "synthbirds", "ci", "linear")  # train, val, test
    assert backbone.seen == {(expected, expected)}


def test_a_linear_probe_on_sibling_species_says_how_often_it_tells_them_apart(tmp_path):
    from tests.images import write_jpeg

    torch.manual_seed(0)
    backbone = build_backbone("small_cnn")
    linear = protocol.evaluate_backbone(backbone, "synthbirds", "ci", "linear")
    assert 0 <= linear["sibling_accuracy"] <= 1
    pairs = linear["sibling_pairs"]
    assert [pair["pair"] for pair in pairs] == [[2 * i, 2 * i + 1] for i in range(12)]
    assert pairs[0]["part"] in {"beak_shape", "beak_colour", "crown", "eye_ring", "wing_bars",
                                "breast", "tail"}
    assert linear["sibling_accuracy"] == pytest.approx(np.mean([p["accuracy"] for p in pairs]))
    knn = protocol.evaluate_backbone(backbone, "synthbirds", "ci", "knn")
    assert "sibling_accuracy" not in knn  # a linear probe's scores only
    for species in ("wren", "robin"):
        for k in range(10):
            write_jpeg(tmp_path / "mine" / species / f"{k}.jpg", seed=k)
    folder = protocol.evaluate_backbone(backbone, "folder", "ci", "linear",
                                        root=str(tmp_path / "mine"))
    assert "sibling_accuracy" not in folder  # no sibling structure known


@pytest.mark.parametrize("settings, message", [
    ({"labels": 1.5}, r"labels is a fraction of the train split in \(0, 1\], e.g. 0.1; got 1.5"),
    ({"seed": -1}, "seed must be a whole number, 0 or more, e.g. 0; got -1"),
])
def test_evaluation_settings_are_checked_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        evaluate_backbone(build_backbone("small_cnn", 32), "synthbirds", "ci", **settings)
