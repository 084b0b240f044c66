import numpy as np
import pytest
import torch

from fgssl.data.cache import CachedImages
from fgssl.evaluate.finetune import BestOnVal, FineTuning, finetune, heads, predict
from fgssl.methods import registry
from fgssl.methods.about import Recipe
from fgssl.methods.pmg import PMG
from fgssl.methods.supervised import Supervised
from fgssl.models.backbones import build_backbone


def _easy(n: int = 64, seed: int = 0) -> CachedImages:
    """Two classes a network learns in a few steps: dark and bright images."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 100, (n, 16, 16, 3), dtype=np.uint8)
    images[labels == 1] += 120
    return CachedImages(images, labels)


def test_the_backbone_learns_ten_times_slower_than_the_new_classifier():
    model = Supervised(3, image_size=16, backbone=build_backbone("small_cnn"),
                       backbone_lr_factor=0.1)
    optimizer = model.optimizers(lr=0.5, weight_decay=1e-4)[0]
    by_rate = {}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            by_rate[id(parameter)] = (group["lr"], group["weight_decay"])
    backbone_weight = model.backbone.features[0][0].weight
    assert by_rate[id(backbone_weight)] == (pytest.approx(0.05), 1e-4)
    assert by_rate[id(model.classifier.linear.weight)] == (0.5, 1e-4)
    assert by_rate[id(model.classifier.linear.bias)] == (0.5, 0.0)
    assert len(by_rate) == len(list(model.parameters()))  # nothing left out of the optimizer


def test_finetuning_changes_a_copy_and_keeps_the_best_val_epoch():
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn")
    original = {k: v.clone() for k, v in backbone.state_dict().items()}
    tuned = finetune(backbone, _easy(), _easy(32, seed=1), num_classes=2, profile="ci",
                     tuning=FineTuning(epochs=4, lr=0.2, patience=4))
    for name, tensor in backbone.state_dict().items():  # the one passed in is untouched
        assert torch.equal(tensor, original[name]), name
    assert backbone.training and all(p.requires_grad for p in backbone.parameters())
    changed = tuned.model.backbone.state_dict()
    assert any(not torch.equal(changed[k], original[k]) for k in original if "running" not in k)
    val_curve = [record["val_top1"] for record in tuned.history]
    assert tuned.val_top1 == max(val_curve) > 0.9
    assert tuned.best_epoch == val_curve.index(max(val_curve)) + 1
    predicted, labels = predict(tuned.model, _easy(32, seed=1))
    assert float((predicted == labels).mean()) == tuned.val_top1  # the best weights restored
    assert not tuned.model.training


class _Scripted(Supervised):
    """Val accuracies from a script instead of from training: on val (10 images, labels
    0, 1, 0, 1, ...) the first ``score`` x 10 predictions are right, the others wrong."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__(2, image_size=16, backbone=build_backbone("small_cnn"))
        self.scores = iter(scores)

    def logits(self, images):
        correct = round(next(self.scores) * 10)
        labels = torch.arange(10) % 2
        predicted = torch.where(torch.arange(10) < correct, labels, 1 - labels)
        return torch.nn.functional.one_hot(predicted, 2).float()


def test_early_stopping_waits_patience_epochs_and_keeps_the_best_weights():
    method = _Scripted([0.5, 0.7, 0.6, 0.6, 0.9])
    selector = BestOnVal(_easy(10), patience=2)
    for epoch in range(1, 6):
        with torch.no_grad():
            method.classifier.linear.bias.fill_(epoch)  # weights that say which epoch
        assert selector(method, torch.device("cpu"))["val_top1"] == [.5, .7, .6, .6, .9][epoch - 1]
        if selector.should_stop([]):
            break
    assert epoch == 4  # two epochs without beating epoch 2: the 0.9 is never reached
    assert selector.best_epoch == 2 and selector.best_top1 == 0.7
    assert selector.best_state["classifier.linear.bias"].tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="patience"):
        BestOnVal(_easy(8), patience=0)


def test_training_stops_early_when_val_stops_improving():
    torch.manual_seed(0)
    tuned = finetune(build_backbone("small_cnn"), _easy(), _easy(32, seed=1), num_classes=2,
                     profile="ci", tuning=FineTuning(epochs=30, lr=0.2, patience=1))
    assert len(tuned.history) < 30
    assert len(tuned.history) == tuned.best_epoch + 1


def test_a_pmg_head_trains_a_copy_end_to_end_and_keeps_the_best_val_epoch():
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn")
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    tuned = finetune(backbone, _easy(), _easy(32, seed=1), num_classes=2, profile="ci",
                     tuning=FineTuning(Recipe("pmg", 1.0), epochs=3))
    assert isinstance(tuned.model, PMG) and not tuned.model.training
    assert tuned.model.backbone is not backbone
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    val_top1 = [record["val_top1"] for record in tuned.history]
    assert tuned.best_epoch == 1 + int(np.argmax(val_top1))
    assert tuned.val_top1 == max(val_top1) > 0.5
    predicted, labels = predict(tuned.model, _easy(32, seed=1))
    assert (predicted == labels).mean() == pytest.approx(tuned.val_top1)  # the kept weights


def test_an_unknown_head_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown head 'mlp': choose one of linear, pmg"):
        finetune(build_backbone("small_cnn"), _easy(), _easy(), num_classes=2, profile="ci",
                 tuning=FineTuning(Recipe("mlp")))


def test_the_heads_are_linear_and_the_methods_that_say_they_are_one():
    assert heads() == {"linear": "supervised", "pmg": "pmg"}

    class _OtherHead(PMG):
        name = "other_head"

    registry.register(_OtherHead)
    try:
        assert list(heads()) == ["linear", "pmg", "other_head"]
    finally:
        registry.unregister(_OtherHead)
