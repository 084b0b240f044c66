"""Adding a method is its module, its test and one registration line: here the module is
this file. A rotation-prediction pretext task (RotNet, Gidaris et al. 2018), registered at
run time, is trained, evaluated and put in the study through the command line, with nothing
else in fgssl changed."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fgssl.cli import main
from fgssl.methods import registry
from fgssl.methods.about import Entry, Option
from fgssl.methods.base import Log, Method
from fgssl.models.backbones import build_backbone
from fgssl.transforms import MEAN, STD


class RotationPrediction(Method):
    """Predict by how many quarter turns each image was rotated (Gidaris et al. 2018)."""

    name = "rotnet"
    summary = "which way up: predicting image rotations (Gidaris et al. 2018)"
    options = (Option("rotations", "how many rotations to tell apart", choices=(2, 4)),)
    entries = (Entry("rotnet", "rotation prediction"),)

    def __init__(self, backbone_name: str = "small_cnn", image_size: int = 32,
                 rotations: int = 4) -> None:
        super().__init__(build_backbone(backbone_name, image_size))
        self.rotations = rotations
        self.head = nn.Linear(self.backbone.feature_dim, rotations)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) uint8 -> each image turned by a random number of quarter turns
        (B, 3, H, W) standardised, and that number (B,)."""
        turns = torch.randint(self.rotations, (len(images),), device=images.device)
        quarter = 4 // self.rotations  # 2 rotations: 0 or 180 degrees
        turned = torch.stack([image.rot90(int(k) * quarter, dims=(1, 2))
                              for image, k in zip(images, turns, strict=True)])
        return (turned.float() / 255 - self.mean) / self.std, turns

    def training_step(self, inputs: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, Log]]:
        images, turns = inputs
        logits = self.head(self.backbone(images))
        return F.cross_entropy(logits, turns), {
            "pretext_accuracy": (logits.argmax(1) == turns).float().mean()}


@pytest.fixture
def rotnet():
    registry.register(RotationPrediction)  # the one registration line, at run time here
    yield RotationPrediction
    registry.unregister(RotationPrediction)


def test_a_registered_method_trains_evaluates_and_joins_the_study(rotnet, tmp_path, capsys):
    out = tmp_path / "rotnet"
    assert main(["pretrain", "rotnet", "--data", "synthbirds", "--rotations", "2",
                 "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["method"] == "rotnet" and history["config"]["rotations"] == 2
    assert "pretext_accuracy" in history["history"][0]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", "synthbirds", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["method"] == "rotnet" and 0 <= result["top1"] <= 1
    demo = tmp_path / "demo"  # two workers: the run's registration reaches them
    assert main(["demo", "--methods", "rotnet", "random", "--seeds", "1",
                 "--out", str(demo)]) == 0
    rows = json.loads((demo / "results.json").read_text())["rows"]
    assert {row["method"] for row in rows} == {"rotnet", "random", "majority class"}
    assert "| rotnet |" in (demo / "results.md").read_text()


def test_its_options_are_checked_and_its_help_is_shown(rotnet, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["pretrain", "rotnet", "--data", "synthbirds", "--rotations", "3"])
    assert exit_info.value.code == 2
    assert "--rotations must be one of 2, 4, got 3" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # help wraps its lines
    assert "rotnet: which way up: predicting image rotations" in shown
    assert "--rotations ROTATIONS rotnet: how many rotations to tell apart (one of 2, 4)" in shown
