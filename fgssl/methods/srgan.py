"""Adversarial super-resolution (SRGAN, Ledig et al. 2017) as a pretext task.

To turn a small image into a sharp large one, a generator must know what edges, textures and
parts look like; to tell its output from real images, a discriminator must notice exactly the
details the generator gets wrong. Both learn about images without labels, and the study we
start from probed both: the discriminator's features (``srgan-d``) and the generator's
(``srgan-g``).

Training pairs are made on the fly: a high-resolution image (HR; ``hr_size``, by default the
profile's image size but at least 64 px, so that ×4 leaves a 16-px input) and its degraded
copy (LR; :func:`degrade`: optional blur, bicubic down-scaling with antialiasing by ``scale``,
optional noise). Two phases, as in the paper: the generator first learns on the pixel loss
alone (SRResNet; the first ``pixel_fraction`` of training), then it also plays the
adversarial game against the discriminator; each network has its own Adam optimizer, stepped
in turn by :func:`fgssl.train.fit`.
The networks are sized for a CPU (generator: 32 channels, 4 residual blocks, a 3x3 last
convolution; discriminator: 16 to 128 channels); the paper's are ``generator_channels=64,
generator_blocks=16, generator_tail=9, discriminator_width=64``.

One departure from the paper, on by default (``discriminator_scales=2``): the discriminator
judges every image, real or generated, both as it is and reduced ×2 (antialiased) — one
network at two scales, after the multi-scale discriminators of pix2pixHD (Wang et al. 2018).
At half size the grain a generator cannot invent from 16 px is mostly gone, so the
discriminator must also judge shapes and colours.

A second departure, also on by default (``discriminator_warmup=True``): the discriminator
learns from the first step. During the warm-up the generator does not listen to it, but it
already learns to tell the generator's output from real images; so it trains for the whole
run instead of its second half, and its learning-rate schedule (which advances only when its
optimizer steps) runs to its end like the generator's, instead of stopping part of the way.
What each departure does to the features and the PSNR is measured in docs/RESULTS.md.

The discriminator's features (``srgan-d``) are read at ``hr_size``, the size of the images it
judges: a discriminator trained on 64-px images and shown 32-px ones loses most of what it
learned (see :class:`~fgssl.models.srgan_nets.DiscriminatorFeatures`).

Example::

    >>> method = SRGAN(image_size=32)                   # 64-px HR crops from 16-px LR
    >>> lr, hr = method.views(torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8))
    >>> lr.shape, hr.shape
    (torch.Size([4, 3, 16, 16]), torch.Size([4, 3, 64, 64]))
"""

# Over 300 lines: a method is one file; a GAN's two alternating steps and their schedule.

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import kornia
import torch
import torch.nn.functional as F
from torch import nn

from fgssl.image_quality import psnr, ssim
from fgssl.methods.about import Entry, Option, Schedule, schedules
from fgssl.methods.base import Log, Method, Step
from fgssl.methods.srgan_losses import (
    CONTENT_LOSSES,
    GeneratorObjective,
    VGGContent,
    discriminator_loss,
    feature_matching,
    generator_adversarial_loss,
    pixel_loss,
    vgg_weights_cached,
)
from fgssl.models.srgan_nets import (
    MIN_JUDGED_SIZE,
    SCALES,
    Discriminator,
    DiscriminatorFeatures,
    GeneratorFeatures,
    SRResNet,
)
from fgssl.transforms import MEAN, STD

FEATURES = ("d", "g")
MIN_HR_SIZE = 64


