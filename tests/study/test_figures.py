import matplotlib
import pytest

from fgssl.config import profile
from fgssl.data import catalog
from fgssl.study.figures import feature_views
from fgssl.study.runs import backbone_for

matplotlib.use("Agg")


def test_the_three_figures_are_saved_with_their_numbers(tmp_path):
    prof = profile("ci")
    catalog.prepare("synthbirds", None, "ci")
    numbers = feature_views(backbone_for("random", prof)[1], "synthbirds", prof, None,
                            tmp_path, "random")
    for kind in ("tsne", "neighbours", "gradcam"):
        assert (tmp_path / f"{kind}_random.png").stat().st_size > 5_000
    assert set(numbers["retrieval"]) == {"recall@1", "recall@5", "map@r"}
    assert set(numbers["tsne"]) == {"knn_2d", "knn_features", "silhouette"}
    pointing, bird = numbers["pointing"]["part"], numbers["pointing"]["box"]
    assert pointing["n"] == bird["n"] == 96 and 0 <= pointing["hit_rate"] <= 1
    assert 0.05 < bird["chance"] < 0.8  # a bird fills part of its image
    # chance: the share of a 32 x 32 image within 15/224 of its side of a point, ~ pi r^2
    radius = pointing["tolerance_px"]
    assert radius == pytest.approx(32 * 15 / 224)
    assert pointing["chance"] == pytest.approx(3.14159 * radius ** 2 / 32 ** 2, rel=0.35)
    again = feature_views(backbone_for("random", prof)[1], "synthbirds", prof, None,
                          tmp_path, "random", C=1.0)
    assert again["tsne"] == numbers["tsne"]  # a given C changes the probe, not the map


def test_features_already_extracted_are_not_extracted_again(tmp_path, monkeypatch):
    from fgssl.evaluate.features import extract_features
    from fgssl.study import figures

    prof = profile("ci")
    backbone = backbone_for("random", prof)[1]
    kept = {split: extract_features(backbone, catalog.dataset("synthbirds", split, size=32))
            for split in ("train", "val", "test")}
    fresh = feature_views(backbone, "synthbirds", prof, None, tmp_path / "a", "random")

    def no_extraction(*args, **kwargs):
        raise AssertionError("features extracted again")
    monkeypatch.setattr(figures, "extract_features", no_extraction)
    assert feature_views(backbone, "synthbirds", prof, None, tmp_path / "b", "random",
                         features=kept) == fresh


def test_on_cub_the_pointing_game_aims_at_any_visible_part_and_the_box(tmp_path, monkeypatch):
    import dataclasses

    from tests import fakes

    fakes.fake_cub(tmp_path / "data" / "cub200", per_class=6)  # part 1 visible, part 2 not
    monkeypatch.setitem(catalog.SPECS, "cub200", dataclasses.replace(
        catalog.SPECS["cub200"], num_classes=3, counts={"train": 9, "test": 9}))
    prof = profile("ci")
    numbers = feature_views(backbone_for("random", prof)[1], "cub200", prof,
                            str(tmp_path / "data"), tmp_path / "out", "random")
    assert numbers["pointing"]["part"]["n"] == numbers["pointing"]["box"]["n"] == 9
    assert (tmp_path / "out" / "gradcam_random.png").is_file()
