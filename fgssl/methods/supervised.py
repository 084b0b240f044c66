"""The supervised baseline: the same backbone trained from scratch with labels.

Same loop, same backbone, same resolution as the SSL methods, with light augmentation (random
resized crop and flip) and a linear classifier; what gets evaluated is again the backbone.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn

from fgssl.gpu_augment import RandomResizedCrop
from fgssl.methods.about import Entry, Recipe, Schedule, schedules
from fgssl.methods.base import Log, Method, sgd
from fgssl.models.backbones import build_backbone
from fgssl.models.heads import LinearClassifier
from fgssl.transforms import MEAN, STD


def labelled_augmentation(image_size: int) -> nn.Sequential:
    """The light augmentation of training with labels, per image for the whole batch at once:
    a random resized crop of 60-100% of the area, a horizontal flip, the kit's normalisation.
    Floats in [0, 1] (B, 3, H, W) -> (B, 3, image_size, image_size)."""
    return nn.Sequential(RandomResizedCrop(image_size, scale=(0.6, 1.0)),
                         K.RandomHorizontalFlip(),
                         K.Normalize(torch.tensor(MEAN), torch.tensor(STD)))


class Supervised(Method):
    """Cross-entropy on ``classifier(backbone(augment(image)))``; a new ``backbone_name``
    backbone unless a ``backbone`` module is given (fine-tuning passes a copy of a pretrained
    one, to learn at ``backbone_lr_factor`` times the classifier's rate)."""

    name = "supervised"
    summary = "the same backbone trained with labels (the ceiling)"
    learns_from_labels = True
    base_lr = 0.2
    runtime_arguments = ("backbone", "backbone_lr_factor")
    fine_tuning_head = True  # fine-tuning's "linear" head: a pretrained backbone under a new one
    # cpu: where its val accuracy stops rising (docs/RESULTS.md): the ceiling for every row
    schedule = schedules(cpu=Schedule(epochs=120, batch_size=64),
                         gpu=Schedule(epochs=100, batch_size=64),
                         full=Schedule(epochs=100, batch_size=64))
    entries = (
        Entry("supervised", "supervised on all training labels (its backbone probed at 100% "
                            "only)", all_labels_only=True, cost=90,
              not_finetuned="it has seen every label already"),
        Entry("scratch", "supervised from scratch on the same label budget, end to end",
              weights="random", end_to_end=Recipe("linear", 1.0, "supervised"), cost=80),
    )

    def __init__(self, num_classes: int, backbone_name: str = "small_cnn",
                 image_size: int = 32, backbone: nn.Module | None = None,
                 backbone_lr_factor: float = 1.0) -> None:
        if not 0 <= backbone_lr_factor <= 1:
            raise ValueError(f"backbone_lr_factor must be in [0, 1], got {backbone_lr_factor}")
        super().__init__(backbone if backbone is not None
                         else build_backbone(backbone_name, image_size))
        self.backbone_lr_factor = backbone_lr_factor  # fine-tuning: 0.1, pretrained features
        self.classifier = LinearClassifier(self.backbone.feature_dim, num_classes)
        self.augment = labelled_augmentation(image_size)

    def optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        """SGD with the backbone at ``backbone_lr_factor`` x ``lr``; no decay on norms, biases."""
        return [sgd([(list(self.backbone.parameters()), self.backbone_lr_factor),
                     (list(self.classifier.parameters()), 1.0)], lr, weight_decay)]

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (B, classes) of standardised images (B, 3, H, W)."""
        return self.classifier(self.backbone(images))

    def views(self, images: torch.Tensor) -> torch.Tensor:
        return self.augment(images.float() / 255)  # (B, 3, H, W) uint8 -> float

    def training_step(self, inputs: torch.Tensor, labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        if (labels < 0).any():
            raise ValueError("supervised training needs labels: use a labelled split, "
                             "not the unlabelled pool")
        logits = self.logits(inputs)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(1) == labels).float().mean()
        return loss, {"train_accuracy": accuracy}
