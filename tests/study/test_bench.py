import json

import pytest

from fgssl.cli import main
from fgssl.config import profile
from fgssl.study.bench import BenchSettings, bench, bench_path

CONTRACT = {"path", "data_ips", "model_ips", "end_to_end_ips", "ratio", "peak_mem_bytes"}
SMALL = {"size": 16, "batch": 8, "steps": 2, "warmup": 1}


def test_both_paths_measured_in_one_run_with_the_contract_keys():
    result = bench("ci", **SMALL)
    assert set(result) >= CONTRACT and result["path"] == "gpu"
    assert set(result["paths"]) == {"cpu-loader", "gpu"}
    for row in result["paths"].values():
        assert set(row) == CONTRACT
        assert row["data_ips"] > 0 and row["model_ips"] > 0 and row["end_to_end_ips"] > 0
        model, end = row["model_ips"], row["end_to_end_ips"]
        rounding = 0.05 / model * (1 + end / model)  # the images/s are rounded to 0.1
        assert row["ratio"] == pytest.approx(end / model, abs=5e-4 + rounding)
        assert row["peak_mem_bytes"] > 2**20
    assert result["speedup"] == pytest.approx(
        result["paths"]["gpu"]["end_to_end_ips"]
        / result["paths"]["cpu-loader"]["end_to_end_ips"], abs=0.01)
    assert (result["backbone"], result["size"], result["batch"]) == ("small_cnn", 16, 8)


def test_settings_default_to_the_profile_and_bad_ones_are_refused():
    settings = BenchSettings.of(profile("cpu"))
    assert (settings.backbone, settings.size, settings.batch) == ("small_cnn", 32, 256)
    with pytest.raises(ValueError, match="steps >= 1"):
        BenchSettings.of(profile("ci"), steps=0)
    with pytest.raises(ValueError, match="path must be one of"):
        bench_path("tpu", BenchSettings.of(profile("ci"), **SMALL), None)


def test_command_prints_a_table_then_one_json_object(capsys):
    assert main(["bench", "--profile", "ci", "--size", "16", "--batch", "8", "--steps", "1",
                 "--path", "gpu", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) >= CONTRACT and list(result["paths"]) == ["gpu"]
    assert "speedup" not in result and any(line.startswith("gpu ") for line in lines)


def test_command_mistakes_are_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--workers", "-1"])
    assert capsys.readouterr().err.strip() == "fgssl bench: error: argument --workers: '-1' is " \
        "not a whole number of 0 or more, e.g. 0 (see 'fgssl bench --help')"