def degrade(images: torch.Tensor, scale: int = 4, blur: float = 0.0, noise: float = 0.0,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Low-resolution copies of high-resolution images: a Gaussian blur, bicubic down-scaling
    with antialiasing, Gaussian noise.

    Args:
        images: (B, 3, H, W) in [0, 1].
        scale: the factor s.
        blur: the blur's std in pixels (0: none).
        noise: the noise's std (0: none).
        generator: draws the noise (the same seed, the same noise).

    Returns:
        (B, 3, H/s, W/s) in [0, 1]."""
    height, width = images.shape[-2:]
    if height % scale or width % scale:
        raise ValueError(f"images of {height}x{width} px cannot be reduced by {scale}: use a "
                         f"size divisible by {scale}")
    if blur > 0:
        size = 2 * int(3 * blur) + 1
        images = kornia.filters.gaussian_blur2d(images, (size, size), (blur, blur))
    small = F.interpolate(images, size=(height // scale, width // scale), mode="bicubic",
                          antialias=True, align_corners=False)
    if noise > 0:
        small = small + noise * torch.randn(small.shape, generator=generator,
                                            device="cpu").to(small.device)
    return small.clamp(0, 1)


def bicubic_upscale(images: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline every super-resolution result is compared with.

    Args:
        images: (B, 3, h, w) in [0, 1].
        scale: the factor s.

    Returns:
        (B, 3, s·h, s·w), bicubic, clamped to [0, 1]."""
    return F.interpolate(images, scale_factor=scale, mode="bicubic",
                         align_corners=False).clamp(0, 1)


@dataclass(frozen=True)
class Degradation:
    """How a training pair's low-resolution image is made from its high-resolution one
    (:func:`degrade`).

    Args:
        scale: the super-resolution factor s, 2 or 4.
        blur: the Gaussian blur's std in pixels (0: none).
        noise: the Gaussian noise's std (0: none)."""

    scale: int
    blur: float = 0.0
    noise: float = 0.0

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 3, H/s, W/s) in [0, 1]; ``generator`` draws the
        noise."""
        return degrade(images, self.scale, self.blur, self.noise, generator)


class SRGAN(Method):
    """SRResNet generator and size-agnostic discriminator (Ledig et al. 2017), trained in two
    phases; the backbone (what the evaluation probes) is ``srgan-d`` (the discriminator's
    pooled features, on images of ``hr_size``, the size it judges) or ``srgan-g`` (the
    generator's trunk); :meth:`feature_backbone` gives either from a trained method.

    The settings come in five groups, in this order: the training pairs (``hr_size`` and
    :class:`Degradation`, ``degradation``), the generator's network, the discriminator's
    network and play, the generator's loss (:class:`GeneratorObjective`, ``objective``) and
    the backbone the evaluation probes.

    Args:
        image_size: the profile's image size (the high-resolution size is at least 64 px).
        scale: the super-resolution factor, 2 or 4.
        hr_size: the high-resolution crops' side (default: ``image_size``, at least 64).
        blur: the degradation's Gaussian blur std in pixels (0: none).
        noise: the degradation's Gaussian noise std (0: none).
        generator_channels: the generator's width (the paper: 64).
        generator_blocks: its residual blocks (the paper: 16).
        generator_tail: its last convolution's kernel (the paper: 9).
        discriminator_width: the discriminator's first width, doubled per stage (the
            paper: 64).
        discriminator_scales: the sizes it judges every image at (each half the last).
        discriminator_warmup: the discriminator learns from the first step.
        pixel: the pixel loss, ``"l1"`` or ``"mse"``.
        adversarial: ``"bce"`` or ``"relativistic"`` (ESRGAN's).
        content: ``"vgg"`` (VGG54 with ImageNet weights, downloaded if needed),
            ``"features"`` (feature matching on the discriminator), ``"none"``, or
            ``"auto"``: VGG when its weights are already cached, else feature matching,
            with a notice.
        adversarial_weight: the adversarial term's weight in the generator's loss.
        content_weight: the content term's weight.
        pixel_fraction: the first fraction of training on the pixel loss alone.
        features: the backbone: ``"d"`` (discriminator) or ``"g"`` (generator).
        depths: the discriminator's features from ``"all"`` its stages or the ``"last"``."""

    name = "srgan"
    summary = "adversarial super-resolution, SRGAN (Ledig et al. 2017)"
    base_lr = 4e-3  # Adam, for a batch of 256: 1e-3 at the cpu profile's 64 (paper: 1e-4 at 16)
    options = (Option("scale", "the super-resolution factor (default 4)", choices=SCALES),
               Option("content", "the content loss (default auto: VGG19 when its ImageNet "
                                 "weights are cached, else feature matching)",
                      choices=CONTENT_LOSSES))
    resolved_settings = ("content",)  # "auto" becomes the loss it chose
    schedule = schedules(cpu=Schedule(epochs=2, batch_size=64),
                         gpu=Schedule(epochs=10, batch_size=64),
                         full=Schedule(epochs=30, batch_size=32))
    feature_choices = FEATURES
    entries = (
        Entry("srgan-d", "SRGAN's discriminator, shown images at the size it judged in training "
                         "(its high-resolution size: 64 px in the ci and cpu profiles, where "
                         "the other rows see 32 px)", features="d", cost=250,
              not_finetuned="at 64 px it is the study's costliest fine-tuning (what it gave "
                            "when tried: docs/EXPERIMENTS.md)"),
        Entry("srgan-g", "SRGAN's generator", features="g", cost=240,
              not_finetuned="its trunk keeps full resolution: fine-tuning it costs about 7x a "
                            "small CNN's"),
        Entry("random-srgan-d", "SRGAN's discriminator untrained (seeded), at srgan-d's image "
                                "size: what srgan-d's training adds", weights="random",
              features="d", options={"content": "none"}, cost=15,
              not_finetuned="it is the untrained reference for srgan-d's frozen features"),
    )

    def __init__(self, image_size: int = 32, *, scale: int = 4, hr_size: int | None = None,
                 blur: float = 0.0, noise: float = 0.0,
                 generator_channels: int = 32, generator_blocks: int = 4,
                 generator_tail: int = 3,
                 discriminator_width: int = 16, discriminator_scales: int = 2,
                 discriminator_warmup: bool = True,
                 pixel: str = "l1", adversarial: str = "bce", content: str = "auto",
                 adversarial_weight: float = 1e-2, content_weight: float = 1.0,
                 pixel_fraction: float = 0.5,
                 features: str = "d", depths: str = "all") -> None:
        if features not in FEATURES:
            raise ValueError(f"features must be 'd' (discriminator) or 'g' (generator), got "
                             f"{features!r}")
        objective = GeneratorObjective(pixel, adversarial, content, adversarial_weight,
                                       content_weight, pixel_fraction)
        high_size = hr_size or max(MIN_HR_SIZE, image_size)
        _check_judged_sizes(high_size, scale, discriminator_scales)
        objective = replace(objective, content=_resolve_content(content))  # "auto" decided
        generator = SRResNet(scale, generator_channels, generator_blocks,
                             tail_kernel=generator_tail)
        discriminator = Discriminator(discriminator_width)
        backbone = DiscriminatorFeatures(discriminator, depths, high_size) if features == "d" \
            else GeneratorFeatures(generator)
        super().__init__(backbone)
        self.generator, self.discriminator = generator, discriminator
        self.hr_size = high_size
        self.data_size = self.hr_size  # SRGAN trains on HR crops, not the profile's size
        self.degradation = Degradation(scale, blur, noise)
        self.discriminator_scales = discriminator_scales
        self.discriminator_warmup = discriminator_warmup
        self.objective = objective
        self.record_setting("content", objective.content)  # a checkpoint rebuilds that loss
        # not a submodule: its fixed ImageNet weights stay out of checkpoints and optimizers
        object.__setattr__(self, "content_network",
                           VGGContent() if objective.content == "vgg" else None)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def feature_backbone(self, features: str | None = None, depths: str = "all") -> nn.Module:
        """``srgan-d`` (``"d"``: taken at ``hr_size``, the size of the images the
        discriminator judges) or ``srgan-g`` (``"g"``) features of this method's networks;
        ``None``: the backbone it was made with."""
        if features is None:
            return self.backbone
        if features not in FEATURES:
            raise ValueError(f"--features must be d or g, got {features!r}")
        return DiscriminatorFeatures(self.discriminator, depths, self.hr_size) \
            if features == "d" else GeneratorFeatures(self.generator)

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """Adam (betas 0.9, 0.999, as Ledig et al.) for the generator (0), the discriminator (1)."""
        return [torch.optim.Adam(self.generator.parameters(), lr=lr),
                torch.optim.Adam(self.discriminator.parameters(), lr=lr)]

    def standardise(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (or uint8, scaled to it first) as the networks see them."""
        images = images.float() / 255 if images.dtype == torch.uint8 else images
        return (images - self.mean) / self.std

    def to_unit(self, images: torch.Tensor) -> torch.Tensor:
        """Standardised images back to [0, 1]."""
        return (images * self.std + self.mean).clamp(0, 1)

    def views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, HR, HR) uint8 -> standardised LR (B, 3, HR/s, HR/s) and HR, flipped at random."""
        high = images.float() / 255
        flip = torch.rand(len(high), device=high.device) < 0.5
        high = torch.where(flip[:, None, None, None], high.flip(-1), high)
        low = self.degradation(high)
        return self.standardise(low), self.standardise(high)

    @property
    def adversarial_phase(self) -> bool:
        return self.progress >= self.objective.pixel_fraction

    def training_steps(self, inputs: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor
                       ) -> Iterator[Step]:
        """A discriminator step (optimizer 1) on real HR and detached SR images, then a
        generator step (optimizer 0): in the adversarial phase against the updated
        discriminator, in the warm-up on the pixel loss only. With ``discriminator_warmup``
        off, the warm-up has no discriminator step (the paper's schedule)."""
        low, high = inputs
        generated = self.generator(low)
        adversarial = self.adversarial_phase
        if adversarial or self.discriminator_warmup:
            real_logits = self._judge(high)
            fake_logits = self._judge(generated.detach())
            d_loss = discriminator_loss(real_logits, fake_logits, self.objective.adversarial)
            yield 1, d_loss, {"d_loss": d_loss.detach(),
                              "d_real": torch.sigmoid(real_logits.detach()).mean(),
                              "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
        pixel = pixel_loss(generated, high, self.objective.pixel)
        logs: dict[str, Log] = {"pixel_loss": pixel.detach()}
        g_loss = pixel
        if adversarial:
            self.discriminator.requires_grad_(False)  # G's step: no gradients for D
            try:
                g_loss = g_loss + self._generator_game(generated, high, logs)
            finally:
                self.discriminator.requires_grad_(True)
        yield 0, g_loss, logs

    def _generator_game(self, generated: torch.Tensor, high: torch.Tensor,
                        logs: dict[str, Log]) -> torch.Tensor:
        """The generator's adversarial and content terms, weighted (logged into ``logs``)."""
        fake_maps = self.discriminator.stages(generated)
        fake_logits = self._judge(generated, fake_maps)
        objective, real_maps, real_logits = self.objective, None, None
        if objective.content == "features" or objective.adversarial == "relativistic":
            with torch.no_grad():
                real_maps = self.discriminator.stages(high)
                if objective.adversarial == "relativistic":
                    real_logits = self._judge(high, real_maps)
        adversarial = generator_adversarial_loss(fake_logits, real_logits, objective.adversarial)
        logs["g_adversarial"] = adversarial.detach()
        terms = objective.adversarial_weight * adversarial
        if objective.content == "none":
            return terms
        if self.content_network is not None:
            content = self.content_network.to(generated.device)(generated, high)
        else:
            content = feature_matching(fake_maps, real_maps)
        logs["content_loss"] = content.detach()
        return terms + objective.content_weight * content

    def _judge(self, images: torch.Tensor, maps: list[torch.Tensor] | None = None
               ) -> torch.Tensor:
        """D's logits for (B, 3, H, W) images, and with ``discriminator_scales`` = n > 1 also
        for their copies reduced ×2, ..., ×2^(n-1) (antialiased), all in one (n·B,) tensor: a
        multi-scale discriminator (one network judging every scale, after Wang et al. 2018's
        pix2pixHD), which must also judge shapes and colours, not grain alone. ``maps``: the
        full-size images' feature maps, when already computed."""
        maps = maps if maps is not None else self.discriminator.stages(images)
        logits = [self.discriminator.classifier(maps[-1]).squeeze(1)]
        size = images.shape[-1]
        for level in range(1, self.discriminator_scales):
            smaller = F.interpolate(images, size=size // 2**level, mode="bicubic",
                                    antialias=True, align_corners=False)
            logits.append(self.discriminator(smaller))
        return torch.cat(logits)

    @torch.no_grad()
    def super_resolve(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """LR, bicubic, SR and HR versions of (B, 3, HR, HR) uint8 images, in [0, 1], with the
        generator in eval mode and the degradation's noise seeded (a fixed val set)."""
        with self.evaluating(images.device):
            high = images.float() / 255
            low = self.degradation(high, torch.Generator().manual_seed(0))
            generated = self.to_unit(self.generator(self.standardise(low)))
        return {"lr": low, "bicubic": bicubic_upscale(low, self.degradation.scale), "sr": generated,
                "hr": high}

    def pretext_metrics(self, images: torch.Tensor) -> dict[str, Any]:
        """PSNR and SSIM (luminance, ``scale`` px shaved) of SR and of bicubic up-scaling
        against the HR images, averaged over a (B, 3, HR, HR) uint8 batch."""
        out, shave = self.super_resolve(images), self.degradation.scale
        metrics = {}
        for name in ("sr", "bicubic"):
            suffix = "" if name == "sr" else "_bicubic"
            metrics[f"psnr{suffix}"] = psnr(out[name], out["hr"], shave).mean().item()
            metrics[f"ssim{suffix}"] = ssim(out[name], out["hr"], shave).mean().item()
        return metrics


def _check_judged_sizes(high_size: int, scale: int, discriminator_scales: int) -> None:
    """Raise unless ``high_size`` divides by ``scale`` and the discriminator's smallest copy
    of an image (``discriminator_scales`` sizes, each half the last) is one it can judge."""
    if discriminator_scales < 1:
        raise ValueError(f"discriminator_scales must be at least 1, got {discriminator_scales}")
    if high_size % scale:
        raise ValueError(f"hr_size {high_size} is not divisible by the scale {scale}")
    smallest = high_size // 2 ** (discriminator_scales - 1)
    if smallest < MIN_JUDGED_SIZE:
        raise ValueError(f"with discriminator_scales={discriminator_scales} its smallest copy "
                         f"would be {smallest} px; the discriminator needs at least "
                         f"{MIN_JUDGED_SIZE}: use fewer scales or a larger hr_size")


def _resolve_content(content: str) -> str:
    """``auto`` -> ``vgg`` when the ImageNet weights are cached, else ``features`` (a notice)."""
    if content != "auto":
        return content
    if vgg_weights_cached():
        return "vgg"
    warnings.warn("SRGAN: no VGG19 ImageNet weights in torchvision's cache, so the content "
                  "loss is feature matching on the discriminator; for the paper's VGG loss, "
                  "connect to the internet and pass content='vgg' once", stacklevel=4)
    return "features"
