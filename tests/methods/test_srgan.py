import math
import urllib.error

import pytest
import torch

from fgssl.methods import srgan_losses
from fgssl.methods.srgan import SRGAN, bicubic_upscale, degrade
from fgssl.methods.srgan_losses import (
    discriminator_loss,
    feature_matching,
    generator_adversarial_loss,
    pixel_loss,
)


def _small(**options) -> SRGAN:
    settings = {"image_size": 16, "hr_size": 32, "generator_channels": 8, "generator_blocks": 1,
                "discriminator_width": 8, "content": "features"} | options
    return SRGAN(**settings)


def test_degradation_shrinks_by_the_scale_and_is_deterministic_for_a_seed():
    images = torch.rand(2, 3, 32, 32)
    for scale in (2, 4):
        assert degrade(images, scale).shape == (2, 3, 32 // scale, 32 // scale)
    flat = torch.full((1, 3, 32, 32), 0.25)
    assert torch.allclose(degrade(flat, 4), torch.full((1, 3, 8, 8), 0.25), atol=1e-6)

    def noisy(seed: int) -> torch.Tensor:
        return degrade(images, 4, blur=1.0, noise=0.05,
                       generator=torch.Generator().manual_seed(seed))

    assert torch.equal(noisy(0), noisy(0)) and not torch.equal(noisy(0), noisy(1))
    with pytest.raises(ValueError, match="divisible by 4"):
        degrade(torch.rand(1, 3, 30, 30), 4)


def test_antialiasing_removes_what_the_low_resolution_cannot_hold():
    stripes = torch.zeros(1, 3, 32, 32)
    stripes[..., ::2] = 1.0  # the finest pattern there is: aliasing would keep some of it
    assert degrade(stripes, 4)[..., 2:-2].std() < 0.01  # away from the border
    assert bicubic_upscale(degrade(stripes, 4), 4).shape == (1, 3, 32, 32)


def test_uint8_images_are_standardised_as_their_0_1_floats():
    method = _small()
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.allclose(method.standardise(images), method.standardise(images.float() / 255))
    assert torch.allclose(method.to_unit(method.standardise(images)), images.float() / 255,
                          atol=1e-6)


def test_adversarial_losses_match_their_formulas():
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-3.0, 0.2, 1.0])
    sigmoid = torch.sigmoid
    bce = -(torch.log(sigmoid(real)) + torch.log(1 - sigmoid(fake))).mean()
    assert discriminator_loss(real, fake).item() == pytest.approx(bce.item(), rel=1e-6)
    assert generator_adversarial_loss(fake).item() == pytest.approx(
        -torch.log(sigmoid(fake)).mean().item(), rel=1e-6)
    # relativistic (ESRGAN): D(x_r, x_f) = sigmoid(C(x_r) - mean C(x_f))
    relative_real, relative_fake = real - fake.mean(), fake - real.mean()
    d_expected = -(torch.log(sigmoid(relative_real)) + torch.log(1 - sigmoid(relative_fake))).mean()
    g_expected = -(torch.log(sigmoid(relative_fake)) + torch.log(1 - sigmoid(relative_real))).mean()
    assert discriminator_loss(real, fake, "relativistic").item() == pytest.approx(
        d_expected.item(), rel=1e-6)
    assert generator_adversarial_loss(fake, real, "relativistic").item() == pytest.approx(
        g_expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="relativistic loss needs"):
        generator_adversarial_loss(fake, None, "relativistic")


def test_pixel_and_feature_matching_losses():
    a, b = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert pixel_loss(a, b, "l1").item() == pytest.approx(0.5)
    assert pixel_loss(a, b, "mse").item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="l1, mse"):
        pixel_loss(a, b, "huber")
    assert feature_matching([a, b], [b, b]).item() == pytest.approx(0.25)


