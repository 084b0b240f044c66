"""The benchmarks' reference results: figures written as the course quotes them, merged by
name into one file with the command, the machine and the date."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the scripts import reference as a sibling
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load("reference")


def test_figures_are_written_as_the_course_quotes_them():
    assert reference.percent(0.5342) == "53.4%"
    assert reference.spread([0.529, 0.553, 0.521]) == "± 1.7"
    assert reference.points(0.453) == "+45.3" and reference.points(-0.021) == "-2.1"


def test_a_record_is_merged_into_the_file_by_name(tmp_path):
    path = tmp_path / "reference_results.json"
    reference.record("b", {"x": "1.0%"}, ["bench.py", "--seeds", "3"], path)
    reference.record("a", {"y": "2.0%"}, ["other.py"], path)
    reference.record("b", {"x": "3.0%"}, ["bench.py", "--seeds", "1"], path)
    records = json.loads(path.read_text())["records"]
    assert list(records) == ["a", "b"]
    assert records["b"]["figures"] == {"x": "3.0%"}  # replaced, not added to
    assert records["b"]["command"] == "python bench.py --seeds 1"
    assert records["a"]["machine"] and records["a"]["date"]


def test_the_demo_table_becomes_figures():
    demo_run = _load("demo_run")
    results = {"rows": [
        {"method": "simclr-object_crop", "protocol": "linear", "labels": 1.0,
         "top1_mean": 0.519, "top1_values": [0.519, 0.519], "sibling_accuracy_mean": 0.7133},
        {"method": "simclr-object_crop", "protocol": "linear", "labels": 0.1,
         "top1_mean": 0.369, "top1_values": [0.348, 0.390]}],
        "models": {"simclr-object_crop": {"train_s": 289.4}, "random": {}}}
    figures = demo_run.demo_figures(results, 552.3, 170.0)
    assert figures == {"simclr-object_crop.linear.1": "51.9%",
                       "simclr-object_crop.linear.1.spread": "± 0.0",
                       "simclr-object_crop.linear.1.sibling": "71.3%",
                       "simclr-object_crop.linear.0.1": "36.9%",
                       "simclr-object_crop.linear.0.1.spread": "± 3.0",
                       "simclr-object_crop.train_s": "289 s", "wall_s": "552 s",
                       "wall_over_simclr": "3.25×"}


def test_a_method_benchmark_becomes_figures():
    ssl = _load("ssl_synthbirds")
    summary = {"mean": 0.534, "n": 3, "values": [0.529, 0.553, 0.521]}
    result = {"first_seed": 0,
              "random": {"linear_all": {"mean": 0.076, "n": 1, "values": [0.076]},
                         "linear_low": {"mean": 0.047, "n": 1, "values": [0.047]},
                         "sibling_all": {"mean": 0.512, "n": 1, "values": [0.512]}},
              "methods": {"dino": {"error": "diverged"},
                          "simclr": {"linear_all": summary, "linear_low": summary,
                                     "sibling_all": {"mean": 0.6866, "n": 3,
                                                     "values": [0.68, 0.69, 0.69]},
                                     "over_random_linear_all": [0.453, 0.477],
                                     "train_s": {"values": [169.6, 170.4]},
                                     "time_ratio": 1.0}}}
    figures = ssl.reference_figures(result)
    assert figures["random.linear_all"] == "7.6%" and "random.linear_all.spread" not in figures
    assert figures["simclr.linear_all"] == "53.4%"
    assert figures["simclr.linear_all.spread"] == "± 1.7"
    assert figures["simclr.over_random.seed1"] == "+47.7"
    assert figures["simclr.sibling_all"] == "68.7%" and figures["random.sibling_all"] == "51.2%"
    assert figures["simclr.train_s"] == "170–170 s" and figures["simclr.time_ratio"] == "1.00×"
    assert not any(key.startswith("dino") for key in figures)  # a failed run quotes nothing


def test_the_srgan_benchmark_becomes_figures():
    srgan = _load("srgan_synthbirds")
    runs = {"test_psnr": [27.1, 26.9], "test_psnr_bicubic": [25.65, 25.65],
            "psnr_gain_db": [1.45, 1.25], "test_ssim": [0.7731, 0.7729],
            "test_ssim_bicubic": [0.711, 0.711], "srgan-d_linear": [0.237, 0.217],
            "srgan-d_knn": [0.1, 0.1], "pretrain_seconds": [80.0, 82.0]}
    figures = srgan.reference_figures(runs)
    assert figures["test_psnr"] == "27.00 dB" and figures["test_psnr.spread"] == "± 0.14"
    assert figures["test_psnr_bicubic"] == "25.65 dB" and figures["test_ssim"] == "0.773"
    assert figures["psnr_gain_db"] == "1.35 dB"
    assert figures["srgan-d_linear"] == "22.7%" and figures["srgan-d_linear.spread"] == "± 1.4"
    assert figures["srgan-d_knn.spread"] == "± 0.0" and "pretrain_seconds" not in figures


def test_a_method_spec_keeps_the_commas_inside_its_brackets():
    ssl = _load("ssl_synthbirds")
    assert ssl._parse("dino:global_scale=(0.14,1.0),prototypes=128,variant=object_crop") == (
        "dino", {"global_scale": (0.14, 1.0), "prototypes": 128, "variant": "object_crop"})
    assert ssl._parse("byol") == ("byol", {})


def test_a_jigsaw_benchmark_becomes_figures_without_its_seconds():
    jigsaw = _load("jigsaw_synthbirds")
    figures = jigsaw.reference_figures({"pretrain_seconds": [60.0, 62.0],
                                        "pretext_val": [0.9883, 0.9933],
                                        "linear": [0.1383, 0.1467], "random_linear": [0.0767]})
    assert figures == {"pretext_val": "99.1%", "pretext_val.spread": "± 0.4",
                       "linear": "14.3%", "linear.spread": "± 0.6", "random_linear": "7.7%"}
