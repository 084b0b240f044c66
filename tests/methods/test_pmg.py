import numpy as np
import pytest
import torch

from fgssl.data.cache import CachedImages
from fgssl.data.synthbirds import NUM_CLASSES
from fgssl.evaluate.finetune import predict
from fgssl.methods.pmg import PMG, granularities_for, jigsaw_patches, stage_maps
from fgssl.models.backbones import build_backbone
from fgssl.study.runs import Run, pretrain
from fgssl.train import Hyperparameters, Watch, fit


@pytest.mark.parametrize(("size", "expected"), [(32, (4, 2, 1)), (64, (8, 4, 2)),
                                                (448, (8, 4, 2)), (16, (2, 1, 1))])
def test_granularities_scale_with_the_image(size, expected):
    assert granularities_for(size) == expected


def test_the_identity_order_reassembles_and_a_swap_moves_whole_patches():
    images = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).reshape(2, 3, 10, 10)
    identity = torch.arange(9).repeat(2, 1)
    assert torch.equal(jigsaw_patches(images, 3, identity), images)
    swap = identity.clone()
    swap[:, [0, 8]] = swap[:, [8, 0]]  # the first and the last patch trade places
    out = jigsaw_patches(images, 3, swap)
    assert torch.equal(out[..., :3, :3], images[..., 6:9, 6:9])
    assert torch.equal(out[..., 6:9, 6:9], images[..., :3, :3])
    assert torch.equal(out[..., 3:6, 3:6], images[..., 3:6, 3:6])
    assert torch.equal(out[..., 9, :], images[..., 9, :])  # the remainder row and column
    assert torch.equal(out[..., 9], images[..., 9])


def test_random_shuffles_keep_the_patches_and_differ_per_image():
    images = torch.rand(4, 3, 8, 8).repeat(2, 1, 1, 1)  # images 0-3 again as 4-7
    torch.manual_seed(0)
    out = jigsaw_patches(images, 4)
    patches = out.unfold(2, 2, 2).unfold(3, 2, 2).reshape(8, 3, 16, 4)
    originals = images.unfold(2, 2, 2).unfold(3, 2, 2).reshape(8, 3, 16, 4)
    assert torch.equal(patches.sort(2).values, originals.sort(2).values)
    assert not torch.equal(out[:4], out[4:])  # the same images, shuffled differently


@pytest.mark.parametrize("backbone", ["small_cnn", "resnet18"])
def test_three_stages_get_smaller_and_the_heads_fit_them(backbone):
    maps = stage_maps(build_backbone(backbone, 32), torch.zeros(2, 3, 32, 32))
    assert len(maps) == 3 and all(m.shape[0] == 2 for m in maps)
    assert maps[0].shape[-1] >= maps[1].shape[-1] >= maps[2].shape[-1]
    pmg = PMG(5, backbone, 32)
    stages, combined = pmg.stage_logits(torch.zeros(2, 3, 32, 32))
    assert [s.shape for s in stages] == [torch.Size([2, 5])] * 3 and combined.shape == (2, 5)


def test_the_prediction_adds_every_head():
    torch.manual_seed(0)
    pmg = PMG(4).eval()
    images = torch.rand(3, 3, 32, 32)
    stages, combined = pmg.stage_logits(images)
    torch.testing.assert_close(pmg.logits(images), sum(stages) + combined)
    for head in [*pmg.heads, pmg.combined]:
        before = pmg.logits(images)
        linear = head.classifier[-1] if head is not pmg.combined else head[-1]
        with torch.no_grad():
            linear.bias += 1.0
        assert not torch.equal(pmg.logits(images), before)


def test_four_progressive_steps_per_batch_and_labels_are_required():
    pmg = PMG(3)
    steps = list(pmg.training_steps(torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])))
    assert [index for index, _, _ in steps] == [0, 0, 0, 0]
    assert [next(iter(logs)) for _, _, logs in steps] == \
        ["loss_stage1", "loss_stage2", "loss_stage3", "loss_combined"]
    with pytest.raises(ValueError, match="needs labels"):
        list(pmg.training_steps(torch.rand(2, 3, 32, 32), torch.tensor([-1, -1])))


def test_the_number_of_classes_comes_from_the_data(tmp_path):
    method, _ = pretrain(Run.of("pmg", "ci"), tmp_path / "pmg", progress_bar=False)
    assert method.combined[-1].out_features == NUM_CLASSES
    assert all(head.classifier[-1].out_features == NUM_CLASSES for head in method.heads)


def test_a_short_run_beats_chance():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (96, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(96) % 3
    for label, channel in enumerate((0, 1, 2)):  # each class tints one colour channel
        images[labels == label, :, :, channel] = 255
    data = CachedImages(images, labels)
    torch.manual_seed(0)
    pmg = PMG(3)
    fit(pmg, data, "ci", None, hyper=Hyperparameters(epochs=3, batch_size=32),
        watch=Watch(progress_bar=False))
    predicted, truth = predict(pmg, data)
    assert (predicted == truth).mean() > 0.8  # chance: 1/3


def test_a_given_backbone_learns_at_its_own_rate_and_every_parameter_is_optimised():
    backbone = build_backbone("small_cnn")
    pmg = PMG(num_classes=3, image_size=32, backbone=backbone, backbone_lr_factor=0.1)
    assert pmg.backbone is backbone
    (optimizer,) = pmg.optimizers(lr=0.2, weight_decay=1e-4)
    rate = {id(p): (g["lr"], g["weight_decay"]) for g in optimizer.param_groups
            for p in g["params"]}
    assert rate[id(backbone.features[0][0].weight)] == (pytest.approx(0.02), 1e-4)
    assert rate[id(pmg.combined[1].weight)] == (0.2, 1e-4)
    assert rate[id(pmg.combined[1].bias)] == (0.2, 0.0)
    assert len(rate) == len(list(pmg.parameters()))
    with pytest.raises(ValueError, match="backbone_lr_factor must be in"):
        PMG(num_classes=3, backbone_lr_factor=2.0)
