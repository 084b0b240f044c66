import pytest
import torch

from fgssl import transforms as T
from fgssl.gpu_augment import BatchMultiCropViews, BatchSimCLRViews, apply_some
from fgssl.methods.base import per_sample


def _bird_like(batch: int, size: int = 32) -> torch.Tensor:
    """A batch of copies of one colourful image with structure (so crops and flips show)."""
    image = torch.zeros(3, size, size, dtype=torch.uint8)
    image[0] = torch.linspace(30, 220, size).round().to(torch.uint8)[None, :]
    image[1] = torch.linspace(200, 40, size).round().to(torch.uint8)[:, None]
    image[2, size // 4:size // 2, size // 4:3 * size // 4] = 180
    return image.expand(batch, -1, -1, -1).clone()


@pytest.mark.parametrize("variant", T.VARIANTS)
def test_every_variant_gives_two_standardised_views_per_image(variant: str):
    torch.manual_seed(0)
    views = BatchSimCLRViews(32, variant=variant)
    a, b = views(_bird_like(16))
    assert a.shape == b.shape == (16, 3, 32, 32) and a.dtype == torch.float32
    assert not torch.equal(a, b)
    # identical inputs, yet every image got its own random draw
    assert all(not torch.equal(a[i], a[i + 1]) for i in range(15))


def test_multi_crop_gives_two_global_views_then_the_local_ones_in_pairs():
    torch.manual_seed(0)
    views = BatchMultiCropViews(32, local_crops=4, variant="object_crop")(_bird_like(5))
    assert [tuple(v.shape) for v in views] == [(5, 3, 32, 32)] * 2 + [(5, 3, 16, 16)] * 4
    assert not torch.equal(views[0], views[1])  # each view its own draw
    assert all(not torch.equal(views[2], local) for local in views[3:])
    assert len(BatchMultiCropViews(32, local_crops=0, local_size=12)(_bird_like(2))) == 2
    assert BatchMultiCropViews(32, 2, local_size=12)(_bird_like(2))[2].shape[-1] == 12
    with pytest.raises(ValueError, match="local_crops must be even"):
        BatchMultiCropViews(32, local_crops=3)


def test_batched_views_follow_the_per_image_recipe_in_distribution():
    images = _bird_like(600)

    def statistics(make_views: object) -> tuple[float, float, float]:
        torch.manual_seed(0)
        view = make_views(images)[0]
        pixels = view * torch.tensor(T.STD).view(1, 3, 1, 1) + torch.tensor(T.MEAN).view(1, 3, 1, 1)
        gray = (pixels.amax(1) - pixels.amin(1)).amax((1, 2)) < 2e-2
        brightness = pixels.mean((1, 2, 3))
        return gray.float().mean().item(), brightness.mean().item(), brightness.std().item()

    batched = statistics(BatchSimCLRViews(32))
    per_image = statistics(lambda x: per_sample(T.SimCLRViews(32), x))
    assert batched[0] == pytest.approx(0.2, abs=0.05)  # RandomGrayscale(p=0.2)
    assert per_image[0] == pytest.approx(0.2, abs=0.05)
    assert batched[1] == pytest.approx(per_image[1], abs=0.02)
    assert batched[2] == pytest.approx(per_image[2], rel=0.2)


def test_same_seed_same_views():
    images = _bird_like(8)
    torch.manual_seed(3)
    first = BatchSimCLRViews(32, variant="jigsaw_shuffle")(images)
    torch.manual_seed(3)
    second = BatchSimCLRViews(32, variant="jigsaw_shuffle")(images)
    assert all(torch.equal(x, y) for x, y in zip(first, second, strict=True))


def test_apply_some_changes_about_p_of_the_batch():
    torch.manual_seed(0)
    images = torch.zeros(1000, 3, 2, 2)
    out = apply_some(images, lambda x: x + 1, p=0.3)
    changed = (out != 0).flatten(1).all(1).float().mean().item()
    assert changed == pytest.approx(0.3, abs=0.05)
    assert torch.equal(images, torch.zeros(1000, 3, 2, 2))  # input untouched
    assert torch.equal(apply_some(images, lambda x: x + 1, p=0.0), images)


def test_batched_ops_draw_per_image_and_keep_pixels():
    torch.manual_seed(0)
    one = torch.arange(3 * 28 * 28, dtype=torch.float32).reshape(3, 28, 28)
    batch = one.expand(6, -1, -1, -1)
    for op in (T.jigsaw_shuffle, T.region_confusion, T.patch_swap):
        out = op(batch)
        assert out.shape == batch.shape and torch.isin(out, one).all(), op.__name__
        assert len({image.numpy().tobytes() for image in out}) > 1, op.__name__
    for op in (T.jigsaw_shuffle, T.region_confusion):  # tiles are permuted: nothing repeats
        for image in op(batch):
            assert torch.equal(image.flatten().sort().values, one.flatten().sort().values)
    gammas = T.random_gamma(torch.full((50, 3, 2, 2), 0.5))[:, 0, 0, 0]
    assert gammas.std() > 0.05


def test_views_reject_a_single_image_or_wrong_channels():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        BatchSimCLRViews(32)(torch.zeros(3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="choose one of standard"):
        BatchSimCLRViews(32, variant="mixup")


def test_random_resized_crop_draws_boxes_of_the_asked_area_per_image():
    from fgssl.gpu_augment import random_resized_crop

    ramp = torch.arange(32.0).view(1, 1, 1, 32).expand(400, 1, 32, 32)  # x coordinate
    torch.manual_seed(0)
    crops = random_resized_crop(ramp, 16, scale=(0.25, 0.25), ratio=(1.0, 1.0))
    assert crops.shape == (400, 1, 16, 16)
    widths = crops[:, 0, 0, -1] - crops[:, 0, 0, 0]  # a 16-px box spans 15 steps of 1 px
    assert torch.allclose(widths, torch.full((400,), 15.0), atol=1e-3)
    assert len(set(crops[:, 0, 0, 0].tolist())) > 10  # each image its own place
    whole = random_resized_crop(ramp[:2], 32, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(whole, ramp[:2])  # the full box is the identity
    fallback = random_resized_crop(ramp[:2], 32, scale=(1.0, 1.0), ratio=(2.0, 2.0))
    assert torch.isfinite(fallback).all()  # no box of ratio 2 fits: the centred fallback


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "per_image"])
def test_object_crop_views_draw_from_the_asked_range_of_areas(batched: bool):
    """Crops of the whole area keep a grey image's brightness; small crops around its one
    bright object are much brighter, and the variant's own range lies between."""
    torch.manual_seed(0)
    image = torch.full((3, 32, 32), 120, dtype=torch.uint8)
    image[:, 4:12, 20:28] = torch.randint(200, 256, (3, 8, 8), dtype=torch.uint8)  # salient
    images = image.expand(64, -1, -1, -1).clone()
    mean, std = torch.tensor(T.MEAN).view(1, 3, 1, 1), torch.tensor(T.STD).view(1, 3, 1, 1)

    def brightness(crop_scale: tuple[float, float] | None) -> float:
        torch.manual_seed(0)
        if batched:
            views = BatchSimCLRViews(32, "object_crop", jitter=0.0, crop_scale=crop_scale)
        else:
            views = T.SimCLRViews(32, "object_crop", jitter=0.0, crop_scale=crop_scale)
        first, _ = views(images) if batched else per_sample(views, images)
        return float((first * std + mean).mean())

    whole = image.float().mean() / 255
    assert brightness((1.0, 1.0)) == pytest.approx(float(whole), abs=0.005)
    small, default = brightness((0.1, 0.1)), brightness(None)  # None: T.OBJECT_CROP_SCALE
    assert small > default + 0.05 and default > whole + 0.01
