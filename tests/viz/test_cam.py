import pytest
import torch
from torch import nn

from fgssl.models.backbones import build_backbone
from fgssl.transforms import normalise
from fgssl.viz.cam import (
    cam_layer,
    grad_cam,
    gradient_saliency,
    pointing_game,
    pointing_game_boxes,
)


def test_saliency_finds_the_only_pixel_the_score_reads():
    def score(inputs: torch.Tensor) -> torch.Tensor:
        return 5 * inputs[:, 1, 2, 3]  # one pixel of one channel

    saliency = gradient_saliency(score, torch.rand(2, 3, 6, 6))
    expected = torch.zeros(2, 6, 6)
    expected[:, 2, 3] = 1.0
    assert torch.equal(saliency, expected)


def test_saliency_is_scaled_per_image_and_leaves_the_input_alone():
    weights = torch.rand(3, 5, 5)
    inputs = torch.rand(4, 3, 5, 5)
    saved = inputs.clone()
    saliency = gradient_saliency(lambda x: (x * weights).sum(dim=(1, 2, 3)), inputs)
    assert torch.allclose(saliency, weights.amax(0) / weights.amax().expand(4, 5, 5))
    assert torch.equal(inputs, saved) and not inputs.requires_grad


# --- Grad-CAM --------------------------------------------------------------------------------
def red_detector() -> tuple[nn.Sequential, nn.Linear]:
    """A toy whose answer is known: one feature map = how red each pixel is (after the kit's
    normalisation), averaged; class 1's score is that mean, class 0's its opposite."""
    detector = nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        detector.weight.copy_(torch.tensor([1.0, -0.5, -0.5]).view(1, 3, 1, 1))
        detector.bias.zero_()
    backbone = nn.Sequential(detector, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    head = nn.Linear(1, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[-1.0], [1.0]]))
        head.bias.zero_()
    return backbone, head


def grey_with_red_square(top: int, left: int, size: int = 16) -> torch.Tensor:
    image = torch.full((3, size, size), 120, dtype=torch.uint8)
    image[:, top:top + 3, left:left + 3] = torch.tensor([230, 10, 10]).view(3, 1, 1)
    return image


def test_grad_cam_of_a_toy_model_peaks_on_the_evidence_and_drops_negative_evidence():
    backbone, head = red_detector()
    assert cam_layer(backbone, 16) is backbone[1]  # the last map of 2 x 2 or more
    images = torch.stack([grey_with_red_square(2, 3), grey_with_red_square(10, 11)])
    maps = grad_cam(backbone, head, images, torch.tensor([1, 1]))
    assert maps.shape == (2, 16, 16) and float(maps.amax()) == pytest.approx(1.0)
    squares = torch.tensor([[3 + 1.5, 2 + 1.5], [11 + 1.5, 10 + 1.5]])  # x, y of the centres
    assert pointing_game(maps, squares, tolerance=2.0)["hit_rate"] == 1.0
    assert pointing_game(maps, squares.flip(0), tolerance=2.0)["hit_rate"] == 0.0
    # class 0 is *against* red: its gradients are negative and the ReLU leaves nothing
    assert torch.equal(grad_cam(backbone, head, images, torch.tensor([0, 0])),
                       torch.zeros(2, 16, 16))


def reference_grad_cam(trunk, rest, head, images, classes):
    """Grad-CAM written out from the formula, one channel at a time."""
    activation = trunk(normalise()(images)).detach().requires_grad_(True)  # (B, K, h, w)
    head(rest(activation)).gather(1, classes[:, None]).sum().backward()
    cam = torch.zeros(activation.shape[0], *activation.shape[2:])
    for k in range(activation.shape[1]):
        alpha = activation.grad[:, k].mean(dim=(1, 2))  # (B,)
        cam += alpha[:, None, None] * activation[:, k].detach()
    cam = torch.nn.functional.interpolate(cam.clamp_min(0)[:, None], size=images.shape[-2:],
                                          mode="bilinear", align_corners=False)[:, 0]
    return cam / cam.flatten(1).amax(1)[:, None, None]


