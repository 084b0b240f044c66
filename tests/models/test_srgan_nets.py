import pytest
import torch

from fgssl.models.srgan_nets import (
    Discriminator,
    DiscriminatorFeatures,
    GeneratorFeatures,
    SRResNet,
)


@pytest.mark.parametrize("scale, size", [(2, 16), (4, 16), (4, 24), (2, 9)])
def test_the_generator_enlarges_any_size_by_its_scale(scale, size):
    generator = SRResNet(scale=scale, channels=8, blocks=2)
    assert generator(torch.zeros(2, 3, size, size + 3)).shape == (2, 3, scale * size,
                                                                   scale * (size + 3))
    assert generator.trunk(torch.zeros(2, 3, size, size)).shape == (2, 8, size, size)


def test_the_generator_refuses_other_scales():
    with pytest.raises(ValueError, match=r"one of \(2, 4\)"):
        SRResNet(scale=3)


@pytest.mark.parametrize("size", [16, 32, 64, 96, 50])
def test_the_discriminator_accepts_any_size_from_16_px(size):
    critic = Discriminator(width=8, dense=16)
    assert critic(torch.zeros(3, 3, size, size)).shape == (3,)
    maps = critic.stages(torch.zeros(2, 3, size, size))
    assert [m.shape[1] for m in maps] == [8, 16, 32, 64]
    assert maps[-1].shape[-1] == -(-size // 16)  # four stride-2 layers, rounding up


def test_feature_backbones_pool_the_networks_features():
    critic = Discriminator(width=8, dense=16)
    every = DiscriminatorFeatures(critic, "all")
    last = DiscriminatorFeatures(critic, "last")
    images = torch.randn(2, 3, 32, 32)
    assert every(images).shape == (2, every.feature_dim) and every.feature_dim == 8 + 16 + 32 + 64
    assert torch.equal(every(images)[:, -64:], last(images)) and last.feature_dim == 64
    generator = SRResNet(channels=8, blocks=1)
    features = GeneratorFeatures(generator)
    assert features(images).shape == (2, 8) == (2, features.feature_dim)
    assert torch.allclose(features(images), generator.trunk(images).mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="'last' or 'all'"):
        DiscriminatorFeatures(critic, "middle")
