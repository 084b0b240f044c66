"""DINO (Caron et al. 2021): self-distillation with no labels, and multi-crop.

A student network and a teacher network (the student's momentum average, updated after every
step) each end in a head whose K outputs, through a softmax at temperature τ, are a
distribution over K prototypes. The student learns to give, for one view of an image, the
distribution the teacher gives for another view of it (eq. 3):

    min_θs  Σ_{x ∈ {x1g, x2g}}  Σ_{x' ∈ V, x' ≠ x}  H(P_t(x), P_s(x')),   H(a, b) = −a · log b

over two *global* views (large crops at the profile's image size), which both networks see,
and several *local* views (small crops at about half that size), which only the student sees:
a crop of the beak must predict what the teacher sees in the whole bird.

Nothing in that objective stops both networks from giving every image the same answer. DINO
"centers and sharpens" the teacher: P_t(x) = softmax((g_t(x) − c) / τ_t), with a centre c ←
m c + (1 − m) · mean_batch g_t (m = 0.9) that keeps one prototype from winning every image
(centering alone would collapse to the uniform distribution), and a low τ_t (sharpening alone
would collapse to one prototype). τ_t warms up linearly from ``warmup_teacher_temperature``
to ``teacher_temperature`` over the first ``teacher_warmup`` of the run; the student's τ_s is
0.1. Two logged numbers show collapse: the teacher's entropy ``teacher_entropy`` (log K when
it is uniform, 0 when one-hot), and ``kl`` = KL(P_t ‖ P_s), the part of the loss that
learning lowers (0 when both answer the same whatever the image); the loss is their sum. On
held-out images, ``pretext_metrics`` adds ``teacher_spread``: how much the teacher's logits
differ between images, in units of τ_t — what is left of the target once the centre is taken
off (well below 1, every image's target is nearly uniform, and the student learns to say
nothing).

Sized for the small CNN: the head is an MLP (backbone → 512 → 512 → a 128-d bottleneck), each
hidden layer followed by batch norm and a GELU, ℓ2-normalised, then a cosine layer to
``prototypes`` = 128 outputs (the paper's weight-normalised last layer with its norm fixed at
1; its 65,536 prototypes are for ViTs on ImageNet's thousand classes, and SynthBirds has 24
species). The batch norm is the DINO code's ``use_bn_in_head``, off there by default: here the
teacher's answers start out nearly alike for every image, and the norm spreads them apart
(DINO's weakest seed learns more with it: docs/EXPERIMENTS.md). As the paper does, the last
layer is frozen at first (``freeze_last_layer``, a fraction of the run) and gradients are
clipped to norm 3. Local views are the paper's six from 64 px up; below that (the ``cpu``
profile's 32 px) a local view is a 16 px crop that ends on a 2×2 map, and there are none
unless asked for. The global views are SimCLR's fine-grained ones (``variant="object_crop"``,
colour jitter 0.25), as BYOL's are. The teacher's momentum starts at 0.99, not the paper's
0.996 (rising to 1 on a cosine, as in the paper): over the few thousand steps of the ``cpu``
profile so slow a teacher stays near its random init for much of the run, as BYOL's target
did. docs/EXPERIMENTS.md has the runs behind these choices. Under torchrun the centre is the
mean over every process's batch, and ``--sync-bn`` makes the head's batch norm every process's
too.

Example::

    >>> student = [torch.randn(4, 10) for _ in range(4)]     # 2 global + 2 local views
    >>> teacher = [torch.softmax(torch.randn(4, 10), 1) for _ in range(2)]
    >>> dino_loss(student, teacher, student_temperature=0.1).shape
    torch.Size([])
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from fgssl import distributed
from fgssl.gpu_augment import BatchMultiCropViews
from fgssl.methods.about import Entry, Option, Schedule, schedules
from fgssl.methods.base import Log, Method, cosine_momentum, momentum_update, sgd
from fgssl.models.backbones import build_backbone


def dino_loss(student_logits: list[torch.Tensor], teacher_probabilities: list[torch.Tensor],
              student_temperature: float = 0.1) -> torch.Tensor:
    """DINO's loss (Caron et al. 2021, eq. 3), averaged over its terms: for each teacher view
    i and each student view j ≠ i, the cross-entropy H(P_t(i), softmax(s_j / τ_s)), averaged
    over the batch.

    Args:
        student_logits: V tensors (B, K), the student's logits for every view, the global
            ones first.
        teacher_probabilities: the teacher's centred, sharpened distributions for the global
            views, (B, K) each; view i of the teacher is view i of the student.
        student_temperature: τ_s, positive.

    Returns:
        The loss, a scalar.
    """
    if student_temperature <= 0:
        raise ValueError(f"student_temperature must be positive, got {student_temperature}")
    total, terms = student_logits[0].new_zeros(()), 0
    for i, teacher in enumerate(teacher_probabilities):
        for j, student in enumerate(student_logits):
            if j == i:
                continue  # a view does not teach itself
            log_p = F.log_softmax(student / student_temperature, dim=-1)
            total = total + (-teacher * log_p).sum(-1).mean()
            terms += 1
    return total / terms


class DINOHead(nn.Module):
    """MLP to a bottleneck, ℓ2-normalised, then a cosine layer to K prototypes:
    (B, D) -> (B, K) logits in [-1, 1]. With ``batch_norm``, each hidden layer is followed by
    batch norm before its GELU (the DINO code's ``use_bn_in_head``)."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, bottleneck_dim: int = 128,
                 prototypes: int = 128, batch_norm: bool = False) -> None:
        super().__init__()

        def hidden(width_in: int) -> list[nn.Module]:
            norm = [nn.BatchNorm1d(hidden_dim)] if batch_norm else []
            return [nn.Linear(width_in, hidden_dim), *norm, nn.GELU()]

        self.mlp = nn.Sequential(*hidden(in_dim), *hidden(hidden_dim),
                                 nn.Linear(hidden_dim, bottleneck_dim))
        self.prototypes = nn.Parameter(torch.randn(prototypes, bottleneck_dim) * 0.02)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        bottleneck = F.normalize(self.mlp(features), dim=-1)
        return bottleneck @ F.normalize(self.prototypes, dim=-1).T  # (B, K)