def test_grad_cam_matches_the_formula_and_leaves_the_backbone_as_it_was():
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 6, 3, stride=2, padding=1), nn.ReLU())
    rest = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    backbone, head = nn.Sequential(trunk, rest), nn.Linear(6, 4)
    trunk[1].running_mean.uniform_(-0.5, 0.5)
    images = torch.randint(0, 256, (5, 3, 12, 12), dtype=torch.uint8)
    classes = torch.tensor([0, 1, 2, 3, 1])
    backbone.train()
    statistics = trunk[1].running_mean.clone()
    maps = grad_cam(backbone, head, images, classes)
    assert backbone.training and all(p.requires_grad for p in backbone.parameters())
    assert torch.equal(trunk[1].running_mean, statistics)  # BN ran in eval mode
    backbone.eval()
    expected = reference_grad_cam(trunk, rest, head, images, classes)
    assert torch.allclose(maps, expected, atol=1e-5)


def test_cam_layer_is_the_last_convolutional_stage_of_the_kits_backbones():
    backbone = build_backbone("small_cnn", 32)
    layer = cam_layer(backbone, 32)
    shapes = []
    layer.register_forward_hook(lambda m, _, out: shapes.append(out.shape))
    backbone.eval()(torch.zeros(1, 3, 32, 32))
    assert len(shapes[0]) == 4 and min(shapes[0][-2:]) >= 2
    with pytest.raises(ValueError, match="no feature map of 2 x 2"):
        cam_layer(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), 2)


def test_the_pointing_games_chance_level_is_the_share_of_pixels_within_the_tolerance():
    maps = torch.zeros(2, 10, 10)
    maps[0, 4, 6] = 1.0  # peak at pixel centre (6.5, 4.5)
    maps[1, 0, 0] = 1.0
    points = torch.tensor([[6.5, 4.5], [6.5, 4.5]])
    scores = pointing_game(maps, points, tolerance=0.0)
    assert scores == {"hit_rate": 0.5, "chance": 0.01, "n": 2}  # one pixel of 100 is in reach
    assert pointing_game(maps, points, tolerance=1.0)["chance"] == pytest.approx(0.05)


def test_the_pointing_game_with_boxes_counts_peaks_inside_them():
    maps = torch.zeros(2, 10, 10)
    maps[0, 2, 3] = 1.0  # pixel centre (3.5, 2.5): inside the box below
    maps[1, 8, 8] = 1.0  # (8.5, 8.5): outside
    boxes = torch.tensor([[2.0, 1.0, 6.0, 5.0]] * 2)  # x 2..6, y 1..5: 4 x 4 pixel centres
    assert pointing_game_boxes(maps, boxes) == {"hit_rate": 0.5, "chance": 0.16, "n": 2}


def test_the_pointing_game_counts_a_hit_near_any_visible_point():
    maps = torch.zeros(3, 10, 10)
    maps[:, 4, 6] = 1.0  # every peak at pixel centre (6.5, 4.5)
    points = torch.tensor([[[0.5, 0.5], [6.5, 4.5]]] * 3)  # the second point is on the peak
    visible = torch.tensor([[True, True], [True, False], [False, False]])
    scores = pointing_game(maps, points, tolerance=0.0, visible=visible)
    assert scores == {"hit_rate": 0.5, "chance": 0.015, "n": 2}  # the third has no point


def test_grad_cam_explains_what_the_network_saw_through_the_given_preprocessing():
    backbone, head = red_detector()
    images = torch.stack([grey_with_red_square(2, 3)])
    as_trained = grad_cam(backbone, head, images, torch.tensor([1]),
                          preprocess=lambda x: x.float() / 255)  # a network fed [0, 1] pixels
    assert as_trained[0, 3, 4] == as_trained.amax() == 1.0  # still the red square
    blank = grad_cam(backbone, head, images, torch.tensor([1]),
                     preprocess=lambda x: torch.zeros(x.shape))
    assert torch.equal(blank, torch.zeros(1, 16, 16))  # nothing seen, nothing explained
