"""How long a training run takes on a GPU the kit has not seen, from the work it does.

A run's work is its floating-point operations: ``epochs x images per epoch x FLOPs of one
training image``, where the FLOPs of one image are counted by
:class:`torch.utils.flop_counter.FlopCounterMode` over one training step of the method on a
few images at the run's size — its views, its loss (every optimizer's, for a GAN) and the
backward pass — and divided by the images. The counter counts the matrix products and
convolutions, which is where a network spends its work; element-wise operations (batch norm,
activations, the augmentations) are left out, as in the published FLOP counts of ResNets.

Divided by a GPU's sustained training rate in FLOP/s, the work is an estimate of the run's
time there. :data:`T4_TRAINING_FLOPS` is a Colab T4's, derived from a published benchmark
(docs/INSTRUCTORS.md, "On a GPU", gives the derivation and its conditions); on a machine at
hand, :func:`fgssl.study.runs.training_estimate` times the steps instead, which is what a
training cell prints.

Example::

    >>> run = Run.of("simclr", "gpu")
    >>> round(t4_seconds(run) / 60, 1)                  # doctest: +SKIP
    1.9
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from fgssl.config import Profile
from fgssl.data.catalog import synthbirds_sizes
from fgssl.methods.registry import method_class
from fgssl.study.runs import Run

# A T4's sustained mixed-precision training rate: ResNet-50 images/s at 224 px, batch 256
# (derived from NVIDIA's published figures: docs/INSTRUCTORS.md), times the FLOPs of one such
# training image as training_flops_per_image counts them (a test checks the count).
T4_RESNET50_IMAGES_PER_S = 425
RESNET50_TRAINING_FLOPS = 24.3e9
T4_TRAINING_FLOPS = T4_RESNET50_IMAGES_PER_S * RESNET50_TRAINING_FLOPS  # FLOP/s
COUNTED_IMAGES = 4  # images in the step whose FLOPs are counted (batch norm needs two or more)


@functools.cache
def training_flops_per_image(method: str, prof: Profile,
                             options: tuple[tuple[str, Any], ...] = ()) -> float:
    """FLOPs of one training image of ``method`` (with ``options``) in ``prof``: one step on
    ``COUNTED_IMAGES`` random images at the size the method trains on, forward and backward,
    divided by the images. The random state is left as it was."""
    cls = method_class(method)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a real run of the method says it
        torch.manual_seed(0)
        model = cls.build(prof, num_classes=2, **dict(options)).train()
        size = model.data_size or prof.image_size
        images = torch.randint(0, 256, (COUNTED_IMAGES, 3, size, size), dtype=torch.uint8)
        labels = torch.arange(COUNTED_IMAGES) % 2
        with FlopCounterMode(display=False) as counter:
            for _, loss, _ in model.training_steps(model.views(images), labels):
                loss.backward()
    return counter.get_total_flops() / COUNTED_IMAGES


def images_per_epoch(run: Run) -> int:
    """What one epoch of ``run`` trains on, for SynthBirds: the unlabelled pool, or train
    (its label budget repeated to train's size) for a method that learns from labels."""
    if run.data != "synthbirds":
        raise ValueError(f"estimates without training are for SynthBirds, not {run.data}: "
                         "time the run on the machine at hand (training_estimate)")
    sizes = synthbirds_sizes(run.profile)
    return sizes["train"] if method_class(run.method).learns_from_labels else \
        sizes["unlabelled"]


def training_flops(run: Run) -> float:
    """The floating-point operations of the whole of ``run``: epochs x images x per image."""
    return run.planned_epochs * images_per_epoch(run) * \
        training_flops_per_image(run.method, run.profile, run.options)


def t4_seconds(run: Run) -> float:
    """``run``'s training time on a Colab T4, estimated from its FLOPs (mixed precision)."""
    return training_flops(run) / T4_TRAINING_FLOPS
