import matplotlib
import numpy as np
import pytest

from fgssl.viz import embed as embed_module
from fgssl.viz.embed import (
    class_styles,
    embed,
    embedding_figure,
    embedding_scores,
    leave_one_out_knn,
)

matplotlib.use("Agg")


def clusters(per_class=20, classes=4, dims=16, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dims)) * 3
    labels = np.repeat(np.arange(classes), per_class)
    return (centres[labels] + spread * rng.normal(size=(len(labels), dims))).astype(
        np.float32), labels


def test_tsne_keeps_separate_classes_apart_and_is_cached(tmp_path, monkeypatch):
    features, labels = clusters()
    xy = embed(features, "tsne", cache=tmp_path)
    assert xy.shape == (80, 2) and xy.dtype == np.float32
    assert embedding_scores(xy, labels, features) == pytest.approx(
        {"knn_2d": 1.0, "knn_features": 1.0, "silhouette": 1.0}, abs=0.35)
    assert embedding_scores(xy, labels)["knn_2d"] == 1.0

    def no_fit(*args, **kwargs):
        raise AssertionError("the cached embedding was computed again")
    monkeypatch.setattr(embed_module, "TSNE", no_fit)
    assert np.array_equal(embed(features, "tsne", cache=tmp_path), xy)
    with pytest.raises(AssertionError, match="computed again"):  # other features: not cached
        embed(features + 1, "tsne", cache=tmp_path)


def test_umap_runs_on_the_same_features():
    features, labels = clusters(per_class=15)
    xy = embed(features, "umap")
    assert xy.shape == (60, 2) and leave_one_out_knn(xy, labels, k=5) == 1.0


def test_embedding_mistakes_are_clear():
    with pytest.raises(ValueError, match="unknown embedding 'pca': choose one of tsne, umap"):
        embed(np.zeros((10, 3)), "pca")
    with pytest.raises(ValueError, match="at least 5 points"):
        embed(np.zeros((3, 3)))


def test_leave_one_out_knn_matches_brute_force():
    rng = np.random.default_rng(1)
    points, labels = rng.normal(size=(30, 2)), rng.integers(0, 3, 30)
    expected = []
    for i in range(30):
        distances = np.linalg.norm(points - points[i], axis=1)
        distances[i] = np.inf
        nearest = labels[np.argsort(distances, kind="stable")[:5]]
        expected.append(np.bincount(nearest, minlength=3).argmax() == labels[i])
    assert leave_one_out_knn(points, labels, k=5) == pytest.approx(np.mean(expected))


def test_siblings_share_a_colour_and_differ_in_marker():
    styles = class_styles(6, pairs=[(0, 1), (2, 3), (4, 5)])
    assert styles[0]["color"] == styles[1]["color"] != styles[2]["color"]
    assert (styles[0]["marker"], styles[1]["marker"]) == ("o", "x")


def test_the_figure_has_a_panel_per_method_and_one_legend():
    features, labels = clusters(per_class=6)
    maps = {"a": features[:, :2], "b": features[:, 2:4]}
    figure = embedding_figure(maps, labels, pairs=[(0, 1), (2, 3)],
                              scores={"a": {"knn_2d": 0.5}})
    assert [ax.get_title() for ax in figure.axes] == ["a\nknn_2d 0.50", "b"]
    assert len(figure.legends) == 1 and len(figure.legends[0].get_texts()) == 4


def test_another_perplexity_is_another_map_cached_apart(tmp_path):
    features, labels = clusters(per_class=10)
    default, small = (embed(features, "tsne", cache=tmp_path, perplexity=p) for p in (30, 5))
    assert not np.array_equal(default, small) and len(list(tmp_path.iterdir())) == 2
    assert leave_one_out_knn(small, labels, k=5) == 1.0  # the neighbours survive both


def test_the_silhouette_of_a_map_with_one_image_per_class_is_undefined_not_an_error():
    coordinates = np.arange(12.0).reshape(6, 2)
    assert embedding_scores(coordinates, np.arange(6))["silhouette"] is None  # 6 classes of 1
    assert embedding_scores(coordinates, np.zeros(6, dtype=int))["silhouette"] is None  # one class
    assert embedding_scores(coordinates, np.array([0, 0, 0, 1, 1, 1]))["silhouette"] > 0.5
