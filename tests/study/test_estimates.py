"""FLOP-based training estimates, and the notebooks' GPU schedule held to a class period."""

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from fgssl.config import profile
from fgssl.study.estimates import (
    RESNET50_TRAINING_FLOPS,
    T4_TRAINING_FLOPS,
    images_per_epoch,
    t4_seconds,
    training_flops,
    training_flops_per_image,
)
from fgssl.study.runs import Run

RESNET18_224_MACS = 1.814e9  # torchvision's count of one ResNet-18 forward pass at 224 px
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "notebook_gpu_times.py"
CELL_LIMIT, NOTEBOOK_LIMIT = 5.0, 20.0  # minutes on a T4: a class period


def _notebook_gpu_times():
    spec = importlib.util.spec_from_file_location("notebook_gpu_times", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["notebook_gpu_times"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_a_supervised_image_costs_a_forward_and_twice_that_backward():
    full = profile("full")  # ResNet-18 at 224 px, the standard stem
    forward = 2 * RESNET18_224_MACS  # FLOPs: a multiply and an add per MAC
    assert training_flops_per_image("supervised", full) == pytest.approx(3 * forward, rel=0.03)


def test_the_t4_rate_counts_the_reference_workload_as_the_estimates_count_a_run():
    resnet50 = dataclasses.replace(profile("full"), backbone="resnet50")  # 224 px
    assert training_flops_per_image("supervised", resnet50) == pytest.approx(
        RESNET50_TRAINING_FLOPS, rel=0.01)


def test_two_views_cost_twice_one_and_the_small_image_stem_costs_more_than_the_standard():
    gpu = profile("gpu")
    supervised = training_flops_per_image("supervised", gpu)
    assert training_flops_per_image("simclr", gpu) == pytest.approx(2 * supervised, rel=0.05)
    small_stem = dataclasses.replace(gpu, image_size=64)  # below 96 px: stride 1, no pooling
    assert training_flops_per_image("supervised", small_stem) > 4 * supervised


def test_counting_leaves_the_random_state_and_depends_on_the_options():
    expected = torch.random.get_rng_state()
    ci = profile("ci")
    plain = training_flops_per_image("jigsaw", ci)
    assert torch.equal(torch.random.get_rng_state(), expected)
    four_tiles = (("grid", 2), ("permutations", 10))  # 4 larger tiles, not 9
    assert training_flops_per_image("jigsaw", ci, four_tiles) != plain


def test_a_run_s_work_is_epochs_times_images_times_one_image_s():
    run = Run.of("simclr", "gpu", epochs=3)
    assert images_per_epoch(run) == profile("gpu").n_unlabelled
    assert images_per_epoch(Run.of("supervised", "gpu")) == 24 * profile("gpu").train_per_class
    per_image = training_flops_per_image("simclr", run.profile)
    assert training_flops(run) == 3 * images_per_epoch(run) * per_image
    assert t4_seconds(run) == training_flops(run) / T4_TRAINING_FLOPS
    with pytest.raises(ValueError, match="for SynthBirds"):
        images_per_epoch(Run.of("simclr", "gpu", data="folder", root="somewhere"))


def test_the_trainings_are_read_from_the_notebooks_loops_and_names_included():
    times = _notebook_gpu_times()
    gpu = profile("gpu")
    found = list(times.notebook_trainings(times.NOTEBOOKS / "05_simclr.ipynb", gpu))
    quick = 30 // 2  # the notebook's half of SimCLR's epochs, in a loop over hue shifts
    assert {(t.method, t.options, t.epochs) for t in found} == {
        ("supervised", (), None), ("simclr", (), None),
        *{("simclr", (("hue", hue),), quick) for hue in (0.0, 0.05, 0.5)},
        ("simclr", (("variant", "object_crop"),), None)}
    study = list(times.notebook_trainings(times.NOTEBOOKS / "08_comparison_study.ipynb", gpu))
    assert {("pmg", ()), ("jigsaw", ()), ("simclr", (("variant", "object_crop"),))} <= \
        {(t.method, t.options) for t in study}
    assert {t.entry for t in study if t.repeats == 2} >= {"jigsaw", "scratch"}  # fine-tuned


def test_every_notebook_fits_a_class_period_on_a_t4():
    """In number order every training cell takes at most 5 minutes; opened alone (training
    what earlier notebooks would have), every notebook at most 20."""
    times = _notebook_gpu_times().course_times(profile("gpu"))
    assert {cell["notebook"] for cell in times["cells"]} >= {
        "02_judging_features", "03_jigsaw", "04_srgan", "05_simclr", "06_beyond_contrastive",
        "08_comparison_study"}
    for cell in times["cells"]:
        assert cell["minutes_in_order"] <= CELL_LIMIT, cell
    for notebook, minutes in times["notebooks"].items():
        assert minutes["minutes_alone"] <= NOTEBOOK_LIMIT, (notebook, minutes)