def test_two_phases_pixel_warm_up_then_the_game():
    method = _small(pixel_fraction=0.5)
    lr, hr = method.views(torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8))
    assert lr.shape == (4, 3, 8, 8) and hr.shape == (4, 3, 32, 32)
    method.progress = 0.2  # warm-up: D learns, G does not listen to it yet
    steps = list(method.training_steps((lr, hr), None))
    assert [index for index, _, _ in steps] == [1, 0]
    assert set(steps[1][2]) == {"pixel_loss"}
    assert torch.equal(steps[1][1], steps[1][2]["pixel_loss"])
    paper = _small(pixel_fraction=0.5, discriminator_warmup=False)
    paper.progress = 0.2
    assert [index for index, _, _ in paper.training_steps((lr, hr), None)] == [0]
    method.progress = 0.5
    steps = list(method.training_steps((lr, hr), None))
    assert [index for index, _, _ in steps] == [1, 0]
    assert {"d_loss", "d_real", "d_fake"} <= set(steps[0][2])
    assert {"pixel_loss", "g_adversarial", "content_loss"} <= set(steps[1][2])
    steps[1][1].backward()  # the generator's loss reaches G, not D
    assert all(p.grad is None for p in method.discriminator.parameters())
    assert all(p.requires_grad for p in method.discriminator.parameters())
    assert any(p.grad is not None for p in method.generator.parameters())


def test_a_multi_scale_discriminator_judges_every_scale_in_both_steps():
    import torch.nn.functional as F

    torch.manual_seed(0)
    method = _small(discriminator_scales=2, pixel_fraction=0.0)  # HR 32: judged at 32, 16
    lr, hr = method.views(torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8))
    sizes: list[int] = []
    method.discriminator.layers[0].register_forward_pre_hook(
        lambda module, inputs: sizes.append(inputs[0].shape[-1]))
    steps = list(method.training_steps((lr, hr), None))
    assert sizes == [32, 16, 32, 16, 32, 16, 32]  # D: real, fake; G: fake, real's maps
    method.eval()
    logits = method._judge(hr)
    half = F.interpolate(hr, size=16, mode="bicubic", antialias=True, align_corners=False)
    assert logits.shape == (8,)
    assert torch.allclose(logits[:4], method.discriminator(hr))
    assert torch.allclose(logits[4:], method.discriminator(half))
    assert torch.isfinite(steps[0][1]) and torch.isfinite(steps[1][1])


def test_content_auto_falls_back_to_feature_matching_with_a_notice(monkeypatch):
    monkeypatch.setattr(srgan_losses, "vgg_weights_cached", lambda: False)
    from fgssl.methods import srgan

    monkeypatch.setattr(srgan, "vgg_weights_cached", lambda: False)
    with pytest.warns(UserWarning, match="feature matching"):
        method = _small(content="auto")
    assert method.objective.content == "features" and method.config()["content"] == "features"
    assert method.content_network is None


def test_content_vgg_without_internet_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(srgan_losses.torchvision.models, "vgg19", offline)
    with pytest.raises(ConnectionError, match="content='features'"):
        _small(content="vgg")


