import json
import subprocess
import sys

import pytest

from fgssl.cli import main
from tests.images import write_jpeg


def _json_last_line(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_data_info_json_has_the_contract_keys(capsys):
    assert main(["data", "info", "synthbirds", "--json"]) == 0
    result = _json_last_line(capsys)
    assert {"name", "num_classes", "splits"} <= set(result)
    assert result["splits"] == {"train": 192, "val": 96, "test": 96, "unlabelled": 512}


def test_data_prepare_folder_then_info(tmp_path, capsys):
    for c in ("x", "y"):
        for k in range(5):
            write_jpeg(tmp_path / "mine" / c / f"{k}.jpg", seed=k)
    assert main(["data", "prepare", "folder", "--root", str(tmp_path / "mine")]) == 0
    assert "train 6, val 2, test 2" in capsys.readouterr().out
    assert main(["data", "info", "folder", "--root", str(tmp_path / "mine"), "--json"]) == 0
    assert _json_last_line(capsys)["num_classes"] == 2


@pytest.mark.parametrize("argv, message", [
    (["data", "info", "cub2011"], "unknown dataset 'cub2011': choose one of synthbirds"),
    (["data", "info"], "the following arguments are required: name"),
    (["data", "info", "synthbirds", "--profile", "laptop"], "invalid choice: 'laptop'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_command_line_mistakes_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_missing_data_is_one_line_with_directions(tmp_path, capsys):
    assert main(["data", "prepare", "stanford_cars", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("fgssl: error: stanford_cars is not in") and "cars_train/" in err


def test_demo_prepares_synthbirds_and_writes_a_gallery(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / "synthbirds_siblings.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "demo" / "dataset.json").read_text())
    assert saved["name"] == "synthbirds" and saved["prepared"]
    assert "sibling species" in capsys.readouterr().out


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "fgssl", "data", "info", "nope"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "unknown dataset 'nope'" in done.stderr
