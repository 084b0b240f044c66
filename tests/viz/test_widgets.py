"""Each explorer's controls redraw its figure. Run under the installed ipywidgets (8.x) here,
and under Colab's 7.7.1 by tools/widgets_7_7.sh."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from fgssl.viz import widgets

matplotlib.use("Agg")


@pytest.fixture
def drawn(monkeypatch):
    """The figures each explorer draws, in order (instead of displaying them)."""
    figures = []

    def record(output, figure):
        figures.append(figure)
        plt.close(figure)  # as the real _draw does; the figure can still be read
    monkeypatch.setattr(widgets, "_draw", record)
    return figures


def data(n=12, classes=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=generator)
    labels = np.arange(n) % classes
    return images, labels


def controls(explorer):
    return explorer.children[0].children


def titles(figure):
    return [ax.get_title() for ax in figure.axes]


def test_the_neighbour_browser_redraws_for_another_query(drawn):
    images, labels = data()
    features = {"a": np.random.default_rng(0).normal(size=(12, 5)),
                "b": np.random.default_rng(1).normal(size=(12, 5))}
    (query,) = controls(widgets.neighbour_browser(images, features, labels, list("pqrs"), k=3))
    assert len(drawn) == 1 and titles(drawn[0])[0] == "query: p"
    assert [ax.get_ylabel() for ax in drawn[0].axes[::4]] == ["a", "b"]  # a row per method
    query.value = 1
    assert len(drawn) == 2 and titles(drawn[1])[0] == "query: q"
    assert query.continuous_update is False


def test_the_embedding_explorer_highlights_the_chosen_class_and_its_sibling(drawn):
    images, labels = data()
    maps = {"m": np.random.default_rng(0).normal(size=(12, 2))}
    (chosen,) = controls(widgets.embedding_explorer(maps, labels, images, list("pqrs"),
                                                    pairs=[(0, 1), (2, 3)]))
    legend = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert legend == ["sibling q", "p"]
    chosen.value = 2
    assert [t.get_text() for t in drawn[1].axes[0].get_legend().get_texts()] == [
        "sibling s", "r"]


def test_the_augmentation_explorer_follows_its_sliders_and_draws_again(drawn):
    images, _ = data()
    crop, jitter, variant, again = controls(widgets.augmentation_explorer(images[0]))
    assert drawn[0]._suptitle.get_text() == "standard, jitter 0.5, crops from 35% of the area"
    variant.value = "gamma"
    jitter.value = 1.0
    crop.value = 0.5
    assert drawn[-1]._suptitle.get_text() == "gamma, jitter 1, crops from 50% of the area"
    before = drawn[-1].axes[2].get_images()[0].get_array().copy()
    again.click()  # the same settings, new random views
    assert not np.array_equal(drawn[-1].axes[2].get_images()[0].get_array(), before)


def small_network(channels):
    return nn.Sequential(nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU()),
                         nn.Sequential(nn.Conv2d(channels, channels, 3, stride=2, padding=1),
                                       nn.ReLU()),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_the_gradcam_explorer_offers_each_networks_layers(drawn):
    torch.manual_seed(0)
    images, labels = data()
    models = {"two": (small_network(4), nn.Linear(4, 4)),
              "other": (small_network(6), nn.Linear(6, 4))}
    index, method, layer = controls(widgets.gradcam_explorer(images, labels, models))
    assert list(layer.options) == ["0", "1"] and layer.value == "1"  # the last block first
    assert titles(drawn[0]) == ["0: two, 1"]
    layer.value = "0"
    assert titles(drawn[-1]) == ["0: two, 0"]
    method.value = "other"
    assert titles(drawn[-1]) == ["0: other, 1"]  # its own layers, the last one
    index.value = 5
    assert titles(drawn[-1]) == ["1: other, 1"]


def test_the_sibling_explorer_draws_the_chosen_pair_at_the_chosen_size(drawn):
    pair, pixels, parts = controls(widgets.sibling_explorer(size=32))
    assert titles(drawn[0]) == ["01a", "01a", "01b", "01b"]
    assert drawn[0].axes[0].images[0].get_array().shape[:2] == (32, 32)
    pair.value = 2
    assert titles(drawn[1]) == ["03a", "03a", "03b", "03b"]
    assert "differ in" in pair.label
    pixels.value = 64
    assert drawn[2].axes[0].images[0].get_array().shape[:2] == (64, 64)
    parts.value = True
    assert len(drawn[3].axes[0].patches) > len(drawn[2].axes[0].patches)  # the box is drawn
    assert pixels.continuous_update is False
