import pytest
import torch
from torchvision.transforms import v2

from fgssl import transforms as T


def _tiles(image: torch.Tensor, grid: int) -> list[bytes]:
    _, h, w = image.shape
    th, tw = h // grid, w // grid
    return sorted(image[:, i * th:(i + 1) * th, j * tw:(j + 1) * tw].numpy().tobytes()
                  for i in range(grid) for j in range(grid))


def _unique_image(size: int = 28) -> torch.Tensor:
    return torch.arange(3 * size * size, dtype=torch.float32).reshape(3, size, size)


def test_views_are_two_different_normalised_float_images():
    torch.manual_seed(0)
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    for variant in T.VARIANTS:
        a, b = T.SimCLRViews(32, variant=variant)(image)
        assert a.shape == b.shape == (3, 32, 32) and a.dtype == torch.float32, variant
        assert not torch.equal(a, b), variant
    with pytest.raises(ValueError, match="choose one of standard, gamma"):
        T.SimCLRViews(32, variant="mixup")


def test_jitter_strength_controls_colour_change():
    image = torch.full((3, 16, 16), 200, dtype=torch.uint8)
    image[0] = 60

    def spread(jitter: float) -> float:
        torch.manual_seed(0)
        views = T.SimCLRViews(16, jitter=jitter)
        return torch.stack([views(image)[0].mean((1, 2)) for _ in range(60)]).std(0).mean().item()

    assert spread(1.0) > 2 * spread(0.0)
    with pytest.raises(ValueError, match="jitter strength"):
        T.SimCLRViews(16, jitter=-1)


def test_random_gamma_stays_in_its_range():
    torch.manual_seed(0)
    image = torch.full((3, 4, 4), 0.5)
    values = torch.stack([T.random_gamma(image)[0, 0, 0] for _ in range(200)])
    assert values.min() >= 0.5 ** 2.5 - 1e-6 and values.max() <= 0.5 ** 0.5 + 1e-6
    assert values.std() > 0.05


def test_coarse_dropout_zeroes_square_holes_and_keeps_the_input():
    torch.manual_seed(0)
    image = torch.ones(3, 64, 64)
    out = T.coarse_dropout(image)
    zeroed = (out == 0).all(0)
    assert 5 * 3 * 3 <= zeroed.sum() <= 20 * 8 * 8
    assert torch.equal(image, torch.ones(3, 64, 64))


def test_patch_swap_moves_pixels_without_creating_any():
    torch.manual_seed(1)
    image = _unique_image()
    for _ in range(10):
        out = T.patch_swap(image)
        changed = (out != image).any(0).sum()
        assert 0 < changed <= 2 * 7 * 7 and torch.isin(out, image).all()


def test_jigsaw_shuffle_permutes_whole_tiles():
    torch.manual_seed(0)
    image = _unique_image(28)
    out = T.jigsaw_shuffle(image, grid=4)
    assert _tiles(out, 4) == _tiles(image, 4) and not torch.equal(out, image)


def test_region_confusion_moves_tiles_only_locally():
    torch.manual_seed(0)
    grid, reach = 7, 2
    # each tile holds its own (row, column) so we can see where it went
    image = torch.zeros(3, grid, grid)
    image[0] = torch.arange(grid).repeat(grid, 1).T.float()
    image[1] = torch.arange(grid).repeat(grid, 1).float()
    moved = 0
    for _ in range(30):
        out = T.region_confusion(image, grid, reach)
        assert _tiles(out, grid) == _tiles(image, grid)
        rows_moved = (out[0] - image[0]).abs()
        cols_moved = (out[1] - image[1]).abs()
        assert rows_moved.max() <= 2 * reach and cols_moved.max() <= 2 * reach
        moved += int((rows_moved + cols_moved).sum() > 0)
    assert moved == 30


def test_object_crop_finds_the_salient_object():
    torch.manual_seed(0)
    image = torch.full((3, 64, 64), 120, dtype=torch.uint8)
    image[:, 6:20, 40:56] = torch.randint(200, 256, (3, 14, 16), dtype=torch.uint8)
    saliency = T.saliency_map(image)
    peak_y, peak_x = divmod(int(saliency.argmax()), 64)
    assert 0 <= peak_y < 30 and 30 <= peak_x < 64
    crops = torch.stack([T.ObjectCrop(32)(image).float().mean() for _ in range(30)])
    assert crops.mean() > image.float().mean() + 5  # crops concentrate on the bright object


def _spectral_residual_saliency(images: torch.Tensor) -> torch.Tensor:
    """Hou & Zhang (2007) as the paper writes it, in float64: R = L − h * L with L the log
    amplitude, S = g * |F⁻¹[exp(R + i·P)]|², P the phase; scaled to a peak of 1."""
    spectrum = torch.fft.fft2(images.double().mean(1))
    log_amplitude = torch.log(spectrum.abs() + 1e-8)
    smoothed = torch.nn.functional.avg_pool2d(log_amplitude[:, None], 3, 1, 1,
                                              count_include_pad=False)[:, 0]
    residual = torch.exp(log_amplitude - smoothed + 1j * torch.angle(spectrum))
    saliency = torch.fft.ifft2(residual).abs() ** 2
    saliency = v2.functional.gaussian_blur(saliency[:, None], [5, 5], [1.5, 1.5])[:, 0]
    return saliency / saliency.flatten(1).amax(1)[:, None, None]


def test_saliency_map_is_the_spectral_residual():
    torch.manual_seed(0)
    images = torch.rand(4, 3, 32, 32)
    images[1] = 0.5  # a flat image: every frequency but the mean has no amplitude at all
    expected = _spectral_residual_saliency(images)
    assert torch.allclose(T.saliency_map(images).double(), expected, atol=1e-4)


def test_object_crop_centres_are_drawn_in_proportion_to_their_weight():
    torch.manual_seed(0)
    weights = torch.tensor([[0.0, 1.0, 3.0, 0.0, 4.0]]).repeat(20_000, 1)
    counts = torch.bincount(T._draw_index(weights), minlength=5).double() / len(weights)
    assert counts[0] == counts[3] == 0  # never a centre of weight 0
    assert torch.allclose(counts, weights[0].double() / 8, atol=0.01)


def test_hue_rotation_keeps_luma_and_grays_and_turns_colours():
    torch.manual_seed(0)
    gray = torch.full((3, 4, 4), 0.5)
    assert torch.allclose(T.RandomHueRotate(0.5)(gray), gray, atol=1e-5)
    red = torch.zeros(3, 4, 4)
    red[0] = 0.8
    assert torch.equal(T.RandomHueRotate(0.0)(red), red)
    turned = T.RandomHueRotate(0.5)(red)
    luma = torch.tensor([0.299, 0.587, 0.114])
    assert not torch.allclose(turned, red, atol=0.05)
    if (turned > 0).all() and (turned < 1).all():  # not clipped: luma is preserved exactly
        assert torch.allclose((luma[:, None, None] * turned).sum(0),
                              (luma[:, None, None] * red).sum(0), atol=1e-5)
    as_uint8 = T.RandomHueRotate(0.1)((red * 255).to(torch.uint8))
    assert as_uint8.dtype == torch.uint8
