import torch

from fgssl.viz.cam import gradient_saliency


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