@dataclass(frozen=True)
class TeacherSchedule:
    """How DINO's teacher moves and answers over a run, by the share of the run done (0 to 1).

    Args:
        momentum: the teacher's τ at the start, rising to 1 on a cosine.
        temperature: τ_t after its warm-up.
        warmup_temperature: τ_t at the start.
        warmup: the share of the run over which τ_t warms up linearly.
        center_momentum: m of the centre's update, c ← m c + (1 − m) · the batch mean."""

    momentum: float
    temperature: float
    warmup_temperature: float
    warmup: float
    center_momentum: float

    def temperature_at(self, progress: float) -> float:
        """τ_t after ``progress`` of the run: warmed up linearly, then constant."""
        if progress >= self.warmup:
            return self.temperature
        return self.warmup_temperature + \
            (self.temperature - self.warmup_temperature) * progress / self.warmup

    def momentum_at(self, progress: float) -> float:
        """The teacher's τ after ``progress`` of the run (:func:`cosine_momentum`)."""
        return cosine_momentum(self.momentum, progress)


class DINO(Method):
    """Student (backbone + head) and momentum teacher; two global and ``local_crops`` local
    views per image.

    The settings come in four groups, in this order, each held by one object: the views
    (:class:`~fgssl.gpu_augment.BatchMultiCropViews`, ``crops``), the head
    (:class:`DINOHead`, the student's ``head`` and the teacher's copy), the teacher's schedule
    (:class:`TeacherSchedule`, ``teacher_schedule``) and the student's (τ_s, the frozen
    prototypes, the clipping).

    Args:
        backbone_name: one of :data:`~fgssl.models.backbones.BACKBONES`.
        image_size: the global views' side in pixels.
        local_crops: local views per image, student only, even (default: 6 from 64 px, none
            below).
        local_size: the local views' side (default: half the image size).
        global_scale: the global crops' range of areas (default: the variant's own,
            :func:`~fgssl.transforms.crop_scale_for`).
        local_scale: the local crops' range of areas.
        variant: the global views' variant (:data:`~fgssl.transforms.VARIANTS`).
        jitter: the colour jitter's strength s.
        prototypes: K, the head's outputs.
        hidden_dim: the head's MLP width.
        bottleneck_dim: the ℓ2-normalised bottleneck's width.
        head_batch_norm: batch norm after each of the head's hidden layers.
        momentum: the teacher's τ at the start, rising to 1 on a cosine.
        teacher_temperature: τ_t after its warm-up.
        warmup_teacher_temperature: τ_t at the start.
        teacher_warmup: the share of the run over which τ_t warms up.
        center_momentum: m of the centre's update.
        student_temperature: τ_s.
        freeze_last_layer: the share of the run during which the prototypes stay fixed.
        clip: the gradients' largest norm (None: no clipping)."""

    name = "dino"
    summary = "DINO: a student matching its momentum teacher across crops (Caron et al. 2021)"
    base_lr = 0.3
    # cpu: DINO needs steps (its teacher leaves the uniform answer within a few epochs, the
    # backbone follows only after ~20 at batch 64: docs/EXPERIMENTS.md), ~3x SimCLR's time;
    # gpu: a class period on a T4 (docs/INSTRUCTORS.md)
    schedule = schedules(cpu=Schedule(epochs=56, batch_size=64), gpu=Schedule(epochs=20))
    options = (Option("local_crops", "local views per image, student only (default: 6 from "
                                     "64 px, none below)", minimum=0),
               Option("teacher_temperature", "the teacher's softmax temperature after its "
                                             "warm-up (default 0.07)", minimum=0.001))
    resolved_settings = ("local_crops",)  # None becomes the number of local views chosen
    entries = (Entry("dino", "DINO: self-distillation of a momentum teacher (local crops from "
                             "64 px)", opt_in=True, cost=800),)

    def __init__(self, backbone_name: str = "small_cnn", image_size: int = 32, *,
                 local_crops: int | None = None, local_size: int | None = None,
                 global_scale: tuple[float, float] | None = None,
                 local_scale: tuple[float, float] = (0.05, 0.4), variant: str = "object_crop",
                 jitter: float = 0.25,
                 prototypes: int = 128, hidden_dim: int = 512, bottleneck_dim: int = 128,
                 head_batch_norm: bool = True,
                 momentum: float = 0.99, teacher_temperature: float = 0.07,
                 warmup_teacher_temperature: float = 0.04, teacher_warmup: float = 0.3,
                 center_momentum: float = 0.9,
                 student_temperature: float = 0.1, freeze_last_layer: float = 0.05,
                 clip: float | None = 3.0) -> None:
        if local_crops is None:  # at 32 px a local view is a 16 px crop: docs/EXPERIMENTS.md
            local_crops = 6 if image_size >= 64 else 0
            self.record_setting("local_crops", local_crops)
        super().__init__(build_backbone(backbone_name, image_size))
        self.head = DINOHead(self.backbone.feature_dim, hidden_dim, bottleneck_dim, prototypes,
                             head_batch_norm)
        self.teacher = nn.Sequential(copy.deepcopy(self.backbone),
                                     copy.deepcopy(self.head)).requires_grad_(False)
        self.register_buffer("center", torch.zeros(prototypes))
        self.teacher_schedule = TeacherSchedule(momentum, teacher_temperature,
                                                warmup_teacher_temperature, teacher_warmup,
                                                center_momentum)
        self.student_temperature, self.freeze_last_layer = student_temperature, freeze_last_layer
        self.clip_gradients = clip
        self.crops = BatchMultiCropViews(image_size, local_crops, local_size, global_scale,
                                         local_scale, variant, jitter)

    def views(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, 3, H, W) uint8 -> two global views (B, 3, S, S), then the local ones
        (B, 3, S/2, S/2), standardised."""
        return self.crops(images)

    def _student(self, views: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        """The student's logits for every view, each size batched in one pass."""
        logits = self.head(self.backbone(torch.cat(views[:2]))).chunk(2)
        if len(views) > 2:
            logits += self.head(self.backbone(torch.cat(views[2:]))).chunk(len(views) - 2)
        return list(logits)

    @property
    def teacher_temperature(self) -> float:
        """τ_t now: warmed up linearly, then constant."""
        return self.teacher_schedule.temperature_at(self.progress)

    def training_step(self, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        student = self._student(inputs)
        with torch.no_grad():
            teacher_logits = self.teacher(torch.cat(inputs[:2]))  # (2B, K): global views only
            probabilities = F.softmax((teacher_logits - self.center) / self.teacher_temperature,
                                      dim=-1)
            self._update_center(teacher_logits)
        teacher = list(probabilities.chunk(2))
        loss = dino_loss(student, teacher, self.student_temperature)
        with torch.no_grad():
            entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum(-1).mean()
        return loss, {"teacher_entropy": entropy, "kl": loss.detach() - entropy}

    @torch.no_grad()
    def _update_center(self, teacher_logits: torch.Tensor) -> None:
        """c ← m c + (1 − m) · the batch mean of the teacher's outputs (over every process)."""
        total, count = teacher_logits.float().sum(0), torch.tensor(float(len(teacher_logits)))
        if distributed.initialised():
            count = count.to(total.device)
            dist.all_reduce(total)
            dist.all_reduce(count)
        momentum = self.teacher_schedule.center_momentum
        self.center.mul_(momentum).add_(total / count * (1 - momentum))

    @torch.no_grad()
    def pretext_metrics(self, images: torch.Tensor, seed: int = 0) -> dict[str, Any]:
        """The teacher on one global view (seeded; the global random state is left alone) of
        each held-out (B, 3, H, W) uint8 image, in eval mode: ``teacher_entropy`` of its
        centred, sharpened distribution at today's τ_t (log K: uniform), as the training
        logs it; ``teacher_spread``, the standard deviation across images of each prototype's
        logit, averaged over prototypes, over τ_t."""
        with self.evaluating(images.device, seed):
            logits = self.teacher(self.crops.global_views(images)[0]).float()  # (B, K)
        tau = self.teacher_temperature
        probabilities = F.softmax((logits - self.center) / tau, dim=-1)
        entropy = -(probabilities * probabilities.clamp_min(1e-12).log()).sum(-1).mean()
        return {"teacher_entropy": float(entropy),
                "teacher_spread": float(logits.std(0).mean()) / tau}

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """SGD over the student (the teacher learns by its momentum only)."""
        student = [p for name, p in self.named_parameters() if not name.startswith("teacher.")]
        return [sgd([(student, 1.0)], lr, weight_decay)]

    def frozen_parameters(self) -> list[nn.Parameter]:
        """The prototypes, for the first ``freeze_last_layer`` of the run."""
        return [self.head.prototypes] if self.progress < self.freeze_last_layer else []

    @torch.no_grad()
    def after_step(self, optimizer_index: int) -> None:
        """The teacher moves towards the student: ξ ← τ ξ + (1 − τ) θ, τ on a cosine to 1."""
        momentum_update(self.teacher, (self.backbone, self.head),
                        self.teacher_schedule.momentum_at(self.progress))
