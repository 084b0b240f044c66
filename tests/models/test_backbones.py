import pytest
import torch

from fgssl.models.backbones import build_backbone, smallest_strided_input
from fgssl.models.heads import LinearClassifier, ProjectionHead


@pytest.mark.parametrize("name, size, dim", [("small_cnn", 32, 192), ("resnet18", 32, 512),
                                             ("resnet18", 96, 512), ("resnet50", 32, 2048)])
def test_backbones_map_images_to_their_feature_dim(name, size, dim):
    net = build_backbone(name, size).eval()
    assert net.feature_dim == dim
    with torch.no_grad():
        assert net(torch.zeros(2, 3, size, size)).shape == (2, dim)


def test_resnet_small_image_stem():
    small, large = build_backbone("resnet18", 32), build_backbone("resnet18", 224)
    assert small.net.conv1.stride == (1, 1) and small.net.conv1.kernel_size == (3, 3)
    assert isinstance(small.net.maxpool, torch.nn.Identity)
    assert large.net.conv1.stride == (2, 2) and large.net.conv1.kernel_size == (7, 7)


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of small_cnn, resnet18, resnet50"):
        build_backbone("vgg16")


def test_heads():
    head = ProjectionHead(16, 32, 8, num_layers=3)
    assert head(torch.zeros(4, 16)).shape == (4, 8)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in head.modules()) == 2
    plain = ProjectionHead(16, 32, 8, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.modules())
    assert LinearClassifier(16, 5)(torch.zeros(3, 16)).shape == (3, 5)
    with pytest.raises(ValueError):
        ProjectionHead(16, num_layers=0)
    with pytest.raises(ValueError):
        LinearClassifier(16, 1)


def test_imagenet_weights_are_never_downloaded_and_say_why_not(monkeypatch):
    from fgssl.models import backbones

    with pytest.raises(backbones.NoImageNetWeights, match="no ImageNet weights exist for"):
        backbones.imagenet_backbone("small_cnn", 224)
    with pytest.raises(backbones.NoImageNetWeights, match="small-image stem"):
        backbones.imagenet_backbone("resnet18", 32)
    monkeypatch.setattr(backbones, "weights_cached", lambda url: False)
    with pytest.raises(backbones.NoImageNetWeights, match="not in torchvision's cache"):
        backbones.imagenet_backbone("resnet18", 224)


@pytest.mark.parametrize("size, smallest", [(4, 1), (5, 2), (32, 8)])
def test_the_smallest_map_a_strided_layer_sees_and_nothing_changed(size, smallest):
    # the small CNN strides at its first, third and fourth layers: 4 px reach the fourth at 1
    net = build_backbone("small_cnn").train()
    before = {name: value.clone() for name, value in net.state_dict().items()}
    assert smallest_strided_input(net, size) == smallest
    assert net.training and all(torch.equal(before[name], value)
                                for name, value in net.state_dict().items())