def test_the_vgg_content_network_stays_out_of_checkpoints_and_optimizers(monkeypatch):
    tiny = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 1) for _ in range(36)])
    monkeypatch.setattr(srgan_losses.torchvision.models, "vgg19",
                        lambda weights: type("VGG", (), {"features": tiny})())
    method = _small(content="vgg")
    assert method.content_network is not None
    assert not any(key.startswith("content_network") for key in method.state_dict())
    lr, hr = method.views(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    method.progress = 1.0
    steps = list(method.training_steps((lr, hr), None))
    assert steps[1][2]["content_loss"] >= 0


def test_metrics_compare_sr_with_bicubic_on_luminance():
    method = _small()
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    metrics = method.pretext_metrics(images)
    assert set(metrics) == {"psnr", "ssim", "psnr_bicubic", "ssim_bicubic"}
    assert metrics == method.pretext_metrics(images)  # a fixed val set: the same numbers
    out = method.super_resolve(images)
    assert out["lr"].shape == (3, 3, 8, 8) and out["sr"].shape == out["hr"].shape
    assert math.isfinite(metrics["psnr"]) and -1 <= metrics["ssim"] <= 1


def test_a_short_run_super_resolves_better_than_bicubic():
    from fgssl.data import catalog
    from fgssl.evaluate.monitors import PretextMonitor
    from fgssl.train import Hyperparameters, Watch, fit

    torch.manual_seed(0)
    method = _small(scale=2, generator_channels=16, generator_blocks=2, pixel_fraction=0.7)
    pool = catalog.dataset("synthbirds", "unlabelled", size=32, profile="ci")
    val = catalog.dataset("synthbirds", "val", size=32, profile="ci")
    history = fit(method, pool, "ci", None, hyper=Hyperparameters(epochs=4, batch_size=32),
                  watch=Watch(monitors=[PretextMonitor(val)], progress_bar=False))
    last = history[-1]
    assert last["val_psnr"] > last["val_psnr_bicubic"]
    assert "d_loss" in history[0] and "d_loss" in last  # D learns from the first step
    assert "g_adversarial" in last and "g_adversarial" not in history[0]  # G after warm-up


def test_checkpoints_give_either_network_as_a_backbone(tmp_path):
    import numpy as np

    from fgssl.config import profile
    from fgssl.data.cache import CachedImages
    from fgssl.models.srgan_nets import DiscriminatorFeatures, GeneratorFeatures
    from fgssl.study.runs import backbone_for
    from fgssl.train import Hyperparameters, Watch, fit

    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    method = _small()
    fit(method, CachedImages(images, np.full(16, -1)), "ci", tmp_path,
        hyper=Hyperparameters(epochs=1, batch_size=8), watch=Watch(progress_bar=False))
    prof = profile("ci")
    name, features_d = backbone_for(str(tmp_path), prof, features="d")
    assert name == "srgan-d" and isinstance(features_d, DiscriminatorFeatures)
    name, features_g = backbone_for(str(tmp_path), prof, features="g")
    assert name == "srgan-g" and isinstance(features_g, GeneratorFeatures)
    assert torch.equal(features_g.generator.head[0].weight, method.generator.head[0].weight)
    assert backbone_for(str(tmp_path), prof)[0] == "srgan"  # the configured default: D
    assert features_d.input_size == method.hr_size == 32  # read where it judged: HR images


def test_random_srgan_networks_are_seeded_untrained_copies():
    from fgssl.config import profile
    from fgssl.models.srgan_nets import DiscriminatorFeatures
    from fgssl.study.runs import backbone_for

    prof = profile("ci")
    name, critic = backbone_for("random", prof, seed=3, features="d")
    assert name == "random-srgan-d" and isinstance(critic, DiscriminatorFeatures)
    assert critic.input_size == 64  # the size a trained one is read at, for a fair baseline
    first = critic.discriminator.layers[0][0].weight
    assert torch.equal(first, backbone_for("random", prof, 3, "d")[1]
                       .discriminator.layers[0][0].weight)
    assert not torch.equal(first, backbone_for("random", prof, 4, "d")[1]
                           .discriminator.layers[0][0].weight)
    assert backbone_for("random", prof, 3, "g")[0] == "random-srgan-g"


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="pixel must be one of l1, mse"):
        _small(pixel="huber")
    with pytest.raises(ValueError, match="features must be 'd'"):
        _small(features="both")
    with pytest.raises(ValueError, match="not divisible by the scale 4"):
        _small(hr_size=30)
    with pytest.raises(ValueError, match="discriminator_scales must be at least 1"):
        _small(discriminator_scales=0)
    with pytest.raises(ValueError, match="its smallest copy would be 8 px"):
        _small(discriminator_scales=3)  # 32, 16, 8 px: D needs at least 16
